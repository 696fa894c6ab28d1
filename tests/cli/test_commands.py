"""The `a3lign` console script: dispatch, the root train_bap.py, `a3lign data check` and `a3lign cache`.
(`a3lign train`, `evaluate` and `demo` run in tests/train.)"""

import subprocess
import sys
from pathlib import Path

import pytest

from a3lign.cli import main as a3lign
from a3lign.cli.cache import main as cache_cli
from a3lign.cli.data import main as data_cli
from a3lign.cli.train import main as train_cli
from a3lign.data import synthesize

from ..layouts import small_dfew

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dfew(tmp_path):
    return small_dfew(tmp_path / "DFEW")


def test_dispatch(capsys):
    assert a3lign([]) == 2 and a3lign(["--help"]) == 0
    assert "a3lign COMMAND" in capsys.readouterr().out
    assert a3lign(["fly"]) == 2 and "unknown command 'fly'" in capsys.readouterr().err
    assert a3lign(["data", "check", "--dataset", "csv", "--data_root", "/nowhere"]) == 2


def test_train_bap_script_is_the_train_command():
    """The root script `accelerate launch` runs is `a3lign train` (same flags), and the package never imports it."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "train_bap.py"), "--help"], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--stage_epochs" in result.stdout and "--dataset" in result.stdout and "--frame_cache_dir" in result.stdout


def test_check_command_reports_and_strict_fails(dfew, capsys):
    assert data_cli(["check", "--dataset", "dfew", "--data_root", str(dfew), "--fold", "1"]) == 0
    out = capsys.readouterr().out
    for line in (
        "6 listed, 3 valid clips",
        "missing               1",
        "empty                 1",
        "unknown_label         1",
        "Happy 1",
        "Disgust 1",
        "Neutral 1",
    ):
        assert line in out, line
    assert data_cli(["check", "--dataset", "dfew", "--data_root", str(dfew), "--fold", "1", "--strict"]) == 1
    assert data_cli(["check", "--dataset", "dfew", "--data_root", str(dfew), "--fold", "2"]) == 2  # no set_2
    assert "set_2.csv' does not exist; expected layout" in capsys.readouterr().err


def test_cache_command_writes_the_cache_training_reads(tmp_path, tiny_clip_dir):
    """`a3lign cache` takes a3lign train's arguments and runs its extraction: training then extracts nothing."""
    root = synthesize(tmp_path / "data", clips_per_class=1, test_clips_per_class=1, seed=2)
    flags = [
        "--clip_model",
        str(tiny_clip_dir),
        "--dataset",
        "synthetic",
        "--data_root",
        str(root),
        "--num_frames",
        "4",
        "--image_size",
        "32",
        "--mat_sentences",
        "2",
        "--mat_tokens",
        "5",
        "--frame_cache_views",
        "2",
        "--frame_cache_dir",
        str(tmp_path / "cache"),
        "--train_flip",
        "false",
        "--dataloader_num_workers",
        "0",
        "--use_cpu",
        "true",
        "--output_dir",
        str(tmp_path / "run"),
    ]
    assert cache_cli(flags) == 0
    shards = sorted((tmp_path / "cache").rglob("shard_*.safetensors"))
    assert len(shards) == 2  # train and test caches
    written = {shard: shard.stat().st_mtime_ns for shard in shards}
    runs = train_cli([*flags, "--stage_epochs", "1", "0", "0", "--save_strategy", "no", "--disable_tqdm", "true"])
    assert sorted((tmp_path / "cache").rglob("shard_*.safetensors")) == shards
    assert {shard: shard.stat().st_mtime_ns for shard in shards} == written  # read, not extracted again
    assert runs[0].figures["multi_view"]["views"] == "2x2"
    with pytest.raises(SystemExit, match="--frame_cache_dir is required"):
        cache_cli(flags[:-10] + flags[-8:])


def test_check_decodes_the_sampled_frames_and_quick_reads_headers(tmp_path, capsys):
    """Clips whose header reads but whose frames do not decode fail `check --strict`; `--quick` is the header scan."""
    from ..layouts import corrupt_frame_folder, labelled_csv, undecodable_video

    undecodable_video(tmp_path / "broken.mp4")
    corrupt_frame_folder(tmp_path / "broken_frames")
    labelled_csv(
        tmp_path, "train", [("a", "calm"), ("broken.mp4", "calm"), ("broken_frames", "tense"), ("b", "tense")]
    )
    labelled_csv(tmp_path, "test", [("c", "calm"), ("d", "tense")])
    flags = ["check", "--dataset", "csv", "--data_root", str(tmp_path), "--num_frames", "4"]
    assert data_cli([*flags, "--strict"]) == 1
    out = capsys.readouterr().out
    assert "4 listed, 2 valid clips" in out and "undecodable           2" in out
    assert "broken.mp4" in out and "2.png" in out
    assert data_cli([*flags, "--quick", "--strict"]) == 0
    assert "undecodable           0" in capsys.readouterr().out


def test_check_strict_fails_on_duplicates_overlap_and_an_empty_split(tmp_path, capsys):
    from ..layouts import labelled_csv

    flags = ["check", "--dataset", "csv", "--data_root", str(tmp_path), "--strict"]
    labelled_csv(tmp_path, "train", [("a", "calm"), ("b", "tense")])
    labelled_csv(tmp_path, "test", [("c", "calm")])
    assert data_cli(flags) == 0
    labelled_csv(tmp_path, "test", [("c", "calm"), ("a", "calm"), ("c", "calm")])
    assert data_cli(flags) == 1
    out = capsys.readouterr().out
    assert "overlap               1" in out and "duplicate             1" in out and "train.csv:2" in out
    labelled_csv(tmp_path, "test", [], make_clips=False)  # an empty test split
    assert data_cli(flags) == 1
    assert "no valid clips" in capsys.readouterr().out
    assert data_cli(flags[:-1]) == 0  # reported, not failed, without --strict
