"""Face crops of raw footage: find a clip's main face and cut every frame around it, the same way everywhere.

Per clip (`face_boxes`):

1. detect faces (`detect_faces`: OpenCV's Haar cascades, frontal, then profile both ways where no frontal face
   is found) on up to `DETECTION_FRAMES` evenly spaced frames of the clip's sampled frames;
2. link the detections into tracks by overlap (IoU with a track's last box) and take the **main face**: the
   track present in the most detection frames, the largest among equals (`main_face_track`);
3. one square **side** per clip: the track's median box side plus `margin` of it on each side;
4. a **centre** per frame that follows the face: the track's centres, each the median of itself and its two
   neighbours (one bad detection cannot move the crop), linearly interpolated between detection frames by
   frame index and held before the first and after the last;
5. `crop_square` cuts the square out of each frame, black where it leaves the frame (a face at the border
   stays centred and at its scale, as in the datasets' face crops).

One side per clip keeps every crop the same size, so the crops need no resampling before the processor's
own resize: a frame cropped here and saved losslessly gives the processor the same pixels
(`a3lign data crop-faces` relies on it). Faces smaller than `MIN_FACE` of the frame's shorter side are not
looked for.

Remote code: imports numpy and, inside `try`, OpenCV (`pip install a3lign[faces]`). transformers checks the
imports of every file a saved folder carries except those in `try` blocks, so a folder loads without OpenCV
and only face cropping needs it.
"""

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

try:
    import cv2
except ImportError:  # a saved folder must load without OpenCV: only face_crop needs it
    cv2 = None

OPENCV_MISSING = "face_crop needs OpenCV: pip install a3lign[faces] (or opencv-python-headless)"
# Detections per clip: enough to vote out a missed or false detection, few enough to stay cheap (~20 ms each).
DETECTION_FRAMES = 8
# Frames are scaled down to this shorter side before detection (Haar's cost grows with the pixels).
DETECTION_SIDE = 320
# Smallest face looked for, as a fraction of the frame's shorter side (a DFER clip's face is rarely smaller).
MIN_FACE = 0.1
# Two detections in different frames are one face when their boxes overlap at least this much.
TRACK_IOU = 0.2
# frontal_alt2: no false positive on scikit-image's faceless photographs, where the default cascade finds
# faces in the moon and in coins; the profile cascade finds faces turned sideways (one side; mirrored for the other).
FRONTAL_CASCADE = "haarcascade_frontalface_alt2.xml"
PROFILE_CASCADE = "haarcascade_profileface.xml"


def opencv_available() -> bool:
    return cv2 is not None


def require_opencv() -> None:
    if cv2 is None:
        raise ImportError(OPENCV_MISSING)


@lru_cache(maxsize=None)
def _cascade(name: str):
    # Loading parses an XML file of several MB: once per process.
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)
    if cascade.empty():
        raise RuntimeError(f"OpenCV could not load its cascade '{name}' from {cv2.data.haarcascades}")
    return cascade


def detect_faces(frame: np.ndarray) -> np.ndarray:
    """Faces in one `(H, W, 3)` uint8 RGB frame: `(N, 4)` float boxes `(x0, y0, x1, y1)` in the frame's pixels."""
    require_opencv()
    height, width = frame.shape[:2]
    scale = min(1.0, DETECTION_SIDE / min(height, width))
    gray = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    if scale < 1:
        gray = cv2.resize(gray, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    gray = cv2.equalizeHist(gray)  # lighting varies more across footage than the cascades were trained on
    smallest = max(20, round(MIN_FACE * min(gray.shape)))
    options = dict(scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest))
    boxes = np.asarray(_cascade(FRONTAL_CASCADE).detectMultiScale(gray, **options), float).reshape(-1, 4)
    if not len(boxes):
        profile = _cascade(PROFILE_CASCADE)
        facing = np.asarray(profile.detectMultiScale(gray, **options), float).reshape(-1, 4)
        mirrored = np.asarray(profile.detectMultiScale(np.ascontiguousarray(gray[:, ::-1]), **options), float).reshape(-1, 4)
        mirrored[:, 0] = gray.shape[1] - mirrored[:, 0] - mirrored[:, 2]
        boxes = np.concatenate([facing, mirrored])
    boxes[:, 2:] += boxes[:, :2]  # (x, y, w, h) -> (x0, y0, x1, y1)
    return boxes / scale


def detection_positions(num_frames: int, count: int = DETECTION_FRAMES) -> list[int]:
    """Positions of up to `count` evenly spaced frames among `num_frames`, first and last included."""
    return sorted({round(p) for p in np.linspace(0, num_frames - 1, min(count, num_frames))})


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two `(x0, y0, x1, y1)` boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    overlap = max(0.0, width) * max(0.0, height)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - overlap
    return overlap / union if union > 0 else 0.0


