"""Rare classes (`--class_balance`): the train split's prior, logit adjustment in training only, class-balanced
sampling (equal classes, deterministic, dealt out across DDP ranks, over decoded clips and the frame cache), and the
prior and option recorded in metrics.json and the model card."""

import json
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from accelerate.data_loader import prepare_data_loader

from a3lign.cli.train import main as train_cli
from a3lign.data import synthesize
from a3lign.train.arguments import TrainingDataArguments
from a3lign.train.balance import ClassBalancedSampler, class_prior, logit_adjusted_loss

from .test_run import clip_dir, common_flags  # noqa: F401 (fixtures)

IMBALANCED = [0] * 90 + [1] * 8 + [2] * 2  # a class of 2% and one of 8%


def test_the_prior_is_each_class_share():
    assert class_prior(IMBALANCED, 4) == pytest.approx([0.9, 0.08, 0.02, 0.0])


def test_logit_adjustment_adds_tau_log_prior_before_the_cross_entropy():
    torch.manual_seed(0)
    logits, labels = torch.randn(6, 3), torch.tensor([0, 1, 2, 2, 1, 0])
    prior = [0.9, 0.08, 0.02]
    expected = F.cross_entropy(logits + 0.5 * torch.tensor(prior).log(), labels)
    assert torch.allclose(logit_adjusted_loss(logits, labels, prior, 0.5), expected)
    # a uniform prior shifts every logit alike: plain cross-entropy
    assert torch.allclose(logit_adjusted_loss(logits, labels, [1 / 3] * 3, 1.0), F.cross_entropy(logits, labels))
    # the adjusted loss pushes the rare class's own logit further up than plain cross-entropy does
    rare = torch.zeros(1, 3, requires_grad=True)
    logit_adjusted_loss(rare, torch.tensor([2]), prior, 1.0).backward()
    plain = torch.zeros(1, 3, requires_grad=True)
    F.cross_entropy(plain, torch.tensor([2])).backward()
    assert rare.grad[0, 2] < plain.grad[0, 2] < 0


def test_balanced_sampling_draws_classes_equally_and_reproducibly():
    sampler = ClassBalancedSampler(IMBALANCED, seed=3)
    assert len(sampler) == 100
    draws = []
    for epoch in range(40):
        sampler.set_epoch(epoch)
        draws += [IMBALANCED[i] for i in sampler]
    counts = Counter(draws)
    assert all(abs(counts[c] - 4000 / 3) < 120 for c in range(3)), counts  # 1/3 each (3 sigma: 90)
    sampler.set_epoch(7)
    again = ClassBalancedSampler(IMBALANCED, seed=3)
    again.set_epoch(7)
    assert list(sampler) == list(again)
    again.set_epoch(8)
    assert list(sampler) != list(again)
    with pytest.raises(ValueError, match="non-empty train split"):
        ClassBalancedSampler([])


def test_balanced_sampling_is_dealt_out_across_ranks():
    """Every process draws the same sequence; accelerate gives each rank its own batches of it."""
    dataset = torch.utils.data.TensorDataset(torch.arange(len(IMBALANCED)))
    sequence = list(ClassBalancedSampler(IMBALANCED, seed=1))
    shares = []
    for rank in range(2):
        loader = torch.utils.data.DataLoader(dataset, batch_size=5, sampler=ClassBalancedSampler(IMBALANCED, seed=1))
        shard = prepare_data_loader(loader, num_processes=2, process_index=rank, put_on_device=False)
        shares.append([int(i) for (batch,) in shard for i in batch])
    assert len(shares[0]) == len(shares[1]) == 50
    interleaved = [i for k in range(10) for i in shares[0][5 * k : 5 * k + 5] + shares[1][5 * k : 5 * k + 5]]
    assert interleaved == sequence


def test_invalid_options_are_named():
    with pytest.raises(
        ValueError,
        match="class_balance='oversample' is invalid: expected one of none, logit_adjustment, balanced_sampling",
    ):
        TrainingDataArguments(class_balance="oversample")
    with pytest.raises(ValueError, match="logit_adjustment_tau=-1"):
        TrainingDataArguments(logit_adjustment_tau=-1)


