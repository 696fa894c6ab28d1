"""`a3lign demo` (`make demo`): generate the synthetic set, train through the three BAP stages on cached
frame embeddings, print UAR / WAR per stage and with shuffled frames, run the pipeline (`a3lign.train.demo`).

    a3lign demo [--clip_model openai/clip-vit-large-patch14] [--seeds 42,43,44] [-- extra a3lign train flags]
"""

import argparse

from transformers import TrainingArguments

from ..train.demo import SYNTHETIC_CONFIG, DemoResult, run_demo


def main(argv: list[str] | None = None) -> DemoResult:
    parser = argparse.ArgumentParser(
        prog="a3lign demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clip_model", help="CLIP checkpoint (hub id or folder); default: a small random CLIP")
    parser.add_argument("--output", default="demo_output")
    parser.add_argument("--config", default=str(SYNTHETIC_CONFIG), help="the a3lign train YAML")
    parser.add_argument("--clips_per_class", type=int, default=80)
    parser.add_argument("--test_clips_per_class", type=int, default=20)
    parser.add_argument(
        "--seeds",
        default=str(TrainingArguments.seed),
        help="comma-separated training seeds: one run each, then each figure's mean and range (default: %(default)s,"
        " transformers' default seed)",
    )
    parser.add_argument("train_flags", nargs="*", help="extra a3lign train flags, after --")
    args = parser.parse_args(argv)
    try:
        seeds = [int(seed) for seed in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds {args.seeds!r} is invalid: expected comma-separated integers, e.g. 42,43,44")
    if len(set(seeds)) != len(seeds):
        parser.error(f"--seeds {args.seeds!r} repeats a seed: expected distinct seeds, e.g. 42,43,44")
    return run_demo(
        args.output,
        args.clip_model,
        args.config,
        args.clips_per_class,
        args.test_clips_per_class,
        args.train_flags,
        seeds,
    )
