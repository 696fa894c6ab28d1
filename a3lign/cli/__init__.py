"""The `a3lign` console script: one subcommand per module of this package.

    a3lign train CONFIG.yaml --flag value ...    BAP training (what `accelerate launch train_bap.py` runs)
    a3lign evaluate --model RUN --dataset ...    UAR / WAR of a saved model, in order or shuffled
    a3lign predict VIDEO --model RUN [--timeline] a video's top classes, or its emotion timeline
    a3lign live --model RUN --source 0           emotions from a camera, stream or file as they happen
    a3lign cache --clip_model ... --dataset ...  extract the frozen frame embeddings ahead of training
    a3lign data check | synthesize | crop-faces  validate a dataset; write the synthetic set; crop faces of raw videos
    a3lign demo                                  the whole job on the synthetic set (`make demo`)
    a3lign app --model RUN                       the browser demo: upload or record a video (extra `app`)

Imports the training, prediction and data sides; nothing else in the package imports this one.
"""

import importlib
import sys

COMMANDS = {
    "train": "BAP training from a YAML config and flags",
    "evaluate": "evaluate a saved model folder on a dataset split",
    "predict": "classify a video, or write its emotion timeline (--timeline)",
    "live": "emotions from a camera, a stream or a file as they happen",
    "cache": "extract frame embeddings of a dataset once",
    "data": "check a dataset, synthesize the demo set, or crop the faces of raw videos",
    "demo": "train and evaluate on the synthetic set, end to end",
    "app": "the browser demo of a saved model (pip install 'a3lign[app]')",
}


def usage() -> str:
    lines = ["usage: a3lign COMMAND [ARGS...]   (a3lign COMMAND --help for its flags)", "", "commands:"]
    return "\n".join(lines + [f"  {name:<10} {text}" for name, text in COMMANDS.items()])


def main(argv: list[str] | None = None) -> int:
    """Run the subcommand named by `argv[0]`; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        print(f"a3lign: unknown command {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    # Imported on demand: `a3lign data check` need not load the Trainer.
    outcome = importlib.import_module(f"{__name__}.{argv[0]}").main(argv[1:])
    return outcome if isinstance(outcome, int) else 0
