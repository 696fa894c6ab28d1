from a3lign.train.summary import RunSummary


def run_summary(**overrides) -> RunSummary:
    """A run's summary for the tests of what reads one: a two-class run of every field, changed by `overrides`."""
    fields = {
        "name": "run",
        "hub_model_id": None,
        "num_frames": 16,
        "dataset": "csv",
        "fold": None,
        "clip_model": "openai/clip-vit-base-patch32",
        "labels": ["Happy", "Sad"],
        "train_clips": 10,
        "test_clips": 4,
        "class_prior": {"Happy": 0.5, "Sad": 0.5},
        "class_balance": "none",
        "logit_adjustment_tau": None,
        "skipped": {"train": 0, "test": 0},
        "problems": {"train": {}, "test": {}},
        "stage_epochs": [1, 1, 1],
        "learning_rates": {"mat": 1e-3, "dynamic": 1e-2},
        "jas_frozen_ratio": 0.3,
        "jas_learning_rate_ratio": 0.1,
        "optim": "adamw_torch",
        "total_batch_size": 8,
        "lora": None,
        "final": {"uar": 50.0, "war": 50.0, "per_class_recall": [50.0, 50.0], "confusion_matrix": [[1, 1], [1, 1]]},
        "multi_view": None,
        "decode_failures": [],
        "mat_init": "random",
        "zero_shot": None,
        "best_epoch": None,
        "per_stage": {},
        "epochs": {},
        "stage_seconds": {},
        "stage3_realignment": None,
        "stage3_as_trained": None,
        "bap": {},
    }
    return RunSummary(**(fields | overrides))
