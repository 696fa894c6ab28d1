"""The int8 tower (`--tower int8`): the same model's probabilities within a small distance of transformers' tower, the
timeline and `a3lign predict` run with it, a tower that does not exist is named."""

import numpy as np
import pytest

from a3lign.predict import predict_timeline
from a3lign.predict.tower import use_tower

from ..videos import noise_frames, write_video
from . import RATE
from .test_timeline import load


def test_the_int8_tower_agrees_with_transformers_tower(tinted_run, tmp_path):
    video = write_video(tmp_path / "c.mkv", noise_frames(6 * RATE, 48, 64, seed=6), "ffv1", "yuv444p", rate=RATE)
    model, processor = load(tinted_run)
    plain = predict_timeline(model, processor, video, progress=False)
    quick = predict_timeline(use_tower(load(tinted_run)[0], "int8"), processor, video, progress=False)
    assert quick.times == plain.times
    difference = np.abs(quick.probabilities - plain.probabilities).max()
    assert 0 < difference < 0.05, difference  # quantized (not the same arithmetic), yet the same answers here
    assert (quick.dominant == plain.dominant).all()


def test_predict_takes_the_tower_and_names_a_bad_one(tinted_run, tmp_path):
    from a3lign.cli.predict import main as predict

    video = write_video(tmp_path / "c.mkv", noise_frames(3 * RATE, 48, 64, seed=7), "ffv1", "yuv444p", rate=RATE)
    results = predict([str(video), "--model", str(tinted_run), "--tower", "int8"])
    assert len(results) == 2 and abs(sum(r["score"] for r in results) - 1) < 1e-5
    with pytest.raises(ValueError, match="tower='fp4' is invalid: expected one of transformers, int8"):
        use_tower(load(tinted_run)[0], "fp4")
