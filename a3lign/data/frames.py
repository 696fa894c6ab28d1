"""Every frame of a clip, front to back, one at a time: what long work (face crops of whole videos, timelines) reads
so that memory never holds more than a frame.

A clip is a video file (decoded with PyAV) or a folder of frame images (natural order), as everywhere else.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..decoding_a3lign import list_frame_files, read_image, read_sampled_frames, reading

# Assumed where a video states no frame rate (rare) and for frame folders, which have none.
DEFAULT_RATE = 25.0


@dataclass(frozen=True)
class ClipInfo:
    """What is known of a clip before decoding it: frames (packets of a video, images of a folder, as the samplers
    count them) and frames per second (the video's mean rate by its timestamps; `DEFAULT_RATE` for a folder)."""

    num_frames: int
    rate: float


def clip_info(source: str | os.PathLike) -> ClipInfo:
    """`ClipInfo` of a video file or frame folder; `ValueError` naming it when it cannot be read.

    A video's rate is its frames' mean rate by their timestamps, `(n - 1) / (last - first)`: exactly the stated
    rate of a constant-rate file, and the true mean of a variable-rate one (webcam and phone recordings), whose
    stated rate can be far off (a browser's WebM recording states none; a rewritten file may state the encoder's
    nominal rate). The stated rate only where fewer than two frames carry timestamps."""
    _, _, total = read_sampled_frames(source, lambda total: [0])  # the same checks and counts as the processor's
    path = Path(source)
    if path.is_dir():
        return ClipInfo(total, DEFAULT_RATE)
    import av

    with reading(path, "video"), av.open(str(path)) as container:
        stream = container.streams.video[0]
        stamps = sorted(packet.pts for packet in container.demux(stream) if packet.size > 0 and packet.pts is not None)
        stated = stream.average_rate or stream.guessed_rate
        if len(stamps) >= 2 and stamps[-1] > stamps[0]:
            return ClipInfo(total, float(Fraction(len(stamps) - 1) / ((stamps[-1] - stamps[0]) * stream.time_base)))
    return ClipInfo(total, float(stated) if stated else DEFAULT_RATE)


def stream_frames(source: str | os.PathLike, wanted=None) -> Iterator[tuple[int, np.ndarray]]:
    """`(index, (H, W, 3) uint8 RGB)` for every frame of a clip in order, or only for the indices in `wanted` (the
    others are decoded but never converted), stopping after the last wanted one. A damaged file raises a `ValueError`
    naming it, after the frames that decoded."""
    path = Path(source)
    last = max(wanted) if wanted else None
    if path.is_dir():
        for index, file in enumerate(list_frame_files(path)):
            if last is not None and index > last:
                return
            if wanted is None or index in wanted:
                yield index, read_image(file)
        return
    import av

    index = -1
    try:
        with reading(path, "video"), av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for index, frame in enumerate(container.decode(stream)):
                if last is not None and index > last:
                    return
                if wanted is None or index in wanted:
                    yield index, frame.to_ndarray(format="rgb24")
    except av.error.FFmpegError as error:
        raise ValueError(f"video '{path}' does not decode after frame {index}: {error}") from error


__all__ = ["ClipInfo", "clip_info", "stream_frames", "DEFAULT_RATE"]
