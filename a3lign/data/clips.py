"""Clip lists with their validation report, and the torch / datasets views that yield model inputs.

A reader turns a dataset's official split file into `ListedClip`s; `validate_split` checks each against
the disk (exists, non-empty, frame count, known label) and returns a `SplitReport` whose `clips` are
the valid ones. `ClipDataset` decodes them in DataLoader workers into processor-ready samples.
"""

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .views import ClipView, clip_pixels
from ..decoding_a3lign import IMAGE_EXTENSIONS, count_video_frames, list_frame_files

logger = logging.getLogger(__name__)

PROBLEM_KINDS = ("missing", "empty", "unknown_label", "frame_count_mismatch", "unreadable")


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
        for kind, clip_id, detail in self.problems[:20]:
            lines.append(f"  - {kind}: {clip_id}: {detail}")
        if len(self.problems) > 20:
            lines.append(f"  ... and {len(self.problems) - 20} more problems")
        return "\n".join(lines)

    def raise_if_problems(self) -> None:
        if self.problems:
            raise ValueError(f"--strict: {len(self.problems)} problems in the split\n{self.format()}")


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


def validate_split(dataset: str, split: str, listed: list[ListedClip], label_to_index, id2label) -> SplitReport:
    """Check every listed clip against the disk; keep the valid ones, report the rest.

    Args:
        label_to_index: maps a label as written in the split file to a class index, or raises KeyError.
    """
    report = SplitReport(dataset=dataset, split=split, id2label=dict(id2label), listed=len(listed))
    for item in listed:
        try:
            label = label_to_index(item.label)
        except (KeyError, ValueError):
            report.problems.append(("unknown_label", item.clip_id, f"label {item.label!r} at {item.source}"))
            continue
        if item.path is None or not item.path.exists():
            report.problems.append(("missing", item.clip_id, f"not found ({item.source})"))
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
                ("frame_count_mismatch", item.clip_id, f"listed {item.listed_frames}, {frames} on disk ({item.source})")
            )
        report.clips.append(Clip(item.clip_id, item.path, label, frames))
    if report.problems:
        skipped = report.listed - len(report.clips)
        logger.warning(
            "%s/%s: %d of %d listed clips skipped (%s)", dataset, split, skipped, report.listed,
            ", ".join(f"{kind} {report.count(kind)}" for kind in PROBLEM_KINDS if report.count(kind)),
        )
    return report


class ClipDataset(torch.utils.data.Dataset):
    """Valid clips -> `{"pixel_values_videos": (F, 3, crop, crop), "labels": int}`, decoded on access.

    `views`: one `ClipView` (default: the pipeline's; `training_view()` for training, whose random draws come
    from each DataLoader worker's RNG, seeded by PyTorch) or a list of them, stacked as `(V, F, 3, crop, crop)`
    for multi-view testing.
    """

    def __init__(self, clips: list[Clip], processor, views: ClipView | list[ClipView] = ClipView()):
        self.clips = clips
        self.processor = processor
        self.views = views

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict:
        path = self.clips[index].path
        if isinstance(self.views, ClipView):
            pixels = clip_pixels(self.processor, path, self.views)
        else:
            pixels = torch.stack([clip_pixels(self.processor, path, view) for view in self.views])
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
