"""A3lignVideoProcessor: any clip -> `pixel_values_videos (B, F, 3, crop, crop)`, as training saw it.

Inputs follow transformers' batching rules (`make_batched_videos`). One clip: a path to a video file (mp4,
avi, webm, mkv, mov, ...) or to a folder of frame images; a `(T, H, W, C)`, `(T, C, H, W)` or `(T, H, W)`
array or tensor; a list of frames (PIL images or `(H, W, C)` arrays); one image. A batch: a list of clips,
or a 5-D `(B, T, H, W, C)` / `(B, T, C, H, W)` array or tensor. Frames are sampled one per equal segment of
the clip's time (`sample_frames`: segment centres), resized (shortest edge 120), centre-cropped (112), scaled
and normalised with CLIP's mean and std. Training's views (random segments, crops, flips)
and multi-view testing take the same steps with these settings in `a3lign.data.views`.

Files are decoded with PyAV as a player shows them (`fetch_videos`, sibling `decoding_a3lign`: the main video
stream, upright, square pixels, timed by their timestamps; transformers' own decoder needs torchcodec), only the
sampled frames; a frame folder's frames are `frame_folder_fps` apart.

`face_crop=True` (raw footage) cuts every sampled frame around its shot's main face before resizing, eyes level
(sibling `faces_a3lign`: OpenCV and MTCNN); frames where the face is gone are counted and warned about; a clip
without any face keeps the centre crop, with a warning, counted in `face_crop_counts`; `face_crop="strict"`
raises instead.

Remote code: imports only torch, transformers (numpy, PIL) and its sibling decoding and faces files (OpenCV and
MTCNN only inside `try`, so a folder loads without them).
"""

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from PIL import Image
from transformers import BaseVideoProcessor, BatchFeature
from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, ChannelDimension, PILImageResampling
from transformers.video_utils import VideoMetadata, make_batched_videos

from .configuration_a3lign import A3lignConfig
from .decoding_a3lign import (
    DEFAULT_FOLDER_FPS,
    FrameTiming,
    check_folder_fps,
    frames_to_uint8_array,
    read_sampled_frames,
    sample_segment_indices,
)
from .faces_a3lign import DEFAULT_DETECTOR, OPENCV_MISSING, check_detector, face_crops, opencv_available

logger = logging.getLogger(__name__)

# The paper resizes to 120 and crops 112: keep that ratio for other crop sizes.
RESIZE_OVER_CROP = 120 / 112
# face_crop's values: off, on with the centre crop where no face is found, on with an error there.
FACE_CROP_MODES = (False, True, "strict")
# Settings of this processor beyond transformers' own (constructor and saved config only, never per call).
OWN_SETTINGS = ("face_crop", "face_margin", "face_detector", "frame_folder_fps")
# What one input item may be (anything else would be dropped silently by the batching rules).
READABLE = (str, os.PathLike, np.ndarray, torch.Tensor, Image.Image, list, tuple)


@dataclass
class A3lignVideoMetadata(VideoMetadata):
    """transformers' video metadata plus when each frame is shown (`timing`), so that sampling follows time."""

    timing: FrameTiming | None = None


def _describe(item) -> str:
    if isinstance(item, (str, os.PathLike)):
        return f"'{item}'"
    return f"a {type(item).__name__}"


@contextmanager
def _batch_item(position: int, item, batch_size: int):
    """Errors raised inside name the batch item they come from (a batch of one needs no name)."""
    try:
        yield
    except (FileNotFoundError, ValueError) as error:
        if batch_size == 1:
            raise
        raise type(error)(f"batch item {position} ({_describe(item)}): {error}") from error


def _readable(item):
    """An input item in the form the batching rules read as meant: a path as a string, images as one
    `(T, H, W, 3)` clip (any PIL mode, sizes checked), gray frames with their channel axis."""
    if isinstance(item, os.PathLike):
        return os.fspath(item)
    if isinstance(item, Image.Image):
        item = [item]
    if isinstance(item, (list, tuple)) and item and all(isinstance(frame, Image.Image) for frame in item):
        return frames_to_uint8_array(item)
    if isinstance(item, (np.ndarray, torch.Tensor)) and item.ndim == 3 and item.shape[-1] not in (1, 3, 4):
        if item.shape[0] in (1, 3):  # one channels-first (C, H, W) image, transformers' convention
            return item.permute(1, 2, 0) if isinstance(item, torch.Tensor) else item.transpose(1, 2, 0)
        return item[..., None]  # (T, H, W) gray frames
    if isinstance(item, (np.ndarray, torch.Tensor)) and item.ndim == 2:
        return item[..., None]  # one (H, W) gray image
    return item


