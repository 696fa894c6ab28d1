"""`a3lign data crop-faces`: raw videos -> face-frame folders for the folder / csv readers, the same pixels the
processor's face_crop gives the pipeline; resumable, parallel, clips without a face reported."""

import csv
import json
from fractions import Fraction

import pytest
import torch

from a3lign import A3lignVideoProcessor
from a3lign.cli.data import main as data_cli
from a3lign.data import ClipDataset, load_split
from a3lign.data.faces import REPORT_NAME, crop_faces

from ..scenes import astronaut_video, faceless_video
from ..videos import write_video


def write_raw(path, frames):
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_video(path, frames, "libx264", "yuv420p")


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """A `folder` dataset of raw videos: three with the astronaut (panned, zoomed, still) and one without a face."""
    root = tmp_path_factory.mktemp("raw")
    write_raw(
        root / "train" / "Happy" / "pan.mp4", astronaut_video(40, face_side=60, centre=((90, 100), (220, 140)))[0]
    )
    write_raw(root / "train" / "Sad" / "zoom.mp4", astronaut_video(30, face_side=(50, 80), seed=1)[0])
    write_raw(root / "test" / "Happy" / "still.mp4", astronaut_video(20, face_side=90, seed=2)[0])
    write_raw(root / "test" / "Sad" / "street.mp4", faceless_video(20))
    with open(root / "train.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(
            [("path", "label"), ("train/Happy/pan.mp4", "Happy"), ("train/Sad/zoom.mp4", "Sad")]
        )
    with open(root / "test.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(
            [("path", "label"), ("test/Happy/still.mp4", "Happy"), ("test/Sad/street.mp4", "Sad")]
        )
    return root


@pytest.fixture(scope="module")
def cropped(raw, tmp_path_factory):
    output = tmp_path_factory.mktemp("faces")
    return output, crop_faces(raw, output, num_frames=16, num_workers=2)


def test_training_on_the_folders_sees_what_the_pipeline_sees(raw, cropped):
    output, report = cropped
    assert report["counts"] == {"written": 3, "no_face": 1} and report["no_face"] == [str(raw / "test/Sad/street.mp4")]
    plain, faces = A3lignVideoProcessor(), A3lignVideoProcessor(face_crop=True)
    for split in ("train", "test"):
        clips = load_split("folder", output, split, classes=["Happy", "Sad"]).clips
        dataset = ClipDataset(clips, plain)  # evaluation view: what training evaluates on
        for position, clip in enumerate(clips):
            source = raw / clip.path.relative_to(output).parent / f"{clip.path.name}.mp4"
            assert (
                len(list(clip.path.glob("*.png"))) == {"pan": 40, "zoom": 30, "still": 20}[clip.path.name]
            )  # every frame
            pipeline_pixels = faces(str(source))["pixel_values_videos"][0]
            assert torch.equal(dataset[position]["pixel_values_videos"], pipeline_pixels), clip.path
    assert not (output / "test" / "Sad" / "street").exists() and not (output / ".partial").exists()


def test_split_files_are_rewritten_without_the_clips_without_a_face(cropped):
    output, report = cropped
    assert report["split_files"] == {"test.csv": {"rows": 1, "dropped": 1}, "train.csv": {"rows": 2, "dropped": 0}}
    report_file = json.loads((output / REPORT_NAME).read_text())
    assert report_file["counts"] == report["counts"]
    train = load_split("csv", output, "train")
    assert [c.path.name for c in train.clips] == ["pan", "zoom"] and not train.problems
    assert [c.path.name for c in load_split("csv", output, "test", classes=["Happy", "Sad"]).clips] == ["still"]


