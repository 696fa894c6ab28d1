"""Clips as a player shows them, and the frame sampler: shared by the processor, the datasets, face cropping, the
timeline and the app.

A clip is a video file (decoded with PyAV, streaming: only the frames asked for are converted and kept), a folder of
frame images (only the sampled files are read), or frames already in memory. A video is read as a player shows it:

- **the main video stream**, the one a player picks: never an attached picture (cover art), the default-disposition
  streams first, the largest among equals (`main_video_stream`);
- **upright**: the display matrix (a phone's portrait video stores landscape pixels and a rotation) applied exactly
  as FFmpeg's own player does it (quarter turns and mirrors, `display_transform`); any other angle is an error;
- **square pixels**: frames with a sample aspect ratio other than 1:1 (anamorphic DV, some camera and broadcast
  files) are resampled to square pixels, the short dimension stretched so that no pixel is lost
  (`square_pixel_size`), before any resize or crop; a stream whose resolution changes part way is shown at its first
  frame's size;
- **on time**: each frame's presentation timestamp (`FrameTiming`; frames an edit list discards are not the clip's);
  the sampler takes its segments over the clip's time, so a variable-rate file (phones, webcams) is sampled where
  its time is, not where its frames are.

A frame folder has no timestamps: its frames are `folder_fps` apart (`DEFAULT_FOLDER_FPS` unless the caller says
otherwise), unless it carries its video's (`timestamps.json`, written by `a3lign data crop-faces`). JPEG frames are
turned upright by their EXIF orientation; hidden files are not frames.

Remote code: imports only numpy, PIL, torch (transformers' own dependencies) and PyAV (inside functions).
"""

import json
import logging
import math
import os
import re
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
# The rate of a frame folder (which has none) unless the caller gives one, and of a video that states none.
DEFAULT_FOLDER_FPS = 25.0
NO_PTS = np.iinfo(np.int64).min  # a packet without a timestamp
# Beside a frame folder's images, the timestamps of the video they were cut from (`a3lign data crop-faces` writes it):
# the folder is then timed and sampled exactly as that video.
FOLDER_TIMESTAMPS = "timestamps.json"
# Stored pixels at most this many times as wide as tall (or tall as wide); anamorphic formats use up to 2.
MAX_PIXEL_ASPECT = 4


