"""What a training run leaves beside its model: metrics.json, a model card, a confusion-matrix PNG, a
training-curve PNG with the BAP stage boundaries marked, and the per-fold table of a five-fold run.

Everything here reads a run's figures (plain JSON-able values), never a live model.
"""

import json
import math
import os
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from .bap import stage_bounds  # noqa: E402


def epoch_history(log_history: list[dict]) -> dict[int, dict]:
    """Trainer's log history folded per epoch: `{epoch: {"loss", "eval_loss", "eval_uar", ...}}` (epochs from 1)."""
    epochs: dict[int, dict] = {}
    for entry in log_history:
        if "epoch" not in entry:
            continue
        epoch = max(1, math.ceil(round(entry["epoch"], 6)))
        epochs.setdefault(epoch, {}).update({k: v for k, v in entry.items() if isinstance(v, (int, float))})
    return epochs


def stage_results(history: dict[int, dict], stage_epochs: list[int], labels: list[str]) -> dict:
    """UAR / WAR (and per-class recall) at the last epoch of each stage that ran."""
    results = {}
    for stage in (1, 2, 3):
        _, end = stage_bounds(stage_epochs, stage)
        if stage_epochs[stage - 1] and "eval_uar" in history.get(end, {}):
            entry = history[end]
            results[stage] = {"epoch": end, "uar": entry["eval_uar"], "war": entry["eval_war"],
                              "recall": {name: entry.get(f"eval_recall_{name}") for name in labels}}
    return results


def plot_training_curves(history: dict[int, dict], stage_epochs: list[int], path: Path) -> None:
    """Losses and UAR / WAR per epoch; dashed lines where a BAP stage ends."""
    figure, (losses, recalls) = plt.subplots(1, 2, figsize=(11, 4))
    epochs = sorted(history)
    for key, label in (("loss", "train loss"), ("eval_loss", "test loss")):
        points = [(e, history[e][key]) for e in epochs if key in history[e]]
        if points:
            losses.plot(*zip(*points), marker="o", label=label)
    for key, label in (("eval_uar", "UAR"), ("eval_war", "WAR")):
        points = [(e, history[e][key]) for e in epochs if key in history[e]]
        if points:
            recalls.plot(*zip(*points), marker="o", label=label)
    boundary = 0
    for stage, count in enumerate(stage_epochs[:-1], 1):
        boundary += count
        for axis in (losses, recalls):
            axis.axvline(boundary + 0.5, color="grey", linestyle="--", linewidth=1)
        recalls.text(boundary + 0.5, 1, f" end of stage {stage}", rotation=90, va="bottom", fontsize=8, color="grey")
    losses.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    recalls.set(xlabel="epoch", ylabel="%", title="test UAR / WAR", ylim=(0, 100))
    for axis in (losses, recalls):
        axis.legend()
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_confusion_matrix(matrix: list[list[int]], labels: list[str], path: Path) -> None:
    """Row-normalised confusion matrix (rows: true class), with counts."""
    size = len(labels)
    figure, axis = plt.subplots(figsize=(1 + 0.7 * size, 1 + 0.6 * size))
    totals = [max(1, sum(row)) for row in matrix]
    normalised = [[value / total for value in row] for row, total in zip(matrix, totals)]
    axis.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    for i in range(size):
        for j in range(size):
            axis.text(j, i, str(matrix[i][j]), ha="center", va="center", fontsize=8,
                      color="white" if normalised[i][j] > 0.5 else "black")
    axis.set_xticks(range(size), labels, rotation=45, ha="right")
    axis.set_yticks(range(size), labels)
    axis.set(xlabel="predicted", ylabel="true")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def recall_table(result: dict, labels: list[str]) -> str:
    lines = ["| class | recall (%) |", "|---|---|"]
    lines += [f"| {name} | {value:.2f} |" for name, value in zip(labels, result["per_class_recall"])]
    return "\n".join(lines)


def skipped_line(run: dict) -> str:
    """What the readers left out, per split, and clips replaced after failing to decode during the run."""
    skipped = run.get("skipped") or {}
    parts = [f"{split} {count}" for split, count in skipped.items()]
    failures = run.get("decode_failures") or []
    if failures:
        parts.append(f"{len(failures)} replaced after failing to decode ({', '.join(f['clip_id'] for f in failures[:5])}"
                     f"{', ...' if len(failures) > 5 else ''})")
    return ", ".join(parts) or "none"


def results_table(run: dict) -> str:
    """UAR / WAR of the single (pipeline) view, and of multi-view testing beside it where computed."""
    lines = ["| test views | UAR (%) | WAR (%) |", "|---|---|---|",
             f"| 1 (the pipeline's) | {run['final']['uar']:.2f} | {run['final']['war']:.2f} |"]
    if run.get("multi_view"):
        multi = run["multi_view"]
        lines.append(f"| {multi['views']} (logits averaged) | {multi['uar']:.2f} | {multi['war']:.2f} |")
    return "\n".join(lines)


