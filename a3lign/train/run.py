"""One BAP training run (a dataset, a fold): model and data set-up, the Trainer, the run folder.

`a3lign train` (and the root `train_bap.py`) parses the arguments and calls `run_folds`; the tests and the
demo drive exactly these functions.
"""

import dataclasses
import json
import logging
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from transformers import TrainingArguments, set_seed

from .. import A3lignConfig, A3lignModel, A3lignVideoProcessor
from ..data import (
    ClipDataset,
    ClipView,
    DatasetArguments,
    DecodeFailures,
    multi_views,
    training_view,
)
from ..data.descriptions import descriptions_for
from .arguments import LORA_TOWERS, BAPArguments, ModelArguments, TrainingDataArguments
from .balance import class_prior
from .bap import STAGED_GROUPS, BAPTrainer, stage3_parameters, stage_at_epoch, unwrap
from .evaluation import evaluate_model, evaluate_zero_shot
from .frame_cache import CachedViews, build_cached_split, frame_embeddings
from .frame_statistics import evenly_spaced, set_frame_statistics_from
from .hub import HubPush, hub_repo_id
from .metrics import RecallMetrics
from .model_card import write_model_card
from .reporting import (
    epoch_history,
    plot_confusion_matrix,
    plot_training_curves,
    stage_results,
    write_fold_table,
    write_metrics,
)
from .summary import RunSummary

logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What one run produced.

    Attributes:
        summary: the run's summary (final, per-stage and best-epoch UAR / WAR, data and schedule), as
            `metrics.json` and the model card report it.
        model: the final model (LoRA adapters merged), where it trained.
        eval_dataset: the test split as the run evaluated it (decoded clips or cached frame embeddings).
        output_dir: the run folder (model and processor, metrics.json, model card, plots, checkpoints).
    """

    summary: RunSummary
    model: A3lignModel
    eval_dataset: torch.utils.data.Dataset
    output_dir: Path

    @property
    def figures(self) -> dict:
        """The summary as a dict (`RunSummary.to_dict`), keyed by field name."""
        return self.summary.to_dict()


def build_model(model_args: ModelArguments, id2label: dict[int, str], first_stage: int):
    """The A3lign model around the CLIP checkpoint, wrapped with LoRA adapters when `lora_r > 0`."""
    overrides = json.loads(model_args.config_overrides) if model_args.config_overrides else {}
    # An explicit --mat_init wins over config_overrides, as when the flag defaulted to None.
    if model_args.mat_init != A3lignConfig.mat_init or "mat_init" not in overrides:
        overrides["mat_init"] = model_args.mat_init
    descriptions = None
    if overrides.get("mat_init") == "text":
        descriptions = descriptions_for(list(id2label.values()), model_args.mat_descriptions)
    model = A3lignModel.from_clip_pretrained(
        model_args.clip_model,
        id2label=id2label,
        num_frames=model_args.num_frames,
        image_size=model_args.image_size,
        mat_sentences=model_args.mat_sentences,
        mat_tokens=model_args.mat_tokens,
        bap_stage=first_stage,
        mat_descriptions=descriptions,
        **overrides,
    )
    if model_args.lora_r <= 0:
        return model
    from peft import LoraConfig, get_peft_model

    towers = LORA_TOWERS[model_args.lora_target]
    lora = LoraConfig(
        r=model_args.lora_r,
        lora_alpha=model_args.lora_alpha,
        lora_dropout=model_args.lora_dropout,
        target_modules=rf"clip\.{towers}\.encoder\.layers\.\d+\.self_attn\.(q_proj|k_proj|v_proj|out_proj)",
        # The MAT, the dynamic encoders and the JAS train too: peft must save them beside the adapters.
        modules_to_save=list(STAGED_GROUPS),
    )
    return get_peft_model(model, lora)


def save_model_folder(model: A3lignModel, processor: A3lignVideoProcessor, folder) -> None:
    """The published folder: the model (config, safetensors, code, the pipeline that gives one result per clip) and the
    processor that feeds it, which must match it (crop = `image_size`, frames = `num_frames`)."""
    processor.check_matches(model.config)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)


@dataclass
class RunDatasets:
    """What a run trains and evaluates on: `train`, `test` (one view per clip, evaluated every epoch) and
    `multi_view_test` (the `--test_views` views per clip, for the final model; None for 1x1)."""

    train: torch.utils.data.Dataset
    test: torch.utils.data.Dataset
    multi_view_test: torch.utils.data.Dataset | None


def training_precision(training_args: TrainingArguments) -> torch.dtype | None:
    """The autocast dtype the run trains with (None: fp32)."""
    return torch.bfloat16 if training_args.bf16 else torch.float16 if training_args.fp16 else None


def cache_splits(
    model,
    processor,
    splits,
    data_args: TrainingDataArguments,
    training_args: TrainingArguments,
    failures: DecodeFailures | None = None,
    strict: bool = False,
):
    """Extract (what is missing) and open the frame caches of a run's two splits, on the model's device in the
    training precision: training views as the run draws them, the test split's single and multi views. A clip
    that fails to decode is stored as a class-mate's and recorded in `failures` (unless `strict`).
    `a3lign cache` calls exactly this, so a cache made ahead of time is the one training reads."""
    options = dict(
        seed=training_args.seed,
        dtype=training_precision(training_args),
        failures=failures,
        strict=strict,
        batch_size=training_args.per_device_eval_batch_size,
        num_workers=training_args.dataloader_num_workers,
    )
    training = training_view(data_args.train_random_segments, data_args.train_augment, data_args.train_flip)
    train = build_cached_split(
        data_args.frame_cache_dir,
        model,
        processor,
        splits["train"].clips,
        training_views=data_args.frame_cache_views,
        training=training,
        split="train",
        **options,
    )
    test = build_cached_split(
        data_args.frame_cache_dir,
        model,
        processor,
        splits["test"].clips,
        views=[ClipView(), *multi_views(data_args.test_views)],
        split="test",
        **options,
    )
    return train, test


def build_datasets(
    model,
    processor,
    splits,
    data_args: TrainingDataArguments,
    training_args: TrainingArguments,
    failures: DecodeFailures | None = None,
    strict: bool = False,
) -> RunDatasets:
    """Decoded clips, or cached frame embeddings (`--frame_cache_dir`). The frozen work (frame statistics, cache
    extraction) runs on the training device, in the training precision, batched. Sets the model's frame
    statistics. A clip that fails to decode is replaced by the next clip of its class and recorded in `failures`,
    unless `strict`."""
    model.to(training_args.device)
    # Recomputed on resume too: deterministic (same clips, views, precision), and a LoRA checkpoint holds only
    # adapters and the trained modules, not the statistics buffers.
    calibrate = model.config.frame_standardization
    views = multi_views(data_args.test_views)
    train_clips, test_clips = splits["train"].clips, splits["test"].clips
    calibration = evenly_spaced(len(train_clips), data_args.calibration_clips)
    if data_args.frame_cache_dir is None:

        def dataset(clips, split, views=ClipView()):
            return ClipDataset(clips, processor, views, failures=failures, strict=strict, split=split)

        if calibrate:
            subset = torch.utils.data.Subset(dataset(train_clips, "train"), calibration)
            loader = torch.utils.data.DataLoader(
                subset, training_args.per_device_eval_batch_size, num_workers=training_args.dataloader_num_workers
            )
            pixels = (batch["pixel_values_videos"] for batch in loader)
            set_frame_statistics_from(model, frame_embeddings(model, pixels, training_precision(training_args)))
        training = training_view(data_args.train_random_segments, data_args.train_augment, data_args.train_flip)
        return RunDatasets(
            dataset(train_clips, "train", training),
            dataset(test_clips, "test"),
            dataset(test_clips, "test", views) if views else None,
        )
    train, test = cache_splits(model, processor, splits, data_args, training_args, failures, strict)
    if calibrate:
        set_frame_statistics_from(model, (train.embeddings(i, 0) for i in calibration))
    return RunDatasets(
        CachedViews(train, training=True),
        CachedViews(test),
        CachedViews(test, views=slice(1, 1 + len(views))) if views else None,
    )


def check_output_dir(training_args: TrainingArguments) -> Path:
    """Before any work: the run folder can be written, and it holds no finished run (`metrics.json`) unless
    `--overwrite_output_dir` or the run resumes from a checkpoint (it then finishes that run)."""
    output_dir = Path(training_args.output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=output_dir).close()
    except OSError as error:
        raise ValueError(f"output_dir '{output_dir}' cannot be written: {error.strerror or error}") from error
    finished = (output_dir / "metrics.json").exists()
    if finished and not training_args.overwrite_output_dir and not training_args.resume_from_checkpoint:
        raise ValueError(
            f"output_dir '{output_dir}' holds a finished run (metrics.json): pass --overwrite_output_dir "
            "true to replace it, or choose another --output_dir"
        )
    return output_dir


def check_checkpoint(checkpoint) -> None:
    """A checkpoint to resume from exists and its safetensors files read (a truncated one is named)."""
    folder = Path(checkpoint)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"checkpoint '{folder}' does not exist (--resume_from_checkpoint expects a checkpoint folder)"
        )
    for file in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(file), framework="pt") as handle:
                handle.keys()
        except Exception as error:  # safetensors raises its own SafetensorError
            raise ValueError(f"checkpoint file '{file}' cannot be read (truncated or damaged?): {error}") from error


def prepare_hub(training_args: TrainingArguments) -> tuple[HubPush | None, TrainingArguments]:
    """With `--push_to_hub`: the Hub repository, created before any work (token, name and network checked), and the
    training arguments without `push_to_hub` (the run pushes once, at the end); else None and the arguments."""
    if not training_args.push_to_hub:
        return None, training_args
    hub = HubPush(
        hub_repo_id(training_args),
        training_args.hub_token,
        training_args.hub_private_repo,
        training_args.hub_revision,
    )
    if training_args.process_index == 0:
        hub.create()  # before any work: token, name and network checked
    return hub, dataclasses.replace(training_args, push_to_hub=False)  # pushed once, at the end, by `hub`


def load_run_splits(dataset_args: DatasetArguments, fold: str | None) -> dict:
    """The fold's train and test splits, validated and logged; an empty split stops the run."""
    splits = dataset_args.load_splits(fold)  # validated, train/test overlap reported; --strict fails on problems
    for report in splits.values():
        logger.info(report.format())
        if not report.clips:
            raise ValueError(
                f"the {report.split} split of {dataset_args.dataset} has no valid clips: nothing to "
                f"{'train on' if report.split == 'train' else 'evaluate'}\n{report.format()}"
            )
    return splits


