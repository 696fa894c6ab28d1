"""Face detectors side by side on the faces people film (issue 17): the Haar cascades as A3lign shipped them before
(frames scaled to 320 px, faces of a tenth of the shorter side and up, no padding), the same cascades driven as
now (480 px, a twentieth, 20% padding), and MTCNN as now (the default), in one run.

    python benchmarks/bench_faces.py              # ~6 min on 2 CPU cores; prints the table, writes
                                                  # results-faces-cpu.json
    python benchmarks/bench_faces.py --quick      # fewer faces and no timeline: a look in about a minute

Measured, from scikit-image's photographs (nothing downloaded):

- recall on `lfw_subset`'s 100 real faces as tight crops (25 px blown up to 112 and to 224, as the datasets cut
  them) and pasted with a margin (the 112 px face on a 224 px textured canvas); false detections on its 100
  non-faces (images with any detection, at 112 px); a face counts as found when a detection's centre lies in it;
- the astronaut tilted in-plane from -45 to 45 degrees (her face found where it is);
- face sizes from 1/30 to 1/3 of the shorter side of 640x360, 1280x720 and 1920x1080 frames;
- the astronaut dimmed x0.1 to x0.5, and mirrored;
- milliseconds per frame (640x360 and 1920x1080, median of 10 after a warm-up);
- the timeline's windows per second on a 30 s 640x360 video with a face (bench_timeline's S/32 model, windows of 2 s
  every 0.5 s), without face crops, with the Haar cascades as before and with MTCNN.

Not a test: figures, no assertions.
"""

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import a3lign.faces_a3lign as faces  # noqa: E402

ASTRONAUT_FACE = np.array([178.0, 69.0, 270.0, 161.0])  # her face in the 512 px photo (tests/scenes.py)
TILTS = (-45, -30, -15, 0, 15, 30, 45)
SIZES = (1 / 30, 1 / 25, 1 / 20, 1 / 15, 1 / 10, 1 / 5, 1 / 3)
FRAMES = ((360, 640), (720, 1280), (1080, 1920))
DIMS = (0.1, 0.2, 0.3, 0.5)


@contextmanager
def driving(name: str):
    """`detector name, settings`: the detector and how frames reach it."""
    saved = {key: getattr(faces, key) for key in ("DETECTION_SIDE", "MIN_FACE", "DETECTION_PADDING")}
    if name == "haar (before)":
        faces.DETECTION_SIDE, faces.MIN_FACE, faces.DETECTION_PADDING = 320, 0.1, 0.0
    try:
        yield "haar" if name.startswith("haar") else "mtcnn"
    finally:
        for key, value in saved.items():
            setattr(faces, key, value)


DETECTORS = ("haar (before)", "haar", "mtcnn")


def found_in(detections, box) -> bool:
    """A detection's centre lies inside `box` (x0, y0, x1, y1)."""
    centres = (detections.boxes[:, :2] + detections.boxes[:, 2:]) / 2
    return bool(
        (
            (centres[:, 0] >= box[0])
            & (centres[:, 0] <= box[2])
            & (centres[:, 1] >= box[1])
            & (centres[:, 1] <= box[3])
        ).any()
    )


def background(height: int, width: int, seed: int = 0) -> np.ndarray:
    coarse = np.random.default_rng(seed).integers(40, 200, (6, 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC))


def pasted(canvas: np.ndarray, face_side: float, centre, photo=None) -> tuple[np.ndarray, np.ndarray]:
    photo = data.astronaut() if photo is None else photo
    size = max(1, round(512 * face_side / (ASTRONAUT_FACE[2] - ASTRONAUT_FACE[0])))
    scaled = np.asarray(Image.fromarray(photo).resize((size, size), Image.BILINEAR))
    face = ASTRONAUT_FACE * size / 512
    left, top = round(centre[0] - (face[0] + face[2]) / 2), round(centre[1] - (face[1] + face[3]) / 2)
    frame = canvas.copy()
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = max(left, 0), max(top, 0), min(left + size, width), min(top + size, height)
    frame[y0:y1, x0:x1] = scaled[y0 - top : y1 - top, x0 - left : x1 - left]
    return frame, face + [left, top, left, top]


