"""Small order-sensitive video tasks for `bench_recipe.py`, generated on the fly.

None of them is the demo's synthetic face set, and they differ from each other in motion, class count
(3 to 11), frames per clip (8 or 16), clip length (shorter than `num_frames` up to 60 frames), storage
(mp4 files or frame folders) and the tiny random CLIP's width. In each, classes that share the same
frames in a different order exist, so averaging frames over time cannot solve the task.

`HARD_TASKS` (issue 18) are smaller and lower in resolution: at most 20 training clips a class, 24 px frames blown up
to the 32 px crop, frame folders of 10 to 30 frames, and classes that are each other's time-reverse.
`IMBALANCED_TASKS` have DFEW's and MAFW's proportions of classes in training (the rarest at 1-5% of the clips, each
rare class the time-reverse of a frequent one) and balanced test splits.
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
    train_counts: tuple[int, ...] | None = None  # training clips per class (imbalanced); else train_per_class each
    frame_size: int = 40  # rendered frames' side (the processor resizes them to 34 and crops 32)
    rare: tuple[str, ...] = ()  # the rare classes, reported on their own

    def count(self, split: str, c: int) -> int:
        if split == "test":
            return self.test_per_class
        return self.train_counts[c] if self.train_counts else self.train_per_class


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
        ImageDraw.Draw(image).ellipse(
            [SIZE / 2 - radius, SIZE / 2 - radius, SIZE / 2 + radius, SIZE / 2 + radius], fill=colour
        )
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


def _window(rng, phase: np.ndarray | float):
    """The share of a motion done at `phase` of the clip, when it runs over a random part of it (starting in the first
    third, ending in the last), as real expressions do."""
    start, end = rng.uniform(0, 0.3), rng.uniform(0.7, 1.0)
    return np.clip((np.asarray(phase) - start) / (end - start), 0, 1)


def _reversal(label: str, length: int, rng) -> list[Image.Image]:
    """A dot sliding along a line, a square growing, each forwards or backwards, or a dot that blinks on and off
    (its own reverse): five classes, two pairs of time-reverses. Each clip: its own path, size, colour and timing
    (the motion runs over a random part of the clip), a static distractor shape, and a jitter of a pixel a frame."""
    forward = not label.endswith("_back")
    kind = label.removesuffix("_back")
    colour = tuple(int(v) for v in rng.integers(150, 256, 3))
    start, end = rng.uniform(6, 14, 2), rng.uniform(26, 34, 2)
    size = rng.uniform(3, 6)
    window = rng.uniform(0, 0.3), rng.uniform(0.7, 1.0)
    distractor = rng.uniform(4, 36, 2), tuple(int(v) for v in rng.integers(60, 200, 3))
    frames = []
    for t in range(length):
        phase = np.clip((t / max(1, length - 1) - window[0]) / (window[1] - window[0]), 0, 1)
        phase = phase if forward else 1 - phase
        image = Image.new("RGB", (SIZE, SIZE), (40, 40, 55))
        draw = ImageDraw.Draw(image)
        dx, dy = rng.integers(-1, 2, 2)
        draw.rectangle([*(distractor[0] - 3), *(distractor[0] + 3)], fill=distractor[1])
        if kind == "slide":
            x, y = start + (end - start) * phase + (dx, dy)
            draw.ellipse([x - size, y - size, x + size, y + size], fill=colour)
        elif kind == "grow":
            half = size / 2 + 2.5 * size * phase
            draw.rectangle(
                [SIZE / 2 - half + dx, SIZE / 2 - half + dy, SIZE / 2 + half + dx, SIZE / 2 + half + dy], fill=colour
            )
        elif 0.35 < phase < 0.65:  # blink: on in the middle of its window
            draw.ellipse(
                [SIZE / 2 - size + dx, SIZE / 2 - size + dy, SIZE / 2 + size + dx, SIZE / 2 + size + dy], fill=colour
            )
        frames.append(image)
    return frames


def _glide(label: str, length: int, rng) -> list[Image.Image]:
    """A dot crossing the frame speeding up (`in`) or slowing down (`out`), rightwards or leftwards: `in_right`
    reversed in time is `out_left`, `out_right` reversed is `in_left`; only the speed's course tells them apart."""
    ease, direction = label.split("_")
    y = rng.uniform(12, 28)
    colour = tuple(int(v) for v in rng.integers(150, 256, 3))
    power = rng.uniform(2.0, 3.0)
    frames = []
    for t in range(length):
        phase = t / max(1, length - 1)
        done = phase**power if ease == "in" else 1 - (1 - phase) ** power
        x = 6 + 28 * (done if direction == "right" else 1 - done)
        image = Image.new("RGB", (SIZE, SIZE), (35, 45, 40))
        jitter = rng.uniform(-1, 1)
        ImageDraw.Draw(image).ellipse([x - 4, y - 4 + jitter, x + 4, y + 4 + jitter], fill=colour)
        frames.append(image)
    return frames


