"""Dataset readers on miniature copies of the official layouts, the validation report, the torch and
datasets views, and the synthetic dynamic-expression set."""

import csv

import numpy as np
import pytest
import torch

from a3lign import A3lignVideoProcessor
from a3lign.configuration_a3lign import DFEW_LABELS
from a3lign.data import MAFW_LABELS, ClipDataset, load_split, render_clip, synthesize
from a3lign.data.__main__ import main as data_cli
from a3lign.decoding_a3lign import read_clip_frames

from .videos import noise_frames, write_frame_folder, write_video


def frames(folder, count=5, suffix="jpg"):
    return write_frame_folder(folder, noise_frames(count, 24, 32), suffix=suffix)


# ----- DFEW ---------------------------------------------------------------------------------------
@pytest.fixture
def dfew(tmp_path):
    root = tmp_path / "DFEW"
    split_dir = root / "EmoLabel_DataSplit" / "train(single-labeled)"
    split_dir.mkdir(parents=True)
    rows = [(1, 1), (2, 6), (3, 7), (4, 3), (5, 9), (6, 2)]  # 5: label 9 is unknown; 6: no folder
    (split_dir / "set_1.csv").write_text("video_name,label\n" + "".join(f"{v},{l}\n" for v, l in rows))
    test_dir = root / "EmoLabel_DataSplit" / "test(single-labeled)"
    test_dir.mkdir()
    (test_dir / "set_1.csv").write_text("video_name,label\n1,1\n")
    for video, _ in rows[:4]:
        frames(root / "Clip" / "clip_224x224" / f"{video:05d}", count=20 + video)
        frames(root / "Clip" / "clip_224x224_16f" / f"{video:05d}", count=16)
    (root / "Clip" / "clip_224x224" / "00003").rename(root / "Clip" / "clip_224x224" / "moved")
    (root / "Clip" / "clip_224x224" / "00003").mkdir()  # now empty
    return root


def test_dfew_reader(dfew):
    report = load_split("dfew", dfew, "train", fold=1)
    assert report.id2label == dict(enumerate(DFEW_LABELS))
    assert [(c.clip_id, c.label, c.num_frames) for c in report.clips] == [("00001", 0, 21), ("00002", 5, 22), ("00004", 2, 24)]
    assert report.listed == 6
    assert [(k, c) for k, c, _ in report.problems] == [("empty", "00003"), ("unknown_label", "00005"), ("missing", "00006")]
    assert "set_1.csv:6" in report.problems[1][2]  # names the file and line
    sixteen = load_split("dfew", dfew, "train", fold=1, dfew_frames="clip_224x224_16f")
    assert {c.num_frames for c in sixteen.clips} == {16} and len(sixteen.clips) == 4
    with pytest.raises(ValueError, match="--fold must be 1..5"):
        load_split("dfew", dfew, "train", fold=6)
    with pytest.raises(FileNotFoundError, match=r"set_2\.csv.*expected layout"):
        load_split("dfew", dfew, "train", fold=2)
    with pytest.raises(ValueError, match="--strict: 3 problems"):
        load_split("dfew", dfew, "train", fold=1, strict=True)


# ----- FERV39k ------------------------------------------------------------------------------------
def test_ferv39k_reader(tmp_path):
    root = tmp_path / "FERV39k"
    clips = ["Action/Happy/0001", "Action/Sad/0002", "Crime/Fear/0107", "Crime/Bored/0003", "Daily/Angry/0500"]
    (root / "4_setups" / "All_scenes").mkdir(parents=True)
    (root / "4_setups" / "All_scenes" / "test_All.csv").write_text("".join(f"{c}\n" for c in clips))
    for clip in clips[:4]:
        frames(root / "2_ClipsforFaceCrop" / clip, count=8)
    report = load_split("ferv39k", root, "test")
    assert [(c.clip_id, report.id2label[c.label]) for c in report.clips] == [
        ("Action/Happy/0001", "Happy"), ("Action/Sad/0002", "Sad"), ("Crime/Fear/0107", "Fear")]
    assert [k for k, _, _ in report.problems] == ["unknown_label", "missing"]


