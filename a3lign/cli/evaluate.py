"""`a3lign evaluate`: a saved model folder on a dataset split: UAR / WAR, per-class recall, confusion matrix.

    a3lign evaluate --model runs/dfew-1 --dataset dfew --data_root /data/DFEW --fold 1
    a3lign evaluate ... --shuffle_frames      # the paper's Table 5: test frames in random order
    a3lign evaluate ... --test_views 2x2      # multi-view testing: 2 temporal x 2 spatial views, logits averaged

Prints the figures and writes them as JSON (default: `<model>/eval_<dataset>[_fold<K>][_shuffled].json`).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from transformers import AutoModelForVideoClassification, AutoVideoProcessor, HfArgumentParser

from ..data import ClipDataset, ClipView, DatasetArguments, multi_views
from ..train.evaluation import ShuffledFrames, evaluate_model


@dataclass
class EvaluateArguments:
    """What to evaluate and how."""

    model: str = field(metadata={"help": "A saved model folder (model + video processor)."})
    split: str = field(default="test", metadata={"help": "train or test."})
    shuffle_frames: bool = field(default=False, metadata={"help": "Random frame order per clip (Table 5)."})
    test_views: str = field(default="1x1", metadata={"help": "TEMPORALxSPATIAL views per clip, logits averaged (1x1: the pipeline's view)."})
    seed: int = field(default=0, metadata={"help": "Seed of the frame shuffle."})
    batch_size: int = field(default=8, metadata={"help": "Clips per batch."})
    num_workers: int = field(default=2, metadata={"help": "Decoding workers."})
    output: str | None = field(default=None, metadata={"help": "JSON file for the figures."})


def main(argv: list[str] | None = None) -> dict:
    parser = HfArgumentParser((EvaluateArguments, DatasetArguments), prog="a3lign evaluate", description=__doc__)
    args, data = parser.parse_args_into_dataclasses(args=argv)
    model = AutoModelForVideoClassification.from_pretrained(args.model, trust_remote_code=True)
    processor = AutoVideoProcessor.from_pretrained(args.model, trust_remote_code=True)
    report = data.load(args.split)
    labels = list(model.config.id2label.values())
    if list(report.id2label.values()) != labels:
        raise SystemExit(f"the model's classes {labels} differ from {data.dataset}'s {list(report.id2label.values())}")
    processor.check_matches(model.config)  # a processor for another crop or frame count would mislead silently
    views = multi_views(args.test_views)
    dataset = ClipDataset(report.clips, processor, views or ClipView())
    if args.shuffle_frames:
        dataset = ShuffledFrames(dataset, args.seed)
    result = evaluate_model(model, dataset, args.batch_size, args.num_workers)
    result.update(dataset=data.dataset, fold=data.fold, split=args.split, shuffle_frames=args.shuffle_frames,
                  test_views=args.test_views,
                  skipped_clips=report.listed - len(report.clips))
    print(f"{data.dataset}{f' fold {data.fold}' if data.fold else ''} {args.split}"
          f"{' (shuffled frames)' if args.shuffle_frames else ''}{f' ({args.test_views} views)' if views else ''}: UAR {result['uar']:.2f}  WAR {result['war']:.2f}"
          f"  ({result['num_clips']} clips)")
    for name, recall in zip(labels, result["per_class_recall"]):
        print(f"  {name:<16} {recall:6.2f}")
    suffix = (f"{f'_fold{data.fold}' if data.fold else ''}{'_shuffled' if args.shuffle_frames else ''}"
              f"{f'_{args.test_views}' if views else ''}")
    output = Path(args.output or Path(args.model) / f"eval_{data.dataset}{suffix}.json")
    output.write_text(json.dumps({k: (None if isinstance(v, float) and v != v else v) for k, v in result.items()}, indent=2))
    return result
