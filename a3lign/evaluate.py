"""Evaluate a saved model folder on a dataset split: UAR / WAR, per-class recall, confusion matrix.

    python -m a3lign.evaluate --model runs/dfew-1 --dataset dfew --data_root /data/DFEW --fold 1
    python -m a3lign.evaluate ... --shuffle_frames      # the paper's Table 5: test frames in random order

Prints the figures and writes them as JSON (default: `<model>/eval_<dataset>[_fold<K>][_shuffled].json`).
"""

import argparse
import json
import sys
from pathlib import Path

import torch
from transformers import AutoModelForVideoClassification, AutoVideoProcessor

from .data import ClipDataset, load_split
from .metrics import load_dfer_recall


# What a dataset may hand the model per clip: decoded frames, or cached frame embeddings.
MODEL_INPUTS = ("pixel_values_videos", "frame_embeddings")


class ShuffledFrames(torch.utils.data.Dataset):
    """A dataset whose clips' frames come in a random order, fixed per clip by `seed` (Table 5's protocol).
    Works on pixels and on cached frame embeddings alike (frames are the first axis of either)."""

    def __init__(self, dataset, seed: int = 0):
        self.dataset, self.seed = dataset, seed

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        sample = dict(self.dataset[index])
        key = next(k for k in MODEL_INPUTS if k in sample)
        order = torch.randperm(sample[key].shape[0], generator=torch.Generator().manual_seed(self.seed * 1_000_003 + index))
        sample[key] = sample[key][order]
        return sample


@torch.no_grad()
def evaluate_model(model, dataset, batch_size: int = 8, num_workers: int = 0) -> dict:
    """UAR / WAR (%) and per-class recall of `model` on a dataset of `{"pixel_values_videos" or
    "frame_embeddings", "labels"}`."""
    model.eval()
    device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
    predictions, references = [], []
    for batch in torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=num_workers):
        logits = model(**{k: batch[k].to(device, dtype) for k in MODEL_INPUTS if k in batch}).logits
        predictions += logits.argmax(-1).tolist()
        references += batch["labels"].tolist()
    result = load_dfer_recall().compute(
        predictions=predictions, references=references, num_classes=model.config.num_labels
    )
    result["num_clips"] = len(references)
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m a3lign.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a saved model folder (model + video processor)")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data_root", required=True)
    parser.add_argument("--fold")
    parser.add_argument("--split", default="test")
    parser.add_argument("--dfew_frames", default="clip_224x224")
    parser.add_argument("--shuffle_frames", action="store_true", help="random frame order per clip (Table 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--num_workers", type=int, default=2)
    parser.add_argument("--output", help="JSON file for the figures")
    args = parser.parse_args(argv)

    model = AutoModelForVideoClassification.from_pretrained(args.model, trust_remote_code=True)
    processor = AutoVideoProcessor.from_pretrained(args.model, trust_remote_code=True)
    report = load_split(args.dataset, args.data_root, args.split, fold=args.fold, dfew_frames=args.dfew_frames)
    labels = list(model.config.id2label.values())
    if list(report.id2label.values()) != labels:
        raise SystemExit(f"the model's classes {labels} differ from {args.dataset}'s {list(report.id2label.values())}")
    dataset = ClipDataset(report.clips, processor, training=False)
    if args.shuffle_frames:
        dataset = ShuffledFrames(dataset, args.seed)
    result = evaluate_model(model, dataset, args.batch_size, args.num_workers)
    result.update(dataset=args.dataset, fold=args.fold, split=args.split, shuffle_frames=args.shuffle_frames,
                  skipped_clips=report.listed - len(report.clips))
    print(f"{args.dataset}{f' fold {args.fold}' if args.fold else ''} {args.split}"
          f"{' (shuffled frames)' if args.shuffle_frames else ''}: UAR {result['uar']:.2f}  WAR {result['war']:.2f}"
          f"  ({result['num_clips']} clips)")
    for name, recall in zip(labels, result["per_class_recall"]):
        print(f"  {name:<16} {recall:6.2f}")
    suffix = f"{f'_fold{args.fold}' if args.fold else ''}{'_shuffled' if args.shuffle_frames else ''}"
    output = Path(args.output or Path(args.model) / f"eval_{args.dataset}{suffix}.json")
    output.write_text(json.dumps({k: (None if isinstance(v, float) and v != v else v) for k, v in result.items()}, indent=2))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
