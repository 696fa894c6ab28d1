"""`pipeline("video-classification")` for A3lign: one result per clip, whatever form the clips come in.

transformers' video-classification pipeline runs each input item through the processor and keeps the
first clip's scores, so a 5-D batch `(B, F, ...)` would come back as clip 0 only, and a clip given as a
list of frames would be classified frame by frame. This subclass reads its input with the processor's
batching rules first (`make_clip_batch`: a path, a frame folder, a `(T, H, W, C)` array, a list of frames
or one image is ONE clip; a list of clips or a 5-D array is a batch), then hands the base pipeline one
clip per item. A model folder saved by `a3lign` names it in `config.json` (`custom_pipelines`), so
`pipeline("video-classification", model=folder, trust_remote_code=True)` builds it.

Remote code: imports only transformers, numpy, torch and the sibling processor.
"""

import os

import numpy as np
import torch
from transformers.pipelines import VideoClassificationPipeline

from .processing_a3lign import make_clip_batch

# Where this class is found in a saved folder, as `config.custom_pipelines` names it.
CUSTOM_PIPELINES = {
    "video-classification": {
        "impl": "pipeline_a3lign.A3lignVideoClassificationPipeline",
        "pt": ["AutoModelForVideoClassification"],
        "tf": [],
        "type": "video",
    }
}


def is_one_clip(inputs) -> bool:
    """Whether `inputs` is a single clip (one result expected) rather than a batch (a list of results)."""
    if isinstance(inputs, (str, os.PathLike)):
        return True
    if isinstance(inputs, (np.ndarray, torch.Tensor)):
        return inputs.ndim <= 4  # (T, H, W[, C]) frames, or one (H, W, C) image
    if isinstance(inputs, (list, tuple)):
        # A list of frames (images or (H, W[, C]) arrays) is one clip; a list of clips is a batch.
        return len(inputs) > 0 and all(
            not isinstance(item, (str, os.PathLike, list, tuple))
            and not (isinstance(item, (np.ndarray, torch.Tensor)) and item.ndim >= 4)
            for item in inputs
        )
    return True  # one PIL image


class A3lignVideoClassificationPipeline(VideoClassificationPipeline):
    """The video-classification pipeline with the processor's batching rules: one result per clip. A processor
    that does not match the model (another crop or frame count) is refused when the pipeline is built."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.video_processor is not None and hasattr(self.video_processor, "check_matches"):
            self.video_processor.check_matches(self.model.config)

    def __call__(self, inputs=None, **kwargs):
        if inputs is None:
            raise ValueError("no clip given: expected a video path, a frame folder, frames, or a list of clips")
        one = is_one_clip(inputs)
        clips = make_clip_batch(inputs)  # ValueError naming the input for anything unreadable or empty
        results = super().__call__(clips, **kwargs)
        return results[0] if one else results
