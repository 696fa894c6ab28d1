"""A3lignVideoProcessor: any clip -> `pixel_values_videos (B, F, 3, crop, crop)`, as training saw it.

Inputs: a path to a video file (mp4, avi, webm, mkv, mov, ...), a folder of frame images, an array or
tensor of frames, a list of PIL images, or a list of any of these (a batch). Frames are sampled one per
equal segment (centres at inference), resized (shortest edge 120), centre-cropped (112), scaled and
normalised with CLIP's mean and std. `augment` is the training-time counterpart (random crop, flip),
with one draw of its random parameters per clip.

Remote code: imports only torch, transformers and its siblings.
"""

import os

import numpy as np
import torch
from PIL import Image
from transformers import BaseVideoProcessor
from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, PILImageResampling
from transformers.video_utils import VideoMetadata

from .decoding_a3lign import frames_to_uint8_array, read_clip_frames, sample_segment_indices

# The paper resizes to 120 and crops 112: keep that ratio for other crop sizes.
RESIZE_OVER_CROP = 120 / 112


def _describe(item) -> str:
    if isinstance(item, (str, os.PathLike)):
        return f"'{item}'"
    return f"a {type(item).__name__}"


class A3lignVideoProcessor(BaseVideoProcessor):
    r"""Video processor of [`A3lignModel`].

    Class attributes are the defaults (the paper's 120 / 112 px, 16 frames, CLIP normalisation); every
    one is a constructor argument too, saved in `video_preprocessor_config.json`.
    """

    resample = PILImageResampling.BICUBIC
    image_mean = OPENAI_CLIP_MEAN
    image_std = OPENAI_CLIP_STD
    size = {"shortest_edge": 120}
    crop_size = {"height": 112, "width": 112}
    default_to_square = False
    do_resize = True
    do_center_crop = True
    do_rescale = True
    rescale_factor = 1 / 255
    do_normalize = True
    do_convert_rgb = True
    do_sample_frames = True
    num_frames = 16
    model_input_names = ["pixel_values_videos"]

    @classmethod
    def from_model_config(cls, config, **overrides) -> "A3lignVideoProcessor":
        """The processor matching a model config: crop = `image_size`, frames = `num_frames`."""
        crop = config.image_size
        values = dict(
            num_frames=config.num_frames,
            crop_size={"height": crop, "width": crop},
            size={"shortest_edge": round(crop * RESIZE_OVER_CROP)},
        )
        values.update(overrides)
        return cls(**values)

    def check_matches(self, config) -> None:
        """Raise `ValueError` if this processor would feed a model with `config` other frames than it expects."""
        crop = (self.crop_size.height, self.crop_size.width)  # a SizeDict once constructed
        if crop != (config.image_size, config.image_size) or self.num_frames != config.num_frames:
            raise ValueError(
                f"video processor (crop {crop}, {self.num_frames} frames) does not match the model "
                f"(image_size {config.image_size}, num_frames {config.num_frames})"
            )

    # ----- decoding and sampling (the stock path needs torchcodec; we decode with PyAV) ----------
    def load_clip(
        self, clip, num_frames: int | None = None, training: bool = False, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, VideoMetadata]:
        """Sample one clip: `(num_frames, 3, H, W)` uint8 RGB frames and their metadata (`frames_indices`)."""
        num_frames = num_frames or self.num_frames
        if isinstance(clip, (str, os.PathLike)):
            frames, indices, total = read_clip_frames(clip, num_frames, training, generator)
        else:
            array = frames_to_uint8_array(clip)
            total = array.shape[0]
            indices = sample_segment_indices(total, num_frames, training, generator)
            frames = array[indices]
        video = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()
        metadata = VideoMetadata(
            total_num_frames=total, height=video.shape[2], width=video.shape[3], video_backend="pyav",
            frames_indices=indices,
        )
        return video, metadata

    @staticmethod
    def _as_batch(videos) -> list:
        """A single clip or a batch of clips -> a list of clips."""
        if isinstance(videos, (str, os.PathLike)):
            return [videos]
        if isinstance(videos, (np.ndarray, torch.Tensor)):
            return list(videos) if videos.ndim == 5 else [videos]
        if isinstance(videos, Image.Image):
            return [[videos]]
        if isinstance(videos, (list, tuple)):
            if videos and all(isinstance(v, Image.Image) for v in videos):
                return [list(videos)]  # one clip given as its images
            return list(videos)
        raise ValueError(f"cannot read a clip from {type(videos).__name__}: expected a path, frames or a list of them")

    def _decode_and_sample_videos(self, videos, video_metadata=None, do_sample_frames=None, sample_indices_fn=None):
        num_frames = None
        if sample_indices_fn is not None:  # the stock preprocess binds num_frames into this partial
            num_frames = sample_indices_fn.keywords.get("num_frames")
        batch = self._as_batch(videos)
        clips, metadata = [], []
        for position, item in enumerate(batch):
            try:
                if do_sample_frames is False:
                    frames = torch.from_numpy(frames_to_uint8_array(item)).permute(0, 3, 1, 2).contiguous()
                    meta = VideoMetadata(total_num_frames=frames.shape[0], frames_indices=list(range(frames.shape[0])))
                else:
                    frames, meta = self.load_clip(item, num_frames)
            except (FileNotFoundError, ValueError) as error:
                if len(batch) == 1:
                    raise
                raise type(error)(f"batch item {position} ({_describe(item)}): {error}") from error
            clips.append(frames)
            metadata.append(meta)
        return clips, metadata

    def _prepare_input_videos(self, videos, do_convert_rgb=None, input_data_format=None, device=None):
        # Already RGB, channels first, uint8.
        return [video.to(device) if device is not None else video for video in videos]

    def preprocess(self, videos, **kwargs):
        kwargs.setdefault("return_tensors", "pt")
        return super().preprocess(videos, **kwargs)

    # ----- training-time augmentation --------------------------------------------------------------
    def augment(self, video: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Training view of one sampled clip: `(F, 3, H, W)` uint8 -> `(F, 3, crop, crop)` normalised.

        Resize as at inference, then one random crop and one coin flip for the whole clip, so that
        every frame of a clip sees the same crop and the same flip (the motion stays coherent).
        """
        crop = self.crop_size
        video = self.resize(video, size=self.size, resample=self.resample)
        height, width = video.shape[-2:]
        if height < crop.height or width < crop.width:
            video = self.center_crop(video, crop)  # pads, as at inference
        else:
            top = int(torch.randint(0, height - crop.height + 1, (1,), generator=generator))
            left = int(torch.randint(0, width - crop.width + 1, (1,), generator=generator))
            video = video[..., top : top + crop.height, left : left + crop.width]
        if torch.rand(1, generator=generator).item() < 0.5:
            video = video.flip(-1)
        return self.rescale_and_normalize(
            video, self.do_rescale, self.rescale_factor, self.do_normalize, self.image_mean, self.image_std
        )


A3lignVideoProcessor.register_for_auto_class()

__all__ = ["A3lignVideoProcessor"]
