"""The browser demo's page (Gradio). Tab "Analyse a video": a video in (upload or webcam recording), the detected
face, the top emotions and the emotion timeline out, as `Analyzer` computes them (API endpoint `/analyse`). Tab
"Live": the webcam streams to the server frame by frame (Gradio's streaming), and the top emotions, the frame with
the face box and a scrolling timeline update as the frames arrive (`LiveSession`); "Finish" writes the recording's
timeline (CSV, JSON, PNG) and shows it.

The page asks nothing of the internet: the theme uses the system's fonts (Gradio's default fetches Google
Fonts), and Gradio's usage analytics are off unless `GRADIO_ANALYTICS_ENABLED` is set. Pictures go to the page as
images, not as file paths, so they are served wherever the timeline PNGs are written.
"""

import logging
import math
import os
import tempfile
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import to_hex as matplotlib_hex  # noqa: E402
from PIL import Image  # noqa: E402

from ..decoding_a3lign import probe_clip  # noqa: E402
from ..predict.plot import class_colours  # noqa: E402
from .analysis import Analyzer  # noqa: E402
from .live import SCROLL as SCROLL_SECONDS  # noqa: E402
from .live import LiveSessions  # noqa: E402

logger = logging.getLogger(__name__)
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
INTRO = """# A3lign-DFER: emotions in a face video
Upload a video or record one with your webcam, then press **Analyse**. The model classifies the whole clip
(top emotions), shows the face it looks at, and slides a {window:g} s window every {stride:g} s over the video
(the timeline). Emotion recognition reads expressions, not feelings: see the model card's limits."""
LIVE_INTRO = """Start the camera and press **Record**: every {stride:g} s, the last {window:g} s of frames are
classified as they arrive. Stop the camera and press **Finish** to keep the recording's timeline. Frames reach the
server {fps:g} times a second at most (fewer when it is busy: it never queues them)."""
LIVE_EVERY = 0.1  # seconds between the frames the page streams

FACE_CAPTIONS = {
    None: "Face crops off: the top emotions were read from the centre crop",
    True: "Face: the square the top emotions were read from (found in the clip's sampled frames)",
    "gone": "The face is not in this frame (the clip's middle): the top emotions were read from the frames showing it",
    False: "No face in the clip's sampled frames: the top emotions were read from the centre crop",
}
# The face picture's shorter side on the page: small clips blown up (whole factors, nearest pixels), large frames
# brought down; its longer side never beyond LONGEST (a 2 x 640 px video stays a strip, not a 256 x 82,000 image).
SHORT_SIDE, LONGEST = 256, 1024


