"""Runs `a3lign train` and saves this process's final weights: `python tests/train/ddp_driver.py OUT ARGS...`,
under torchrun or alone (the multi-process test compares the two)."""

import os
import sys
from pathlib import Path

import torch

from a3lign.cli.train import main as train

if __name__ == "__main__":
    out, argv = Path(sys.argv[1]), sys.argv[2:]
    runs = train(argv)
    rank = int(os.environ.get("RANK", "0"))
    weights = {name: value.detach().clone() for name, value in runs[0].model.state_dict().items()}
    torch.save({"weights": weights, "final": runs[0].figures["final"]}, out / f"weights_rank{rank}.pt")