def is_single_clip(videos) -> bool:
    """Whether `videos` is one clip (one result expected) rather than a batch, by the rules `make_clip_batch`
    reads it with: a path, an array of at most 4 dimensions, a list of frames or one image is one clip; a list
    of clips or a 5-D array is a batch."""
    if isinstance(videos, (np.ndarray, torch.Tensor)):
        return videos.ndim <= 4
    if isinstance(videos, (list, tuple)):
        if videos and all(isinstance(item, Image.Image) for item in videos):
            return True  # one clip given as its images
        items = [_readable(item) for item in videos]
        return bool(items) and all(isinstance(item, (np.ndarray, torch.Tensor)) and item.ndim <= 3 for item in items)
    return True  # a path or one image


def make_clip_batch(videos) -> list:
    """Any accepted input -> a list of clips, each a path string or `(T, H, W, 3)` uint8 RGB frames.
    transformers' `make_batched_videos` decides what is one clip and what is a batch."""
    items = videos if isinstance(videos, (list, tuple)) else [videos]
    if not items:
        raise ValueError("no clip given: expected a clip or a non-empty list of clips")
    for position, item in enumerate(items):
        if not isinstance(item, READABLE):
            message = f"cannot read a clip from {type(item).__name__}: expected a path, frames or a list of them"
            raise ValueError(f"batch item {position}: {message}" if isinstance(videos, (list, tuple)) else message)
    videos = _readable(videos)
    if isinstance(videos, (list, tuple)):
        videos = [_readable(item) for item in videos]
    batch = make_batched_videos(videos)
    clips = []
    for position, clip in enumerate(batch):
        with _batch_item(position, clip, len(batch)):
            clips.append(clip if isinstance(clip, str) else frames_to_uint8_array(clip))
    return clips


def _concatenate(values: list):
    """One batch from the outputs of several `preprocess` calls."""
    if isinstance(values[0], torch.Tensor):
        return torch.cat(values)
    if isinstance(values[0], np.ndarray):
        return np.concatenate(values)
    return [value for part in values for value in part]


