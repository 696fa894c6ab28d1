"""`a3lign evaluate`: a saved model folder on a dataset split: UAR / WAR, per-class recall, confusion matrix.

    a3lign evaluate --model runs/dfew-1 --dataset dfew --data_root /data/DFEW --fold 1
    a3lign evaluate ... --shuffle_frames      # the paper's Table 5: test frames in random order
    a3lign evaluate ... --test_views 2x2      # multi-view testing: 2 temporal x 2 spatial views, logits averaged
    a3lign evaluate --zero_shot --clip_model openai/clip-vit-large-patch14 --dataset dfew --data_root /data/DFEW
        --fold 1                              # before any training: CLIP's zero-shot classifier of the class
                                              # descriptions

Prints the figures and writes them as JSON (default: `<model>/eval_<dataset>[_fold<K>][_shuffled].json`; zero-shot:
`zero_shot_<dataset>[_fold<K>].json` here).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from transformers import AutoModelForVideoClassification, AutoVideoProcessor, HfArgumentParser

from .. import A3lignConfig, A3lignVideoProcessor
from ..data import ClipDataset, ClipView, DatasetArguments, multi_views
from ..train.evaluation import ShuffledFrames, evaluate_model, zero_shot_model


@dataclass
class EvaluateArguments:
    """What to evaluate and how."""

    model: str | None = field(default=None, metadata={"help": "A saved model folder (model + video processor)."})
    zero_shot: bool = field(
        default=False,
        metadata={
            "help": "Evaluate the untrained model instead: CLIP's zero-shot "
            "classifier of the class descriptions (--clip_model)."
        },
    )
    clip_model: str | None = field(
        default=None, metadata={"help": "--zero_shot: the CLIP checkpoint (with its tokenizer)."}
    )
    mat_descriptions: str | None = field(
        default=None,
        metadata={"help": "--zero_shot: a JSON file, class name -> sentences, in place of the built-in ones."},
    )
    num_frames: int = field(default=A3lignConfig.num_frames, metadata={"help": "--zero_shot: frames per clip."})
    image_size: int = field(default=224, metadata={"help": "--zero_shot: the crop fed to CLIP (CLIP's own size)."})
    mat_sentences: int = field(
        default=A3lignConfig.mat_sentences, metadata={"help": "--zero_shot: descriptions per class used."}
    )
    split: str = field(default="test", metadata={"help": "train or test."})
    shuffle_frames: bool = field(default=False, metadata={"help": "Random frame order per clip (Table 5)."})
    test_views: str = field(
        default="1x1",
        metadata={"help": "TEMPORALxSPATIAL views per clip, logits averaged (1x1: the pipeline's view)."},
    )
    seed: int = field(default=0, metadata={"help": "Seed of the frame shuffle."})
    batch_size: int = field(default=8, metadata={"help": "Clips per batch."})
    num_workers: int = field(default=2, metadata={"help": "Decoding workers."})
    output: str | None = field(default=None, metadata={"help": "JSON file for the figures."})


def main(argv: list[str] | None = None) -> dict:
    parser = HfArgumentParser((EvaluateArguments, DatasetArguments), prog="a3lign evaluate", description=__doc__)
    args, data = parser.parse_args_into_dataclasses(args=argv)
    report = data.load(args.split)
    if args.zero_shot:
        if not args.clip_model or args.model:
            raise SystemExit(
                "error: --zero_shot evaluates a CLIP checkpoint before training: pass --clip_model, not --model"
            )
        try:
            model = zero_shot_model(
                args.clip_model,
                report.id2label,
                args.mat_descriptions,
                num_frames=args.num_frames,
                image_size=args.image_size,
                mat_sentences=args.mat_sentences,
            )
        except ValueError as error:
            raise SystemExit(f"error: {error}") from error
        processor = A3lignVideoProcessor.from_model_config(model.config)
    else:
        if not args.model:
            raise SystemExit("error: pass --model FOLDER (or --zero_shot --clip_model CLIP)")
        model = AutoModelForVideoClassification.from_pretrained(args.model, trust_remote_code=True)
        processor = AutoVideoProcessor.from_pretrained(args.model, trust_remote_code=True)
    labels = list(model.config.id2label.values())
    if list(report.id2label.values()) != labels:
        raise SystemExit(f"the model's classes {labels} differ from {data.dataset}'s {list(report.id2label.values())}")
    processor.check_matches(model.config)  # a processor for another crop or frame count would mislead silently
    views = multi_views(args.test_views)
    dataset = ClipDataset(report.clips, processor, views or ClipView())
    if args.shuffle_frames:
        dataset = ShuffledFrames(dataset, args.seed)
    result = evaluate_model(model, dataset, args.batch_size, args.num_workers)
    result.update(
        dataset=data.dataset,
        fold=data.fold,
        split=args.split,
        shuffle_frames=args.shuffle_frames,
        test_views=args.test_views,
        zero_shot=args.zero_shot,
        skipped_clips=report.listed - len(report.clips),
    )
    print(
        f"{'zero-shot ' if args.zero_shot else ''}{data.dataset}{f' fold {data.fold}' if data.fold else ''}"
        f" {args.split}"
        f"{' (shuffled frames)' if args.shuffle_frames else ''}{f' ({args.test_views} views)' if views else ''}"
        f": UAR {result['uar']:.2f}  WAR {result['war']:.2f}"
        f"  ({result['num_clips']} clips)"
    )
    for name, recall in zip(labels, result["per_class_recall"]):
        print(f"  {name:<16} {recall:6.2f}")
    suffix = (
        f"{f'_fold{data.fold}' if data.fold else ''}{'_shuffled' if args.shuffle_frames else ''}"
        f"{f'_{args.test_views}' if views else ''}"
    )
    default = (
        Path(f"zero_shot_{data.dataset}{suffix}.json")
        if args.zero_shot
        else Path(args.model) / f"eval_{data.dataset}{suffix}.json"
    )
    output = Path(args.output or default)
    output.write_text(
        json.dumps({k: (None if isinstance(v, float) and v != v else v) for k, v in result.items()}, indent=2)
    )
    return result
