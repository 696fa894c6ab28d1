"""Clip lists with their validation report, and the torch / datasets views that yield model inputs.

A reader turns a dataset's official split file into `ListedClip`s; `validate_split` checks each against
the class set and the disk (known label, exists, listed once, non-empty, frame count, under the data root)
and returns a `SplitReport` whose `clips` are the valid ones; `check_decoding` decodes them as training will
and `report_overlap` compares two splits. `ClipDataset` decodes clips in DataLoader workers into
processor-ready samples; a clip that fails to decode there is replaced by a class-mate and recorded in
`DecodeFailures` (`pixels_or_substitute`).
"""

import json
import logging
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..decoding_a3lign import IMAGE_EXTENSIONS, count_video_frames, list_frame_files, read_clip_frames
from .labels import ClassSet, LabelError, check_case
from .views import ClipView, clip_pixels, clip_views

logger = logging.getLogger(__name__)

PROBLEM_KINDS = (
    "missing",
    "empty",
    "unknown_label",
    "blank_label",
    "frame_count_mismatch",
    "unreadable",
    "undecodable",
    "duplicate",
    "conflict",
    "outside_root",
    "overlap",
)
# Reported, but the clip stays in the split: the disk's frame count wins over a listed one; a path outside the
# root and a clip in both splits are facts about the lists that only the user can resolve.
KEPT_KINDS = ("frame_count_mismatch", "outside_root", "overlap")


@dataclass
class ListedClip:
    """One line of a split file: where the clip should be, its label as written, and where it was listed."""

    clip_id: str
    path: Path | None  # None when no candidate location exists on disk
    label: str | int
    listed_frames: int | None = None
    source: str = ""  # "file:line", for error messages


@dataclass
class Clip:
    """A valid clip: its path (video file or frame folder), class index and frame count on disk."""

    clip_id: str
    path: Path
    label: int
    num_frames: int
    source: str = ""  # "file:line" where the split listed it


@dataclass
class SplitReport:
    """What a reader found for one split: valid clips, and every problem, by kind."""

    dataset: str
    split: str
    id2label: dict[int, str]
    listed: int = 0
    clips: list[Clip] = field(default_factory=list)
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, clip id, detail)

    def count(self, kind: str) -> int:
        return sum(1 for problem in self.problems if problem[0] == kind)

    @property
    def class_counts(self) -> dict[str, int]:
        counts = Counter(clip.label for clip in self.clips)
        return {name: counts.get(index, 0) for index, name in self.id2label.items()}

    def format(self) -> str:
        lines = [
            f"{self.dataset} / {self.split}: {self.listed} listed, {len(self.clips)} valid clips",
            *(f"  {kind:<21} {self.count(kind)}" for kind in PROBLEM_KINDS),
            "  class counts: " + ", ".join(f"{name} {n}" for name, n in self.class_counts.items()),
        ]
        if not self.clips:
            lines.append(f"  no valid clips: the {self.split} split is empty")
        for kind, clip_id, detail in self.problems[:20]:
            lines.append(f"  - {kind}: {clip_id}: {detail}")
        if len(self.problems) > 20:
            lines.append(f"  ... and {len(self.problems) - 20} more problems")
        return "\n".join(lines)

    def raise_if_problems(self) -> None:
        """`ValueError` (what `--strict` makes of a report) on any problem, and when no clip is valid."""
        if not self.clips:
            raise ValueError(
                f"--strict: {self.dataset} / {self.split} has no valid clips "
                f"({len(self.problems)} problems)\n{self.format()}"
            )
        if self.problems:
            raise ValueError(f"--strict: {len(self.problems)} problems in the split\n{self.format()}")

    def log_skips(self) -> None:
        skipped = self.listed - len(self.clips)
        if self.problems:
            logger.warning(
                "%s/%s: %d of %d listed clips skipped (%s)",
                self.dataset,
                self.split,
                skipped,
                self.listed,
                ", ".join(f"{kind} {self.count(kind)}" for kind in PROBLEM_KINDS if self.count(kind)),
            )
        if not self.clips:
            logger.warning("%s/%s has no valid clips", self.dataset, self.split)


def find_clip(*candidates: Path) -> Path | None:
    """The first existing candidate; a candidate without suffix also matches `<candidate>.<any video suffix>`."""
    for candidate in candidates:
        if candidate.exists():
            return candidate
        if candidate.parent.is_dir():
            matches = sorted(candidate.parent.glob(candidate.name + ".*"))
            matches = [m for m in matches if m.suffix.lower() not in IMAGE_EXTENSIONS + (".txt", ".csv")]
            if matches:
                return matches[0]
    return None


def count_frames_on_disk(path: Path) -> int:
    """Frames of a clip as the disk has them: images in a folder, or packets of a video file."""
    if path.is_dir():
        return len(list_frame_files(path))
    if path.stat().st_size == 0:
        return 0
    return count_video_frames(path)


def place(path) -> str:
    """Where a path points, as written (absolute, `.` and `..` resolved, symbolic links not followed): two rows
    naming one clip have one place, and a clip linked in from another disk stays under its root."""
    return os.path.normpath(os.path.abspath(path))


