"""Speed of A3lign against its own naive baseline, every comparison measured in the same run.

    python benchmarks/bench_speed.py                       # ViT-B/32 shapes, CPU, fp32
    python benchmarks/bench_speed.py --shape L/14 --device cuda --dtype bfloat16

Prints tables and writes JSON (default benchmarks/results-<shape>-<device>.json):
- inference clips/s at batch 1 and 16: A3lign (class embeddings cached) / naive (class embeddings
  recomputed per batch, as the field's code does) / the bare frozen vision tower on the same frames
  (the floor of any frozen-CLIP method);
- training seconds per step in each BAP stage: naive (pixels, class embeddings recomputed), pixels
  with the class cache, and frame-embedding cache + class cache; projected time of one DFEW fold;
- peak memory of inference (CUDA: max allocated; CPU: peak RSS of a child process);
- data: clips/s decoded and preprocessed from mp4 with 0 and 2 DataLoader workers.
Random weights: speed does not depend on their values. Not a test: nothing is asserted.
"""

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import CLIPConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from a3lign import A3lignConfig, A3lignModel, A3lignVideoProcessor  # noqa: E402
from a3lign.train.bap import apply_stage, unfreeze_all_stages  # noqa: E402

SHAPES = {  # CLIPConfig kwargs; image size fed to CLIP (a multiple of the patch; the paper's 112 for /14)
    "B/32": (
        dict(
            projection_dim=512,
            text_config=dict(hidden_size=512, intermediate_size=2048, num_attention_heads=8, num_hidden_layers=12),
            vision_config=dict(
                hidden_size=768,
                intermediate_size=3072,
                num_attention_heads=12,
                num_hidden_layers=12,
                image_size=224,
                patch_size=32,
            ),
        ),
        128,
    ),
    "L/14": (
        dict(
            projection_dim=768,
            text_config=dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12),
            vision_config=dict(
                hidden_size=1024,
                intermediate_size=4096,
                num_attention_heads=16,
                num_hidden_layers=24,
                image_size=224,
                patch_size=14,
            ),
        ),
        112,
    ),
}
DFEW_TRAIN_CLIPS = 9_400


def build(shape: str, device, dtype, image_size: int | None = None) -> A3lignModel:
    clip, default_size = SHAPES[shape]
    image_size = image_size or default_size
    torch.manual_seed(0)
    config = A3lignConfig(clip_config=CLIPConfig(**clip), image_size=image_size)  # paper: 7 x 16 x 64 MAT, 16 frames
    return A3lignModel(config).to(device, dtype).eval()


