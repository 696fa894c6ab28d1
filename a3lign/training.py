"""One BAP training run (a dataset, a fold): arguments, model and data set-up, Trainer, outputs.

`train_bap.py` parses the arguments and calls `run_bap` once per fold; this module does the work so
that tests and the demo drive exactly what the command line drives.
"""

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import TrainingArguments, set_seed
from transformers.trainer_utils import IntervalStrategy, SaveStrategy
from transformers.training_args import OptimizerNames

from . import A3lignModel, A3lignVideoProcessor
from .bap import BAPArguments, BAPTrainer, unwrap
from .data import ClipDataset, load_split
from .metrics import load_dfer_recall
from .reporting import epoch_history, plot_confusion_matrix, plot_training_curves, write_metrics, write_model_card

logger = logging.getLogger(__name__)

LORA_TOWERS = {"vision": "vision_model", "text": "text_model", "both": "(vision_model|text_model)"}


@dataclass
class ModelArguments:
    """The model: which CLIP, and A3lign's sizes (anything else via `config_overrides`)."""

    clip_model: str = field(metadata={"help": "CLIP checkpoint: hub id (openai/clip-vit-large-patch14) or folder."})
    num_frames: int = field(default=16, metadata={"help": "Frames per clip."})
    image_size: int = field(default=112, metadata={"help": "Crop fed to CLIP (paper: 112)."})
    mat_sentences: int = field(default=16, metadata={"help": "MAT sentences per class S (paper: 16)."})
    mat_tokens: int = field(default=64, metadata={"help": "MAT tokens per sentence T (paper: 64)."})
    config_overrides: str | None = field(
        default=None, metadata={"help": 'JSON of other A3lignConfig fields, e.g. {"dynamic_dropout": 0.0}.'}
    )
    lora_r: int = field(default=0, metadata={"help": "LoRA rank on the CLIP towers; 0 (default) keeps CLIP frozen."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator."})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout."})
    lora_target: str = field(default="both", metadata={"help": "Towers with adapters: vision, text or both."})

    def __post_init__(self):
        if self.lora_target not in LORA_TOWERS:
            raise ValueError(f"lora_target={self.lora_target!r}: expected one of {', '.join(LORA_TOWERS)}")


@dataclass
class DataArguments:
    """The data: a dataset reader, its root and fold, and the training-time sampling."""

    dataset: str = field(metadata={"help": "dfew, ferv39k, mafw, annotation, csv, folder or synthetic."})
    data_root: str = field(metadata={"help": "The dataset's root folder, laid out as its official release."})
    fold: str | None = field(default=None, metadata={"help": "1..5 or 'all' for dfew and mafw."})
    dfew_frames: str = field(default="clip_224x224", metadata={"help": "clip_224x224, clip_224x224_16f or videos."})
    strict: bool = field(default=False, metadata={"help": "Fail on any invalid clip instead of skipping it."})
    train_random_segments: bool = field(default=True, metadata={"help": "A random frame per segment in training."})
    train_augment: bool = field(default=True, metadata={"help": "Random crop + flip per clip in training."})
    calibration_clips: int = field(
        default=1024, metadata={"help": "Training clips (evenly spaced) whose frames give the frame statistics."}
    )
    frame_cache_dir: str | None = field(
        default=None, metadata={"help": "Extract frame embeddings once into this folder and train on them."}
    )
    frame_cache_views: int = field(default=4, metadata={"help": "Cached training views per clip (random crops/segments)."})


