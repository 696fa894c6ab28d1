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

from ..configuration_a3lign import A3lignConfig
from ..data import DatasetArguments, parse_test_views
from .balance import CLASS_BALANCE

# LoRA targets: the attention of these CLIP towers (a regex over A3lignModel's module names).
LORA_TOWERS = {"vision": "vision_model", "text": "text_model", "both": "(vision_model|text_model)"}


@dataclass
class ModelArguments:
    """The model: which CLIP, and A3lign's sizes (anything else via `config_overrides`)."""

    clip_model: str = field(metadata={"help": "CLIP checkpoint: hub id (openai/clip-vit-large-patch14) or folder."})
    # Defaults are A3lignConfig's own (one owner: change the config and every command follows).
    num_frames: int = field(default=A3lignConfig.num_frames, metadata={"help": "Frames per clip."})
    image_size: int = field(default=A3lignConfig.image_size, metadata={"help": "Crop fed to CLIP (paper: 112)."})
    mat_sentences: int = field(
        default=A3lignConfig.mat_sentences, metadata={"help": "MAT sentences per class S (paper: 16)."}
    )
    mat_tokens: int = field(
        default=A3lignConfig.mat_tokens, metadata={"help": "MAT tokens per sentence T (paper: 64)."}
    )
    mat_init: str = field(
        default=A3lignConfig.mat_init,
        metadata={
            "help": "How the MAT starts: random (default), or text (from descriptions of each expression, "
            "built in for DFEW / FERV39k / MAFW classes; needs the CLIP checkpoint's tokenizer)."
        },
    )
    mat_descriptions: str | None = field(
        default=None,
        metadata={
            "help": "With --mat_init text: a JSON file, class name -> list of sentences, in place "
            "of the built-in descriptions."
        },
    )
    config_overrides: str | None = field(
        default=None, metadata={"help": 'JSON of other A3lignConfig fields, e.g. {"dynamic_dropout": 0.0}.'}
    )
    lora_r: int = field(default=0, metadata={"help": "LoRA rank on the CLIP towers; 0 (default) keeps CLIP frozen."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator."})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout."})
    lora_target: str = field(default="both", metadata={"help": "Towers with adapters: vision, text or both."})

    @property
    def vision_tower_frozen(self) -> bool:
        """Whether the vision tower's output is fixed for the whole run (no vision LoRA adapters): the frame
        cache's one rule."""
        return self.lora_r <= 0 or self.lora_target == "text"

    def __post_init__(self):
        if self.lora_target not in LORA_TOWERS:
            raise ValueError(f"lora_target={self.lora_target!r}: expected one of {', '.join(LORA_TOWERS)}")


@dataclass
class TrainingDataArguments:
    """How training reads the data: sampling, augmentation, calibration and the frame-embedding cache."""

    train_random_segments: bool = field(default=True, metadata={"help": "A random frame per segment in training."})
    train_augment: bool = field(default=True, metadata={"help": "One random crop (+ flip) per clip in training."})
    train_flip: bool = field(
        default=True,
        metadata={
            "help": "With --train_augment, flip half the clips horizontally. Faces are mirror-"
            "symmetric; turn it off when left and right matter to the classes."
        },
    )
    test_views: str = field(
        default="2x2",
        metadata={
            "help": "Multi-view testing of the final model, TEMPORALxSPATIAL (logits averaged), "
            "reported beside the single view; 1x1: single view only."
        },
    )
    calibration_clips: int = field(
        default=1024, metadata={"help": "Training clips (evenly spaced) whose frames give the frame statistics."}
    )
    frame_cache_dir: str | None = field(
        default=None, metadata={"help": "Extract frame embeddings once into this folder and train on them."}
    )
    frame_cache_views: int = field(
        default=4, metadata={"help": "Cached training views per clip (random crops/segments)."}
    )
    class_balance: str = field(
        # logit_adjustment by default: on bench_recipe.py's DFEW- and MAFW-proportioned tasks it gave the highest
        # UAR and rare-class recall of the three (RESULTS.md); on a balanced split its shift is the same for every
        # class, so training is exactly plain cross-entropy there.
        default="logit_adjustment",
        metadata={
            "help": "Rare classes: logit_adjustment (default: training logits plus tau * log(class prior), "
            "Menon et al. 2021; a no-op on a balanced split), none (plain cross-entropy) or balanced_sampling "
            "(each draw a class uniformly). Inference is unchanged."
        },
    )
    logit_adjustment_tau: float = field(default=1.0, metadata={"help": "tau of --class_balance logit_adjustment."})

    def __post_init__(self):
        if self.class_balance not in CLASS_BALANCE:
            raise ValueError(
                f"class_balance={self.class_balance!r} is invalid: expected one of {', '.join(CLASS_BALANCE)}"
            )
        if not self.logit_adjustment_tau >= 0:
            raise ValueError(
                f"logit_adjustment_tau={self.logit_adjustment_tau}: expected a non-negative number, e.g. 1"
            )
        parse_test_views(self.test_views)  # fails early, naming the value
        if self.calibration_clips < 1:
            raise ValueError(f"calibration_clips={self.calibration_clips}: expected at least 1 clip")
        if self.frame_cache_dir and self.frame_cache_views < 1:
            raise ValueError(
                f"frame_cache_views={self.frame_cache_views}: --frame_cache_dir needs at least one "
                "training view (training would otherwise see the evaluation view only)"
            )


