"""Emotions as they happen: a streaming predictor for frames that arrive one at a time with their timestamps.

**The timeline's windows, as the frames come.** The grid is the timeline's (`timeline.py`): window w covers
`w * stride .. w * stride + window` seconds after the first frame, and holds the `num_frames` grid points at
`(k + 0.5) * step` seconds (step = window / num_frames), each shown by the frame on screen then (the last frame that
started at or before it). A frame's turn is known when the next frame arrives (its start ends the previous frame's
time on screen), so each arriving frame settles the grid points the previous frame showed; only those frames are
face-tracked, cut and embedded (once, however many points they show); every window whose end the stream has passed
goes through the head at once. At `finish`, the stream's duration is known (the last frame lasting the mean frame
gap, as `FrameTiming` has it) and the windows it still holds are given. Fed a file's frames and timestamps without
face crops, the windows are exactly `predict_timeline`'s (a test): the same frames, the same windows.

**Faces** (`face_crop`): the timeline places a video's crops knowing the whole shot; live cannot wait for it, so the
faces module's `FaceFollower` tracks causally (detection every few grid frames, at cuts, and on every frame while
the face is lost; the pose held in between). Each window reports the face's box at its middle grid point (the
nearest point showing it; None where none does), as the timeline does.

Memory holds the embeddings of one window and one frame; what grows with the stream is the per-window results.
"""

import copy
import math
import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from ..decoding_a3lign import DEFAULT_FOLDER_FPS
from ..faces_a3lign import DEFAULT_DETECTOR, LIVE_DETECTION_EVERY, FaceFollower
from .timeline import Timeline, grid_step


@dataclass
class LiveWindow:
    """One window's result: `start`, `end` seconds after the first frame, `probabilities (C,)`, the face's box at its
    middle (None: no face there, or no face crop), `face` the share of its frames showing the tracked face (None
    without face crop), and `latency`: seconds from the arrival of the frame shown at its last grid point (`arrived` of
    `LivePredictor.add`) to its probabilities: the wait for the next frame, which ends that frame's time on screen, and
    the frame's tracking, cut, tower and the head included."""

    start: float
    end: float
    probabilities: np.ndarray
    face_box: tuple[int, int, int, int] | None
    face: float | None
    latency: float


