"""Clip decoding and frame sampling, shared by the video processor, the datasets and the pipeline.

A clip is a video file (decoded with PyAV, streaming: only the sampled frames are ever converted and
kept), a folder of frame images (only the sampled files are read), or frames already in memory.

Remote code: imports only numpy, PIL, torch (transformers' own dependencies) and PyAV.
"""

import os
import re
import struct
import zlib
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def sample_segment_indices(
    num_total: int, num_frames: int, training: bool = False, generator: torch.Generator | None = None,
    offset: float = 0.5,
) -> list[int]:
    """Indices of `num_frames` frames out of `num_total`: one per equal segment.

    Evaluation takes the frame at `offset` of each segment, `floor((i + offset) * num_total / num_frames)`
    (0.5: its centre; multi-view testing shifts it); training a uniformly random frame of each segment. A
    clip shorter than `num_frames` is played once and padded by repeating its last frame (the field's
    convention).
    """
    if num_total < 1:
        raise ValueError(f"cannot sample from a clip of {num_total} frames")
    if not 0 <= offset < 1:
        raise ValueError(f"segment offset {offset} is invalid: expected a fraction in [0, 1)")
    if num_total < num_frames:
        return list(range(num_total)) + [num_total - 1] * (num_frames - num_total)
    if not training:
        return [int((i + offset) * num_total / num_frames) for i in range(num_frames)]
    bounds = torch.arange(num_frames + 1) * num_total // num_frames
    offsets = (torch.rand(num_frames, generator=generator) * (bounds[1:] - bounds[:-1])).long()
    return (bounds[:-1] + offsets).tolist()


def natural_key(name: str) -> list:
    """Sort key putting `2.jpg` before `10.jpg`."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_frame_files(folder: str | os.PathLike) -> list[Path]:
    """The image files of a frame folder, in natural order."""
    files = [p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
    return sorted(files, key=lambda p: natural_key(p.name))


# What damaged files make PIL and PyAV raise besides their own errors (a corrupted PNG chunk raises
# SyntaxError, damaged metadata UnicodeDecodeError, ...): reported as a `ValueError` naming the file.
DAMAGED_FILE_ERRORS = (ValueError, OSError, SyntaxError, EOFError, IndexError, KeyError, OverflowError,
                       struct.error, zlib.error)


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


def read_image(path: Path) -> np.ndarray:
    """One frame image as `(H, W, 3)` uint8 RGB (grayscale and alpha converted)."""
    with reading(path, "frame image"), Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _open_video(path: Path):
    import av  # PyAV: decoding without torchcodec or a system FFmpeg

    try:
        container = av.open(str(path))
    except av.error.FFmpegError as error:
        raise ValueError(f"'{path}' is not a readable video: {error}") from error
    if not container.streams.video:
        container.close()
        raise ValueError(f"'{path}' has no video stream")
    return container


def count_video_frames(path: Path) -> int:
    """Frames in a video file, counted by demuxing packets (no decoding; container headers often lie)."""
    import av

    with _open_video(path) as container:
        try:
            return sum(packet.size > 0 for packet in container.demux(container.streams.video[0]))
        except av.error.FFmpegError as error:
            raise ValueError(f"'{path}' cannot be demuxed: {error}") from error


def decode_video_frames(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    """Decode a video once, front to back, keeping only frames at `indices`: `{index: (H, W, 3) uint8}`.

    Stops after the last wanted frame. Memory holds the wanted frames, never the whole video.
    """
    import av

    wanted = set(indices)
    last = max(wanted)
    kept: dict[int, np.ndarray] = {}
    with _open_video(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for index, frame in enumerate(container.decode(stream)):
                if index in wanted:
                    kept[index] = frame.to_ndarray(format="rgb24")
                if index >= last:
                    break
        except av.error.FFmpegError as error:
            if not kept:
                raise ValueError(f"'{path}' has no decodable frames: {error}") from error
    if not kept:
        raise ValueError(f"'{path}' has no decodable frames")
    return kept


def read_sampled_frames(
    source: str | os.PathLike, choose: Callable[[int], Sequence[int]]
) -> tuple[np.ndarray, list[int], int]:
    """Read the frames `choose(num_total)` picks from a video file or a frame folder; only those are decoded.

    Returns `(frames (len(indices), H, W, 3) uint8, indices, num_total)`.
    """
    if re.match(r"^[a-z][a-z0-9+.-]*://", str(source), re.IGNORECASE):
        raise ValueError(f"'{source}' is a URL: A3lign reads local video files and frame folders; download it first")
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"clip '{path}' does not exist")
    if path.is_dir():
        files = list_frame_files(path)
        if not files:
            raise ValueError(f"frame folder '{path}' holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        indices = [int(i) for i in choose(len(files))]
        cache = {i: read_image(files[i]) for i in set(indices)}
        return np.stack([cache[i] for i in indices]), indices, len(files)
    if path.stat().st_size == 0:
        raise ValueError(f"video '{path}' is an empty file")
    with reading(path, "video"):
        total = count_video_frames(path)
    if total == 0:
        raise ValueError(f"'{path}' has no decodable frames (0 video packets)")
    indices = [int(i) for i in choose(total)]
    with reading(path, "video"):
        kept = decode_video_frames(path, indices)
    # The packet count can exceed what decodes (a damaged tail): fall back to the last decoded frame.
    decoded = sorted(kept)
    frames = [kept[i] if i in kept else kept[max((d for d in decoded if d <= i), default=decoded[0])] for i in indices]
    return np.stack(frames), indices, total


def read_clip_frames(
    source: str | os.PathLike, num_frames: int, training: bool = False, generator: torch.Generator | None = None
) -> tuple[np.ndarray, list[int], int]:
    """Sample (`sample_segment_indices`) and read a clip from a video file or a frame folder.

    Returns `(frames (num_frames, H, W, 3) uint8, indices, num_total)`.
    """
    return read_sampled_frames(source, lambda total: sample_segment_indices(total, num_frames, training, generator))


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
        frames = [np.asarray(image.convert("RGB")) for image in video]
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
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"a clip array must hold uint8 0..255 or floats in [0, 1]; got dtype {array.dtype}")
    if array.size == 0:
        raise ValueError(f"a clip array must have frames of at least 1 x 1 pixel; got shape {array.shape}")
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ValueError("a float clip must hold finite values in [0, 1]; got NaN or infinity")
        if array.min() < 0 or array.max() > 1:
            raise ValueError(
                f"a float clip must hold values in [0, 1]; got [{array.min():.3g}, {array.max():.3g}] (pass uint8 for 0..255)"
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
    "sample_segment_indices",
    "list_frame_files",
    "read_sampled_frames",
    "read_clip_frames",
    "frames_to_uint8_array",
    "count_video_frames",
    "decode_video_frames",
]
