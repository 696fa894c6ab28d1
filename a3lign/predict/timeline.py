"""An emotion timeline of a whole video: windows of `num_frames` sampled frames slid over it, every sampled frame
through the frozen vision tower once.

**Frames.** A window of `window` seconds samples its frames as the pipeline samples a clip (the frame at the centre
of each of `num_frames` equal segments), so every window's frames lie on one grid of step `window / num_frames`
seconds: grid point k is frame `floor((k + 0.5) * step * rate)`. Windows start every `stride` seconds, a multiple of
the step, so overlapping windows share grid points (window w holds points `w * m .. w * m + F - 1`, m = stride /
step) and each point is embedded once, however much the windows overlap. Where `stride * rate` is a whole number of
frames, a window's frames are exactly those the pipeline samples from that stretch of the video. A video shorter than
one window is one window, sampled as the pipeline samples it.

**Streaming.** The video is decoded once, front to back; only grid frames are converted; they go through the
processor's resize / crop / normalise and the vision tower in batches of `batch_size`, and each window goes through
the temporal head (`frame_embeddings`, class embeddings cached by the model) as soon as its last frame is embedded,
after which embeddings no window needs are dropped. Memory holds one batch of frames and one window of embeddings,
whatever the video's length; only the per-window probabilities (W x C numbers) grow with it.

**Faces** (`processor.face_crop`): a first pass decodes only the detection frames; faces are then chosen per
**stretch** of one window length (grid points `j * F .. j * F + F - 1`, detected at the pipeline's 8 positions) with
the processor's rule (`faces_a3lign.square_boxes`), and the second pass crops each grid frame with its stretch's box.
A window aligned with a stretch gets exactly the pipeline's face crop of that window; one that straddles two
stretches gets each half's. A stretch without a face keeps the centre crop (counted per window, `face` column), or
raises with `face_crop="strict"`.
"""

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..decoding_a3lign import sample_segment_indices
from ..faces_a3lign import detect_faces, detection_positions, square_boxes, crop_square
from ..data.frames import clip_info, stream_frames


@dataclass
class FrameGrid:
    """Where a timeline's windows take their frames. `frames[k]`: video frame of grid point k; window w holds grid
    points `starts[w] .. starts[w] + num_frames - 1`; window w covers `times[w]` seconds `(start, end)`."""

    frames: list[int]
    starts: list[int]
    num_frames: int
    times: list[tuple[float, float]]

    def points(self, window: int) -> range:
        return range(self.starts[window], self.starts[window] + self.num_frames)


def frame_grid(total: int, rate: float, num_frames: int, window: float, stride: float) -> FrameGrid:
    """The grid of a video of `total` frames at `rate` fps (see the module docstring). `ValueError` naming a bad
    `window` or `stride`."""
    if not window > 0:
        raise ValueError(f"window={window} s is invalid: expected a positive length in seconds, e.g. 2")
    step = window / num_frames
    multiple = stride / step if stride > 0 else 0
    if round(multiple) < 1 or abs(multiple - round(multiple)) > 1e-6:
        near = [k * step for k in (max(1, math.floor(multiple)), max(1, math.floor(multiple)) + 1)]
        raise ValueError(f"stride={stride} s is invalid: windows share frames only when the stride is a multiple of "
                         f"window / num_frames = {step:g} s; use e.g. {near[0]:g} or {near[1]:g}")
    duration = total / rate
    if duration < window:  # one window: the whole video, as the pipeline samples it
        return FrameGrid(sample_segment_indices(total, num_frames), [0], num_frames, [(0.0, duration)])
    shift = round(multiple)
    count = math.floor((duration - window) / stride + 1e-9) + 1
    points = (count - 1) * shift + num_frames
    frames = [min(total - 1, math.floor((k + 0.5) * step * rate + 1e-9)) for k in range(points)]
    return FrameGrid(frames, [w * shift for w in range(count)], num_frames,
                     [(w * stride, w * stride + window) for w in range(count)])


@dataclass
class Timeline:
    """Per-window class probabilities of a video. `probabilities (W, C)`; `times` `(start, end)` seconds per window;
    `face (W,)`: the fraction of each window's frames cut around a face (None without face crops)."""

    video: str
    labels: list[str]
    duration: float
    rate: float
    window: float
    stride: float
    times: list[tuple[float, float]]
    probabilities: np.ndarray
    face: np.ndarray | None = None
    frames_embedded: int = 0
    stretches_without_face: list[tuple[float, float]] = field(default_factory=list)

    @property
    def centres(self) -> np.ndarray:
        return np.array([(start + end) / 2 for start, end in self.times])

    @property
    def dominant(self) -> np.ndarray:
        """The most probable class of each window, `(W,)` indices."""
        return self.probabilities.argmax(axis=1)

    def segments(self) -> list[tuple[float, float, str]]:
        """Runs of windows with the same dominant class as `(start, end, label)` seconds covering the whole video;
        a change is placed half-way between the centres of the last window of one run and the first of the next."""
        centres, dominant = self.centres, self.dominant
        changes = [w for w in range(1, len(dominant)) if dominant[w] != dominant[w - 1]]
        bounds = [0.0] + [float((centres[w - 1] + centres[w]) / 2) for w in changes] + [self.duration]
        firsts = [0] + changes
        return [(bounds[i], bounds[i + 1], self.labels[dominant[w]]) for i, w in enumerate(firsts)]

    def shares(self) -> dict[str, float]:
        """Fraction of the video's time each class dominates, largest first (from `segments`)."""
        totals = dict.fromkeys(self.labels, 0.0)
        for start, end, label in self.segments():
            totals[label] += end - start
        return dict(sorted(((k, v / self.duration if self.duration else 0.0) for k, v in totals.items()), key=lambda kv: -kv[1]))


