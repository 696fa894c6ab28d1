"""Does the default recipe learn on data nobody tuned it for? (issue 9)

For each task of `recipe_tasks.py` (small order-sensitive video sets, generated here), this script runs
`train_bap.py` as a user would, with **no optimizer or learning-rate flags**, and prints:

- UAR after each BAP stage (the run's `metrics.json`);
- the averaged-frames ceiling: a linear probe on time-averaged frozen frame embeddings (what any model
  that averages frames, BAP's stage 1 included, can reach at best), beside an order-aware probe on the
  concatenated frames (shows the order information is in the frozen features);
- the final model's UAR with each test clip's frames shuffled (the paper's Table 5).

The tasks: the six of issue 9 (`recipe_tasks.TASKS`), the harder ones of issue 18 (`HARD_TASKS`: at most 20
training clips a class, 24 px frames, frame folders of 10-30 frames, time-reversed classes) and the imbalanced ones
(`IMBALANCED_TASKS`: DFEW's and MAFW's class proportions, balanced test splits), each of which runs once per
`--class_balance` value, with WAR and the rare classes' recall beside UAR.

A task passes (the rule of issue 18) when its final UAR is within 10 points of the order-aware probe and stage 3
ends no lower than stage 2; every task must pass (an imbalanced task: with the default `--class_balance`).
With `--seeds 0,1,2` each task runs once per seed (seed s: the task's clips drawn with s, `--seed s` for
training), and the rule reads the means over seeds: at 48-66 test clips one clip is 1.5-2 points, so a
single run's verdict is noise-bound.

    python benchmarks/bench_recipe.py                                   # the defaults, every task
    python benchmarks/bench_recipe.py --flags --stage_epochs 12 12 12   # the short schedule
    python benchmarks/bench_recipe.py --tasks dfew_like,mafw_like       # some tasks
    python benchmarks/bench_recipe.py --seeds 0,1,2                     # three seeds, the rule on the means
    python benchmarks/bench_recipe.py --flags --optim sgd               # the paper's SGD, with its default rates
    python benchmarks/bench_recipe.py --full_scale                      # the shipped configs at their real length

`--full_scale` (issue 18): a synthetic fold of DFEW's size (9,359 training and 2,338 test clips of the demo's
cartoon faces, `a3lign data synthesize`), the demo's small random CLIP, on the frame cache, and for each of
`configs/dfew.yaml`, `ferv39k.yaml`, `mafw.yaml` its optimisation and schedule (optimizer, rates, weight decay,
warm-up, JAS schedule, class balance, 40 + 30 + 30 epochs at batch 64: about 14,600 steps), against the plain
defaults on the same fold and batch: UAR after each stage, each epoch's UAR around the switch to stage 3, and the
seconds each stage took. Configs whose optimisation and schedule are the same flags (today all three) run once.
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

from a3lign.train.arguments import TrainingDataArguments  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def save_tiny_clip(path: Path, width: int) -> Path:
    """A random CLIP with both towers `width` wide (2 blocks each), 32 px images in 8 px patches."""
    if not (path / "config.json").exists():
        torch.manual_seed(0)
        tower = dict(hidden_size=width, intermediate_size=2 * width, num_hidden_layers=2, num_attention_heads=4)
        config = CLIPConfig(
            text_config=tower, vision_config=dict(tower, image_size=32, patch_size=8), projection_dim=width
        )
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

        def closure(optimizer=optimizer, layer=layer, weight_decay=weight_decay):
            optimizer.zero_grad()
            loss = (
                torch.nn.functional.cross_entropy(layer(train_x), train_y) + weight_decay * layer.weight.pow(2).sum()
            )
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


ALL_TASKS = recipe_tasks.TASKS + recipe_tasks.HARD_TASKS + recipe_tasks.IMBALANCED_TASKS
BALANCES = ("none", "logit_adjustment", "balanced_sampling")


def run_task(task, work: Path, flags: list[str], variant: str = "", probes: dict | None = None, seed: int = 0) -> dict:
    """One run of `train_bap.py` on `task` (`variant`: a name for its extra `flags`); `probes`: the task's probe
    figures when already measured (they depend on the frozen CLIP and the data only); `seed`: the data's and the
    training's (seed 0 keeps the folders of runs made before `--seeds` existed)."""
    from a3lign.data import load_split

    suffix = f"_seed{seed}" if seed else ""
    data = work / task.name / f"data{suffix}"
    if not (data / "test.csv").exists():
        recipe_tasks.write_task(task, data, seed=seed)
    clip = save_tiny_clip(work / f"clip-{task.clip_width}", task.clip_width)
    output = work / task.name / f"run{'_' + variant if variant else ''}{suffix}"
    command = [
        sys.executable,
        str(ROOT / "train_bap.py"),
        "--dataset",
        "csv",
        "--data_root",
        str(data),
        "--clip_model",
        str(clip),
        "--num_frames",
        str(task.num_frames),
        "--image_size",
        "32",
        "--frame_cache_dir",
        str(work / task.name / f"frame_cache{suffix}"),
        "--output_dir",
        str(output),
        "--save_strategy",
        "no",
        "--dataloader_num_workers",
        "0",
        "--disable_tqdm",
        "true",
        "--seed",
        str(seed),
        *task.flags,
        *flags,
    ]
    shutil.rmtree(output, ignore_errors=True)  # a fresh run each time
    started = time.time()
    log = work / task.name / f"train{'_' + variant if variant else ''}{suffix}.log"
    with open(log, "w") as handle:
        done = subprocess.run(
            command, stdout=handle, stderr=subprocess.STDOUT, env=dict(os.environ, HF_HUB_OFFLINE="1")
        )
    if done.returncode:
        raise SystemExit(f"train_bap.py failed on task {task.name}: see {log}")
    seconds = time.time() - started
    metrics = json.loads((output / "metrics.json").read_text())
    stages = {int(stage): result["uar"] for stage, result in metrics["per_stage"].items()}

    model = AutoModel.from_pretrained(output, trust_remote_code=True).eval()
    processor = AutoVideoProcessor.from_pretrained(output, trust_remote_code=True)
    splits = {split: load_split("csv", data, split).clips for split in ("train", "test")}
    (train_x, train_y), (test_x, test_y) = (
        evaluation_embeddings(model, processor, splits[s]) for s in ("train", "test")
    )
    classes = len(task.classes)
    if probes is None:
        probes = {
            "averaged_ceiling": linear_probe(train_x.mean(1), train_y, test_x.mean(1), test_y, classes),
            "ordered_probe": linear_probe(train_x.flatten(1), train_y, test_x.flatten(1), test_y, classes),
        }
    recall = metrics["per_class_recall"]
    return {
        "task": task.name,
        "variant": variant,
        "seed": seed,
        "about": task.about,
        "classes": classes,
        "num_frames": task.num_frames,
        "lengths": list(task.lengths),
        "storage": task.storage,
        "clip_width": task.clip_width,
        "frame_size": task.frame_size,
        "train_clips": len(splits["train"]),
        "test_clips": len(splits["test"]),
        **probes,
        "stages": stages,
        "final": metrics["uar"],
        "war": metrics["war"],
        "rare_recall": {label: recall[label] for label in task.rare},
        "stage3_as_trained": (metrics.get("stage3_as_trained") or {}).get("uar"),  # before --stage3_interpolation
        "stage_epochs": metrics.get("stage_epochs"),
        "shuffled": shuffled_uar(model, test_x, test_y, classes),
        "seconds": seconds,
        "optim": metrics.get("optim"),
        "learning_rates": metrics.get("learning_rates"),
        "task_flags": list(task.flags),
    }


