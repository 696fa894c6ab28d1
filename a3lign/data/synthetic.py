"""A synthetic dynamic-expression dataset: cartoon faces whose parts move over time, in DFEW's 7 classes.

The project's embedded default data (`a3lign data synthesize`). Seeded and deterministic.
Each class is a motion of the facial parts over the clip:

    Happy     the mouth curves into a smile and the eyes narrow, then hold
    Sad       the mouth curves down and the brows' outer ends drop
    Neutral   nothing moves but the head's small drift
    Angry     the brows slant down to the centre and the mouth tightens
    Disgust   one side of the mouth lifts and one eye squints
    Surprise  quick onset, slow release of an open mouth, raised brows and wide eyes
    Fear      the same frames as Surprise in reverse order (slow onset, quick release)

Surprise and Fear hold identical frames in a different order: averaging frames over time cannot separate
them, and shuffling frames must hurt (the paper's Table 5). Per clip: position, scale, speed (8 to 48
frames), skin and background colours and pixel noise vary.
"""

import csv
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .labels import DFEW_LABELS

logger = logging.getLogger(__name__)

FRAME_SIZE = 64
ORDER_ONLY_PAIR = ("Surprise", "Fear")


def _envelope(phase: np.ndarray, onset: float) -> np.ndarray:
    """Intensity over the clip: rises until `onset` (fraction of the clip), then falls back to zero."""
    rise = np.clip(phase / onset, 0, 1)
    fall = np.clip((1 - phase) / (1 - onset), 0, 1)
    return np.minimum(rise, fall)


