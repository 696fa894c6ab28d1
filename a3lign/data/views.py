"""Views of a clip: which frames and which crop one pass of the model sees.

One function, `clip_pixels`, turns a clip and a `ClipView` into model input, for training (random
segments, random crop and flip), evaluation and the pipeline (segment centres, centre crop) and multi-view
testing (shifted segments, corner crops: `test_views`). The frame cache stores views made by it.
"""

import os
from dataclasses import asdict, dataclass

import torch


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


def clip_pixels(processor, path, view: ClipView = ClipView(), generator: torch.Generator | None = None) -> torch.Tensor:
    """Pixels `(F, 3, crop, crop)` of one view of a clip (a video file or a frame folder). Random draws
    (segments, crop, flip) come from `generator`. `ClipView()` gives exactly the pipeline's input."""
    if view == ClipView():
        return processor(os.fspath(path))["pixel_values_videos"][0]
    frames, _ = processor.load_clip(path, training=view.random_segments, generator=generator, offset=view.segment_offset)
    if view.augment:
        return processor.augment(frames, generator, flip=view.flip)
    return processor.crop_view(frames, view.crop_position)


def clip_views(processor, path, views: list[ClipView]) -> torch.Tensor:
    """Pixels `(V, F, 3, crop, crop)` of fixed `views` of one clip, each exactly `clip_pixels(processor, path, view)`,
    with the clip decoded once per temporal sampling (multi-view testing: 2 decodes for 2x2 views, not 4)."""
    decoded = {}
    pixels = []
    for view in views:
        if view == ClipView() or view.random_segments or view.augment:  # the pipeline's own path, or random draws
            pixels.append(clip_pixels(processor, path, view))
            continue
        if view.segment_offset not in decoded:
            decoded[view.segment_offset] = processor.load_clip(path, offset=view.segment_offset)[0]
        pixels.append(processor.crop_view(decoded[view.segment_offset], view.crop_position))
    return torch.stack(pixels)
