"""Frame-embedding cache: the frozen CLIP vision tower's output for every clip and view, computed once.

CLIP never trains (the paper keeps it frozen), so the frame embeddings of a given view of a clip never
change: extracting them once replaces decoding and the vision tower in every later epoch.

    <cache_dir>/<key>/meta.json                    what the key was made of, for humans
    <cache_dir>/<key>/shard_00000.safetensors ...  "embeddings" (n, views, F, d) float16, "labels" (n,)

The first views are fixed (`ClipView`s: view 0 is the pipeline's view, then any multi-view testing
views); the last `training_views` are training views (random segments, crop and flip as the run asks),
each drawn from a generator seeded by (seed, clip, view), so a view is reproducible. The key hashes the
CLIP (config and a fingerprint of the vision weights, not the folder it was read from), the precision, image
size, frame count, processor settings, the views, seed and the clip list: a cache made for anything else is
never read by mistake.
Shards are written atomically and skipped when present (an interrupted extraction resumes), shard k is
extracted by process k mod world size (`accelerate launch` splits the work), and shards are read lazily
(memory-mapped), so a cache need not fit in memory.

    a3lign cache --clip_model openai/clip-vit-large-patch14 --dataset dfew \\
        --data_root /data/DFEW --fold 1 --views 4 --cache_dir cache/
"""

import hashlib
import json
import logging
import os
from contextlib import nullcontext
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..data import Clip, ClipView, DecodeFailures, clip_views, pixels_or_substitute

logger = logging.getLogger(__name__)

# Bump when the sampler, the augmentation or decoding changes (v3: by time, frames as shown).
SAMPLER_VERSION = "segments-v3"