def fresh_decode_failures(output_dir: Path, training_args: TrainingArguments) -> DecodeFailures:
    """The run's record of clips that fail to decode, emptied of another run's (kept when resuming)."""
    failures = DecodeFailures(output_dir / "decode_failures.jsonl")
    if training_args.process_index == 0 and not training_args.resume_from_checkpoint and failures.path.exists():
        failures.path.unlink()  # another run's record
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()  # no rank records a failure before the old record is gone
    return failures


def run_datasets(
    model,
    processor,
    splits,
    model_args: ModelArguments,
    data_args: TrainingDataArguments,
    training_args: TrainingArguments,
    failures: DecodeFailures,
    strict: bool,
) -> RunDatasets:
    """The run's datasets (`build_datasets`: frame statistics, then clips or the frame cache), once the frame cache
    is known to fit the model (a frozen vision tower)."""
    if data_args.frame_cache_dir and not model_args.vision_tower_frozen:
        raise ValueError("--frame_cache_dir needs a frozen vision tower: vision LoRA adapters change its output")
    return build_datasets(unwrap(model), processor, splits, data_args, training_args, failures, strict)


def build_trainer(
    model,
    processor,
    datasets: RunDatasets,
    train_labels: list[int],
    prior: list[float],
    metrics: RecallMetrics,
    data_args: TrainingDataArguments,
    bap_args: BAPArguments,
    training_args: TrainingArguments,
) -> BAPTrainer:
    """The BAP Trainer over all stages' epochs (the processor travels with every checkpoint)."""
    training_args.num_train_epochs = bap_args.total_epochs
    training_args.max_steps = -1
    return BAPTrainer(  # the processor travels with every checkpoint (processing_class)
        model=model,
        args=training_args,
        bap=bap_args,
        compute_metrics=metrics,
        processing_class=processor,
        train_dataset=datasets.train,
        eval_dataset=datasets.test,
        class_balance=data_args.class_balance,
        train_labels=train_labels,
        class_prior=prior,
        logit_adjustment_tau=data_args.logit_adjustment_tau,
    )