# Default peak learning rates per optimizer family, for the MAT and for the dynamic encoders and the JAS (LoRA
# adapters and a learnable logit scale follow them). The paper gives none.
# Chosen on benchmarks/bench_recipe.py: six small order-sensitive tasks nobody tuned for (RESULTS.md). SGD
# needs far larger rates than AdamW on such small sets; at full scale, configs/*.yaml take the nearest
# published recipe instead (DFER-CLIP: SGD, momentum 0.9, its temporal module 1e-2, prompts 1e-3).
DEFAULT_LEARNING_RATES = {
    "adamw": {"mat": 3e-3, "dynamic": 3e-3},
    "sgd": {"mat": 1e-1, "dynamic": 1e-1},
}


def _defaults(group: str) -> str:
    return ", ".join(f"{family} {rates[group]:g}" for family, rates in DEFAULT_LEARNING_RATES.items())


def optimizer_family(optim: str) -> str | None:
    """`"adamw"` or `"sgd"` for the optimizers with default learning rates, else None."""
    optim = str(getattr(optim, "value", optim))
    if optim == "sgd":
        return "sgd"
    if optim.startswith("adamw") or optim in ("adam", "adamw"):
        return "adamw"
    return None


@dataclass
class BAPArguments:
    """The BAP schedule and its optimisation (stage arithmetic: `a3lign.train.bap`).

    Learning rates: one peak rate for the MAT and one for the dynamic encoders and the JAS, defaulting to the
    optimizer's row of `DEFAULT_LEARNING_RATES`; each stage warms up linearly over `stage_warmup_ratio` of
    its steps, then decays by a cosine to zero. Stage 3 first keeps the JAS frozen for `jas_frozen_ratio`
    of its steps: Module Synchronization hands the JAS the video dynamic encoder, so the video side starts
    stage 3 exactly where stage 2 left it, and the MAT alone re-aligns the class embeddings to it before
    the JAS moves (without this, the switch of the class path to the JAS undoes stage 2: measured).
    """

    stage_epochs: list[int] = field(
        default_factory=lambda: [40, 30, 30],
        metadata={"help": "Epochs of stages 1, 2, 3 (paper: 40 30 30); 0 skips a stage."},
    )
    mat_learning_rate: float | None = field(
        default=None,
        metadata={
            "help": f"Peak learning rate of the MAT (stages 1, 3). Default: the optimizer's ({_defaults('mat')})."
        },
    )
    dynamic_learning_rate: float | None = field(
        default=None,
        metadata={
            "help": "Peak learning rate of the dynamic encoders and the JAS. Default: the optimizer's "
            f"({_defaults('dynamic')})."
        },
    )
    stage_warmup_ratio: float = field(default=0.1, metadata={"help": "Linear warm-up, as a fraction of each stage."})
    jas_frozen_ratio: float = field(
        default=0.3, metadata={"help": "Fraction of stage 3 in which the JAS stays frozen while the MAT re-aligns."}
    )
    jas_learning_rate_ratio: float = field(
        default=0.1,
        metadata={
            "help": "The JAS's peak rate over --dynamic_learning_rate: it starts as the trained "
            "video dynamic encoder, so stage 3 fine-tunes it."
        },
    )
    stage3_mat_learning_rate_ratio: float = field(
        default=1.0,
        metadata={
            "help": "The MAT's peak rate in stage 3 over --mat_learning_rate (stage 1's): below 1, stage 3 "
            "fine-tunes the MAT as it fine-tunes the JAS."
        },
    )
    # 300: on bench_recipe.py's faces task the switch's training-loss spike fell from 44 to 2.5 (cosine to stage
    # 2's classes -0.11 -> 0.92); 1000 steps reached 0.95 and ended lower (RESULTS.md).
    stage3_realign_steps: int = field(
        default=300,
        metadata={
            "help": "At the switch to stage 3, Adam steps moving the MAT alone until the JAS gives "
            "stage 2's class embeddings (no data; 0: none, the paper's plain switch)."
        },
    )
    stage3_realign_learning_rate: float = field(default=1e-2, metadata={"help": "Learning rate of those steps."})
    stage3_swa: bool = field(
        default=False,
        metadata={
            "help": "SWA (Izmailov et al., UAI 2018) over stage 3: the weights it trains end as the mean of their "
            "values at the end of each of its epochs in which the JAS trains (after --jas_frozen_ratio)."
        },
    )
    stage3_interpolation: float = field(
        default=1.0,
        metadata={
            "help": "WiSE-FT (Wortsman et al., CVPR 2022) across stage 3: after its last step, the weights stage 3 "
            "trains become (1 - a) x their value at its first step + a x their last (or SWA's mean with "
            "--stage3_swa; 1: that, unchanged)."
        },
    )

    def __post_init__(self):
        if len(self.stage_epochs) != 3 or min(self.stage_epochs) < 0 or sum(self.stage_epochs) == 0:
            raise ValueError(f"stage_epochs={self.stage_epochs}: expected three non-negative epoch counts, not all 0")
        for name in ("stage_warmup_ratio", "jas_frozen_ratio"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: expected a fraction in [0, 1)")
        for name in ("mat_learning_rate", "dynamic_learning_rate"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)}: expected a non-negative learning rate")
        if self.stage3_realign_steps < 0 or not self.stage3_realign_learning_rate > 0:
            raise ValueError(
                f"stage3_realign_steps={self.stage3_realign_steps}, stage3_realign_learning_rate="
                f"{self.stage3_realign_learning_rate}: expected a non-negative step count and a positive rate"
            )
        if not 0 <= self.stage3_interpolation <= 1:
            raise ValueError(f"stage3_interpolation={self.stage3_interpolation}: expected a weight in [0, 1]")
        for name in ("jas_learning_rate_ratio", "stage3_mat_learning_rate_ratio"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)}: expected a non-negative ratio")

    @property
    def total_epochs(self) -> int:
        return sum(self.stage_epochs)

    def learning_rates(self, optim: str) -> dict[str, float]:
        """Peak rates `{"mat", "dynamic"}` for optimizer `optim`: the flags where given, else its defaults."""
        family = optimizer_family(optim)
        given = {"mat": self.mat_learning_rate, "dynamic": self.dynamic_learning_rate}
        if family is None and None in given.values():
            raise ValueError(
                f"optim={optim!r} has no default learning rates (only {', '.join(DEFAULT_LEARNING_RATES)} do): "
                "pass --mat_learning_rate and --dynamic_learning_rate"
            )
        return {
            group: DEFAULT_LEARNING_RATES[family][group] if rate is None else rate for group, rate in given.items()
        }


