"""Views of a clip: which frames and which crop one pass of the model sees. This file is the one owner of "a clip
becomes pixels" for training, multi-view testing and the frame cache; the pipeline's own input is its `ClipView()`
(pixel for pixel: a test).

A view is taken in four steps, each with the processor's own settings and transforms (so the two cannot drift):

1. **sample** (`processor.sample_frames`): one frame per equal segment of the clip's time, at `segment_offset` of
   it or at random (`random_segments`);
2. **decode** (`decoding_a3lign.read_sampled_frames`): only the chosen frames, the union of every view's frames in
   one pass;
3. **face crop** (`processor.face_crop`: `processor.crop_face`, which the faces module does), on each view's frames;
4. **cut** (`cut_view`): resize as at inference, one crop for the whole clip (at `crop_position`, or at random with
   `augment`), one flip for the whole clip (`augment` and `flip`), rescale and normalise.
"""

import os
from dataclasses import asdict, dataclass

import numpy as np
import torch
from transformers.video_utils import VideoMetadata

from ..decoding_a3lign import frames_to_uint8_array, read_sampled_frames


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


def sampled_frames(
    processor, clip, views=(ClipView(),), generators=None, num_frames: int | None = None
) -> list[tuple[np.ndarray, list[int]]]:
    """Steps 1-3 for each of `views` of one clip (a video file, a frame folder, or frames in memory in any form the
    processor takes): `(frames (F, H, W, 3) uint8 as shown, before resizing and face-cropped, their indices)` per
    view; `generators[v]` makes view v's random draws; `num_frames` defaults to the processor's."""
    generators = list(generators) if generators is not None else [None] * len(views)
    chosen: list[list[int]] = []

    def choose(metadata: VideoMetadata) -> list[int]:
        for view, generator in zip(views, generators):
            indices = processor.sample_frames(
                metadata,
                num_frames=num_frames,
                training=view.random_segments,
                generator=generator,
                offset=view.segment_offset,
            )
            chosen.append([int(i) for i in indices])
        return sorted({i for indices in chosen for i in indices})

    name = os.fspath(clip) if isinstance(clip, (str, os.PathLike)) else None
    if name is not None:
        choose_by_time = lambda timing: choose(processor.clip_metadata(timing))  # noqa: E731
        frames, indices, _ = read_sampled_frames(name, choose_by_time, processor.frame_folder_fps)
        decoded = dict(zip(indices, frames))
    else:
        array = frames_to_uint8_array(clip)
        choose(VideoMetadata(total_num_frames=len(array), height=array.shape[1], width=array.shape[2]))
        decoded = {i: array[i] for indices in chosen for i in indices}
    views_frames = []
    for picked in chosen:
        frames = np.stack([decoded[i] for i in picked])
        if getattr(processor, "face_crop", False):  # absent from processors saved before face crops existed
            frames = processor.crop_face(frames, picked, name)
        views_frames.append((frames, picked))
    return views_frames


def cut_view(processor, frames: np.ndarray, view: ClipView = ClipView(), generator=None) -> torch.Tensor:
    """Step 4: one view's sampled frames `(F, H, W, 3)` uint8 -> `(F, 3, crop, crop)`, as transformers' `_preprocess`
    does for the pipeline (resize, centre crop, rescale and normalise) with the crop placed by the view. `augment`
    draws the crop's top and left and the flip from `generator`, once for the whole clip: every frame sees the
    same crop and flip, so the motion stays coherent. A flip turns left into right (turn it off when the classes
    are not mirror-symmetric)."""
    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).contiguous()
    if processor.do_resize:
        video = processor.resize(video, size=processor.size, resample=processor.resample)
    crop, (height, width) = processor.crop_size, video.shape[-2:]
    if view.augment:
        top = int(torch.randint(0, max(0, height - crop.height) + 1, (1,), generator=generator))
        left = int(torch.randint(0, max(0, width - crop.width) + 1, (1,), generator=generator))
    else:  # rounded down, as transformers' centre crop places (0.5, 0.5)
        top, left = (
            int(max(0, free) * fraction)
            for free, fraction in (
                (height - crop.height, view.crop_position[0]),
                (width - crop.width, view.crop_position[1]),
            )
        )
    if processor.do_center_crop and (height < crop.height or width < crop.width):
        video = processor.center_crop(video, crop)  # pads, as at inference
    elif processor.do_center_crop:
        video = video[..., top : top + crop.height, left : left + crop.width]
    if view.augment and view.flip and torch.rand(1, generator=generator).item() < 0.5:
        video = video.flip(-1)
    return processor.rescale_and_normalize(
        video,
        processor.do_rescale,
        processor.rescale_factor,
        processor.do_normalize,
        processor.image_mean,
        processor.image_std,
    )


def clip_pixels(
    processor, path, view: ClipView = ClipView(), generator: torch.Generator | None = None
) -> torch.Tensor:
    """Pixels `(F, 3, crop, crop)` of one view of a clip (a video file or a frame folder). Random draws
    (segments, crop, flip) come from `generator`. `ClipView()` gives exactly the pipeline's input."""
    return clip_views(processor, path, [view], [generator])[0]


def clip_views(processor, path, views: list[ClipView], generators=None) -> torch.Tensor:
    """Pixels `(V, F, 3, crop, crop)` of several `views` of one clip, each exactly `clip_pixels(processor, path, view,
    generators[v])`, with the clip decoded **once**: every view's frames are chosen first (each view's random draws
    from its own generator: segments, then crop and flip), their union is decoded in one pass, then each view is
    face-cropped and cut. Multi-view testing (2x2: one decode, not four) and the frame cache's training views (one
    decode per clip, not one per view) read clips this way."""
    generators = list(generators) if generators is not None else [None] * len(views)
    sampled = sampled_frames(processor, path, views, generators)
    return torch.stack(
        [
            cut_view(processor, frames, view, generator)
            for (frames, _), view, generator in zip(sampled, views, generators)
        ]
    )