def timed(function, repeats: int, device) -> float:
    """Median seconds of `function()` after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        function()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.no_grad()
def bench_inference(model, device, dtype, repeats) -> list[dict]:
    rows = []
    config = model.config
    for batch in (1, 16):
        pixels = torch.randn(
            batch, config.num_frames, 3, config.image_size, config.image_size, device=device, dtype=dtype
        )

        def cached(pixels=pixels):
            return model(pixel_values_videos=pixels).logits

        def naive(pixels=pixels):
            video = model.get_video_features(pixels)
            classes = model.get_class_embeddings(use_cache=False)
            return torch.nn.functional.normalize(video, dim=-1) @ torch.nn.functional.normalize(classes, dim=-1).T

        def vision_only(pixels=pixels):
            return model.clip.get_image_features(
                pixel_values=pixels.flatten(0, 1), interpolate_pos_encoding=True
            ).pooler_output

        seconds = {
            name: timed(fn, repeats, device)
            for name, fn in (("a3lign", cached), ("naive", naive), ("vision_tower", vision_only))
        }
        rows.append(
            {
                "batch": batch,
                **{f"{k}_clips_per_s": batch / v for k, v in seconds.items()},
                "vs_vision_tower": seconds["vision_tower"] / seconds["a3lign"],
                "vs_naive": seconds["naive"] / seconds["a3lign"],
            }
        )
    return rows


def bench_training(model, device, dtype, batch, repeats) -> list[dict]:
    config = model.config
    pixels = torch.randn(batch, config.num_frames, 3, config.image_size, config.image_size, device=device, dtype=dtype)
    labels = torch.randint(0, config.num_labels, (batch,), device=device)
    with torch.no_grad():
        frames = model.get_frame_embeddings(pixels)  # what the frame cache hands the model
    unfreeze_all_stages(model)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)
    model.train()
    rows = []
    for stage in (1, 2, 3):
        apply_stage(model, stage)

        def step(use_class_cache: bool, use_frame_cache: bool):
            def run():
                optimizer.zero_grad(set_to_none=True)
                if use_frame_cache:
                    video = model.get_video_features(frame_embeddings=frames)
                else:
                    video = model.get_video_features(pixels)
                classes = model.get_class_embeddings(use_cache=use_class_cache)
                logits = (
                    model.logit_scale.exp()
                    * torch.nn.functional.normalize(video, dim=-1)
                    @ torch.nn.functional.normalize(classes, dim=-1).T
                )
                torch.nn.functional.cross_entropy(logits.float(), labels).backward()
                optimizer.step()

            return run

        seconds = {
            name: timed(step(*flags), repeats, device)
            for name, flags in (
                ("naive", (False, False)),
                ("class_cache", (True, False)),
                ("both_caches", (True, True)),
            )
        }
        steps_per_epoch = -(-DFEW_TRAIN_CLIPS // batch)
        rows.append(
            {
                "stage": stage,
                **{f"{k}_s_per_step": v for k, v in seconds.items()},
                "speedup_both_vs_naive": seconds["naive"] / seconds["both_caches"],
                **{f"dfew_epoch_{k}_min": v * steps_per_epoch / 60 for k, v in seconds.items()},
            }
        )
    model.eval()
    return rows


def peak_memory(args, mode: str) -> float:
    """Peak inference memory in MiB: CUDA max allocated, or the peak RSS of a fresh child process."""
    command = [
        sys.executable,
        __file__,
        "--shape",
        args.shape,
        "--device",
        args.device,
        "--dtype",
        args.dtype,
        "--memory_child",
        mode,
    ] + (["--image_size", str(args.image_size)] if args.image_size else [])
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def memory_child(args) -> None:
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    model = build(args.shape, device, dtype, args.image_size)
    config = model.config
    pixels = torch.randn(16, config.num_frames, 3, config.image_size, config.image_size, device=device, dtype=dtype)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad():
        for _ in range(2):
            if args.memory_child == "a3lign":
                model(pixel_values_videos=pixels)
            else:
                model.get_class_embeddings(use_cache=False)
                model.get_video_features(pixels)
    if device.type == "cuda":
        print(torch.cuda.max_memory_allocated() / 2**20)
    else:
        print(
            (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        )  # KiB -> MiB, above the loaded model


def bench_data(repeats_clips: int) -> list[dict]:
    from a3lign.data import ClipDataset, ClipView, training_view
    from a3lign.data.clips import Clip
    from a3lign.data.synthetic import render_clip, write_mp4

    folder = Path(tempfile.mkdtemp())
    clips = []
    for k in range(repeats_clips):
        path = folder / f"{k}.mp4"
        write_mp4(path, render_clip("Happy", k))
        clips.append(Clip(str(k), path, 0, 0))
    processor = A3lignVideoProcessor()
    rows = []
    for workers in (0, 2):
        for training in (False, True):
            loader = torch.utils.data.DataLoader(
                ClipDataset(clips, processor, training_view() if training else ClipView()),
                batch_size=8,
                num_workers=workers,
            )
            start = time.perf_counter()
            count = sum(len(batch["labels"]) for batch in loader)
            rows.append(
                {
                    "workers": workers,
                    "view": "training" if training else "evaluation",
                    "clips_per_s": count / (time.perf_counter() - start),
                }
            )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="B/32", choices=SHAPES)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument(
        "--image_size",
        type=int,
        help="default: 128 for B/32 (nearest multiple of 32 to the paper's 112), 112 for L/14",
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        default=["inference", "memory", "training", "data"],
        choices=["inference", "memory", "training", "data"],
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train_batch", type=int, default=8)
    parser.add_argument("--data_clips", type=int, default=48)
    parser.add_argument("--output")
    parser.add_argument("--memory_child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    model = build(args.shape, device, dtype, args.image_size)
    machine = (
        torch.cuda.get_device_name()
        if device.type == "cuda"
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    print(
        f"A3lign speed, ViT-{args.shape} shapes (random weights), image {model.config.image_size}px, "
        f"{model.config.num_frames} frames, MAT {model.config.num_labels}x{model.config.mat_sentences}x"
        f"{model.config.mat_tokens}, {args.dtype} on {machine}\n"
    )
    results = {"shape": args.shape, "device": machine, "dtype": args.dtype, "image_size": model.config.image_size}

    if "inference" in args.parts:
        results["inference"] = inference = bench_inference(model, device, dtype, args.repeats)
        print(
            "| batch | A3lign clips/s | naive clips/s | bare vision tower clips/s | A3lign / vision tower "
            "| A3lign / naive |"
        )
        print("|---|---|---|---|---|---|")
        for r in inference:
            print(
                f"| {r['batch']} | {r['a3lign_clips_per_s']:.2f} | {r['naive_clips_per_s']:.3f} | "
                f"{r['vision_tower_clips_per_s']:.2f} | {r['vs_vision_tower']:.2f}x | {r['vs_naive']:.1f}x |"
            )

    if "memory" in args.parts:
        results["memory_mib"] = memory = {mode: peak_memory(args, mode) for mode in ("a3lign", "naive")}
        print(
            f"\npeak inference memory, batch 16 (MiB{' above the loaded model' if device.type == 'cpu' else ''}): "
            f"A3lign {memory['a3lign']:.0f}, naive {memory['naive']:.0f}"
        )

    if "training" in args.parts:
        results["training_batch"] = args.train_batch
        results["training"] = training = bench_training(model, device, dtype, args.train_batch, args.repeats)
        print(
            f"\ntraining step, batch {args.train_batch} (seconds; projected DFEW fold epoch of {DFEW_TRAIN_CLIPS} "
            "clips in minutes)"
        )
        print(
            "| stage | naive s/step | class cache s/step | frame + class caches s/step | speed-up "
            "| DFEW epoch naive / cached (min) |"
        )
        print("|---|---|---|---|---|---|")
        for r in training:
            print(
                f"| {r['stage']} | {r['naive_s_per_step']:.3f} | {r['class_cache_s_per_step']:.3f} | "
                f"{r['both_caches_s_per_step']:.4f} | {r['speedup_both_vs_naive']:.0f}x | "
                f"{r['dfew_epoch_naive_min']:.1f} / {r['dfew_epoch_both_caches_min']:.2f} |"
            )

    if "data" in args.parts:
        results["data"] = data = bench_data(args.data_clips)
        print("\n| data: mp4 -> model input | workers | clips/s |\n|---|---|---|")
        for r in data:
            print(f"| {r['view']} view | {r['workers']} | {r['clips_per_s']:.1f} |")

    suffix = f"{args.shape.replace('/', '')}-{model.config.image_size}px-{device.type}"
    output = Path(args.output or Path(__file__).parent / f"results-{suffix}.json")
    output.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {output}")


if __name__ == "__main__":
    main()
