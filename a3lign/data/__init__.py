"""Datasets: readers of DFEW / FERV39k / MAFW / annotation lists / CSVs / folder trees, validation
reports, the torch dataset that decodes clips in DataLoader workers, and the synthetic dataset."""

from .clips import Clip, ClipDataset, ListedClip, SplitReport
from .readers import DATASET_NAMES, FIVE_FOLD, MAFW_LABELS, load_split
from .synthetic import render_clip, synthesize

__all__ = [
    "Clip", "ClipDataset", "ListedClip", "SplitReport", "DATASET_NAMES", "FIVE_FOLD", "MAFW_LABELS",
    "load_split", "render_clip", "synthesize",
]