# ----- MAFW ---------------------------------------------------------------------------------------
def test_mafw_reader_tolerates_separators_and_encodings(tmp_path):
    root = tmp_path / "MAFW"
    base = root / "Train_Test_Set" / "single" / "no_caption"
    (base / "set_1").mkdir(parents=True)
    (base / "set_2").mkdir(parents=True)
    # set_1: tab separated, GBK, a Chinese note column; set_2: spaces, UTF-8 with BOM, numeric labels.
    (base / "set_1" / "train.txt").write_bytes("00025.mp4\tanger\t愤怒\n00026.mp4\tcontempt\t轻蔑\n00027.mp4\tjoy\t喜\n".encode("gbk"))
    (base / "set_2" / "train.txt").write_bytes("\ufeff00025 1\n00028 11\n00026 12\n".encode("utf-8"))
    (root / "data" / "clips").mkdir(parents=True)
    write_video(root / "data" / "clips" / "00025.mp4", noise_frames(9, 32, 32), "libx264", "yuv420p")
    frames(root / "data" / "frames" / "00026", count=7)
    frames(root / "data" / "faces" / "00028", count=6)
    one = load_split("mafw", root, "train", fold=1)
    assert one.id2label == dict(enumerate(MAFW_LABELS))
    assert [(c.clip_id, c.label, c.num_frames) for c in one.clips] == [("00025", 0, 9), ("00026", 7, 7)]
    assert [(k, c) for k, c, _ in one.problems] == [("unknown_label", "00027")]
    two = load_split("mafw", root, "train", fold=2)
    assert [(c.clip_id, MAFW_LABELS[c.label]) for c in two.clips] == [("00025", "anger"), ("00028", "disappointment")]
    assert [(k, c) for k, c, _ in two.problems] == [("unknown_label", "00026")]


# ----- annotation list, CSV, folder tree ----------------------------------------------------------
def test_annotation_list_takes_frame_counts_from_disk(tmp_path):
    for name, count in (("a", 10), ("b", 12), ("c", 7)):
        frames(tmp_path / "frames" / name, count=count)
    (tmp_path / "train.txt").write_text("frames/a 10 0\nframes/b 16 1\nframes/c 7 2\nframes/d 9 1\n")
    report = load_split("annotation", tmp_path, "train")
    assert [(c.clip_id, c.label, c.num_frames) for c in report.clips] == [("frames/a", 0, 10), ("frames/b", 1, 12), ("frames/c", 2, 7)]
    assert [(k, c) for k, c, _ in report.problems] == [("frame_count_mismatch", "frames/b"), ("missing", "frames/d")]
    assert "listed 16, 12 on disk" in report.problems[0][2]
    (tmp_path / "test.txt").write_text("frames/a ten 0\n")
    with pytest.raises(ValueError, match=r"test.txt:1: expected '<frame_dir> <num_frames> <label>'"):
        load_split("annotation", tmp_path, "test")


def test_csv_and_folder_tree(tmp_path):
    root = tmp_path / "tree"
    for split, label, name in (("train", "calm", "x.mp4"), ("train", "tense", "y"), ("test", "tense", "z.mp4"), ("test", "odd", "w.mp4")):
        if name.endswith(".mp4"):
            (root / split / label).mkdir(parents=True, exist_ok=True)
            write_video(root / split / label / name, noise_frames(5, 32, 32), "libx264", "yuv420p")
        else:
            frames(root / split / label / name)
    train = load_split("folder", root, "train")
    assert train.id2label == {0: "calm", 1: "tense"} and [c.label for c in train.clips] == [0, 1]
    test = load_split("folder", root, "test")
    assert [c.clip_id for c in test.clips] == ["tense/z.mp4"] and test.problems[0][:2] == ("unknown_label", "odd/w.mp4")

    (tmp_path / "train.csv").write_text("path,label\ntree/train/calm/x.mp4,calm\ntree/train/tense/y,tense\n")
    (tmp_path / "test.csv").write_text("path,label\ntree/test/tense/z.mp4,1\ntree/missing.mp4,calm\n")
    report = load_split("csv", tmp_path, "test")
    assert report.id2label == {0: "calm", 1: "tense"}
    assert [(c.clip_id, c.label) for c in report.clips] == [("tree/test/tense/z.mp4", 1)]
    assert report.problems[0][:2] == ("missing", "tree/missing.mp4")


