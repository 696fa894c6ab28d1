"""Train A3lign-DFER with BAP, the paper's three-stage schedule, on one process or many.

    accelerate launch train_bap.py configs/dfew.yaml --data_root /data/DFEW --fold 1 --output_dir runs/dfew-1
    python train_bap.py --dataset synthetic --data_root data/synthetic --clip_model CLIP_FOLDER \\
        --stage_epochs 4 4 4 --output_dir runs/synthetic

A YAML file (first argument) supplies defaults; flags after it override them. Every field of
ModelArguments, DataArguments, BAPArguments (a3lign.training, a3lign.bap) and TrainingArguments is a flag.
`--fold all` trains the five folds one after another and writes a per-fold and mean table.
"""

import dataclasses
import logging
import sys
from pathlib import Path

import transformers
import yaml
from transformers import HfArgumentParser

from a3lign.bap import BAPArguments
from a3lign.data import FIVE_FOLD
from a3lign.training import A3lignTrainingArguments, DataArguments, ModelArguments, run_bap, write_fold_table


def yaml_to_flags(path: str) -> list[str]:
    """A YAML mapping as command-line flags (lists become repeated values)."""
    with open(path) as handle:
        values = yaml.safe_load(handle) or {}
    flags = []
    for key, value in values.items():
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        flags += [f"--{key}", *(str(item).lower() if isinstance(item, bool) else str(item) for item in items)]
    return flags


def parse(argv: list[str]):
    parser = HfArgumentParser((ModelArguments, DataArguments, BAPArguments, A3lignTrainingArguments))
    if argv and argv[0].endswith((".yaml", ".yml")):
        argv = yaml_to_flags(argv[0]) + argv[1:]
    return parser.parse_args_into_dataclasses(args=argv)


def main(argv=None) -> list[dict]:
    model_args, data_args, bap_args, training_args = parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", level=logging.INFO)
    transformers.utils.logging.set_verbosity_warning()
    if data_args.dataset in FIVE_FOLD:
        if data_args.fold is None:
            raise SystemExit(f"--fold is required for {data_args.dataset}: 1..5 or all")
        folds = ["1", "2", "3", "4", "5"] if data_args.fold == "all" else [data_args.fold]
    else:
        folds = [None]
    root = Path(training_args.output_dir)
    runs = []
    for fold in folds:
        args = training_args
        if len(folds) > 1:
            args = dataclasses.replace(training_args, output_dir=str(root / f"fold_{fold}"))
        runs.append(run_bap(model_args, data_args, bap_args, args, fold=fold))
    if len(folds) > 1:
        print(write_fold_table(root, runs))
    return runs


if __name__ == "__main__":
    main()
