"""Metrics: the DFER recall module (UAR, WAR, per-class recall, confusion matrix), loaded by path."""

from pathlib import Path

import evaluate

DFER_RECALL_PATH = str(Path(__file__).parent / "dfer_recall")


def load_dfer_recall() -> evaluate.EvaluationModule:
    """The local `evaluate` module; `evaluate.load("accuracy")` would need the hub."""
    return evaluate.load(DFER_RECALL_PATH)
