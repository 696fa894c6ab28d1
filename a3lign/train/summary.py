"""A run's summary: what one BAP run (a dataset, a fold) measured and how it was set up, typed.

`run_bap` builds it once; `metrics.json`, the model card and the five-fold table read its attributes, so a renamed
field fails where the summary is built (a `TypeError`), not in another file at the end of a run.
"""

from dataclasses import dataclass, fields
from typing import Any

# Where JSON turns integer keys (epochs, stages) into strings: `from_dict` turns them back.
_INT_KEYED = ("per_stage", "epochs", "stage_seconds")


@dataclass
class RunSummary:
    """One run's figures and set-up. UAR, WAR and recalls are in percent on the test split; "views" name a
    multi-view grid such as "2x2".

    Attributes:
        name: the run's name: the last part of its Hub repository id, else of its output folder.
        hub_model_id: the Hub repository the run is pushed to (`owner/name`); None without `--push_to_hub`.
        num_frames: frames the model reads per clip.
        dataset: the dataset flag (`dfew`, `ferv39k`, `mafw`, `csv`, `synthetic`, ...).
        fold: the fold trained and tested (a string, "1" to "5"); None for datasets without folds.
        clip_model: the CLIP checkpoint the model was built around (Hub id or folder).
        labels: class names, in the model's label order.
        train_clips: valid clips in the training split.
        test_clips: valid clips in the test split.
        class_prior: each class's share of the training clips (a fraction in [0, 1]), by class name.
        class_balance: the class-balance option (`none`, `balanced_sampling`, `logit_adjustment`).
        logit_adjustment_tau: the logit adjustment's temperature; None unless `class_balance` is `logit_adjustment`.
        skipped: clips the readers left out as invalid, per split (`{"train": n, "test": n}`).
        problems: the readers' problems per split, counted by kind (`{split: {kind: n}}`).
        stage_epochs: epochs of BAP stages 1, 2 and 3.
        learning_rates: peak learning rates `{"mat", "dynamic"}` (the MAT's and the dynamic encoders').
        jas_frozen_ratio: fraction of stage 3's steps during which the JAS stays frozen.
        jas_learning_rate_ratio: the JAS's peak learning rate over the dynamic encoders'.
        optim: the optimizer's name, with its arguments in parentheses where given.
        total_batch_size: clips per optimizer step (per-device batch x gradient accumulation x processes).
        lora: the LoRA adapters on the CLIP towers, in words ("r=8 on vision (merged)"); None without LoRA.
        final: the last epoch's evaluation (the model of the run folder): `uar`, `war`, `per_class_recall`
            (a list in label order), `confusion_matrix` (counts; rows true class, columns predicted), ...
        multi_view: the final model on `views` views per test clip (logits averaged): `views`, `uar`, `war`,
            `per_class_recall`, ...; None for single-view testing, or on other ranks than the first.
        decode_failures: clips replaced after failing to decode during the run, one dict each (`clip_id`, ...).
        mat_init: how the MAT started: `random` (normal draws) or `text` (from the classes' descriptions).
        zero_shot: the model before any step (CLIP's zero-shot classifier of the descriptions): `uar`, `war`,
            `per_class_recall`, ...; None unless the MAT started from text, or on other ranks than the first.
        best_epoch: the evaluated epoch of highest UAR, `{"epoch", "uar", "war"}` (reported, not selected); None
            without evaluations.
        per_stage: the evaluation at the last epoch of each stage that ran, `{stage: {"epoch", "uar", "war",
            "recall": {class: recall}}}`.
        epochs: per epoch (from 1), what was logged of `loss`, `eval_loss` (cross-entropy), `eval_uar`, `eval_war`.
        stage_seconds: wall-clock seconds spent in each stage (evaluations included), `{stage: seconds}`.
        stage3_realignment: the cosine of the MAT's class path to stage 2's class embeddings before and after
            the re-alignment at the switch to stage 3, `(before, after)`; None where it did not run.
        stage3_as_trained: with `stage3_swa` or `stage3_interpolation` under 1, stage 3's last weights before either,
            on the test split (`uar`, `war`, `per_class_recall`, ...), beside `final` (after them); else None.
        bap: every BAP argument of the run (`BAPArguments` as a dict).
    """

    name: str
    hub_model_id: str | None
    num_frames: int
    dataset: str
    fold: str | None
    clip_model: str
    labels: list[str]
    train_clips: int
    test_clips: int
    class_prior: dict[str, float]
    class_balance: str
    logit_adjustment_tau: float | None
    skipped: dict[str, int]
    problems: dict[str, dict[str, int]]
    stage_epochs: list[int]
    learning_rates: dict[str, float]
    jas_frozen_ratio: float
    jas_learning_rate_ratio: float
    optim: str
    total_batch_size: int
    lora: str | None
    final: dict[str, Any]
    multi_view: dict[str, Any] | None
    decode_failures: list[dict]
    mat_init: str
    zero_shot: dict[str, Any] | None
    best_epoch: dict[str, Any] | None
    per_stage: dict[int, dict[str, Any]]
    epochs: dict[int, dict[str, float]]
    stage_seconds: dict[int, float]
    stage3_realignment: tuple[float, float] | None
    stage3_as_trained: dict[str, Any] | None
    bap: dict[str, Any]

    def to_dict(self) -> dict:
        """The fields as a dict, in their order (the values themselves, not copies)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    @classmethod
    def from_dict(cls, data: dict) -> "RunSummary":
        """The summary of `to_dict()`, also once through JSON (integer keys back from strings, the re-alignment a
        tuple again). A missing or unknown key is a `TypeError`."""
        data = dict(data)
        for name in _INT_KEYED:
            if isinstance(data.get(name), dict):
                data[name] = {int(key): value for key, value in data[name].items()}
        if data.get("stage3_realignment") is not None:
            data["stage3_realignment"] = tuple(data["stage3_realignment"])
        return cls(**data)