def _mark_repeats(listed: list[ListedClip], outcomes: list) -> None:
    """Rows naming one clip: a repeat with the same class is a `duplicate` (the first row is kept); rows with
    different classes are a `conflict` (none is kept: which label is right is unknown)."""
    rows_of: dict[str, list[int]] = {}
    for row, (item, outcome) in enumerate(zip(listed, outcomes)):
        if not isinstance(outcome, tuple):
            rows_of.setdefault(place(item.path), []).append(row)
    for rows in (rows for rows in rows_of.values() if len(rows) > 1):
        first = listed[rows[0]]
        if len({outcomes[row] for row in rows}) == 1:
            for row in rows[1:]:
                item = listed[row]
                outcomes[row] = (
                    "duplicate",
                    item.clip_id,
                    f"'{item.path}' is listed again at {item.source} (first at {first.source})",
                )
            continue
        labels = " and as ".join(f"{listed[row].label!r} at {listed[row].source}" for row in rows)
        for row in rows:
            outcomes[row] = ("conflict", listed[row].clip_id, f"'{listed[row].path}' is listed as {labels}")


def validate_split(
    dataset: str, split: str, listed: list[ListedClip], classes: ClassSet, root: Path | None = None
) -> SplitReport:
    """Check every listed clip against the class set and the disk; keep the valid ones, report the rest.

    Raises `ValueError` when two labels of the split differ only in case. Paths outside `root` are reported.
    """
    check_case([(str(item.label).strip(), item.source) for item in listed if str(item.label).strip()])
    report = SplitReport(dataset=dataset, split=split, id2label=classes.id2label, listed=len(listed))
    outcomes: list = []  # per row: its class index, or the problem that skips it
    for item in listed:
        try:
            outcomes.append(classes.index(item.label, item.source))
        except LabelError as error:
            outcomes.append(("blank_label" if error.blank else "unknown_label", item.clip_id, str(error)))
            continue
        if item.path is None or not item.path.exists():
            outcomes[-1] = ("missing", item.clip_id, f"not found ({item.source})")
    _mark_repeats(listed, outcomes)
    for item, label in zip(listed, outcomes):
        if isinstance(label, tuple):
            report.problems.append(label)
            continue
        try:
            frames = count_frames_on_disk(item.path)
        except ValueError as error:
            report.problems.append(("unreadable", item.clip_id, str(error)))
            continue
        if frames == 0:
            report.problems.append(("empty", item.clip_id, f"'{item.path}' has no frames"))
            continue
        if item.listed_frames is not None and item.listed_frames != frames:
            # The disk wins; the listed count is only checked (the field's lists are often wrong).
            report.problems.append(
                (
                    "frame_count_mismatch",
                    item.clip_id,
                    f"listed {item.listed_frames}, {frames} on disk ({item.source})",
                )
            )
        if root is not None and not Path(place(item.path)).is_relative_to(place(root)):
            report.problems.append(
                ("outside_root", item.clip_id, f"'{item.path}' ({item.source}) lies outside the data root '{root}'")
            )
        report.clips.append(Clip(item.clip_id, item.path, label, frames, item.source))
    report.log_skips()
    return report


def check_decoding(report: SplitReport, num_frames: int = 16, num_workers: int | None = None) -> int:
    """Decode what training decodes: the `num_frames` sampled frames (segment centres) of every valid clip, not
    only its header. A clip that fails leaves `report.clips` as an `undecodable` problem. Returns how many."""

    def error_of(clip: Clip) -> str | None:
        try:
            read_clip_frames(clip.path, num_frames)
        except (ValueError, FileNotFoundError) as error:
            return str(error)
        return None

    with ThreadPoolExecutor(num_workers or os.cpu_count() or 1) as pool:  # PyAV and PIL decode without the GIL
        errors = list(pool.map(error_of, report.clips))
    failed = [(clip, error) for clip, error in zip(report.clips, errors) if error is not None]
    report.clips = [clip for clip, error in zip(report.clips, errors) if error is None]
    report.problems += [("undecodable", clip.clip_id, f"{error} ({clip.source})") for clip, error in failed]
    if failed:
        logger.warning("%s/%s: %d clips do not decode", report.dataset, report.split, len(failed))
    return len(failed)


def report_overlap(train: SplitReport, test: SplitReport) -> int:
    """Add an `overlap` problem to `test` for each of its clips that is also a train clip (kept: only reported,
    as the split files are the user's to fix). Returns how many."""
    train_at = {place(clip.path): clip for clip in train.clips}
    shared = [(clip, train_at[place(clip.path)]) for clip in test.clips if place(clip.path) in train_at]
    test.problems += [
        (
            "overlap",
            clip.clip_id,
            f"'{clip.path}' is in the train split ({other.source}) and the test split ({clip.source})",
        )
        for clip, other in shared
    ]
    return len(shared)


