"""The frozen vision tower made faster for inference on the CPU (`--tower` of `a3lign predict`, `live` and `app`).

`"transformers"` keeps transformers' own tower (the reference). `"int8"`: its linear layers (attention projections
and MLPs, about nine tenths of a ViT's arithmetic) and the visual projection quantized dynamically to 8-bit integers
(`torch.ao.quantization.quantize_dynamic`: weights stored as int8, activations quantized per batch), which PyTorch
runs with its CPU int8 kernels; the embeddings, layer norms and attention softmax stay float. What it costs in
agreement with the plain model and what it gains: `benchmarks/bench_live.py`, figures in `benchmarks/RESULTS.md`
("Live"). Training never uses it (the frame cache and the BAP stages keep the float tower).
"""

import torch

TOWERS = ("transformers", "int8")


def use_tower(model, tower: str = "transformers"):
    """`model` (an `A3lignModel` in eval mode) with its vision tower as `tower` says, in place; returns it."""
    if tower not in TOWERS:
        raise ValueError(f"tower={tower!r} is invalid: expected one of {', '.join(TOWERS)}")
    if tower == "int8":
        clip = model.clip
        quantized = torch.ao.quantization.quantize_dynamic(
            torch.nn.ModuleDict({"vision": clip.vision_model, "projection": clip.visual_projection}),
            {torch.nn.Linear},
            dtype=torch.qint8,
        )
        clip.vision_model, clip.visual_projection = quantized["vision"], quantized["projection"]
    return model


__all__ = ["TOWERS", "use_tower"]
