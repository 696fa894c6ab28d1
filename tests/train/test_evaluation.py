"""Evaluation helpers: Table 5's shuffled frames."""

import torch

from a3lign.train.evaluation import ShuffledFrames


def test_shuffled_frames_permutes_cached_embeddings_and_pixels():
    frames = torch.arange(16.0)[:, None].expand(16, 3)
    for key in ("frame_embeddings", "pixel_values_videos"):
        dataset = ShuffledFrames([{key: frames, "labels": 1}] * 2, seed=0)
        first, again, other = dataset[0][key], dataset[0][key], dataset[1][key]
        assert sorted(first[:, 0].tolist()) == list(range(16)) and not torch.equal(first, frames)
        assert torch.equal(first, again) and not torch.equal(first, other)  # fixed per clip, differs between clips
