"""One label policy for every reader: a declared class set (official, the train split's labels, or --classes),
numbers sorted as numbers, case kept and collisions refused, anything else a counted skip naming file and line."""

import pytest

from a3lign.data import DFEW_LABELS, DatasetArguments, load_split

from ..layouts import labelled_csv, small_dfew, tiny_clip


def kinds(report):
    return [(kind, clip_id) for kind, clip_id, _ in report.problems]


def test_numeric_class_names_sort_as_numbers(tmp_path):
    """Ids of 10 or more keep their own names ("10" is not sorted before "2")."""
    rows = [(f"c/{k}", str(k)) for k in range(12)]
    report = load_split("csv", labelled_csv(tmp_path, "train", rows), "train")
    assert report.id2label == {k: str(k) for k in range(12)}
    assert [c.label for c in report.clips] == list(range(12)) and not report.problems


def test_numeric_class_folders_map_in_order_with_none_dropped(tmp_path):
    for split in ("train", "test"):
        for name in ("1", "2", "3"):
            tiny_clip(tmp_path / split / name / "clip")
    for split in ("train", "test"):
        report = load_split("folder", tmp_path, split)
        assert report.id2label == {0: "1", 1: "2", 2: "3"}
        assert [(c.clip_id, c.label) for c in report.clips] == [("1/clip", 0), ("2/clip", 1), ("3/clip", 2)]
        assert not report.problems


def test_a_numeric_test_label_maps_as_the_train_labels_do(tmp_path):
    labelled_csv(tmp_path, "train", [("a", "1"), ("b", "2"), ("c", "3")])
    labelled_csv(tmp_path, "test", [("d", "3"), ("e", "1"), ("f", "0"), ("g", "4")])
    test = load_split("csv", tmp_path, "test")
    assert test.id2label == {0: "1", 1: "2", 2: "3"}
    assert [(c.clip_id, test.id2label[c.label]) for c in test.clips] == [("d", "3"), ("e", "1")]
    assert kinds(test) == [("unknown_label", "f"), ("unknown_label", "g")]


def test_labels_differing_only_in_case_are_an_error(tmp_path):
    labelled_csv(tmp_path, "train", [("a", "Happy"), ("b", "Sad"), ("c", "happy")])
    with pytest.raises(ValueError, match=r"'Happy' \(train.csv:2\) and 'happy' \(train.csv:4\) differ only in case"):
        load_split("csv", tmp_path, "train")
    for split in ("train", "test"):
        tiny_clip(tmp_path / split / "Calm" / "x")
        tiny_clip(tmp_path / split / "calm" / "y")
    with pytest.raises(ValueError, match=r"'Calm' .* and 'calm' .* differ only in case"):
        load_split("folder", tmp_path, "train")


def test_case_is_kept(tmp_path):
    labelled_csv(tmp_path, "train", [("a", "happy"), ("b", "Sad")])
    labelled_csv(tmp_path, "test", [("c", "Happy"), ("d", "sad")])  # one spelling each: the classes they name
    report = load_split("csv", tmp_path, "test")
    assert report.id2label == {0: "happy", 1: "Sad"}
    assert [c.label for c in report.clips] == [0, 1]


def test_a_blank_label_is_a_counted_skip_not_a_class(tmp_path):
    labelled_csv(tmp_path, "train", [("a", "calm"), ("b", " "), ("c", "tense")])
    report = load_split("csv", tmp_path, "train")
    assert report.id2label == {0: "calm", 1: "tense"}
    assert kinds(report) == [("blank_label", "b")] and "train.csv:3" in report.problems[0][2]


