"""`a3lign demo` (`make demo`): generate the synthetic set, train through the three BAP stages on cached
frame embeddings, print UAR / WAR per stage and with shuffled frames, run the pipeline (`a3lign.train.demo`).

    a3lign demo [--clip_model openai/clip-vit-large-patch14] [-- extra a3lign train flags]
"""

import argparse

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
    parser.add_argument("train_flags", nargs="*", help="extra a3lign train flags, after --")
    args = parser.parse_args(argv)
    return run_demo(
        args.output, args.clip_model, args.config, args.clips_per_class, args.test_clips_per_class, args.train_flags
    )