def lfw_frames(count: int):
    images = data.lfw_subset()

    def blown(image, side):
        gray = np.asarray(Image.fromarray((image * 255).astype(np.uint8)).resize((side, side), Image.BICUBIC))
        return np.stack([gray] * 3, -1)

    faces_112 = [blown(image, 112) for image in images[:count]]
    faces_224 = [blown(image, 224) for image in images[:count]]
    canvas = background(224, 224, seed=2)
    with_margin = []
    for face in faces_112:
        frame = canvas.copy()
        frame[56:168, 56:168] = face
        with_margin.append(frame)
    non_faces = [blown(image, 112) for image in images[100 : 100 + count]]
    return faces_112, faces_224, with_margin, non_faces


def tilted(tilt: float) -> tuple[np.ndarray, np.ndarray]:
    """The astronaut turned `tilt` degrees clockwise on the screen about her face, 256 px; her face's box (its
    centre is where it was)."""
    centre = ((ASTRONAUT_FACE[0] + ASTRONAUT_FACE[2]) / 2, (ASTRONAUT_FACE[1] + ASTRONAUT_FACE[3]) / 2)
    turned = Image.fromarray(data.astronaut()).rotate(
        -tilt, resample=Image.BICUBIC, center=centre, fillcolor=(120, 120, 120)
    )
    return np.asarray(turned.resize((256, 256), Image.BILINEAR)), ASTRONAUT_FACE / 2


def milliseconds(detector: str, frame: np.ndarray, repeats: int = 10) -> float:
    faces.detect_faces(frame, detector)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        faces.detect_faces(frame, detector)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def detection_figures(quick: bool) -> dict:
    count = 30 if quick else 100
    faces_112, faces_224, with_margin, non_faces = lfw_frames(count)
    results = {}
    for name in DETECTORS:
        with driving(name) as detector:

            def hits(frames, box):
                return sum(found_in(faces.detect_faces(frame, detector), box) for frame in frames)

            row = {
                "lfw tight 112": hits(faces_112, (0, 0, 112, 112)),
                "lfw tight 224": hits(faces_224, (0, 0, 224, 224)),
                "lfw with margin": hits(with_margin, (56, 56, 168, 168)),
                "lfw non-faces taken for faces": sum(len(faces.detect_faces(f, detector)) > 0 for f in non_faces),
                "of": count,
            }
            row["tilts found"] = {
                tilt: found_in(faces.detect_faces(tilted(tilt)[0], detector), tilted(tilt)[1]) for tilt in TILTS
            }
            row["sizes found"] = {}
            for height, width in FRAMES:
                for fraction in SIZES:
                    frame, box = pasted(
                        background(height, width, seed=3), fraction * height, (width * 0.55, height * 0.45)
                    )
                    row["sizes found"][f"{width}x{height} 1/{round(1 / fraction)}"] = found_in(
                        faces.detect_faces(frame, detector), box
                    )
            frame, box = pasted(background(360, 640, seed=4), 360 / 5, (320, 170))
            row["dimmed found"] = {
                f"x{dim}": found_in(faces.detect_faces((frame * dim).astype(np.uint8), detector), box) for dim in DIMS
            }
            mirrored_box = [640 - box[2], box[1], 640 - box[0], box[3]]
            row["mirrored found"] = found_in(
                faces.detect_faces(np.ascontiguousarray(frame[:, ::-1]), detector), mirrored_box
            )
            row["ms per 640x360 frame"] = milliseconds(detector, frame)
            big, _ = pasted(background(1080, 1920, seed=5), 1080 / 10, (960, 500))
            row["ms per 1920x1080 frame"] = milliseconds(detector, big)
        results[name] = row
        print(f"{name}: done", flush=True)
    return results


