"""`a3lign cache`: extract a dataset's frozen frame embeddings once, ahead of training (see
`a3lign.train.frame_cache`); `a3lign train --frame_cache_dir` with the same settings then finds them.

    a3lign cache --clip_model openai/clip-vit-large-patch14 --dataset dfew --data_root /data/DFEW --fold 1 \\
        --views 4 --cache_dir cache/
"""

import logging
from dataclasses import dataclass, field

import torch
from transformers import HfArgumentParser

from .. import A3lignModel, A3lignVideoProcessor
from ..data import DatasetArguments
from ..train.frame_cache import build_cached_split


@dataclass
class CacheArguments:
    """The frozen tower, the views and where the cache goes (match `a3lign train`'s settings)."""

    clip_model: str = field(metadata={"help": "CLIP checkpoint: hub id or folder."})
    cache_dir: str = field(metadata={"help": "The cache folder (`--frame_cache_dir` of a3lign train)."})
    num_frames: int = field(default=16, metadata={"help": "Frames per clip."})
    image_size: int = field(default=112, metadata={"help": "Crop fed to CLIP."})
    views: int = field(default=4, metadata={"help": "Training views per clip (plus the evaluation view)."})
    seed: int = field(default=42, metadata={"help": "Seed of the training views (a3lign train's --seed)."})
    batch_size: int = field(default=32, metadata={"help": "Clips per vision-tower batch."})
    num_workers: int = field(default=2, metadata={"help": "Decoding workers."})


def main(argv: list[str] | None = None) -> int:
    parser = HfArgumentParser((CacheArguments, DatasetArguments), prog="a3lign cache", description=__doc__)
    args, data = parser.parse_args_into_dataclasses(args=argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # Only the vision tower runs here: the smallest MAT keeps the model light (the key ignores the MAT).
    model = A3lignModel.from_clip_pretrained(args.clip_model, num_frames=args.num_frames, image_size=args.image_size,
                                             mat_sentences=1, mat_tokens=1).eval()
    if torch.cuda.is_available():
        model.cuda()
    processor = A3lignVideoProcessor.from_model_config(model.config)
    for split, views in (("train", args.views), ("test", 0)):
        embeddings, _ = build_cached_split(args.cache_dir, model, processor, data.load(split).clips, views, args.seed,
                                           args.batch_size, args.num_workers)
        print(f"{split}: {tuple(embeddings.shape)} cached")
    return 0
