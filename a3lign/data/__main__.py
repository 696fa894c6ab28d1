"""`python -m a3lign.data check ...` (validation report) and `python -m a3lign.data synthesize ...`."""

import argparse
import logging
import sys

from .readers import DATASET_NAMES, FIVE_FOLD, load_split
from .synthetic import synthesize


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m a3lign.data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="list clips found, missing, empty, unknown labels, frame counts, classes")
    check.add_argument("--dataset", required=True, choices=DATASET_NAMES)
    check.add_argument("--data_root", required=True)
    check.add_argument("--fold", help="1..5 for dfew and mafw (default: all five)")
    check.add_argument("--dfew_frames", default="clip_224x224", help="clip_224x224, clip_224x224_16f or videos")
    check.add_argument("--strict", action="store_true", help="exit non-zero on any problem")
    make = commands.add_parser("synthesize", help="write the synthetic dynamic-expression dataset")
    make.add_argument("--output", required=True)
    make.add_argument("--clips_per_class", type=int, default=40)
    make.add_argument("--test_clips_per_class", type=int)
    make.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if args.command == "synthesize":
        path = synthesize(args.output, args.clips_per_class, args.test_clips_per_class, args.seed)
        print(f"wrote {path}: train.csv, test.csv, clips/")
        return 0
    folds = [args.fold] if args.fold else (["1", "2", "3", "4", "5"] if args.dataset in FIVE_FOLD else [None])
    problems = 0
    for fold in folds:
        for split in ("train", "test"):
            try:
                report = load_split(args.dataset, args.data_root, split, fold=fold, dfew_frames=args.dfew_frames)
            except (FileNotFoundError, ValueError) as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
            print((f"[fold {fold}] " if fold else "") + report.format())
            problems += len(report.problems)
    if args.strict and problems:
        print(f"--strict: {problems} problems", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
