"""`a3lign data check ...` (a dataset's validation report) and `a3lign data synthesize ...` (the demo set).

    a3lign data check --dataset dfew --data_root /data/DFEW [--fold 1] [--strict] [--quick] [--classes A,B,...]
    a3lign data synthesize --output data/synthetic --clips_per_class 40 --seed 0
"""

import logging
import sys
from dataclasses import dataclass, field

from transformers import HfArgumentParser

from ..data import DatasetArguments, synthesize


@dataclass
class CheckArguments:
    """How deeply `a3lign data check` reads the clips."""

    quick: bool = field(default=False, metadata={"help": "Read only headers and frame lists (counts frames), not the frames."})
    num_frames: int = field(default=16, metadata={"help": "Frames decoded per clip: training's --num_frames."})
    num_workers: int | None = field(default=None, metadata={"help": "Decoding threads (default: one per CPU)."})


@dataclass
class SynthesizeArguments:
    """Where the synthetic set goes and how large it is."""

    output: str = field(metadata={"help": "Folder for train.csv, test.csv and clips/."})
    clips_per_class: int = field(default=40, metadata={"help": "Training clips per class."})
    test_clips_per_class: int | None = field(default=None, metadata={"help": "Test clips per class (default: half the training count, at least 2)."})
    seed: int = field(default=0, metadata={"help": "Seed of every clip."})


def check(data: DatasetArguments, options: CheckArguments = CheckArguments()) -> int:
    """Print each split's report (every fold when none is given), having decoded every clip's sampled frames
    unless `--quick`: 0 if clean or not strict, 1 with `--strict` on any problem or an empty split, 2 when a
    split cannot be read at all."""
    problems = empty = 0
    for fold in data.folds(all_by_default=True):
        try:  # --strict here decides the exit status
            splits = data.load_splits(fold, strict=False, decode_frames=None if options.quick else options.num_frames,
                                      num_workers=options.num_workers)
        except (FileNotFoundError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        for report in splits.values():
            print((f"[fold {fold}] " if fold else "") + report.format())
            problems += len(report.problems)
            empty += not report.clips
    if data.strict and (problems or empty):
        print(f"--strict: {problems} problems, {empty} empty splits", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    command, rest = (argv[0], argv[1:]) if argv else (None, [])
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if command == "check":
        parser = HfArgumentParser((DatasetArguments, CheckArguments), prog="a3lign data check",
                                  description="Decode every clip's sampled frames and report what training would skip: "
                                              "missing, empty, undecodable, unknown or blank labels, duplicates, "
                                              "conflicting labels, train/test overlap, paths outside the root, frame "
                                              "counts, classes.")
        return check(*parser.parse_args_into_dataclasses(args=rest))
    if command == "synthesize":
        parser = HfArgumentParser(SynthesizeArguments, prog="a3lign data synthesize",
                                  description="Write the synthetic dynamic-expression dataset.")
        args, = parser.parse_args_into_dataclasses(args=rest)
        path = synthesize(args.output, args.clips_per_class, args.test_clips_per_class, args.seed)
        print(f"wrote {path}: train.csv, test.csv, clips/")
        return 0
    print(f"usage: a3lign data check|synthesize ...; got {command!r}\n\n{__doc__}", file=sys.stderr)
    return 2