@dataclass
class A3lignTrainingArguments(TrainingArguments):
    """`TrainingArguments` with this project's defaults: evaluate, log and save every epoch, keep two
    checkpoints, AdamW (the paper's SGD with momentum 0.9: `--optim sgd`), DDP ready for staged groups.
    The learning rates are `BAPArguments`' (per group); `--learning_rate` is refused, not ignored."""

    eval_strategy: IntervalStrategy | str = field(
        default="epoch", metadata={"help": "Evaluate every epoch (the last one is the result)."}
    )
    save_strategy: SaveStrategy | str = field(default="epoch", metadata={"help": "Checkpoint every epoch."})
    logging_strategy: IntervalStrategy | str = field(default="epoch", metadata={"help": "Log every epoch."})
    save_total_limit: int | None = field(default=2, metadata={"help": "Checkpoints kept."})
    optim: OptimizerNames | str = field(
        default="adamw_torch",
        metadata={"help": "Optimizer: adamw_torch (default) or sgd (the paper's; momentum 0.9)."},
    )
    optim_args: str | None = field(default=None, metadata={"help": "Optimizer arguments (sgd default: momentum=0.9)."})
    weight_decay: float = field(default=1e-4, metadata={"help": "Weight decay (not on norms and biases)."})
    remove_unused_columns: bool = field(default=False, metadata={"help": "Keep the dataset's fields."})
    ddp_find_unused_parameters: bool | None = field(
        default=True, metadata={"help": "Required: groups frozen by the current stage get no gradient."}
    )
    report_to: None | str | list[str] = field(default="none", metadata={"help": "none, tensorboard, ..."})
    dataloader_num_workers: int = field(default=2, metadata={"help": "Video decoding workers per process."})
    overwrite_output_dir: bool = field(
        default=False, metadata={"help": "Replace a finished run in --output_dir (refused otherwise)."}
    )

    def __post_init__(self):
        # Flags that BAP owns otherwise: given, they would be ignored or overridden without a word.
        owned = {
            "learning_rate": "--mat_learning_rate and --dynamic_learning_rate (per group; defaults follow --optim)",
            "num_train_epochs": "--stage_epochs",
            "max_steps": "--stage_epochs",
            "lr_scheduler_type": "--stage_warmup_ratio (warm-up and cosine within each stage)",
            "warmup_steps": "--stage_warmup_ratio",
            "load_best_model_at_end": "nothing: the last epoch is the result (the best is reported beside it)",
            "hub_strategy": "nothing: --push_to_hub pushes the finished run folder once, at the end",
        }
        for name, instead in owned.items():
            if getattr(self, name) != TrainingArguments.__dataclass_fields__[name].default:
                raise ValueError(f"{name}={getattr(self, name)!r} is not used by BAP: set {instead}")
        if self.optim == "sgd" and not self.optim_args:
            self.optim_args = "momentum=0.9"  # the paper's and its peers' SGD
        super().__post_init__()


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
