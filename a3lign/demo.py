"""`make demo`: build a small A3lign model on a randomly initialised CLIP and classify a generated clip.

No weights can be downloaded on the build machines, so the CLIP is random unless `--clip_model` names a
checkpoint (hub id or folder). The BAP training demo replaces this once training lands.
"""

import argparse

import torch
from transformers import CLIPConfig

from . import A3lignConfig, A3lignModel


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
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    if args.clip_model:
        model = A3lignModel.from_clip_pretrained(args.clip_model, mat_sentences=4, mat_tokens=8)
    else:
        model = A3lignModel(A3lignConfig(clip_config=small_clip_config(), mat_sentences=4, mat_tokens=8))
    model.eval()
    # A generated clip: a bright disc that grows over 16 frames.
    size, frames = model.config.image_size, model.config.num_frames
    grid = torch.stack(torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")).float() - size / 2
    radius = grid.norm(dim=0)
    clip = torch.stack([(radius < 8 + 2 * t).float().expand(3, -1, -1) for t in range(frames)])
    with torch.no_grad():
        probabilities = model(clip.unsqueeze(0) * 2 - 1).logits.softmax(-1)[0]
    print(f"A3lign model: stage {model.config.bap_stage}, {sum(p.numel() for p in model.parameters()):,} parameters")
    for index in probabilities.argsort(descending=True).tolist():
        print(f"  {model.config.id2label[index]:<10} {probabilities[index]:.3f}")


if __name__ == "__main__":
    main()