def test_a_run_resumes_and_writes_only_whole_folders(raw, cropped, tmp_path):
    output, _ = cropped
    pan = output / "train" / "Happy" / "pan"
    stamps = {f: f.stat().st_mtime_ns for f in pan.iterdir()}
    again = crop_faces(raw, output, num_frames=16, num_workers=1)
    assert again["counts"] == {"exists": 3, "no_face": 1}
    assert {f: f.stat().st_mtime_ns for f in pan.iterdir()} == stamps
    # an interrupted run leaves only a hidden partial folder, which the next run redoes
    copy = tmp_path / "faces"
    (copy / ".partial" / "test" / "Happy" / "still").mkdir(parents=True)
    (copy / ".partial" / "test" / "Happy" / "still" / "1.png").write_bytes(b"half")
    report = crop_faces(raw / "test.csv", copy, num_frames=16, num_workers=1)
    assert report["counts"] == {"written": 1, "no_face": 1} and not (copy / ".partial").exists()
    assert len(list((copy / "test" / "Happy" / "still").glob("*.png"))) == 20


def test_keep_writes_whole_frames_as_the_fallback_sees_them(raw, tmp_path):
    report = crop_faces(raw / "test.csv", tmp_path / "out", num_frames=16, no_face="keep", num_workers=1)
    assert report["counts"] == {"written": 1, "no_face": 1} and report["split_files"]["test.csv"]["dropped"] == 0
    whole = A3lignVideoProcessor()(str(tmp_path / "out" / "test" / "Sad" / "street"))["pixel_values_videos"]
    assert torch.equal(
        whole, A3lignVideoProcessor(face_crop=True)(str(raw / "test" / "Sad" / "street.mp4"))["pixel_values_videos"]
    )


def test_command_lists_and_errors(raw, tmp_path, capsys):
    (tmp_path / "list.txt").write_text("clips/still.mp4\n")
    write_raw(tmp_path / "clips" / "still.mp4", astronaut_video(12, face_side=90)[0])
    assert (
        data_cli(
            [
                "crop-faces",
                "--input",
                str(tmp_path / "list.txt"),
                "--output",
                str(tmp_path / "out"),
                "--num_frames",
                "4",
                "--num_workers",
                "1",
            ]
        )
        == 0
    )
    assert (
        "1 clips -> " in capsys.readouterr().out
        and len(list((tmp_path / "out" / "clips" / "still").glob("*.png"))) == 12
    )
    (tmp_path / "bad.txt").write_text("../outside.mp4\n")
    assert data_cli(["crop-faces", "--input", str(tmp_path / "bad.txt"), "--output", str(tmp_path / "o2")]) == 2
    assert "'../outside.mp4' at bad.txt:1 leads out of the list's folder" in capsys.readouterr().err
    assert data_cli(["crop-faces", "--input", str(raw), "--output", str(tmp_path / "o3"), "--no_face", "drop"]) == 2
    assert "no_face='drop' is invalid" in capsys.readouterr().err
    assert data_cli(["crop-faces", "--input", str(tmp_path / "nowhere"), "--output", str(tmp_path / "o4")]) == 2


def test_a_variable_rate_videos_folder_is_sampled_as_the_video(tmp_path):
    """A phone's recording, 30 fps then 4 fps: its folder carries the video's timestamps, so training samples the
    folder by time exactly as the pipeline samples the video: identical pixels (frames by index would differ)."""
    frames, _ = astronaut_video(60, face_side=60, centre=((100, 100), (220, 130)))
    times = [round(1000 * k / 30) for k in range(45)] + [1500 + 250 * k for k in range(15)]
    raw = tmp_path / "raw"
    raw.mkdir()
    write_video(raw / "phone.mp4", frames, "libx264", "yuv420p", times_ms=times, options={"bf": "0"})
    report = crop_faces(raw, tmp_path / "faces", num_frames=16, num_workers=1)
    assert report["counts"] == {"written": 1}
    folder = tmp_path / "faces" / "phone"
    stamps = json.loads((folder / "timestamps.json").read_text())
    assert float(stamps["pts"][-1] * Fraction(stamps["time_base"])) == pytest.approx(times[-1] / 1000)
    faces = A3lignVideoProcessor(face_crop=True)
    from_video = faces(str(raw / "phone.mp4"), return_metadata=True)
    from_folder = A3lignVideoProcessor()(str(folder), return_metadata=True)
    assert from_folder["video_metadata"][0].frames_indices == from_video["video_metadata"][0].frames_indices
    assert torch.equal(from_folder["pixel_values_videos"], from_video["pixel_values_videos"])
