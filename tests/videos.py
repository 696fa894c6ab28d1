"""Real clips written with PyAV for the tests. Each frame is a flat colour that encodes its own index,
so that which frames were decoded can be read back even through lossy codecs."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

# (container suffix, codec, pixel format, whether odd frame sizes are allowed)
FORMATS = [
    ("mp4", "libx264", "yuv444p", False),
    ("avi", "mjpeg", "yuvj444p", True),
    ("avi", "mpeg4", "yuv420p", False),
    ("webm", "libvpx-vp9", "yuv420p", True),
    ("mkv", "ffv1", "yuv444p", True),
    ("mov", "qtrle", "rgb24", True),
]


def index_code(t: int) -> tuple[int, int, int]:
    """A colour unique to frame t modulo 4096, robust to small codec errors (steps of 16)."""
    t %= 4096
    return 8 + 16 * (t % 16), 8 + 16 * ((t // 16) % 16), 8 + 16 * (t // 256)


def decode_index(frame: np.ndarray) -> int:
    """Inverse of `index_code` on a decoded `(H, W, 3)` frame (modulo 4096)."""
    r, g, b = (np.round((frame.reshape(-1, 3).mean(0) - 8) / 16)).astype(int)
    return int(r + 16 * g + 256 * b)


def coded_frames(num_frames: int, height: int = 61, width: int = 97) -> np.ndarray:
    return np.stack(
        [np.broadcast_to(np.array(index_code(t), np.uint8), (height, width, 3)) for t in range(num_frames)]
    )


def noise_frames(num_frames: int, height: int = 61, width: int = 97, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)


def write_video(
    path,
    frames: np.ndarray,
    codec: str,
    pix_fmt: str,
    rate: int = 25,
    vfr: bool = False,
    times_ms=None,
    rotation: int | None = None,
    hflip: bool = False,
    sample_aspect=None,
    thumbnail: bool = False,
    default: str = "main",
    cover: bool = False,
    options: dict | None = None,
) -> Path:
    """Write `(T, H, W, 3)` uint8 (or `(T, H, W)` gray) frames as phones, cameras and editors write them:

    - `vfr`: irregular timestamps (gaps of 20, 80, 140 ms in turn); `times_ms`: each frame's timestamp in ms;
    - `rotation` (degrees counter-clockwise, as PyAV and FFmpeg's player read it) and `hflip`: a display matrix, as a
      phone's portrait video stores it (the pixels stay as given);
    - `sample_aspect`: the pixels' aspect ratio (a `Fraction`: 2 means each stored pixel is shown twice as wide);
    - `thumbnail`: a second, small (32 x 24) video stream written first, before the main one; `default` says which
      of them is marked default ("main", "thumbnail" or "none"); `cover`: an attached picture (cover art) stream
      written first; `options`: the encoder's (e.g. `{"qp": "0"}`: lossless H.264).
    """
    path = Path(path)
    gray = frames.ndim == 3
    with av.open(str(path), "w") as container:
        extra = None
        if thumbnail:
            extra = container.add_stream("libx264" if path.suffix != ".webm" else "libvpx-vp9", rate=rate)
            extra.width, extra.height, extra.pix_fmt = 32, 24, "yuv420p"
            extra.disposition = av.stream.Disposition.default if default == "thumbnail" else av.stream.Disposition(0)
        if cover:
            picture = container.add_stream("png" if path.suffix in (".mp4", ".mov") else "mjpeg")
            picture.width, picture.height = 48, 48
            picture.pix_fmt = "rgb24" if path.suffix in (".mp4", ".mov") else "yuvj420p"
            picture.disposition = av.stream.Disposition.attached_pic
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = pix_fmt
        if options:
            stream.options = options
        if thumbnail:
            stream.disposition = av.stream.Disposition.default if default == "main" else av.stream.Disposition(0)
        if rotation is not None or hflip:
            stream.set_display_rotation(rotation or 0, hflip=hflip)
        if sample_aspect is not None:
            stream.codec_context.sample_aspect_ratio = Fraction(sample_aspect)
        if vfr or times_ms is not None:
            for timed in (stream, extra) if extra is not None else (stream,):  # the encoder's too, or ms collide
                timed.time_base = timed.codec_context.time_base = Fraction(1, 1000)
            if times_ms is None:
                times_ms = np.cumsum([0] + [20 + 60 * (t % 3) for t in range(len(frames) - 1)])
        if cover:  # every stream is added before the first packet is muxed (the header is written then)
            still = av.VideoFrame.from_ndarray(np.full((48, 48, 3), 200, np.uint8), format="rgb24")
            for packet in [*picture.encode(still), *picture.encode()]:
                container.mux(packet)
        for t, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="gray" if gray else "rgb24")
            if times_ms is not None:
                frame.pts, frame.time_base = int(times_ms[t]), Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
            if extra is not None:
                small = av.VideoFrame.from_ndarray(np.full((24, 32, 3), 90, np.uint8), format="rgb24")
                if times_ms is not None:
                    small.pts, small.time_base = frame.pts, frame.time_base
                for packet in extra.encode(small):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if extra is not None:
            for packet in extra.encode():
                container.mux(packet)
    return path


def write_frame_folder(folder, frames: np.ndarray, suffix: str = "png", start: int = 1) -> Path:
    """Frames as `1.png, 2.png, ..., 10.png` (natural order differs from lexicographic)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for t, array in enumerate(frames):
        Image.fromarray(array).save(folder / f"{t + start}.{suffix}")
    return folder


def write_y4m(path, frames: np.ndarray, rate: int) -> Path:
    """Frames as a YUV4MPEG2 file (raw 4:2:0), what Chromium's fake camera plays (`--use-file-for-fake-video-capture`,
    looped at the file's rate)."""
    with av.open(str(path), "w", format="yuv4mpegpipe") as container:
        stream = container.add_stream("rawvideo", rate=rate)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for array in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return Path(path)
