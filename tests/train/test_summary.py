"""The run summary: a typed record whose dict is the one `run_bap` always gave, and which refuses a missing or
renamed field when it is built, not where another module reads it."""

import json

import pytest

from a3lign.train.summary import RunSummary

from . import run_summary


def test_the_summary_round_trips_through_json_and_refuses_a_missing_field():
    summary = run_summary(
        fold="2",
        multi_view={"views": "2x2", "uar": 55.0, "war": 60.0, "per_class_recall": [50.0, 60.0]},
        per_stage={1: {"epoch": 1, "uar": 40.0, "war": 45.0, "recall": {"Happy": 30.0, "Sad": 50.0}}},
        epochs={1: {"loss": 1.5, "eval_uar": 40.0}, 2: {"loss": 1.2}},
        stage_seconds={1: 12.5, 3: 4.0},
        stage3_realignment=(-0.11, 0.92),
        bap={"stage_epochs": [1, 1, 1], "jas_frozen_ratio": 0.3},
    )
    data = summary.to_dict()
    assert list(data) == [
        "name",
        "hub_model_id",
        "num_frames",
        "dataset",
        "fold",
        "clip_model",
        "labels",
        "train_clips",
        "test_clips",
        "class_prior",
        "class_balance",
        "logit_adjustment_tau",
        "skipped",
        "problems",
        "stage_epochs",
        "learning_rates",
        "jas_frozen_ratio",
        "jas_learning_rate_ratio",
        "optim",
        "total_batch_size",
        "lora",
        "final",
        "multi_view",
        "decode_failures",
        "mat_init",
        "zero_shot",
        "best_epoch",
        "per_stage",
        "epochs",
        "stage_seconds",
        "stage3_realignment",
        "stage3_as_trained",
        "bap",
    ]
    assert RunSummary.from_dict(json.loads(json.dumps(data))) == summary
    missing = {k: v for k, v in data.items() if k != "final"}
    with pytest.raises(TypeError, match="final"):
        RunSummary(**missing)
    with pytest.raises(TypeError, match="final_figures"):  # a renamed key
        RunSummary.from_dict(missing | {"final_figures": data["final"]})