def for_display(frame: np.ndarray) -> np.ndarray:
    """`frame (H, W, 3)` at a size the page can show (see `SHORT_SIDE`, `LONGEST`)."""
    height, width = frame.shape[:2]
    if min(height, width) < SHORT_SIDE:
        factor = max(1, min(-(-SHORT_SIDE // min(height, width)), LONGEST // max(height, width)))
        size, resample = (width * factor, height * factor), Image.NEAREST
    else:
        scale = min(1.0, SHORT_SIDE / min(height, width), LONGEST / max(height, width))
        size, resample = (max(1, round(width * scale)), max(1, round(height * scale))), Image.BILINEAR
    return frame if size == (width, height) else np.asarray(Image.fromarray(frame).resize(size, resample))


def face_caption(result) -> str:
    if not result.face_crop:
        return FACE_CAPTIONS[None]
    return (
        FACE_CAPTIONS[True] if result.face_box is not None else FACE_CAPTIONS["gone" if result.face_in_clip else False]
    )


def check_limits(video, name: str, max_seconds: float | None, max_upload_mb: float | None) -> None:
    """`gr.Error` naming an upload larger than `max_upload_mb` or a video longer than `max_seconds` (Gradio refuses an
    oversize upload itself; this names what the page was given, and covers the API and recordings alike)."""
    size = Path(video).stat().st_size if Path(video).is_file() else 0
    if max_upload_mb is not None and size > max_upload_mb * 1e6:
        raise gr.Error(f"'{name}' is {size / 1e6:.1f} MB: this app takes uploads up to {max_upload_mb:g} MB")
    if max_seconds is not None:
        try:
            seconds = probe_clip(video).duration
        except (ValueError, FileNotFoundError) as error:
            raise gr.Error(str(error).replace(str(video), name)) from error
        if seconds > max_seconds:
            raise gr.Error(f"'{name}' lasts {seconds:.0f} s: this app takes videos up to {max_seconds:g} s")


def live_tab(analyzer: Analyzer, work_dir, max_seconds: float | None, every: float, sessions: int) -> LiveSessions:
    """The Live tab's components and events (inside `build_app`'s Blocks); returns its `LiveSessions`, one
    `LiveSession` per browser tab (by Gradio's session hash), which `build_app` closes when a tab goes (`unload`).
    A stream holds its place in Gradio's queue until it stops: `sessions` stream at once, more wait their turn."""
    colours = {label: matplotlib_hex(colour) for label, colour in zip(analyzer.labels, class_colours(analyzer.labels))}
    live = LiveSessions(analyzer, work_dir, every)

    def on_frame(frame, request: gr.Request):
        if frame is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        update = live.get(request.session_hash).add(frame)
        columns = ["time", "emotion", "probability"]
        recent = gr.skip() if update.recent is None else pd.DataFrame(update.recent, columns=columns)
        top = gr.skip() if update.top is None else update.top
        return for_display(update.frame), top, recent, update.status

    def on_finish(request: gr.Request):
        session = live.find(request.session_hash)
        if session is None:
            raise gr.Error("Nothing recorded yet: start the camera and press Record first.")
        session.finish()  # the newest recording is the last kept (or, dropped as too short, named in the summary)
        kept = session.recordings
        plot = None
        if kept:
            plot = Image.open(kept[-1].paths["png"])
            plot.load()
        files = [str(path) for recording in kept for path in recording.paths.values()]
        return plot, files or None, session.summary()

    gr.Markdown(LIVE_INTRO.format(window=analyzer.window, stride=analyzer.stride, fps=1 / every))
    with gr.Row():
        with gr.Column():
            camera = gr.Image(
                label="Camera", sources=["webcam"], streaming=True, type="numpy", height=360, elem_id="live_camera"
            )
            finish = gr.Button("Finish", variant="primary", elem_id="live_finish")
        with gr.Column():
            face = gr.Image(
                label="The newest frame, the tracked face boxed",
                type="numpy",
                interactive=False,
                height=280,
                elem_id="live_face",
            )
            top = gr.Label(label="Top emotions (newest window)", num_top_classes=3, elem_id="live_top")
            status = gr.Textbox(label="Status", lines=1, interactive=False, elem_id="live_status")
    recent = gr.LinePlot(
        x="time",
        y="probability",
        color="emotion",
        color_map=colours,
        y_lim=[0, 1],
        x_title="time (s)",
        label=f"The last {SCROLL_SECONDS:g} s (window centres)",
        height=260,
        elem_id="live_timeline",
    )
    plot = gr.Image(label="The recording's timeline", type="pil", format="png", interactive=False, elem_id="live_plot")
    with gr.Row():
        files = gr.File(label="Timeline files", file_count="multiple", interactive=False, elem_id="live_files")
        summary = gr.Textbox(label="Recordings", lines=5, interactive=False, elem_id="live_summary")
    camera.stream(
        on_frame,
        inputs=camera,
        outputs=[face, top, recent, status],
        stream_every=every,
        time_limit=None if max_seconds is None else math.ceil(max_seconds),
        show_progress="hidden",
        concurrency_limit=sessions,
        concurrency_id="live",
        api_name="live",
    )
    finish.click(on_finish, outputs=[plot, files, summary], api_name="finish")
    return live


def analyse_tab(analyzer: Analyzer, work_dir, max_seconds: float | None, max_upload_mb: float | None) -> None:
    """The "Analyse a video" tab's components and event (inside `build_app`'s Blocks)."""

    def analyse(video):
        if not video:
            raise gr.Error("No video: upload a file or record one first.")
        name = Path(video).name  # errors name the upload, not the server's temporary copy
        check_limits(video, name, max_seconds, max_upload_mb)
        try:
            with tempfile.TemporaryDirectory(prefix="a3lign-app-") as scratch:
                result = analyzer(video, work_dir or scratch)
                plot = Image.open(result.plot)
                plot.load()
        except (ValueError, FileNotFoundError) as error:
            raise gr.Error(str(error).replace(str(video), name)) from error
        except Exception as error:  # anything else still reaches the user, named, and the log has the traceback
            logger.exception("analysing %s failed", video)
            raise gr.Error(f"analysing '{name}' failed: {type(error).__name__}: {error}") from error
        summary = f"Whole clip: {face_caption(result)}.\nTimeline: {result.summary}"
        return for_display(result.face), result.top, plot, summary

    gr.Markdown(INTRO.format(window=analyzer.window, stride=analyzer.stride))
    with gr.Row():
        with gr.Column():
            video = gr.Video(
                label="Video", sources=["upload", "webcam"], include_audio=True, height=360, elem_id="video"
            )  # include_audio: Gradio would strip it with ffmpeg
            button = gr.Button("Analyse", variant="primary", elem_id="analyse")
        with gr.Column():
            face = gr.Image(
                label="Face (middle sampled frame)", type="numpy", interactive=False, height=280, elem_id="face"
            )
            top = gr.Label(label="Top emotions", num_top_classes=3, elem_id="top")
    plot = gr.Image(label="Emotion timeline", type="pil", format="png", interactive=False, elem_id="timeline")
    summary = gr.Textbox(label="Summary", lines=5, interactive=False, elem_id="summary")
    button.click(analyse, inputs=video, outputs=[face, top, plot, summary], api_name="analyse")


def build_app(
    analyzer: Analyzer,
    work_dir=None,
    max_seconds: float | None = None,
    max_upload_mb=None,
    live_every=LIVE_EVERY,
    live_sessions: int = 2,
) -> gr.Blocks:
    """The page for `analyzer`: the two tabs. Timeline pictures are kept in `work_dir` when given; otherwise each goes
    to a temporary folder (the "Analyse" tab's removed once the page has it). Videos over `max_seconds` or
    `max_upload_mb` are refused by name; a live stream ends after `max_seconds`. `live_every`: the seconds between the
    frames the Live tab streams; `live_sessions`: streams served at once."""
    with gr.Blocks(title="A3lign-DFER") as app:
        with gr.Tab("Analyse a video", elem_id="analyse_tab"):
            analyse_tab(analyzer, work_dir, max_seconds, max_upload_mb)
        with gr.Tab("Live", elem_id="live_tab"):
            live = live_tab(analyzer, work_dir, max_seconds, live_every, live_sessions)

        def on_close(request: gr.Request):  # a tab closed without Finish: its recording written, not lost
            live.close(request.session_hash)

        app.unload(on_close)
    return app


__all__ = ["build_app", "analyse_tab", "live_tab", "for_display", "THEME", "FACE_CAPTIONS", "LIVE_EVERY"]
