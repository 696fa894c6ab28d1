"""Frame-embedding cache: the frozen CLIP vision tower's output for every clip and view, computed once.

CLIP never trains (the paper keeps it frozen), so the frame embeddings of a given view of a clip never
change: extracting them once replaces decoding and the vision tower in every later epoch.

    <cache_dir>/<key>/meta.json                    what the key was made of, for humans
    <cache_dir>/<key>/shard_00000.safetensors ...  "embeddings" (n, views, F, d) float16, "labels" (n,)

View 0 is the evaluation view (segment centres, centre crop: exactly the pipeline's input); views
1..K are training views (a random frame per segment, one random crop and flip per clip), each drawn
from a generator seeded by (seed, clip, view), so a view is reproducible. The key hashes the CLIP
(config and a fingerprint of the vision weights), image size, frame count, processor settings, sampler,
views, seed and the clip list: a cache made for anything else is never read by mistake. Shards are
written atomically and skipped when present (an interrupted extraction resumes), and shard k is
extracted by process k mod world size (`accelerate launch` splits the work).

    a3lign cache --clip_model openai/clip-vit-large-patch14 --dataset dfew \\
        --data_root /data/DFEW --fold 1 --views 4 --cache_dir cache/
"""

import hashlib
import json
import logging
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..data import clip_pixels

logger = logging.getLogger(__name__)

SAMPLER_VERSION = "segments-v1"  # bump when the sampler or the augmentation changes


def view_pixels(processor, path, view: int, seed: int, clip_index: int) -> torch.Tensor:
    """Pixels `(F, 3, crop, crop)` of cached view `view` of a clip: 0 the evaluation view, >= 1 a training
    view drawn from a generator seeded by (seed, clip, view)."""
    if view == 0:
        return clip_pixels(processor, path)
    generator = torch.Generator().manual_seed(seed * 1_000_003 + clip_index * 1_009 + view)
    return clip_pixels(processor, path, random_segments=True, augment=True, generator=generator)


def vision_fingerprint(model) -> str:
    """A short hash of the CLIP config and of the vision tower's weights (a strided sample of each)."""
    digest = hashlib.sha256(json.dumps(model.config.clip_config.to_dict(), sort_keys=True, default=str).encode())
    for name, tensor in list(model.clip.vision_model.state_dict().items()) + [("proj", model.clip.visual_projection.weight)]:
        sample = tensor.detach().flatten()[:: max(1, tensor.numel() // 64)].float().cpu()
        digest.update(name.encode() + sample.numpy().tobytes())
    return digest.hexdigest()[:16]


class _Views(torch.utils.data.Dataset):
    """(clip, view) pairs of one shard, decoded in DataLoader workers."""

    def __init__(self, clips, indices, views, processor, seed):
        self.items = [(i, v) for i in indices for v in range(views)]
        self.clips, self.processor, self.seed = clips, processor, seed

    def __len__(self):
        return len(self.items)

    def __getitem__(self, k):
        index, view = self.items[k]
        return view_pixels(self.processor, self.clips[index].path, view, self.seed, index)


class FrameEmbeddingCache:
    """The cached frame embeddings of one split's clips, `views` views each (view 0 = evaluation)."""

    def __init__(self, cache_dir, model, processor, clips, training_views: int = 4, seed: int = 0, shard_size: int = 256):
        self.model, self.processor, self.clips = model, processor, clips
        self.views, self.seed, self.shard_size = 1 + training_views, seed, shard_size
        self.meta = {
            "clip": vision_fingerprint(model), "clip_name_or_path": model.config.clip_name_or_path,
            "image_size": model.config.image_size, "num_frames": model.config.num_frames,
            "processor": json.loads(processor.to_json_string()), "sampler": SAMPLER_VERSION,
            "views": self.views, "seed": seed, "shard_size": shard_size,
            "clips": hashlib.sha256("\n".join(f"{c.path}|{c.label}" for c in clips).encode()).hexdigest()[:16],
        }
        key = hashlib.sha256(json.dumps(self.meta, sort_keys=True).encode()).hexdigest()[:20]
        self.path = Path(cache_dir) / key
        self.num_shards = (len(clips) + shard_size - 1) // shard_size

    def shard_path(self, shard: int) -> Path:
        return self.path / f"shard_{shard:05d}.safetensors"

    @torch.no_grad()
    def extract(self, rank: int = 0, world_size: int = 1, batch_size: int = 32, num_workers: int = 0) -> int:
        """Write this process's missing shards; returns how many it wrote."""
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "meta.json").write_text(json.dumps(self.meta, indent=2))
        device = next(self.model.parameters()).device
        written = 0
        for shard in range(rank, self.num_shards, world_size):
            if self.shard_path(shard).exists():
                continue
            indices = range(shard * self.shard_size, min(len(self.clips), (shard + 1) * self.shard_size))
            loader = torch.utils.data.DataLoader(_Views(self.clips, indices, self.views, self.processor, self.seed),
                                                 batch_size=batch_size, num_workers=num_workers)
            embeddings = torch.cat([self.model.get_frame_embeddings(b.to(device)).half().cpu() for b in loader])
            embeddings = embeddings.view(len(indices), self.views, *embeddings.shape[1:])
            labels = torch.tensor([self.clips[i].label for i in indices])
            temporary = self.shard_path(shard).with_suffix(".tmp")
            save_file({"embeddings": embeddings.contiguous(), "labels": labels}, str(temporary))
            temporary.rename(self.shard_path(shard))  # atomic: a shard exists whole or not at all
            written += 1
            logger.info("frame cache: shard %d/%d (%d clips x %d views)", shard + 1, self.num_shards, len(indices), self.views)
        return written

    def load(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All shards: embeddings `(N, views, F, d)` float16 and labels `(N,)`."""
        missing = [s for s in range(self.num_shards) if not self.shard_path(s).exists()]
        if missing:
            raise FileNotFoundError(f"frame cache '{self.path}' lacks shards {missing}: run extract() first")
        shards = [load_file(str(self.shard_path(s))) for s in range(self.num_shards)]
        return torch.cat([s["embeddings"] for s in shards]), torch.cat([s["labels"] for s in shards])


class CachedViews(torch.utils.data.Dataset):
    """`{"frame_embeddings": (F, d), "labels"}` from a loaded cache: view 0 for evaluation, a random
    training view per access for training (so each epoch sees a new draw among the cached ones)."""

    def __init__(self, embeddings: torch.Tensor, labels: torch.Tensor, training: bool):
        self.embeddings, self.labels, self.training = embeddings, labels, training

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        views = self.embeddings.shape[1]
        view = int(torch.randint(1, views, ())) if self.training and views > 1 else 0
        return {"frame_embeddings": self.embeddings[index, view].float(), "labels": int(self.labels[index])}


def build_cached_split(cache_dir, model, processor, clips, training_views, seed, batch_size=32, num_workers=0):
    """Extract (this process's share, then wait for the others) and load one split's cache."""
    cache = FrameEmbeddingCache(cache_dir, model, processor, clips, training_views, seed)
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    rank, world = (torch.distributed.get_rank(), torch.distributed.get_world_size()) if distributed else (0, 1)
    cache.extract(rank, world, batch_size, num_workers)
    if distributed:
        torch.distributed.barrier()
    return cache.load()
