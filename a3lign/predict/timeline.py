"""An emotion timeline of a whole video: windows of `num_frames` sampled frames slid over it, every sampled frame
through the frozen vision tower once.

**Frames, by time.** A window of `window` seconds samples its frames as the pipeline samples a clip (the frame on
screen at the centre of each of `num_frames` equal segments), so every window's frames lie on one grid of step
`window / num_frames` seconds: grid point k is the frame shown at `(k + 0.5) * step` seconds after the first frame
(by the video's timestamps: a variable-rate phone recording is placed where its time is; a frame folder's frames are
`processor.frame_folder_fps` apart). Windows start every `stride` seconds, a multiple of the step, so overlapping
windows share grid points (window w holds points `w * m .. w * m + F - 1`, m = stride / step) and each point is
embedded once, however much the windows overlap. Where `stride * rate` is a whole number of frames, a window's frames
are exactly those the pipeline samples from that stretch of the video. A video shorter than one window is one
window, sampled as the pipeline samples it.

**Streaming.** The video is decoded once, front to back; only grid frames are converted; they go through the
processor's resize / crop / normalise and the vision tower in batches of `batch_size` (`WindowStream`), and each
window goes through the video dynamic encoder (the JAS after stage 3; `frame_embeddings`, class embeddings cached by
the model) as soon as its last frame is embedded, after which embeddings no window needs are dropped. Memory holds one
batch of frames and one window of embeddings, whatever the video's length; only the per-window results (W x C
numbers) grow with it.

**Faces** (`processor.face_crop`): a first pass feeds the grid frames to the faces module
(`faces_a3lign.FaceObserver`: shot cuts, detection on every second frame of each shot, the main face of each shot),
and the second pass cuts each grid frame where its placement says. Each window records the share of its frames
that truly show the tracked face (`face`) and the face's box at its middle frame (`face_boxes`, None where it is
gone); stretches of the grid without the face and the shot cuts are listed (and drawn). With `face_crop="strict"`
a stretch without a face is an error naming it.
"""

import copy
import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import torch

from ..decoding_a3lign import DEFAULT_FOLDER_FPS, FrameTiming, iter_frames, probe_clip, sample_segment_indices
from ..faces_a3lign import DEFAULT_DETECTOR, FaceObserver, FacePlacement


@dataclass
class FrameGrid:
    """Where a timeline's windows take their frames. `frames[k]`: video frame of grid point k, which stands for the
    `step` seconds from `k * step`; window w holds grid points `starts[w] .. starts[w] + num_frames - 1`; window w
    covers `times[w]` seconds `(start, end)`."""

    frames: list[int]
    starts: list[int]
    num_frames: int
    times: list[tuple[float, float]]
    step: float

    def points(self, window: int) -> range:
        return range(self.starts[window], self.starts[window] + self.num_frames)


def grid_step(window: float, stride: float, num_frames: int) -> tuple[Fraction, int]:
    """`(step, shift)`: the grid's step `window / num_frames` seconds (exact) and the stride in steps. `ValueError`
    naming a bad `window` or a `stride` that is not a whole number of steps."""
    if not window > 0:
        raise ValueError(f"window={window} s is invalid: expected a positive length in seconds, e.g. 2")
    step = Fraction(window).limit_denominator(10**6) / num_frames  # 2.4 s means 2.4, not its nearest double
    multiple = Fraction(stride).limit_denominator(10**6) / step if stride > 0 else 0
    if round(multiple) < 1 or multiple != round(multiple):
        near = [float(k * step) for k in (max(1, math.floor(multiple)), max(1, math.floor(multiple)) + 1)]
        raise ValueError(
            f"stride={stride} s is invalid: windows share frames only when the stride is a multiple of "
            f"window / num_frames = {float(step):g} s; use e.g. {near[0]:g} or {near[1]:g}"
        )
    return step, int(multiple)


def frame_grid(timing: FrameTiming, num_frames: int, window: float, stride: float) -> FrameGrid:
    """The grid of a video whose frames are shown at `timing` (see the module docstring): grid point k shows the frame
    on screen at `(k + 0.5) * window / num_frames` seconds. `ValueError` naming a bad `window` or `stride`."""
    step, shift = grid_step(window, stride, num_frames)
    duration = timing.duration
    if duration < window:  # one window: the whole video, as the pipeline samples it
        frames = sample_segment_indices(timing.num_frames, num_frames, timing=timing)
        return FrameGrid(frames, [0], num_frames, [(0.0, duration)], duration / num_frames)
    count = math.floor((duration - window) / stride + 1e-9) + 1
    points = (count - 1) * shift + num_frames
    frames = [timing.frame_at((k + Fraction(1, 2)) * step) for k in range(points)]
    return FrameGrid(
        frames,
        [w * shift for w in range(count)],
        num_frames,
        [(w * stride, w * stride + window) for w in range(count)],
        float(step),
    )