class DecodeFailures:
    """Clips that failed to decode while a run read them, recorded by every process that met one (DataLoader
    workers, DDP ranks): each failure appends one short JSON line to `path` (appends of a few hundred bytes are
    atomic on local file systems), so the record needs no lock and survives the worker. Pass a path every
    process sees. Picklable: it holds only the path."""

    def __init__(self, path):
        self.path = Path(path)

    def record(self, clip: Clip, error: Exception, split: str = "", substitute: str | None = None) -> None:
        entry = {
            "clip_id": clip.clip_id,
            "path": os.fspath(clip.path),
            "error": str(error)[:1000],
            "split": split,
            "substitute": substitute,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, (json.dumps(entry) + "\n").encode())  # one write: lines never interleave
        finally:
            os.close(descriptor)

    def read(self) -> list[dict]:
        """The distinct failures (one per split and clip, as first recorded), in the order they happened."""
        if not self.path.exists():
            return []
        distinct: dict[tuple, dict] = {}
        for line in self.path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a killed process
            distinct.setdefault((entry["split"], entry["clip_id"], entry["path"]), entry)
        return list(distinct.values())

    def __len__(self) -> int:
        return len(self.read())


def pixels_or_substitute(
    clips: list[Clip], index: int, read, failures: DecodeFailures | None = None, strict: bool = False, split: str = ""
):
    """`read(clips[index].path)`; if that fails to decode (`ValueError` / `FileNotFoundError`), what `read` gives for
    the next clip of the same class in list order (wrapping around) that decodes. Every failure is recorded in
    `failures`. Deterministic: a clip always has the same stand-in.

    Raises, naming the clip: with `strict`, on its failure; otherwise when no other clip of its class decodes.
    """
    clip = clips[index]
    try:
        return read(clip.path)
    except (ValueError, FileNotFoundError) as error:
        failure = error
    error_type = FileNotFoundError if isinstance(failure, FileNotFoundError) else ValueError
    where = f"clip '{clip.clip_id}' ('{clip.path}')" + (f" of the {split} split" if split else "")
    if strict:
        if failures is not None:
            failures.record(clip, failure, split)
        raise error_type(f"{where} cannot be decoded: {failure}") from failure
    value, substitute, mate_failures = None, None, []
    for step in range(1, len(clips)):
        mate = clips[(index + step) % len(clips)]
        if mate.label != clip.label:
            continue
        try:
            value, substitute = read(mate.path), mate
            break
        except (ValueError, FileNotFoundError) as error:
            mate_failures.append((mate, error))
    if failures is not None:
        failures.record(clip, failure, split, substitute.clip_id if substitute else None)
        for mate, error in mate_failures:
            failures.record(mate, error, split)
    if substitute is None:
        raise error_type(
            f"{where} cannot be decoded ({failure}) and no other clip of class {clip.label} in the "
            f"{split + ' ' if split else ''}split decodes"
        ) from failure
    return value


class ClipDataset(torch.utils.data.Dataset):
    """Valid clips -> `{"pixel_values_videos": (F, 3, crop, crop), "labels": int}`, decoded on access.

    Args:
        views: one `ClipView` (default: the pipeline's; `training_view()` for training, whose random draws come
            from each DataLoader worker's RNG, seeded by PyTorch) or a list of them, stacked as
            `(V, F, 3, crop, crop)` for multi-view testing.
        failures: where to record clips that fail to decode; with it, such a clip is replaced by the next clip
            of its class that decodes (`pixels_or_substitute`). Without it, the processor's error propagates.
        strict: re-raise a decoding failure, naming the clip, instead of substituting.
        split: the split's name, for the record and messages.
    """

    def __init__(
        self,
        clips: list[Clip],
        processor,
        views: ClipView | list[ClipView] = ClipView(),
        failures: DecodeFailures | None = None,
        strict: bool = False,
        split: str = "",
    ):
        self.clips = clips
        self.processor = processor
        self.views = views
        self.failures = failures
        self.strict = strict
        self.split = split

    def __len__(self) -> int:
        return len(self.clips)

    def read(self, path) -> torch.Tensor:
        """The pixels of one clip in this dataset's view(s)."""
        if isinstance(self.views, ClipView):
            return clip_pixels(self.processor, path, self.views)
        return clip_views(self.processor, path, self.views)

    def __getitem__(self, index: int) -> dict:
        if self.failures is None and not self.strict:
            pixels = self.read(self.clips[index].path)
        else:
            pixels = pixels_or_substitute(self.clips, index, self.read, self.failures, self.strict, self.split)
        return {"pixel_values_videos": pixels, "labels": self.clips[index].label}

    def to_hf_dataset(self):
        """The same clips as a `datasets.Dataset` (columns clip_id, path, label) decoding through a transform."""
        import datasets

        table = datasets.Dataset.from_dict(
            {
                "clip_id": [c.clip_id for c in self.clips],
                "path": [os.fspath(c.path) for c in self.clips],
                "label": [c.label for c in self.clips],
            }
        )

        position = {os.fspath(c.path): i for i, c in enumerate(self.clips)}

        def transform(batch):
            samples = [self[position[path]] for path in batch["path"]]
            return {
                "pixel_values_videos": [s["pixel_values_videos"] for s in samples],
                "labels": [s["labels"] for s in samples],
            }

        return table.with_transform(transform)
