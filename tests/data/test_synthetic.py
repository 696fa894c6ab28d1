"""The synthetic dynamic-expression set: deterministic, readable, and order-only where it must be."""

import csv

import numpy as np

from a3lign.data import DFEW_LABELS, load_split, render_clip, synthesize
from a3lign.decoding_a3lign import read_clip_frames


def test_synthetic_is_deterministic_and_readable(tmp_path):
    a = synthesize(tmp_path / "a", clips_per_class=2, seed=7)
    b = synthesize(tmp_path / "b", clips_per_class=2, seed=7)
    c = synthesize(tmp_path / "c", clips_per_class=2, seed=8)
    assert (a / "train.csv").read_text() == (b / "train.csv").read_text()
    for row in list(csv.DictReader(open(a / "train.csv")))[:3]:
        first, _, info = read_clip_frames(a / row["path"], 16)
        second, _, _ = read_clip_frames(b / row["path"], 16)
        other, _, _ = read_clip_frames(c / row["path"], 16)
        assert np.array_equal(first, second) and not np.array_equal(first, other)
        assert 8 <= info.num_frames <= 48
    report = load_split("synthetic", a, "train", strict=True)
    assert report.id2label == dict(enumerate(DFEW_LABELS))
    assert report.class_counts == {name: 2 for name in DFEW_LABELS}
    assert load_split("synthetic", a, "test", strict=True).class_counts == {name: 2 for name in DFEW_LABELS}


def test_order_only_pair_has_identical_frames_in_another_order():
    for seed in range(5):
        surprise, fear = render_clip("Surprise", seed), render_clip("Fear", seed)
        assert np.array_equal(fear, surprise[::-1])
        assert not np.array_equal(fear, surprise)
        assert sorted(f.tobytes() for f in fear) == sorted(f.tobytes() for f in surprise)


def ridge_accuracy(features, labels, classes, penalty=10.0):
    """One-vs-rest least squares on even-indexed clips, accuracy on the odd-indexed ones."""
    train = np.arange(len(labels)) % 2 == 0
    targets = np.stack([(labels[train] == k) for k in classes], 1) * 2.0 - 1
    x = features[train]
    weights = np.linalg.solve(x.T @ x + penalty * np.eye(x.shape[1]), x.T @ targets)
    predicted = np.array(classes)[(features[~train] @ weights).argmax(1)]
    return float((predicted == labels[~train]).mean())


def test_time_averaged_frames_cannot_separate_the_order_only_pair():
    """A linear classifier on time-averaged frames: chance on Surprise/Fear, good on the other classes."""
    features, labels = [], []
    for k, name in enumerate(DFEW_LABELS):
        for seed in range(40):
            mean = render_clip(name, 1000 * k + seed).astype(np.float32).mean(-1).mean(0)  # grey, time average
            feature = mean.reshape(32, 2, 32, 2).mean((1, 3)).ravel()
            features.append((feature - feature.mean()) / feature.std())
            labels.append(k)
    features, labels = np.stack(features), np.array(labels)
    pair = [DFEW_LABELS.index(n) for n in ("Surprise", "Fear")]
    in_pair = np.isin(labels, pair)
    pair_accuracy = ridge_accuracy(features[in_pair], labels[in_pair], pair)
    others = [k for k in range(7) if k != pair[1]]  # Surprise stands for the pair
    keep = np.isin(labels, others)
    others_accuracy = ridge_accuracy(features[keep], labels[keep], others)
    assert 0.3 <= pair_accuracy <= 0.7, pair_accuracy
    assert others_accuracy >= 0.8, others_accuracy
