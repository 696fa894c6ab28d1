"""Evaluation of a model on a dataset: UAR / WAR, per-class recall, confusion matrix, in frame order or
with shuffled frames (the paper's Table 5), on one view per clip or on several (multi-view testing: the
logits of a clip's views are averaged)."""

import torch

from ..data.descriptions import descriptions_for
from ..modeling_a3lign import A3lignModel
from .frame_cache import precision_context
from .metrics import load_dfer_recall

# What a dataset may hand the model per clip: decoded frames, or cached frame embeddings.
MODEL_INPUTS = ("pixel_values_videos", "frame_embeddings")
# Dimensions of one frame of one clip, per input ((3, H, W) pixels, (d,) embeddings) plus its frame axis:
# an input with one more dimension holds several views per clip.
VIEW_DIMS = {"pixel_values_videos": 4, "frame_embeddings": 2}


class ShuffledFrames(torch.utils.data.Dataset):
    """A dataset whose clips' frames come in a random order, fixed per clip by `seed` (Table 5's protocol).
    Works on pixels and on cached frame embeddings alike (frames are the first axis of either)."""

    def __init__(self, dataset, seed: int = 0):
        self.dataset, self.seed = dataset, seed

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        sample = dict(self.dataset[index])
        key = next(k for k in MODEL_INPUTS if k in sample)
        frames_dim = -VIEW_DIMS[key]  # (F, ...) or, with several views, (V, F, ...): one order for all views
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        order = torch.randperm(sample[key].shape[frames_dim], generator=generator)
        sample[key] = sample[key].index_select(sample[key].dim() + frames_dim, order)
        return sample


def view_averaged_logits(model, batch: dict, device, dtype) -> torch.Tensor:
    """Logits `(B, C)` of a batch of one view per clip (`(B, F, ...)`) or of several (`(B, V, F, ...)`: the
    views' logits averaged)."""
    key = next(k for k in MODEL_INPUTS if k in batch)
    inputs = batch[key].to(device, dtype)
    if inputs.dim() == VIEW_DIMS[key] + 1:
        return model(**{key: inputs}).logits.float()
    clips, views = inputs.shape[:2]
    return model(**{key: inputs.flatten(0, 1)}).logits.float().view(clips, views, -1).mean(1)


@torch.no_grad()
def evaluate_model(
    model, dataset, batch_size: int = 8, num_workers: int = 0, precision: torch.dtype | None = None
) -> dict:
    """UAR / WAR (%) and per-class recall of `model` on a dataset of `{"pixel_values_videos" or
    "frame_embeddings", "labels"}`, one view per clip or several (logits averaged). `precision`: autocast dtype, as
    the run's own evaluations use (bf16 / fp16 runs), so multi-view figures compare with single-view ones."""
    model.eval()
    device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
    predictions, references = [], []
    for batch in torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=num_workers):
        with precision_context(device, precision):
            logits = view_averaged_logits(model, batch, device, dtype)
        predictions += logits.argmax(-1).tolist()
        references += batch["labels"].tolist()
    result = load_dfer_recall().compute(
        predictions=predictions, references=references, num_classes=model.config.num_labels
    )
    result["num_clips"] = len(references)
    return result


def zero_shot_model(clip_model: str, id2label: dict, descriptions_file=None, **config) -> A3lignModel:
    """An untrained A3lign around `clip_model` in stage 0: CLIP's zero-shot classifier of the classes' descriptions
    (built in, or `descriptions_file`), the "before training" figures of every run."""
    from transformers import CLIPConfig

    descriptions = descriptions_for(list(id2label.values()), descriptions_file)
    # Room for any description CLIP can read (each sentence uses only its own tokens).
    config.setdefault(
        "mat_tokens", min(64, CLIPConfig.from_pretrained(clip_model).text_config.max_position_embeddings - 3)
    )
    model = A3lignModel.from_clip_pretrained(
        clip_model, id2label=id2label, mat_init="text", mat_descriptions=descriptions, bap_stage=0, **config
    )
    return model.eval()


def evaluate_zero_shot(model, dataset, batch_size: int = 8, num_workers: int = 0, precision=None) -> dict:
    """`evaluate_model` of a text-initialised model in stage 0 (CLIP's zero-shot classifier), its stage restored."""
    stage = model.config.bap_stage
    model.set_bap_stage(0)
    try:
        return evaluate_model(model, dataset, batch_size, num_workers, precision)
    finally:
        model.set_bap_stage(stage)
