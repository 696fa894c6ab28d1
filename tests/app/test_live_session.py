"""The app's Live tab without a browser (`LiveSession`): frames timed by their arrival give the streaming predictor's
windows, the page's updates (top emotions only when a window completes, the scrolling rows, the face box drawn), a
stopped camera (a pause) ending the recording, a recording too short for a window dropped and counted."""

import csv
import time

import numpy as np
import pytest

from a3lign.app import Analyzer
from a3lign.app.analysis import FACE_BOX_COLOUR
from a3lign.app.live import PAUSE, SCROLL, LiveSession, LiveSessions
from a3lign.predict import LivePredictor

from ..predict import RATE, tinted_stretch
from ..scenes import astronaut_video

KINDS = ("csv", "json", "png")


@pytest.fixture(scope="module")
def analyzer(tinted_run):
    return Analyzer(tinted_run, face_crop=False)


def stream(session, frames, start: float, rate: float = RATE):
    """Each frame to `session` as if it arrived `1 / rate` s after the one before, from `start`."""
    return [session.add(frame, start + k / rate) for k, frame in enumerate(frames)]


def test_a_recording_gives_the_streaming_predictors_windows(analyzer, tmp_path):
    frames = tinted_stretch("Sad", 4, seed=7100)
    session = LiveSession(analyzer, tmp_path)
    updates = stream(session, frames, start=100.0)
    # Top emotions and the scrolling rows only when a window completes; the frame itself every time.
    completed = [u for u in updates if u.top is not None]
    assert all((u.recent is None) == (u.top is None) for u in updates) and len(completed) >= 3
    assert max(completed[-1].top, key=completed[-1].top.get) == "Sad"
    assert all(u.frame.shape == frames.shape[1:] and "Recording 1:" in u.status for u in updates)
    times = sorted({row[0] for row in completed[-1].recent})
    assert {row[1] for row in completed[-1].recent} == {"Happy", "Sad"} and times[0] == pytest.approx(1.0)
    recording = session.finish()
    # The same frames and times through LivePredictor directly: the same windows.
    direct = LivePredictor(analyzer.model, analyzer.processor, analyzer.window, analyzer.stride)
    for k, frame in enumerate(frames):
        direct.add(frame, 100.0 + k / RATE)
    expected = direct.finish()
    assert recording.timeline.times == expected.times and len(expected.times) == 5
    np.testing.assert_allclose(recording.timeline.probabilities, expected.probabilities, atol=1e-6)
    assert recording.paths["csv"] == tmp_path / "recording-1.csv"
    with open(recording.paths["csv"]) as handle:
        assert [row["dominant"] for row in csv.DictReader(handle)] == ["Sad"] * 5
    assert "Sad 100%" in session.summary()


def test_a_pause_ends_the_recording_and_a_short_one_is_dropped(analyzer, tmp_path):
    session = LiveSession(analyzer, tmp_path)
    stream(session, tinted_stretch("Happy", 3, seed=7200), start=0.0)
    # The camera stopped for longer than PAUSE: the next frame starts recording 2 (the first is written).
    second = stream(session, tinted_stretch("Sad", 3, seed=7300), start=3.0 + 2 * PAUSE)
    assert len(session.recordings) == 1 and "Recording 2:" in second[-1].status
    first = session.recordings[0].timeline
    assert first.duration == pytest.approx(3.0) and [s[2] for s in first.segments()] == ["Happy"]
    stream(session, tinted_stretch("Sad", 1, seed=7400), start=10.0)  # recording 3: 1 s, under one window of 2 s
    session.finish()
    assert [r.timeline.segments()[0][2] for r in session.recordings] == ["Happy", "Sad"]
    assert len(session.dropped) == 1 and "shorter than one window of 2 s" in session.dropped[0]
    assert "Dropped: 'webcam recording 3' lasted" in session.summary()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"recording-{n}.{kind}" for n in (1, 2) for kind in KINDS]
    assert session.finish() is None  # nothing more recorded


