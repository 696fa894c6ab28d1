"""One BAP training run (a dataset, a fold): model and data set-up, the Trainer, the run folder.

`a3lign train` (and the root `train_bap.py`) parses the arguments and calls `run_folds`; the tests and the
demo drive exactly these functions.
"""

import dataclasses
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import TrainingArguments, set_seed

from .. import A3lignModel, A3lignVideoProcessor
from ..data import ClipDataset, DatasetArguments
from .arguments import LORA_TOWERS, BAPArguments, ModelArguments, TrainingDataArguments
from .bap import BAPTrainer, stage_at_epoch, unwrap
from .frame_statistics import evenly_spaced, pixel_frame_batches, set_frame_statistics_from
from .metrics import RecallMetrics
from .reporting import (
    epoch_history, plot_confusion_matrix, plot_training_curves, stage_results, write_fold_table, write_metrics,
    write_model_card,
)

logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What one run produced.

    Attributes:
        figures: the run's JSON-able summary (final, per-stage and best-epoch UAR / WAR, data and schedule),
            as `metrics.json` and the model card report it.
        model: the final model (LoRA adapters merged), where it trained.
        eval_dataset: the test split as the run evaluated it (decoded clips or cached frame embeddings).
        output_dir: the run folder (model and processor, metrics.json, model card, plots, checkpoints).
    """

    figures: dict
    model: A3lignModel
    eval_dataset: torch.utils.data.Dataset
    output_dir: Path


def build_model(model_args: ModelArguments, id2label: dict[int, str], first_stage: int):
    """The A3lign model around the CLIP checkpoint, wrapped with LoRA adapters when `lora_r > 0`."""
    overrides = json.loads(model_args.config_overrides) if model_args.config_overrides else {}
    model = A3lignModel.from_clip_pretrained(
        model_args.clip_model, id2label=id2label, num_frames=model_args.num_frames, image_size=model_args.image_size,
        mat_sentences=model_args.mat_sentences, mat_tokens=model_args.mat_tokens, bap_stage=first_stage, **overrides,
    )
    if model_args.lora_r <= 0:
        return model
    from peft import LoraConfig, get_peft_model

    towers = LORA_TOWERS[model_args.lora_target]
    lora = LoraConfig(
        r=model_args.lora_r, lora_alpha=model_args.lora_alpha, lora_dropout=model_args.lora_dropout,
        target_modules=rf"clip\.{towers}\.encoder\.layers\.\d+\.self_attn\.(q_proj|k_proj|v_proj|out_proj)",
        # The MAT and the encoders train too: peft must save them beside the adapters.
        modules_to_save=["mat", "text_dynamic_encoder", "video_dynamic_encoder", "jas"],
    )
    return get_peft_model(model, lora)


def save_model_folder(model: A3lignModel, processor: A3lignVideoProcessor, folder) -> None:
    """The published folder: the model (config, safetensors, code) and the processor that feeds it, which
    must match it (crop = `image_size`, frames = `num_frames`)."""
    processor.check_matches(model.config)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)


def build_datasets(model, processor, splits, data_args: TrainingDataArguments, training_args: TrainingArguments):
    """Training and evaluation datasets: decoded clips, or cached frame embeddings (`--frame_cache_dir`).
    Sets the model's frame statistics unless resuming (the checkpoint holds them)."""
    calibrate = model.config.frame_standardization and not training_args.resume_from_checkpoint
    workers, batch = training_args.dataloader_num_workers, training_args.per_device_eval_batch_size
    if data_args.frame_cache_dir is None:
        train = ClipDataset(splits["train"].clips, processor, training=True,
                            random_segments=data_args.train_random_segments, augment=data_args.train_augment)
        test = ClipDataset(splits["test"].clips, processor, training=False)
        if calibrate:
            set_frame_statistics_from(model, pixel_frame_batches(
                model, ClipDataset(splits["train"].clips, processor), data_args.calibration_clips, batch, workers))
        return train, test
    from .frame_cache import CachedViews, build_cached_split

    cached = {
        split: build_cached_split(data_args.frame_cache_dir, model, processor, splits[split].clips,
                                  data_args.frame_cache_views if split == "train" else 0, training_args.seed,
                                  batch, workers)
        for split in ("train", "test")
    }
    if calibrate:
        train_embeddings = cached["train"][0]
        chosen = evenly_spaced(len(train_embeddings), data_args.calibration_clips)
        set_frame_statistics_from(model, [train_embeddings[chosen, 0].flatten(0, 1).float()])
    return CachedViews(*cached["train"], training=True), CachedViews(*cached["test"], training=False)


