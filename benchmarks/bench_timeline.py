"""Peak memory and throughput of `a3lign predict --timeline` on a 10-minute 640x360 video (issue 12).

    python benchmarks/bench_timeline.py              # ~4 min on 2 idle CPU cores; writes RESULTS-timeline.md
    python benchmarks/bench_timeline.py --seconds 60 # a shorter long video, for a quick look

Writes an H.264 video at 25 fps (the astronaut photo drifting over a background: a face for the face-crop run) of
`--seconds` (default 600) and one of a tenth of that, then in fresh processes, with a randomly initialised A3lign
at 128 px and 16 frames around a small CLIP (`--shape S/32`, see SMALL; `B/32`: bench_speed.py's), windows of 2 s
every 0.5 s:

- the timeline of each video: seconds, windows per second, frames through the vision tower, and peak resident
  memory (the process's peak reset once the model is loaded, its class embeddings cached and the libraries warmed
  up; then the peak above what was resident) — memory must not grow with the video's length;
- in the short video's process, after its timeline: the timeline and the plain pipeline run once per window (each
  given its 16 frames already decoded, so the ratio leaves decoding out of the baseline's cost and in the
  timeline's) in alternating rounds, the fastest round of each (other work on the machine weighs least), and that
  the pipeline's probabilities agree with the timeline's;
- the short video's timeline with `face_crop=True` (the faces module over the grid frames, then crops).

Not a test: figures, no assertions. Writes `results-timeline-cpu.json` and `RESULTS-timeline.md` here.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

RATE, HEIGHT, WIDTH = 25, 360, 640
PHOTO = 320
WINDOW, STRIDE = 2.0, 0.5


def write_video(path: Path, seconds: float) -> None:
    """H.264, 25 fps, 640x360: the astronaut's photo (320 px) drifting over a smooth background."""
    import av
    from PIL import Image
    from skimage import data

    rng = np.random.default_rng(0)
    background = np.asarray(
        Image.fromarray(rng.integers(40, 200, (6, 10, 3), dtype=np.uint8)).resize((WIDTH, HEIGHT), Image.BICUBIC)
    )
    photo = np.asarray(Image.fromarray(data.astronaut()).resize((PHOTO, PHOTO)))  # her face: 58 px, 16% of the height
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=RATE, options={"preset": "ultrafast"})
        stream.height, stream.width, stream.pix_fmt = HEIGHT, WIDTH, "yuv420p"
        for t in range(round(seconds * RATE)):
            frame = background.copy()
            left = int(160 + 150 * np.sin(t / 50))
            frame[20 : 20 + PHOTO, left : left + PHOTO] = photo
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def memory_mib(field: str) -> float:
    """`VmRSS` (resident now) or `VmHWM` (peak resident) of this process, MiB."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(field))
    return int(line.split()[1]) / 1024


def reset_peak() -> None:
    # The class embeddings' text-tower pass peaks far above anything a timeline does: start the peak afresh.
    Path("/proc/self/clear_refs").write_text("5")


# A small CLIP (ViT-S/32-like vision tower, 4-layer text tower) so that 10 minutes run in minutes on 2 cores; the
# ratio to the pipeline hardly depends on the tower's size (both pay it per frame), memory not at all.
SMALL = dict(
    projection_dim=256,
    text_config=dict(hidden_size=256, intermediate_size=1024, num_attention_heads=4, num_hidden_layers=4),
    vision_config=dict(
        hidden_size=384,
        intermediate_size=1536,
        num_attention_heads=6,
        num_hidden_layers=6,
        image_size=224,
        patch_size=32,
    ),
)


def build(shape: str):
    import bench_speed
    import torch
    from transformers import CLIPConfig

    from a3lign import A3lignConfig, A3lignModel

    if shape == "S/32":
        torch.manual_seed(0)
        return A3lignModel(A3lignConfig(clip_config=CLIPConfig(**SMALL), image_size=128)).eval()
    return bench_speed.build(shape, "cpu", torch.float32)


def child(video: str, warmup: str, face_crop: bool, compare: bool, shape: str) -> dict:
    import torch

    from a3lign import A3lignVideoProcessor
    from a3lign.predict import predict_timeline

    torch.set_num_threads(os.cpu_count() or 1)
    model = build(shape)
    processor = A3lignVideoProcessor.from_model_config(model.config, face_crop=face_crop)
    # Warm up on a 4 s video: class embeddings cached, decoder, processor, kernels and allocator ready.
    predict_timeline(model, processor, warmup, WINDOW, STRIDE, progress=False)
    reset_peak()
    before = memory_mib("VmRSS")
    samples, running = [], threading.Event()
    running.set()

    def watch():  # resident memory through the run: flat once the allocator has warmed up, if nothing grows
        while running.is_set():
            samples.append(memory_mib("VmRSS") - before)
            time.sleep(0.25)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.perf_counter()
    timeline = predict_timeline(model, processor, video, WINDOW, STRIDE, progress=False)
    seconds = time.perf_counter() - started
    running.clear()
    watcher.join()
    quarters = [
        max(samples[len(samples) * q // 4 : max(len(samples) * (q + 1) // 4, len(samples) * q // 4 + 1)])
        for q in range(4)
    ]
    result = {
        "video_seconds": timeline.duration,
        "windows": len(timeline.times),
        "seconds": seconds,
        "windows_per_second": len(timeline.times) / seconds,
        "frames_embedded": timeline.frames_embedded,
        "baseline_mib": before,
        "peak_mib": memory_mib("VmHWM"),
        "peak_above_baseline_mib": memory_mib("VmHWM") - before,
        "resident_above_baseline_by_quarter_mib": quarters,
        "face_found": None if timeline.face is None else float(timeline.face.mean()),
    }
    if compare:
        result.update(compare_with_pipeline(model, processor, video, timeline))
    return result


def compare_with_pipeline(model, processor, video: str, timeline, rounds: int = 3) -> dict:
    """The timeline against the plain pipeline run once per window (each given its 16 frames already decoded), in
    alternating rounds in this process; the fastest round of each, so that other work on the machine weighs least."""
    from a3lign.decoding_a3lign import iter_frames, probe_clip
    from a3lign.pipeline_a3lign import A3lignVideoClassificationPipeline
    from a3lign.predict import predict_timeline
    from a3lign.predict.timeline import frame_grid

    info = probe_clip(video)
    grid = frame_grid(info.timing, model.config.num_frames, WINDOW, STRIDE)
    decoded = dict(iter_frames(video, wanted=set(grid.frames)))
    clips = [np.stack([decoded[grid.frames[k]] for k in grid.points(w)]) for w in range(len(grid.starts))]
    classify = A3lignVideoClassificationPipeline(model=model, video_processor=processor)
    labels = timeline.labels
    timeline_seconds, pipeline_seconds, differences = [], [], []
    for _ in range(rounds):
        started = time.perf_counter()
        predict_timeline(model, processor, video, WINDOW, STRIDE, progress=False)
        timeline_seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
        for w, clip in enumerate(clips):  # its 16 frames: the pipeline samples 16 of 16
            scores = {r["label"]: r["score"] for r in classify(clip, top_k=len(labels))}
            differences.append(np.abs(np.array([scores[k] for k in labels]) - timeline.probabilities[w]).max())
        pipeline_seconds.append(time.perf_counter() - started)
    windows = len(clips)
    return {
        "compared_windows": windows,
        "timeline_windows_per_second_best": windows / min(timeline_seconds),
        "pipeline_windows_per_second_best": windows / min(pipeline_seconds),
        "speedup": min(pipeline_seconds) / min(timeline_seconds),
        "rounds": rounds,
        "max_probability_difference": float(max(differences)),
    }


def run_child(video: Path, warmup: Path, shape: str, face_crop: bool = False, compare: bool = False) -> dict:
    command = [sys.executable, __file__, "--child", str(video), "--warmup", str(warmup), "--shape", shape]
    command += ["--face_crop"] * face_crop + ["--compare"] * compare
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.splitlines()[-1])


def machine() -> str:
    import torch

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, fp32"


def report(results: dict, args) -> str:
    long, short, faces = results["long"], results["short"], results["short_face_crop"]

    def minutes(r):
        return f"{r['video_seconds'] / 60:.0f} min" if r["video_seconds"] >= 60 else f"{r['video_seconds']:.0f} s"

    lines = [
        "# Timeline benchmark (`benchmarks/bench_timeline.py`)",
        "",
        f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the end. "
        f"Model: randomly initialised A3lign around a {args.shape}-shaped CLIP, 128 px, 16 frames. "
        f"Video: H.264 {WIDTH}x{HEIGHT} at {RATE} fps. Windows of {WINDOW:g} s every {STRIDE:g} s. "
        f"Run with `{' '.join(['python benchmarks/bench_timeline.py', *sys.argv[1:]])}`.",
        "",
        "| run | video | windows | frames through the tower | seconds | windows / s | resident before (MiB) "
        "| peak (MiB) "
        "| peak above before (MiB) | most resident above before, by quarter of the run (MiB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in (("timeline", long), ("timeline", short), ("timeline, face_crop=True", faces)):
        lines.append(
            f"| {name} | {minutes(r)} | {r['windows']} | {r['frames_embedded']} | {r['seconds']:.1f} | "
            f"{r['windows_per_second']:.2f} | {r['baseline_mib']:.0f} | {r['peak_mib']:.0f} | "
            f"{r['peak_above_baseline_mib']:.0f} | "
            f"{' / '.join(f'{q:.0f}' for q in r['resident_above_baseline_by_quarter_mib'])} |"
        )
    lines += [
        "",
        f"- **Memory does not grow with length**: the {minutes(long)} video peaks at "
        f"{long['peak_above_baseline_mib']:.0f} MiB "
        f"above the loaded model, the {minutes(short)} one at {short['peak_above_baseline_mib']:.0f} MiB; "
        f"through the long run "
        f"resident memory rises while the allocator and decoder warm up, then stays flat (by quarter: "
        f"{' / '.join(f'{q:.0f}' for q in long['resident_above_baseline_by_quarter_mib'])} MiB). "
        f"Bound stated in the README: under {args.bound_mib} MiB above the loaded model for any length at 640x360.",
        f"- **Throughput**: on the {minutes(short)} video (the long one's first tenth), in alternating rounds in one "
        f"process (the fastest of {short['rounds']} each), the timeline ran "
        f"{short['timeline_windows_per_second_best']:.1f} "
        f"windows / s and the plain pipeline run once per window (each given its 16 frames already decoded) "
        f"{short['pipeline_windows_per_second_best']:.1f}: **{short['speedup']:.1f}x**, as each frame goes through "
        f"the vision tower once instead of {16 * short['windows'] / short['frames_embedded']:.1f} times, decoding "
        f"included in the timeline's time only. Probabilities agree with the pipeline's to "
        f"{short['max_probability_difference']:.1e}. "
        f"The {minutes(long)} timeline ran {long['windows_per_second']:.1f} windows / s.",
        f"- **Face crops** cost {faces['seconds'] / short['seconds']:.1f}x the plain timeline on the same video "
        f"(the default detector on every second grid frame, 4 a second, at 480 px; {faces['face_found']:.0%} of the "
        f"frames show the tracked face).",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600, help="Length of the long video.")
    parser.add_argument(
        "--bound_mib", type=int, default=300, help="The stated memory bound, printed beside the figures."
    )
    parser.add_argument(
        "--shape", default="S/32", choices=["S/32", "B/32", "L/14"], help="The CLIP's shape (S/32: see SMALL)."
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--warmup", help=argparse.SUPPRESS)
    parser.add_argument("--face_crop", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--compare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.warmup, args.face_crop, args.compare, args.shape)))
        return
    folder = Path(tempfile.mkdtemp())
    long, short, warmup = folder / "long.mp4", folder / "short.mp4", folder / "warmup.mp4"
    started = time.perf_counter()
    for path, seconds in ((long, args.seconds), (short, args.seconds / 10), (warmup, 4)):
        write_video(path, seconds)
    print(
        f"videos written in {time.perf_counter() - started:.0f} s ({long.stat().st_size / 2**20:.0f} MiB)", flush=True
    )
    results = {"long": run_child(long, warmup, args.shape)}
    print(json.dumps(results["long"]), flush=True)
    results["short"] = run_child(short, warmup, args.shape, compare=True)
    print(json.dumps(results["short"]), flush=True)
    results["short_face_crop"] = run_child(short, warmup, args.shape, face_crop=True)
    for path in (long, short, warmup):
        path.unlink()
    folder.rmdir()
    (HERE / "results-timeline-cpu.json").write_text(json.dumps(results, indent=2))
    text = report(results, args)
    (HERE / "RESULTS-timeline.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