def _motion(label: str, phase: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame expression parameters of a class, each an array over the frames."""
    zero = np.zeros_like(phase)
    hold = np.clip(phase / 0.4, 0, 1)  # rise over the first 40%, then hold
    motion = dict(smile=zero, mouth_open=zero, brow_raise=zero, brow_tilt=zero, eye_open=zero + 1, asym=zero)
    if label == "Happy":
        motion.update(smile=hold, eye_open=1 - 0.5 * hold)
    elif label == "Sad":
        motion.update(smile=-hold, brow_tilt=-hold)
    elif label == "Angry":
        motion.update(brow_tilt=hold, smile=-0.3 * hold, eye_open=1 - 0.3 * hold)
    elif label == "Disgust":
        motion.update(asym=hold, eye_open=1 - 0.2 * hold)
    elif label in ORDER_ONLY_PAIR:
        peak = _envelope(phase, onset=0.15)  # quick onset, slow release; Fear is its reversal
        motion.update(mouth_open=peak, brow_raise=peak, eye_open=1 + 0.4 * peak)
    return motion


def _draw_face(look: dict, p: dict, drift: tuple[float, float]) -> np.ndarray:
    size = FRAME_SIZE
    image = Image.new("RGB", (size, size), look["background"])
    draw = ImageDraw.Draw(image)
    s = look["scale"] * size / 64
    cx, cy = size / 2 + look["dx"] + drift[0], size / 2 + look["dy"] + drift[1]
    draw.ellipse([cx - 26 * s, cy - 29 * s, cx + 26 * s, cy + 29 * s], fill=look["skin"])
    dark, stroke = (30, 20, 20), max(2, round(4 * s))  # bold parts: each spans several CLIP patches
    for side in (-1, 1):  # eyes and brows
        ex, ey = cx + side * 11 * s, cy - 7 * s
        squint = p["eye_open"] * (1 - 0.7 * p["asym"] * (side == 1))
        h = max(0.8, 5 * s * squint)
        draw.ellipse([ex - 5 * s, ey - h, ex + 5 * s, ey + h], fill=dark)
        by = ey - 10 * s - 6 * s * p["brow_raise"]
        inner, outer = by + 6 * s * p["brow_tilt"], by - 3 * s * p["brow_tilt"]
        draw.line([ex - side * 7 * s, inner, ex + side * 7 * s, outer], fill=dark, width=stroke)
    my, mw = cy + 15 * s, 14 * s
    if p["mouth_open"] > 0.05:
        oh = 10 * s * p["mouth_open"]
        draw.ellipse([cx - mw * 0.6, my - oh, cx + mw * 0.6, my + oh], fill=(90, 10, 20))
    else:
        curve = 8 * s * p["smile"]
        lift = 8 * s * p["asym"]
        points = [(cx - mw, my - curve - lift), (cx, my + curve), (cx + mw, my - curve)]
        draw.line(points, fill=(120, 20, 30), width=stroke)
    return np.asarray(image)


def render_clip(label: str, seed: int) -> np.ndarray:
    """One clip of class `label`: `(T, 64, 64, 3)` uint8, T in 8..48, fully determined by `seed`."""
    if label not in DFEW_LABELS:
        raise ValueError(f"unknown synthetic class {label!r}: expected one of {DFEW_LABELS}")
    rng = np.random.default_rng(seed)
    length = int(rng.integers(8, 49))
    look = dict(
        # Colours jitter around one palette: enough to vary, not enough to drown the expression.
        background=tuple(int(v) for v in np.array([40, 45, 60]) + rng.integers(-20, 21, 3)),
        skin=tuple(int(v) for v in np.array([220, 185, 160]) + rng.integers(-30, 31, 3)),
        scale=float(rng.uniform(0.9, 1.05)),
        dx=float(rng.uniform(-2, 2)),
        dy=float(rng.uniform(-2, 2)),
    )
    phase = np.linspace(0, 1, length)
    motion = _motion(label, phase)
    drift = np.clip(np.cumsum(rng.normal(0, 0.25, (length, 2)), axis=0), -1.5, 1.5)
    frames = np.stack([_draw_face(look, {k: v[t] for k, v in motion.items()}, tuple(drift[t])) for t in range(length)])
    noise = rng.normal(0, 4, frames.shape)
    frames = np.clip(frames + noise, 0, 255).astype(np.uint8)
    return frames[::-1].copy() if label == ORDER_ONLY_PAIR[1] else frames


def write_mp4(path: Path, frames: np.ndarray, rate: int = 25, crf: int = 18) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": "ultrafast"})
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def synthesize(output, clips_per_class: int = 40, test_clips_per_class: int | None = None, seed: int = 0) -> Path:
    """Write the synthetic dataset: `clips/<split>/<id>.mp4` and `{train,test}.csv` (`path,label`).

    Read it with `--dataset synthetic --data_root output`. The test split has
    `test_clips_per_class` clips per class (default: half the training count, at least 2).
    """
    output = Path(output)
    test_clips_per_class = test_clips_per_class or max(2, clips_per_class // 2)
    counts = {"train": clips_per_class, "test": test_clips_per_class}
    jobs = []
    for split, per_class in counts.items():
        (output / "clips" / split).mkdir(parents=True, exist_ok=True)
        rows = []
        for class_index, label in enumerate(DFEW_LABELS):
            for k in range(per_class):
                relative = Path("clips") / split / f"{label.lower()}_{k:04d}.mp4"
                jobs.append((output / relative, label, _clip_seed(seed, split, class_index, k)))
                rows.append((relative.as_posix(), label))
        with open(output / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "label"])
            writer.writerows(rows)
    # Clips are independent and seeded one by one: any number of processes gives the same files.
    with ProcessPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        list(pool.map(_write_clip, jobs, chunksize=16))
    logger.info("synthetic dataset: %s", ", ".join(f"{s} {n * len(DFEW_LABELS)} clips" for s, n in counts.items()))
    return output


def _write_clip(job: tuple[Path, str, int]) -> None:
    path, label, clip_seed = job
    write_mp4(path, render_clip(label, clip_seed))


def _clip_seed(seed: int, split: str, class_index: int, k: int) -> int:
    """A stable per-clip seed (Python's hash() of strings changes between runs)."""
    return int(np.random.SeedSequence([seed, 0 if split == "train" else 1, class_index, k]).generate_state(1)[0])
