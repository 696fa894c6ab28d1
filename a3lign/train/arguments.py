"""What a BAP run is told: the model, the training-time data options, the BAP schedule and the Trainer's
arguments, parsed from a YAML file and flags (`a3lign train CONFIG.yaml --flag value ...`).

The dataset flags themselves (`--dataset --data_root --fold --dfew_frames --strict`) are
`a3lign.data.DatasetArguments`, shared with every other command.
"""

from dataclasses import dataclass, field

import yaml
from transformers import HfArgumentParser, TrainingArguments
from transformers.trainer_utils import IntervalStrategy, SaveStrategy
from transformers.training_args import OptimizerNames

from ..data import DatasetArguments

# LoRA targets: the attention of these CLIP towers (a regex over A3lignModel's module names).
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
class TrainingDataArguments:
    """How training reads the data: sampling, augmentation, calibration and the frame-embedding cache."""

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
class BAPArguments:
    """The BAP schedule and its per-stage optimisation (stage arithmetic: `a3lign.train.bap`)."""

    stage_epochs: list[int] = field(
        default_factory=lambda: [40, 30, 30], metadata={"help": "Epochs of stages 1, 2, 3 (paper: 40 30 30); 0 skips a stage."}
    )
    stage_learning_rates: list[float] = field(
        default_factory=lambda: [1e-3, 1e-3, 1e-3], metadata={"help": "Peak learning rate of each stage (paper silent)."}
    )
    mat_lr_multiplier: float = field(default=1.0, metadata={"help": "The MAT's learning rate relative to the stage's."})
    stage_warmup_ratio: float = field(default=0.1, metadata={"help": "Linear warm-up, as a fraction of each stage."})

    def __post_init__(self):
        if len(self.stage_epochs) != 3 or min(self.stage_epochs) < 0 or sum(self.stage_epochs) == 0:
            raise ValueError(f"stage_epochs={self.stage_epochs}: expected three non-negative epoch counts, not all 0")
        if not 0 <= self.stage_warmup_ratio < 1:
            raise ValueError(f"stage_warmup_ratio={self.stage_warmup_ratio}: expected a fraction in [0, 1)")
        if len(self.stage_learning_rates) != 3 or min(self.stage_learning_rates) < 0:
            raise ValueError(f"stage_learning_rates={self.stage_learning_rates}: expected three non-negative rates")

    @property
    def total_epochs(self) -> int:
        return sum(self.stage_epochs)


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


# The argument groups of one run, in the order `parse_arguments` returns them.
RUN_ARGUMENTS = (ModelArguments, DatasetArguments, TrainingDataArguments, BAPArguments, A3lignTrainingArguments)


def yaml_to_flags(path: str) -> list[str]:
    """A YAML mapping as command-line flags (lists become repeated values)."""
    with open(path) as handle:
        values = yaml.safe_load(handle) or {}
    flags = []
    for key, value in values.items():
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        flags += [f"--{key}", *(str(item).lower() if isinstance(item, bool) else str(item) for item in items)]
    return flags


def parse_arguments(argv: list[str], prog: str | None = None) -> tuple:
    """`[CONFIG.yaml] --flag value ...` -> one instance of each of `RUN_ARGUMENTS`; flags override the YAML."""
    parser = HfArgumentParser(RUN_ARGUMENTS, prog=prog)
    if argv and argv[0].endswith((".yaml", ".yml")):
        argv = yaml_to_flags(argv[0]) + argv[1:]
    return tuple(parser.parse_args_into_dataclasses(args=argv))
