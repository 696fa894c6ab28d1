"""What the app shows for one video, without a browser: the pipeline's top emotions, the face square the processor
crops (drawn on the middle sampled frame, only where that frame shows the face), the timeline picture; unreadable
videos named."""

import numpy as np
import pytest

from a3lign.app import Analyzer
from a3lign.app.analysis import OUTSIDE_FRAME
from a3lign.data.synthetic import write_mp4

from ..predict import RATE, tinted_stretch
from ..scenes import astronaut_video, faceless_video
from ..videos import write_video

PNG = b"\x89PNG\r\n\x1a\n"


def square(corners: np.ndarray) -> tuple[int, int, int]:
    """`(left, top, side)` of an upright square given by its corner pixels."""
    (left, top), (right, _) = np.rint(corners.min(axis=0)).astype(int), np.rint(corners.max(axis=0)).astype(int)
    return int(left), int(top), int(right - left + 1)


@pytest.fixture(scope="module")
def analyzer(tinted_run):
    return Analyzer(tinted_run, face_crop=True)


@pytest.mark.parametrize("label", ["Happy", "Sad"])
def test_top_emotions_and_timeline_of_a_clip(analyzer, tmp_path, label):
    video = tmp_path / f"{label}.mp4"
    write_mp4(video, tinted_stretch(label, 4, seed=7000), RATE)
    result = analyzer(video, tmp_path / "work")
    assert list(result.top) == [label, *({"Happy", "Sad"} - {label})]  # largest first, every class
    assert result.top[label] > 0.9 and sum(result.top.values()) == pytest.approx(1)
    assert result.plot.read_bytes()[:8] == PNG and result.plot.parent == tmp_path / "work"
    assert len(result.timeline.times) == 5 and [s[2] for s in result.timeline.segments()] == [label]
    assert f"{label} 100%" in result.summary


def test_the_face_square_is_drawn_where_the_face_is(analyzer, tmp_path):
    frames, truth = astronaut_video(4 * RATE, face_side=70, centre=(150, 110))
    video = write_video(tmp_path / "astronaut.mp4", frames, "libx264", "yuv444p", rate=RATE)
    result = analyzer(video, tmp_path)
    left, top, side = square(result.face_box)
    x0, y0, x1, y1 = truth[len(truth) // 2]
    assert x0 <= left + side / 2 <= x1 and y0 <= top + side / 2 <= y1  # centred on the face
    assert 1.2 * (x1 - x0) <= side <= 2.5 * (x1 - x0)  # the face plus the processor's margin
    assert result.face.shape == frames.shape[1:]
    # The drawn square: its edge pixels are the box colour, pixels well inside it are the video's.
    assert tuple(result.face[top + side // 2, left]) == (46, 204, 64)
    assert tuple(result.face[top + side // 2, left + side // 2]) != (46, 204, 64)


def test_a_square_leaving_the_frame_is_shown_whole(analyzer, tmp_path):
    frames, truth = astronaut_video(4 * RATE, face_side=80, centre=(45, 45))  # the face in the top-left corner
    video = write_video(tmp_path / "corner.mp4", frames, "libx264", "yuv444p", rate=RATE)
    result = analyzer(video, tmp_path)
    left, top, side = square(result.face_box)
    assert left < 0 and top < 0  # the processor's square leaves the frame (it fills that part black)
    height, width = frames.shape[1:3]
    assert result.face.shape == (height - top, width - left, 3)  # the picture grows to hold it
    assert tuple(result.face[1, side // 2]) == (46, 204, 64)  # its top edge, drawn at the picture's top
    # Above the frame, right of the square: grey; the frame's own pixels are the video's.
    assert tuple(result.face[-top // 2, side + 5]) == OUTSIDE_FRAME and tuple(result.face[-1, -1]) != OUTSIDE_FRAME


def test_no_square_is_drawn_on_a_frame_the_face_has_left(analyzer, tmp_path):
    """The astronaut leaves the frame before its middle: the middle frame is shown without a square."""
    frames, _ = astronaut_video(4 * RATE, face_side=60, centre=((160, 120), (700, 120)))
    video = write_video(tmp_path / "leaving.mp4", frames, "libx264", "yuv444p", rate=RATE)
    result = analyzer(video, tmp_path)
    assert result.face_box is None and result.face_in_clip and result.face.shape == frames.shape[1:]
    assert not (result.face == (46, 204, 64)).all(axis=-1).any()
    from a3lign.app.interface import FACE_CAPTIONS, face_caption

    assert face_caption(result) == FACE_CAPTIONS["gone"]


def test_without_a_face_the_frame_is_shown_as_is(analyzer, tmp_path):
    video = write_video(tmp_path / "street.mp4", faceless_video(3 * RATE), "libx264", "yuv444p", rate=RATE)
    result = analyzer(video, tmp_path)
    assert result.face_box is None and result.face_crop is True
    assert "0% of the windows' frames show the tracked face; 1 stretch without it: 0.0-3.0 s" in result.summary


def test_face_crops_off(tinted_run, tmp_path):
    video = tmp_path / "happy.mp4"
    write_mp4(video, tinted_stretch("Happy", 2, seed=7100), RATE)
    result = Analyzer(tinted_run, face_crop=False)(video, tmp_path)
    assert result.face_box is None and result.face_crop is False and result.face.shape == (64, 64, 3)
    assert "faces:" not in result.summary


def test_an_unreadable_video_is_named(analyzer, tmp_path):
    video = tmp_path / "broken.mp4"
    video.write_bytes(b"not a video at all" * 100)
    with pytest.raises(ValueError, match="broken.mp4"):
        analyzer(video, tmp_path)
