"""`a3lign cache`: extract a dataset's frozen frame embeddings once, ahead of training (see
`a3lign.train.frame_cache`). It takes `a3lign train`'s arguments (YAML and flags) and runs training's own
extraction (`a3lign.train.run.cache_splits`) on the same device and precision, so `a3lign train` with the
same arguments finds every shard and extracts nothing.

    a3lign cache configs/dfew.yaml --data_root /data/DFEW --fold 1 --frame_cache_dir cache/
"""

import logging
import sys

from .. import A3lignVideoProcessor
from ..train.arguments import parse_arguments
from ..train.bap import unwrap
from ..train.run import build_model, cache_splits


def main(argv: list[str] | None = None) -> int:
    model_args, dataset_args, data_args, _, training_args = parse_arguments(
        sys.argv[1:] if argv is None else argv, prog="a3lign cache"
    )
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not data_args.frame_cache_dir:
        raise SystemExit("a3lign cache: --frame_cache_dir is required (the folder a3lign train will read)")
    if not model_args.vision_tower_frozen:
        raise SystemExit("a3lign cache: vision LoRA adapters change the vision tower's output: nothing to cache")
    for fold in dataset_args.folds():
        splits = dataset_args.load_splits(fold)
        model = unwrap(build_model(model_args, splits["train"].id2label, first_stage=1)).eval()
        model.to(training_args.device)
        processor = A3lignVideoProcessor.from_model_config(model.config)
        # --strict: a clip that fails to decode stops here, not after the extraction, as in a3lign train.
        train, test = cache_splits(model, processor, splits, data_args, training_args, strict=dataset_args.strict)
        print(
            f"{f'fold {fold}: ' if fold else ''}train {len(train)} clips x {train.num_views} views, "
            f"test {len(test)} clips x {test.num_views} views cached in {data_args.frame_cache_dir}"
        )
    return 0
