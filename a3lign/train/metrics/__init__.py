"""Metrics: the DFER recall module (UAR, WAR, per-class recall, confusion matrix), loaded by path, and the
Trainer's `compute_metrics` built on it."""

from pathlib import Path

import evaluate
import numpy as np

DFER_RECALL_PATH = str(Path(__file__).parent / "dfer_recall")


def load_dfer_recall() -> evaluate.EvaluationModule:
    """The local `evaluate` module; `evaluate.load("accuracy")` would need the hub."""
    return evaluate.load(DFER_RECALL_PATH)


class RecallMetrics:
    """`compute_metrics` for Trainer: UAR, WAR and per-class recall; keeps the last full result
    (with the confusion matrix) for the run's outputs."""

    def __init__(self, labels: list[str]):
        self.labels = labels
        self.metric = load_dfer_recall()
        self.last = None

    def __call__(self, prediction) -> dict:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        self.last = self.metric.compute(
            predictions=np.asarray(logits).argmax(-1), references=prediction.label_ids, num_classes=len(self.labels)
        )
        recalls = {f"recall_{name}": value for name, value in zip(self.labels, self.last["per_class_recall"])}
        return {"uar": self.last["uar"], "war": self.last["war"], **recalls, "clips": int(len(prediction.label_ids))}