def write_model_card(path: Path, run: dict) -> None:
    """A model card: method, data, fold, schedule, final and best-epoch metrics, per-class recall."""
    final, best = run["final"], run.get("best_epoch")
    best_line = (
        f"Best epoch on the test split (reported beside, not selected): epoch {best['epoch']}, "
        f"UAR {best['uar']:.2f} / WAR {best['war']:.2f}." if best else ""
    )
    text = f"""---
library_name: transformers
pipeline_tag: video-classification
tags: [a3lign, dynamic-facial-expression-recognition, clip]
---

# A3lign-DFER: {run['dataset']}{f" fold {run['fold']}" if run.get('fold') else ""}

A3lign-DFER (Tao et al., arXiv 2403.04294): a frozen CLIP (`{run['clip_model']}`) with
Multi-Dimensional Alignment Tokens, text and video dynamic encoders and a Joint Dynamic Alignment
Synchronizer, trained with the three-stage Bidirectional Alignment Training Paradigm.

- Data: `{run['dataset']}` ({run['train_clips']} training clips, {run['test_clips']} test clips; skipped as
  invalid: {skipped_line(run)}).
- Stages: {run['stage_epochs'][0]} + {run['stage_epochs'][1]} + {run['stage_epochs'][2]} epochs; peak learning rates
  MAT {run['learning_rates']['mat']:g}, temporal modules {run['learning_rates']['dynamic']:g} (the JAS at
  {run['jas_learning_rate_ratio']:g}x that, after {run['jas_frozen_ratio']:.0%} of stage 3); optimizer `{run['optim']}`, batch {run['total_batch_size']}.
- LoRA on the CLIP towers: {run.get('lora') or 'none (CLIP frozen, as in the paper)'}.

## Results (last epoch; the model in this folder)

{results_table(run)}

{best_line}

{recall_table(final, run['labels'])}

![confusion matrix](confusion_matrix.png)
![training curves](training_curves.png)

## Use

```python
from transformers import pipeline
classify = pipeline("video-classification", model="path/to/this/folder", trust_remote_code=True)
classify("clip.mp4")
```
"""
    path.write_text(text)


def _json_safe(value):
    """NaN (the recall of a class absent from the test split) as null: JSON has no NaN."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_metrics(path: Path, run: dict) -> None:
    final = run["final"]
    payload = {
        "uar": final["uar"], "war": final["war"],
        "per_class_recall": dict(zip(run["labels"], final["per_class_recall"])),
        "confusion_matrix": final["confusion_matrix"], "num_test_clips": sum(map(sum, final["confusion_matrix"])),
        "multi_view": {k: multi[k] for k in ("views", "uar", "war", "per_class_recall")} if (multi := run.get("multi_view")) else None,
        "best_epoch": run.get("best_epoch"), "per_stage": run.get("per_stage"),
        "dataset": run["dataset"], "fold": run.get("fold"), "stage_epochs": run["stage_epochs"],
        "learning_rates": run.get("learning_rates"), "optim": run.get("optim"),
        "train_clips": run.get("train_clips"), "test_clips": run.get("test_clips"), "skipped": run.get("skipped"),
        "problems": run.get("problems"),
        "decode_failures": run.get("decode_failures") or [],
    }
    path.write_text(json.dumps(_json_safe(payload), indent=2))


def write_fold_table(output_dir: Path, folds: list[dict]) -> str:
    """Per-fold UAR / WAR of a 5-fold run (one figures dict per fold) with their mean and standard deviation,
    single view and multi-view where computed, as Markdown; also written to folds.md / folds.json."""
    columns = {"uar": [r["final"]["uar"] for r in folds], "war": [r["final"]["war"] for r in folds]}
    header = ["UAR (%)", "WAR (%)"]
    if all(r.get("multi_view") for r in folds):
        views = folds[0]["multi_view"]["views"]
        columns |= {f"{m}_{views}": [r["multi_view"][m] for r in folds] for m in ("uar", "war")}
        header += [f"UAR {views} views (%)", f"WAR {views} views (%)"]
    values = columns
    lines = [f"| fold | {' | '.join(header)} |", "|---" * (1 + len(columns)) + "|"]
    lines += [f"| {r['fold']} | " + " | ".join(f"{values[n][k]:.2f}" for n in columns) + " |" for k, r in enumerate(folds)]
    # Sample standard deviation over folds, as the field reports it.
    summary = {name: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0}
               for name, v in values.items()}
    lines.append("| mean ± std | " + " | ".join(f"{summary[n]['mean']:.2f} ± {summary[n]['std']:.2f}" for n in columns) + " |")
    table = "\n".join(lines)
    if int(os.environ.get("RANK", "0")) == 0:
        (output_dir / "folds.md").write_text(table + "\n")
        rows = [{"fold": r["fold"], **{n: values[n][k] for n in columns}} for k, r in enumerate(folds)]
        payload = {"folds": rows, "mean": {n: summary[n]["mean"] for n in columns},
                   "std": {n: summary[n]["std"] for n in columns}}
        (output_dir / "folds.json").write_text(json.dumps(payload, indent=2))
    return table
