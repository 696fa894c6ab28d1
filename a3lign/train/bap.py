"""BAP, the Bidirectional Alignment Training Paradigm (paper Fig. 2d), driving a standard `Trainer`.

    stage 1 (E1 epochs): train MAT + text dynamic encoder; video = frames averaged over time
    stage 2 (E2 epochs): train the video dynamic encoder; MAT and text side frozen
    Module Synchronization, then
    stage 3 (E3 epochs): train MAT + JAS; both modalities through the JAS

This module is the one owner of what trains when: the stage -> groups table, the grouping of parameters,
the stage arithmetic, the callback that switches stages and the trainer that builds the optimizer and the
schedule. The model only follows the forward path of `config.bap_stage` and keeps CLIP frozen.

The optimizer and the DDP wrapper are built once, while every staged group is trainable (a group
frozen at wrap time and trained later makes DDP ranks diverge silently). `BAPCallback` then switches
`requires_grad` per stage at each epoch start, deriving the stage from the global step, so that a run
resumed from any checkpoint lands in the right stage. Frozen groups get no gradient, so neither the
optimizer nor its weight decay touches them.

Learning rates (the paper is silent): one peak rate for the MAT and one for the dynamic encoders and the JAS
(`BAPArguments.learning_rates`), a linear warm-up over `stage_warmup_ratio` of each stage and a cosine
decay to zero within it; in stage 3 the JAS starts after `jas_frozen_ratio` of the stage (the MAT first).
Optimizer state (momentum) is reset at each stage start. Stage 3's weights can end averaged over its epochs in
which the JAS trains (`stage3_swa`) and/or as a point between its first step's and that (`stage3_interpolation`,
WiSE-FT); what they need travels with every checkpoint (`STAGE3_WEIGHTS_FILE`).
"""

import logging
import math
import time
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import Trainer, TrainerCallback

from ..modeling_a3lign import A3lignModel
from .arguments import BAPArguments
from .balance import ClassBalancedSampler, logit_adjusted_loss

logger = logging.getLogger(__name__)

# Which parameter groups train in each BAP stage (paper Fig. 2d).
BAP_STAGE_GROUPS = {
    1: ("mat", "text_dynamic_encoder"),
    2: ("video_dynamic_encoder",),
    3: ("mat", "jas"),
}
STAGED_GROUPS = ("mat", "text_dynamic_encoder", "video_dynamic_encoder", "jas")
# LoRA adapters inside CLIP form one group per tower; CLIP itself trains in no stage.
LORA_GROUPS = {"text_model": "text_lora", "vision_model": "vision_lora"}
GROUPS = (*STAGED_GROUPS, "logit_scale", *LORA_GROUPS.values(), "clip")
# In a checkpoint: the weights stage 3 trains, as they were at its first step (`stage3_interpolation`, keys
# "start.<name>") and their mean so far over its epochs in which the JAS trains (`stage3_swa`, "average.<name>").
STAGE3_WEIGHTS_FILE = "bap_stage3_weights.safetensors"


def stage_at_epoch(stage_epochs: list[int], epoch: int) -> int:
    """The stage of 0-based `epoch` (stages with 0 epochs are skipped)."""
    end = 0
    for stage, epochs in enumerate(stage_epochs, 1):
        end += epochs
        if epoch < end:
            return stage
    return max(s for s, e in enumerate(stage_epochs, 1) if e)


def stage_bounds(stage_epochs: list[int], stage: int) -> tuple[int, int]:
    """First and one-past-last epoch of a stage."""
    start = sum(stage_epochs[: stage - 1])
    return start, start + stage_epochs[stage - 1]


