"""The browser demo's page (Gradio): a video in (upload or webcam), the detected face, the top emotions and the
emotion timeline out. `build_app` lays out what `Analyzer` computes; the API endpoint is `/analyse`.

The page asks nothing of the internet: the theme uses the system's fonts (Gradio's default fetches Google
Fonts), and Gradio's usage analytics are off unless `GRADIO_ANALYTICS_ENABLED` is set.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from .analysis import Analyzer  # noqa: E402

THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
INTRO = """# A3lign-DFER: emotions in a face video
Upload a video or record one with your webcam, then press **Analyse**. The model classifies the whole clip
(top emotions), shows the face it looks at, and slides a {window:g} s window every {stride:g} s over the video
(the timeline). Emotion recognition reads expressions, not feelings: see the model card's limits."""


FACE_CAPTIONS = {
    None: "Face crops off: the top emotions were read from the centre crop",
    True: "Face: the square the top emotions were read from (found in the clip's sampled frames)",
    False: "No face in the clip's sampled frames: the top emotions were read from the centre crop",
}


def enlarged(frame: np.ndarray, short_side: int = 256) -> np.ndarray:
    """A small frame blown up by a whole factor (nearest pixels), so a 64 px clip's face is visible on the page."""
    factor = -(-short_side // min(frame.shape[:2]))
    return frame if factor <= 1 else np.asarray(Image.fromarray(frame).resize(
        (frame.shape[1] * factor, frame.shape[0] * factor), Image.NEAREST))


def face_caption(result) -> str:
    return FACE_CAPTIONS[None if not result.face_crop else result.face_box is not None]


def build_app(analyzer: Analyzer, work_dir=None) -> gr.Blocks:
    """The page for `analyzer`; timeline pictures go to `work_dir` (a temporary folder by default)."""
    work = Path(work_dir or tempfile.mkdtemp(prefix="a3lign-app-"))

    def analyse(video):
        if not video:
            raise gr.Error("No video: upload a file or record one first.")
        try:
            result = analyzer(video, work)
        except (ValueError, FileNotFoundError) as error:
            raise gr.Error(str(error)) from error
        return enlarged(result.face), result.top, str(result.plot), f"{face_caption(result)}.\n{result.summary}"

    with gr.Blocks(title="A3lign-DFER") as app:
        gr.Markdown(INTRO.format(window=analyzer.window, stride=analyzer.stride))
        with gr.Row():
            with gr.Column():
                video = gr.Video(label="Video", sources=["upload", "webcam"], include_audio=True, height=360,
                                 elem_id="video")  # include_audio: Gradio would strip it with ffmpeg
                button = gr.Button("Analyse", variant="primary", elem_id="analyse")
            with gr.Column():
                face = gr.Image(label="Face (middle sampled frame)", type="numpy", interactive=False, height=280, elem_id="face")
                top = gr.Label(label="Top emotions", num_top_classes=3, elem_id="top")
        plot = gr.Image(label="Emotion timeline", type="filepath", interactive=False, elem_id="timeline")
        summary = gr.Textbox(label="Summary", lines=4, interactive=False, elem_id="summary")
        button.click(analyse, inputs=video, outputs=[face, top, plot, summary], api_name="analyse")
    return app


__all__ = ["build_app", "THEME"]
