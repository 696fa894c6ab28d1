"""What the app's Live tab shows, computed without the browser: a `LiveSession` per browser tab takes the webcam's
frames as Gradio streams them and returns what the page updates (top emotions, the frame with the face box, the
scrolling timeline, a status line); `finish` writes the recording's timeline as `a3lign live` does.

**Timing.** A browser frame carries no timestamp: each is timed by its arrival at the server (`time.perf_counter()`),
which on the page's own stream is when the browser took it plus the upload. Gradio's webcam stream sends the next
frame only once the server has answered the last (`stream_every` apart at most), so a slow server receives fewer
frames, never a queue: the status line gives the rate received against the rate asked for.

**Recordings.** Stopping the camera sends nothing to the server; the next frame tells it, by an idle gap of more than
`PAUSE` seconds (or three frame intervals asked for, if longer): the time since the previous frame less the time the
server spent on it, so a slow server (which the page waits for) does not split a recording. That gap ends the
recording (its timeline is written and kept, never stretched over the pause with the last frame held) and the frame
starts the next one. A recording shorter than one window is dropped and counted.
"""

import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..predict import LivePredictor, Timeline, format_summary, write_timeline
from .analysis import FACE_BOX_COLOUR, Analyzer

PAUSE = 1.0  # idle seconds before a frame: the camera was stopped (the page streams every 0.1 s)
SCROLL = 30.0  # seconds of windows the scrolling timeline shows
RATE_OVER = 2.0  # seconds of arrivals the received frame rate is measured over


@dataclass
class LiveUpdate:
    """What one frame changes on the page. `frame (H, W, 3)` uint8: the frame with the tracked face's box (the box
    found on the last frame embedded: the last grid frame, at most one grid step behind); `top`: class ->
    probability of the newest window, and `recent`: the scrolling timeline's rows `(time, emotion, probability)` of
    the last `SCROLL` seconds of windows (both None where this frame completed no window: the page keeps what it
    shows); `status`: one line."""

    frame: np.ndarray
    top: dict[str, float] | None
    recent: list[tuple[float, str, float]] | None
    status: str


@dataclass
class Recording:
    """A finished recording: its `timeline` and the files `write_timeline` wrote (`csv`, `json`, `png`)."""

    timeline: Timeline
    paths: dict[str, Path]