class LivePredictor:
    """`add(frame, seconds)` for each frame in order (`(H, W, 3)` uint8 RGB, or a callable giving it: only frames on
    the grid are converted), returning the windows it completed; `finish()` gives the rest and the whole `Timeline`.
    `model` in eval mode and its `processor`; `window`, `stride` as `predict_timeline` takes them; `face_crop`
    (default: the processor's setting) tracks the face with `FaceFollower(detect_every)`."""

    def __init__(
        self,
        model,
        processor,
        window: float = 2.0,
        stride: float = 0.5,
        face_crop: bool | None = None,
        detect_every: int = LIVE_DETECTION_EVERY,
        name: str = "live",
    ):
        self.model, self.window, self.stride, self.name = model, window, stride, name
        self.num_frames = model.config.num_frames
        self.step, self.shift = grid_step(window, stride, self.num_frames)
        self.processor = copy.copy(processor)
        face_crop = getattr(processor, "face_crop", False) if face_crop is None else face_crop
        self.processor.face_crop = False  # frames arrive cut (the follower cut them)
        self.follower = (
            FaceFollower(getattr(processor, "face_detector", DEFAULT_DETECTOR), processor.face_margin, detect_every)
            if face_crop
            else None
        )
        self.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        self.first: Fraction | float | None = None
        self.last_start = 0  # seconds after the first frame, of the last frame added
        self.count = 0  # frames added
        self.previous = None  # (frame or callable, its index)
        self.point = 0  # the next grid point to settle
        self.embeddings: dict[int, torch.Tensor] = {}  # grid point -> embedding (the current windows' only)
        self.boxes: dict[int, tuple | None] = {}
        self.arrivals: dict[int, float] = {}  # grid point -> when the frame shown there arrived
        self.embedded: tuple[int, torch.Tensor, tuple | None] | None = None  # the last frame embedded
        self.frames_embedded = 0
        self.windows: list[LiveWindow] = []

    @torch.no_grad()
    def add(self, frame, seconds, arrived: float | None = None) -> list[LiveWindow]:
        """The frame shown from `seconds` (the stream's clock: any origin, increasing) until the next one; `arrived`:
        when it was read from its source (`time.perf_counter()`; default now)."""
        arrived = time.perf_counter() if arrived is None else arrived
        if self.first is None:
            self.first = seconds
        start = seconds - self.first
        if self.count and start <= self.last_start:
            return []  # a repeated or out-of-order timestamp: the frame before it stays on screen
        if self.previous is not None:
            self._settle(until=start)
        self.previous, self.last_start = (frame, self.count, arrived), start
        self.count += 1
        return self._run_windows(lambda end: end <= start)

    @torch.no_grad()
    def finish(self) -> Timeline:
        """The windows still held, now that the stream's duration is known, and the `Timeline` of the whole stream.
        `ValueError` for a stream shorter than one window (no window to give)."""
        duration = self.duration
        if duration < self.window:
            raise ValueError(
                f"'{self.name}' lasted {duration:.2f} s, shorter than one window of {self.window:g} s: no window to "
                f"report (a shorter --window gives one)"
            )
        count = math.floor((duration - self.window) / self.stride + 1e-9) + 1  # the timeline's windows
        self._settle(until=None, points=(count - 1) * self.shift + self.num_frames)
        self._run_windows(lambda end: True, limit=count)
        timeline = Timeline(
            video=self.name,
            labels=self.labels,
            duration=duration,
            rate=self.count / duration,
            rate_source="timestamps",
            window=self.window,
            stride=self.stride,
            times=[(w.start, w.end) for w in self.windows],
            probabilities=np.stack([w.probabilities for w in self.windows]),
            frames_embedded=self.frames_embedded,
        )
        if self.follower is not None:
            timeline.face_boxes = [w.face_box for w in self.windows]
            timeline.face = np.array([w.face for w in self.windows])
            timeline.face_detector = self.follower.detector
        return timeline

    @property
    def face_box(self) -> tuple[int, int, int, int] | None:
        """The tracked face's box `(x0, y0, x1, y1)` on the last frame embedded (None: none there, or no face crop)."""
        return None if self.embedded is None else self.embedded[2]

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the end of the last, which lasts the mean frame gap (`FrameTiming`)."""
        if self.count < 2:
            return 1 / DEFAULT_FOLDER_FPS
        return float(self.last_start * self.count / (self.count - 1))

    def _settle(self, until, points: int | None = None) -> None:
        """Grid points before `until` seconds (all up to `points` when None) are shown by the previous frame."""
        frame, index, arrived = self.previous
        while (points is None or self.point < points) and (
            until is None or (self.point + Fraction(1, 2)) * self.step < until
        ):
            if self.embedded is None or self.embedded[0] != index:
                self.embedded = (index, *self._embed(frame() if callable(frame) else frame))
            self.embeddings[self.point], self.boxes[self.point] = self.embedded[1], self.embedded[2]
            self.arrivals[self.point] = arrived
            self.point += 1

    def _embed(self, frame: np.ndarray) -> tuple[torch.Tensor, tuple | None]:
        box = None
        if self.follower is not None:
            frame, box = self.follower.follow(frame)
        pixels = self.processor(frame[None], do_sample_frames=False)["pixel_values_videos"]  # (1, 1, 3, S, S)
        self.frames_embedded += 1
        return self.model.get_frame_embeddings(pixels)[0, 0], box

    def _run_windows(self, ended, limit: int | None = None) -> list[LiveWindow]:
        """Every next window whose frames are settled and whose end `ended` says the stream has passed."""
        done = []
        while limit is None or len(self.windows) < limit:
            w = len(self.windows)
            first, last = w * self.shift, w * self.shift + self.num_frames - 1
            start, end = w * self.stride, w * self.stride + self.window
            if last >= self.point or not ended(end):
                break
            stacked = torch.stack([self.embeddings[k] for k in range(first, last + 1)])[None]
            logits = self.model(frame_embeddings=stacked).logits
            probabilities = logits.float().softmax(-1)[0].cpu().numpy()
            shown = [self.boxes[k] is not None for k in range(first, last + 1)]
            face = float(np.mean(shown)) if self.follower is not None else None
            latency = time.perf_counter() - self.arrivals[last]
            window = LiveWindow(start, end, probabilities, self._box(first, last), face, latency)
            self.windows.append(window)
            done.append(window)
            for k in [k for k in self.embeddings if k < first + self.shift]:  # the next window starts there
                del self.embeddings[k], self.boxes[k], self.arrivals[k]
        return done

    def _box(self, first: int, last: int):
        middle = (first + last) / 2
        shown = [k for k in sorted(range(first, last + 1), key=lambda k: abs(k - middle)) if self.boxes[k]]
        return self.boxes[shown[0]] if shown else None


__all__ = ["LivePredictor", "LiveWindow"]