def vision_fingerprint(model) -> str:
    """A short hash of the CLIP config and of the vision tower's weights (a strided sample of each).

    The config's `_name_or_path` (where `from_pretrained` read the checkpoint) is left out: the same CLIP in
    another folder is the same tower, and would otherwise extract the whole cache again."""
    config = model.config.clip_config.to_dict()
    for part in (config, config.get("text_config") or {}, config.get("vision_config") or {}):
        part.pop("_name_or_path", None)
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    for name, tensor in list(model.clip.vision_model.state_dict().items()) + [
        ("proj", model.clip.visual_projection.weight)
    ]:
        sample = tensor.detach().flatten()[:: max(1, tensor.numel() // 64)].float().cpu()
        digest.update(name.encode() + sample.numpy().tobytes())
    return digest.hexdigest()[:16]


def precision_context(device: torch.device, dtype: torch.dtype | None):
    """Autocast to `dtype` (bf16 / fp16 runs), or nothing for fp32: frozen work runs as training runs."""
    if dtype in (None, torch.float32):
        return nullcontext()
    return torch.autocast(device.type, dtype=dtype)


@torch.no_grad()
def frame_embeddings(model, pixel_batches, dtype: torch.dtype | None = None):
    """The frozen tower over batches of pixels `(B, F, 3, H, W)` on the model's device, in `dtype`
    (autocast): yields frame embeddings `(B, F, d)` float32 on the CPU. The one path of all frozen work
    (frame statistics, cache extraction, `a3lign cache`)."""
    device = next(model.parameters()).device
    was_training = model.clip.training
    model.clip.eval()  # the frozen tower as inference runs it, whatever mode the caller left it in
    try:
        with precision_context(device, dtype):
            for pixels in pixel_batches:
                yield model.get_frame_embeddings(pixels.to(device, non_blocking=True)).float().cpu()
    finally:
        model.clip.train(was_training)


class _Clips(torch.utils.data.Dataset):
    """The clips of one shard of a cache, each as all its views `(V, F, 3, crop, crop)` (decoded once), in DataLoader
    workers."""

    def __init__(self, cache: "FrameEmbeddingCache", indices):
        self.cache, self.indices = cache, list(indices)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, k):
        return self.cache.clip_views(self.indices[k])


class FrameEmbeddingCache:
    """The cached frame embeddings of one split's clips: the fixed `views`, then `training_views` random
    training views (drawn as `training` says) per clip."""

    def __init__(
        self,
        cache_dir,
        model,
        processor,
        clips,
        views: list[ClipView] = (ClipView(),),
        training_views: int = 0,
        training: ClipView | None = None,
        seed: int = 0,
        dtype: torch.dtype | None = None,
        shard_size: int = 256,
        failures: DecodeFailures | None = None,
        strict: bool = False,
        split: str = "",
    ):
        self.model, self.processor, self.clips = model, processor, clips
        # A clip that fails to decode is stored as a class-mate's view (ClipDataset's rule) and recorded with the
        # cache, so that every run reading it learns of the stand-in (and a --strict one refuses it).
        self.failures, self.strict, self.split = failures, strict, split
        self.fixed, self.training_views, self.seed, self.shard_size = list(views), training_views, seed, shard_size
        self.training = training or ClipView(random_segments=True, augment=True)
        self.dtype = dtype
        self.meta = {
            "clip": vision_fingerprint(model),
            "clip_name_or_path": model.config.clip_name_or_path,
            "precision": str(dtype or torch.float32),
            "image_size": model.config.image_size,
            "num_frames": model.config.num_frames,
            "processor": json.loads(processor.to_json_string()),
            "sampler": SAMPLER_VERSION,
            "views": [view.describe() for view in self.fixed],
            "training_views": training_views,
            "training": self.training.describe() if training_views else None,
            "seed": seed,
            "shard_size": shard_size,
            # Each clip's file as the filesystem knows it: `./data` and `data` are one dataset, a copy elsewhere
            # (re-cropped faces, say) another.
            "clips": hashlib.sha256(
                "\n".join(f"{os.path.realpath(c.path)}|{c.label}" for c in clips).encode()
            ).hexdigest()[:16],
        }
        # The CLIP is keyed by its weights (`vision_fingerprint`), not by how its path was spelled (kept for humans).
        keyed = {name: value for name, value in self.meta.items() if name != "clip_name_or_path"}
        key = hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:20]
        self.path = Path(cache_dir) / key
        self.num_shards = (len(clips) + shard_size - 1) // shard_size
        self.stand_ins = DecodeFailures(self.path / "decode_failures.jsonl")

    @property
    def num_views(self) -> int:
        return len(self.fixed) + self.training_views

    def views(self) -> list[ClipView]:
        """Every cached view, in cache order: the fixed ones, then the training ones."""
        return [*self.fixed, *[self.training] * self.training_views]

    def generators(self, index: int) -> list[torch.Generator | None]:
        """Each view's random draws: none for a fixed view; a training view's seeded by (seed, clip, view)."""
        return [None] * len(self.fixed) + [
            torch.Generator().manual_seed(self.seed * 1_000_003 + index * 1_009 + view)
            for view in range(len(self.fixed), self.num_views)
        ]

    def view_pixels(self, index: int, view: int) -> torch.Tensor:
        """Pixels `(F, 3, crop, crop)` of cached view `view` of clip `index` alone (`clip_views` gives them all)."""
        return self.clip_views(index)[view]

    def clip_views(self, index: int) -> torch.Tensor:
        """Pixels `(V, F, 3, crop, crop)` of every cached view of clip `index`, the clip decoded once (`clip_views` of
        `a3lign.data`: each view exactly `clip_pixels` with its generator)."""

        def read(path):
            return clip_views(self.processor, path, self.views(), self.generators(index))

        return pixels_or_substitute(self.clips, index, read, self.stand_ins, self.strict, self.split)

    def report_stand_ins(self) -> None:
        """Pass the clips this cache holds stand-ins for to the run's `failures`; with `strict`, refuse them."""
        for entry in self.stand_ins.read():
            if self.strict:
                raise ValueError(
                    f"frame cache '{self.path}' holds a stand-in for clip '{entry['clip_id']}' "
                    f"('{entry['path']}'), which failed to decode: {entry['error']}"
                )
            if self.failures is not None:
                clip = Clip(entry["clip_id"], Path(entry["path"]), -1, 0)
                self.failures.record(clip, entry["error"], entry["split"], entry["substitute"])

    def shard_path(self, shard: int) -> Path:
        return self.path / f"shard_{shard:05d}.safetensors"

    def extract(self, rank: int = 0, world_size: int = 1, batch_size: int = 32, num_workers: int = 0) -> int:
        """Write this process's missing shards; returns how many it wrote."""
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "meta.json").write_text(json.dumps(self.meta, indent=2))
        written = 0
        for shard in range(rank, self.num_shards, world_size):
            if self.shard_path(shard).exists():
                continue
            indices = range(shard * self.shard_size, min(len(self.clips), (shard + 1) * self.shard_size))
            # `batch_size` clip views per pass through the tower, as before: whole clips of `num_views` views each.
            loader = torch.utils.data.DataLoader(
                _Clips(self, indices), batch_size=max(1, batch_size // self.num_views), num_workers=num_workers
            )
            views = (batch.flatten(0, 1) for batch in loader)  # (B, V, F, 3, H, W) -> (B * V, F, 3, H, W)
            embeddings = torch.cat(list(frame_embeddings(self.model, views, self.dtype))).half()
            embeddings = embeddings.view(len(indices), self.num_views, *embeddings.shape[1:])
            labels = torch.tensor([self.clips[i].label for i in indices])
            temporary = self.shard_path(shard).with_name(f"{self.shard_path(shard).stem}.rank{rank}.tmp")
            save_file({"embeddings": embeddings.contiguous(), "labels": labels}, str(temporary))
            temporary.rename(self.shard_path(shard))  # atomic: a shard exists whole or not at all
            written += 1
            logger.info(
                "frame cache: shard %d/%d (%d clips x %d views)",
                shard + 1,
                self.num_shards,
                len(indices),
                self.num_views,
            )
        return written

    def open(self) -> "CachedEmbeddings":
        """The complete cache, read lazily."""
        missing = [s for s in range(self.num_shards) if not self.shard_path(s).exists()]
        if missing:
            raise FileNotFoundError(f"frame cache '{self.path}' lacks shards {missing}: run extract() first")
        return CachedEmbeddings([self.shard_path(s) for s in range(self.num_shards)], len(self.fixed))


class CachedEmbeddings:
    """Read access to a complete cache without loading it: each shard is memory-mapped by safetensors and
    only the rows asked for are read. `embeddings(i, views)` -> `(len(views), F, d)` float32."""

    def __init__(self, shards: list[Path], fixed_views: int):
        self.shards, self.fixed_views = shards, fixed_views
        self.labels = torch.cat([self._open(k).get_tensor("labels") for k in range(len(shards))])
        self.sizes = [self._open(k).get_slice("labels").get_shape()[0] for k in range(len(shards))]
        self.starts = [sum(self.sizes[:k]) for k in range(len(shards))]
        self.num_views = self._open(0).get_slice("embeddings").get_shape()[1] if shards else 0

    def __len__(self) -> int:
        return len(self.labels)

    def _open(self, shard: int):
        # One handle per shard and process (DataLoader workers open their own after the fork).
        handles = self.__dict__.setdefault("_handles", {})
        if shard not in handles:
            handles[shard] = safe_open(str(self.shards[shard]), framework="pt")
        return handles[shard]

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_handles"}

    def embeddings(self, index: int, views: slice | int) -> torch.Tensor:
        shard = max(k for k, start in enumerate(self.starts) if start <= index)
        rows = self._open(shard).get_slice("embeddings")[index - self.starts[shard]]
        return rows[views].float()


class CachedViews(torch.utils.data.Dataset):
    """`{"frame_embeddings", "labels"}` from a cache. Training: one random training view per access (each epoch
    draws anew among the cached ones), `(F, d)`. Evaluation: fixed view `views` (`(F, d)`; default 0, the
    pipeline's), or a slice of them (`(V, F, d)`, multi-view testing)."""

    def __init__(self, cache: CachedEmbeddings, training: bool = False, views: int | slice = 0):
        self.cache, self.training, self.views = cache, training, views

    def __len__(self):
        return len(self.cache)

    def __getitem__(self, index):
        view = self.views
        if self.training and self.cache.num_views > self.cache.fixed_views:
            view = int(torch.randint(self.cache.fixed_views, self.cache.num_views, ()))
        return {"frame_embeddings": self.cache.embeddings(index, view), "labels": int(self.cache.labels[index])}


def build_cached_split(
    cache_dir,
    model,
    processor,
    clips,
    views=(ClipView(),),
    training_views: int = 0,
    training: ClipView | None = None,
    seed: int = 0,
    dtype=None,
    batch_size: int = 32,
    num_workers: int = 0,
    failures: DecodeFailures | None = None,
    strict: bool = False,
    split: str = "",
) -> CachedEmbeddings:
    """Extract (this process's share, then wait for the others) and open one split's cache."""
    cache = FrameEmbeddingCache(
        cache_dir,
        model,
        processor,
        clips,
        views,
        training_views,
        training,
        seed,
        dtype,
        failures=failures,
        strict=strict,
        split=split,
    )
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    rank, world = (torch.distributed.get_rank(), torch.distributed.get_world_size()) if distributed else (0, 1)
    cache.extract(rank, world, batch_size, num_workers)
    if distributed:
        torch.distributed.barrier()
    cache.report_stand_ins()  # every rank: a --strict run stops everywhere (records are deduplicated)
    return cache.open()
