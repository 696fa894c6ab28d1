"""Does live keep up? (issue 20) Frames per second and latency of `LivePredictor` on this machine, against the bare
vision tower on the same frames, and the frozen tower made faster on the CPU.

A 640x360 H.264 video at 25 fps (bench_timeline's: the astronaut's photo drifting over a background, a face all
along) goes through the live path (`FrameReader` -> `LivePredictor`, windows of 2 s every 0.5 s, 16 frames: a grid
frame every 0.125 s) in two ways, for each model (ViT-B/32 shapes at 128 px; the tests' tiny model) with face
tracking off and on (MTCNN, detection every 4th grid frame):

- **flat out** (the file read as fast as the machine goes): source frames per second, and where the time goes
  (decoding and conversion on the reader's thread, face tracking, the vision tower, the head), per embedded frame;
- **at the source's rate** (`--realtime`, as a camera delivers it): frames dropped, and the latency from the arrival
  of a window's last frame (read from the source) to its probabilities (median, 95th percentile): the wait for the
  next frame (which ends that frame's time on screen), the buffer, tracking, cut, tower and head.

Beside them, the same grid frames through the bare transformers vision tower one at a time (`CLIPModel
.get_image_features`), the floor: the live path's cost per embedded frame over it is the ratio printed. Then the
tower itself, made faster for the CPU, each against the bare tower on the same frames, with the largest difference
of the embeddings and of the window probabilities: dynamic int8 quantization of its linear layers
(`torch.ao.quantization.quantize_dynamic`), `torch.compile`, ONNX Runtime (if installed: the tower exported with
`torch.onnx.export`).

    python benchmarks/bench_live.py                 # ~5 min on 2 cores: the tables, and results-live-cpu.json
    python benchmarks/bench_live.py --seconds 10    # a shorter video

Not a test: figures, no assertions.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import torch  # noqa: E402

from a3lign import A3lignVideoProcessor  # noqa: E402
from a3lign.predict import LivePredictor  # noqa: E402
from a3lign.predict.sources import FrameReader  # noqa: E402

WINDOW, STRIDE = 2.0, 0.5


def build(shape: str):
    if shape.endswith("-int8"):  # the tower `--tower int8` gives predict, live and the app
        from a3lign.predict.tower import use_tower

        return use_tower(build(shape.removesuffix("-int8")), "int8")
    if shape == "tiny":
        sys.path.insert(0, str(HERE.parent / "tests"))
        from tests.conftest import A3lignTester

        return A3lignTester().build_model(seed=3).eval()
    import bench_speed

    return bench_speed.build(shape, "cpu", torch.float32)


class Timed:
    """Wraps a callable, adding its seconds to `total` (and counting calls)."""

    def __init__(self, function):
        self.function, self.total, self.calls = function, 0.0, 0

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.total += time.perf_counter() - started
            self.calls += 1


def run_live(model, video: Path, face_crop: bool, realtime: bool) -> dict:
    processor = A3lignVideoProcessor.from_model_config(model.config, face_crop=face_crop)
    predictor = LivePredictor(model, processor, WINDOW, STRIDE)
    tower = Timed(model.get_frame_embeddings)
    head = Timed(model.forward)
    model.get_frame_embeddings, model.forward = tower, head
    follow = None
    if predictor.follower is not None:
        follow = predictor.follower.follow = Timed(predictor.follower.follow)
    reader = FrameReader(video, realtime=realtime, capacity=4)
    converted = Timed(lambda frame: frame.pixels())
    latencies, consumed = [], 0
    started = time.perf_counter()
    try:
        for frame in reader.frames():
            consumed += 1
            latencies += [w.latency for w in predictor.add(lambda f=frame: converted(f), frame.seconds, frame.arrived)]
        predictor.finish()
    finally:
        reader.stop()
        del model.get_frame_embeddings, model.forward
    wall = time.perf_counter() - started
    embedded = max(1, predictor.frames_embedded)
    return {
        "frames_per_second": consumed / wall,
        "frames_read": reader.read,
        "frames_dropped": reader.dropped,
        "frames_embedded": predictor.frames_embedded,
        "latency_median_ms": 1000 * statistics.median(latencies),
        "latency_p95_ms": 1000 * float(np.percentile(latencies, 95)),
        "ms_per_embedded_frame": {
            "convert": 1000 * converted.total / embedded,
            "faces": 1000 * (follow.total if follow else 0.0) / embedded,
            "tower": 1000 * tower.total / embedded,
            "head": 1000 * head.total / embedded,
            "all": 1000 * wall / embedded,
        },
        "detections": predictor.follower.detections_run if predictor.follower else 0,
        "wall_seconds": wall,
    }


def grid_pixels(model, video: Path, count: int) -> torch.Tensor:
    """`count` processed frames of the video `(count, 1, 3, S, S)`, as the live path feeds the tower."""
    from a3lign.decoding_a3lign import iter_frames

    processor = A3lignVideoProcessor.from_model_config(model.config)
    frames = [frame for (_, frame), _ in zip(iter_frames(video), range(count))]
    return torch.stack([processor(f[None], do_sample_frames=False)["pixel_values_videos"] for f in frames])[:, 0]


def per_frame_ms(tower, pixels: torch.Tensor, repeats: int = 2) -> tuple[float, torch.Tensor]:
    """Median milliseconds of one frame through `tower` (frames one at a time, as live sends them), and the outputs."""
    with torch.no_grad():
        outputs = torch.cat([tower(p) for p in pixels[:3]])  # warm-up
        times = []
        for _ in range(repeats):
            for p in pixels:
                started = time.perf_counter()
                tower(p)
                times.append(time.perf_counter() - started)
        outputs = torch.cat([tower(p) for p in pixels])
    return 1000 * statistics.median(times), outputs


def tower_variants(model, pixels: torch.Tensor) -> list[dict]:
    """The bare tower and its faster forms on the same frames: ms per frame, largest difference of the embeddings and
    of the windows' probabilities (consecutive 16-frame windows of these frames through the model's head)."""
    clip = model.clip
    image_size = model.config.image_size

    def bare(p):
        return clip.get_image_features(pixel_values=p, interpolate_pos_encoding=True).pooler_output

    def head(embeddings):
        frames = model.config.num_frames
        windows = embeddings.unfold(0, frames, max(1, frames // 4)).permute(0, 2, 1)  # (W, F, d)
        with torch.no_grad():
            return model(frame_embeddings=windows).logits.softmax(-1)

    ms, reference = per_frame_ms(bare, pixels)
    reference_probabilities = head(reference)
    rows = [{"tower": "transformers fp32 (bare)", "ms_per_frame": ms, "embedding_diff": 0.0, "probability_diff": 0.0}]

    def add(name, function, note=""):
        try:
            started = time.perf_counter()
            function(pixels[0])
            setup = time.perf_counter() - started
            ms, out = per_frame_ms(function, pixels)
        except Exception as error:  # a variant this machine cannot build is reported, not fatal
            rows.append({"tower": name, "error": f"{type(error).__name__}: {str(error)[:200]}"})
            return
        rows.append(
            {
                "tower": name,
                "ms_per_frame": ms,
                "speedup": rows[0]["ms_per_frame"] / ms,
                "embedding_diff": float((out - reference).abs().max()),
                "probability_diff": float((head(out) - reference_probabilities).abs().max()),
                "first_call_seconds": setup,
                "note": note,
            }
        )

    quantized = torch.ao.quantization.quantize_dynamic(
        torch.nn.ModuleDict({"vision": clip.vision_model, "projection": clip.visual_projection}),
        {torch.nn.Linear},
        dtype=torch.qint8,
    )

    def int8(p):
        pooled = quantized["vision"](pixel_values=p, interpolate_pos_encoding=True).pooler_output
        return quantized["projection"](pooled)

    add("dynamic int8 (quantize_dynamic)", int8)
    compiled = torch.compile(bare)
    add("torch.compile (inductor)", compiled, "first call compiles")
    try:
        import onnxruntime
    except ImportError:
        rows.append({"tower": "ONNX Runtime", "error": "onnxruntime not installed (pip install onnxruntime)"})
    else:

        class Tower(torch.nn.Module):
            def forward(self, p):
                return bare(p)

        path = Path(tempfile.mkdtemp()) / "tower.onnx"
        session = None

        def ort(p):
            nonlocal session
            if session is None:  # exported and loaded on the first call (its cost is the first call's)
                torch.onnx.export(Tower(), (p,), str(path), input_names=["pixels"], dynamo=False)
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = torch.get_num_threads()
                session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            return torch.from_numpy(session.run(None, {"pixels": p.numpy()})[0])

        add("ONNX Runtime (CPU)", ort, f"exported at {image_size} px")
    return rows


def report(results: dict) -> str:
    lines = [
        f"machine: {results['machine']}; torch {torch.__version__}, {torch.get_num_threads()} threads; video "
        f"{results['video']}",
        "",
        "| model | faces | mode | source frames/s | dropped | latency median / p95 (ms) | ms per embedded frame: "
        "convert / faces / tower / head / all | bare tower ms | live / bare |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["live"]:
        split = r["ms_per_embedded_frame"]
        lines.append(
            f"| {r['model']} | {'on' if r['faces'] else 'off'} | {r['mode']} | {r['frames_per_second']:.1f} "
            f"| {r['frames_dropped']} of {r['frames_read']} "
            f"| {r['latency_median_ms']:.0f} / {r['latency_p95_ms']:.0f} "
            f"| {split['convert']:.1f} / {split['faces']:.1f} / {split['tower']:.1f} / {split['head']:.1f} / "
            f"{split['all']:.1f} | {r['bare_tower_ms']:.1f} | {split['tower'] / r['bare_tower_ms']:.2f} |"
        )
    lines += [
        "",
        "| tower (B/32, 128 px) | ms per frame | speedup | largest embedding diff | largest probability diff |",
    ]
    lines.append("|---|---|---|---|---|")
    for row in results["towers"]:
        if "error" in row:
            lines.append(f"| {row['tower']} | - | - | - | {row['error']} |")
            continue
        lines.append(
            f"| {row['tower']} | {row['ms_per_frame']:.2f} | {row.get('speedup', 1.0):.2f}x "
            f"| {row['embedding_diff']:.2e} | {row['probability_diff']:.2e} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20, help="Length of the video.")
    parser.add_argument("--output", default="results-live-cpu.json")
    parser.add_argument("--models", default="B/32,B/32-int8,tiny")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import bench_timeline

    work = Path(tempfile.mkdtemp())
    video, warmup = work / "live.mp4", work / "warmup.mp4"
    bench_timeline.write_video(video, args.seconds)
    bench_timeline.write_video(warmup, 3)
    results = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "video": f"640x360 H.264 at {bench_timeline.RATE} fps, {args.seconds:g} s",
        "live": [],
        "towers": [],
    }
    for name in args.models.split(","):
        model = build(name)
        pixels = grid_pixels(model, video, 48)
        clip = (build(name.removesuffix("-int8")) if name.endswith("-int8") else model).clip  # the bare transformers
        # tower (float, as transformers builds it), one frame at a time
        bare_ms, _ = per_frame_ms(
            lambda p, clip=clip: clip.get_image_features(pixel_values=p, interpolate_pos_encoding=True).pooler_output,
            pixels,
        )
        for faces in (False, True):
            run_live(model, warmup, faces, False)  # class embeddings, the detector, kernels and allocator ready
            for mode, realtime in (("flat out", False), ("at 25 fps", True)):
                result = run_live(model, video, faces, realtime)
                results["live"].append(dict(result, model=name, faces=faces, mode=mode, bare_tower_ms=bare_ms))
                print(json.dumps(results["live"][-1]), flush=True)
        if name == "B/32":
            results["towers"] = tower_variants(model, pixels)
    print("\n" + report(results))
    Path(args.output).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
