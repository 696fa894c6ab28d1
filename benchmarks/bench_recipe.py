"""Does the default recipe learn on data nobody tuned it for? (issue 9)

For each task of `recipe_tasks.py` (small order-sensitive video sets, generated here), this script runs
`train_bap.py` as a user would, with **no optimizer or learning-rate flags**, and prints:

- UAR after each BAP stage (the run's `metrics.json`);
- the averaged-frames ceiling: a linear probe on time-averaged frozen frame embeddings (what any model
  that averages frames, BAP's stage 1 included, can reach at best), beside an order-aware probe on the
  concatenated frames (shows the order information is in the frozen features);
- the final model's UAR with each test clip's frames shuffled (the paper's Table 5).

A task passes when its final UAR is >= 90 where the averaged-frames ceiling is below 70; over all tasks,
stage 3 must end no lower than stage 2 on average.

    python benchmarks/bench_recipe.py                          # the defaults (AdamW)
    python benchmarks/bench_recipe.py --flags --optim sgd      # the paper's SGD, with its default rates
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoVideoProcessor, CLIPConfig, CLIPModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recipe_tasks  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def save_tiny_clip(path: Path, width: int) -> Path:
    """A random CLIP with both towers `width` wide (2 blocks each), 32 px images in 8 px patches."""
    if not (path / "config.json").exists():
        torch.manual_seed(0)
        tower = dict(hidden_size=width, intermediate_size=2 * width, num_hidden_layers=2, num_attention_heads=4)
        config = CLIPConfig(text_config=tower, vision_config=dict(tower, image_size=32, patch_size=8), projection_dim=width)
        CLIPModel(config).save_pretrained(path)
    return path


def uar(predictions: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    recalls = [np.mean(predictions[labels == c] == c) for c in range(num_classes) if np.any(labels == c)]
    return 100 * float(np.mean(recalls))


def linear_probe(train_x, train_y, test_x, test_y, num_classes: int) -> float:
    """Test UAR of an L2-regularised softmax regression on standardised features (full batch, L-BFGS)."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    best = 0.0
    for weight_decay in (1e-4, 1e-3, 1e-2):  # the probe's best is the ceiling
        torch.manual_seed(0)
        layer = torch.nn.Linear(train_x.shape[1], num_classes)
        optimizer = torch.optim.LBFGS(layer.parameters(), max_iter=300, line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(layer(train_x), train_y) + weight_decay * layer.weight.pow(2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            predictions = layer(test_x).argmax(-1).numpy()
        best = max(best, uar(predictions, test_y.numpy(), num_classes))
    return best


@torch.no_grad()
def evaluation_embeddings(model, processor, clips) -> tuple[torch.Tensor, torch.Tensor]:
    """Frozen frame embeddings `(N, F, d)` of each clip's evaluation view, and labels `(N,)`."""
    embeddings = []
    for start in range(0, len(clips), 32):
        batch = clips[start : start + 32]
        pixels = processor([os.fspath(c.path) for c in batch])["pixel_values_videos"]
        embeddings.append(model.get_frame_embeddings(pixels))
    return torch.cat(embeddings), torch.tensor([c.label for c in clips])


@torch.no_grad()
def shuffled_uar(model, embeddings, labels, num_classes: int, seed: int = 0) -> float:
    generator = torch.Generator().manual_seed(seed)
    shuffled = torch.stack([clip[torch.randperm(clip.shape[0], generator=generator)] for clip in embeddings])
    predictions = model(frame_embeddings=shuffled).logits.argmax(-1).numpy()
    return uar(predictions, labels.numpy(), num_classes)


def run_task(task, work: Path, flags: list[str]) -> dict:
    from a3lign.data import load_split

    data = work / task.name / "data"
    if not (data / "test.csv").exists():
        recipe_tasks.write_task(task, data)
    clip = save_tiny_clip(work / f"clip-{task.clip_width}", task.clip_width)
    output = work / task.name / "run"
    command = [
        sys.executable, str(ROOT / "train_bap.py"), "--dataset", "csv", "--data_root", str(data),
        "--clip_model", str(clip), "--num_frames", str(task.num_frames), "--image_size", "32",
        "--frame_cache_dir", str(work / task.name / "frame_cache"), "--output_dir", str(output),
        "--save_strategy", "no", "--dataloader_num_workers", "0",
        "--disable_tqdm", "true", *task.flags, *flags,
    ]
    shutil.rmtree(output, ignore_errors=True)  # a fresh run each time
    started = time.time()
    log = work / task.name / "train.log"
    with open(log, "w") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    if done.returncode:
        raise SystemExit(f"train_bap.py failed on task {task.name}: see {log}")
    seconds = time.time() - started
    metrics = json.loads((output / "metrics.json").read_text())
    stages = {int(stage): result["uar"] for stage, result in metrics["per_stage"].items()}

    model = AutoModel.from_pretrained(output, trust_remote_code=True).eval()
    processor = AutoVideoProcessor.from_pretrained(output, trust_remote_code=True)
    splits = {split: load_split("csv", data, split).clips for split in ("train", "test")}
    (train_x, train_y), (test_x, test_y) = (evaluation_embeddings(model, processor, splits[s]) for s in ("train", "test"))
    classes = len(task.classes)
    return {
        "task": task.name, "about": task.about, "classes": classes, "num_frames": task.num_frames,
        "lengths": list(task.lengths), "storage": task.storage, "clip_width": task.clip_width,
        "train_clips": len(splits["train"]), "test_clips": len(splits["test"]),
        "averaged_ceiling": linear_probe(train_x.mean(1), train_y, test_x.mean(1), test_y, classes),
        "ordered_probe": linear_probe(train_x.flatten(1), train_y, test_x.flatten(1), test_y, classes),
        "stages": stages, "final": metrics["uar"],
        "shuffled": shuffled_uar(model, test_x, test_y, classes), "seconds": seconds,
        "optim": metrics.get("optim"), "learning_rates": metrics.get("learning_rates"), "task_flags": list(task.flags),
    }


def table(results: list[dict]) -> str:
    lines = [
        "| task | classes | frames | clip lengths | storage | CLIP width | averaged-frames ceiling | ordered probe "
        "| stage 1 | stage 2 | stage 3 | shuffled | pass |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        needed = r["averaged_ceiling"] < 70
        verdict = ("yes" if r["final"] >= 90 else "**no**") if needed else "n/a (ceiling >= 70)"
        stage = [f"{r['stages'].get(s, float('nan')):.1f}" for s in (1, 2, 3)]
        lines.append(
            f"| {r['task']} | {r['classes']} | {r['num_frames']} | {r['lengths'][0]}-{r['lengths'][1]} | {r['storage']} "
            f"| {r['clip_width']} | {r['averaged_ceiling']:.1f} | {r['ordered_probe']:.1f} | {' | '.join(stage)} "
            f"| {r['shuffled']:.1f} | {verdict} |"
        )
    mean2 = np.mean([r["stages"].get(2, np.nan) for r in results])
    mean3 = np.mean([r["stages"].get(3, np.nan) for r in results])
    lines.append(f"\nMean UAR after stage 2: {mean2:.1f}; after stage 3: {mean3:.1f} (stage 3 must not be lower).")
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="all", help="comma-separated task names (default: all)")
    parser.add_argument("--work", default="bench_recipe_work", help="folder for data, caches and runs")
    parser.add_argument("--output", help="JSON file for the results")
    parser.add_argument("--flags", nargs=argparse.REMAINDER, default=[], help="extra train_bap.py flags (last)")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    names = [t.name for t in recipe_tasks.TASKS] if args.tasks == "all" else args.tasks.split(",")
    results = []
    for task in (t for t in recipe_tasks.TASKS if t.name in names):
        results.append(run_task(task, Path(args.work), args.flags))
        r = results[-1]
        print(f"{task.name}: stages {r['stages']} ceiling {r['averaged_ceiling']:.1f} shuffled {r['shuffled']:.1f} "
              f"({r['seconds']:.0f} s)", flush=True)
    print("\n" + table(results))
    if args.output:
        Path(args.output).write_text(json.dumps({"flags": args.flags, "results": results}, indent=2))
    return results


if __name__ == "__main__":
    main()
