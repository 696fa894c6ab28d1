"""Timelines of whole videos: the switch of a two-part video found within one stride by a model trained here; each
window is the pipeline's clip; each sampled frame goes through the vision tower once; faces per stretch; outputs."""

import csv
import json

import numpy as np
import pytest
from transformers import AutoModelForVideoClassification, AutoVideoProcessor, pipeline

from a3lign import A3lignVideoProcessor
from a3lign.data.synthetic import write_mp4
from a3lign.predict import format_summary, frame_grid, predict_timeline, write_timeline

from . import RATE, tinted_stretch, tiny_model_folder
from ..scenes import astronaut_video, faceless_video
from ..videos import noise_frames, write_video

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
    assert "16.0 s, 29 windows of 2 s every 0.5 s (32 frames through the vision tower)" in summary
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
    grid = frame_grid(total=80, rate=8, num_frames=4, window=2, stride=0.5)
    assert grid.frames == [2 + 4 * k for k in range(20)] and grid.starts == list(range(17))
    assert grid.times[16] == (8.0, 10.0) and list(grid.points(16)) == [16, 17, 18, 19]
    # stride 1 s: every second grid point starts a window; 3 s: windows apart, the frames between them unused
    assert frame_grid(80, 8, 4, 2, 1.0).starts == [0, 2, 4, 6, 8, 10, 12, 14, 16]
    assert frame_grid(80, 8, 4, 2, 3.0).starts == [0, 6, 12]
    # a video shorter than a window: one window, sampled as the pipeline samples the whole clip
    short = frame_grid(total=10, rate=8, num_frames=4, window=2, stride=0.5)
    assert short.frames == [1, 3, 6, 8] and short.starts == [0] and short.times == [(0.0, 1.25)]
    # a grid finer than the video's frames: frames repeat on the grid (each is still embedded once)
    assert frame_grid(total=8, rate=2, num_frames=16, window=2, stride=0.5).frames[:8] == [0, 0, 0, 0, 1, 1, 1, 1]
    with pytest.raises(ValueError, match=r"stride=0.3 s is invalid: .* multiple of window / num_frames = 0.5 s; use e.g. 0.5 or 1"):
        frame_grid(80, 8, 4, 2, 0.3)
    with pytest.raises(ValueError, match="window=0 s is invalid"):
        frame_grid(80, 8, 4, 0, 0.5)


def test_faces_are_cut_per_stretch_as_the_pipeline_cuts_a_window(untrained, tmp_path):
    face, _ = astronaut_video(4 * RATE, face_side=70, centre=((120, 110), (200, 130)))
    frames = np.concatenate([face, faceless_video(2 * RATE)])  # 4 s with a face, then 2 s without
    video = write_video(tmp_path / "street.mp4", frames, "libx264", "yuv444p", rate=RATE)
    timeline = predict_timeline(*load(untrained, face_crop=True), video, window=2, stride=0.5, progress=False)
    # windows starting at 0 s and 2 s are stretches: exactly the pipeline's face crop of those two seconds
    classify = pipeline("video-classification", model=str(untrained), trust_remote_code=True,
                        video_processor=A3lignVideoProcessor.from_pretrained(untrained, face_crop=True))
    decoded = A3lignVideoProcessor(do_sample_frames=False).fetch_videos(str(video))[0]
    for w, start in ((0, 0), (4, 16)):
        expected = window_probabilities(classify, decoded[start : start + 16], timeline.labels)
        np.testing.assert_allclose(timeline.probabilities[w], expected, atol=FLOAT_NOISE)
    # the last stretch has no face: centre crop there, counted per window and named in the summary
    assert timeline.face.tolist() == [1, 1, 1, 1, 1, 0.75, 0.5, 0.25, 0] and timeline.stretches_without_face == [(4.0, 6.0)]
    assert "1 stretch without a face kept the centre crop" in format_summary(timeline)
    with pytest.raises(ValueError, match=r"no face found in '.*street.mp4' between frames 34 and 46 \(face_crop='strict'\)"):
        predict_timeline(*load(untrained, face_crop="strict"), video, window=2, stride=0.5, progress=False)


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


@pytest.mark.parametrize("suffix, codec", [("webm", "libvpx"), ("mp4", "libx264")])
def test_a_variable_rate_video_keeps_its_true_duration(untrained, tmp_path, suffix, codec):
    """Webcam and phone recordings have irregular frame times, and their stated rate can be far off (the WebM
    written here states 25 fps for frames 20 to 140 ms apart): times come from the timestamps."""
    from a3lign.data.frames import clip_info

    video = write_video(tmp_path / f"recording.{suffix}", noise_frames(30, 32, 32), codec, "yuv420p", rate=25, vfr=True)
    info = clip_info(video)
    assert info.num_frames == 30 and info.rate == pytest.approx(29 / 2.28)  # 29 gaps over 2.28 s of timestamps
    timeline = predict_timeline(*load(untrained), video, window=1, stride=0.25, progress=False)
    assert timeline.duration == pytest.approx(30 / (29 / 2.28)) and timeline.times[-1][1] <= timeline.duration
    constant = write_video(tmp_path / f"constant.{suffix}", noise_frames(16, 32, 32), codec, "yuv420p", rate=RATE)
    assert clip_info(constant).rate == RATE  # exactly the stated rate of a constant-rate file
