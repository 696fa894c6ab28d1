"""Tests of `a3lign.predict`, and the model folders its tests and the app's share: `tiny_model_folder` (untrained)
and `train_tinted_run` (trained to tell warm from cold cartoon faces, 100% on its test split)."""

import csv
import json

import numpy as np
import torch
from transformers import CLIPModel

from a3lign import A3lignVideoProcessor
from a3lign.data.synthetic import render_clip, write_mp4
from a3lign.train.run import save_model_folder

from ..conftest import A3lignTester, tiny_clip_config

RATE = 8  # frames per second of every video here: window 2 s of 4 frames -> a grid step of 0.5 s = 4 frames
# Two synthetic classes a tiny random CLIP can tell apart: the same cartoon faces, warm or cold. (Untinted, Happy vs
# Sad, it reached 67% UAR: the expression alone is too fine for a 2-layer, 32 px random tower.)
TINTS = {"Happy": np.array([1.0, 0.75, 0.45]), "Sad": np.array([0.45, 0.7, 1.0])}


def tiny_model_folder(folder, seed: int = 3):
    """An untrained tiny model (4 frames of 32 px, 3 classes) saved with its processor, as a run saves it."""
    model = A3lignTester().build_model(seed=seed)
    save_model_folder(model, A3lignVideoProcessor.from_model_config(model.config), folder)
    return folder


def tinted_clip(label: str, seed: int) -> np.ndarray:
    return np.clip(render_clip(label, seed) * TINTS[label], 0, 255).astype(np.uint8)


def tinted_stretch(label: str, seconds: float, seed: int) -> np.ndarray:
    """Clips of one class joined up to `seconds` at RATE fps."""
    clips, length, k = [], 0, 0
    while length < seconds * RATE:
        clips.append(tinted_clip(label, seed + k))
        length += len(clips[-1])
        k += 1
    return np.concatenate(clips)[: int(seconds * RATE)]


def train_tinted_run(root, *flags: str):
    """A tiny A3lign trained through the three BAP stages (2 epochs each, on cached frame embeddings) on 8 tinted
    clips a class, in `root`, with `flags` last; returns its run folder (100% UAR on its 3 test clips a class,
    asserted)."""
    from a3lign.cli.train import main as train_cli

    torch.manual_seed(1)
    CLIPModel(tiny_clip_config()).save_pretrained(root / "clip")
    for split, count in (("train", 8), ("test", 3)):
        (root / "data" / split).mkdir(parents=True)
        rows = [("path", "label")]
        for label in TINTS:
            for k in range(count):
                path = f"{split}/{label.lower()}_{k}.mp4"
                write_mp4(
                    root / "data" / path,
                    tinted_clip(label, 1000 * (split == "test") + 10 * k + (label == "Sad")),
                    RATE,
                )
                rows.append((path, label))
        with open(root / "data" / f"{split}.csv", "w", newline="") as handle:
            csv.writer(handle).writerows(rows)
    train_cli(
        [
            "--dataset",
            "csv",
            "--data_root",
            str(root / "data"),
            "--clip_model",
            str(root / "clip"),
            "--image_size",
            "32",
            "--num_frames",
            "4",
            "--mat_sentences",
            "2",
            "--mat_tokens",
            "5",
            "--mat_learning_rate",
            "0.01",
            "--dynamic_learning_rate",
            "0.01",
            "--config_overrides",
            '{"dynamic_dropout": 0.0}',
            "--stage_epochs",
            "2",
            "2",
            "2",
            "--per_device_train_batch_size",
            "4",
            "--frame_cache_dir",
            str(root / "cache"),
            "--test_views",
            "1x1",
            "--save_strategy",
            "no",
            "--report_to",
            "none",
            "--dataloader_num_workers",
            "0",
            "--use_cpu",
            "true",
            "--disable_tqdm",
            "true",
            "--output_dir",
            str(root / "run"),
            *flags,
        ]
    )
    assert json.loads((root / "run" / "metrics.json").read_text())["uar"] == 100
    return root / "run"
