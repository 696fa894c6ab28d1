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
    return np.stack([np.broadcast_to(np.array(index_code(t), np.uint8), (height, width, 3)) for t in range(num_frames)])


def noise_frames(num_frames: int, height: int = 61, width: int = 97, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)


def write_video(path, frames: np.ndarray, codec: str, pix_fmt: str, rate: int = 25, vfr: bool = False) -> Path:
    """Write `(T, H, W, 3)` uint8 (or `(T, H, W)` gray) frames. `vfr`: irregular timestamps."""
    path = Path(path)
    gray = frames.ndim == 3
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = pix_fmt
        if vfr:
            stream.time_base = Fraction(1, 1000)
        pts = 0
        for t, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="gray" if gray else "rgb24")
            if vfr:
                frame.pts, frame.time_base = pts, Fraction(1, 1000)
                pts += 20 + 60 * (t % 3)  # 20, 80, 140 ms gaps
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_frame_folder(folder, frames: np.ndarray, suffix: str = "png", start: int = 1) -> Path:
    """Frames as `1.png, 2.png, ..., 10.png` (natural order differs from lexicographic)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for t, array in enumerate(frames):
        Image.fromarray(array).save(folder / f"{t + start}.{suffix}")
    return folder
