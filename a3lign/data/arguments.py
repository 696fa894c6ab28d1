"""The dataset flags every command shares (`a3lign train | evaluate | cache | data check`), and the folds
they expand to."""

from dataclasses import dataclass, field

from .clips import SplitReport, check_decoding, report_overlap
from .readers import DATASET_NAMES, DFEW_FRAME_SOURCES, FIVE_FOLD, FOLDS, load_split


@dataclass
class DatasetArguments:
    """Which dataset, where it lies, which fold, and what to do with invalid clips."""

    dataset: str = field(metadata={"help": f"One of {', '.join(DATASET_NAMES)}."})
    data_root: str = field(metadata={"help": "The dataset's root folder, laid out as its official release."})
    fold: str | None = field(default=None, metadata={"help": "1..5 or 'all' for dfew and mafw."})
    dfew_frames: str = field(
        default="clip_224x224", metadata={"help": f"DFEW's frames: {', '.join(DFEW_FRAME_SOURCES)}."}
    )
    classes: str | None = field(
        default=None,
        metadata={
            "help": "The class names in class order, comma-separated (annotation, csv, folder; default: the train "
            "split's labels, numbers sorted as numbers). A label outside them is a counted skip."
        },
    )
    strict: bool = field(
        default=False, metadata={"help": "Fail on any invalid clip or an empty split instead of skipping."}
    )

    def __post_init__(self):
        if self.dataset not in DATASET_NAMES:
            raise ValueError(f"dataset={self.dataset!r} is unknown: expected one of {', '.join(DATASET_NAMES)}")
        if self.fold is not None and self.dataset not in FIVE_FOLD:
            raise ValueError(f"fold={self.fold!r}: {self.dataset} has no folds (only {', '.join(FIVE_FOLD)} do)")

    def folds(self, all_by_default: bool = False) -> list[str | None]:
        """The folds to run: `[None]` for a dataset without folds; for DFEW and MAFW the chosen fold, or
        all five for `all` (or for no fold when `all_by_default`). Raises `ValueError` when a fold is needed."""
        if self.dataset not in FIVE_FOLD:
            return [None]
        if self.fold == "all" or (self.fold is None and all_by_default):
            return list(FOLDS)
        if self.fold is None:
            raise ValueError(f"--fold is required for {self.dataset}: 1..5 or all")
        return [self.fold]

    def load(self, split: str, fold: str | None = None, strict: bool | None = None) -> SplitReport:
        """One split of one fold (default: `self.fold`), validated against the disk."""
        return load_split(
            self.dataset,
            self.data_root,
            split,
            fold=fold if fold is not None else self.fold,
            strict=self.strict if strict is None else strict,
            classes=self.classes,
            dfew_frames=self.dfew_frames,
        )

    def load_splits(
        self,
        fold: str | None = None,
        strict: bool | None = None,
        decode_frames: int | None = None,
        num_workers: int | None = None,
    ) -> dict[str, SplitReport]:
        """Both splits of one fold, validated, and compared: a test clip also in train is an `overlap` problem.

        Args:
            decode_frames: also decode that many sampled frames of every clip (`check_decoding`), as training will.
            num_workers: decoding threads (default: one per CPU).
        """
        splits = {split: self.load(split, fold, strict=False) for split in ("train", "test")}
        if decode_frames:
            for report in splits.values():
                check_decoding(report, decode_frames, num_workers)
        report_overlap(splits["train"], splits["test"])
        if self.strict if strict is None else strict:
            for report in splits.values():
                report.raise_if_problems()
        return splits
