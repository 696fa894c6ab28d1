"""`a3lign data check ...` (a dataset's validation report) and `a3lign data synthesize ...` (the demo set).

    a3lign data check --dataset dfew --data_root /data/DFEW [--fold 1] [--strict]
    a3lign data synthesize --output data/synthetic --clips_per_class 40 --seed 0
"""

import logging
import sys
from dataclasses import dataclass, field

from transformers import HfArgumentParser

from ..data import DatasetArguments, synthesize


@dataclass
class SynthesizeArguments:
    """Where the synthetic set goes and how large it is."""

    output: str = field(metadata={"help": "Folder for train.csv, test.csv and clips/."})
    clips_per_class: int = field(default=40, metadata={"help": "Training clips per class."})
    test_clips_per_class: int | None = field(default=None, metadata={"help": "Test clips per class (default: half the training count, at least 2)."})
    seed: int = field(default=0, metadata={"help": "Seed of every clip."})


def check(data: DatasetArguments) -> int:
    """Print each split's report (every fold when none is given): 0 if clean or not strict, 1 on problems
    with `--strict`, 2 when a split cannot be read at all."""
    problems = 0
    for fold in data.folds(all_by_default=True):
        for split in ("train", "test"):
            try:
                report = data.load(split, fold, strict=False)  # --strict here decides the exit status
            except (FileNotFoundError, ValueError) as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
            print((f"[fold {fold}] " if fold else "") + report.format())
            problems += len(report.problems)
    if data.strict and problems:
        print(f"--strict: {problems} problems", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    command, rest = (argv[0], argv[1:]) if argv else (None, [])
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if command == "check":
        parser = HfArgumentParser(DatasetArguments, prog="a3lign data check",
                                  description="List clips found, missing, empty, unknown labels, frame counts, classes.")
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
