"""Timelines of whole videos: the switch of a two-part video found within one stride by a model trained here; each
window is the pipeline's clip; each sampled frame goes through the vision tower once; windows placed by time; faces
tracked over the video (shots, a face that leaves); outputs."""

import csv
import json

import numpy as np
import pytest
from transformers import AutoModelForVideoClassification, AutoVideoProcessor, pipeline

from a3lign.data.synthetic import write_mp4
from a3lign.decoding_a3lign import FrameTiming, probe_clip
from a3lign.predict import format_summary, frame_grid, predict_timeline, write_timeline

from ..scenes import astronaut_video, camera_video, faceless_video
from ..videos import coded_frames, noise_frames, write_frame_folder, write_video
from . import RATE, tinted_stretch, tiny_model_folder


def load(folder, **overrides):
    model = AutoModelForVideoClassification.from_pretrained(folder, trust_remote_code=True).eval()
    return model, AutoVideoProcessor.from_pretrained(folder, trust_remote_code=True, **overrides)


def test_the_switch_is_found_within_one_stride(tinted_run, tmp_path):
    """8 s of one class, then 8 s of the other (clips never seen in training): the dominant class changes once, within
    one stride (0.5 s) of 8 s, and the files say so."""
    frames = np.concatenate([tinted_stretch("Happy", 8, seed=5000), tinted_stretch("Sad", 8, seed=6000)])
    video = tmp_path / "switch.mp4"
    write_mp4(video, frames, RATE)
    timeline = predict_timeline(*load(tinted_run), video, window=2, stride=0.5, progress=False)
    assert timeline.duration == 16 and len(timeline.times) == 29
    segments = timeline.segments()
    assert [label for _, _, label in segments] == ["Happy", "Sad"] and segments[1][1] == 16, segments
    switch = segments[0][1]
    assert abs(switch - 8) <= 0.5, segments
    assert timeline.shares()["Happy"] == pytest.approx(0.5, abs=0.5 / 16)

    paths = write_timeline(timeline, tmp_path / "out")
    rows = list(csv.DictReader(open(paths["csv"])))
    assert len(rows) == 29 and list(rows[0]) == ["start", "end", "dominant", "Happy", "Sad"]
    assert [float(rows[w]["start"]) for w in (0, 1, 28)] == [0, 0.5, 14] and rows[0]["dominant"] == "Happy"
    document = json.loads(paths["json"].read_text())
    assert [s["label"] for s in document["segments"]] == ["Happy", "Sad"] and document["frames_embedded"] == 32
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = format_summary(timeline)
    assert (
        "16.0 s at 8 fps (by its timestamps), 29 windows of 2 s every 0.5 s (32 frames through the vision tower)"
        in summary
    )
    assert document["rate"] == 8 and document["rate_source"] == "timestamps"
    assert "dominant emotion: Happy 5" in summary or "dominant emotion: Sad 5" in summary


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    return tiny_model_folder(tmp_path_factory.mktemp("untrained") / "model")


# Same pixels; the vision tower's batched matmuls differ in the last float bits with the batch's size.
FLOAT_NOISE = 1e-4


def window_probabilities(classify, frames, labels):
    """The pipeline's scores of one clip, in class order."""
    scores = {r["label"]: r["score"] for r in classify(frames, top_k=len(labels))}
    return np.array([scores[label] for label in labels])


def test_windows_are_the_pipelines_clips_and_frames_are_embedded_once(untrained, tmp_path):
    frames = noise_frames(10 * RATE, 48, 64, seed=2)
    video = write_video(tmp_path / "noise.mkv", frames, "ffv1", "yuv444p", rate=RATE)  # lossless
    model, processor = load(untrained)
    batches = []
    embed = model.get_frame_embeddings

    def counting(pixels):
        batches.append(pixels.shape[1])
        return embed(pixels)

    model.get_frame_embeddings = counting
    timeline = predict_timeline(model, processor, video, window=2, stride=0.5, batch_size=8, progress=False)
    # 17 windows of 4 frames overlapping by 3: 20 grid frames, each through the tower once, in batches of 8
    assert len(timeline.times) == 17 and timeline.frames_embedded == 20 and batches == [8, 8, 4]
    classify = pipeline("video-classification", model=str(untrained), trust_remote_code=True)
    for w in (0, 5, 16):  # window w is the pipeline's clip of frames [4 w, 4 w + 16)
        expected = window_probabilities(classify, frames[4 * w : 4 * w + 16], timeline.labels)
        np.testing.assert_allclose(timeline.probabilities[w], expected, atol=FLOAT_NOISE)


