"""`a3lign data crop-faces`: raw videos -> face-frame folders for the `folder` and `csv` readers, cut exactly as the
processor's `face_crop=True` cuts the same videos.

Each clip's faces are tracked where the processor tracks them (`faces_a3lign.track_faces` on the clip's `num_frames`
segment-centre frames: shots, the main face of each, eyes level), then **every** frame of the clip is cut with that
track (`FaceTrack.place`: a frame between two sampled ones takes the nearer one's shot, the centre interpolated by
frame index) and written losslessly (`1.png, 2.png, ...`). A model trained on these folders and the pipeline run
with `face_crop=True` on the raw videos see the same pixels (the evaluation view of a folder samples the same frame
indices, and the video's timestamps are written beside the frames, `timestamps.json`, so that a variable-rate
video's folder is sampled by time as the video is; tested). Frames where the face is gone are counted per clip in the
report.

Inputs: a folder (every video below it, mirrored below the output; split files `*.csv` with a `path` column at its
top are rewritten to the frame folders), or a list file, `.txt` (one path a line) or `.csv` (a `path` column), whose
paths are relative to its folder (the list is rewritten into the output too). Resumable: a clip whose folder exists
is skipped, and folders appear only complete (written under `.partial/`, then renamed). Clips run in parallel
worker processes. Clips without a face are listed in `crop_faces_report.json`; `no_face="keep"` writes their whole
frames instead (what the processor's fallback feeds the model).
"""

import csv
import io
import json
import logging
import multiprocessing
import os
import shutil
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from ..decoding_a3lign import iter_frames, read_clip_frames, write_folder_timing
from ..faces_a3lign import DEFAULT_DETECTOR, check_detector, require_opencv, track_faces
from .readers import read_text

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".3gp", ".ts")
NO_FACE_POLICIES = ("skip", "keep")
REPORT_NAME = "crop_faces_report.json"
PARTIAL = ".partial"  # hidden: readers of the output never list what is being written


@dataclass(frozen=True)
class CropJob:
    """One clip: its source, its frame folder relative to the output root, and the settings of the crop."""

    source: str
    relative: str
    num_frames: int
    margin: float
    no_face: str
    detector: str = DEFAULT_DETECTOR


@dataclass
class CropOutcome:
    """What became of one clip: `written`, `exists` (skipped: a resumed run), `no_face` or `failed`; the frames
    written and, of them, those where the face is gone (cut where it was last seen)."""

    source: str
    relative: str
    status: str
    frames: int = 0
    detail: str = ""
    frames_without_face: int = 0


def list_clips(input_path) -> tuple[Path, list[Path], list[Path]]:
    """`(root, clips, split files)` of an input folder or list file; clips are paths below root."""
    path = Path(input_path)
    if path.is_dir():
        clips = sorted(
            p
            for p in path.rglob("*")
            if p.suffix.lower() in VIDEO_EXTENSIONS
            and p.is_file()
            and not p.name.startswith(".")
            and PARTIAL not in p.relative_to(path).parts
        )
        splits = sorted(p for p in path.glob("*.csv") if "path" in _csv_header(p))
        return path, clips, splits
    if not path.is_file():
        raise FileNotFoundError(f"input '{path}' does not exist: expected a folder of videos or a .txt / .csv list")
    if path.suffix.lower() == ".csv":
        if "path" not in _csv_header(path):
            raise ValueError(f"list '{path}' has no 'path' column; got {_csv_header(path)}")
        entries = [row["path"] for row in csv.DictReader(io.StringIO(read_text(path)))]
        splits = [path]
    elif path.suffix.lower() == ".txt":
        entries = [line.strip() for line in read_text(path).splitlines() if line.strip()]
        splits = []
    else:
        raise ValueError(f"input '{path}' is neither a folder nor a .txt / .csv list")
    root = path.parent.resolve()
    clips = []
    for number, entry in enumerate(entries, 2 if splits else 1):
        clip = (root / entry).resolve()
        if not clip.is_relative_to(root):
            raise ValueError(
                f"'{entry}' at {path.name}:{number} leads out of the list's folder '{root}': list clips "
                f"by paths relative to it"
            )
        clips.append(clip)
    return root, sorted(set(clips)), splits


