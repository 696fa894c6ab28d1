"""`a3lign train`: train A3lign-DFER with BAP, the paper's three-stage schedule, on one process or many.

    accelerate launch train_bap.py configs/dfew.yaml --data_root /data/DFEW --fold 1 --output_dir runs/dfew-1
    a3lign train --dataset synthetic --data_root data/synthetic --clip_model CLIP_FOLDER \\
        --stage_epochs 4 4 4 --output_dir runs/synthetic

A YAML file (first argument) supplies defaults; flags after it override them. Every field of the
argument groups in `a3lign.train.arguments` (model, data, BAP, TrainingArguments) and
`a3lign.data.DatasetArguments` is a flag. `--fold all` trains the five folds one after another and writes
a per-fold and mean table.
"""

import logging
import sys

import transformers

from ..train.arguments import parse_arguments
from ..train.run import RunResult, run_folds


def main(argv: list[str] | None = None) -> list[RunResult]:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv, prog="a3lign train")
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", level=logging.INFO)
    transformers.utils.logging.set_verbosity_warning()
    try:
        folds = arguments[1].folds()
    except ValueError as error:
        raise SystemExit(str(error)) from error
    return run_folds(*arguments, folds=folds)