@pytest.fixture(scope="module")
def lopsided(tmp_path_factory):
    """The synthetic set with two of its seven classes rare in training (1 clip against 6)."""
    import csv

    root = synthesize(tmp_path_factory.mktemp("lopsided"), clips_per_class=6, test_clips_per_class=2, seed=5)
    rows = list(csv.DictReader(open(root / "train.csv")))
    kept, seen = [], Counter()
    for row in rows:
        seen[row["label"]] += 1
        if row["label"] not in ("Disgust", "Fear") or seen[row["label"]] <= 1:
            kept.append(row)
    with open(root / "train.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    return root


@pytest.mark.parametrize("balance, cache", [("logit_adjustment", False), ("balanced_sampling", True)])
def test_a_run_records_the_prior_and_the_option(tmp_path, lopsided, clip_dir, balance, cache):  # noqa: F811
    """Both options train end to end (balanced sampling over the frame cache too); metrics.json and the card say which
    option and what prior; the sampler the trainer used is the balanced one."""
    from a3lign.train import bap

    used = []
    original = bap.BAPTrainer._get_train_sampler

    def spy(self, *args, **kwargs):
        used.append(original(self, *args, **kwargs))
        return used[-1]

    bap.BAPTrainer._get_train_sampler = spy
    try:
        out = tmp_path / "run"
        flags = [
            *common_flags(lopsided, clip_dir),
            "--stage_epochs",
            "1",
            "1",
            "1",
            "--per_device_train_batch_size",
            "4",
            "--class_balance",
            balance,
            "--test_views",
            "1x1",
            "--save_strategy",
            "no",
            "--report_to",
            "none",
            "--output_dir",
            str(out),
        ]
        if cache:
            flags += ["--frame_cache_dir", str(tmp_path / "cache"), "--frame_cache_views", "2"]
        train_cli(flags)
    finally:
        bap.BAPTrainer._get_train_sampler = original
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["class_balance"] == balance and metrics["class_prior"]["Disgust"] == pytest.approx(1 / 32)
    assert sum(metrics["class_prior"].values()) == pytest.approx(1)
    assert (metrics["logit_adjustment_tau"] == 1.0) == (balance == "logit_adjustment")
    card = (out / "README.md").read_text()
    assert "class prior of the training split: Happy 18.8%" in card and "Disgust 3.1%" in card
    assert ("class-balanced sampling" in card) == (balance == "balanced_sampling")
    assert isinstance(used[0], ClassBalancedSampler) == (balance == "balanced_sampling")


def test_logit_adjustment_leaves_evaluation_alone(tester):
    """In eval mode the trainer's loss is the model's own (plain cross-entropy): only training is adjusted."""
    from transformers import TrainingArguments

    from a3lign.train.arguments import BAPArguments
    from a3lign.train.bap import BAPTrainer

    model = tester.build_model()
    args = TrainingArguments(output_dir="/tmp/unused", use_cpu=True, report_to="none")
    trainer = BAPTrainer(
        model=model,
        args=args,
        bap=BAPArguments(stage_epochs=[1, 1, 1]),
        class_balance="logit_adjustment",
        class_prior=[0.9, 0.08, 0.02],
        logit_adjustment_tau=1.0,
    )
    torch.manual_seed(0)
    inputs = {"frame_embeddings": torch.randn(4, 4, 16), "labels": torch.tensor([0, 1, 2, 1])}
    model.eval()
    evaluation = trainer.compute_loss(model, inputs)
    assert torch.allclose(evaluation, model(**inputs).loss)
    model.train()
    training = trainer.compute_loss(model, inputs)
    logits = model(frame_embeddings=inputs["frame_embeddings"]).logits
    assert torch.allclose(training, logit_adjusted_loss(logits, inputs["labels"], [0.9, 0.08, 0.02], 1.0))
    assert not np.isclose(float(training), float(evaluation))