@dataclass
class Timeline:
    """Per-window class probabilities of a video. `probabilities (W, C)`; `times` `(start, end)` seconds per window,
    from the first frame's timestamp; `rate` the mean frames per second and `rate_source` where it came from
    ("timestamps" of a video, "folder_fps" for a frame folder). With face crops: `face (W,)` the share of each
    window's frames that truly show the tracked face, `face_boxes` its upright box `(x0, y0, x1, y1)` at the window's
    middle frame (the nearest frame of the window showing it; None where no frame does), `stretches_without_face`
    and `cuts` (seconds at which a new shot starts: half-way between the grid frames on either side of the cut); all
    None / empty without face crops."""

    video: str
    labels: list[str]
    duration: float
    rate: float
    rate_source: str
    window: float
    stride: float
    times: list[tuple[float, float]]
    probabilities: np.ndarray
    face: np.ndarray | None = None
    face_boxes: list[tuple[int, int, int, int] | None] | None = None
    frames_embedded: int = 0
    stretches_without_face: list[tuple[float, float]] = field(default_factory=list)
    cuts: list[float] = field(default_factory=list)
    face_detector: str | None = None

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
        return dict(
            sorted(
                ((k, v / self.duration if self.duration else 0.0) for k, v in totals.items()), key=lambda kv: -kv[1]
            )
        )


def grid_faces(video, grid: FrameGrid, processor, progress) -> FacePlacement:
    """First pass of a timeline with face crops: every grid frame through the faces module; the placement of each grid
    point."""
    observer = FaceObserver(getattr(processor, "face_detector", DEFAULT_DETECTOR))
    bar = progress(total=len(set(grid.frames)), desc="faces", unit="frame")
    for index, frame in iter_frames(video, wanted=set(grid.frames)):
        observer.add(index, frame)
        bar.update()
    bar.close()
    return observer.finish().place(grid.frames, processor.face_margin)


def runs_without_face(present: np.ndarray) -> list[tuple[int, int]]:
    """`(first, last)` grid points of each run of points not showing the face."""
    runs, start = [], None
    for k, shown in enumerate([*present, True]):
        if not shown and start is None:
            start = k
        elif shown and start is not None:
            runs.append((start, k - 1))
            start = None
    return runs