def _csv_header(path: Path) -> list[str]:
    return csv.DictReader(io.StringIO(read_text(path))).fieldnames or []


def crop_clip(job: CropJob, output_root) -> CropOutcome:
    """Crop one clip into `output_root / job.relative` (see the module docstring)."""
    final = Path(output_root) / job.relative
    outcome = CropOutcome(job.source, job.relative, "exists")
    if final.is_dir():
        return outcome
    try:
        frames, indices, info = read_clip_frames(job.source, job.num_frames)
        total = info.num_frames
        placement = track_faces(frames, indices, job.detector).place(range(total), job.margin)
        if not placement.found and job.no_face == "skip":
            outcome.status = "no_face"
            return outcome
        partial = Path(output_root) / PARTIAL / job.relative
        shutil.rmtree(partial, ignore_errors=True)  # left by an interrupted run
        partial.mkdir(parents=True)
        for index, frame in iter_frames(job.source, wanted=range(total)):
            crop = placement.crop(frame, index) if placement.found else frame
            # PNG: lossless, so training reads exactly the pixels the processor would cut.
            Image.fromarray(crop).save(partial / f"{index + 1}.png", compress_level=1)
            outcome.frames += 1
            outcome.frames_without_face += bool(placement.found and not placement.present[index])
    except (ValueError, OSError) as error:
        outcome.status, outcome.detail = "failed", str(error)
        return outcome
    # The video's timestamps beside its frames: the folder is sampled by time exactly as the video (variable rates
    # too).
    write_folder_timing(partial, info.timing, outcome.frames)
    if outcome.frames < total:
        outcome.detail = f"{outcome.frames} of {total} frames decode"
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, final)
    outcome.status = "written" if placement.found else "no_face"
    if not placement.found:
        outcome.detail = "no face: whole frames written (no_face='keep')"
    return outcome


def _worker_setup() -> None:
    import cv2

    cv2.setNumThreads(1)  # one clip per process: threads inside would only contend


def _run(job_and_root):
    return crop_clip(*job_and_root)


def _map(function, items: list, workers: int):
    """`function` over `items` in order: in this process for one worker, else in `workers` processes."""
    if workers == 1:
        yield from map(function, items)
        return
    # spawn, not fork: a forked child of a process that has run OpenCV's thread pool can hang in it.
    with ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_setup
    ) as pool:
        yield from pool.map(function, items, chunksize=1)