def evaluate_before_training(
    model, trainer: BAPTrainer, datasets: RunDatasets, training_args: TrainingArguments
) -> dict | None:
    """With a MAT started from text, the model as built (CLIP's zero-shot classifier of the descriptions) on the test
    split, on the first process; else None."""
    if unwrap(model).config.mat_init != "text" or not trainer.is_world_process_zero():
        return None
    # Before any step: the model as built is CLIP's zero-shot classifier of the descriptions (stage 0).
    zero_shot = evaluate_zero_shot(
        unwrap(model),
        datasets.test,
        training_args.per_device_eval_batch_size,
        training_args.dataloader_num_workers,
        precision=training_precision(training_args),
    )
    logger.info("before training (zero-shot): UAR %.2f  WAR %.2f", zero_shot["uar"], zero_shot["war"])
    return zero_shot


def train_stages(trainer: BAPTrainer, metrics: RecallMetrics, training_args: TrainingArguments) -> None:
    """Train through the stages and evaluate the final weights."""
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    evaluated_last = any(
        "eval_uar" in e and e.get("step") == trainer.state.global_step for e in trainer.state.log_history
    )
    if metrics.last is None or not evaluated_last:
        # The result is the final weights' evaluation, whatever the eval schedule, and also when the run
        # resumed from its last checkpoint (its history holds the evaluation, this process does not).
        trainer.evaluate()


def final_weights(trainer: BAPTrainer, model_args: ModelArguments) -> A3lignModel:
    """The trained model, LoRA adapters merged into CLIP."""
    return unwrap(trainer.model.merge_and_unload() if model_args.lora_r > 0 else trainer.model)


def evaluate_multi_view(
    final_model, trainer: BAPTrainer, datasets: RunDatasets, data_args: TrainingDataArguments, training_args
) -> dict | None:
    """The final model on every test view of each clip (logits averaged), on the first process; None for 1x1."""
    if datasets.multi_view_test is None or not trainer.is_world_process_zero():
        return None
    multi_view = evaluate_model(
        final_model,
        datasets.multi_view_test,
        training_args.per_device_eval_batch_size,
        training_args.dataloader_num_workers,
        precision=training_precision(training_args),
    )
    multi_view["views"] = data_args.test_views
    logger.info("multi-view (%s): UAR %.2f  WAR %.2f", data_args.test_views, multi_view["uar"], multi_view["war"])
    return multi_view


def evaluate_stage3_as_trained(
    trainer: BAPTrainer, datasets: RunDatasets, training_args: TrainingArguments
) -> dict | None:
    """With `stage3_swa` or `stage3_interpolation` under 1, stage 3's last weights as trained (before either) on the
    test split, beside the final model's figures; on the first process; else None. Before LoRA adapters are merged:
    the weights are named as in training."""
    trained = trainer.bap_callback.stage3_trained
    if trained is None or not trainer.is_world_process_zero():
        return None
    model = trainer.model
    params = stage3_parameters(model)
    final = {name: param.detach().clone() for name, param in params.items()}
    with torch.no_grad():
        for name, param in params.items():
            param.copy_(trained[name])
    unwrap(model)._class_cache = None
    try:
        as_trained = evaluate_model(
            model,
            datasets.test,
            training_args.per_device_eval_batch_size,
            training_args.dataloader_num_workers,
            precision=training_precision(training_args),
        )
    finally:
        with torch.no_grad():
            for name, param in params.items():
                param.copy_(final[name])
        unwrap(model)._class_cache = None
    logger.info(
        "stage 3 as trained (before SWA or interpolation): UAR %.2f  WAR %.2f", as_trained["uar"], as_trained["war"]
    )
    return as_trained


