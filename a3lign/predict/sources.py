"""Where live frames come from: a camera, a network stream or a file, opened with PyAV, read on a thread into a
bounded buffer.

A source is a camera index (`0`: `/dev/video0` on Linux through v4l2, device 0 of avfoundation on macOS), a device
path (`/dev/video2`), a network stream URL (rtsp, rtmp, http(s), udp, tcp, srt) or a video file. Frames carry their
presentation time (`pts * time_base`, exact), and are converted to pixels only when asked (`SourceFrame.pixels`), as
a player shows them (`decoding_a3lign.frame_pixels`: rotation, square pixels).

**Keeping up.** A camera or a stream does not wait: when the consumer falls behind and the buffer (`capacity`
frames) is full, the oldest frame is dropped and counted (`FrameReader.dropped`), never queued without bound. A file
is read as fast as the consumer takes it (nothing dropped: every frame, as the timeline reads it), or with `realtime`
at its own rate, as a camera would deliver it (and then dropped like a camera's).
"""

import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..decoding_a3lign import frame_pixels, open_video, sample_aspect_ratio, shown_size

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
CAMERA_FORMATS = {"linux": "v4l2", "darwin": "avfoundation"}
# Seconds to wait for a network stream to answer before its open fails (FFmpeg's own default is to wait forever).
STREAM_TIMEOUT = 10.0


@dataclass
class SourceFrame:
    """One frame of a source: `seconds` its presentation time (the source's clock), `arrived` when it was read
    (`time.perf_counter()`), `pixels()` its `(H, W, 3)` uint8 RGB as shown (converted on the first call)."""

    seconds: Fraction | float
    arrived: float
    frame: object
    aspect: Fraction
    size: tuple[int, int]
    name: str

    def pixels(self):
        return frame_pixels(self.frame, self.aspect, self.name, self.size)


def open_source(source: str):
    """`(container, stream, live)` of a source (see the module docstring); `live`: a camera or a stream. A source that
    cannot be opened is a `ValueError` naming it and what was expected."""
    import av

    text = str(source)
    camera = text.isdigit() or text.startswith("/dev/")
    if camera:
        platform = CAMERA_FORMATS.get(sys.platform)
        if platform is None:
            raise ValueError(f"camera '{text}': cameras by index or device path are read on Linux and macOS only")
        device = f"/dev/video{text}" if text.isdigit() and platform == "v4l2" else text
        try:
            container = av.open(device, format=platform)
        except (av.error.FFmpegError, OSError) as error:
            raise ValueError(
                f"camera '{text}' ({device}) cannot be opened: {error}; expected a connected camera this user may "
                f"read (Linux: in the 'video' group), or a file or stream URL"
            ) from error
        return container, container.streams.video[0], True
    if text.lower().startswith(STREAM_SCHEMES):
        options = {"rtsp_transport": "tcp"} if text.lower().startswith("rtsp") else {}
        try:
            container = av.open(text, options=options, timeout=STREAM_TIMEOUT)
        except (av.error.FFmpegError, OSError) as error:
            raise ValueError(f"stream '{text}' cannot be opened: {error}") from error
        if not container.streams.video:
            container.close()
            raise ValueError(f"stream '{text}' has no video stream")
        return container, container.streams.video[0], True
    path = Path(text)
    if not path.exists():
        raise ValueError(
            f"source '{text}' is neither a file nor a camera nor a stream URL: expected a camera index (0), a device "
            f"path (/dev/video0), a URL ({', '.join(s.rstrip(':/') for s in STREAM_SCHEMES)}) or a video file"
        )
    container, stream = open_video(path)
    return container, stream, False


class FrameReader:
    """Reads `source` on a thread into a buffer of at most `capacity` frames (see the module docstring). Iterate
    `frames()` for `SourceFrame`s in order; `stop()` ends reading. `read`, `dropped`: frames read, dropped so far."""

    def __init__(self, source: str, realtime: bool = False, capacity: int = 4):
        if capacity < 1:
            raise ValueError(f"capacity={capacity} is invalid: expected at least one frame of buffer")
        self.source, self.capacity = str(source), capacity
        self.container, self.stream, self.live = open_source(source)
        self.realtime = realtime or self.live
        self.blocking = not self.realtime  # a file read flat out waits for its consumer: nothing is dropped
        self.buffer: deque[SourceFrame] = deque()
        self.condition = threading.Condition()
        self.read = self.dropped = 0
        self.error: Exception | None = None
        self.ended = self.stopped = False
        self.thread = threading.Thread(target=self._run, name=f"a3lign-live-{self.source}", daemon=True)
        self.thread.start()

    def _run(self):
        import av

        stream = self.stream
        stream.thread_type = "AUTO"
        aspect, size, first, started = sample_aspect_ratio(stream), None, None, None
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        try:
            for count, frame in enumerate(self.container.decode(stream)):
                if self.stopped:
                    break
                seconds = frame.pts * stream.time_base if frame.pts is not None else Fraction(count) / Fraction(rate)
                if size is None:
                    size, first, started = shown_size(frame, aspect, self.source), seconds, time.perf_counter()
                if self.realtime and not self.live:  # a file at its own rate, as a camera delivers it
                    delay = started + float(seconds - first) - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                item = SourceFrame(seconds, time.perf_counter(), frame, aspect, size, self.source)
                with self.condition:
                    while self.blocking and len(self.buffer) >= self.capacity and not self.stopped:
                        self.condition.wait()
                    if len(self.buffer) >= self.capacity:
                        self.buffer.popleft()
                        self.dropped += 1
                    self.buffer.append(item)
                    self.read += 1
                    self.condition.notify_all()
        except av.error.FFmpegError as error:
            self.error = ValueError(f"'{self.source}' stopped decoding after {self.read} frames: {error}")
        finally:
            with self.condition:
                self.ended = True
                self.condition.notify_all()

    def frames(self):
        """`SourceFrame`s in order until the source ends or `stop()`; a decoding error after the frames that decoded
        is raised as a `ValueError` naming the source."""
        while True:
            with self.condition:
                while not self.buffer and not self.ended and not self.stopped:
                    self.condition.wait(timeout=0.5)
                if self.buffer:
                    item = self.buffer.popleft()
                    self.condition.notify_all()
                elif self.error is not None:
                    raise self.error
                else:
                    return
            yield item

    def stop(self):
        with self.condition:
            self.stopped = True
            self.condition.notify_all()
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.container.close()


__all__ = ["FrameReader", "SourceFrame", "open_source"]
