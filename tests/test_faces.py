"""Face crops (`faces_a3lign`, the processor's `face_crop`) on a real photograph panned, zoomed and shaken: the face
is found at several scales, the crop holds it in every frame and stays still on a still face; clips without a face
fall back to the centre crop, counted (or fail with "strict"); a saved folder loads without OpenCV."""

import json
import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from skimage import data

from a3lign import A3lignVideoProcessor
from a3lign.decoding_a3lign import sample_segment_indices
from a3lign.faces_a3lign import crop_frames, crop_square, detect_faces, face_boxes, main_face_track, square_boxes

from .scenes import astronaut_video, background, contains, faceless_video, place_photo
from .videos import write_video

MARGIN = 0.25


def sampled(frames: np.ndarray, num_frames: int = 16):
    indices = sample_segment_indices(len(frames), num_frames)
    return frames[indices], indices


def crops_of(frames: np.ndarray, truth: np.ndarray):
    """The processor's boxes for the sampled frames of a clip, and the true face boxes of those frames."""
    clip, indices = sampled(frames)
    boxes = face_boxes(clip, indices, MARGIN)
    assert boxes is not None, "no face found"
    return boxes, truth[indices]


# ----- the crop holds the face ----------------------------------------------------------------------------------
@pytest.mark.parametrize("face_side", [30, 60, 120, 200])  # 1/8 to 5/6 of the frame's 240 px shorter side
def test_the_face_is_found_at_several_scales(face_side):
    boxes, truth = crops_of(*astronaut_video(24, face_side=face_side))
    assert all(contains(box, face) for box, face in zip(boxes, truth))
    # the square is the face plus a quarter of it on each side (the detector's box is not the hand-drawn one)
    assert boxes[0, 2] == pytest.approx(1.5 * face_side, rel=0.2)


@pytest.mark.parametrize("motion", [
    dict(centre=((60, 100), (260, 140))),  # a pan across two thirds of the frame
    dict(face_side=(50, 90)),  # a zoom to nearly twice the size
    dict(face_side=60, shake=6),  # a shaking camera: up to 6 px (a tenth of the face) per frame
    dict(face_side=90, centre=(55, 60)),  # a face in the corner: the square leaves the frame
], ids=["pan", "zoom", "shake", "corner"])
def test_the_crop_holds_the_face_in_every_frame(motion):
    frames, truth = astronaut_video(32, **motion)
    boxes, truth = crops_of(frames, truth)
    assert all(contains(box, face) for box, face in zip(boxes, truth))
    assert len(set(boxes[:, 2])) == 1  # one side per clip: every crop the same size


def test_the_crop_is_still_on_a_still_face():
    """Jitter bound: on a still face under pixel noise, the crop's centre moves by at most 3% of its side over the
    whole clip (one bad detection cannot move it: median of three); under a shaking camera it moves less than the
    camera does."""
    frames, truth = astronaut_video(32, face_side=60, noise=4)
    boxes, _ = crops_of(frames, truth)
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    assert np.ptp(centres, axis=0).max() <= 0.03 * boxes[0, 2]
    frames, truth = astronaut_video(32, face_side=60, shake=6, seed=1)
    boxes, truth = crops_of(frames, truth)
    crop_steps = np.abs(np.diff(boxes[:, :2] + boxes[:, 2:] / 2, axis=0)).max()
    face_steps = np.abs(np.diff((truth[:, :2] + truth[:, 2:]) / 2, axis=0)).max()
    assert crop_steps <= face_steps


def test_crops_are_exact_and_padded_black_outside_the_frame():
    frame = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3)
    assert np.array_equal(crop_square(frame, (1, 1, 3)), frame[1:4, 1:4])
    corner = crop_square(frame, (-2, -1, 4))
    assert np.array_equal(corner[1:, 2:], frame[:3, :2]) and not corner[0].any() and not corner[:, :2].any()
    assert not crop_square(frame, (10, 10, 2)).any()


def test_the_main_face_is_the_most_present_then_the_largest():
    face, big = np.array([10.0, 10, 30, 30]), np.array([50.0, 10, 110, 70])
    # a large face found in 2 of 8 frames loses to a smaller one found in all 8
    detections = {i: np.array([face + i, big]) if i in (2, 5) else np.array([face + i]) for i in range(8)}
    track = main_face_track(detections)
    assert sorted(track) == list(range(8)) and all(np.array_equal(track[i], face + i) for i in range(8))
    # found equally often: the larger
    detections = {i: np.array([face, big]) for i in range(4)}
    assert all(np.array_equal(box, big) for box in main_face_track(detections).values())
    # one stray detection far away does not move the crop: the track's centres are medians of three
    detections = {i: np.array([face]) for i in range(8)}
    boxes = square_boxes({**detections, 4: np.array([face + [4, 0, 4, 0]])}, range(8), 0.0)
    assert np.array_equal(boxes, square_boxes(detections, range(8), 0.0))
    assert main_face_track({0: np.zeros((0, 4))}) == {} and square_boxes({}, [0], 0.25) is None


def test_two_faces_the_larger_is_cropped():
    frame, small = place_photo(background(), 40, (60, 80))
    frame, large = place_photo(frame, 90, (220, 130))
    boxes = face_boxes(np.stack([frame] * 4), [0, 1, 2, 3], MARGIN)
    assert contains(boxes[0], large) and not contains(boxes[0], small)


