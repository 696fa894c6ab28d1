"""Peak memory and time of decoding one clip with the processor, by video length and frame size (issue 11).

    python benchmarks/bench_decoding.py

Writes three H.264 videos (a 16-frame 160x120 clip, a 10,000-frame 160x120 video, a 20-frame 4000x3000
clip), then, each in a fresh process, runs `A3lignVideoProcessor()(path)` (16 frames sampled, 112 px) and
reports the peak resident memory above the process's baseline and the seconds taken. Decoding streams: only
the 16 sampled frames are ever kept, so memory does not grow with the number of frames, only with the
size of a frame. Not a test: nothing is asserted.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CLIPS = {
    "16 frames, 160x120": (16, 120, 160),
    "10,000 frames, 160x120": (10_000, 120, 160),
    "20 frames, 4000x3000": (20, 3000, 4000),
}


def write(path: Path, frames: int, height: int, width: int) -> None:
    import av

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        stream.height, stream.width, stream.pix_fmt = height, width, "yuv420p"
        for t in range(frames):
            frame = np.roll(base, t, axis=1)  # moving content, so that frames differ
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def peak_rss_mib() -> float:
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


def child(path: str) -> None:
    from a3lign import A3lignVideoProcessor

    processor = A3lignVideoProcessor()
    processor(np.zeros((16, 120, 160, 3), np.uint8))  # warm up: libraries and allocator, not the clip
    before = peak_rss_mib()
    started = time.perf_counter()
    pixels = processor(path)["pixel_values_videos"]
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - started,
                "peak_above_baseline_mib": peak_rss_mib() - before,
                "shape": list(pixels.shape),
            }
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    import subprocess

    folder = Path(tempfile.mkdtemp())
    print("| clip | file (MiB) | peak memory above baseline (MiB) | seconds | output |\n|---|---|---|---|---|")
    results = {}
    for name, (frames, height, width) in CLIPS.items():
        path = folder / f"{frames}x{height}x{width}.mp4"
        write(path, frames, height, width)
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(path)], capture_output=True, text=True, check=True
        )
        result = results[name] = json.loads(out.stdout.splitlines()[-1])
        print(
            f"| {name} | {path.stat().st_size / 2**20:.1f} | {result['peak_above_baseline_mib']:.0f} | "
            f"{result['seconds']:.2f} | {tuple(result['shape'])} |",
            flush=True,
        )
        path.unlink()
    folder.rmdir()
    output = Path(__file__).parent / "results-decoding-cpu.json"
    output.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {output}")


if __name__ == "__main__":
    main()
