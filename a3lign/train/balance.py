"""Rare classes: the class prior of a train split, logit adjustment and class-balanced sampling (`--class_balance`).

UAR, the field's headline metric, weighs every class alike, while DFEW's Disgust is about 1% of its clips and MAFW's
rarest classes rarer still; plain cross-entropy learns the prior along with the classes. Two remedies, both on the
training side only (inference is unchanged):

- `logit_adjustment` (Menon et al., "Long-tail learning via logit adjustment", ICLR 2021): training logits plus
  `tau * log(prior)` before the cross-entropy, so that the model's own logits come out balanced;
- `balanced_sampling`: each training draw picks a class uniformly, then a clip of it (with replacement): as many
  draws an epoch as the split has clips, the same sequence on every process (seeded by the run's seed and the epoch;
  `accelerate` then deals it out, so DDP ranks see disjoint batches), any dataset (decoded clips or the frame cache).
"""

import math

import torch
import torch.nn.functional as F

CLASS_BALANCE = ("none", "logit_adjustment", "balanced_sampling")


def class_prior(labels, num_classes: int) -> list[float]:
    """The share of each class among a split's `labels` (indices), `(num_classes,)`; a class without clips gets 0."""
    counts = torch.bincount(torch.as_tensor(list(labels), dtype=torch.long), minlength=num_classes)[:num_classes]
    return (counts.double() / max(1, int(counts.sum()))).tolist()


def logit_adjusted_loss(logits: torch.Tensor, labels: torch.Tensor, prior, tau: float) -> torch.Tensor:
    """Cross-entropy of `logits (B, C) + tau * log(prior)` (a class absent from the prior stays at its logit minus a
    large constant, so it is never the answer the loss pushes for)."""
    log_prior = torch.as_tensor(prior, dtype=torch.float32, device=logits.device).clamp_min(1e-12).log()
    return F.cross_entropy(logits.float() + tau * log_prior, labels.to(logits.device))


class ClassBalancedSampler(torch.utils.data.Sampler):
    """Indices of a dataset whose items have `labels`: each draw a class uniformly among those present, then one of
    its items uniformly, `len(labels)` draws an epoch (with replacement). Deterministic given `seed` and the epoch
    (`set_epoch`, which the Trainer calls), so every process draws the same sequence."""

    def __init__(self, labels, seed: int = 0):
        self.labels = torch.as_tensor(list(labels), dtype=torch.long)
        if not len(self.labels):
            raise ValueError("class-balanced sampling needs a non-empty train split")
        self.members = [torch.nonzero(self.labels == c).flatten() for c in torch.unique(self.labels).tolist()]
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.labels)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        classes = torch.randint(len(self.members), (len(self.labels),), generator=generator)
        picks = torch.rand(len(self.labels), generator=generator)
        for cls, pick in zip(classes.tolist(), picks.tolist()):
            members = self.members[cls]
            yield int(members[min(len(members) - 1, math.floor(pick * len(members)))])


__all__ = ["CLASS_BALANCE", "class_prior", "logit_adjusted_loss", "ClassBalancedSampler"]