class LiveSession:
    """One browser tab's live analysis with `analyzer`'s model, processor (its face crop setting), window and stride.
    `add(frame)` for each streamed frame; `finish()` ends the recording (recording N written as
    `output_dir/recording-N.{csv,json,png}`). `every`: the seconds between frames the page asks for (the status
    line's reference)."""

    def __init__(self, analyzer: Analyzer, output_dir, every: float = 0.1):
        self.analyzer, self.output_dir, self.every = analyzer, Path(output_dir), every
        self.labels = analyzer.labels
        self.recordings: list[Recording] = []
        self.dropped: list[str] = []  # why each recording too short to keep was dropped
        self.predictor: LivePredictor | None = None
        self.arrivals: list[float] = []
        self.last: float | None = None  # the previous frame's arrival
        self.busy = 0.0  # seconds the server spent on the previous frame (the page waited for them)
        self.lock = threading.RLock()  # the page's Finish and the stream's frames come on different threads

    @property
    def number(self) -> int:
        """The current (or next) recording's number: those kept and dropped so far, plus one."""
        return len(self.recordings) + len(self.dropped) + 1

    def _start(self) -> None:
        self.predictor = LivePredictor(
            self.analyzer.model,
            self.analyzer.processor,
            self.analyzer.window,
            self.analyzer.stride,
            name=f"webcam recording {self.number}",
        )
        self.arrivals = []

    def add(self, frame: np.ndarray, arrived: float | None = None) -> LiveUpdate:
        """`frame (H, W, 3)` uint8 RGB as the webcam gave it; `arrived`: `time.perf_counter()` at its arrival."""
        arrived = time.perf_counter() if arrived is None else arrived
        with self.lock:
            started = time.perf_counter()
            try:
                return self._add(frame, arrived)
            finally:
                self.busy = time.perf_counter() - started

    def _add(self, frame: np.ndarray, arrived: float) -> LiveUpdate:
        idle = None if self.last is None else arrived - self.last - self.busy
        if self.predictor is not None and idle is not None and idle > max(PAUSE, 3 * self.every):
            self._finish()  # the camera was stopped and started again
        if self.predictor is None:
            self._start()
        self.last = arrived
        self.arrivals = [*[t for t in self.arrivals if t > arrived - RATE_OVER], arrived]
        windows = self.predictor.add(frame, arrived, arrived)
        picture = self._draw(frame, self.predictor.face_box)
        if not windows:
            return LiveUpdate(picture, None, None, self.status())
        newest = windows[-1]
        top = {label: float(p) for label, p in zip(self.labels, newest.probabilities)}
        recent = [
            ((w.start + w.end) / 2, label, float(p))
            for w in self.predictor.windows
            if w.end > newest.end - SCROLL
            for label, p in zip(self.labels, w.probabilities)
        ]
        return LiveUpdate(picture, top, recent, self.status(newest.latency))

    def status(self, latency: float | None = None) -> str:
        """Seconds recorded, frames received a second (against the rate asked for), windows, the newest latency, and
        with face crops whether a face is tracked."""
        predictor = self.predictor
        seconds = predictor.last_start if predictor is not None else 0.0
        span = self.arrivals[-1] - self.arrivals[0] if len(self.arrivals) > 1 else 0.0
        rate = (len(self.arrivals) - 1) / span if span > 0 else 0.0
        windows = len(predictor.windows) if predictor is not None else 0
        line = (
            f"Recording {self.number}: {float(seconds):.1f} s, "
            f"{rate:.1f} frames/s received (asked for {1 / self.every:g}), {windows} windows"
        )
        if latency is not None:
            line += f", latency {1000 * latency:.0f} ms"
        if predictor is not None and predictor.follower is not None:
            line += ", face tracked" if predictor.face_box is not None else ", no face tracked (the last pose cut)"
        return line

    def finish(self) -> Recording | None:
        """End the current recording: its timeline written to `output_dir/recording-N.*` and kept in `recordings`
        (returned), or, shorter than one window, dropped with the reason in `dropped` (None returned)."""
        with self.lock:
            return self._finish()

    def _finish(self) -> Recording | None:
        predictor, self.predictor, self.last = self.predictor, None, None
        if predictor is None or predictor.count == 0:
            return None
        try:
            timeline = predictor.finish()
        except ValueError as error:  # shorter than one window
            self.dropped.append(str(error))
            return None
        paths = write_timeline(timeline, self.output_dir, f"recording-{self.number}")
        self.recordings.append(Recording(timeline, paths))
        return self.recordings[-1]

    def summary(self) -> str:
        """The recordings kept (each one's `format_summary`) and those dropped."""
        kept = [format_summary(recording.timeline) for recording in self.recordings]
        return "\n\n".join([*kept, *(f"Dropped: {reason}" for reason in self.dropped)]) or "Nothing recorded yet."

    @staticmethod
    def _draw(frame: np.ndarray, box) -> np.ndarray:
        if box is None:
            return frame
        picture = Image.fromarray(frame)
        line = max(2, round(min(picture.size) / 120))
        ImageDraw.Draw(picture).rectangle([float(v) for v in box], outline=FACE_BOX_COLOUR, width=line)
        return np.asarray(picture)


class LiveSessions:
    """The app's live sessions, one per browser tab (`key`: Gradio's session hash), each writing to its own folder:
    `work_dir/live-<random id>/` when given, else a new temporary folder. `close(key)` (the tab went) finishes its
    recording and forgets it, so memory holds the open tabs only."""

    def __init__(self, analyzer: Analyzer, work_dir=None, every: float = 0.1):
        self.analyzer, self.work_dir, self.every = analyzer, work_dir, every
        self.sessions: dict[str, LiveSession] = {}
        self.lock = threading.Lock()

    def get(self, key: str) -> LiveSession:
        with self.lock:
            if key not in self.sessions:
                # A folder name of our own: the key comes from the browser.
                name = f"live-{uuid.uuid4().hex[:12]}"
                folder = Path(self.work_dir) / name if self.work_dir else tempfile.mkdtemp(prefix=name + "-")
                self.sessions[key] = LiveSession(self.analyzer, folder, self.every)
            return self.sessions[key]

    def find(self, key: str) -> LiveSession | None:
        with self.lock:
            return self.sessions.get(key)

    def close(self, key: str) -> None:
        with self.lock:
            session = self.sessions.pop(key, None)
        if session is not None:
            session.finish()


__all__ = ["LiveSession", "LiveSessions", "LiveUpdate", "Recording", "PAUSE", "SCROLL"]