class WindowStream:
    """The streaming state of a timeline's second pass: grid frames in (`add`), their embeddings through the vision
    tower in batches, each window through the head as soon as its frames are embedded (`probabilities`)."""

    def __init__(self, model, processor, grid: FrameGrid, batch_size: int):
        self.model, self.grid, self.batch_size = model, grid, batch_size
        self.processor = copy.copy(processor)
        self.processor.face_crop = False  # frames arrive cut (the faces module placed them)
        self.points_of: dict[int, list[int]] = {}  # frame index -> grid points showing it (a fine grid repeats frames)
        for k, index in enumerate(grid.frames):
            self.points_of.setdefault(index, []).append(k)
        self.embeddings: dict[int, torch.Tensor] = {}
        self.pending: list[tuple[int, np.ndarray]] = []
        self.probabilities: list[np.ndarray] = []
        self.next_window = 0

    def add(self, index: int, frame: np.ndarray) -> None:
        self.pending.append((index, frame))
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Embed the pending frames; run every window whose frames are all embedded; drop what no window needs."""
        if not self.pending:
            return
        # Frames of one size as one clip through the processor (crops of one clip share their side), all frames kept.
        by_size: dict[tuple, list[int]] = {}
        for position, (_, frame) in enumerate(self.pending):
            by_size.setdefault(frame.shape, []).append(position)
        pixels = [None] * len(self.pending)
        for positions in by_size.values():
            clip = np.stack([self.pending[p][1] for p in positions])
            for p, frame in zip(positions, self.processor(clip, do_sample_frames=False)["pixel_values_videos"][0]):
                pixels[p] = frame
        features = self.model.get_frame_embeddings(torch.stack(pixels)[None])[0]  # (B, 3, S, S) -> (B, d)
        for (index, _), feature in zip(self.pending, features):
            self.embeddings.update(dict.fromkeys(self.points_of[index], feature))
        self.pending.clear()
        grid, ready = self.grid, []
        while self.next_window < len(grid.starts) and grid.points(self.next_window)[-1] in self.embeddings:
            ready.append(torch.stack([self.embeddings[k] for k in grid.points(self.next_window)]))
            self.next_window += 1
        if ready:
            logits = self.model(frame_embeddings=torch.stack(ready)).logits
            self.probabilities.append(logits.float().softmax(-1).cpu().numpy())
            first_needed = grid.starts[self.next_window] if self.next_window < len(grid.starts) else len(grid.frames)
            for k in [k for k in self.embeddings if k < first_needed]:
                del self.embeddings[k]

    @property
    def done(self) -> bool:
        return self.next_window == len(self.grid.starts)


@torch.no_grad()
def predict_timeline(
    model, processor, video, window: float = 2.0, stride: float = 0.5, batch_size: int = 32, progress: bool = True
) -> Timeline:
    """The timeline of `video` (a file or frame folder) with `model` (in eval mode) and its `processor` (see the module
    docstring). `batch_size` frames go through the vision tower together."""
    from tqdm.auto import tqdm

    def bar(**options):
        return tqdm(disable=not progress, leave=False, **options)

    info = probe_clip(video, getattr(processor, "frame_folder_fps", DEFAULT_FOLDER_FPS))
    grid = frame_grid(info.timing, model.config.num_frames, window, stride)
    face_crop = getattr(processor, "face_crop", False)  # absent from processors saved before face crops existed
    placement = grid_faces(video, grid, processor, bar) if face_crop else None
    step = grid.step
    missing = runs_without_face(placement.present) if placement is not None else []
    if missing and face_crop == "strict":
        first, last = missing[0]
        raise ValueError(
            f"no face found in '{video}' between {first * step:g} s and {(last + 1) * step:g} s "
            f"(frames {grid.frames[first]} to {grid.frames[last]}; face_crop='strict')"
        )

    stream = WindowStream(model, processor, grid, batch_size)
    decoding = bar(total=len(stream.points_of), desc="frames", unit="frame")
    last = -1
    for last, frame in iter_frames(video, wanted=set(stream.points_of)):
        if placement is not None:  # a frame shown twice is cut as first shown
            frame = placement.crop(frame, stream.points_of[last][0])
        stream.add(last, frame)
        decoding.update()
    stream.flush()
    decoding.close()
    if not stream.done:
        raise ValueError(
            f"'{video}' decodes only up to frame {last} of the {info.num_frames} it holds: the last "
            f"{len(grid.starts) - stream.next_window} windows have no frames"
        )

    timeline = Timeline(
        video=str(video),
        labels=[model.config.id2label[i] for i in range(model.config.num_labels)],
        duration=info.duration,
        rate=info.rate,
        rate_source=info.rate_source,
        window=window,
        stride=stride,
        times=grid.times,
        probabilities=np.concatenate(stream.probabilities),
        frames_embedded=len(stream.points_of),
    )
    if placement is not None:
        add_faces(timeline, grid, placement, info.timing, step)
        timeline.face_detector = getattr(processor, "face_detector", DEFAULT_DETECTOR)
    return timeline


def add_faces(timeline: Timeline, grid: FrameGrid, placement: FacePlacement, timing: FrameTiming, step: float) -> None:
    """The timeline's face columns from the grid's placement (see `Timeline`)."""
    present = placement.present
    timeline.face = np.array([present[list(grid.points(w))].mean() for w in range(len(grid.starts))])
    boxes = []
    for w in range(len(grid.starts)):
        points = sorted(grid.points(w), key=lambda k: abs(k - (grid.starts[w] + (grid.num_frames - 1) / 2)))
        shown = [k for k in points if present[k]]
        boxes.append(placement.face_box(shown[0]) if shown else None)
    timeline.face_boxes = boxes
    timeline.stretches_without_face = [(first * step, (last + 1) * step) for first, last in runs_without_face(present)]
    # A cut lies somewhere between the last grid frame of one shot and the first of the next: half-way is told.
    starts = timing.starts()
    timeline.cuts = [
        float(starts[grid.frames[k - 1]] + starts[grid.frames[k]]) / 2
        for k in range(1, len(grid.frames))
        if placement.shots[k] != placement.shots[k - 1]
    ]


__all__ = ["FrameGrid", "Timeline", "frame_grid", "grid_step", "predict_timeline", "WindowStream"]
