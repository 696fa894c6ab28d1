"""Small order-sensitive video tasks for `bench_recipe.py`, generated on the fly.

None of them is the demo's synthetic face set, and they differ from each other in motion, class count
(3 to 11), frames per clip (8 or 16), clip length (shorter than `num_frames` up to 60 frames), storage
(mp4 files or frame folders) and the tiny random CLIP's width. In each, classes that share the same
frames in a different order exist, so averaging frames over time cannot solve the task.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from a3lign.data.synthetic import write_mp4

SIZE = 40  # rendered frames; the processor resizes to 34 and crops 32


@dataclass
class Task:
    name: str
    classes: list[str]
    num_frames: int
    lengths: tuple[int, int]  # clip length range, inclusive
    storage: str  # "mp4" or "frames"
    clip_width: int  # hidden width and projection width of the tiny random CLIP
    train_per_class: int
    test_per_class: int
    about: str
    flags: tuple[str, ...] = ()  # train_bap.py flags a user of such data must give (never optimizer ones)


def _sweep(label: str, length: int, rng) -> list[Image.Image]:
    """A bright bar crossing the frame in one of four directions."""
    colour = tuple(int(v) for v in rng.integers(170, 256, 3))
    offset = rng.uniform(-3, 3)
    frames = []
    for t in range(length):
        image = Image.new("RGB", (SIZE, SIZE), (40, 40, 50))
        draw = ImageDraw.Draw(image)
        p = 4 + (SIZE - 8) * t / max(1, length - 1)
        p = p if label in ("right", "down") else SIZE - p
        if label in ("right", "left"):
            draw.rectangle([p - 3, 4 + offset, p + 3, SIZE - 4 + offset], fill=colour)
        else:
            draw.rectangle([4 + offset, p - 3, SIZE - 4 + offset, p + 3], fill=colour)
        frames.append(image)
    return frames


PULSE_COLOURS = {"R": (230, 40, 40), "G": (40, 210, 60), "B": (50, 80, 240)}


def _pulse(label: str, length: int, rng) -> list[Image.Image]:
    """Three colour flashes, one per third of the clip, in the order the label names (e.g. 'GRB')."""
    radius = rng.uniform(8, 14)
    cx, cy = SIZE / 2 + rng.uniform(-4, 4), SIZE / 2 + rng.uniform(-4, 4)
    frames = []
    for t in range(length):
        image = Image.new("RGB", (SIZE, SIZE), (30, 30, 30))
        colour = PULSE_COLOURS[label[min(2, int(3 * t / length))]]
        ImageDraw.Draw(image).ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=colour)
        frames.append(image)
    return frames


def _size(label: str, length: int, rng) -> list[Image.Image]:
    """A disc that grows, shrinks, or grows then shrinks."""
    lo, hi = rng.uniform(3, 6), rng.uniform(13, 17)
    colour = tuple(int(v) for v in rng.integers(150, 256, 3))
    frames = []
    for t in range(length):
        phase = t / max(1, length - 1)
        shape = {"grow": phase, "shrink": 1 - phase, "pulse": 1 - abs(2 * phase - 1)}[label]
        radius = lo + (hi - lo) * shape
        image = Image.new("RGB", (SIZE, SIZE), (35, 35, 45))
        ImageDraw.Draw(image).ellipse([SIZE / 2 - radius, SIZE / 2 - radius, SIZE / 2 + radius, SIZE / 2 + radius],
                                      fill=colour)
        frames.append(image)
    return frames


def _turn(label: str, length: int, rng) -> list[Image.Image]:
    """A hand sweeping the same arc (12 to 3 o'clock, or 12 to 6) forwards or backwards."""
    direction = 1 if label.startswith("cw") else -1
    turn = np.pi / 2 if label.endswith("quarter") else np.pi
    start = -np.pi / 2 + rng.uniform(-0.15, 0.15) + (0 if direction == 1 else turn)
    frames = []
    for t in range(length):
        angle = start + direction * turn * t / max(1, length - 1)
        dx, dy = 16 * np.cos(angle), 16 * np.sin(angle)
        image = Image.new("RGB", (SIZE, SIZE), (40, 30, 30))
        draw = ImageDraw.Draw(image)
        draw.line([SIZE / 2 - dx, SIZE / 2 - dy, SIZE / 2 + dx, SIZE / 2 + dy], fill=(240, 230, 120), width=4)
        draw.ellipse([SIZE / 2 + dx - 4, SIZE / 2 + dy - 4, SIZE / 2 + dx + 4, SIZE / 2 + dy + 4], fill=(240, 80, 80))
        frames.append(image)
    return frames


def _timing(label: str, length: int, rng) -> list[Image.Image]:
    """A white square flashing once; the class is when (one of 11 moments of the clip)."""
    k = int(label[1:])
    centre = (k + 0.5) / 11 * length
    half = max(1.0, length / 16)  # spans at least one sampled frame of 16
    x, y = rng.uniform(8, 20), rng.uniform(8, 20)
    frames = []
    for t in range(length):
        image = Image.new("RGB", (SIZE, SIZE), (50, 50, 60))
        if abs(t + 0.5 - centre) <= half:
            ImageDraw.Draw(image).rectangle([x, y, x + 12, y + 12], fill=(250, 250, 250))
        frames.append(image)
    return frames


def _approach(label: str, length: int, rng) -> list[Image.Image]:
    """Two dots that meet then part, part then meet, or pass each other (same frames, other orders)."""
    frames = []
    y = SIZE / 2 + rng.uniform(-6, 6)
    for t in range(length):
        phase = t / max(1, length - 1)
        gap = {"meet": 1 - phase, "part": phase, "bounce": abs(2 * phase - 1)}[label]
        image = Image.new("RGB", (SIZE, SIZE), (25, 40, 35))
        draw = ImageDraw.Draw(image)
        for side, colour in ((-1, (250, 120, 60)), (1, (60, 160, 250))):
            x = SIZE / 2 + side * (3 + 14 * gap)
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
        frames.append(image)
    return frames


RENDER = {"sweep": _sweep, "pulse": _pulse, "size": _size, "turn": _turn, "timing": _timing,
          "approach": _approach}

TASKS = [
    Task("sweep", ["right", "left", "down", "up"], 16, (20, 60), "mp4", 32, 20, 8,
         "a bar crossing the frame in one of 4 directions (left/right: no flip augmentation)",
         ("--train_flip", "false")),
    Task("pulse", ["RGB", "RBG", "GRB", "GBR", "BRG", "BGR"], 8, (5, 30), "frames", 64, 14, 6,
         "three colour flashes in one of 6 orders; clips from 5 frames (shorter than 8)"),
    Task("size", ["grow", "shrink", "pulse"], 8, (4, 24), "mp4", 32, 24, 10,
         "a disc growing, shrinking or both; clips from 4 frames"),
    Task("turn", ["cw_quarter", "ccw_quarter", "cw_half", "ccw_half"], 16, (30, 60), "frames", 32, 20, 8,
         "a clock hand turning either way by a quarter or a half turn"),
    Task("timing", [f"t{k}" for k in range(11)], 16, (16, 60), "mp4", 64, 12, 5,
         "one flash at one of 11 moments of the clip"),
    Task("approach", ["meet", "part", "bounce"], 16, (10, 40), "frames", 64, 24, 10,
         "two dots meeting, parting, or both"),
]


def render(task: Task, label: str, seed: int) -> np.ndarray:
    """One clip `(T, 40, 40, 3)` uint8 with a little pixel noise."""
    rng = np.random.default_rng(seed)
    length = int(rng.integers(task.lengths[0], task.lengths[1] + 1))
    frames = np.stack([np.asarray(image) for image in RENDER[task.name](label, length, rng)]).astype(np.float32)
    frames += rng.normal(0, 6, frames.shape)
    return np.clip(frames, 0, 255).astype(np.uint8)


def write_task(task: Task, root: Path, seed: int = 0) -> Path:
    """Write a task as a `csv` dataset: `{train,test}.csv` (`path,label`) and the clips."""
    root = Path(root)
    for split, per_class in (("train", task.train_per_class), ("test", task.test_per_class)):
        rows = []
        for c, label in enumerate(task.classes):
            for k in range(per_class):
                clip_seed = int(np.random.SeedSequence([seed, split == "test", c, k]).generate_state(1)[0])
                frames = render(task, label, clip_seed)
                relative = Path(split) / f"{label}_{k:03d}"
                if task.storage == "mp4":
                    relative = relative.with_suffix(".mp4")
                    (root / relative).parent.mkdir(parents=True, exist_ok=True)
                    write_mp4(root / relative, frames, crf=16)
                else:
                    (root / relative).mkdir(parents=True, exist_ok=True)
                    for t, frame in enumerate(frames):
                        Image.fromarray(frame).save(root / relative / f"{t + 1}.png")
                rows.append((relative.as_posix(), label))
        with open(root / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "label"])
            writer.writerows(rows)
    return root
