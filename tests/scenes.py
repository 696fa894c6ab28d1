"""Videos made of real photographs for the face tests: scikit-image's `astronaut` (and its `camera`man) panned,
zoomed and shaken over a faceless background, with the true face box of every frame; the astronaut tilted; clips of
faceless photographs."""

import numpy as np
from PIL import Image
from skimage import data

# The astronaut's face in her 512 x 512 photo (brows to chin, cheek to cheek), located by eye; the cameraman's too.
PHOTO_FACE = np.array([178.0, 69.0, 270.0, 161.0])
PHOTO_FACE_SIDE = 92.0
CAMERA_FACE = np.array([195.0, 120.0, 259.0, 192.0])
HEIGHT, WIDTH = 240, 320


def background(seed: int = 0, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """A smooth, faceless colour texture: coarse noise blown up."""
    coarse = np.random.default_rng(seed).integers(40, 200, (6, 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC))


def place_photo(
    canvas: np.ndarray,
    face_side: float,
    centre: tuple[float, float],
    photo: np.ndarray | None = None,
    face: np.ndarray = PHOTO_FACE,
) -> tuple[np.ndarray, np.ndarray]:
    """A photo (default: the astronaut) scaled so that its `face` is `face_side` px, pasted with the face's centre at
    `centre` (x, y). Returns the frame and the face box `(x0, y0, x1, y1)` in it."""
    photo = data.astronaut() if photo is None else photo
    scale = face_side / max(face[2] - face[0], face[3] - face[1])
    size = max(1, round(512 * scale))
    scaled = np.asarray(Image.fromarray(photo).resize((size, size), Image.BILINEAR))
    face = face * size / 512
    left = round(centre[0] - (face[0] + face[2]) / 2)
    top = round(centre[1] - (face[1] + face[3]) / 2)
    frame = canvas.copy()
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = max(left, 0), max(top, 0), min(left + size, width), min(top + size, height)
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = scaled[y0 - top : y1 - top, x0 - left : x1 - left]
    return frame, face + [left, top, left, top]


def astronaut_video(
    num_frames: int = 32,
    face_side=60.0,
    centre=(160.0, 120.0),
    shake: float = 0.0,
    noise: float = 3.0,
    seed: int = 0,
    photo: np.ndarray | None = None,
    face: np.ndarray = PHOTO_FACE,
) -> tuple[np.ndarray, np.ndarray]:
    """`(T, 240, 320, 3)` uint8 frames and `(T, 4)` true face boxes. `face_side` (a value or a `(start, end)` pair:
    a zoom) and `centre` (`(x, y)` or `((x, y), (x, y))`: a pan) move linearly over the clip; `shake` adds a random
    offset of up to that many pixels per frame; `noise` is the std of per-pixel noise (a camera's, a codec's)."""
    rng = np.random.default_rng(seed)
    canvas = background(seed)
    phase = np.linspace(0, 1, num_frames)
    sides = np.interp(phase, [0, 1], np.broadcast_to(np.asarray(face_side, float), (2,)))
    ends = np.broadcast_to(np.asarray(centre, float), (2, 2))  # (x, y) or ((x, y) at the start, (x, y) at the end)
    centres = ends[0] + phase[:, None] * (ends[1] - ends[0])
    frames, boxes = [], []
    for side, (x, y) in zip(sides, centres):
        offset = rng.uniform(-shake, shake, 2) if shake else (0.0, 0.0)
        frame, box = place_photo(canvas, side, (x + offset[0], y + offset[1]), photo, face)
        frames.append(frame)
        boxes.append(box)
    frames = np.stack(frames).astype(float) + rng.normal(0, noise, (num_frames, *canvas.shape))
    return np.clip(frames, 0, 255).astype(np.uint8), np.stack(boxes)


def faceless_video(num_frames: int = 24, seed: int = 0) -> np.ndarray:
    """`(T, 240, 320, 3)` uint8: scikit-image's photographs without a face (coffee, rocket, a cat, bricks), in turn."""
    photos = [data.coffee(), data.rocket(), data.chelsea(), np.stack([data.brick()] * 3, -1)]
    rng = np.random.default_rng(seed)
    frames = [
        np.asarray(Image.fromarray(photos[t * len(photos) // num_frames]).resize((WIDTH, HEIGHT)))
        for t in range(num_frames)
    ]
    return np.clip(np.stack(frames) + rng.normal(0, 3, (num_frames, HEIGHT, WIDTH, 3)), 0, 255).astype(np.uint8)


def camera_video(num_frames: int = 32, face_side=50.0, centre=(160.0, 120.0), seed: int = 5, **motion):
    """`astronaut_video` with scikit-image's cameraman instead (gray, another face, another background)."""
    return astronaut_video(
        num_frames, face_side, centre, seed=seed, photo=np.stack([data.camera()] * 3, -1), face=CAMERA_FACE, **motion
    )


def tilted_astronaut(tilt: float, size: int = 256) -> np.ndarray:
    """The astronaut photo turned `tilt` degrees clockwise on the screen about her face's centre, `(size, size, 3)`."""
    centre = ((PHOTO_FACE[0] + PHOTO_FACE[2]) / 2, (PHOTO_FACE[1] + PHOTO_FACE[3]) / 2)
    turned = Image.fromarray(data.astronaut()).rotate(
        -tilt, resample=Image.BICUBIC, center=centre, fillcolor=(120, 120, 120)
    )
    return np.asarray(turned.resize((size, size), Image.BILINEAR))


def holds(placement, t: int, box: np.ndarray) -> bool:
    """Whether frame t's crop (`FacePlacement`) holds the box `(x0, y0, x1, y1)` whole: its corners land in the
    crop."""
    x0, y0, x1, y1 = box
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)
    mapped = corners @ placement.matrix(t)[:, :2].T + placement.matrix(t)[:, 2]
    return bool(((mapped >= -0.5) & (mapped <= placement.side - 0.5)).all())