def run_bap(
    model_args: ModelArguments, dataset_args: DatasetArguments, data_args: TrainingDataArguments,
    bap_args: BAPArguments, training_args: TrainingArguments, fold: str | None = None,
) -> RunResult:
    """Train one fold through the BAP stages and write the run folder."""
    output_dir = Path(training_args.output_dir)
    set_seed(training_args.seed)  # the fresh parts' initialisation too, not only the Trainer's loop
    splits = {split: dataset_args.load(split, fold) for split in ("train", "test")}
    for report in splits.values():
        logger.info(report.format())
    id2label = splits["train"].id2label
    labels = list(id2label.values())
    model = build_model(model_args, id2label, first_stage=stage_at_epoch(bap_args.stage_epochs, 0))
    processor = A3lignVideoProcessor.from_model_config(unwrap(model).config)

    if data_args.frame_cache_dir and model_args.lora_r > 0 and model_args.lora_target != "text":
        raise ValueError("--frame_cache_dir needs a frozen vision tower: vision LoRA adapters change its output")
    train_dataset, eval_dataset = build_datasets(unwrap(model), processor, splits, data_args, training_args)
    training_args.num_train_epochs = bap_args.total_epochs
    training_args.max_steps = -1
    metrics = RecallMetrics(labels)
    trainer = BAPTrainer(  # the processor travels with every checkpoint (processing_class)
        model=model, args=training_args, bap=bap_args, compute_metrics=metrics, processing_class=processor,
        train_dataset=train_dataset, eval_dataset=eval_dataset,
    )
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    if not any("eval_uar" in e and e.get("step") == trainer.state.global_step for e in trainer.state.log_history):
        trainer.evaluate()  # the result is the final weights' evaluation, whatever the eval schedule
    final_model = unwrap(trainer.model.merge_and_unload() if model_args.lora_r > 0 else trainer.model)

    history = epoch_history(trainer.state.log_history)
    evaluated = {e: h for e, h in history.items() if "eval_uar" in h}
    best = max(evaluated.items(), key=lambda item: item[1]["eval_uar"], default=None)
    figures = {
        "dataset": dataset_args.dataset, "fold": fold, "clip_model": model_args.clip_model, "labels": labels,
        "train_clips": len(splits["train"].clips), "test_clips": len(splits["test"].clips),
        "skipped": {split: report.listed - len(report.clips) for split, report in splits.items()},
        "stage_epochs": bap_args.stage_epochs, "stage_learning_rates": bap_args.stage_learning_rates,
        "optim": f"{training_args.optim} ({training_args.optim_args or ''})",
        "total_batch_size": training_args.per_device_train_batch_size * training_args.gradient_accumulation_steps
        * max(1, training_args.world_size),
        "lora": f"r={model_args.lora_r} on {model_args.lora_target} (merged)" if model_args.lora_r > 0 else None,
        "final": metrics.last,
        "best_epoch": {"epoch": best[0], "uar": best[1]["eval_uar"], "war": best[1]["eval_war"]} if best else None,
        "per_stage": stage_results(history, bap_args.stage_epochs, labels),
        "bap": asdict(bap_args),
    }
    if trainer.is_world_process_zero():
        save_model_folder(final_model, processor, output_dir)
        write_metrics(output_dir / "metrics.json", figures)
        write_model_card(output_dir / "README.md", figures)
        plot_confusion_matrix(metrics.last["confusion_matrix"], labels, output_dir / "confusion_matrix.png")
        plot_training_curves(history, bap_args.stage_epochs, output_dir / "training_curves.png")
        logger.info("UAR %.2f  WAR %.2f (last epoch) -> %s", metrics.last["uar"], metrics.last["war"], output_dir)
    return RunResult(figures=figures, model=final_model, eval_dataset=eval_dataset, output_dir=output_dir)


def run_folds(
    model_args: ModelArguments, dataset_args: DatasetArguments, data_args: TrainingDataArguments,
    bap_args: BAPArguments, training_args: TrainingArguments, folds: list[str | None],
) -> list[RunResult]:
    """One run per fold; several folds go to `<output_dir>/fold_K/` with a per-fold and mean table
    (folds.md, folds.json) in `output_dir`."""
    root = Path(training_args.output_dir)
    runs = []
    for fold in folds:
        args = training_args
        if len(folds) > 1:
            args = dataclasses.replace(training_args, output_dir=str(root / f"fold_{fold}"))
        runs.append(run_bap(model_args, dataset_args, data_args, bap_args, args, fold=fold))
    if len(folds) > 1:
        logger.info("folds of %s:\n%s", dataset_args.dataset, write_fold_table(root, [run.figures for run in runs]))
    return runs