def test_the_frame_grid():
    grid = frame_grid(FrameTiming.constant(80, 8), num_frames=4, window=2, stride=0.5)
    assert grid.frames == [2 + 4 * k for k in range(20)] and grid.starts == list(range(17))
    assert grid.times[16] == (8.0, 10.0) and list(grid.points(16)) == [16, 17, 18, 19]
    # stride 1 s: every second grid point starts a window; 3 s: windows apart, the frames between them unused
    assert frame_grid(FrameTiming.constant(80, 8), 4, 2, 1.0).starts == [0, 2, 4, 6, 8, 10, 12, 14, 16]
    assert frame_grid(FrameTiming.constant(80, 8), 4, 2, 3.0).starts == [0, 6, 12]
    # a video shorter than a window: one window, sampled as the pipeline samples the whole clip
    short = frame_grid(FrameTiming.constant(10, 8), num_frames=4, window=2, stride=0.5)
    assert short.frames == [1, 3, 6, 8] and short.starts == [0] and short.times == [(0.0, 1.25)]
    # a grid finer than the video's frames: frames repeat on the grid (each is still embedded once)
    assert frame_grid(FrameTiming.constant(8, 2), num_frames=16, window=2, stride=0.5).frames[:8] == [
        0,
        0,
        0,
        0,
        1,
        1,
        1,
        1,
    ]
    # a decimal window is taken as written: 2.4 s / 16 = 0.15 s exactly, so a stride of 0.45 s is 3 steps
    assert frame_grid(FrameTiming.constant(300, 20), 16, 2.4, 0.45).frames[:4] == [1, 4, 7, 10]
    with pytest.raises(
        ValueError, match=r"stride=0.3 s is invalid: .* multiple of window / num_frames = 0.5 s; use e.g. 0.5 or 1"
    ):
        frame_grid(FrameTiming.constant(80, 8), 4, 2, 0.3)
    with pytest.raises(ValueError, match="window=0 s is invalid"):
        frame_grid(FrameTiming.constant(80, 8), 4, 0, 0.5)


def test_windows_are_placed_by_time_in_a_variable_rate_video(untrained, tmp_path):
    """5 s at 24 fps, then 5 s at 3 fps: each window's frames are those on screen during its seconds (by frame index
    at the mean rate, the window "7-9 s" would read frames of 3.9-5.0 s)."""
    times = [round(1000 * k / 24) for k in range(120)] + [5000 + round(1000 * k / 3) for k in range(15)]
    video = write_video(tmp_path / "phone.mkv", coded_frames(135, 32, 32), "ffv1", "yuv444p", times_ms=times)
    info = probe_clip(video)
    grid = frame_grid(info.timing, 4, window=2, stride=1)
    starts = info.timing.starts()
    for w, (start, end) in enumerate(grid.times):
        shown = [starts[grid.frames[k]] for k in grid.points(w)]
        assert all(start - 1 / 3 < t < end for t in shown), (w, start, end, shown)
    timeline = predict_timeline(*load(untrained), video, window=2, stride=1, progress=False)
    assert timeline.duration == pytest.approx(info.duration) and timeline.times[7] == (7.0, 9.0)


def test_a_face_is_placed_in_the_seconds_it_is_on_screen(untrained, tmp_path):
    """A face for 5 s at 24 fps, then none for 5 s at 3 fps: the windows after 5 s show no face (placed by frame
    index at the mean rate, the window "7-9 s" would read frames of the first 5 s and claim one)."""
    face, _ = astronaut_video(120, face_side=70)
    frames = np.concatenate([face, faceless_video(15)[:, :, :, :]])
    times = [round(1000 * k / 24) for k in range(120)] + [5000 + round(1000 * k / 3) for k in range(15)]
    video = write_video(tmp_path / "phone.mkv", frames, "ffv1", "yuv444p", times_ms=times)
    timeline = predict_timeline(*load(untrained, face_crop=True), video, window=2, stride=1, progress=False)
    shares = dict(zip([start for start, _ in timeline.times], timeline.face.tolist()))
    assert shares[0] == shares[2] == 1 and shares[6] == shares[7] == 0 and shares[4] == 0.5


