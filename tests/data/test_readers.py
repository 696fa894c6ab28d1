"""Dataset readers on miniature copies of the official layouts, and the validation report."""

import pytest

from a3lign.data import DFEW_LABELS, MAFW_LABELS, DatasetArguments, load_split

from ..layouts import labelled_csv, small_dfew, tiny_clip
from ..videos import noise_frames, write_frame_folder, write_video


def frames(folder, count=5, suffix="jpg"):
    return write_frame_folder(folder, noise_frames(count, 24, 32), suffix=suffix)


# ----- DFEW ---------------------------------------------------------------------------------------
@pytest.fixture
def dfew(tmp_path):
    return small_dfew(tmp_path / "DFEW")


def test_dfew_reader(dfew):
    report = load_split("dfew", dfew, "train", fold=1)
    assert report.id2label == dict(enumerate(DFEW_LABELS))
    assert [(c.clip_id, c.label, c.num_frames) for c in report.clips] == [
        ("00001", 0, 21),
        ("00002", 5, 22),
        ("00004", 2, 24),
    ]
    assert report.listed == 6
    assert [(k, c) for k, c, _ in report.problems] == [
        ("empty", "00003"),
        ("unknown_label", "00005"),
        ("missing", "00006"),
    ]
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
        ("Action/Happy/0001", "Happy"),
        ("Action/Sad/0002", "Sad"),
        ("Crime/Fear/0107", "Fear"),
    ]
    assert [k for k, _, _ in report.problems] == ["unknown_label", "missing"]


# ----- MAFW ---------------------------------------------------------------------------------------
def test_mafw_reader_tolerates_separators_and_encodings(tmp_path):
    root = tmp_path / "MAFW"
    base = root / "Train_Test_Set" / "single" / "no_caption"
    (base / "set_1").mkdir(parents=True)
    (base / "set_2").mkdir(parents=True)
    # set_1: tab separated, GBK, a Chinese note column; set_2: spaces, UTF-8 with BOM, numeric labels.
    (base / "set_1" / "train.txt").write_bytes(
        "00025.mp4\tanger\t愤怒\n00026.mp4\tcontempt\t轻蔑\n00027.mp4\tjoy\t喜\n".encode("gbk")
    )
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
    assert [(c.clip_id, c.label, c.num_frames) for c in report.clips] == [
        ("frames/a", 0, 10),
        ("frames/b", 1, 12),
        ("frames/c", 2, 7),
    ]
    assert [(k, c) for k, c, _ in report.problems] == [("frame_count_mismatch", "frames/b"), ("missing", "frames/d")]
    assert "listed 16, 12 on disk" in report.problems[0][2]
    (tmp_path / "test.txt").write_text("frames/a ten 0\n")
    with pytest.raises(ValueError, match=r"test.txt:1: expected '<frame_dir> <num_frames> <label>'"):
        load_split("annotation", tmp_path, "test")


def test_csv_and_folder_tree(tmp_path):
    root = tmp_path / "tree"
    for split, label, name in (
        ("train", "calm", "x.mp4"),
        ("train", "tense", "y"),
        ("test", "tense", "z.mp4"),
        ("test", "odd", "w.mp4"),
    ):
        if name.endswith(".mp4"):
            (root / split / label).mkdir(parents=True, exist_ok=True)
            write_video(root / split / label / name, noise_frames(5, 32, 32), "libx264", "yuv420p")
        else:
            frames(root / split / label / name)
    train = load_split("folder", root, "train")
    assert train.id2label == {0: "calm", 1: "tense"} and [c.label for c in train.clips] == [0, 1]
    test = load_split("folder", root, "test")
    assert [c.clip_id for c in test.clips] == ["tense/z.mp4"] and test.problems[0][:2] == (
        "unknown_label",
        "odd/w.mp4",
    )

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


# ----- what a split file gets wrong beyond one row ------------------------------------------------
def test_duplicates_and_conflicts_are_reported_with_file_and_line(tmp_path):
    """A row listed twice is kept once; a path listed with two labels is kept under neither."""
    rows = [("a", "calm"), ("b", "calm"), ("a", "calm"), ("c", "calm"), ("c", "tense"), ("./b", "calm")]
    report = load_split("csv", labelled_csv(tmp_path, "train", rows), "train")
    assert [(c.clip_id, c.label) for c in report.clips] == [("a", 0), ("b", 0)]
    assert [(k, c) for k, c, _ in report.problems] == [
        ("duplicate", "a"),
        ("conflict", "c"),
        ("conflict", "c"),
        ("duplicate", "./b"),
    ]
    assert "listed again at train.csv:4 (first at train.csv:2)" in report.problems[0][2]
    assert "'calm' at train.csv:5 and as 'tense' at train.csv:6" in report.problems[1][2]
    assert report.count("duplicate") == 2 and "duplicate             2" in report.format()
    # DFEW's CSVs may drop the zero padding: "1" and "00001" are the same clip.
    dfew = small_dfew(tmp_path / "DFEW")
    (dfew / "EmoLabel_DataSplit" / "test(single-labeled)" / "set_1.csv").write_text("video_name,label\n1,1\n00001,1\n")
    assert [(k, c) for k, c, _ in load_split("dfew", dfew, "test", fold=1).problems] == [("duplicate", "00001")]


def test_paths_outside_the_data_root_are_reported(tmp_path):
    tiny_clip(tmp_path / "elsewhere" / "x")
    labelled_csv(tmp_path / "root", "train", [("a", "calm"), ("../elsewhere/x", "tense")])
    report = load_split("csv", tmp_path / "root", "train")
    assert [c.clip_id for c in report.clips] == ["a", "../elsewhere/x"]  # kept: only reported
    ((kind, clip_id, detail),) = report.problems
    assert (
        (kind, clip_id) == ("outside_root", "../elsewhere/x")
        and "train.csv:3" in detail
        and "outside the data root" in detail
    )
    with pytest.raises(ValueError, match="--strict: 1 problems"):
        load_split("csv", tmp_path / "root", "train", strict=True)


def test_train_test_overlap_is_reported(tmp_path):
    labelled_csv(tmp_path, "train", [("a", "calm"), ("b", "tense")])
    labelled_csv(tmp_path, "test", [("c", "calm"), ("b", "tense")])
    splits = DatasetArguments("csv", str(tmp_path)).load_splits()
    assert [(k, c) for k, c, _ in splits["test"].problems] == [("overlap", "b")]
    assert "train.csv:3" in splits["test"].problems[0][2] and "test.csv:3" in splits["test"].problems[0][2]
    assert not splits["train"].problems
    with pytest.raises(ValueError, match="--strict: 1 problems"):
        DatasetArguments("csv", str(tmp_path), strict=True).load_splits()


def test_an_empty_split_fails_strict(tmp_path):
    labelled_csv(tmp_path, "train", [("a", "calm")])
    labelled_csv(tmp_path, "test", [("b", "calm")], make_clips=False)
    report = load_split("csv", tmp_path, "test")
    assert not report.clips and "no valid clips" in report.format()
    with pytest.raises(ValueError, match="csv / test has no valid clips"):
        load_split("csv", tmp_path, "test", strict=True)
    (tmp_path / "test.csv").write_text("path,label\n")  # no rows at all, no problem rows either
    with pytest.raises(ValueError, match="csv / test has no valid clips"):
        load_split("csv", tmp_path, "test", strict=True)