def crop_faces(
    input_path,
    output,
    num_frames: int = 16,
    margin: float = 0.25,
    no_face: str = "skip",
    num_workers: int | None = None,
    progress: bool = False,
    detector: str = DEFAULT_DETECTOR,
) -> dict:
    """Crop every clip of `input_path` into `output`, in `num_workers` processes (default: one per CPU; 1: in this
    process), with a progress bar if `progress` (see the module docstring); returns the report it writes to
    `output/crop_faces_report.json`: counts by outcome, the clips without a face, the failures, rewritten split
    files."""
    check_detector(detector)
    require_opencv(detector)
    if no_face not in NO_FACE_POLICIES:
        raise ValueError(
            f"no_face={no_face!r} is invalid: expected 'skip' (listed in the report) or 'keep' (whole frames)"
        )
    if num_frames < 1:
        raise ValueError(f"num_frames={num_frames} is invalid: expected the model's frame count, e.g. 16")
    root, clips, splits = list_clips(input_path)
    output = Path(output)
    if output.resolve() == root.resolve():
        raise ValueError(f"output '{output}' is the input folder: write the face folders elsewhere")
    output.mkdir(parents=True, exist_ok=True)
    jobs = [
        CropJob(str(clip), clip.relative_to(root).with_suffix("").as_posix(), num_frames, margin, no_face, detector)
        for clip in clips
    ]
    if len({job.relative for job in jobs}) < len(jobs):
        clashes = Counter(job.relative for job in jobs)
        raise ValueError(
            f"clips share a name but for their suffix: {sorted(k for k, n in clashes.items() if n > 1)[:5]}"
        )
    workers = max(1, min(num_workers or os.cpu_count() or 1, len(jobs) or 1))
    outcomes = []
    bar = tqdm(total=len(jobs), desc="crop-faces", unit="clip", disable=not progress)
    for outcome in _map(_run, [(job, output) for job in jobs], workers):
        outcomes.append(outcome)
        bar.update()
        if outcome.status in ("no_face", "failed"):
            logger.warning("%s: %s %s", outcome.source, outcome.status, outcome.detail)
    bar.close()
    shutil.rmtree(output / PARTIAL, ignore_errors=True)
    folders = {
        Path(o.source).resolve(): o.relative
        for o in outcomes
        if o.status in ("written", "exists") or o.status == "no_face" and no_face == "keep"
    }
    report = {
        "input": str(input_path),
        "output": str(output),
        "num_frames": num_frames,
        "face_margin": margin,
        "face_detector": detector,
        "no_face_policy": no_face,
        "clips": len(outcomes),
        "counts": dict(Counter(o.status for o in outcomes)),
        "no_face": [o.source for o in outcomes if o.status == "no_face"],
        "failed": {o.source: o.detail for o in outcomes if o.status == "failed"},
        "frames_without_face": {
            o.source: [o.frames_without_face, o.frames] for o in outcomes if o.frames_without_face
        },
        "fewer_frames_than_packets": {o.source: o.detail for o in outcomes if "frames decode" in o.detail},
        "split_files": {split.name: rewrite_split(split, root, output / split.name, folders) for split in splits},
    }
    _write_atomically(output / REPORT_NAME, json.dumps(report, indent=2))
    return report


def rewrite_split(split: Path, root: Path, target: Path, folders: dict[Path, str]) -> dict:
    """Copy a split file with each `path` pointing at its clip's frame folder; rows of clips without a folder (no
    face, failed) are dropped. Returns `{"rows": kept, "dropped": n}`."""
    reader = csv.DictReader(io.StringIO(read_text(split)))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=reader.fieldnames, lineterminator="\n")
    writer.writeheader()
    kept = dropped = 0
    for row in reader:
        folder = folders.get((root / row["path"]).resolve())
        if folder is None:
            dropped += 1
            continue
        writer.writerow({**row, "path": folder})
        kept += 1
    _write_atomically(target, text.getvalue())
    return {"rows": kept, "dropped": dropped}


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def format_report(report: dict) -> str:
    """The report as a few lines for the terminal."""
    counts = report["counts"]
    lines = [
        f"{report['clips']} clips -> {report['output']}: "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    ]
    if report["no_face"]:
        lines.append(
            f"no face ({'whole frames written' if report['no_face_policy'] == 'keep' else 'skipped'}): "
            + ", ".join(report["no_face"][:10])
            + (" ..." if len(report["no_face"]) > 10 else "")
        )
    for source, detail in list(report["failed"].items())[:10]:
        lines.append(f"failed: {source}: {detail}")
    for source, detail in list(report.get("fewer_frames_than_packets", {}).items())[:10]:
        lines.append(f"fewer frames than packets: {source}: {detail}")
    partly = report.get("frames_without_face", {})
    if partly:
        lines.append(
            f"{len(partly)} clips lose their face in some frames (cut where it was last seen): "
            + ", ".join(f"{Path(k).name} {gone}/{of}" for k, (gone, of) in list(partly.items())[:10])
        )
    for name, rows in report["split_files"].items():
        lines.append(f"{name}: {rows['rows']} rows, {rows['dropped']} dropped (no face or failed)")
    return "\n".join(lines)


__all__ = [
    "CropJob",
    "CropOutcome",
    "crop_clip",
    "crop_faces",
    "list_clips",
    "rewrite_split",
    "format_report",
    "VIDEO_EXTENSIONS",
]
