"""BAP, the training side's one owner of what trains when: the groups of each stage, and real
`Trainer.train()` runs (what moves in each stage, one synchronization, exact resume, CLIP in eval mode)."""

import dataclasses

import pytest
import torch
from transformers import TrainerCallback, TrainingArguments

from a3lign import A3lignModel
from a3lign.train.arguments import DEFAULT_LEARNING_RATES, A3lignTrainingArguments, BAPArguments
from a3lign.train.bap import (
    BAP_STAGE_GROUPS,
    STAGE3_WEIGHTS_FILE,
    STAGED_GROUPS,
    BAPCallback,
    BAPTrainer,
    StageLR,
    apply_stage,
    parameter_groups,
    realign_class_path,
    stage3_parameters,
    stage_at_epoch,
    unfreeze_all_stages,
)

GROUPS = ("clip", "mat", "text_dynamic_encoder", "video_dynamic_encoder", "jas")


def trainable_groups(model):
    names = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    return names - {"logit_scale"}


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_each_stage_trains_exactly_its_groups_and_gradients_follow(tester, stage):
    config, pixels, labels = tester.prepare_config_and_inputs()
    model = A3lignModel(config)
    apply_stage(model, stage)
    assert model.config.bap_stage == stage
    assert trainable_groups(model) == set(BAP_STAGE_GROUPS[stage])
    assert not any(p.requires_grad for p in model.clip.parameters())
    model(pixel_values_videos=pixels, labels=labels).loss.backward()
    for name in STAGED_GROUPS:
        has_grad = [p.grad is not None and p.grad.abs().sum() > 0 for p in getattr(model, name).parameters()]
        if name in BAP_STAGE_GROUPS[stage]:
            assert any(has_grad), f"{name} received no gradient in stage {stage}"
        else:
            assert not any(has_grad), f"{name} received a gradient in stage {stage}"
    assert all(p.grad is None for p in model.clip.parameters())
    # The MAT's gradient has flowed through the frozen text tower (stages 1 and 3 only).
    assert (model.mat.tokens.grad is not None) == (stage in (1, 3))


def test_learnable_logit_scale_trains_in_every_stage_and_clip_in_none(tester):
    """CLIP has a `logit_scale` of its own: it is CLIP's, frozen, not the model's learnable one."""
    model = tester.build_model(logit_scale_learnable=True)
    assert [name for name, _ in parameter_groups(model)["logit_scale"]] == ["logit_scale"]
    assert "clip.logit_scale" in [name for name, _ in parameter_groups(model)["clip"]]
    for stage in (1, 2, 3):
        apply_stage(model, stage)
        assert model.logit_scale.requires_grad
        assert not any(p.requires_grad for p in model.clip.parameters()), stage
    unfreeze_all_stages(model)
    assert model.logit_scale.requires_grad and not any(p.requires_grad for p in model.clip.parameters())
    fixed = tester.build_model()
    apply_stage(fixed, 1)
    assert not fixed.logit_scale.requires_grad


class PixelClips(torch.utils.data.Dataset):
    """Random clips with fixed labels: deterministic, so that runs can be compared exactly."""

    def __init__(self, count, config, seed=0):
        generator = torch.Generator().manual_seed(seed)
        shape = (count, config.num_frames, 3, config.image_size, config.image_size)
        self.pixels = torch.randn(shape, generator=generator)
        self.labels = torch.arange(count) % config.num_labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return {"pixel_values_videos": self.pixels[index], "labels": self.labels[index]}


class Snapshots(TrainerCallback):
    """A copy of every group's weights at the end of each epoch."""

    def __init__(self):
        self.epochs, self.starts = [], []

    @staticmethod
    def copy(model):
        return {g: {k: v.clone() for k, v in getattr(model, g).state_dict().items()} for g in GROUPS}

    def on_epoch_begin(self, args, state, control, model=None, **kwargs):
        self.starts.append(self.copy(model))  # runs after BAPCallback's on_epoch_begin

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        self.epochs.append(self.copy(model))


