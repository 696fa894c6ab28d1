"""`a3lign predict`: one clip as the pipeline classifies it, a timeline written and summarised, clear errors."""

import pytest
from transformers import pipeline

from a3lign.cli import main as a3lign
from a3lign.cli.predict import main as predict_cli

from ..predict import tiny_model_folder
from ..scenes import faceless_video
from ..videos import noise_frames, write_frame_folder, write_video


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    return tiny_model_folder(tmp_path_factory.mktemp("predict") / "model", seed=4)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(
        tmp_path_factory.mktemp("videos") / "clip.mkv", noise_frames(40, 48, 64, seed=1), "ffv1", "yuv444p", rate=8
    )


def test_one_clip_prints_the_pipelines_top_classes(model_folder, video, capsys):
    results = predict_cli([str(video), "--model", str(model_folder), "--top_k", "2"])
    expected = pipeline("video-classification", model=str(model_folder), trust_remote_code=True)(str(video), top_k=2)
    assert results == expected
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [r["label"] for r in expected]
    assert lines[0].endswith(f"{expected[0]['score']:.3f}")


def test_timeline_writes_its_files_and_a_summary(model_folder, video, tmp_path, capsys):
    assert (
        a3lign(
            [
                "predict",
                str(video),
                "--model",
                str(model_folder),
                "--timeline",
                "--window",
                "2",
                "--stride",
                "1",
                "--output",
                str(tmp_path / "out"),
                "--quiet",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "clip.mkv: 5.0 s at 8 fps (by its timestamps), 4 windows of 2 s every 1 s (10 frames through the vision tower)"
        in out
    )
    assert "dominant emotion: " in out and "segments: 0.0-" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["timeline.csv", "timeline.json", "timeline.png"]


def test_errors_name_what_is_wrong(model_folder, video, tmp_path):
    with pytest.raises(SystemExit, match="error: video '.*nowhere.mp4' does not exist"):
        predict_cli([str(tmp_path / "nowhere.mp4"), "--model", str(model_folder)])
    with pytest.raises(SystemExit, match=r"error: stride=0.3 s is invalid: .* use e.g. 0.5 or 1"):
        predict_cli(
            [str(video), "--model", str(model_folder), "--timeline", "--stride", "0.3", "--output", str(tmp_path)]
        )
    street = write_video(tmp_path / "street.mp4", faceless_video(16), "libx264", "yuv444p", rate=8)
    with pytest.raises(SystemExit, match=r"error: no face found in '.*street.mp4' \(face_crop='strict'\)"):
        predict_cli([str(street), "--model", str(model_folder), "--face_crop", "strict"])
    with pytest.raises(SystemExit, match="face_margin=-1.0 is invalid"):
        predict_cli([str(video), "--model", str(model_folder), "--face_crop", "true", "--face_margin", "-1"])


def test_a_frame_folders_rate_is_a_flag(model_folder, tmp_path, capsys):
    folder = write_frame_folder(tmp_path / "frames", noise_frames(40, 32, 32, seed=3))
    predict_cli(
        [
            str(folder),
            "--model",
            str(model_folder),
            "--timeline",
            "--frame_folder_fps",
            "10",
            "--window",
            "2",
            "--stride",
            "1",
            "--output",
            str(tmp_path / "out"),
            "--quiet",
        ]
    )
    assert "frames: 4.0 s at 10 fps (frame folder, frame_folder_fps)" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="frame_folder_fps=0.0 is invalid"):
        predict_cli([str(folder), "--model", str(model_folder), "--frame_folder_fps", "0"])