def _face(label: str, length: int, rng) -> list[Image.Image]:
    """A cartoon face whose part moves into an expression (`smile`, `frown`, `brows`, `open`) or out of it (`_off`:
    the same frames reversed), or stays `still`: small moving parts, the way expressions are; each clip its own
    strength and timing (a random part of the clip), and the head drifting."""
    kind = label.removesuffix("_off")
    on = not label.endswith("_off")
    skin = tuple(int(v) for v in rng.integers(170, 240, 3))
    cx, cy = SIZE / 2 + rng.uniform(-2, 2), SIZE / 2 + rng.uniform(-2, 2)
    window, strength = (rng.uniform(0, 0.3), rng.uniform(0.7, 1.0)), rng.uniform(0.6, 1.0)
    frames = []
    for t in range(length):
        phase = np.clip((t / max(1, length - 1) - window[0]) / (window[1] - window[0]), 0, 1)
        amount = 0.0 if kind == "still" else strength * (phase if on else 1 - phase)
        cx, cy = cx + rng.uniform(-0.6, 0.6), cy + rng.uniform(-0.6, 0.6)  # the head drifts
        image = Image.new("RGB", (SIZE, SIZE), (60, 70, 80))
        draw = ImageDraw.Draw(image)
        draw.ellipse([cx - 16, cy - 18, cx + 16, cy + 18], fill=skin)
        lift = 5 * amount if kind == "brows" else 0
        for side in (-1, 1):
            draw.ellipse([cx + side * 7 - 2, cy - 6, cx + side * 7 + 2, cy - 2], fill=(30, 30, 30))
            draw.line([cx + side * 10, cy - 10 - lift, cx + side * 4, cy - 10 - lift], fill=(40, 30, 20), width=2)
        curve = {"smile": 6 * amount, "frown": -6 * amount}.get(kind, 0.0)
        opening = 7 * amount if kind == "open" else 1
        if curve >= 0:
            draw.chord([cx - 8, cy + 4 - curve, cx + 8, cy + 6 + curve + opening], 0, 180, fill=(150, 40, 40))
        else:
            draw.chord([cx - 8, cy + 6 + curve, cx + 8, cy + 10 - curve], 180, 360, fill=(150, 40, 40))
        frames.append(image)
    return frames


RENDER = {
    "sweep": _sweep,
    "pulse": _pulse,
    "size": _size,
    "turn": _turn,
    "timing": _timing,
    "approach": _approach,
    "reversal": _reversal,
    "faces": _face,
    "glide": _glide,
    "dfew_like": _face,
    "mafw_like": _face,
}

TASKS = [
    Task(
        "sweep",
        ["right", "left", "down", "up"],
        16,
        (20, 60),
        "mp4",
        32,
        20,
        8,
        "a bar crossing the frame in one of 4 directions (left/right: no flip augmentation)",
        ("--train_flip", "false"),
    ),
    Task(
        "pulse",
        ["RGB", "RBG", "GRB", "GBR", "BRG", "BGR"],
        8,
        (5, 30),
        "frames",
        64,
        14,
        6,
        "three colour flashes in one of 6 orders; clips from 5 frames (shorter than 8)",
    ),
    Task(
        "size",
        ["grow", "shrink", "pulse"],
        8,
        (4, 24),
        "mp4",
        32,
        24,
        10,
        "a disc growing, shrinking or both; clips from 4 frames",
    ),
    Task(
        "turn",
        ["cw_quarter", "ccw_quarter", "cw_half", "ccw_half"],
        16,
        (30, 60),
        "frames",
        32,
        20,
        8,
        "a clock hand turning either way by a quarter or a half turn",
    ),
    Task(
        "timing",
        [f"t{k}" for k in range(11)],
        16,
        (16, 60),
        "mp4",
        64,
        12,
        5,
        "one flash at one of 11 moments of the clip",
    ),
    Task(
        "approach",
        ["meet", "part", "bounce"],
        16,
        (10, 40),
        "frames",
        64,
        24,
        10,
        "two dots meeting, parting, or both",
    ),
]


def _shares(proportions, total: int) -> tuple[int, ...]:
    """Clips per class in the given proportions (percent), at least 1 each, `total` in all (about)."""
    return tuple(max(1, round(p * total / 100)) for p in proportions)


