"""How long does a whole DFEW fold take, and what does the frame cache save? (issue 9)

    python benchmarks/bench_fold.py                                              # here: CPU, ViT-B/32 shapes, fp32
    python benchmarks/bench_fold.py --shape L/14 --device cuda --dtype bfloat16  # a GPU: the paper's backbone

With random weights (speed does not depend on their values), the config's batch (configs/dfew.yaml: 64) and
the paper's MAT (7 x 16 x 64), it measures on whatever device it is given:
- frozen work: seconds per clip view through the vision tower (batched, in the run's precision: what the
  frame statistics and the frame-cache extraction cost);
- one optimizer step of each BAP stage without caches (pixels in, class embeddings recomputed) and with both
  caches (frame embeddings in, class embeddings cached where nothing trains them), and one evaluation batch;
and projects the minutes of one fold (DFEW: 11,697 clips in 5 folds, about 9,357 training and 2,340 test
clips) for the paper's 40 + 30 + 30 epochs, both ways. `--cache_memory` also measures the peak memory of
reading a large frame cache eagerly (all shards loaded) and lazily (memory-mapped, as training reads it).
Not a test: nothing is asserted. Prints a Markdown table and writes JSON.
"""

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_speed import SHAPES, build, timed  # noqa: E402

from a3lign.train.bap import apply_stage, unfreeze_all_stages  # noqa: E402

DFEW_TRAIN_CLIPS, DFEW_TEST_CLIPS = 9_357, 2_340
STAGE_EPOCHS = (40, 30, 30)
TRAIN_VIEWS, TEST_VIEWS = 4, 4  # --frame_cache_views 4; --test_views 2x2 (plus each split's single view)


def precision(device: torch.device, dtype: torch.dtype):
    return (
        torch.autocast(device.type, dtype=dtype)
        if dtype != torch.float32
        else torch.autocast(device.type, enabled=False)
    )


def measure(model, device, dtype, batch: int, repeats: int) -> dict:
    """Seconds of the frozen tower per clip view, of one step per stage both ways, of one evaluation batch."""
    config = model.config
    pixels = torch.randn(batch, config.num_frames, 3, config.image_size, config.image_size, device=device)
    labels = torch.randint(0, config.num_labels, (batch,), device=device)
    with torch.no_grad(), precision(device, dtype):
        extraction = timed(lambda: model.get_frame_embeddings(pixels), repeats, device) / batch
        frames = model.get_frame_embeddings(pixels).float()
    unfreeze_all_stages(model)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    steps = {}
    for stage in (1, 2, 3):
        apply_stage(model, stage)
        model.train()
        model.clip.eval()
        for cached in (False, True):

            def step(cached=cached):
                optimizer.zero_grad(set_to_none=True)
                with precision(device, dtype):
                    inputs = {"frame_embeddings": frames} if cached else {"pixel_values_videos": pixels}
                    if not cached:
                        model._class_cache = None  # the naive way recomputes class embeddings every step
                    loss = model(**inputs, labels=labels).loss
                loss.backward()
                optimizer.step()

            steps[(stage, cached)] = timed(step, repeats, device)
    model.eval()
    with torch.no_grad(), precision(device, dtype):
        evaluation = {
            cached: timed(
                lambda cached=cached: model(
                    **({"frame_embeddings": frames} if cached else {"pixel_values_videos": pixels})
                ),
                repeats,
                device,
            )
            for cached in (False, True)
        }
    return {"extraction_s_per_view": extraction, "steps": steps, "evaluation": evaluation}


def project(figures: dict, batch: int) -> dict:
    """Minutes of one DFEW fold, without and with the caches."""
    train_steps, test_steps = math.ceil(DFEW_TRAIN_CLIPS / batch), math.ceil(DFEW_TEST_CLIPS / batch)
    views = DFEW_TRAIN_CLIPS * (1 + TRAIN_VIEWS) + DFEW_TEST_CLIPS * (1 + TEST_VIEWS)
    minutes = {"extraction": views * figures["extraction_s_per_view"] / 60}
    for cached in (False, True):
        way = "cached" if cached else "naive"
        evaluation = sum(STAGE_EPOCHS) * test_steps * figures["evaluation"][cached] / 60
        stages = [STAGE_EPOCHS[s - 1] * train_steps * figures["steps"][(s, cached)] / 60 for s in (1, 2, 3)]
        # Without the cache, frame statistics need one pass over up to 1,024 training clips.
        frozen = minutes["extraction"] if cached else 1024 * figures["extraction_s_per_view"] / 60
        minutes[way] = {
            "stages": stages,
            "evaluation": evaluation,
            "frozen": frozen,
            "total": sum(stages) + evaluation + frozen,
        }
    return minutes


def cache_memory(clips: int, dim: int) -> dict:
    """Peak memory (MiB) of reading every row of a frame cache of `clips` clips x 5 views x 16 frames x `dim`,
    eagerly (safetensors load_file of every shard) and lazily (CachedEmbeddings), each in a fresh process."""
    folder = Path(tempfile.mkdtemp())
    shard = 256
    for k in range(math.ceil(clips / shard)):
        from safetensors.torch import save_file

        n = min(shard, clips - k * shard)
        save_file(
            {"embeddings": torch.randn(n, 5, 16, dim).half(), "labels": torch.zeros(n, dtype=torch.long)},
            str(folder / f"shard_{k:05d}.safetensors"),
        )
    size = sum(f.stat().st_size for f in folder.iterdir()) / 2**20
    peaks = {}
    for way in ("eager", "lazy"):
        command = [sys.executable, __file__, "--cache_child", way, "--cache_folder", str(folder)]
        peaks[way] = json.loads(
            subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()[-1]
        )
    for file in folder.iterdir():
        file.unlink()
    folder.rmdir()
    return {"clips": clips, "size_mib": size, **peaks}