def main_face_track(detections: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
    """The main face among `{frame index: (N, 4) boxes}`: `{frame index: its box}` where it was found.

    Detections are linked in frame order, largest first, to the track whose last box they overlap most (IoU at
    least `TRACK_IOU`, one box per track and frame). The main face is the track found in the most frames, the
    largest (median area) among equals. Empty when no face was found.
    """
    tracks: list[dict[int, np.ndarray]] = []
    for index in sorted(detections):
        boxes = np.asarray(detections[index], float).reshape(-1, 4)
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        for box in boxes[np.argsort(-areas, kind="stable")]:
            open_tracks = [track for track in tracks if index not in track]
            overlaps = [iou(box, track[max(track)]) for track in open_tracks]
            if overlaps and max(overlaps) >= TRACK_IOU:
                open_tracks[int(np.argmax(overlaps))][index] = box
            else:
                tracks.append({index: box})
    if not tracks:
        return {}

    def rank(track):
        boxes = np.stack(list(track.values()))
        return len(track), float(np.median((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))

    return max(tracks, key=rank)


def square_boxes(detections: Mapping[int, np.ndarray], targets: Sequence[int], margin: float) -> np.ndarray | None:
    """Square crop boxes `(len(targets), 3)` int `(left, top, side)` at frame indices `targets`, following the main
    face of `detections` (`{frame index: (N, 4) boxes}`); None when no face was found. See the module docstring."""
    track = main_face_track(detections)
    if not track:
        return None
    indices = sorted(track)
    boxes = np.stack([track[i] for i in indices])
    sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    side = max(1, round(float(np.median(sides)) * (1 + 2 * margin)))
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    if len(centres) >= 3:  # median of each centre and its neighbours, ends kept
        padded = np.concatenate([centres[:1], centres, centres[-1:]])
        centres = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    targets = np.asarray(targets, float)
    x = np.interp(targets, indices, centres[:, 0])
    y = np.interp(targets, indices, centres[:, 1])
    # floor(c - side / 2 + 0.5): the same integer box for the same centre on every machine.
    left = np.floor(x - side / 2 + 0.5).astype(int)
    top = np.floor(y - side / 2 + 0.5).astype(int)
    return np.stack([left, top, np.full_like(left, side)], axis=1)


def detect_on(frames: np.ndarray, indices: Sequence[int]) -> dict[int, np.ndarray]:
    """Detections on up to `DETECTION_FRAMES` evenly spaced frames of a sampled clip: `frames (T, H, W, 3)` uint8,
    `indices` their frame indices in the video (a repeated index, from padding, is looked at once).
    Returns `{frame index: (N, 4) boxes}`."""
    distinct = sorted(set(int(i) for i in indices))
    position = {index: list(indices).index(index) for index in distinct}
    return {distinct[p]: detect_faces(frames[position[distinct[p]]]) for p in detection_positions(len(distinct))}


def face_boxes(frames: np.ndarray, indices: Sequence[int], margin: float, targets: Sequence[int] | None = None) -> np.ndarray | None:
    """Crop boxes of a sampled clip's main face: `frames (T, H, W, 3)` uint8 at frame `indices`; boxes
    `(len(targets), 3)` `(left, top, side)` for frame indices `targets` (default: `indices`), or None without a face."""
    return square_boxes(detect_on(frames, indices), indices if targets is None else targets, margin)


def crop_square(frame: np.ndarray, box: Sequence[int]) -> np.ndarray:
    """The `(side, side, C)` square `box = (left, top, side)` of a `(H, W, C)` frame, black where it leaves the frame."""
    left, top, side = (int(v) for v in box)
    height, width = frame.shape[:2]
    crop = np.zeros((side, side, *frame.shape[2:]), frame.dtype)
    x0, y0, x1, y1 = max(left, 0), max(top, 0), min(left + side, width), min(top + side, height)
    if x1 > x0 and y1 > y0:
        crop[y0 - top : y1 - top, x0 - left : x1 - left] = frame[y0:y1, x0:x1]
    return crop


def crop_frames(frames: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """`(T, H, W, C)` frames and `(T, 3)` boxes of one side -> `(T, side, side, C)` crops."""
    return np.stack([crop_square(frame, box) for frame, box in zip(frames, boxes)])


__all__ = [
    "OPENCV_MISSING", "DETECTION_FRAMES", "opencv_available", "require_opencv", "detect_faces", "detection_positions",
    "main_face_track", "square_boxes", "detect_on", "face_boxes", "crop_square", "crop_frames",
]