def test_a_face_turned_sideways_is_found_by_the_profile_cascade():
    """The cameraman looks to his side: the frontal cascade misses him, the mirrored profile cascade finds his head."""
    camera = np.stack([data.camera()] * 3, -1)
    boxes = detect_faces(camera)
    assert len(boxes) == 1
    x0, y0, x1, y1 = boxes[0]
    assert 150 < (x0 + x1) / 2 < 300 and 80 < (y0 + y1) / 2 < 220  # his head, not the tripod or the sky


# ----- the processor ----------------------------------------------------------------------------------------------
def test_face_crop_is_crop_then_the_usual_processing():
    frames, _ = astronaut_video(40, face_side=60, centre=((100, 100), (200, 130)))
    clip, indices = sampled(frames)
    cropped = crop_frames(clip, face_boxes(clip, indices, MARGIN))
    processor = A3lignVideoProcessor(face_crop=True)
    expected = A3lignVideoProcessor()(cropped)["pixel_values_videos"]  # 16 of 16 frames: the same frames
    assert torch.equal(processor(frames)["pixel_values_videos"], expected)
    loaded, _ = processor.load_clip(frames)
    assert torch.equal(loaded, torch.from_numpy(cropped).permute(0, 3, 1, 2))
    assert processor.face_crop_counts == {"clips": 2, "no_face": 0}


def test_no_face_keeps_the_centre_crop_counted_or_fails_when_strict(tmp_path, caplog):
    faceless = faceless_video(24)
    path = write_video(tmp_path / "street.mp4", faceless, "libx264", "yuv444p")
    face, _ = astronaut_video(24, face_side=60)
    processor = A3lignVideoProcessor(face_crop=True)
    with caplog.at_level(logging.WARNING):
        out = processor([str(path), face])["pixel_values_videos"]
    assert torch.equal(out[0], A3lignVideoProcessor()(str(path))["pixel_values_videos"][0])  # whole frames
    assert processor.face_crop_counts == {"clips": 2, "no_face": 1}
    assert f"no face found in '{path}': centre crop used" in caplog.text
    strict = A3lignVideoProcessor(face_crop="strict")
    with pytest.raises(ValueError, match=r"batch item 0 .*no face found in '.*street.mp4' \(face_crop='strict'\)"):
        strict([str(path), face])
    with pytest.raises(ValueError, match="no face found in an in-memory clip of 16 frames"):
        strict(faceless)


def test_face_crop_is_saved_validated_and_the_tally_is_not(tmp_path):
    processor = A3lignVideoProcessor(face_crop="strict", face_margin=0.4)
    processor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "video_preprocessor_config.json").read_text())
    assert (saved["face_crop"], saved["face_margin"]) == ("strict", 0.4) and "_face_crop_counts" not in saved
    loaded = A3lignVideoProcessor.from_pretrained(tmp_path)
    assert (loaded.face_crop, loaded.face_margin) == ("strict", 0.4)
    assert A3lignVideoProcessor.from_pretrained(tmp_path, face_crop=False).face_crop is False
    assert A3lignVideoProcessor().to_dict()["face_crop"] is False
    for bad, match in ((1, "face_crop=1 is invalid"), ("yes", "face_crop='yes' is invalid")):
        with pytest.raises(ValueError, match=match):
            A3lignVideoProcessor(face_crop=bad)
    for bad in (-0.1, "wide", True):
        with pytest.raises(ValueError, match=f"face_margin={bad!r} is invalid"):
            A3lignVideoProcessor(face_margin=bad)
    with pytest.raises(ValueError, match="face_margin=-1 is invalid"):  # overrides at loading are checked too
        A3lignVideoProcessor.from_pretrained(tmp_path, face_margin=-1)
    with pytest.raises(ValueError, match="face_crop cannot be given per call: set it on the processor"):
        loaded(np.zeros((4, 8, 8, 3), np.uint8), face_crop=True)


WITHOUT_OPENCV = textwrap.dedent(
    """
    import sys
    sys.modules["a3lign"] = None  # the folder carries the code
    sys.modules["cv2"] = None  # OpenCV is not installed
    import numpy as np
    from transformers import AutoVideoProcessor, pipeline
    plain, faces = sys.argv[1], sys.argv[2]
    processor = AutoVideoProcessor.from_pretrained(plain, trust_remote_code=True)
    assert type(processor).__module__.startswith("transformers_modules"), type(processor).__module__
    assert processor(np.zeros((5, 40, 40, 3), np.uint8))["pixel_values_videos"].shape == (1, 4, 3, 32, 32)
    classify = pipeline("video-classification", model=plain, trust_remote_code=True)
    assert len(classify(np.zeros((5, 40, 40, 3), np.uint8))) == 3
    try:
        AutoVideoProcessor.from_pretrained(faces, trust_remote_code=True)
        raise SystemExit("a face_crop processor loaded without OpenCV")
    except ImportError as error:
        assert "face_crop needs OpenCV: pip install a3lign[faces]" in str(error), error
    print("WITHOUT-OPENCV-OK")
    """
)


def test_a_folder_loads_without_opencv_unless_it_crops_faces(tester, tmp_path):
    from a3lign.train.run import save_model_folder

    model = tester.build_model()
    save_model_folder(model, A3lignVideoProcessor.from_model_config(model.config), tmp_path / "plain")
    save_model_folder(model, A3lignVideoProcessor.from_model_config(model.config, face_crop=True), tmp_path / "faces")
    assert (tmp_path / "plain" / "faces_a3lign.py").exists()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    env.pop("PYTHONPATH", None)
    result = subprocess.run([sys.executable, "-c", WITHOUT_OPENCV, str(tmp_path / "plain"), str(tmp_path / "faces")],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "WITHOUT-OPENCV-OK" in result.stdout