def changed(before, after, group):
    return any(not torch.equal(before[group][k], after[group][k]) for k in before[group])


def make_trainer(tester, output_dir, bap, init_seed=0, **args):
    torch.manual_seed(init_seed)
    model = A3lignModel(tester.get_config(bap_stage=1))
    config = model.config
    values = dict(
        output_dir=str(output_dir),
        per_device_train_batch_size=4,
        num_train_epochs=bap.total_epochs,
        eval_strategy="no",
        save_strategy="epoch",
        logging_strategy="no",
        report_to=[],
        seed=0,
        use_cpu=True,
        optim="adamw_torch",
        weight_decay=0.01,
        disable_tqdm=True,
    )
    training_args = TrainingArguments(**(values | args))
    return BAPTrainer(model=model, args=training_args, train_dataset=PixelClips(12, config), bap=bap)


@pytest.fixture
def bap():
    return BAPArguments(
        stage_epochs=[1, 2, 1], mat_learning_rate=1e-2, dynamic_learning_rate=1e-2, stage_warmup_ratio=0.0
    )


def test_each_stage_trains_exactly_its_groups(tester, tmp_path, bap):
    trainer = make_trainer(tester, tmp_path, bap, save_strategy="no")
    snapshots = Snapshots()
    trainer.add_callback(snapshots)
    start = {g: {k: v.clone() for k, v in getattr(trainer.model, g).state_dict().items()} for g in GROUPS}
    trainer.train()
    epochs = [start] + snapshots.epochs
    expected = {1: {"mat", "text_dynamic_encoder"}, 2: {"video_dynamic_encoder"}, 3: {"mat", "jas"}}
    for epoch in range(4):
        stage = stage_at_epoch(bap.stage_epochs, epoch)
        moved = {g for g in GROUPS if changed(epochs[epoch], epochs[epoch + 1], g)}
        assert moved == expected[stage], f"epoch {epoch} (stage {stage}) moved {moved}"
    assert trainer.bap_callback.synchronizations == 1
    assert trainer.model.config.bap_stage == 3
    # At the start of stage 3 the JAS holds the policy's copies (default: the video dynamic encoder's blocks) and stem.
    jas, end_of_stage_2 = snapshots.starts[3]["jas"], epochs[3]
    policy = [entry.split(".") for entry in trainer.model.config.jas_synchronization]
    assert policy == [["video", str(k)] for k in range(4)]
    for k, (source, index) in enumerate(policy):
        encoder = end_of_stage_2[f"{source}_dynamic_encoder"]
        for name, value in jas.items():
            if name.startswith(f"blocks.{k}."):
                assert torch.equal(value, encoder[name.replace(f"blocks.{k}.", f"blocks.{index}.", 1)]), name
    assert torch.equal(jas["position_embedding"], end_of_stage_2["video_dynamic_encoder"]["position_embedding"])
    assert changed(snapshots.starts[2], snapshots.starts[3], "jas")


def test_realignment_carries_stage_2_class_embeddings_into_stage_3(tester, tmp_path, bap):
    """--stage3_realign_steps: at the switch, the MAT alone moves until the JAS gives stage 2's class embeddings;
    nothing else moves, the groups' trainability is restored, and each stage's seconds are counted."""
    torch.manual_seed(0)
    model = A3lignModel(tester.get_config(bap_stage=2)).eval()
    targets = model.get_class_embeddings(use_cache=False).detach()
    model.synchronize_modules()
    model.set_bap_stage(3)
    frozen = {n: p.clone() for n, p in model.named_parameters() if not n.startswith("mat.")}
    trains = {n: p.requires_grad for n, p in model.named_parameters()}
    before, after = realign_class_path(model, targets, steps=60, learning_rate=1e-2)
    assert after > before + 0.1, (before, after)
    with torch.no_grad():
        cosine = torch.nn.functional.cosine_similarity(model.get_class_embeddings(use_cache=False), targets).mean()
    assert float(cosine) == pytest.approx(after, abs=1e-5)
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)
    assert {n: p.requires_grad for n, p in model.named_parameters()} == trains
    # In a run: the callback re-aligns once, at the switch, and times each stage.
    trainer = make_trainer(tester, tmp_path, dataclasses.replace(bap, stage3_realign_steps=20), save_strategy="no")
    trainer.train()
    start, end = trainer.bap_callback.realignment
    assert end > start and set(trainer.bap_callback.stage_seconds) == {1, 2, 3}
    assert all(seconds > 0 for seconds in trainer.bap_callback.stage_seconds.values())


