"""Views of a clip: which frames and which crop one pass of the model sees.

One function, `clip_pixels`, turns a clip and a `ClipView` into model input, for training (random
segments, random crop and flip), evaluation and the pipeline (segment centres, centre crop) and multi-view
testing (shifted segments, corner crops: `test_views`). The frame cache stores views made by it.
"""

import copy
import os
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..decoding_a3lign import DEFAULT_FOLDER_FPS, probe_clip, read_sampled_frames


@dataclass(frozen=True)
class ClipView:
    """How one view of a clip is taken. `ClipView()` is the pipeline's input.

    Args:
        random_segments: a random frame of each segment (training) instead of the frame at `segment_offset`.
        segment_offset: where in each segment the frame is taken, in [0, 1) (0.5: its centre).
        augment: one random crop for the whole clip (and a flip, with `flip`) instead of the crop at `crop_position`.
        flip: with `augment`, a horizontal flip of the whole clip with probability 1/2. It assumes classes that
            are mirror-symmetric (faces are); turn it off when left and right matter.
        crop_position: (top, left) of the crop, as fractions of the margins around it ((0.5, 0.5): the centre).
    """

    random_segments: bool = False
    segment_offset: float = 0.5
    augment: bool = False
    flip: bool = True
    crop_position: tuple[float, float] = (0.5, 0.5)

    def describe(self) -> dict:
        return asdict(self)


def training_view(random_segments: bool = True, augment: bool = True, flip: bool = True) -> ClipView:
    """The training view of `a3lign train`'s `--train_random_segments --train_augment --train_flip`."""
    return ClipView(random_segments=random_segments, augment=augment, flip=flip)


def evaluation_views(temporal: int = 1, spatial: int = 1) -> list[ClipView]:
    """`temporal x spatial` fixed views for multi-view testing, as the field's video models report it: the frame
    at `(j + 0.5) / temporal` of each segment, and `spatial` crops spread along the diagonal from the top-left
    to the bottom-right corner (1: the centre crop). `evaluation_views(1, 1)` is the single (pipeline) view."""
    if temporal < 1 or spatial < 1:
        raise ValueError(f"test views {temporal}x{spatial} are invalid: expected at least 1x1")
    offsets = [(j + 0.5) / temporal for j in range(temporal)]
    positions = [0.5] if spatial == 1 else [k / (spatial - 1) for k in range(spatial)]
    return [ClipView(segment_offset=o, crop_position=(p, p)) for o in offsets for p in positions]


def parse_test_views(text: str) -> tuple[int, int]:
    """`"2x2"` -> (2, 2): temporal x spatial views."""
    parts = str(text).lower().split("x")
    if len(parts) != 2 or not all(part.strip().isdigit() and int(part) >= 1 for part in parts):
        raise ValueError(f"test views {text!r} are invalid: expected TEMPORALxSPATIAL, e.g. 1x1 or 2x2")
    return int(parts[0]), int(parts[1])


def multi_views(text: str) -> list[ClipView]:
    """The views of `--test_views TEMPORALxSPATIAL` beyond the single one: none for `1x1`."""
    temporal, spatial = parse_test_views(text)
    return evaluation_views(temporal, spatial) if temporal * spatial > 1 else []


def clip_pixels(
    processor, path, view: ClipView = ClipView(), generator: torch.Generator | None = None
) -> torch.Tensor:
    """Pixels `(F, 3, crop, crop)` of one view of a clip (a video file or a frame folder). Random draws
    (segments, crop, flip) come from `generator`. `ClipView()` gives exactly the pipeline's input."""
    if view == ClipView():
        return processor(os.fspath(path))["pixel_values_videos"][0]
    frames, _ = processor.load_clip(
        path, training=view.random_segments, generator=generator, offset=view.segment_offset
    )
    if view.augment:
        return processor.augment(frames, generator, flip=view.flip)
    return processor.crop_view(frames, view.crop_position)


def clip_views(processor, path, views: list[ClipView], generators=None) -> torch.Tensor:
    """Pixels `(V, F, 3, crop, crop)` of several `views` of one clip, each exactly `clip_pixels(processor, path, view,
    generators[v])`, with the clip decoded **once**: every view's frames are chosen first (random draws from its own
    generator, in the order `clip_pixels` makes them), their union is decoded in one pass, then each view is cut,
    (face-cropped) and normalised. Multi-view testing (2x2: one decode, not four) and the frame cache's training views
    (one decode per clip, not one per view) read clips this way."""
    generators = list(generators) if generators is not None else [None] * len(views)
    info = probe_clip(path, getattr(processor, "frame_folder_fps", DEFAULT_FOLDER_FPS))
    metadata = processor.clip_metadata(info.timing)
    chosen = [
        processor.sample_frames(
            metadata, training=view.random_segments, generator=generator, offset=view.segment_offset
        )
        for view, generator in zip(views, generators)
    ]
    wanted = sorted({int(i) for indices in chosen for i in indices})
    frames, indices, _ = read_sampled_frames(path, lambda timing: wanted, processor.frame_folder_fps)
    decoded = dict(zip(indices, frames))
    plain = copy.copy(processor)
    plain.face_crop = False  # faces are cut here, per view, on each view's own frames (as load_clip cuts them)
    pixels = []
    for view, generator, picked in zip(views, generators, chosen):
        clip = np.stack([decoded[int(i)] for i in picked])
        if processor.face_crop:
            clip = processor.crop_face(clip, picked, os.fspath(path))
        if view == ClipView():
            pixels.append(plain(clip, do_sample_frames=False)["pixel_values_videos"][0])
            continue
        tensor = torch.from_numpy(np.ascontiguousarray(clip)).permute(0, 3, 1, 2).contiguous()
        pixels.append(
            processor.augment(tensor, generator, flip=view.flip)
            if view.augment
            else processor.crop_view(tensor, view.crop_position)
        )
    return torch.stack(pixels)
