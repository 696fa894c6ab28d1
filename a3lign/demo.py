"""`make demo`: build a small A3lign model on a randomly initialised CLIP, save it as a model folder and
classify generated synthetic clips (real mp4 files) with `pipeline("video-classification")`.

No weights can be downloaded on the build machines, so the CLIP is random unless `--clip_model` names a
checkpoint (hub id or folder). The model is untrained: the BAP training demo replaces this once
training lands.
"""

import argparse
from pathlib import Path

import torch
from transformers import CLIPConfig, pipeline

from . import A3lignConfig, A3lignModel
from .data.synthetic import render_clip, write_mp4


def small_clip_config() -> CLIPConfig:
    """A ViT of width 64 and 2 layers per tower: seconds on a laptop CPU."""
    return CLIPConfig(
        text_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4),
        vision_config=dict(
            hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, image_size=112, patch_size=14
        ),
        projection_dim=64,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clip_model", help="CLIP checkpoint (hub id or folder); default: a small random CLIP")
    parser.add_argument("--output", default="demo_output")
    args = parser.parse_args(argv)
    output = Path(args.output)
    torch.manual_seed(0)
    if args.clip_model:
        model = A3lignModel.from_clip_pretrained(args.clip_model, mat_sentences=4, mat_tokens=8)
    else:
        model = A3lignModel(A3lignConfig(clip_config=small_clip_config(), mat_sentences=4, mat_tokens=8))
    folder = output / "model"
    model.save_pretrained(folder)  # config, safetensors, code and the matching video processor
    print(f"A3lign model: stage {model.config.bap_stage}, {sum(p.numel() for p in model.parameters()):,} parameters -> {folder}")
    classify = pipeline("video-classification", model=str(folder), trust_remote_code=True)
    for label in ("Happy", "Surprise"):
        path = output / f"{label.lower()}.mp4"
        write_mp4(path, render_clip(label, seed=1))
        top = classify(str(path), top_k=3)
        print(f"  {path} (a synthetic {label} clip; untrained model): " + ", ".join(f"{r['label']} {r['score']:.3f}" for r in top))


if __name__ == "__main__":
    main()