# ----- when frames are shown -------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class FrameTiming:
    """When each frame of a clip is shown: frame k from `ticks[k] * unit` seconds (`ticks[0] == 0`, `ticks` an `(N,)`
    int64 array) until the next frame starts; the last one lasts the clip's mean frame gap, so the clip ends at
    `end * unit` seconds and a constant-rate clip of n frames at r fps lasts exactly n / r. Ticks are integers in
    the video's time base and `end` a fraction of them, so sampling decisions are exact."""

    ticks: np.ndarray
    unit: Fraction
    end: Fraction

    @classmethod
    def constant(cls, num_frames: int, rate: float) -> "FrameTiming":
        """Frames `1 / rate` apart (frame folders, in-memory clips, videos without timestamps)."""
        if num_frames < 1:
            raise ValueError(f"a clip of {num_frames} frames has no timing")
        unit = 1 / Fraction(rate).limit_denominator(1_000_000)
        return cls(np.arange(num_frames, dtype=np.int64), unit, Fraction(num_frames))

    @classmethod
    def from_timestamps(cls, stamps, unit: Fraction, rate: float | None = None) -> "FrameTiming":
        """From presentation timestamps in `unit` seconds (any order: decode order is not presentation order);
        with fewer than two distinct ones, frames `1 / rate` apart."""
        stamps = np.sort(np.asarray(stamps, np.int64))
        if len(stamps) < 2 or stamps[-1] == stamps[0]:
            return cls.constant(max(1, len(stamps)), rate or DEFAULT_FOLDER_FPS)
        ticks = stamps - stamps[0]
        return cls(ticks, Fraction(unit), Fraction(int(ticks[-1]) * len(ticks), len(ticks) - 1))

    @property
    def num_frames(self) -> int:
        return len(self.ticks)

    @property
    def duration(self) -> float:
        """Seconds from the first frame's start to the clip's end."""
        return float(self.end * self.unit)

    @property
    def rate(self) -> float:
        """Mean frames per second (a constant-rate file's own rate)."""
        return self.num_frames / self.duration

    @property
    def is_constant(self) -> bool:
        """Frames evenly spaced, up to one tick (timestamps rounded to the time base: 30 fps in milliseconds)."""
        n, last = self.num_frames, int(self.ticks[-1])
        return n < 3 or bool(np.all(np.abs(self.ticks * (n - 1) - np.arange(n) * last) <= n - 1))

    def starts(self) -> np.ndarray:
        """`(N,)` seconds at which each frame starts."""
        return self.ticks * float(self.unit)

    def _index(self, tick: Fraction, before: bool = False) -> int:
        # The last frame starting at or before `tick` (`before`: strictly before), exactly: ticks are integers.
        bound = math.ceil(tick) - 1 if before else math.floor(tick)
        return min(self.num_frames - 1, max(0, int(np.searchsorted(self.ticks, bound, side="right")) - 1))

    def frame_at(self, seconds) -> int:
        """The frame shown at `seconds` (the last one starting at or before it; the first before the clip starts)."""
        return self._index(Fraction(seconds) / self.unit)

    def frame_at_fraction(self, fraction: Fraction, before: bool = False) -> int:
        """The frame shown at `fraction` of the clip's span (`before`: the last one that starts strictly before)."""
        return self._index(fraction * self.end, before)


def sample_segment_indices(
    num_total: int,
    num_frames: int,
    training: bool = False,
    generator: torch.Generator | None = None,
    offset: float = 0.5,
    timing: FrameTiming | None = None,
) -> list[int]:
    """Indices of `num_frames` frames out of `num_total`: one per equal segment of the clip's time.

    Evaluation takes the frame shown at `offset` of each segment (0.5: its centre; multi-view testing shifts it);
    training a uniformly random frame among those shown during each segment. Segments split the clip's
    presentation time (`timing`); for a constant rate (or no `timing`) that is the field's index rule,
    `floor((i + offset) * num_total / num_frames)`, and a clip shorter than `num_frames` frames is played once and
    padded by repeating its last frame (the field's convention); a variable-rate clip of few frames (a slideshow)
    is sampled by time too, each frame as often as its time on screen asks.
    """
    if num_total < 1:
        raise ValueError(f"cannot sample from a clip of {num_total} frames")
    if not 0 <= offset < 1:
        raise ValueError(f"segment offset {offset} is invalid: expected a fraction in [0, 1)")
    if timing is not None and timing.num_frames != num_total:
        raise ValueError(f"timing of {timing.num_frames} frames given for a clip of {num_total}")
    if timing is None or timing.is_constant:
        if num_total < num_frames:
            return list(range(num_total)) + [num_total - 1] * (num_frames - num_total)
        if not training:
            return [int((i + offset) * num_total / num_frames) for i in range(num_frames)]
        bounds = torch.arange(num_frames + 1) * num_total // num_frames
        offsets = (torch.rand(num_frames, generator=generator) * (bounds[1:] - bounds[:-1])).long()
        return (bounds[:-1] + offsets).tolist()
    if not training:
        return [timing.frame_at_fraction((i + Fraction(offset)) / num_frames) for i in range(num_frames)]
    firsts = [timing.frame_at_fraction(Fraction(i, num_frames)) for i in range(num_frames)]
    lasts = [
        max(first, timing.frame_at_fraction(Fraction(i + 1, num_frames), before=True))
        for i, first in enumerate(firsts)
    ]
    draws = torch.rand(num_frames, generator=generator).tolist()
    return [
        first + min(last - first, int(draw * (last - first + 1))) for first, last, draw in zip(firsts, lasts, draws)
    ]