def passes(result: dict) -> bool:
    """Issue 18's rule: the final UAR within 10 points of the order-aware probe, stage 3 no lower than stage 2."""
    stages = result["stages"]
    return result["final"] >= result["ordered_probe"] - 10 and stages.get(3, 0) >= stages.get(2, 0)


def table(results: list[dict], default_balance: str = "none") -> str:
    lines = [
        "| task | variant | classes | frames | clip lengths | px | storage | CLIP width | averaged-frames ceiling "
        "| ordered probe | stage 1 | stage 2 | stage 3 | WAR | shuffled | rare classes' recall | pass |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        stage = [f"{r['stages'].get(s, float('nan')):.1f}" for s in (1, 2, 3)]
        rare = ", ".join(f"{k} {v:.0f}" for k, v in r["rare_recall"].items()) or "-"
        counted = not r["variant"] or r["variant"] == default_balance
        verdict = ("yes" if passes(r) else "**no**") if counted else ("(yes)" if passes(r) else "(no)")
        lines.append(
            f"| {r['task']} | {r['variant'] or '-'} | {r['classes']} | {r['num_frames']} "
            f"| {r['lengths'][0]}-{r['lengths'][1]} | {r['frame_size']} | {r['storage']} | {r['clip_width']} "
            f"| {r['averaged_ceiling']:.1f} | {r['ordered_probe']:.1f} "
            f"| {' | '.join(stage)} | {r['war']:.1f} | {r['shuffled']:.1f} | {rare} | {verdict} |"
        )
    counted = [r for r in results if not r["variant"] or r["variant"] == default_balance]
    mean2 = np.mean([r["stages"].get(2, np.nan) for r in counted])
    mean3 = np.mean([r["stages"].get(3, np.nan) for r in counted])
    failed = [r["task"] for r in counted if not passes(r)]
    lines.append(
        f"\nMean UAR after stage 2: {mean2:.1f}; after stage 3: {mean3:.1f}. Tasks failing the rule (final UAR "
        f"within 10 of the ordered probe, stage 3 >= stage 2): {', '.join(failed) or 'none'}. Variants in "
        f"parentheses are the imbalanced tasks' other --class_balance values (not counted)."
    )
    return "\n".join(lines)


def over_seeds(results: list[dict]) -> list[dict]:
    """One row per (task, variant): each figure's mean over the seeds run, with its min and max (`*_range`)."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["task"], r["variant"]), []).append(r)
    rows = []
    for runs in groups.values():
        row = dict(runs[0], seeds=[r["seed"] for r in runs])
        for key in ("averaged_ceiling", "ordered_probe", "final", "war", "shuffled"):
            values = [r[key] for r in runs]
            row[key], row[f"{key}_range"] = float(np.mean(values)), (min(values), max(values))
        row["stages"] = {s: float(np.mean([r["stages"].get(s, np.nan) for r in runs])) for s in runs[0]["stages"]}
        row["stage_ranges"] = {
            s: (min(r["stages"][s] for r in runs), max(r["stages"][s] for r in runs)) for s in runs[0]["stages"]
        }
        row["stage3_below_stage2"] = sum(r["stages"].get(3, 0) < r["stages"].get(2, 0) for r in runs)
        row["rare_recall"] = {k: float(np.mean([r["rare_recall"][k] for r in runs])) for k in runs[0]["rare_recall"]}
        rows.append(row)
    return rows


def seeds_table(rows: list[dict], default_balance: str) -> str:
    """The rule on the means over seeds; each figure as mean (min-max)."""

    def cell(mean, bounds):
        return f"{mean:.1f} ({bounds[0]:.0f}-{bounds[1]:.0f})"

    lines = [
        "| task | variant | seeds | ordered probe | stage 1 | stage 2 | stage 3 | WAR | shuffled "
        "| runs with stage 3 < stage 2 | rare classes' recall (mean) | pass (on means) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        stage = [cell(r["stages"][s], r["stage_ranges"][s]) for s in (1, 2, 3)]
        rare = ", ".join(f"{k} {v:.0f}" for k, v in r["rare_recall"].items()) or "-"
        counted = not r["variant"] or r["variant"] == default_balance
        verdict = ("yes" if passes(r) else "**no**") if counted else ("(yes)" if passes(r) else "(no)")
        lines.append(
            f"| {r['task']} | {r['variant'] or '-'} | {len(r['seeds'])} "
            f"| {cell(r['ordered_probe'], r['ordered_probe_range'])} | {' | '.join(stage)} "
            f"| {cell(r['war'], r['war_range'])} | {cell(r['shuffled'], r['shuffled_range'])} "
            f"| {r['stage3_below_stage2']} of {len(r['seeds'])} | {rare} | {verdict} |"
        )
    failed = [r["task"] for r in rows if (not r["variant"] or r["variant"] == default_balance) and not passes(r)]
    lines.append(
        f"\nTasks failing the rule on the means over seeds: {', '.join(failed) or 'none'}. Variants in parentheses "
        f"are the imbalanced tasks' other --class_balance values (not counted)."
    )
    return "\n".join(lines)


# What a shipped config says of optimisation and schedule (its dataset, CLIP, sizes and hardware settings are not
# taken: the full-scale fold is the synthetic one, on the CPU).
OPTIMISATION = (
    "optim",
    "optim_args",
    "mat_learning_rate",
    "dynamic_learning_rate",
    "weight_decay",
    "stage_warmup_ratio",
    "jas_frozen_ratio",
    "jas_learning_rate_ratio",
    "stage_epochs",
    "per_device_train_batch_size",
    "class_balance",
    "logit_adjustment_tau",
    "stage3_realign_steps",
    "stage3_realign_learning_rate",
)
FULL_SCALE = {"train_per_class": 1337, "test_per_class": 334}  # 9,359 and 2,338 clips, DFEW's fold sizes


def config_flags(name: str) -> list[str]:
    """`train_bap.py` flags of a shipped config's optimisation and schedule; "defaults": batch 64 only."""
    import yaml

    if name == "defaults":
        return ["--per_device_train_batch_size", "64"]
    values = yaml.safe_load((ROOT / "configs" / f"{name}.yaml").read_text())
    flags = []
    for key in OPTIMISATION:
        if key in values:
            value = values[key]
            flags += [f"--{key}", *map(str, value)] if isinstance(value, list) else [f"--{key}", str(value)]
    return flags


def full_scale(work: Path, names: list[str], extra: list[str]) -> list[dict]:
    """The shipped configs at their real step count on a DFEW-sized synthetic fold (see the module docstring)."""
    from transformers import CLIPModel

    from a3lign.data import synthesize
    from a3lign.train.demo import small_clip_config

    work = work / "full_scale"
    data = work / "data"
    if not (data / "test.csv").exists():
        synthesize(data, FULL_SCALE["train_per_class"], FULL_SCALE["test_per_class"], seed=0)
    clip = work / "clip"
    if not (clip / "config.json").exists():
        torch.manual_seed(0)
        CLIPModel(small_clip_config()).save_pretrained(clip)
    # The shipped configs share one optimisation and schedule today: each distinct set of flags runs once.
    runs: dict[tuple, list[str]] = {}
    for name in names:
        runs.setdefault(tuple(config_flags(name)), []).append(name)
    results = []
    for same in runs.values():
        name = same[0]
        output = work / f"run_{name}"
        shutil.rmtree(output, ignore_errors=True)
        command = [
            sys.executable,
            str(ROOT / "train_bap.py"),
            "--dataset",
            "synthetic",
            "--data_root",
            str(data),
            "--clip_model",
            str(clip),
            "--num_frames",
            "16",
            "--image_size",
            "56",
            "--mat_sentences",
            "16",
            "--mat_tokens",
            "64",
            "--frame_cache_dir",
            str(work / "frame_cache"),
            "--test_views",
            "1x1",
            "--per_device_eval_batch_size",
            "256",
            "--save_strategy",
            "no",
            "--report_to",
            "none",
            "--dataloader_num_workers",
            "1",
            "--use_cpu",
            "true",
            "--disable_tqdm",
            "true",
            "--output_dir",
            str(output),
            *config_flags(name),
            *extra,
        ]
        log = work / f"train_{name}.log"
        started = time.time()
        with open(log, "w") as handle:
            done = subprocess.run(
                command, stdout=handle, stderr=subprocess.STDOUT, env=dict(os.environ, HF_HUB_OFFLINE="1")
            )
        if done.returncode:
            raise SystemExit(f"train_bap.py failed with {name}'s settings: see {log}")
        metrics = json.loads((output / "metrics.json").read_text())
        epochs = {int(k): v for k, v in metrics["epochs"].items()}
        switch = sum(metrics["stage_epochs"][:2])
        results.append(
            {
                "config": ", ".join(same),
                "flags": config_flags(name),
                "stages": {int(k): v["uar"] for k, v in metrics["per_stage"].items()},
                "final": metrics["uar"],
                "war": metrics["war"],
                "seconds": time.time() - started,
                "stage_seconds": metrics.get("stage_seconds"),
                "optim": metrics.get("optim"),
                "learning_rates": metrics.get("learning_rates"),
                "stage3_realignment": metrics.get("stage3_realignment"),
                "around_the_switch": {
                    e: epochs[e].get("eval_uar") for e in range(switch - 1, switch + 6) if e in epochs
                },
            }
        )
        r = results[-1]
        print(
            f"full scale, {r['config']}: stages {r['stages']} around the switch {r['around_the_switch']} "
            f"stage seconds {r['stage_seconds']} ({r['seconds']:.0f} s)",
            flush=True,
        )
    return results


def full_scale_table(results: list[dict]) -> str:
    lines = [
        "| settings | optimizer | stage 1 | stage 2 | stage 3 "
        "| UAR at the last epoch of stage 2 and the first five of "
        "stage 3 | seconds per stage (1 / 2 / 3) | stage 3 >= stage 2 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        around = " / ".join(f"{v:.1f}" for v in list(r["around_the_switch"].values())[1:7])
        seconds = " / ".join(f"{r['stage_seconds'].get(str(s), r['stage_seconds'].get(s, 0)):.0f}" for s in (1, 2, 3))
        stages = [f"{r['stages'].get(s, float('nan')):.1f}" for s in (1, 2, 3)]
        ok = "yes" if r["stages"].get(3, 0) >= r["stages"].get(2, 0) else "**no**"
        lines.append(f"| {r['config']} | {r['optim']} | {' | '.join(stages)} | {around} | {seconds} | {ok} |")
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="all", help="comma-separated task names (default: all)")
    parser.add_argument("--work", default="bench_recipe_work", help="folder for data, caches and runs")
    parser.add_argument("--output", help="JSON file for the results")
    parser.add_argument(
        "--balances",
        default=",".join(BALANCES),
        help="--class_balance values the imbalanced tasks run with (default: all three)",
    )
    parser.add_argument(
        "--default_balance",
        default=TrainingDataArguments.class_balance,
        help="the value whose runs the rule counts (default: the plain command's, %(default)s)",
    )
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (data and training); the rule on means")
    parser.add_argument("--full_scale", action="store_true", help="the shipped configs on a DFEW-sized fold instead")
    parser.add_argument("--configs", default="defaults,dfew,ferv39k,mafw", help="--full_scale: which settings")
    parser.add_argument("--flags", nargs=argparse.REMAINDER, default=[], help="extra train_bap.py flags (last)")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if args.full_scale:
        results = full_scale(Path(args.work), args.configs.split(","), args.flags)
        print("\n" + full_scale_table(results))
        if args.output:
            Path(args.output).write_text(json.dumps({"flags": args.flags, "full_scale": results}, indent=2))
        return results
    names = [t.name for t in ALL_TASKS] if args.tasks == "all" else args.tasks.split(",")
    results = []
    seeds = [int(s) for s in args.seeds.split(",")]
    for task, seed in ((t, s) for t in ALL_TASKS if t.name in names for s in seeds):
        variants = [(b, ["--class_balance", b]) for b in args.balances.split(",")] if task.rare else [("", [])]
        probes = None
        for variant, extra in variants:
            results.append(run_task(task, Path(args.work), [*extra, *args.flags], variant, probes, seed))
            r = results[-1]
            probes = {k: r[k] for k in ("averaged_ceiling", "ordered_probe")}
            print(
                f"{task.name}{' ' + variant if variant else ''} seed {seed}: stages {r['stages']} "
                f"stage 3 as trained {r['stage3_as_trained']} "
                f"WAR {r['war']:.1f} rare {r['rare_recall']} probe {r['ordered_probe']:.1f} "
                f"ceiling {r['averaged_ceiling']:.1f} "
                f"shuffled {r['shuffled']:.1f} ({r['seconds']:.0f} s) {'pass' if passes(r) else 'FAIL'}",
                flush=True,
            )
    print("\n" + table(results, args.default_balance))
    rows = over_seeds(results) if len(seeds) > 1 else []
    if rows:
        print("\n" + seeds_table(rows, args.default_balance))
    if args.output:
        payload = {"flags": args.flags, "seeds": seeds, "results": results, "over_seeds": rows}
        Path(args.output).write_text(json.dumps(payload, indent=2))
    return results


if __name__ == "__main__":
    main()
