"""The `a3lign` console script: dispatch, the root train_bap.py, `a3lign data check` and `a3lign cache`.
(`a3lign train`, `evaluate` and `demo` run in tests/train.)"""

import subprocess
import sys
from pathlib import Path

import pytest

from a3lign import A3lignVideoProcessor
from a3lign.cli import main as a3lign
from a3lign.cli.cache import main as cache_cli
from a3lign.cli.data import main as data_cli
from a3lign.data import load_split, synthesize
from a3lign.train.arguments import ModelArguments, TrainingDataArguments
from a3lign.train.frame_cache import FrameEmbeddingCache
from a3lign.train.run import build_model

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
    result = subprocess.run([sys.executable, str(ROOT / "train_bap.py"), "--help"], capture_output=True, text=True,
                            timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--stage_epochs" in result.stdout and "--dataset" in result.stdout and "--frame_cache_dir" in result.stdout


def test_check_command_reports_and_strict_fails(dfew, capsys):
    assert data_cli(["check", "--dataset", "dfew", "--data_root", str(dfew), "--fold", "1"]) == 0
    out = capsys.readouterr().out
    for line in ("6 listed, 3 valid clips", "missing               1", "empty                 1", "unknown_label         1",
                 "Happy 1", "Disgust 1", "Neutral 1"):
        assert line in out, line
    assert data_cli(["check", "--dataset", "dfew", "--data_root", str(dfew), "--fold", "1", "--strict"]) == 1
    assert data_cli(["check", "--dataset", "dfew", "--data_root", str(dfew), "--fold", "2"]) == 2  # no set_2
    assert "set_2.csv' does not exist; expected layout" in capsys.readouterr().err


def test_cache_command_writes_the_cache_training_reads(tmp_path, tiny_clip_dir):
    root = synthesize(tmp_path / "data", clips_per_class=1, test_clips_per_class=1, seed=2)
    cache_cli(["--clip_model", str(tiny_clip_dir), "--dataset", "synthetic", "--data_root", str(root), "--num_frames", "4",
               "--image_size", "32", "--views", "2", "--seed", "42", "--cache_dir", str(tmp_path / "cache"),
               "--num_workers", "0"])
    # What a3lign train builds for the same data and settings (its default seed is 42) finds those shards.
    model = build_model(ModelArguments(clip_model=str(tiny_clip_dir), num_frames=4, image_size=32, mat_sentences=2,
                                       mat_tokens=5), {i: str(i) for i in range(7)}, first_stage=1)
    processor = A3lignVideoProcessor.from_model_config(model.config)
    data = TrainingDataArguments(frame_cache_dir=str(tmp_path / "cache"), frame_cache_views=2)
    train_clips = load_split("synthetic", root, "train").clips
    cache = FrameEmbeddingCache(data.frame_cache_dir, model, processor, train_clips, data.frame_cache_views, seed=42)
    assert cache.shard_path(0).exists() and cache.extract() == 0
    assert len(list((tmp_path / "cache").iterdir())) == 2  # train and test caches