def timeline_figures(seconds: float = 30) -> dict:
    import bench_timeline
    import torch

    from a3lign import A3lignVideoProcessor
    from a3lign.predict import predict_timeline

    torch.set_num_threads(2)
    folder = Path(tempfile.mkdtemp())
    video, warmup = folder / "face.mp4", folder / "warmup.mp4"
    bench_timeline.write_video(video, seconds)
    bench_timeline.write_video(warmup, 4)
    model = bench_timeline.build("S/32")
    figures = {}
    for name in ("no face crops", "haar (before)", "mtcnn"):
        with driving(name) as detector:
            processor = A3lignVideoProcessor.from_model_config(
                model.config, face_crop=name != "no face crops", face_detector=detector
            )
            predict_timeline(model, processor, warmup, 2.0, 0.5, progress=False)
            started = time.perf_counter()
            timeline = predict_timeline(model, processor, video, 2.0, 0.5, progress=False)
            elapsed = time.perf_counter() - started
        figures[name] = {
            "seconds": elapsed,
            "windows": len(timeline.times),
            "windows_per_second": len(timeline.times) / elapsed,
            "video_seconds_per_second": seconds / elapsed,
            "face_share": None if timeline.face is None else float(timeline.face.mean()),
        }
        print(f"timeline, {name}: {figures[name]['windows_per_second']:.1f} windows/s", flush=True)
    return figures


def table(results: dict, timeline: dict | None) -> str:
    names = list(results)
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]

    def row(label, values):
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    of = results[names[0]]["of"]
    for key in ("lfw tight 112", "lfw tight 224", "lfw with margin", "lfw non-faces taken for faces"):
        row(f"{key} (of {of})", [str(results[n][key]) for n in names])
    row(
        "tilts found (-45..45 by 15)",
        [" ".join("y" if results[n]["tilts found"][t] else "-" for t in TILTS) for n in names],
    )
    for height, width in FRAMES:
        row(
            f"{width}x{height}: sizes 1/30 1/25 1/20 1/15 1/10 1/5 1/3",
            [
                " ".join(
                    "y" if results[n]["sizes found"][f"{width}x{height} 1/{round(1 / f)}"] else "-" for f in SIZES
                )
                for n in names
            ],
        )
    row(
        "dimmed x0.1 x0.2 x0.3 x0.5",
        [" ".join("y" if v else "-" for v in results[n]["dimmed found"].values()) for n in names],
    )
    row("mirrored", ["y" if results[n]["mirrored found"] else "-" for n in names])
    row("ms per 640x360 frame", [f"{results[n]['ms per 640x360 frame']:.0f}" for n in names])
    row("ms per 1920x1080 frame", [f"{results[n]['ms per 1920x1080 frame']:.0f}" for n in names])
    text = "\n".join(lines)
    if timeline:
        text += (
            "\n\n| timeline (30 s, 640x360, S/32 model) | windows / s | video s / s | face share |\n"
            "|---|---|---|---|\n"
        )
        for name, f in timeline.items():
            share = "" if f["face_share"] is None else f"{f['face_share']:.2f}"
            text += f"| {name} | {f['windows_per_second']:.1f} | {f['video_seconds_per_second']:.2f} | {share} |\n"
    return text


def main():
    parse = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parse.add_argument("--quick", action="store_true", help="30 faces, no timeline")
    parse.add_argument("--output", default=str(HERE / "results-faces-cpu.json"))
    args = parse.parse_args()
    started = time.perf_counter()
    results = detection_figures(args.quick)
    timeline = None if args.quick else timeline_figures()
    print(table(results, timeline))
    document = {
        "machine": {"processor": platform.processor() or platform.machine(), "python": platform.python_version()},
        "seconds": time.perf_counter() - started,
        "detectors": results,
        "timeline": timeline,
    }
    Path(args.output).write_text(json.dumps(document, indent=1, default=str))
    print(f"wrote {args.output} ({document['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