@dataclass
class A3lignTrainingArguments(TrainingArguments):
    """`TrainingArguments` with this project's defaults: evaluate, log and save every epoch, keep two
    checkpoints, SGD with momentum 0.9 (the paper's optimiser), DDP ready for staged groups."""

    eval_strategy: IntervalStrategy | str = field(default="epoch", metadata={"help": "Evaluate every epoch (the last one is the result)."})
    save_strategy: SaveStrategy | str = field(default="epoch", metadata={"help": "Checkpoint every epoch."})
    logging_strategy: IntervalStrategy | str = field(default="epoch", metadata={"help": "Log every epoch."})
    save_total_limit: int | None = field(default=2, metadata={"help": "Checkpoints kept."})
    optim: OptimizerNames | str = field(default="sgd", metadata={"help": "Optimizer (paper: SGD)."})
    optim_args: str | None = field(default="momentum=0.9", metadata={"help": "Optimizer arguments."})
    weight_decay: float = field(default=1e-4, metadata={"help": "Weight decay (not on norms and biases)."})
    remove_unused_columns: bool = field(default=False, metadata={"help": "Keep the dataset's fields."})
    ddp_find_unused_parameters: bool | None = field(
        default=True, metadata={"help": "Required: groups frozen by the current stage get no gradient."}
    )
    report_to: None | str | list[str] = field(default="none", metadata={"help": "none, tensorboard, ..."})
    dataloader_num_workers: int = field(default=2, metadata={"help": "Video decoding workers per process."})


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


def evenly_spaced(count: int, limit: int) -> list[int]:
    """Up to `limit` indices spread over `range(count)`: the same on every process."""
    return sorted(set(np.linspace(0, count - 1, num=min(limit, count)).round().astype(int).tolist()))


@torch.no_grad()
def set_frame_statistics_from(model, frame_batches) -> None:
    """Set the model's per-dimension frame statistics from batches of frame embeddings `(n, d)`."""
    total = squares = count = 0
    for frames in frame_batches:
        frames = frames.double()
        total, squares, count = total + frames.sum(0), squares + (frames**2).sum(0), count + frames.shape[0]
    mean = total / count
    std = (squares / count - mean**2).clamp_min(1e-12).sqrt()
    model.set_frame_statistics(mean.float(), std.float().clamp_min(1e-6))
    logger.info("frame statistics from %d frames", count)


def pixel_frame_batches(model, dataset, max_clips: int, batch_size: int, num_workers: int):
    """Frame embeddings of the evaluation views of up to `max_clips` clips, batch by batch."""
    subset = torch.utils.data.Subset(dataset, evenly_spaced(len(dataset), max_clips))
    device = next(model.parameters()).device
    for batch in torch.utils.data.DataLoader(subset, batch_size=batch_size, num_workers=num_workers):
        yield model.get_frame_embeddings(batch["pixel_values_videos"].to(device)).flatten(0, 1)


def build_datasets(model, processor, splits, data_args, training_args):
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


def stage_results(history: dict[int, dict], bap: BAPArguments, labels: list[str]) -> dict:
    """UAR / WAR (and per-class recall) at the last epoch of each stage that ran."""
    results = {}
    for stage in (1, 2, 3):
        _, end = bap.stage_bounds(stage)
        if bap.stage_epochs[stage - 1] and "eval_uar" in history.get(end, {}):
            entry = history[end]
            results[stage] = {"epoch": end, "uar": entry["eval_uar"], "war": entry["eval_war"],
                              "recall": {name: entry.get(f"eval_recall_{name}") for name in labels}}
    return results