class A3lignVideoProcessor(BaseVideoProcessor):
    r"""Video processor of [`A3lignModel`].

    Class attributes are the defaults (the paper's 120 / 112 px, 16 frames, CLIP normalisation); every
    one is a constructor argument too, saved in `video_preprocessor_config.json`, as are:

    Args:
        face_crop (`bool` or `"strict"`, *optional*, defaults to `False`):
            Crop every sampled frame around the clip's main face before resizing (raw footage; needs OpenCV:
            `pip install a3lign[faces]`). Where no face is found: `True` keeps the frames whole (the centre crop)
            with a warning, counted in `face_crop_counts`; `"strict"` raises a `ValueError` naming the clip.
        face_margin (`float`, *optional*, defaults to 0.25):
            Margin added on each side of the face box, as a fraction of its side (0.25: a square 1.5 faces wide).
        face_detector (`str`, *optional*, defaults to `"mtcnn"`):
            The face detector of `face_crop`: `"mtcnn"` (boxes and eye landmarks: crops are turned eyes level) or
            `"haar"` (OpenCV's cascades, upright frontal and profile faces only, no landmarks: crops stay upright).
        frame_folder_fps (`float`, *optional*, defaults to 25):
            Frames per second of clips given as frame folders, which state none (videos are timed by their own
            timestamps). Sampling is by time either way; the rate sets the seconds that timelines report.
    """

    resample = PILImageResampling.BICUBIC
    image_mean = OPENAI_CLIP_MEAN
    image_std = OPENAI_CLIP_STD
    size = {"shortest_edge": 120}
    crop_size = {"height": A3lignConfig.image_size, "width": A3lignConfig.image_size}  # the model's defaults
    default_to_square = False
    do_resize = True
    do_center_crop = True
    do_rescale = True
    rescale_factor = 1 / 255
    do_normalize = True
    do_convert_rgb = True
    do_sample_frames = True
    num_frames = A3lignConfig.num_frames
    model_input_names = ["pixel_values_videos"]

    def __init__(
        self,
        face_crop: bool | str = False,
        face_margin: float = 0.25,
        face_detector: str = DEFAULT_DETECTOR,
        frame_folder_fps: float = DEFAULT_FOLDER_FPS,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if face_crop not in FACE_CROP_MODES or isinstance(face_crop, (int, float)) and not isinstance(face_crop, bool):
            raise ValueError(
                f"face_crop={face_crop!r} is invalid: expected False, True (centre crop where no face is "
                f"found) or 'strict' (an error where no face is found)"
            )
        if isinstance(face_margin, bool) or not isinstance(face_margin, (int, float)) or not 0 <= face_margin <= 10:
            raise ValueError(
                f"face_margin={face_margin!r} is invalid: expected a fraction of the face's side in [0, 10], e.g. 0.25"
            )
        if face_crop and not opencv_available(face_detector):
            raise ImportError(OPENCV_MISSING)
        self.face_crop = face_crop
        self.face_margin = float(face_margin)
        self.face_detector = check_detector(face_detector)
        self.frame_folder_fps = check_folder_fps(frame_folder_fps)
        self._face_crop_counts = {"clips": 0, "no_face": 0, "frames": 0, "frames_without_face": 0}

    @classmethod
    def from_dict(cls, video_processor_dict: dict, **kwargs) -> "A3lignVideoProcessor":
        # `from_pretrained(folder, face_crop=True)`: through the constructor, validated (transformers would only
        # setattr keys it does not know).
        settings = {key: kwargs.pop(key) for key in OWN_SETTINGS if key in kwargs}
        return super().from_dict({**video_processor_dict, **settings}, **kwargs)

    @property
    def face_crop_counts(self) -> dict[str, int]:
        """Clips face-cropped by this processor in this process, and how many of them had no face."""
        return dict(self._face_crop_counts)

    def to_dict(self) -> dict:
        output = super().to_dict()
        output.pop("_face_crop_counts", None)  # a tally of this process, not a setting
        return output

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

    # ----- transformers' public hooks ----------------------------------------------------------------
    def preprocess(self, videos, **kwargs) -> BatchFeature:
        """Clips -> `pixel_values_videos (B, F, 3, crop, crop)` (see the module docstring for the inputs)."""
        given = [key for key in OWN_SETTINGS if key in kwargs]
        if given:  # transformers would ignore them, with a warning
            raise ValueError(
                f"{', '.join(given)} cannot be given per call: set it on the processor, "
                f"A3lignVideoProcessor({given[0]}=...) or from_pretrained(folder, {given[0]}=...)"
            )
        kwargs.setdefault("return_tensors", "pt")
        kwargs["input_data_format"] = ChannelDimension.LAST  # every in-memory clip is (T, H, W, 3) by now
        clips = make_clip_batch(videos)
        if self.face_crop:  # before transformers' transform: sampled frames cut around the face
            clips = self._faces_cut(clips, kwargs)
        if len({isinstance(clip, str) for clip in clips}) == 1:
            return super().preprocess(clips, **kwargs)
        # transformers decodes a batch as files or as frames, judging by its first item: a batch that mixes
        # both goes one clip at a time.
        outputs = []
        for position, clip in enumerate(clips):
            with _batch_item(position, clip, len(clips)):
                outputs.append(super().preprocess([clip], **kwargs))
        return BatchFeature({key: _concatenate([output[key] for output in outputs]) for key in outputs[0]})

    def sample_frames(
        self,
        metadata: VideoMetadata,
        num_frames: int | None = None,
        fps: float | None = None,
        training: bool = False,
        generator: torch.Generator | None = None,
        offset: float = 0.5,
        **kwargs,
    ) -> list[int]:
        """Indices of the frames to keep: one per equal segment of the clip's time (`metadata.timing`, when the
        clip was read from a file), at `offset` of it (0.5: its centre; `training`: a random frame of it, drawn
        from `generator`). A clip shorter than `num_frames` is played once and padded by repeating its last
        frame; repeated indices are kept (transformers' own sampler rejects short clips)."""
        if fps is not None:
            raise ValueError(f"fps={fps} is not supported: A3lign samples num_frames segments of each clip")
        return sample_segment_indices(
            metadata.total_num_frames,
            num_frames or self.num_frames,
            training,
            generator,
            offset,
            timing=getattr(metadata, "timing", None),
        )

    def _faces_cut(self, clips: list, kwargs: dict) -> list:
        """`face_crop`: each clip's frames sampled (files decoded by `fetch_videos`, only those frames) and cut around
        its faces (`crop_face`), handed on with `do_sample_frames=False` and their metadata, so that transformers'
        transform follows unchanged."""
        sampling = kwargs.get("do_sample_frames")
        sample = partial(self.sample_frames, num_frames=kwargs.get("num_frames"), fps=kwargs.get("fps"))
        cut, metadata = [], []
        for position, clip in enumerate(clips):
            with _batch_item(position, clip, len(clips)):
                if isinstance(clip, str):
                    frames, meta = self.fetch_videos(clip, sample if sampling is not False else None)
                else:
                    frames = clip
                    meta = VideoMetadata(total_num_frames=len(frames), height=frames.shape[1], width=frames.shape[2])
                    meta.frames_indices = sample(meta) if sampling is not False else list(range(len(frames)))
                    frames = frames[meta.frames_indices]
                cut.append(self.crop_face(frames, meta.frames_indices, clip if isinstance(clip, str) else None))
                metadata.append(meta)
        kwargs.update(do_sample_frames=False, video_metadata=metadata)
        return cut

    def crop_face(self, frames: np.ndarray, indices=None, name: str | None = None) -> np.ndarray:
        """One sampled clip's frames `(T, H, W, 3)` uint8 at frame `indices` (default `0..T-1`) cut around its faces:
        `(T, side, side, 3)` (`faces_a3lign.face_crops`: shots, main face per shot, eyes level). Frames where the face
        is gone are counted (`face_crop_counts["frames_without_face"]`) and warned about. Without any face: the frames
        unchanged, warned and counted (`face_crop=True`), or a `ValueError` naming the clip (`"strict"`)."""
        indices = list(range(len(frames))) if indices is None else [int(i) for i in indices]
        crops, placement = face_crops(frames, indices, self.face_margin, self.face_detector)
        counts = self._face_crop_counts
        counts["clips"] += 1
        what = f"'{name}'" if name else f"an in-memory clip of {len(frames)} frames"
        if crops is not None:
            missing = int((~placement.present).sum())
            counts["frames"] += len(frames)
            counts["frames_without_face"] += missing
            if missing:
                logger.warning(
                    "the face is gone from %d of the %d sampled frames of %s (it left the frame or a shot "
                    "shows no face): those frames are cut where the face was last seen",
                    missing,
                    len(frames),
                    what,
                )
            return crops
        if self.face_crop == "strict":
            raise ValueError(
                f"no face found in {what} (face_crop='strict'): no face of at least a twentieth of the "
                f"frame's shorter side in its sampled frames"
            )
        counts["no_face"] += 1
        logger.warning(
            "no face found in %s: centre crop used (face_crop=True; %d of %d clips without a face so far)",
            what,
            counts["no_face"],
            counts["clips"],
        )
        return frames

    def fetch_videos(self, video_url_or_urls, sample_indices_fn=None):
        """Decode video files (PyAV) and frame folders, keeping only the frames `sample_indices_fn` picks
        (every frame without it). One path -> `(frames (F, H, W, 3) uint8, VideoMetadata)`; a list of paths
        -> `(list of frames, list of metadata)`."""
        if isinstance(video_url_or_urls, (list, tuple)):
            decoded = []
            for position, path in enumerate(video_url_or_urls):
                with _batch_item(position, path, len(video_url_or_urls)):
                    decoded.append(self.fetch_videos(path, sample_indices_fn))
            return [frames for frames, _ in decoded], [metadata for _, metadata in decoded]

        def choose(timing: FrameTiming):
            if sample_indices_fn is None:
                return range(timing.num_frames)
            return sample_indices_fn(metadata=self.clip_metadata(timing))

        frames, indices, info = read_sampled_frames(video_url_or_urls, choose, self.frame_folder_fps)
        metadata = self.clip_metadata(
            info.timing, height=frames.shape[1], width=frames.shape[2], frames_indices=indices
        )
        return frames, metadata

    @staticmethod
    def clip_metadata(timing: FrameTiming, **values) -> A3lignVideoMetadata:
        """The metadata `sample_frames` reads of a clip shown at `timing` (its frame count, rate, length and
        timing)."""
        return A3lignVideoMetadata(
            total_num_frames=timing.num_frames,
            fps=timing.rate,
            duration=timing.duration,
            video_backend="pyav",
            timing=timing,
            **values,
        )


A3lignVideoProcessor.register_for_auto_class()

__all__ = ["A3lignVideoProcessor"]