def test_the_scrolling_rows_hold_the_last_seconds(analyzer, tmp_path):
    session = LiveSession(analyzer, tmp_path)
    seconds = SCROLL + 6
    updates = stream(session, tinted_stretch("Sad", seconds, seed=7500), start=0.0)
    last = [u for u in updates if u.recent is not None][-1]
    centres = sorted({row[0] for row in last.recent})
    # The windows ending within SCROLL seconds of the newest: SCROLL / stride of them, of the stream's 66.
    assert len(centres) == SCROLL / analyzer.stride and len(session.predictor.windows) > len(centres) + 5
    assert centres[-1] - centres[0] == pytest.approx(SCROLL - analyzer.stride)
    assert len(last.recent) == len(centres) * 2  # a row per class per window


def test_the_tracked_face_box_is_drawn_on_the_frame(tinted_run, tmp_path):
    frames, truth = astronaut_video(3 * RATE, face_side=70, centre=(150, 110))
    session = LiveSession(Analyzer(tinted_run, face_crop=True), tmp_path)
    updates = stream(session, frames, start=0.0)
    drawn = [(u.frame == FACE_BOX_COLOUR).all(axis=-1).sum() > 100 for u in updates]
    # From the first frame embedded on: grid point 0 (0.25 s, frame 2) is settled when frame 3 arrives.
    assert drawn == [False] * 3 + [True] * (len(updates) - 3)
    picture = updates[-1].frame
    rows, cols = np.nonzero((picture == FACE_BOX_COLOUR).all(axis=-1))
    x0, y0, x1, y1 = truth[-1]
    assert abs(cols.min() - x0) < 15 and abs(cols.max() - x1) < 15 and abs(rows.min() - y0) < 15
    assert not np.shares_memory(picture, frames)  # drawn on a copy: the frame the model saw is untouched
    assert updates[-1].status.endswith(", face tracked")


def test_each_tab_has_its_session_and_a_closed_tab_is_written(analyzer, tmp_path):
    sessions = LiveSessions(analyzer, tmp_path)
    first, second = sessions.get("tab-a"), sessions.get("../../tab-b")
    assert sessions.get("tab-a") is first and second is not first
    assert first.output_dir.parent == second.output_dir.parent == tmp_path  # never a folder named by the browser
    stream(first, tinted_stretch("Happy", 3, seed=7600), start=0.0)
    sessions.close("tab-a")  # the tab went without Finish
    assert sessions.find("tab-a") is None
    assert sorted(p.suffix for p in first.output_dir.iterdir()) == [".csv", ".json", ".png"]
    sessions.close("tab-a")  # twice, or a tab never seen: nothing
    sessions.close("never")


def test_a_slow_server_or_a_slow_stream_does_not_split_a_recording(analyzer, tmp_path, monkeypatch):
    """The pause that ends a recording is idle time: the gap less what the server spent on the frame before (the page
    waits for the answer), and never under three frame intervals asked for (`--live_fps` below 1)."""
    slow = LiveSession(analyzer, tmp_path / "slow", every=2.0)  # the page asks for a frame every 2 s
    stream(slow, tinted_stretch("Sad", 1, seed=7700)[:6], start=0.0, rate=0.5)  # 6 frames 2 s apart
    assert slow.predictor is not None and slow.predictor.count == 6 and not slow.recordings and not slow.dropped

    monkeypatch.setattr("a3lign.app.live.PAUSE", 0.2)
    busy = LiveSession(analyzer, tmp_path / "busy", every=0.05)
    work = busy._add

    def taking_a_while(frame, arrived):
        time.sleep(0.3)  # the server's work on this frame; the next arrives 0.1 s after it answered
        return work(frame, arrived)

    monkeypatch.setattr(busy, "_add", taking_a_while)
    stream(busy, tinted_stretch("Sad", 3, seed=7800)[::3], start=0.0, rate=2.5)  # 8 frames 0.4 s apart
    assert busy.predictor.count == 8 and not busy.recordings and not busy.dropped, busy.dropped