class _FaceStretches:
    """Face boxes of a whole video, chosen per stretch of one window (first pass: detection frames only)."""

    def __init__(self, video, grid: FrameGrid, margin: float, strict: bool, progress):
        total_points = len(grid.frames)
        stretches = [range(s, min(s + grid.num_frames, total_points)) for s in range(0, total_points, grid.num_frames)]
        wanted = {}  # frame index -> the stretches that detect on it
        for j, points in enumerate(stretches):
            distinct = sorted({grid.frames[k] for k in points})
            for p in detection_positions(len(distinct)):
                wanted.setdefault(distinct[p], []).append(j)
        detections = [dict() for _ in stretches]
        bar = progress(total=len(wanted), desc="faces", unit="frame")
        for index, frame in stream_frames(video, wanted=set(wanted)):
            boxes = detect_faces(frame)
            for j in wanted[index]:
                detections[j][index] = boxes
            bar.update()
        bar.close()
        self.boxes = {}  # grid point -> (left, top, side)
        self.missing = []  # (first, last) grid point of each stretch without a face
        for j, points in enumerate(stretches):
            boxes = square_boxes(detections[j], [grid.frames[k] for k in points], margin)
            if boxes is None:
                if strict:
                    raise ValueError(f"no face found in '{video}' between frames {grid.frames[points[0]]} and "
                                     f"{grid.frames[points[-1]]} (face_crop='strict')")
                self.missing.append((points[0], points[-1]))
                continue
            self.boxes.update(zip(points, boxes))


@torch.no_grad()
def predict_timeline(model, processor, video, window: float = 2.0, stride: float = 0.5, batch_size: int = 32,
                     progress: bool = True) -> Timeline:
    """The timeline of `video` (a file or frame folder) with `model` (in eval mode) and its `processor` (see the module
    docstring). `batch_size` frames go through the vision tower together."""
    from tqdm.auto import tqdm

    def bar(**options):
        return tqdm(disable=not progress, leave=False, **options)

    info = clip_info(video)
    num_frames = model.config.num_frames
    grid = frame_grid(info.num_frames, info.rate, num_frames, window, stride)
    faces = None
    face_crop = getattr(processor, "face_crop", False)  # absent from processors saved before face crops existed
    if face_crop:
        faces = _FaceStretches(video, grid, processor.face_margin, face_crop == "strict", bar)
    frame_processor = copy.copy(processor)
    frame_processor.face_crop = False  # faces are cut here, per stretch

    points_of = {}  # frame index -> grid points showing it (several when the grid is finer than the video's frames)
    for k, index in enumerate(grid.frames):
        points_of.setdefault(index, []).append(k)
    embeddings: dict[int, torch.Tensor] = {}
    pending: list[tuple[int, np.ndarray]] = []
    probabilities = []
    next_window = 0

    def embed():
        nonlocal next_window
        # Frames of one size as one clip (face crops differ in size between stretches), all frames kept.
        by_size = {}
        for position, (_, frame) in enumerate(pending):
            by_size.setdefault(frame.shape, []).append(position)
        pixels = [None] * len(pending)
        for positions in by_size.values():
            clip = np.stack([pending[p][1] for p in positions])
            for p, frame in zip(positions, frame_processor(clip, do_sample_frames=False)["pixel_values_videos"][0]):
                pixels[p] = frame
        features = model.get_frame_embeddings(torch.stack(pixels)[None])[0]  # (B, 3, S, S) -> (B, d)
        for (index, _), feature in zip(pending, features):
            embeddings.update(dict.fromkeys(points_of[index], feature))
        pending.clear()
        ready = []
        while next_window < len(grid.starts) and grid.points(next_window)[-1] in embeddings:
            ready.append(torch.stack([embeddings[k] for k in grid.points(next_window)]))
            next_window += 1
        if ready:
            logits = model(frame_embeddings=torch.stack(ready)).logits
            probabilities.append(logits.float().softmax(-1).cpu().numpy())
            first_needed = grid.starts[next_window] if next_window < len(grid.starts) else len(grid.frames)
            for k in [k for k in embeddings if k < first_needed]:
                del embeddings[k]

    decoding = bar(total=len(points_of), desc="frames", unit="frame")
    last = -1
    for last, frame in stream_frames(video, wanted=set(points_of)):
        box = faces.boxes.get(points_of[last][0]) if faces else None  # a frame shown twice is cut as first shown
        pending.append((last, frame if box is None else crop_square(frame, box)))
        if len(pending) >= batch_size:
            embed()
        decoding.update()
    if pending:
        embed()
    decoding.close()
    if next_window < len(grid.starts):
        raise ValueError(f"'{video}' decodes only up to frame {last} of the {info.num_frames} it holds: the last "
                         f"{len(grid.starts) - next_window} windows have no frames")

    face = None
    if faces is not None:
        cropped = np.array([k in faces.boxes for k in range(len(grid.frames))])
        face = np.array([cropped[list(grid.points(w))].mean() for w in range(len(grid.starts))])
    step = window / num_frames
    return Timeline(
        video=str(video), labels=[model.config.id2label[i] for i in range(model.config.num_labels)],
        duration=info.num_frames / info.rate, rate=info.rate, window=window, stride=stride, times=grid.times,
        probabilities=np.concatenate(probabilities), face=face, frames_embedded=len(points_of),
        stretches_without_face=[(a * step, (b + 1) * step) for a, b in (faces.missing if faces else [])],
    )


__all__ = ["FrameGrid", "Timeline", "frame_grid", "predict_timeline"]
