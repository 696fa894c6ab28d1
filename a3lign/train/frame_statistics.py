"""Calibration: the per-dimension mean and std of the frozen frame embeddings of the training set, which
the model uses to standardise them (`A3lignConfig.frame_standardization`). Computed once, before training."""

import logging

import numpy as np
import torch

logger = logging.getLogger(__name__)


def evenly_spaced(count: int, limit: int) -> list[int]:
    """Up to `limit` indices spread over `range(count)`: the same on every process."""
    return sorted(set(np.linspace(0, count - 1, num=min(limit, count)).round().astype(int).tolist()))


@torch.no_grad()
def set_frame_statistics_from(model, frame_batches) -> None:
    """Set the model's per-dimension frame statistics from batches of frame embeddings `(..., d)`."""
    total = squares = count = 0
    for frames in frame_batches:
        frames = frames.reshape(-1, frames.shape[-1]).double()
        total, squares, count = total + frames.sum(0), squares + (frames**2).sum(0), count + frames.shape[0]
    mean = total / count
    std = (squares / count - mean**2).clamp_min(1e-12).sqrt()
    model.set_frame_statistics(mean.float(), std.float().clamp_min(1e-6))
    logger.info("frame statistics from %d frames", count)