# ----- frame folders ---------------------------------------------------------------------------------------------
def natural_key(name: str) -> list:
    """Sort key putting `2.jpg` before `10.jpg`."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_frame_files(folder: str | os.PathLike) -> list[Path]:
    """The image files of a frame folder, in natural order; hidden files (macOS's `._1.jpg` beside `1.jpg`) are not
    frames."""
    files = [
        p
        for p in Path(folder).iterdir()
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()
    ]
    return sorted(files, key=lambda p: natural_key(p.name))


# What damaged files make PIL and PyAV raise besides their own errors (a corrupted PNG chunk raises
# SyntaxError, damaged metadata UnicodeDecodeError, ...): reported as a `ValueError` naming the file.
DAMAGED_FILE_ERRORS = (
    ValueError,
    OSError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    OverflowError,
    struct.error,
    zlib.error,
)


@contextmanager
def reading(path: Path, what: str):
    """Errors raised while reading `path` become a `ValueError` naming it (a hang's TimeoutError and a
    missing file's FileNotFoundError pass through, as does running out of memory: not the file's fault)."""
    try:
        yield
    except (TimeoutError, FileNotFoundError):
        raise
    except DAMAGED_FILE_ERRORS as error:
        if isinstance(error, ValueError) and str(path) in str(error):
            raise
        raise ValueError(f"{what} '{path}' cannot be read: {type(error).__name__}: {error}") from error


def image_pixels(image: Image.Image) -> np.ndarray:
    """A PIL image as `(H, W, 3)` uint8 RGB, upright by its EXIF orientation: grayscale and alpha converted, 16-bit
    and 32-bit gray scaled to 8 bits (PIL's own conversion would clip them white)."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        gray = np.asarray(image, dtype=np.float64)
        top = (
            65535.0
            if image.mode.startswith("I;16") or (image.mode == "I" and gray.max() <= 65535)
            else max(1.0, gray.max())
        )
        gray = np.clip(np.round(gray * 255 / top), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    return np.asarray(image.convert("RGB"))


def read_image(path: Path) -> np.ndarray:
    """One frame image as `(H, W, 3)` uint8 RGB (`image_pixels`)."""
    with reading(path, "frame image"), Image.open(path) as image:
        return image_pixels(image)


# ----- videos as a player shows them -----------------------------------------------------------------------------
def main_video_stream(container, path):
    """The video stream a player shows: never an attached picture (cover art); default-disposition streams first;
    the largest (in pixels) among equals, the first among those. `ValueError` naming `path` when there is none."""
    import av

    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        if container.streams.video:
            raise ValueError(f"'{path}' holds no video: its only video stream is an attached picture (cover art)")
        raise ValueError(f"'{path}' has no video stream")

    def pixels(stream) -> int:
        context = stream.codec_context  # None for a codec this FFmpeg does not know (the decoder then says so)
        return (context.width or 0) * (context.height or 0) if context is not None else 0

    return max(streams, key=lambda s: (bool(s.disposition & av.stream.Disposition.default), pixels(s)))


def open_video(path: Path):
    """`(container, main stream)` of a video file; `ValueError` naming it when it is not a readable video."""
    import av  # PyAV: decoding without torchcodec or a system FFmpeg

    try:
        container = av.open(str(path))
    except av.error.FFmpegError as error:
        raise ValueError(f"'{path}' is not a readable video: {error}") from error
    try:
        stream = main_video_stream(container, path)
        if stream.codec_context is None:
            raise ValueError(f"'{path}' has a video stream of a codec PyAV's FFmpeg cannot decode")
        return container, stream
    except ValueError:
        container.close()
        raise


def _display_matrix(frame) -> tuple[int, ...] | None:
    """The frame's display matrix (9 int32), None without one."""
    try:
        data = frame.side_data.get("DISPLAYMATRIX")
    except ValueError:
        # Side data of a type this PyAV does not know (FFmpeg 8 attaches EXIF to Motion-JPEG frames) makes the whole
        # container unreadable: the rotation alone, which PyAV reads directly, as a pure rotation's matrix.
        if not frame.rotation:
            return None
        radians = math.radians(frame.rotation)
        cos, sin = round(65536 * math.cos(radians)), round(65536 * math.sin(radians))
        return (cos, -sin, 0, sin, cos, 0, 0, 0, 1 << 30)
    return None if data is None else struct.unpack("=9i", bytes(memoryview(data))[:36])


def display_transform(matrix: Sequence[int] | None, rotation: float, path) -> str | None:
    """The quarter turn or mirror that shows a frame upright, as FFmpeg's player (`ffmpeg -autorotate`) decides it
    from the display `matrix` (9 int32) and its rotation (`frame.rotation`: degrees counter-clockwise): None,
    "cclock", "clock", "cclock_flip", "clock_flip", "hflip", "vflip" or "hflip vflip". Other angles: `ValueError`."""
    if matrix is None:
        return None
    theta = -round(rotation)
    theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
    if abs(theta - 90) < 1:
        return "cclock_flip" if matrix[3] > 0 else "clock"
    if abs(theta - 180) < 1:
        return (
            " ".join(name for name, flipped in (("hflip", matrix[0] < 0), ("vflip", matrix[4] < 0)) if flipped) or None
        )
    if abs(theta - 270) < 1:
        return "clock_flip" if matrix[3] < 0 else "cclock"
    if abs(theta) > 1 and abs(theta - 360) > 1:
        raise ValueError(
            f"'{path}' asks to be shown rotated by {theta:g} degrees: only quarter turns are supported "
            f"(0, 90, 180, 270); rotate the file first"
        )
    return "vflip" if matrix[4] < 0 else None


QUARTER_TURNS = ("clock", "cclock", "cclock_flip", "clock_flip")  # the transforms that swap width and height


def _transformed(array: np.ndarray, transform: str | None) -> np.ndarray:
    """`(H, W, C)` pixels turned as `display_transform` says (the names of FFmpeg's transpose / flip filters)."""
    if transform is None:
        return array
    turned = {
        "clock": lambda a: np.rot90(a, -1),
        "cclock": lambda a: np.rot90(a, 1),
        "cclock_flip": lambda a: a.transpose(1, 0, 2),
        "clock_flip": lambda a: np.rot90(a, -1)[::-1],
        "hflip": lambda a: a[:, ::-1],
        "vflip": lambda a: a[::-1],
        "hflip vflip": lambda a: a[::-1, ::-1],
    }[transform](array)
    return np.ascontiguousarray(turned)


def sample_aspect_ratio(stream) -> Fraction:
    """Width over height of one stored pixel (1 when the file states none)."""
    for value in (stream.sample_aspect_ratio, stream.codec_context.sample_aspect_ratio):
        if value:
            return Fraction(value)
    return Fraction(1)


def square_pixel_size(width: int, height: int, aspect: Fraction, path=None) -> tuple[int, int]:
    """`(width, height)` of a frame of `width x height` stored pixels of `aspect` resampled to square pixels: the
    short dimension stretched (wide pixels widen the frame, tall pixels heighten it), so no stored pixel is lost.
    An aspect beyond `MAX_PIXEL_ASPECT` either way (no camera stores such pixels: a damaged header) is an error."""
    if not 1 / MAX_PIXEL_ASPECT <= aspect <= MAX_PIXEL_ASPECT:
        raise ValueError(
            f"'{path}' states pixels {aspect.numerator}:{aspect.denominator} as wide as tall: expected "
            f"an aspect ratio between 1:{MAX_PIXEL_ASPECT} and {MAX_PIXEL_ASPECT}:1 (a damaged header?)"
        )
    if aspect > 1:
        return max(1, round(width * aspect)), height
    if aspect < 1:
        return width, max(1, round(height / aspect))
    return width, height


def frame_pixels(frame, aspect: Fraction, path, size: tuple[int, int] | None = None) -> np.ndarray:
    """One decoded frame as shown: `(H, W, 3)` uint8 RGB, square pixels, upright; `size` `(width, height)` as shown:
    the frame resampled to it (a stream whose resolution changes part way is shown at its first frame's size, as
    FFmpeg's player shows it)."""
    transform = display_transform(_display_matrix(frame), frame.rotation, path)
    stored = square_pixel_size(frame.width, frame.height, aspect, path)
    if size is not None:  # the size to show, turned back to the stored orientation
        stored = size[::-1] if transform in QUARTER_TURNS else size
    # One swscale thread: a converted frame keeps its scaler, and a scaler with slice threads that is freed in a
    # forked DataLoader worker (a frame left in a reference cycle at the fork) waits forever on the parent's threads.
    if stored == (frame.width, frame.height):
        array = frame.to_ndarray(format="rgb24", threads=1)
    else:
        array = frame.to_ndarray(format="rgb24", width=stored[0], height=stored[1], interpolation="BICUBIC", threads=1)
    return _transformed(array, transform)


def shown_size(frame, aspect: Fraction, path) -> tuple[int, int]:
    """`(width, height)` of a decoded frame as shown (square pixels, upright), without converting it."""
    width, height = square_pixel_size(frame.width, frame.height, aspect, path)
    turned = display_transform(_display_matrix(frame), frame.rotation, path) in QUARTER_TURNS
    return (height, width) if turned else (width, height)


def video_timing(path: Path) -> FrameTiming:
    """When each frame of a video's main stream is shown, by demuxing its packets (no decoding; container headers
    often lie about frame counts). Packets without a timestamp: frames at the stated rate. 0 frames: `ValueError`."""
    import av

    with reading(path, "video"):
        container, stream = open_video(path)
        with container:
            try:  # int64 timestamps, not Python ints: a long video's timing stays a few bytes a frame
                # Packets marked discard (before an edit list's start: a trimmed mp4) are decoded but never shown.
                stamps = np.fromiter(
                    (
                        NO_PTS if packet.pts is None else packet.pts
                        for packet in container.demux(stream)
                        if packet.size > 0 and not packet.is_discard
                    ),
                    np.int64,
                )
            except av.error.FFmpegError as error:
                raise ValueError(f"'{path}' cannot be demuxed: {error}") from error
            stated = stream.average_rate or stream.guessed_rate
            rate = float(stated) if stated else DEFAULT_FOLDER_FPS
            if not len(stamps):
                raise ValueError(f"'{path}' has no decodable frames (0 video packets)")
            if (stamps == NO_PTS).any():
                return FrameTiming.constant(len(stamps), rate)
            return FrameTiming.from_timestamps(stamps, stream.time_base, rate)


def count_video_frames(path: Path) -> int:
    """Frames in a video file's main stream, counted by demuxing packets."""
    return video_timing(path).num_frames


class DecodeError(ValueError):
    """A video stopped decoding part way (a damaged file): the frames before it were read."""


def _decoded(path: Path) -> Iterator[tuple[int, object, Fraction, tuple[int, int]]]:
    """`(index, PyAV frame, pixel aspect, size as shown)` of every frame of a video's main stream, in presentation
    order; the size is the first frame's (`frame_pixels`). `DecodeError` where decoding stops early."""
    import av

    with reading(path, "video"):
        container, stream = open_video(path)
    with container:
        stream.thread_type = "AUTO"
        aspect, size, index = sample_aspect_ratio(stream), None, -1
        try:
            for index, frame in enumerate(container.decode(stream)):
                if size is None:
                    with reading(path, "video"):
                        size = shown_size(frame, aspect, path)
                yield index, frame, aspect, size
        except av.error.FFmpegError as error:
            raise DecodeError(f"video '{path}' does not decode after frame {index}: {error}") from error


def _check_folder_frame(path: Path, index: int, pixels: np.ndarray, first: tuple | None) -> tuple:
    if first is not None and pixels.shape != first:
        raise ValueError(
            f"frame folder '{path}' mixes frame sizes: frame {index} is {pixels.shape[1]}x{pixels.shape[0]}, "
            f"the first {first[1]}x{first[0]}"
        )
    return pixels.shape


def iter_frames(source: str | os.PathLike, wanted=None) -> Iterator[tuple[int, np.ndarray]]:
    """`(index, (H, W, 3) uint8 RGB as shown)` for every frame of a clip in order, or only for the indices in
    `wanted` (the others are decoded but never converted), stopping after the last wanted one. Memory holds one
    frame. A damaged video raises a `ValueError` naming it, after the frames that decoded; a folder whose images
    differ in size too."""
    path = Path(source)
    last = max(wanted) if wanted else None
    if path.is_dir():
        first = None
        for index, file in enumerate(list_frame_files(path)):
            if last is not None and index > last:
                return
            if wanted is None or index in wanted:
                pixels = read_image(file)
                first = _check_folder_frame(path, index, pixels, first)
                yield index, pixels
        return
    for index, frame, aspect, size in _decoded(path):
        if last is not None and index > last:
            return
        if wanted is None or index in wanted:
            with reading(path, "video"):
                pixels = frame_pixels(frame, aspect, path, size)
            yield index, pixels


def decode_video_frames(path: Path, indices: Sequence[int]) -> dict[int, np.ndarray]:
    """Decode a video once, front to back, keeping only frames at `indices`: `{index: (H, W, 3) uint8 as shown}`.
    Stops after the last wanted frame. Memory holds the wanted frames, never the whole video. A video that decodes
    fewer frames than its packets promise (a damaged tail) gives its last decoded frame for the indices past it, with
    a warning naming the file; `ValueError` when no frame decodes."""
    wanted, kept, last = set(indices), {}, None
    try:
        for index, frame, aspect, size in _decoded(path):
            last = (index, frame, aspect, size)
            if index in wanted:
                with reading(path, "video"):
                    kept[index] = frame_pixels(frame, aspect, path, size)
            if index >= max(wanted):
                break
    except DecodeError as error:
        if last is None:
            raise ValueError(f"'{path}' has no decodable frames: {error.__cause__}") from error
    if last is None:
        raise ValueError(f"'{path}' has no decodable frames")
    missing = sorted(i for i in wanted if i not in kept)
    if missing:
        index, frame, aspect, size = last
        with reading(path, "video"):
            kept.setdefault(index, frame_pixels(frame, aspect, path, size))
        logger.warning(
            "'%s' decodes only %d frames (its packets promise more: a damaged file?): %d sampled frames "
            "past frame %d show that frame",
            path,
            index + 1,
            len(missing),
            index,
        )
    return kept


# ----- any clip ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClipInfo:
    """What is known of a clip before decoding it: its frames' `timing` (a video's timestamps, or those a frame folder
    carries from its video; otherwise a folder's frames `1 / folder_fps` apart) and where that rate came from
    (`rate_source`: "timestamps" or "folder_fps")."""

    timing: FrameTiming
    rate_source: str

    @property
    def num_frames(self) -> int:
        return self.timing.num_frames

    @property
    def rate(self) -> float:
        return self.timing.rate

    @property
    def duration(self) -> float:
        return self.timing.duration


def _check_source(source) -> Path:
    if re.match(r"^[a-z][a-z0-9+.-]*://", str(source), re.IGNORECASE):
        raise ValueError(f"'{source}' is a URL: A3lign reads local video files and frame folders; download it first")
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"clip '{path}' does not exist")
    if path.is_dir():
        if not list_frame_files(path):
            raise ValueError(f"frame folder '{path}' holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    elif path.stat().st_size == 0:
        raise ValueError(f"video '{path}' is an empty file")
    return path


def check_folder_fps(folder_fps) -> float:
    if isinstance(folder_fps, bool) or not isinstance(folder_fps, (int, float)) or not 0 < folder_fps <= 1000:
        raise ValueError(
            f"frame_folder_fps={folder_fps!r} is invalid: expected the frames per second of frame folders "
            f"(they state none), in (0, 1000], e.g. {DEFAULT_FOLDER_FPS:g}"
        )
    return float(folder_fps)


def folder_timing(path: Path, num_frames: int, folder_fps: float) -> ClipInfo:
    """A frame folder's timing: its `timestamps.json` (`{"time_base": "1/12800", "pts": [...]}`, one per frame) when it
    has one, else frames `1 / folder_fps` apart."""
    stamps_file = path / FOLDER_TIMESTAMPS
    if not stamps_file.is_file():
        return ClipInfo(FrameTiming.constant(num_frames, check_folder_fps(folder_fps)), "folder_fps")
    with reading(stamps_file, "frame timestamps"):
        document = json.loads(stamps_file.read_text())
        stamps, unit = [int(v) for v in document["pts"]], Fraction(document["time_base"])
    if len(stamps) != num_frames:
        raise ValueError(f"'{stamps_file}' lists {len(stamps)} timestamps for the {num_frames} frames of its folder")
    return ClipInfo(FrameTiming.from_timestamps(stamps, unit, folder_fps), "timestamps")


def write_folder_timing(folder: Path, timing: FrameTiming, num_frames: int) -> None:
    """Write the first `num_frames` of `timing` beside a frame folder's images (see `folder_timing`)."""
    unit = timing.unit
    document = {
        "time_base": f"{unit.numerator}/{unit.denominator}",
        "pts": [int(t) for t in timing.ticks[:num_frames]],
    }
    (Path(folder) / FOLDER_TIMESTAMPS).write_text(json.dumps(document))


def probe_clip(source: str | os.PathLike, folder_fps: float = DEFAULT_FOLDER_FPS) -> ClipInfo:
    """`ClipInfo` of a video file or frame folder; `ValueError` naming it when it cannot be read."""
    path = _check_source(source)
    if path.is_dir():
        return folder_timing(path, len(list_frame_files(path)), folder_fps)
    return ClipInfo(video_timing(path), "timestamps")


def read_sampled_frames(
    source: str | os.PathLike,
    choose: Callable[[FrameTiming], Sequence[int]],
    folder_fps: float = DEFAULT_FOLDER_FPS,
) -> tuple[np.ndarray, list[int], ClipInfo]:
    """Read the frames `choose(timing)` picks from a video file or a frame folder; only those are decoded.

    Returns `(frames (len(indices), H, W, 3) uint8 as shown, indices, ClipInfo)`.
    """
    info = probe_clip(source, folder_fps)
    path = Path(source)
    indices = [int(i) for i in choose(info.timing)]
    if path.is_dir():
        files = list_frame_files(path)
        cache = {i: read_image(files[i]) for i in set(indices)}
        sizes = {cache[i].shape for i in cache}
        if len(sizes) > 1:
            raise ValueError(f"frame folder '{path}' mixes frame sizes: {sorted(s[:2] for s in sizes)}")
        return np.stack([cache[i] for i in indices]), indices, info
    with reading(path, "video"):
        kept = decode_video_frames(path, indices)
    # The packet count can exceed what decodes (a damaged tail): fall back to the last decoded frame.
    decoded = sorted(kept)
    frames = [kept[i] if i in kept else kept[max((d for d in decoded if d <= i), default=decoded[0])] for i in indices]
    return np.stack(frames), indices, info


def read_clip_frames(
    source: str | os.PathLike,
    num_frames: int,
    training: bool = False,
    generator: torch.Generator | None = None,
    folder_fps: float = DEFAULT_FOLDER_FPS,
) -> tuple[np.ndarray, list[int], ClipInfo]:
    """Sample (`sample_segment_indices` over the clip's time) and read a clip from a video file or a frame folder.

    Returns `(frames (num_frames, H, W, 3) uint8, indices, ClipInfo)`.
    """
    return read_sampled_frames(
        source,
        lambda timing: sample_segment_indices(timing.num_frames, num_frames, training, generator, timing=timing),
        folder_fps,
    )


def frames_to_uint8_array(video) -> np.ndarray:
    """In-memory frames -> `(T, H, W, 3)` uint8 RGB.

    Accepts a list of PIL images, or an array / tensor shaped `(T, H, W)`, `(T, H, W, C)` or
    `(T, C, H, W)` with C in 1 (gray), 3 (RGB), 4 (RGBA: alpha dropped); uint8, or floats in [0, 1].
    """
    if isinstance(video, (list, tuple)):
        if not video:
            raise ValueError("a clip given as a list of images is empty")
        if not all(isinstance(image, Image.Image) for image in video):
            raise ValueError(f"a clip given as a list must hold PIL images; got {type(video[0]).__name__}")
        frames = [image_pixels(image) for image in video]
        if len({f.shape for f in frames}) > 1:
            raise ValueError(f"the images of one clip differ in size: {sorted({f.shape[:2] for f in frames})}")
        return np.stack(frames)
    array = video.detach().cpu().numpy() if isinstance(video, torch.Tensor) else np.asarray(video)
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[0] == 0:
        raise ValueError(f"a clip array must be (T, H, W[, C]) or (T, C, H, W) with T >= 1; got shape {array.shape}")
    if array.shape[-1] not in (1, 3, 4) and array.shape[1] in (1, 3, 4):
        array = array.transpose(0, 2, 3, 1)  # channels first -> last
    if array.shape[-1] not in (1, 3, 4):
        raise ValueError(f"a clip array needs 1, 3 or 4 channels; got shape {array.shape}")
    if (
        array.dtype == np.bool_
        or not np.issubdtype(array.dtype, np.number)
        or np.issubdtype(array.dtype, np.complexfloating)
    ):
        raise ValueError(f"a clip array must hold uint8 0..255 or floats in [0, 1]; got dtype {array.dtype}")
    if array.size == 0:
        raise ValueError(f"a clip array must have frames of at least 1 x 1 pixel; got shape {array.shape}")
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ValueError("a float clip must hold finite values in [0, 1]; got NaN or infinity")
        if array.min() < 0 or array.max() > 1:
            raise ValueError(
                f"a float clip must hold values in [0, 1]; got [{array.min():.3g}, {array.max():.3g}] "
                "(pass uint8 for 0..255)"
            )
        array = (array * 255).round()
    elif array.dtype != np.uint8 and (array.min() < 0 or array.max() > 255):
        raise ValueError(f"an integer clip must hold values in 0..255; got [{array.min()}, {array.max()}]")
    array = array.astype(np.uint8)
    channels = array.shape[-1]
    if channels == 1:
        array = np.repeat(array, 3, axis=-1)
    elif channels == 4:
        array = array[..., :3]
    return np.ascontiguousarray(array)


__all__ = [
    "DEFAULT_FOLDER_FPS",
    "FrameTiming",
    "ClipInfo",
    "DecodeError",
    "sample_segment_indices",
    "list_frame_files",
    "main_video_stream",
    "display_transform",
    "square_pixel_size",
    "probe_clip",
    "read_sampled_frames",
    "read_clip_frames",
    "iter_frames",
    "frames_to_uint8_array",
    "count_video_frames",
    "decode_video_frames",
]