def test_frozen_clip_runs_in_eval_mode_while_training(tester, tmp_path, bap):
    """The Trainer puts the model in training mode at each step; CLIP stays in eval mode, the rest trains."""
    trainer = make_trainer(tester, tmp_path, bap, save_strategy="no")
    model, modes = trainer.model, []

    def record(module, args):
        clip_training = {m.training for m in model.clip.modules()}
        modes.append((clip_training, model.training, model.video_dynamic_encoder.training))

    model.clip.vision_model.register_forward_pre_hook(record)
    trainer.train()
    assert len(modes) == bap.total_epochs * 3  # one vision-tower pass per step
    assert all(mode == ({False}, True, True) for mode in modes), modes[0]


def test_resume_from_every_epoch_boundary_ends_identical(tester, tmp_path, bap):
    """12 clips / 4 = 3 steps per epoch; stages of 1, 2 and 1 epochs: checkpoints at the stage 1 -> 2
    boundary (step 3), inside stage 2 (6), at the 2 -> 3 boundary (9) and at the end (12)."""
    full = make_trainer(tester, tmp_path / "full", bap)
    full.train()
    reference = {k: v.clone() for k, v in full.model.state_dict().items()}
    assert full.bap_callback.synchronizations == 1

    for step in (3, 6, 9, 12):
        checkpoint = tmp_path / "full" / f"checkpoint-{step}"
        assert checkpoint.is_dir()
        resumed = make_trainer(tester, tmp_path / f"resumed-{step}", bap, init_seed=123)  # the checkpoint must win
        resumed.train(resume_from_checkpoint=str(checkpoint))
        # Synchronization happens once over the interrupted and the resumed run together.
        assert resumed.bap_callback.synchronizations == (1 if step <= 9 else 0), step
        assert resumed.model.config.bap_stage == 3
        for name, value in resumed.model.state_dict().items():
            assert torch.equal(value, reference[name]), f"resumed from step {step}: {name}"


def test_stage3_interpolation_ends_between_stage_3s_first_and_last_weights(tester, tmp_path, bap):
    """--stage3_interpolation 0.25: after stage 3's last step, each weight stage 3 trains is 0.75 x its value at stage
    3's first step (after the synchronization) + 0.25 x its trained one; training itself is the plain run's, and
    nothing stage 3 does not train is touched."""
    plain = make_trainer(tester, tmp_path / "plain", bap, save_strategy="no")
    plain.train()
    trainer = make_trainer(tester, tmp_path / "wise", dataclasses.replace(bap, stage3_interpolation=0.25))
    snapshots = Snapshots()
    trainer.add_callback(snapshots)
    trainer.train()
    callback = trainer.bap_callback
    params = stage3_parameters(trainer.model)
    assert {n.split(".")[0] for n in params} == {"mat", "jas"}
    assert set(callback.stage3_start) == set(callback.stage3_trained) == set(params)
    plain_weights = dict(plain.model.named_parameters())
    for name, param in params.items():
        start, trained = callback.stage3_start[name], callback.stage3_trained[name]
        group, _, key = name.partition(".")
        assert torch.equal(start, snapshots.starts[3][group][key]), name  # stage 3's first step
        assert torch.equal(trained, plain_weights[name]), name  # as the plain run trained it
        torch.testing.assert_close(param, 0.75 * start + 0.25 * trained)
    assert any(not torch.equal(callback.stage3_start[n], callback.stage3_trained[n]) for n in params)
    for name, param in trainer.model.named_parameters():
        if name not in params:
            assert torch.equal(param, plain_weights[name]), name
    # The last checkpoint holds the interpolated weights and the start they came from.
    last = tmp_path / "wise" / "checkpoint-12"
    assert (last / STAGE3_WEIGHTS_FILE).is_file()


