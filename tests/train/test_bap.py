"""BAP in real `Trainer.train()` runs: what trains in each stage, one synchronization, exact resume."""

import pytest
import torch
from transformers import TrainerCallback, TrainingArguments

from a3lign import A3lignModel
from a3lign.train.arguments import BAPArguments
from a3lign.train.bap import BAPTrainer, StageLR, stage_at_epoch

GROUPS = ("clip", "mat", "text_dynamic_encoder", "video_dynamic_encoder", "jas")


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
        output_dir=str(output_dir), per_device_train_batch_size=4, num_train_epochs=bap.total_epochs,
        eval_strategy="no", save_strategy="epoch", logging_strategy="no", report_to=[], seed=0,
        use_cpu=True, optim="adamw_torch", weight_decay=0.01, disable_tqdm=True,
    )
    training_args = TrainingArguments(**(values | args))
    return BAPTrainer(model=model, args=training_args, train_dataset=PixelClips(12, config), bap=bap)


@pytest.fixture
def bap():
    return BAPArguments(stage_epochs=[1, 2, 1], stage_learning_rates=[1e-2, 1e-2, 1e-2], stage_warmup_ratio=0.0)


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
    # At the start of stage 3 the JAS holds the policy's copies: video blocks 0-1, text blocks 0-1, video stem.
    jas, end_of_stage_2 = snapshots.starts[3]["jas"], epochs[3]
    for k, (source, index) in enumerate([("video", 0), ("video", 1), ("text", 0), ("text", 1)]):
        encoder = end_of_stage_2[f"{source}_dynamic_encoder"]
        for name, value in jas.items():
            if name.startswith(f"blocks.{k}."):
                assert torch.equal(value, encoder[name.replace(f"blocks.{k}.", f"blocks.{index}.", 1)]), name
    assert torch.equal(jas["position_embedding"], end_of_stage_2["video_dynamic_encoder"]["position_embedding"])
    assert changed(snapshots.starts[2], snapshots.starts[3], "jas")


def test_resume_mid_stage_2_ends_identical(tester, tmp_path, bap):
    full = make_trainer(tester, tmp_path / "full", bap)
    full.train()
    reference = {k: v.clone() for k, v in full.model.state_dict().items()}

    # Checkpoint after epoch 2 (12 clips / 4 = 3 steps per epoch): the first epoch of stage 2.
    checkpoint = tmp_path / "full" / "checkpoint-6"
    assert checkpoint.is_dir()
    resumed = make_trainer(tester, tmp_path / "resumed", bap, init_seed=123)  # other init: the checkpoint must win
    resumed.train(resume_from_checkpoint=str(checkpoint))
    assert resumed.bap_callback.synchronizations == 1
    for name, value in resumed.model.state_dict().items():
        assert torch.equal(value, reference[name]), name


def test_stage_lr_schedule():
    lr = StageLR(peaks=[1.0, 0.0, 0.5], stage_epochs=[2, 1, 2], steps_per_epoch=10, warmup_ratio=0.1)
    assert lr(0) == pytest.approx(0.5)  # warm-up: step 1 of 2
    assert lr(1) == pytest.approx(1.0)
    assert lr(19) < 0.01  # cosine to ~0 at the end of stage 1
    assert lr(20) == 0.0 and lr(29) == 0.0  # the group does not train in stage 2
    assert lr(31) == pytest.approx(0.5)  # stage 3 peak after its warm-up
    assert stage_at_epoch(BAPArguments(stage_epochs=[0, 3, 2]).stage_epochs, 0) == 2


@pytest.mark.parametrize("kwargs", [dict(stage_epochs=[1, 2]), dict(stage_epochs=[0, 0, 0]), dict(stage_learning_rates=[1, -1, 1])])
def test_invalid_schedules(kwargs):
    with pytest.raises(ValueError):
        BAPArguments(**kwargs)