def run_bap(
    model_args: ModelArguments, data_args: DataArguments, bap_args: BAPArguments, training_args: TrainingArguments,
    fold: str | None = None,
) -> dict:
    """Train one fold through the BAP stages and write the run folder. Returns the run summary."""
    output_dir = Path(training_args.output_dir)
    set_seed(training_args.seed)  # the fresh parts' initialisation too, not only the Trainer's loop
    splits = {
        split: load_split(data_args.dataset, data_args.data_root, split, fold=fold, strict=data_args.strict,
                          dfew_frames=data_args.dfew_frames)
        for split in ("train", "test")
    }
    for report in splits.values():
        logger.info(report.format())
    id2label = splits["train"].id2label
    labels = list(id2label.values())
    first_stage = next(s for s, e in enumerate(bap_args.stage_epochs, 1) if e)
    model = build_model(model_args, id2label, first_stage)
    processor = A3lignVideoProcessor.from_model_config(unwrap(model).config)

    if data_args.frame_cache_dir and model_args.lora_r > 0 and model_args.lora_target != "text":
        raise ValueError("--frame_cache_dir needs a frozen vision tower: vision LoRA adapters change its output")
    train_dataset, eval_dataset = build_datasets(unwrap(model), processor, splits, data_args, training_args)
    training_args.num_train_epochs = bap_args.total_epochs
    training_args.max_steps = -1
    metrics = RecallMetrics(labels)
    trainer = BAPTrainer(
        model=model, args=training_args, bap=bap_args, compute_metrics=metrics,
        train_dataset=train_dataset, eval_dataset=eval_dataset,
    )
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    if not any("eval_uar" in e and e.get("step") == trainer.state.global_step for e in trainer.state.log_history):
        trainer.evaluate()  # the result is the final weights' evaluation, whatever the eval schedule
    final_model = unwrap(trainer.model.merge_and_unload() if model_args.lora_r > 0 else trainer.model)

    history = epoch_history(trainer.state.log_history)
    evaluated = {e: h for e, h in history.items() if "eval_uar" in h}
    best = max(evaluated.items(), key=lambda item: item[1]["eval_uar"], default=None)
    run = {
        "dataset": data_args.dataset, "fold": fold, "clip_model": model_args.clip_model, "labels": labels,
        "train_clips": len(splits["train"].clips), "test_clips": len(splits["test"].clips),
        "skipped": {split: report.listed - len(report.clips) for split, report in splits.items()},
        "stage_epochs": bap_args.stage_epochs, "stage_learning_rates": bap_args.stage_learning_rates,
        "optim": f"{training_args.optim} ({training_args.optim_args or ''})",
        "total_batch_size": training_args.per_device_train_batch_size * training_args.gradient_accumulation_steps
        * max(1, training_args.world_size),
        "lora": f"r={model_args.lora_r} on {model_args.lora_target} (merged)" if model_args.lora_r > 0 else None,
        "final": metrics.last,
        "best_epoch": {"epoch": best[0], "uar": best[1]["eval_uar"], "war": best[1]["eval_war"]} if best else None,
        "per_stage": stage_results(history, bap_args, labels),
        "bap": asdict(bap_args),
    }
    if trainer.is_world_process_zero():
        final_model.save_pretrained(output_dir, video_processor=processor)
        write_metrics(output_dir / "metrics.json", run)
        write_model_card(output_dir / "README.md", run)
        plot_confusion_matrix(metrics.last["confusion_matrix"], labels, output_dir / "confusion_matrix.png")
        plot_training_curves(history, bap_args.stage_epochs, output_dir / "training_curves.png")
        logger.info("UAR %.2f  WAR %.2f (last epoch) -> %s", metrics.last["uar"], metrics.last["war"], output_dir)
    run["model"], run["eval_dataset"] = final_model, eval_dataset
    return run


def write_fold_table(output_dir: Path, runs: list[dict]) -> str:
    """Per-fold and mean UAR / WAR of a 5-fold run, as Markdown (also written to folds.md / folds.json)."""
    lines = ["| fold | UAR (%) | WAR (%) |", "|---|---|---|"]
    lines += [f"| {run['fold']} | {run['final']['uar']:.2f} | {run['final']['war']:.2f} |" for run in runs]
    uar = float(np.mean([run["final"]["uar"] for run in runs]))
    war = float(np.mean([run["final"]["war"] for run in runs]))
    lines.append(f"| mean | {uar:.2f} | {war:.2f} |")
    table = "\n".join(lines)
    if int(os.environ.get("RANK", "0")) == 0:
        (output_dir / "folds.md").write_text(table + "\n")
        folds = [{"fold": r["fold"], "uar": r["final"]["uar"], "war": r["final"]["war"]} for r in runs]
        (output_dir / "folds.json").write_text(json.dumps({"folds": folds, "mean": {"uar": uar, "war": war}}, indent=2))
    return table