def test_stage3_swa_ends_at_the_mean_of_the_epochs_in_which_the_jas_trains(tester, tmp_path, bap):
    """--stage3_swa: stage 3 of 3 epochs, the JAS frozen for its first 40% (steps 9-12 of 9-18): the weights stage 3
    trains end as the mean of their values at the end of its 2nd and 3rd epochs; the run's training is the plain
    run's, and `stage3_trained` its last step's weights."""
    bap = dataclasses.replace(bap, stage_epochs=[1, 2, 3], jas_frozen_ratio=0.4)
    plain = make_trainer(tester, tmp_path / "plain", bap, save_strategy="no")
    snapshots = Snapshots()
    plain.add_callback(snapshots)
    plain.train()
    swa = make_trainer(tester, tmp_path / "swa", dataclasses.replace(bap, stage3_swa=True), save_strategy="no")
    swa.train()
    assert swa.bap_callback.stage3_averaged_epochs == 2
    params = stage3_parameters(swa.model)
    plain_weights = dict(plain.model.named_parameters())
    for name, param in params.items():
        group, _, key = name.partition(".")
        second, third = snapshots.epochs[4][group][key], snapshots.epochs[5][group][key]
        assert not torch.equal(second, third), name
        assert torch.equal(swa.bap_callback.stage3_trained[name], third)
        torch.testing.assert_close(param, (second + third) / 2)
    for name, param in swa.model.named_parameters():
        if name not in params:
            assert torch.equal(param, plain_weights[name]), name


def test_a_run_resumed_inside_stage_3_averages_and_interpolates_as_the_uninterrupted_one(tester, tmp_path, bap):
    """Stage 3's start weights and its running mean travel with each checkpoint: resumed inside stage 3 (step 12 of
    15, after an averaged epoch), the run ends with the uninterrupted run's weights; a checkpoint without them is
    refused by name before a step is spent, not averaged or interpolated wrongly."""
    bap = dataclasses.replace(bap, stage_epochs=[1, 1, 3], stage3_interpolation=0.5, stage3_swa=True)
    full = make_trainer(tester, tmp_path / "full", bap)
    full.train()
    assert full.bap_callback.stage3_averaged_epochs == 2  # the JAS frozen for steps 6-9: epochs ending at 12, 15
    reference = {k: v.clone() for k, v in full.model.state_dict().items()}
    checkpoint = tmp_path / "full" / "checkpoint-12"
    assert stage_at_epoch(bap.stage_epochs, 3) == 3 and (checkpoint / STAGE3_WEIGHTS_FILE).is_file()
    resumed = make_trainer(tester, tmp_path / "resumed", bap, init_seed=123)
    resumed.train(resume_from_checkpoint=str(checkpoint))
    assert resumed.bap_callback.synchronizations == 0 and resumed.bap_callback.stage3_averaged_epochs == 2
    for name, value in resumed.model.state_dict().items():
        assert torch.equal(value, reference[name]), name
    (checkpoint / STAGE3_WEIGHTS_FILE).unlink()
    again = make_trainer(tester, tmp_path / "again", bap)
    stepped = []
    again.add_callback(type("Steps", (TrainerCallback,), {"on_step_end": lambda self, *a, **k: stepped.append(1)})())
    with pytest.raises(RuntimeError, match=f"{STAGE3_WEIGHTS_FILE}.*start weights.*mean so far"):
        again.train(resume_from_checkpoint=str(checkpoint))
    assert not stepped  # refused before a step is spent