def steps_per_epoch(total_steps: int, stage_epochs: list[int]) -> int:
    """Optimizer steps per epoch of a run of `total_steps` steps (the Trainer plans whole epochs)."""
    return max(1, total_steps // sum(stage_epochs))


def unwrap(model: nn.Module) -> A3lignModel:
    """The A3lignModel inside DDP / peft wrappers."""
    model = getattr(model, "module", model)
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    return model


def parameter_group(name: str) -> str:
    """The BAP group of a parameter of the unwrapped A3lignModel, named as `named_parameters` names it: its
    top-level module (`clip.logit_scale` is CLIP's, not the model's `logit_scale`), and for a LoRA adapter
    inside CLIP its tower's adapter group."""
    top, _, rest = name.partition(".")
    if top == "clip" and "lora_" in name:
        tower = rest.partition(".")[0]
        if tower not in LORA_GROUPS:
            raise ValueError(f"LoRA parameter {name!r} is in no tower: expected clip.{' or clip.'.join(LORA_GROUPS)}")
        return LORA_GROUPS[tower]
    if top not in GROUPS:
        raise ValueError(f"parameter {name!r} belongs to no BAP group: expected a top-level module among {GROUPS}")
    return top


def parameter_groups(model: nn.Module) -> dict[str, list[tuple[str, nn.Parameter]]]:
    """Named parameters of the A3lignModel inside any wrapper, by BAP group (`GROUPS`)."""
    groups = {group: [] for group in GROUPS}
    for name, param in unwrap(model).named_parameters():
        groups[parameter_group(name)].append((name, param))
    return groups


def stage_trains(group: str, stage: int, model: A3lignModel) -> bool:
    """Whether `group` trains in `stage`: the paper's groups, the logit scale if learnable, and LoRA
    adapters with their side (text adapters with the MAT in stages 1 and 3, vision adapters with the
    video side in stages 2 and 3). CLIP never trains."""
    if group == "clip":
        return False
    if group == "logit_scale":
        return model.config.logit_scale_learnable
    if group == "text_lora":
        return stage in (1, 3)
    if group == "vision_lora":
        return stage in (2, 3)
    return group in BAP_STAGE_GROUPS[stage]


def _set_trainable(base: A3lignModel, trains) -> None:
    for group, params in parameter_groups(base).items():
        for name, param in params:
            # peft keeps a frozen original beside each trained copy of a module it saves.
            param.requires_grad_(trains(group) and ".original_module." not in name)


def apply_stage(model: nn.Module, stage: int) -> None:
    """Set the forward path and exactly the trainable parameters of `stage`, through any wrapper."""
    base = unwrap(model)
    base.set_bap_stage(stage)
    _set_trainable(base, lambda group: stage_trains(group, stage, base))


def unfreeze_all_stages(model: nn.Module) -> None:
    """Make every group that trains in some stage trainable: the state the optimizer and DDP are built in."""
    base = unwrap(model)
    _set_trainable(base, lambda group: any(stage_trains(group, stage, base) for stage in (1, 2, 3)))


def stage3_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """The parameters stage 3 trains (MAT with its class offset, JAS, and the logit scale or LoRA adapters where
    they train), by name, through any wrapper."""
    base = unwrap(model)
    return {
        name: param
        for group, params in parameter_groups(base).items()
        if stage_trains(group, 3, base)
        for name, param in params
        if ".original_module." not in name
    }


def _matching_parameters(model: nn.Module, weights: dict[str, torch.Tensor], what: str) -> dict[str, nn.Parameter]:
    params = stage3_parameters(model)
    if set(weights) != set(params):
        raise ValueError(
            f"stage 3's {what} weights name {sorted(set(weights) ^ set(params))} that this model's stage 3 does not "
            "train, or the reverse: the checkpoint was made with another model configuration"
        )
    return params


@torch.no_grad()
def interpolate_weights(model: nn.Module, start: dict[str, torch.Tensor], alpha: float) -> None:
    """WiSE-FT (Wortsman et al., CVPR 2022) in place: each of `start`'s parameters becomes (1 - alpha) x its `start`
    value + alpha x its present one."""
    for name, param in _matching_parameters(model, start, "start").items():
        param.copy_(torch.lerp(start[name].to(param), param, alpha))
    unwrap(model)._class_cache = None


@torch.no_grad()
def accumulate_average(
    model: nn.Module, average: dict[str, torch.Tensor] | None, count: int
) -> dict[str, torch.Tensor]:
    """SWA's running mean (Izmailov et al., UAI 2018): `average` of `count` snapshots, updated with the present
    weights stage 3 trains (in float32; the first snapshot when `average` is None)."""
    params = stage3_parameters(model) if average is None else _matching_parameters(model, average, "averaged")
    if average is None:
        return {name: param.detach().float().clone() for name, param in params.items()}
    for name, param in params.items():
        average[name] += (param.detach().float() - average[name]) / (count + 1)
    return average


@torch.no_grad()
def load_weights(model: nn.Module, weights: dict[str, torch.Tensor]) -> None:
    """Copy `weights` into the parameters stage 3 trains."""
    for name, param in _matching_parameters(model, weights, "averaged").items():
        param.copy_(weights[name])
    unwrap(model)._class_cache = None


def set_training_modes(model: nn.Module) -> None:
    """Eval mode for the frozen CLIP inside a model in training mode (the Trainer puts every module in
    training mode at each step). LoRA adapters inside CLIP keep training mode, so that their dropout acts."""
    clip = unwrap(model).clip
    clip.eval()
    for name, module in clip.named_modules():
        if name.rpartition(".")[2].startswith("lora_"):
            module.train()


@torch.enable_grad()
def realign_class_path(
    model: nn.Module, targets: torch.Tensor, steps: int, learning_rate: float
) -> tuple[float, float]:
    """Carry stage 2's alignment across the switch to the JAS (stage 3's first step): with the JAS fixed, move the
    MAT alone until the new class path, `jas(sentences)`, gives the class embeddings the video dynamic encoder was
    aligned to in stage 2 (`targets (C, d)`, the text dynamic encoder's): `steps` Adam steps on the mean cosine
    distance, no data, deterministic (no dropout). As the JAS starts as a copy of the video dynamic encoder, stage 3
    then starts where stage 2 ended on both sides. Returns the mean cosine similarity to the targets before and
    after. Under DDP every rank computes the same tokens; rank 0's are broadcast all the same (GPUs need not be
    bitwise deterministic)."""
    base = unwrap(model)
    tokens, jas = base.mat.tokens, base.jas
    saved = {p: p.requires_grad for p in base.parameters()}
    was_training = jas.training
    for param in base.parameters():
        param.requires_grad_(param is tokens)
    jas.eval()
    optimizer = torch.optim.Adam([tokens], lr=learning_rate)
    targets = torch.nn.functional.normalize(targets.detach().float(), dim=-1)

    def similarity() -> torch.Tensor:
        embeds = jas(base.get_sentence_embeddings()).pooler_output.float()
        return (torch.nn.functional.normalize(embeds, dim=-1) * targets).sum(-1).mean()

    try:
        with torch.no_grad():
            before = float(similarity())
        for _ in range(steps):
            optimizer.zero_grad()
            (1 - similarity()).backward()
            optimizer.step()
        with torch.no_grad():
            after = float(similarity())
    finally:
        tokens.grad = None
        for param, trains in saved.items():
            param.requires_grad_(trains)
        jas.train(was_training)
        base._class_cache = None
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.broadcast(tokens.data, src=0)
    return before, after


class BAPCallback(TrainerCallback):
    """Switches BAP stages at epoch boundaries; synchronizes modules once, entering stage 3.

    The stage of each epoch follows from the global step, so a run resumed from any checkpoint, one saved
    exactly at a stage boundary included, makes the same switch (synchronization, optimizer reset) at the
    same step as the uninterrupted run.
    """

    def __init__(self, bap: BAPArguments):
        self.bap = bap
        self.stage = None  # the stage of the last step taken (None before the first)
        self.synchronizations = 0
        self.realignment = None  # cosine to stage 2's class embeddings before and after `realign_class_path`
        self.stage_seconds: dict[int, float] = {}  # wall seconds spent in each stage (evaluations included)
        self.stage3_start: dict[str, torch.Tensor] | None = None  # stage 3's weights at its first step
        self.stage3_average: dict[str, torch.Tensor] | None = None  # their mean over epochs the JAS trained in
        self.stage3_averaged_epochs = 0  # ... over how many
        self.stage3_trained: dict[str, torch.Tensor] | None = None  # its last step's, once averaged or interpolated
        self._since = None

    def _stage_of_step(self, state, step: int) -> int:
        return stage_at_epoch(self.bap.stage_epochs, step // steps_per_epoch(state.max_steps, self.bap.stage_epochs))

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        # A resumed run continues the stage its checkpoint's last step trained in; `on_epoch_begin` then
        # switches exactly where the uninterrupted run switched.
        self.stage = self._stage_of_step(state, state.global_step - 1) if state.global_step else None
        if self.stage is not None:
            apply_stage(model, self.stage)
        if self.stage == 3:
            self._require_stage3_weights(state)  # now, not after the rest of stage 3 has trained
        logger.info("BAP: %s at step %d", "resumed" if state.global_step else "starting", state.global_step)
        self._since = time.perf_counter()

    def _clock(self) -> None:
        if self.stage is not None and self._since is not None:
            now = time.perf_counter()
            self.stage_seconds[self.stage] = self.stage_seconds.get(self.stage, 0.0) + now - self._since
            self._since = now

    def on_train_end(self, args, state, control, **kwargs):
        self._clock()

    def on_epoch_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        stage = self._stage_of_step(state, state.global_step)
        if stage == self.stage:
            return
        logger.info("BAP: stage %s -> %d at step %d", self.stage, stage, state.global_step)
        self._clock()
        if stage == 3:
            self._synchronize(model)
        apply_stage(model, stage)
        if optimizer is not None:
            optimizer.state.clear()  # no momentum carried from another stage's objective
        self.stage = stage

    def _jas_trained_in_epoch(self, state) -> bool:
        """Whether the epoch that just ended held a step of stage 3 in which the JAS trains (past its frozen part)."""
        epoch_steps = steps_per_epoch(state.max_steps, self.bap.stage_epochs)
        first, last = (e * epoch_steps for e in stage_bounds(self.bap.stage_epochs, 3))
        return state.global_step > first + round(self.bap.jas_frozen_ratio * (last - first))

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        # Before the epoch's evaluation and checkpoint: after stage 3's last step both see the final weights.
        if self.stage != 3 or self.stage3_trained is not None:
            return
        if self.bap.stage3_swa and self._jas_trained_in_epoch(state):
            self.stage3_average = accumulate_average(model, self.stage3_average, self.stage3_averaged_epochs)
            self.stage3_averaged_epochs += 1
        if state.global_step < state.max_steps or not (self.bap.stage3_swa or self.bap.stage3_interpolation < 1):
            return
        self.stage3_trained = {name: p.detach().clone() for name, p in stage3_parameters(model).items()}
        if self.bap.stage3_swa:
            load_weights(model, self.stage3_average)
            logger.info("BAP: stage 3's weights averaged over its last %d epochs (SWA)", self.stage3_averaged_epochs)
        if self.bap.stage3_interpolation < 1:
            interpolate_weights(model, self.stage3_start, self.bap.stage3_interpolation)
            logger.info(
                "BAP: stage 3's weights interpolated: %.2f x its end + %.2f x its first step's (WiSE-FT)",
                self.bap.stage3_interpolation,
                1 - self.bap.stage3_interpolation,
            )

    def _require_stage3_weights(self, state) -> None:
        """A run resumed inside stage 3 needs the start weights (interpolation) and the mean so far (SWA)."""
        missing = []
        if self.bap.stage3_interpolation < 1 and self.stage3_start is None:
            missing.append(f"its start weights (--stage3_interpolation {self.bap.stage3_interpolation})")
        if self.bap.stage3_swa and self._jas_trained_in_epoch(state) and self.stage3_average is None:
            missing.append("its weights' mean so far (--stage3_swa)")
        if missing:
            raise RuntimeError(
                f"resumed inside stage 3 from a checkpoint without {STAGE3_WEIGHTS_FILE}: stage 3's "
                f"{' and '.join(missing)} are missing; resume from a checkpoint that has them, or without the options"
            )

    def _synchronize(self, model) -> None:
        base = unwrap(model)
        targets = None
        offset = base.mat.class_offset is not None  # config.jas_class_offset
        if self.bap.stage3_realign_steps or offset:
            with torch.no_grad():  # stage 2's class embeddings, as its evaluation saw them (no dropout)
                was_training = base.text_dynamic_encoder.training
                base.text_dynamic_encoder.eval()
                base.set_bap_stage(2)
                targets = base.get_class_embeddings(use_cache=False)
                base.text_dynamic_encoder.train(was_training)
        base.synchronize_modules()
        self.synchronizations += 1
        logger.info("BAP: Module Synchronization (%s)", ", ".join(base.config.jas_synchronization))
        if targets is not None and self.bap.stage3_realign_steps:
            base.set_bap_stage(3)
            before, after = realign_class_path(
                model, targets, self.bap.stage3_realign_steps, self.bap.stage3_realign_learning_rate
            )
            self.realignment = (before, after)
            logger.info(
                "BAP: the MAT re-aligned to stage 2's class embeddings through the JAS: cosine %.3f -> %.3f "
                "(%d steps)",
                before,
                after,
                self.bap.stage3_realign_steps,
            )
        if offset:
            base.set_class_offset(targets)  # stage 3 starts with exactly stage 2's class embeddings
            logger.info("BAP: stage 3's class offset set: the classes are stage 2's at the switch")
        if self.bap.stage3_interpolation < 1:
            self.stage3_start = {name: p.detach().clone() for name, p in stage3_parameters(model).items()}


class StageLR:
    """Learning rate of one parameter group at a global step: within each stage, zero for the first
    `frozen[stage]` fraction of it, then a linear warm-up and a cosine decay over the rest.

    Holds plain numbers only: `LambdaLR.state_dict()` saves a callable object's `__dict__` in checkpoints.
    """

    def __init__(
        self,
        peaks: list[float],
        stage_epochs: list[int],
        steps_per_epoch: int,
        warmup_ratio: float,
        frozen: list[float] = (0.0, 0.0, 0.0),
    ):
        self.peaks = list(peaks)  # per stage; 0 where the group does not train
        self.stage_epochs = list(stage_epochs)
        self.steps_per_epoch, self.warmup_ratio = steps_per_epoch, warmup_ratio
        self.frozen = list(frozen)

    def __call__(self, step: int) -> float:
        stage = stage_at_epoch(self.stage_epochs, step // self.steps_per_epoch)
        first, last = (e * self.steps_per_epoch for e in stage_bounds(self.stage_epochs, stage))
        first += round(self.frozen[stage - 1] * (last - first))
        if step < first:
            return 0.0
        length = max(1, last - first)
        progress = (step - first) / length
        if progress < self.warmup_ratio:
            shape = (step - first + 1) / (self.warmup_ratio * length)
        else:
            shape = 0.5 * (1 + math.cos(math.pi * (progress - self.warmup_ratio) / max(1e-8, 1 - self.warmup_ratio)))
        return self.peaks[stage - 1] * min(1.0, shape)


class BAPTrainer(Trainer):
    """A `Trainer` whose optimizer holds one parameter group per BAP group and whose schedule follows
    the stages. Everything else (loop, DDP, mixed precision, checkpoints, logging) is the stock Trainer."""

    def __init__(
        self,
        *args,
        bap: BAPArguments,
        class_balance: str = "none",
        train_labels=None,
        class_prior=None,
        logit_adjustment_tau: float = 1.0,
        **kwargs,
    ):
        """`class_balance` (`a3lign.train.balance`): "logit_adjustment" adds `logit_adjustment_tau * log(class_prior)`
        to the training logits; "balanced_sampling" draws the training clips by class (`train_labels`, in dataset
        order)."""
        self.bap = bap
        self.bap_callback = BAPCallback(bap)
        self.class_balance, self.train_labels = class_balance, train_labels
        self.class_prior, self.logit_adjustment_tau = class_prior, logit_adjustment_tau
        super().__init__(*args, **kwargs)
        self.add_callback(self.bap_callback)

    def _get_train_sampler(self, train_dataset=None):
        if self.class_balance == "balanced_sampling":
            return ClassBalancedSampler(self.train_labels, seed=self.args.seed)
        return super()._get_train_sampler(train_dataset)

    def train(self, *args, **kwargs):
        # The optimizer and DDP see every staged group trainable; the callback then sets the stage.
        unfreeze_all_stages(self.model)
        return super().train(*args, **kwargs)

    def _save_optimizer_and_scheduler(self, output_dir):
        """Also stage 3's start and averaged weights, training state as the optimizer's is."""
        super()._save_optimizer_and_scheduler(output_dir)
        callback = self.bap_callback
        tensors = {
            f"{kind}.{name}": tensor.contiguous()
            for kind, weights in (("start", callback.stage3_start), ("average", callback.stage3_average))
            for name, tensor in (weights or {}).items()
        }
        if tensors and self.args.should_save:
            metadata = {"averaged_epochs": str(callback.stage3_averaged_epochs)}
            save_file(tensors, str(Path(output_dir) / STAGE3_WEIGHTS_FILE), metadata=metadata)

    def _load_optimizer_and_scheduler(self, checkpoint):
        """Resuming: the checkpoint's schedule must be this run's (LambdaLR would silently take the saved one's
        stages and rates while the callback switched stages on the new ones); stage 3's start weights come back."""
        planned = [dict(vars(f)) for f in self.lr_scheduler.lr_lambdas] if self.lr_scheduler is not None else None
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is not None and (path := Path(checkpoint) / STAGE3_WEIGHTS_FILE).is_file():
            tensors, callback = load_file(str(path)), self.bap_callback
            with safe_open(str(path), "pt") as handle:
                callback.stage3_averaged_epochs = int(handle.metadata()["averaged_epochs"])
            for kind in ("start", "average"):
                weights = {n.partition(".")[2]: t for n, t in tensors.items() if n.partition(".")[0] == kind}
                setattr(callback, f"stage3_{kind}", weights or None)
        if checkpoint is not None and planned is not None:
            loaded = [dict(vars(f)) for f in self.lr_scheduler.lr_lambdas]
            if loaded != planned:
                raise ValueError(
                    f"checkpoint '{checkpoint}' was trained with another BAP schedule (stage epochs, rates, batch or "
                    f"process count): it planned {loaded[0]}, this run {planned[0]}; resume with the run's own flags"
                )

    def compute_loss(self, model, inputs, return_outputs: bool = False, *args, **kwargs):
        if model.training:  # a training step, which has just set every module to training mode
            set_training_modes(model)
            if self.class_balance == "logit_adjustment":
                inputs = dict(inputs)
                labels = inputs.pop("labels")
                outputs = model(**inputs)
                loss = logit_adjusted_loss(outputs.logits, labels, self.class_prior, self.logit_adjustment_tau)
                return (loss, outputs) if return_outputs else loss
        return super().compute_loss(model, inputs, return_outputs, *args, **kwargs)

    def create_optimizer(self, model=None):
        if self.optimizer is not None:
            return self.optimizer
        model = self.model if model is None else model
        decay = set(self.get_decay_parameter_names(unwrap(model)))  # named as parameter_groups names them
        groups = []
        for group, params in parameter_groups(model).items():
            trainable = [(n, p) for n, p in params if p.requires_grad]
            for decays in (True, False):
                members = [p for n, p in trainable if (n in decay) == decays]
                if members:
                    groups.append(
                        {
                            "params": members,
                            "weight_decay": self.args.weight_decay if decays else 0.0,
                            "lr": 1.0,
                            "bap_group": group,
                        }
                    )
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
        optimizer_kwargs.pop("lr", None)
        self.optimizer = optimizer_cls(groups, lr=1.0, **optimizer_kwargs)
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if self.lr_scheduler is None:
            optimizer = optimizer or self.optimizer
            epoch_steps = steps_per_epoch(num_training_steps, self.bap.stage_epochs)
            base = unwrap(self.model)
            rates = self.bap.learning_rates(self.args.optim)
            # Param groups start at lr 1.0: each lambda returns the absolute learning rate.
            functions = []
            for group in optimizer.param_groups:
                name = group["bap_group"]
                rate = rates["mat" if name == "mat" else "dynamic"]
                if name == "jas":
                    rate *= self.bap.jas_learning_rate_ratio
                peaks = [rate if stage_trains(name, stage, base) else 0.0 for stage in (1, 2, 3)]
                if name == "mat":
                    peaks[2] *= self.bap.stage3_mat_learning_rate_ratio
                frozen = [0.0, 0.0, self.bap.jas_frozen_ratio if name == "jas" else 0.0]
                functions.append(
                    StageLR(peaks, self.bap.stage_epochs, epoch_steps, self.bap.stage_warmup_ratio, frozen)
                )
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, functions)
            self._created_lr_scheduler = True
        return self.lr_scheduler