def test_unreadable_clips_are_reported(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "broken.mp4").write_text("not a video")
    (tmp_path / "clips" / "zero.mp4").touch()
    (tmp_path / "train.csv").write_text("path,label\nclips/broken.mp4,a\nclips/zero.mp4,b\n")
    report = load_split("csv", tmp_path, "train")
    assert [(k, c) for k, c, _ in report.problems] == [("unreadable", "clips/broken.mp4"), ("empty", "clips/zero.mp4")]
    assert "broken.mp4" in report.problems[0][2]


def test_missing_root_names_the_path():
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_split("ferv39k", "/nowhere/FERV39k", "train")
    with pytest.raises(ValueError, match="unknown dataset 'kinetics'"):
        load_split("kinetics", "/tmp", "train")


def test_check_command_reports_and_strict_fails(dfew, capsys):
    assert data_cli(["check", "--dataset", "dfew", "--data_root", str(dfew), "--fold", "1"]) == 0
    out = capsys.readouterr().out
    for line in ("6 listed, 3 valid clips", "missing               1", "empty                 1", "unknown_label         1",
                 "Happy 1", "Disgust 1", "Neutral 1"):
        assert line in out, line
    assert data_cli(["check", "--dataset", "dfew", "--data_root", str(dfew), "--fold", "1", "--strict"]) == 1
    assert data_cli(["check", "--dataset", "dfew", "--data_root", str(dfew), "--fold", "2"]) == 2  # no set_2
    assert "set_2.csv' does not exist; expected layout" in capsys.readouterr().err


# ----- the torch and datasets views ----------------------------------------------------------------
def test_clip_dataset_yields_model_inputs(tmp_path):
    for k in range(4):
        write_video(tmp_path / f"{k}.mp4", noise_frames(20 + k, 62, 98, seed=k), "libx264", "yuv420p")
    (tmp_path / "train.csv").write_text("path,label\n" + "".join(f"{k}.mp4,{'ab'[k % 2]}\n" for k in range(4)))
    report = load_split("csv", tmp_path, "train")
    processor = A3lignVideoProcessor(num_frames=8, crop_size={"height": 56, "width": 56}, size={"shortest_edge": 60})
    evaluation = ClipDataset(report.clips, processor, training=False)
    sample = evaluation[1]
    assert sample["labels"] == 1 and sample["pixel_values_videos"].shape == (8, 3, 56, 56)
    assert torch.equal(sample["pixel_values_videos"], processor(str(tmp_path / "1.mp4"))["pixel_values_videos"][0])
    training = ClipDataset(report.clips, processor, training=True)
    assert training[0]["pixel_values_videos"].shape == (8, 3, 56, 56)
    loader = torch.utils.data.DataLoader(training, batch_size=2, num_workers=2)  # decoding in workers
    batches = list(loader)
    assert [b["pixel_values_videos"].shape for b in batches] == [(2, 8, 3, 56, 56)] * 2
    hf = evaluation.to_hf_dataset()
    assert hf.column_names == ["clip_id", "path", "label"] and len(hf) == 4
    assert torch.equal(hf[1]["pixel_values_videos"], sample["pixel_values_videos"]) and hf[1]["labels"] == 1


def test_unreadable_image_in_a_folder_names_the_file(tmp_path):
    folder = frames(tmp_path / "clip", count=16, suffix="png")
    (folder / "3.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"3\.png"):
        read_clip_frames(folder, 16)


# ----- the synthetic set --------------------------------------------------------------------------
def test_synthetic_is_deterministic_and_readable(tmp_path):
    a = synthesize(tmp_path / "a", clips_per_class=2, seed=7)
    b = synthesize(tmp_path / "b", clips_per_class=2, seed=7)
    c = synthesize(tmp_path / "c", clips_per_class=2, seed=8)
    assert (a / "train.csv").read_text() == (b / "train.csv").read_text()
    for row in list(csv.DictReader(open(a / "train.csv")))[:3]:
        first, _, total = read_clip_frames(a / row["path"], 16)
        second, _, _ = read_clip_frames(b / row["path"], 16)
        other, _, _ = read_clip_frames(c / row["path"], 16)
        assert np.array_equal(first, second) and not np.array_equal(first, other)
        assert 8 <= total <= 48
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