@pytest.mark.parametrize("suffix, codec", [("webm", "libvpx"), ("mp4", "libx264")])
def test_a_variable_rate_video_keeps_its_true_duration(untrained, tmp_path, suffix, codec):
    """Webcam and phone recordings have irregular frame times, and their stated rate can be far off (the WebM
    written here states 25 fps for frames 20 to 140 ms apart): times come from the timestamps."""
    video = write_video(
        tmp_path / f"recording.{suffix}", noise_frames(30, 32, 32), codec, "yuv420p", rate=25, vfr=True
    )
    info = probe_clip(video)
    assert info.num_frames == 30 and info.rate == pytest.approx(29 / 2.26)  # 29 gaps over 2.26 s of timestamps
    timeline = predict_timeline(*load(untrained), video, window=1, stride=0.25, progress=False)
    assert timeline.duration == pytest.approx(2.26 * 30 / 29) and timeline.times[-1][1] <= timeline.duration
    constant = write_video(tmp_path / f"constant.{suffix}", noise_frames(16, 32, 32), codec, "yuv420p", rate=RATE)
    assert probe_clip(constant).rate == RATE  # exactly the stated rate of a constant-rate file


def test_a_frame_folder_is_timed_at_the_processors_rate(untrained, tmp_path):
    """A frame folder states no rate: the processor's `frame_folder_fps` (25 unless set) times it, and the outputs
    say which rate they used."""
    folder = write_frame_folder(tmp_path / "frames", noise_frames(100, 32, 32))
    model, processor = load(untrained)
    assert predict_timeline(model, processor, folder, window=2, stride=1, progress=False).duration == 4
    timeline = predict_timeline(*load(untrained, frame_folder_fps=10), folder, window=2, stride=1, progress=False)
    assert timeline.duration == 10 and (timeline.rate, timeline.rate_source) == (10, "folder_fps")
    assert "10.0 s at 10 fps (frame folder, frame_folder_fps)" in format_summary(timeline)
    document = json.loads(write_timeline(timeline, tmp_path / "out")["json"].read_text())
    assert (document["rate"], document["rate_source"]) == (10, "folder_fps")


def test_faces_are_tracked_over_the_video_and_their_absence_is_told(untrained, tmp_path):
    """4 s of a face, then 2 s of four faceless photos: each window's share of frames showing the face, its box, the
    stretch without it; the cuts (to the photos, and between them); strict names the stretch."""
    face, truth = astronaut_video(4 * RATE, face_side=70, centre=((120, 110), (200, 130)))
    frames = np.concatenate([face, faceless_video(2 * RATE)])  # 4 s with a face, then 2 s without
    video = write_video(tmp_path / "street.mp4", frames, "libx264", "yuv444p", rate=RATE)
    timeline = predict_timeline(*load(untrained, face_crop=True), video, window=2, stride=0.5, progress=False)
    assert timeline.face.tolist() == [1, 1, 1, 1, 1, 0.75, 0.5, 0.25, 0]
    assert timeline.stretches_without_face == [(4.0, 6.0)] and timeline.cuts == [4.0, 4.5, 5.0, 5.5]
    for w in range(5):  # the box of each window with the face holds the true face of its middle frame
        x0, y0, x1, y1 = timeline.face_boxes[w]
        middle = truth[min(len(truth) - 1, int((w * 0.5 + 1) * RATE))]
        assert (
            abs((x0 + x1) / 2 - (middle[0] + middle[2]) / 2) < 12
            and abs((y0 + y1) / 2 - (middle[1] + middle[3]) / 2) < 12
        )
    assert timeline.face_boxes[8] is None
    paths = write_timeline(timeline, tmp_path / "out")
    rows = list(csv.DictReader(open(paths["csv"])))
    assert list(rows[0])[-5:] == ["face", "face_x0", "face_y0", "face_x1", "face_y1"]
    assert rows[8]["face"] == "0.0" and rows[8]["face_x0"] == "" and rows[0]["face_x0"] != ""
    assert json.loads(paths["json"].read_text())["cuts"] == [4.0, 4.5, 5.0, 5.5]
    summary = format_summary(timeline)
    assert "1 stretch without it: 4.0-6.0 s" in summary and "4 shot cuts at 4.0 s, 4.5 s, 5.0 s, 5.5 s" in summary
    with pytest.raises(
        ValueError,
        match=r"no face found in '.*street.mp4' between 4 s and 6 s \(frames 34 to 46; face_crop='strict'\)",
    ):
        predict_timeline(*load(untrained, face_crop="strict"), video, window=2, stride=0.5, progress=False)


