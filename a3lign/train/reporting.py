"""What a training run leaves beside its model: metrics.json, a confusion-matrix PNG, a training-curve PNG with the
BAP stage boundaries marked, and the per-fold table of a five-fold run (the model card: `model_card.py`).

Everything here reads a run's summary (`RunSummary`: plain JSON-able values), never a live model.
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
from .summary import RunSummary  # noqa: E402


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
            results[stage] = {
                "epoch": end,
                "uar": entry["eval_uar"],
                "war": entry["eval_war"],
                "recall": {name: entry.get(f"eval_recall_{name}") for name in labels},
            }
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
            axis.text(
                j,
                i,
                str(matrix[i][j]),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if normalised[i][j] > 0.5 else "black",
            )
    axis.set_xticks(range(size), labels, rotation=45, ha="right")
    axis.set_yticks(range(size), labels)
    axis.set(xlabel="predicted", ylabel="true")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _json_safe(value):
    """NaN (the recall of a class absent from the test split) as null: JSON has no NaN."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_metrics(path: Path, run: RunSummary) -> None:
    """The run's `metrics.json`: the final figures first, then multi-view, per-stage and best-epoch figures, the data
    and the schedule (NaN as null)."""
    final = run.final
    payload = {
        "uar": final["uar"],
        "war": final["war"],
        "per_class_recall": dict(zip(run.labels, final["per_class_recall"])),
        "confusion_matrix": final["confusion_matrix"],
        "num_test_clips": sum(map(sum, final["confusion_matrix"])),
        "multi_view": {k: multi[k] for k in ("views", "uar", "war", "per_class_recall")}
        if (multi := run.multi_view)
        else None,
        "best_epoch": run.best_epoch,
        "per_stage": run.per_stage,
        "epochs": run.epochs,
        "stage_seconds": run.stage_seconds,
        "stage3_realignment": run.stage3_realignment,
        "stage3_as_trained": {
            "uar": as_trained["uar"],
            "war": as_trained["war"],
            "per_class_recall": dict(zip(run.labels, as_trained["per_class_recall"])),
        }
        if (as_trained := run.stage3_as_trained)
        else None,
        "dataset": run.dataset,
        "fold": run.fold,
        "stage_epochs": run.stage_epochs,
        "learning_rates": run.learning_rates,
        "optim": run.optim,
        "train_clips": run.train_clips,
        "test_clips": run.test_clips,
        "skipped": run.skipped,
        "problems": run.problems,
        "zero_shot": {k: zero[k] for k in ("uar", "war", "per_class_recall")} if (zero := run.zero_shot) else None,
        "mat_init": run.mat_init,
        "class_prior": run.class_prior,
        "class_balance": run.class_balance,
        "logit_adjustment_tau": run.logit_adjustment_tau,
        "decode_failures": run.decode_failures or [],
    }
    path.write_text(json.dumps(_json_safe(payload), indent=2))


def write_fold_table(output_dir: Path, folds: list[RunSummary]) -> str:
    """Per-fold UAR / WAR of a 5-fold run (one summary per fold) with their mean and standard deviation,
    single view and multi-view where computed, as Markdown; also written to folds.md / folds.json."""
    columns = {"uar": [r.final["uar"] for r in folds], "war": [r.final["war"] for r in folds]}
    header = ["UAR (%)", "WAR (%)"]
    if all(r.zero_shot for r in folds):  # the "before training" figures: CLIP's zero-shot classifier
        columns = {f"zero_shot_{m}": [r.zero_shot[m] for r in folds] for m in ("uar", "war")} | columns
        header = ["zero-shot UAR (%)", "zero-shot WAR (%)", *header]
    if all(r.multi_view for r in folds):
        views = folds[0].multi_view["views"]
        columns |= {f"{m}_{views}": [r.multi_view[m] for r in folds] for m in ("uar", "war")}
        header += [f"UAR {views} views (%)", f"WAR {views} views (%)"]
    values = columns
    lines = [f"| fold | {' | '.join(header)} |", "|---" * (1 + len(columns)) + "|"]
    lines += [
        f"| {r.fold} | " + " | ".join(f"{values[n][k]:.2f}" for n in columns) + " |" for k, r in enumerate(folds)
    ]
    # Sample standard deviation over folds, as the field reports it.
    summary = {
        name: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0}
        for name, v in values.items()
    }
    lines.append(
        "| mean ± std | " + " | ".join(f"{summary[n]['mean']:.2f} ± {summary[n]['std']:.2f}" for n in columns) + " |"
    )
    table = "\n".join(lines)
    if int(os.environ.get("RANK", "0")) == 0:
        (output_dir / "folds.md").write_text(table + "\n")
        rows = [{"fold": r.fold, **{n: values[n][k] for n in columns}} for k, r in enumerate(folds)]
        payload = {
            "folds": rows,
            "mean": {n: summary[n]["mean"] for n in columns},
            "std": {n: summary[n]["std"] for n in columns},
        }
        (output_dir / "folds.json").write_text(json.dumps(payload, indent=2))
    return table
