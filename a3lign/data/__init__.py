"""Datasets: readers of DFEW / FERV39k / MAFW / annotation lists / CSVs / folder trees, the one label policy,
validation reports, the dataset flags every command shares, the torch dataset that decodes clips in
DataLoader workers (substituting and recording clips that fail), and the synthetic dataset. Imports the remote code
(decoding), never training."""

from .arguments import DatasetArguments
from .clips import (
    Clip,
    ClipDataset,
    DecodeFailures,
    ListedClip,
    SplitReport,
    check_decoding,
    pixels_or_substitute,
    report_overlap,
)
from .labels import DFEW_LABELS, MAFW_LABELS, ClassSet
from .readers import DATASET_NAMES, FIVE_FOLD, FOLDS, load_split
from .synthetic import render_clip, synthesize
from .views import (
    ClipView,
    clip_pixels,
    clip_views,
    cut_view,
    evaluation_views,
    multi_views,
    parse_test_views,
    sampled_frames,
    training_view,
)

__all__ = [
    "Clip",
    "ClassSet",
    "ClipDataset",
    "DecodeFailures",
    "ListedClip",
    "SplitReport",
    "DatasetArguments",
    "check_decoding",
    "pixels_or_substitute",
    "report_overlap",
    "DATASET_NAMES",
    "FIVE_FOLD",
    "FOLDS",
    "DFEW_LABELS",
    "MAFW_LABELS",
    "ClipView",
    "clip_pixels",
    "clip_views",
    "cut_view",
    "sampled_frames",
    "load_split",
    "parse_test_views",
    "render_clip",
    "synthesize",
    "evaluation_views",
    "multi_views",
    "training_view",
]