def test_each_shot_has_its_own_face(untrained, tmp_path):
    """Two shots, two people in different places: the windows of each shot cut its own face (one box held over the
    cut would cut shot 1 at shot 2's face position, background)."""
    first, first_truth = astronaut_video(3 * RATE, face_side=60, centre=(90, 110))
    second, second_truth = camera_video(3 * RATE, face_side=50, centre=(230, 120))
    video = write_video(tmp_path / "interview.mp4", np.concatenate([first, second]), "libx264", "yuv444p", rate=RATE)
    timeline = predict_timeline(*load(untrained, face_crop=True), video, window=2, stride=1, progress=False)
    assert timeline.cuts == [3.0] and timeline.face.tolist() == [1, 1, 1, 1, 1]
    centre_x = [(box[0] + box[2]) / 2 for box in timeline.face_boxes]
    assert centre_x[0] < 120 and centre_x[-1] > 200  # the astronaut's face, then the cameraman's


def test_a_video_damaged_halfway_is_named(untrained, tmp_path):
    """Its header and first frames read; the timeline stops with an error naming the file, not a shorter timeline."""
    video = write_video(tmp_path / "damaged.mp4", noise_frames(5 * RATE, 32, 32), "libx264", "yuv420p", rate=RATE)
    data = bytearray(video.read_bytes())
    start = data.find(b"mdat")
    end = start - 4 + int.from_bytes(data[start - 4 : start], "big")
    half = (start + 4 + end) // 2
    data[half:end] = bytes(end - half)  # the second half of the frames' payload zeroed
    video.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"'.*damaged.mp4'"):
        predict_timeline(*load(untrained), video, window=2, stride=0.5, progress=False)


def test_a_video_shorter_than_its_window_tells_its_own_seconds(untrained, tmp_path):
    """1.5 s of a face then 0.5 s without, windows of 4 s: one window, sampled as the pipeline samples the clip, and
    the stretch without the face within the video's 2 s (its own segments of 2 s / 4), never past its end."""
    face, _ = astronaut_video(12, face_side=70)
    video = write_video(
        tmp_path / "short.mp4", np.concatenate([face, faceless_video(4)]), "libx264", "yuv444p", rate=RATE
    )
    timeline = predict_timeline(*load(untrained, face_crop=True), video, window=4, stride=1, progress=False)
    assert timeline.times == [(0.0, 2.0)] and timeline.stretches_without_face == [(1.5, 2.0)]
    with pytest.raises(ValueError, match=r"between 1.5 s and 2 s \(frames 14 to 14;"):
        predict_timeline(*load(untrained, face_crop="strict"), video, window=4, stride=1, progress=False)


def test_a_folder_mixing_frame_sizes_is_refused_as_the_pipeline_refuses_it(untrained, tmp_path):
    from PIL import Image

    folder = tmp_path / "mixed"
    folder.mkdir()
    for t in range(40):
        Image.fromarray(np.full((32 if t < 20 else 24,) * 2 + (3,), 80, np.uint8)).save(folder / f"{t}.png")
    with pytest.raises(ValueError, match=r"frame folder '.*mixed' mixes frame sizes"):
        predict_timeline(*load(untrained), folder, window=2, stride=1, progress=False)