# DFEW's classes and their shares of its single-labelled clips (rounded; Disgust about 1%, Fear a few percent), each
# a face motion; the rare ones are time-reverses of frequent ones (Disgust of Happy, Fear of Surprise).
DFEW_LIKE = {
    "Happy": ("smile", 24),
    "Sad": ("frown", 17),
    "Neutral": ("still", 23),
    "Angry": ("brows", 16),
    "Surprise": ("open", 14),
    "Disgust": ("smile_off", 1.5),
    "Fear": ("open_off", 4.5),
}
# MAFW's eleven, shares of its single-labelled clips (rounded): contempt, helplessness and disappointment about 2%.
MAFW_LIKE = {
    "anger": ("brows", 13),
    "disgust": ("frown_off", 7),
    "fear": ("open_off", 7),
    "happiness": ("smile", 20),
    "neutral": ("still", 17),
    "sadness": ("frown", 16),
    "surprise": ("open", 9),
    "contempt": ("smile_off", 1.5),
    "anxiety": ("brows_off", 5.5),
    "helplessness": ("blink", 2),
    "disappointment": ("shrink", 2),
}


def render(task: Task, label: str, seed: int) -> np.ndarray:
    """One clip `(T, frame_size, frame_size, 3)` uint8 with a little pixel noise."""
    rng = np.random.default_rng(seed)
    length = int(rng.integers(task.lengths[0], task.lengths[1] + 1))
    motion = {**{k: v[0] for k, v in DFEW_LIKE.items()}, **{k: v[0] for k, v in MAFW_LIKE.items()}}.get(label, label)
    if motion in ("blink", "shrink"):  # MAFW's two other rare classes: motions of the reversal task
        images = _reversal("blink" if motion == "blink" else "grow_back", length, rng)
    else:
        images = RENDER[task.name](motion, length, rng)
    if task.frame_size != SIZE:
        images = [image.resize((task.frame_size, task.frame_size), Image.BILINEAR) for image in images]
    frames = np.stack([np.asarray(image) for image in images]).astype(np.float32)
    frames += rng.normal(0, 6, frames.shape)
    return np.clip(frames, 0, 255).astype(np.uint8)


def write_task(task: Task, root: Path, seed: int = 0) -> Path:
    """Write a task as a `csv` dataset: `{train,test}.csv` (`path,label`) and the clips."""
    root = Path(root)
    for split in ("train", "test"):
        rows = []
        for c, label in enumerate(task.classes):
            for k in range(task.count(split, c)):
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


# Issue 18: small, low-resolution sets of time-reversed classes.
HARD_TASKS = [
    Task(
        "reversal",
        ["slide", "slide_back", "grow", "grow_back", "blink"],
        16,
        (10, 30),
        "frames",
        32,
        20,
        12,
        "a dot sliding or a square growing, forwards or backwards, or a blink; 24 px frame folders of 10-30 frames",
        ("--train_flip", "false"),
        frame_size=24,
    ),
    Task(
        "faces",
        ["smile", "smile_off", "frown", "frown_off", "brows", "brows_off", "open", "open_off"],
        16,
        (10, 30),
        "frames",
        64,
        16,
        8,
        "a cartoon face moving into or out of four expressions; 24 px frame folders of 10-30 frames",
        frame_size=24,
    ),
    Task(
        "glide",
        ["in_right", "out_right", "in_left", "out_left"],
        16,
        (10, 30),
        "frames",
        32,
        20,
        12,
        "a dot speeding up or slowing down, rightwards or leftwards (each the time-reverse of another)",
        ("--train_flip", "false"),
        frame_size=24,
    ),
]

IMBALANCED_TASKS = [
    Task(
        "dfew_like",
        list(DFEW_LIKE),
        16,
        (10, 30),
        "frames",
        64,
        0,
        8,
        "DFEW's 7 classes in DFEW's proportions (Disgust 1.5%, Fear 4.5% of 200 training clips), face motions; rare "
        "classes the reverses of frequent ones",
        train_counts=_shares([v[1] for v in DFEW_LIKE.values()], 200),
        frame_size=32,
        rare=("Disgust", "Fear"),
    ),
    Task(
        "mafw_like",
        list(MAFW_LIKE),
        16,
        (10, 30),
        "frames",
        64,
        0,
        6,
        "MAFW's 11 classes in MAFW's proportions (contempt 1.5%, helplessness and disappointment 2% of 270 training "
        "clips)",
        train_counts=_shares([v[1] for v in MAFW_LIKE.values()], 270),
        frame_size=32,
        rare=("contempt", "helplessness", "disappointment"),
    ),
]