def summarise(
    *,
    model_args: ModelArguments,
    dataset_args: DatasetArguments,
    data_args: TrainingDataArguments,
    bap_args: BAPArguments,
    training_args: TrainingArguments,
    fold: str | None,
    output_dir: Path,
    hub: HubPush | None,
    splits: dict,
    prior: list[float],
    model,
    final_model: A3lignModel,
    trainer: BAPTrainer,
    metrics: RecallMetrics,
    history: dict[int, dict],
    zero_shot: dict | None,
    multi_view: dict | None,
    failures: DecodeFailures,
    stage3_as_trained: dict | None,
) -> RunSummary:
    """The run's summary: data, schedule and set-up, and its figures (final, multi-view, zero-shot, per stage,
    best epoch, per epoch)."""
    labels = metrics.labels
    evaluated = {e: h for e, h in history.items() if "eval_uar" in h}
    best = max(evaluated.items(), key=lambda item: item[1]["eval_uar"], default=None)
    return RunSummary(
        name=(hub.repo_id if hub else str(output_dir.absolute())).rstrip("/").rsplit("/", 1)[-1],
        hub_model_id=hub.repo_id if hub else None,
        num_frames=final_model.config.num_frames,
        dataset=dataset_args.dataset,
        fold=fold,
        clip_model=model_args.clip_model,
        labels=labels,
        train_clips=len(splits["train"].clips),
        test_clips=len(splits["test"].clips),
        class_prior=dict(zip(labels, prior)),
        class_balance=data_args.class_balance,
        logit_adjustment_tau=data_args.logit_adjustment_tau if data_args.class_balance == "logit_adjustment" else None,
        skipped={split: report.listed - len(report.clips) for split, report in splits.items()},
        problems={split: dict(Counter(kind for kind, *_ in report.problems)) for split, report in splits.items()},
        stage_epochs=bap_args.stage_epochs,
        learning_rates=bap_args.learning_rates(training_args.optim),
        jas_frozen_ratio=bap_args.jas_frozen_ratio,
        jas_learning_rate_ratio=bap_args.jas_learning_rate_ratio,
        optim=str(getattr(training_args.optim, "value", training_args.optim))
        + (f" ({training_args.optim_args})" if training_args.optim_args else ""),
        total_batch_size=training_args.per_device_train_batch_size
        * training_args.gradient_accumulation_steps
        * max(1, training_args.world_size),
        lora=f"r={model_args.lora_r} on {model_args.lora_target} (merged)" if model_args.lora_r > 0 else None,
        final=metrics.last,
        multi_view=multi_view,
        decode_failures=failures.read(),
        mat_init=unwrap(model).config.mat_init,
        zero_shot=zero_shot,
        best_epoch={"epoch": best[0], "uar": best[1]["eval_uar"], "war": best[1]["eval_war"]} if best else None,
        per_stage=stage_results(history, bap_args.stage_epochs, labels),
        epochs={
            epoch: {k: entry[k] for k in ("loss", "eval_loss", "eval_uar", "eval_war") if k in entry}
            for epoch, entry in history.items()
        },
        stage_seconds=dict(trainer.bap_callback.stage_seconds),
        stage3_realignment=trainer.bap_callback.realignment,
        stage3_as_trained=stage3_as_trained,
        bap=asdict(bap_args),
    )


def write_run_folder(
    output_dir: Path, final_model: A3lignModel, processor, summary: RunSummary, history: dict[int, dict]
) -> None:
    """The run folder: model and processor, metrics.json, the model card, the confusion matrix and training curves."""
    save_model_folder(final_model, processor, output_dir)
    write_metrics(output_dir / "metrics.json", summary)
    write_model_card(output_dir / "README.md", summary)
    plot_confusion_matrix(summary.final["confusion_matrix"], summary.labels, output_dir / "confusion_matrix.png")
    plot_training_curves(history, summary.stage_epochs, output_dir / "training_curves.png")
    logger.info("UAR %.2f  WAR %.2f (last epoch) -> %s", summary.final["uar"], summary.final["war"], output_dir)


def push(hub: HubPush, output_dir: Path, summary: RunSummary) -> None:
    """Upload the run folder to its Hub repository, the final UAR in the commit message."""
    where = f"{summary.dataset}{f' fold {summary.fold}' if summary.fold else ''}"
    message = f"A3lign-DFER on {where}: UAR {summary.final['uar']:.2f}"
    logger.info("pushed to the Hub: %s", hub.upload(output_dir, message))