def cache_child(way: str, folder: Path) -> None:
    """Read every clip's training view and keep a running sum; print peak RSS and peak anonymous RSS (MiB)."""
    from safetensors.torch import load_file

    from a3lign.train.frame_cache import CachedEmbeddings

    def anonymous() -> float:
        line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("RssAnon"))
        return int(line.split()[1]) / 1024

    shards = sorted(folder.glob("shard_*.safetensors"))
    base, peak_anonymous, total = anonymous(), 0.0, 0.0
    if way == "eager":
        loaded = [load_file(str(s)) for s in shards]
        embeddings = torch.cat([s["embeddings"] for s in loaded])
        peak_anonymous = anonymous()
        for index in range(len(embeddings)):
            total += float(embeddings[index, 1].float().sum())
    else:
        cache = CachedEmbeddings(shards, fixed_views=1)
        for index in range(len(cache)):
            total += float(cache.embeddings(index, 1).sum())
            if index % 512 == 0:
                peak_anonymous = max(peak_anonymous, anonymous())
    peak = int(next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM")).split()[1])
    print(json.dumps({"peak_rss_mib": peak / 1024, "peak_anonymous_mib": peak_anonymous - base, "checksum": total}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="B/32", choices=SHAPES)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--image_size", type=int, help="default: 128 for B/32, 112 for L/14")
    parser.add_argument("--batch", type=int, default=64, help="configs/dfew.yaml's per-step batch")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cache_memory", type=int, default=0, help="also measure reading a cache of this many clips")
    parser.add_argument("--output")
    parser.add_argument("--cache_child", help=argparse.SUPPRESS)
    parser.add_argument("--cache_folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cache_child:
        return cache_child(args.cache_child, Path(args.cache_folder))
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    model = build(args.shape, device, torch.float32, args.image_size)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"One DFEW fold, ViT-{args.shape} shapes (random weights), {model.config.image_size} px, "
        f"{model.config.num_frames} frames, batch {args.batch}, {args.dtype} on {name}\n"
    )
    started = time.time()
    figures = measure(model, device, dtype, args.batch, args.repeats)
    minutes = project(figures, args.batch)
    print(
        f"frozen tower: {figures['extraction_s_per_view'] * 1000:.1f} ms per clip view; frame cache of the fold "
        f"({DFEW_TRAIN_CLIPS} x {1 + TRAIN_VIEWS} + {DFEW_TEST_CLIPS} x {1 + TEST_VIEWS} views): "
        f"{minutes['extraction']:.1f} min\n"
    )
    print("| stage | epochs | s/step, no cache | s/step, caches | speed-up | minutes, no cache | minutes, caches |")
    print("|---|---|---|---|---|---|---|")
    for stage in (1, 2, 3):
        naive, cached = figures["steps"][(stage, False)], figures["steps"][(stage, True)]
        print(
            f"| {stage} | {STAGE_EPOCHS[stage - 1]} | {naive:.3f} | {cached:.3f} | {naive / cached:.1f}x | "
            f"{minutes['naive']['stages'][stage - 1]:.0f} | {minutes['cached']['stages'][stage - 1]:.0f} |"
        )
    for label, key in (
        ("evaluation, every epoch", "evaluation"),
        ("frozen work (statistics / cache)", "frozen"),
        ("**fold**", "total"),
    ):
        print(f"| {label} | | | | | {minutes['naive'][key]:.0f} | {minutes['cached'][key]:.0f} |")
    results = {
        "shape": args.shape,
        "device": name,
        "dtype": args.dtype,
        "batch": args.batch,
        "image_size": model.config.image_size,
        "extraction_s_per_view": figures["extraction_s_per_view"],
        "steps": {f"stage{s}_{'cached' if c else 'naive'}": v for (s, c), v in figures["steps"].items()},
        "evaluation": {"cached" if c else "naive": v for c, v in figures["evaluation"].items()},
        "projected_minutes": minutes,
        "seconds_measuring": time.time() - started,
    }
    if args.cache_memory:
        dim = model.config.clip_config.projection_dim
        memory = results["cache_memory"] = cache_memory(args.cache_memory, dim)
        scale = 38_935 / args.cache_memory  # FERV39k
        print(
            f"\nreading a frame cache of {args.cache_memory} clips x 5 views ({memory['size_mib']:.0f} MiB, "
            f"d = {dim}): eager peak RSS {memory['eager']['peak_rss_mib']:.0f} MiB "
            f"(anonymous {memory['eager']['peak_anonymous_mib']:.0f}); "
            f"lazy peak RSS {memory['lazy']['peak_rss_mib']:.0f} MiB "
            f"(anonymous {memory['lazy']['peak_anonymous_mib']:.0f}). "
            f"FERV39k-sized ({scale:.1f}x): eager about {memory['eager']['peak_anonymous_mib'] * scale / 1024:.1f} "
            f"GiB of process memory, lazy {memory['lazy']['peak_anonymous_mib']:.0f} MiB "
            "(mapped pages are the OS's to drop)."
        )
    suffix = f"{args.shape.replace('/', '')}-{args.dtype}-{device.type}"
    output = Path(args.output or Path(__file__).parent / f"results-fold-{suffix}.json")
    output.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {output}")


if __name__ == "__main__":
    main()