def test_out_of_range_ids_are_skips_not_phantom_classes(tmp_path):
    """One typo (99) in an annotation list does not make a 100-class model; -1 is no class either."""
    for name in "abcdef":
        tiny_clip(tmp_path / name)
    (tmp_path / "train.txt").write_text("a 2 0\nb 2 1\nc 2 2\nd 2 99\ne 2 -1\n")
    (tmp_path / "test.txt").write_text("a 2 2\nf 2 3\n")
    train = load_split("annotation", tmp_path, "train")
    assert len(train.id2label) == 3 and [c.label for c in train.clips] == [0, 1, 2]
    assert kinds(train) == [("unknown_label", "d"), ("unknown_label", "e")]
    assert "label '99' at train.txt:4 is not a class: expected" in train.problems[0][2]
    test = load_split("annotation", tmp_path, "test")  # the classes are train's, whatever test lists
    assert test.id2label == train.id2label and kinds(test) == [("unknown_label", "f")]
    # A numeric CSV: -1 (often "unlabelled") is no class.
    labelled_csv(tmp_path / "csv", "train", [("a", "0"), ("b", "1"), ("c", "-1")])
    report = load_split("csv", tmp_path / "csv", "train")
    assert report.id2label == {0: "0", 1: "1"} and kinds(report) == [("unknown_label", "c")]


def test_ids_into_named_classes_are_range_checked(tmp_path):
    """Where the labels are names, a number is an id into them, never a class of its own, in train as in test."""
    labelled_csv(tmp_path, "train", [("a", "calm"), ("b", "tense"), ("f", "99"), ("g", "0")])
    train = load_split("csv", tmp_path, "train")
    assert train.id2label == {0: "calm", 1: "tense"} and [c.label for c in train.clips] == [0, 1, 0]
    assert kinds(train) == [("unknown_label", "f")] and "(or a number 0..1)" in train.problems[0][2]
    labelled_csv(tmp_path, "test", [("c", "1"), ("d", "2"), ("e", "-1")])
    report = load_split("csv", tmp_path, "test")
    assert [c.label for c in report.clips] == [1]
    assert kinds(report) == [("unknown_label", "d"), ("unknown_label", "e")]


def test_unknown_label_names_file_line_and_the_classes(tmp_path):
    labelled_csv(tmp_path, "train", [("a", "Happy"), ("b", "Sad"), ("c", "Sad")])
    labelled_csv(tmp_path, "test", [("d", "Hapy")])
    (problem,) = load_split("csv", tmp_path, "test").problems
    assert problem[0] == "unknown_label"
    assert "label 'Hapy' at test.csv:2 is not a class: expected one of Happy, Sad" in problem[2]


def test_declared_classes(tmp_path):
    """--classes fixes the class order; a label outside it is a counted skip, in every split."""
    labelled_csv(tmp_path, "train", [("a", "Happy"), ("b", "Sad"), ("c", "Angry"), ("d", "0")])
    report = load_split("csv", tmp_path, "train", classes=("Sad", "Happy"))
    assert report.id2label == {0: "Sad", 1: "Happy"}
    assert [(c.clip_id, c.label) for c in report.clips] == [("a", 1), ("b", 0), ("d", 0)]
    assert kinds(report) == [("unknown_label", "c")]
    assert "expected one of Sad, Happy" in report.problems[0][2]
    arguments = DatasetArguments("csv", str(tmp_path), classes="Sad, Happy")
    assert arguments.load("train").id2label == {0: "Sad", 1: "Happy"}
    for bad, message in (
        ("Sad,,Happy", "a blank class"),
        ("Sad,Happy,Sad", "'Sad' twice"),
        ("Sad,sad", "'Sad' and 'sad', which differ only in case"),
    ):
        with pytest.raises(ValueError, match=message):
            DatasetArguments("csv", str(tmp_path), classes=bad).load("train")


def test_official_datasets_keep_their_class_list(tmp_path):
    root = small_dfew(tmp_path / "DFEW")
    assert load_split("dfew", root, "train", fold=1, classes=DFEW_LABELS).id2label == dict(enumerate(DFEW_LABELS))
    with pytest.raises(ValueError, match="dfew's classes are its official list: Happy, Sad"):
        load_split("dfew", root, "train", fold=1, classes=("Sad", "Happy"))


def test_natural_order_and_no_usable_label(tmp_path):
    labelled_csv(tmp_path, "train", [("a", "level10"), ("b", "Level2"), ("c", "level1")])
    assert load_split("csv", tmp_path, "train").id2label == {0: "level1", 1: "Level2", 2: "level10"}
    labelled_csv(tmp_path, "train", [("a", ""), ("b", "-1")])
    with pytest.raises(ValueError, match="the train split's labels declare no class: 2 listed clips"):
        load_split("csv", tmp_path, "train")
