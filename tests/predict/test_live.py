"""Live: frames one at a time give exactly the timeline's windows (a constant-rate and a variable-rate file, read
through the live source reader); the source reader keeps up by dropping, never queueing without bound; faces are
followed causally; `a3lign live` writes the timeline's files, and Ctrl-C ends it cleanly with them written."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from a3lign.predict import LivePredictor, predict_timeline
from a3lign.predict.sources import FrameReader, open_source

from ..scenes import astronaut_video, faceless_video
from ..videos import coded_frames, noise_frames, write_video
from . import RATE, tiny_model_folder
from .test_timeline import FLOAT_NOISE, load


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    return tiny_model_folder(tmp_path_factory.mktemp("untrained") / "model")


def live_timeline(model, processor, video, **options):
    reader = FrameReader(video, capacity=2)
    predictor = LivePredictor(model, processor, **options)
    completed = []
    for frame in reader.frames():
        completed += predictor.add(frame.pixels, frame.seconds)
    timeline = predictor.finish()
    assert reader.dropped == 0  # a file read flat out waits for its consumer
    return timeline, completed, reader


@pytest.mark.parametrize("rate", ["constant", "variable"])
def test_live_frames_give_exactly_the_timelines_windows(untrained, tmp_path, rate):
    if rate == "constant":
        video = write_video(tmp_path / "c.mkv", noise_frames(10 * RATE, 48, 64, seed=2), "ffv1", "yuv444p", rate=RATE)
    else:  # 5 s at 24 fps then 5 s at 3 fps: the grid by time, not by index
        times = [round(1000 * k / 24) for k in range(120)] + [5000 + round(1000 * k / 3) for k in range(15)]
        video = write_video(tmp_path / "v.mkv", coded_frames(135, 32, 32), "ffv1", "yuv444p", times_ms=times)
    model, processor = load(untrained)
    expected = predict_timeline(model, processor, video, window=2, stride=0.5, progress=False)
    timeline, completed, reader = live_timeline(model, processor, video, window=2, stride=0.5)
    assert timeline.times == expected.times and timeline.duration == pytest.approx(expected.duration)
    np.testing.assert_allclose(timeline.probabilities, expected.probabilities, atol=FLOAT_NOISE)
    assert timeline.frames_embedded == expected.frames_embedded  # each grid frame through the tower once
    # all but the last windows came out while the frames were still arriving, each once its end had passed
    assert len(completed) >= len(expected.times) - 2 and all(w.latency >= 0 for w in completed)
    assert reader.read == probe_frames(video)


def probe_frames(video) -> int:
    from a3lign.decoding_a3lign import probe_clip

    return probe_clip(video).num_frames


def test_a_slow_consumer_drops_frames_and_never_queues_without_bound(tmp_path):
    """A file at its own rate (`realtime`, as a camera delivers it) read by a consumer 4x slower than the source: the
    buffer stays within its capacity, frames are dropped and counted, the ones kept are in order."""
    video = write_video(tmp_path / "cam.mkv", coded_frames(40, 32, 32), "ffv1", "yuv444p", rate=40)
    reader = FrameReader(video, realtime=True, capacity=3)
    seen, largest = [], 0
    for frame in reader.frames():
        largest = max(largest, len(reader.buffer))
        seen.append(frame.seconds)
        time.sleep(0.1)  # 10 frames/s against the source's 40
    assert reader.read == 40 and reader.dropped > 15 and len(seen) == 40 - reader.dropped
    assert largest <= 3 and seen == sorted(seen)


def test_a_source_that_is_nothing_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"source '.*nowhere.mp4' is neither a file nor a camera nor a stream URL"):
        open_source(str(tmp_path / "nowhere.mp4"))
    with pytest.raises(ValueError, match=r"camera '7' \(/dev/video7\) cannot be opened"):
        open_source("7")


def test_a_stream_shorter_than_one_window_is_told(untrained, tmp_path):
    video = write_video(tmp_path / "short.mkv", coded_frames(10, 32, 32), "ffv1", "yuv444p", rate=RATE)
    with pytest.raises(ValueError, match=r"lasted 1.25 s, shorter than one window of 2 s"):
        live_timeline(*load(untrained), video, window=2, stride=0.5)


def test_a_face_is_followed_as_it_moves_and_its_absence_told(untrained, tmp_path):
    """A face crossing the frame for 4 s, then 4 s of a street without one: the windows' boxes follow the face's centre
    while it is there, and are None once it is gone."""
    frames, truth = astronaut_video(4 * RATE, face_side=70, centre=((90, 120), (230, 120)))
    street = faceless_video(4 * RATE)
    video = write_video(tmp_path / "cross.mp4", np.concatenate([frames, street]), "libx264", "yuv444p", rate=RATE)
    model, processor = load(untrained, face_crop=True)
    timeline, completed, _ = live_timeline(model, processor, video, window=2, stride=0.5, detect_every=1)
    boxes = timeline.face_boxes
    assert len(boxes) == len(timeline.times) and timeline.face_detector == "mtcnn"
    for (start, end), box in zip(timeline.times, boxes):
        if end <= 4:  # the face's whole window: its box is where the face was at the window's middle
            middle = truth[min(len(truth) - 1, int((start + end) / 2 * RATE))]
            x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            assert abs(x - (middle[0] + middle[2]) / 2) < 15 and abs(y - (middle[1] + middle[3]) / 2) < 15, (
                start,
                box,
            )
        if start >= 4.5:  # only the street
            assert box is None, (start, box)
    assert timeline.face[0] == 1 and timeline.face[-1] == 0


def test_live_command_writes_the_timeline_and_ctrl_c_ends_it_cleanly(untrained, tmp_path):
    """`a3lign live` on a file at its own rate, interrupted after a few seconds as a user would (SIGINT): it exits 0
    with the timeline's CSV, JSON and PNG and the live figures written, covering what was read."""
    video = write_video(tmp_path / "long.mkv", noise_frames(30 * RATE, 48, 64, seed=4), "ffv1", "yuv444p", rate=RATE)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "a3lign", "live", "--model", str(untrained), "--source", str(video)]
    process = subprocess.Popen(
        [*command, "--realtime", "--output", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
    )
    deadline = time.time() + 120
    while not (out / "started").exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    time.sleep(4)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    assert "stopped (Ctrl-C)" in output, output[-1500:]
    stats = json.loads((out / "live.json").read_text())
    assert 2 <= stats["seconds_read"] < 25 and stats["windows"] >= 1
    # read at the file's own rate, as a camera: a loaded machine may drop frames; what it says is what it counted
    assert f"dropped {stats['frames_dropped']} of {stats['frames_read']} frames" in output
    document = json.loads((out / "timeline.json").read_text())
    assert len(document["windows"]) == stats["windows"] and (out / "timeline.png").stat().st_size > 1000
    assert (out / "timeline.csv").read_text().count("\n") == stats["windows"] + 1


def test_live_command_on_a_whole_file_matches_predict_timeline(untrained, tmp_path):
    video = write_video(tmp_path / "c.mkv", noise_frames(6 * RATE, 48, 64, seed=5), "ffv1", "yuv444p", rate=RATE)
    from a3lign.cli.live import main as live

    timeline = live(["--model", str(untrained), "--source", str(video), "--output", str(tmp_path / "o")])
    expected = predict_timeline(*load(untrained), video, progress=False)
    assert timeline.times == expected.times
    np.testing.assert_allclose(timeline.probabilities, expected.probabilities, atol=FLOAT_NOISE)
