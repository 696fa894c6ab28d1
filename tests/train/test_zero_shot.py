"""The "before training" figures: a run whose MAT starts from text reports CLIP's zero-shot classifier first
(metrics.json, the card, the fold table), and `a3lign evaluate --zero_shot` gives the same figures without a run; the
built-in descriptions cover DFEW's, FERV39k's and MAFW's classes."""

import json

import pytest

from a3lign.cli.evaluate import main as evaluate_cli
from a3lign.cli.train import main as train_cli
from a3lign.data import DFEW_LABELS, MAFW_LABELS, synthesize
from a3lign.data.descriptions import EXPRESSIONS, descriptions_for

from ..conftest import save_clip_with_tokenizer
from . import run_summary

SHORT = {label: [f"a {label.lower()} face", f"{label.lower()} eyes and mouth"] for label in DFEW_LABELS}


@pytest.fixture(scope="module")
def text_clip(tmp_path_factory):
    return save_clip_with_tokenizer(tmp_path_factory.mktemp("text-clip"))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = synthesize(tmp_path_factory.mktemp("synthetic"), clips_per_class=2, test_clips_per_class=2, seed=2)
    (root / "descriptions.json").write_text(json.dumps(SHORT))
    return root


def flags(data, clip, out):
    return [
        "--dataset",
        "synthetic",
        "--data_root",
        str(data),
        "--clip_model",
        str(clip),
        "--image_size",
        "32",
        "--num_frames",
        "4",
        "--mat_sentences",
        "2",
        "--mat_tokens",
        "30",
        "--mat_init",
        "text",
        "--mat_descriptions",
        str(data / "descriptions.json"),
        "--stage_epochs",
        "1",
        "1",
        "1",
        "--per_device_train_batch_size",
        "7",
        "--test_views",
        "1x1",
        "--save_strategy",
        "no",
        "--report_to",
        "none",
        "--dataloader_num_workers",
        "0",
        "--use_cpu",
        "true",
        "--disable_tqdm",
        "true",
        "--output_dir",
        str(out),
    ]


def test_a_run_from_text_reports_the_zero_shot_classifier_first(data, text_clip, tmp_path):
    out = tmp_path / "run"
    run = train_cli(flags(data, text_clip, out))[0].figures
    zero = run["zero_shot"]
    assert run["mat_init"] == "text" and 0 <= zero["uar"] <= 100
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["zero_shot"]["uar"] == pytest.approx(zero["uar"]) and metrics["mat_init"] == "text"
    card = (out / "README.md").read_text()
    assert f"| before training: CLIP zero-shot, 1 view | {zero['uar']:.2f} | {zero['war']:.2f} |" in card
    # the same figures without a run: the untrained model, CLIP's zero-shot classifier of the same descriptions
    alone = evaluate_cli(
        [
            "--zero_shot",
            "--clip_model",
            str(text_clip),
            "--mat_descriptions",
            str(data / "descriptions.json"),
            "--num_frames",
            "4",
            "--image_size",
            "32",
            "--mat_sentences",
            "2",
            "--dataset",
            "synthetic",
            "--data_root",
            str(data),
            "--num_workers",
            "0",
            "--output",
            str(tmp_path / "zero.json"),
        ]
    )
    assert (
        alone["zero_shot"]
        and alone["uar"] == pytest.approx(zero["uar"])
        and alone["war"] == pytest.approx(zero["war"])
    )
    assert json.loads((tmp_path / "zero.json").read_text())["uar"] == pytest.approx(zero["uar"])


def test_zero_shot_evaluation_names_what_is_missing(data, tiny_clip_dir):
    with pytest.raises(SystemExit, match="has no tokenizer"):
        evaluate_cli(
            [
                "--zero_shot",
                "--clip_model",
                str(tiny_clip_dir),
                "--image_size",
                "32",
                "--dataset",
                "synthetic",
                "--data_root",
                str(data),
                "--num_workers",
                "0",
            ]
        )
    with pytest.raises(SystemExit, match="pass --clip_model, not --model"):
        evaluate_cli(["--zero_shot", "--model", "somewhere", "--dataset", "synthetic", "--data_root", str(data)])


def test_the_built_in_descriptions_cover_the_datasets_classes():
    for labels in (DFEW_LABELS, MAFW_LABELS):
        descriptions = descriptions_for(list(labels))
        assert list(descriptions) == list(labels)
        assert all(
            len(set(sentences)) == 16 and max(len(s.split()) for s in sentences) <= 16
            for sentences in descriptions.values()
        )
    assert len(EXPRESSIONS) == 11
    with pytest.raises(ValueError, match=r"no built-in descriptions of \['Bored'\].*--mat_descriptions"):
        descriptions_for(["Happy", "Bored"])


def test_the_fold_table_has_the_before_training_columns(tmp_path):
    from a3lign.train.reporting import write_fold_table

    folds = [
        run_summary(fold=str(k), final={"uar": 50.0 + k, "war": 60.0 + k}, zero_shot={"uar": 20.0 + k, "war": 25.0})
        for k in (1, 2)
    ]
    table = write_fold_table(tmp_path, folds)
    assert table.splitlines()[0] == "| fold | zero-shot UAR (%) | zero-shot WAR (%) | UAR (%) | WAR (%) |"
    assert "| 1 | 21.00 | 25.00 | 51.00 | 61.00 |" in table and "| mean ± std | 21.50 ± 0.71" in table
    assert json.loads((tmp_path / "folds.json").read_text())["mean"]["zero_shot_uar"] == 21.5
