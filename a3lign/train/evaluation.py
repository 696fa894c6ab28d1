"""Evaluation of a model on a dataset: UAR / WAR, per-class recall, confusion matrix, in frame order or
with shuffled frames (the paper's Table 5)."""

import torch

from .metrics import load_dfer_recall

# What a dataset may hand the model per clip: decoded frames, or cached frame embeddings.
MODEL_INPUTS = ("pixel_values_videos", "frame_embeddings")


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
        order = torch.randperm(sample[key].shape[0], generator=torch.Generator().manual_seed(self.seed * 1_000_003 + index))
        sample[key] = sample[key][order]
        return sample


@torch.no_grad()
def evaluate_model(model, dataset, batch_size: int = 8, num_workers: int = 0) -> dict:
    """UAR / WAR (%) and per-class recall of `model` on a dataset of `{"pixel_values_videos" or
    "frame_embeddings", "labels"}`."""
    model.eval()
    device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
    predictions, references = [], []
    for batch in torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=num_workers):
        logits = model(**{k: batch[k].to(device, dtype) for k in MODEL_INPUTS if k in batch}).logits
        predictions += logits.argmax(-1).tolist()
        references += batch["labels"].tolist()
    result = load_dfer_recall().compute(
        predictions=predictions, references=references, num_classes=model.config.num_labels
    )
    result["num_clips"] = len(references)
    return result