def test_stage_lr_schedule():
    lr = StageLR(peaks=[1.0, 0.0, 0.5], stage_epochs=[2, 1, 2], steps_per_epoch=10, warmup_ratio=0.1)
    assert lr(0) == pytest.approx(0.5)  # warm-up: step 1 of 2
    assert lr(1) == pytest.approx(1.0)
    assert lr(19) < 0.01  # cosine to ~0 at the end of stage 1
    assert lr(20) == 0.0 and lr(29) == 0.0  # the group does not train in stage 2
    assert lr(31) == pytest.approx(0.5)  # stage 3 peak after its warm-up
    # Frozen for the first half of stage 3 (steps 30-39), then warm-up and cosine over steps 40-49.
    delayed = StageLR(
        peaks=[1.0, 0.0, 0.5], stage_epochs=[2, 1, 2], steps_per_epoch=10, warmup_ratio=0.2, frozen=[0.0, 0.0, 0.5]
    )
    assert delayed(0) == pytest.approx(0.25) and all(delayed(step) == 0.0 for step in range(30, 40))
    assert delayed(40) == pytest.approx(0.25) and delayed(41) == pytest.approx(0.5) and delayed(49) < 0.05
    assert stage_at_epoch(BAPArguments(stage_epochs=[0, 3, 2]).stage_epochs, 0) == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(stage_epochs=[1, 2]),
        dict(stage_epochs=[0, 0, 0]),
        dict(mat_learning_rate=-1.0),
        dict(jas_frozen_ratio=1.0),
        dict(stage3_interpolation=1.5),
        dict(stage3_interpolation=-0.1),
    ],
)
def test_invalid_schedules(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        BAPArguments(**kwargs)


def test_learning_rates_follow_the_optimizer_unless_given():
    bap = BAPArguments()
    assert bap.learning_rates("adamw_torch") == DEFAULT_LEARNING_RATES["adamw"]
    assert bap.learning_rates("sgd") == DEFAULT_LEARNING_RATES["sgd"]
    assert BAPArguments(mat_learning_rate=0.5).learning_rates("sgd") == {
        "mat": 0.5,
        **{"dynamic": DEFAULT_LEARNING_RATES["sgd"]["dynamic"]},
    }
    with pytest.raises(ValueError, match="adafactor.*--mat_learning_rate"):
        bap.learning_rates("adafactor")
    assert BAPArguments(mat_learning_rate=1.0, dynamic_learning_rate=2.0).learning_rates("adafactor") == {
        "mat": 1.0,
        "dynamic": 2.0,
    }


@pytest.mark.parametrize(
    "flag",
    [
        dict(learning_rate=1e-3),
        dict(num_train_epochs=5),
        dict(max_steps=10),
        dict(lr_scheduler_type="constant"),
        dict(warmup_steps=3),
        dict(load_best_model_at_end=True, eval_strategy="epoch", save_strategy="epoch"),
    ],
)
def test_trainer_flags_that_bap_owns_are_refused_not_ignored(tmp_path, flag):
    with pytest.raises(ValueError, match="is not used by BAP"):
        A3lignTrainingArguments(output_dir=str(tmp_path), **flag)


def test_sgd_gets_the_papers_momentum(tmp_path):
    assert A3lignTrainingArguments(output_dir=str(tmp_path), optim="sgd").optim_args == "momentum=0.9"


def test_optimizer_groups_get_their_rates(tester, tmp_path):
    """The MAT and the dynamic encoders get their own peak rates; the JAS waits for jas_frozen_ratio of stage 3."""
    bap = BAPArguments(
        stage_epochs=[1, 1, 2],
        mat_learning_rate=0.1,
        dynamic_learning_rate=0.3,
        stage_warmup_ratio=0.0,
        jas_frozen_ratio=0.5,
        jas_learning_rate_ratio=0.5,
    )
    trainer = make_trainer(tester, tmp_path, bap, save_strategy="no")
    trainer.create_optimizer_and_scheduler(num_training_steps=12)
    rates = {}
    for step in (0, 3, 6, 9):
        rates[step] = {
            g["bap_group"]: lr
            for g, lr in zip(trainer.optimizer.param_groups, [f(step) for f in trainer.lr_scheduler.lr_lambdas])
        }
    assert rates[0]["mat"] == pytest.approx(0.1) and rates[0]["text_dynamic_encoder"] == pytest.approx(0.3)
    assert rates[0]["video_dynamic_encoder"] == 0.0 and rates[3]["video_dynamic_encoder"] == pytest.approx(0.3)
    assert rates[6]["jas"] == 0.0 and rates[6]["mat"] == pytest.approx(0.1)  # stage 3, the MAT first
    assert rates[9]["jas"] == pytest.approx(0.15)  # then at jas_learning_rate_ratio of the dynamic encoders' rate
    # --stage3_mat_learning_rate_ratio: the MAT's stage-3 peak only.
    slower = make_trainer(
        tester, tmp_path, dataclasses.replace(bap, stage3_mat_learning_rate_ratio=0.1), save_strategy="no"
    )
    slower.create_optimizer_and_scheduler(num_training_steps=12)
    mat = [f for g, f in zip(slower.optimizer.param_groups, slower.lr_scheduler.lr_lambdas) if g["bap_group"] == "mat"]
    assert [mat[0](step) for step in (0, 6)] == [pytest.approx(0.1), pytest.approx(0.01)]


def test_resuming_with_another_schedule_is_refused(tester, tmp_path, bap):
    full = make_trainer(tester, tmp_path / "full", bap)
    full.train()
    other = BAPArguments(
        stage_epochs=[1, 2, 1], mat_learning_rate=5e-2, dynamic_learning_rate=1e-2, stage_warmup_ratio=0.0
    )
    resumed = make_trainer(tester, tmp_path / "resumed", other)
    with pytest.raises(ValueError, match="another BAP schedule"):
        resumed.train(resume_from_checkpoint=str(tmp_path / "full" / "checkpoint-6"))


@pytest.mark.parametrize("realign_steps", [0, 20])
def test_the_class_offset_starts_stage_3_with_stage_2s_predictions(tester, realign_steps):
    """config.jas_class_offset: at the switch the offset is set so that stage 3's class embeddings are stage 2's;
    with the JAS a copy of the video dynamic encoder, stage 3's first logits are exactly stage 2's last."""
    torch.manual_seed(0)
    model = A3lignModel(tester.get_config(bap_stage=2, jas_class_offset=True)).eval()
    assert model.mat.class_offset is not None and not model.mat.class_offset.any()
    pixels = torch.randn(3, model.config.num_frames, 3, model.config.image_size, model.config.image_size)
    with torch.no_grad():
        stage_2 = model(pixel_values_videos=pixels).logits
    BAPCallback(BAPArguments(stage3_realign_steps=realign_steps))._synchronize(model)
    model.set_bap_stage(3)
    with torch.no_grad():
        stage_3 = model(pixel_values_videos=pixels).logits
    torch.testing.assert_close(stage_3, stage_2, atol=1e-4, rtol=1e-5)
    assert model.mat.class_offset.abs().max() > 1e-3  # the JAS alone gives other classes
    # Without the offset the switch changes the predictions (what the offset is for).
    torch.manual_seed(0)
    plain = A3lignModel(tester.get_config(bap_stage=2)).eval()
    BAPCallback(BAPArguments(stage3_realign_steps=realign_steps))._synchronize(plain)
    plain.set_bap_stage(3)
    with torch.no_grad():
        assert (plain(pixel_values_videos=pixels).logits - stage_2).abs().max() > 1e-2
    assert "class_offset" in parameter_groups(model)["mat"][-1][0]  # it trains with the MAT
