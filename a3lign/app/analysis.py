"""What the browser demo shows for one video, computed without the browser: the clip's top emotions (the pipeline,
as `a3lign predict` gives them), the face the processor cuts around, and the emotion timeline with its picture.

`Analyzer` loads a saved model folder once; calling it on a video returns an `Analysis`. The Gradio page
(`interface.py`) only lays these out, so everything the page shows is tested here as plain Python.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from transformers import AutoVideoProcessor, pipeline

from ..decoding_a3lign import FrameTiming, read_clip_frames
from ..faces_a3lign import track_faces
from ..predict import Timeline, format_summary, frame_grid, plot_timeline, predict_timeline
from ..predict.tower import use_tower

FACE_BOX_COLOUR = (46, 204, 64)
OUTSIDE_FRAME = (128, 128, 128)


@dataclass
class Analysis:
    """One video's results. `top`: class -> probability for the whole clip (largest first); `face`: the middle
    sampled frame, `(H, W, 3)` uint8, with the square the processor crops drawn on it where that frame shows the face
    (`Analyzer.face_preview`); `face_box`: that square's corners `(4, 2)` in the frame's pixels, None where the frame
    shows no face or face crops are off (`face_crop` False); `face_in_clip`: whether a face was found in any sampled
    frame (False with face crops off); `plot`: the timeline PNG."""

    top: dict[str, float]
    face: np.ndarray
    face_box: np.ndarray | None
    face_in_clip: bool
    face_crop: bool | str
    timeline: Timeline
    plot: Path
    summary: str


class Analyzer:
    """A saved model folder (model + processor, `a3lign.train.run.save_model_folder`) ready for videos.

    `face_crop`: None keeps the folder's processor setting; True / False / "strict" override it (raw footage, a
    webcam recording: True). `window` / `stride`: the timeline's, in seconds (`a3lign predict --timeline`); `tower`:
    the vision tower (`a3lign.predict.tower`)."""

    def __init__(
        self,
        model_folder,
        face_crop: bool | str | None = None,
        window: float = 2.0,
        stride: float = 0.5,
        tower: str = "transformers",
    ):
        overrides = {} if face_crop is None else {"face_crop": face_crop}
        self.processor = AutoVideoProcessor.from_pretrained(model_folder, trust_remote_code=True, **overrides)
        self.classify = pipeline(
            "video-classification", model=str(model_folder), video_processor=self.processor, trust_remote_code=True
        )
        self.model = use_tower(self.classify.model.eval(), tower)
        self.processor.check_matches(self.model.config)
        # A bad window or stride: now, not per video.
        frame_grid(FrameTiming.constant(1000, 25.0), self.model.config.num_frames, window, stride)
        self.window, self.stride = window, stride
        self.labels = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]

    def face_preview(self, video) -> tuple[np.ndarray, np.ndarray | None, bool]:
        """The middle of the clip's sampled frames with the square the processor crops drawn on it, that square's
        corners `(4, 2)` in the frame's pixels (only where the faces module says the frame truly shows the face; None:
        no face in that frame, or face crops off), and whether any sampled frame shows a face. Where the square leaves
        the frame, the picture grows to hold it, grey outside the frame (the processor fills that part black)."""
        frames, indices, _ = read_clip_frames(
            video, self.model.config.num_frames, folder_fps=self.processor.frame_folder_fps
        )
        middle = len(indices) // 2
        if not self.processor.face_crop:
            return frames[middle], None, False
        placement = track_faces(frames, indices, self.processor.face_detector).place(
            indices, self.processor.face_margin
        )
        if not placement.present[middle]:
            return frames[middle], None, placement.found
        corners = placement.corners(middle)
        height, width = frames.shape[1:3]
        x0, y0 = (min(0, math.floor(v)) for v in corners.min(axis=0))
        x1, y1 = (max(size, math.ceil(v) + 1) for v, size in zip(corners.max(axis=0), (width, height)))
        canvas = Image.new("RGB", (x1 - x0, y1 - y0), OUTSIDE_FRAME)
        canvas.paste(Image.fromarray(frames[middle]), (-x0, -y0))
        line = max(2, round(min(canvas.size) / 120))
        ImageDraw.Draw(canvas).polygon([(x - x0, y - y0) for x, y in corners], outline=FACE_BOX_COLOUR, width=line)
        return np.asarray(canvas), corners, True

    def __call__(self, video, output_dir) -> Analysis:
        """Analyse `video` (a file or a frame folder); the timeline picture goes to `output_dir`. A video that cannot
        be read raises `ValueError` / `FileNotFoundError` naming it."""
        results = self.classify(str(video), top_k=len(self.labels))
        top = {result["label"]: float(result["score"]) for result in results}
        face, box, in_clip = self.face_preview(video)
        timeline = predict_timeline(self.model, self.processor, video, self.window, self.stride, progress=False)
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        plot = plot_timeline(timeline, output_dir / f"{Path(video).name.rsplit('.', 1)[0]}_timeline.png")
        return Analysis(
            top=top,
            face=face,
            face_box=box,
            face_in_clip=in_clip,
            face_crop=self.processor.face_crop,
            timeline=timeline,
            plot=plot,
            summary=format_summary(timeline),
        )


__all__ = ["Analysis", "Analyzer"]
