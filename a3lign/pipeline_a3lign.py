"""`pipeline("video-classification")` for A3lign: one result per clip, whatever form the clips come in.

transformers' video-classification pipeline runs each input item through the processor and keeps the
first clip's scores, so a 5-D batch `(B, F, ...)` would come back as clip 0 only, and a clip given as a
list of frames would be classified frame by frame. This subclass reads its input with the processor's
batching rules first (`make_clip_batch`: a path, a frame folder, a `(T, H, W, C)` array, a list of frames
or one image is ONE clip; a list of clips or a 5-D array is a batch), then hands the base pipeline one
clip per item. Every model folder (`A3lignModel.save_pretrained`) names it in `config.json` (`custom_pipelines`), so
`pipeline("video-classification", model=folder, trust_remote_code=True)` builds it.

Remote code: imports only transformers, numpy, torch and the sibling configuration and processor.
"""

from transformers.pipelines import VideoClassificationPipeline

# configuration_a3lign says where this class is; imported so a saved folder carries it beside this file.
from .configuration_a3lign import CUSTOM_PIPELINES  # noqa: F401
from .processing_a3lign import is_single_clip, make_clip_batch


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
        one = is_single_clip(inputs)
        clips = make_clip_batch(inputs)  # ValueError naming the input for anything unreadable or empty
        results = super().__call__(clips, **kwargs)
        return results[0] if one else results