def run_bap(
    model_args: ModelArguments,
    dataset_args: DatasetArguments,
    data_args: TrainingDataArguments,
    bap_args: BAPArguments,
    training_args: TrainingArguments,
    fold: str | None = None,
) -> RunResult:
    """Train one fold through the BAP stages and write the run folder."""
    output_dir = check_output_dir(training_args)
    if training_args.resume_from_checkpoint:
        check_checkpoint(training_args.resume_from_checkpoint)
    hub, training_args = prepare_hub(training_args)
    set_seed(training_args.seed)  # the fresh parts' initialisation too, not only the Trainer's loop
    splits = load_run_splits(dataset_args, fold)
    failures = fresh_decode_failures(output_dir, training_args)
    id2label = splits["train"].id2label
    model = build_model(model_args, id2label, first_stage=stage_at_epoch(bap_args.stage_epochs, 0))
    processor = A3lignVideoProcessor.from_model_config(unwrap(model).config)
    datasets = run_datasets(
        model, processor, splits, model_args, data_args, training_args, failures, dataset_args.strict
    )
    metrics = RecallMetrics(list(id2label.values()))
    train_labels = [clip.label for clip in splits["train"].clips]  # the datasets' order
    prior = class_prior(train_labels, len(id2label))
    trainer = build_trainer(
        model, processor, datasets, train_labels, prior, metrics, data_args, bap_args, training_args
    )
    zero_shot = evaluate_before_training(model, trainer, datasets, training_args)
    train_stages(trainer, metrics, training_args)
    stage3_as_trained = evaluate_stage3_as_trained(trainer, datasets, training_args)
    final_model = final_weights(trainer, model_args)
    history = epoch_history(trainer.state.log_history)
    multi_view = evaluate_multi_view(final_model, trainer, datasets, data_args, training_args)
    summary = summarise(
        model_args=model_args,
        dataset_args=dataset_args,
        data_args=data_args,
        bap_args=bap_args,
        training_args=training_args,
        fold=fold,
        output_dir=output_dir,
        hub=hub,
        splits=splits,
        prior=prior,
        model=model,
        final_model=final_model,
        trainer=trainer,
        metrics=metrics,
        history=history,
        zero_shot=zero_shot,
        multi_view=multi_view,
        failures=failures,
        stage3_as_trained=stage3_as_trained,
    )
    if trainer.is_world_process_zero():
        write_run_folder(output_dir, final_model, processor, summary, history)
        if hub:
            push(hub, output_dir, summary)
    return RunResult(summary=summary, model=final_model, eval_dataset=datasets.test, output_dir=output_dir)


def run_folds(
    model_args: ModelArguments,
    dataset_args: DatasetArguments,
    data_args: TrainingDataArguments,
    bap_args: BAPArguments,
    training_args: TrainingArguments,
    folds: list[str | None],
) -> list[RunResult]:
    """One run per fold; several folds go to `<output_dir>/fold_K/` with a per-fold and mean table
    (folds.md, folds.json) in `output_dir`."""
    root = Path(training_args.output_dir)
    if len(folds) > 1 and training_args.resume_from_checkpoint:
        raise ValueError(
            f"--resume_from_checkpoint {training_args.resume_from_checkpoint} names one fold's checkpoint: "
            "resume each fold on its own (--fold K --output_dir <output_dir>/fold_K)"
        )
    runs = []
    for fold in folds:
        args = training_args
        if len(folds) > 1:  # each fold its own folder, and its own Hub repository with --push_to_hub
            hub_model_id = hub_repo_id(training_args, fold, several_folds=True) if training_args.push_to_hub else None
            args = dataclasses.replace(training_args, output_dir=str(root / f"fold_{fold}"), hub_model_id=hub_model_id)
        runs.append(run_bap(model_args, dataset_args, data_args, bap_args, args, fold=fold))
    if len(folds) > 1:
        logger.info("folds of %s:\n%s", dataset_args.dataset, write_fold_table(root, [run.summary for run in runs]))
    return runs
