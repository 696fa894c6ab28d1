"""Predictions on the user's own videos: one clip as the pipeline classifies it, or a timeline of a whole video
(`timeline.py`: windows slid over it, each frame embedded once) or of a camera as it happens (`live.py`, frames from
`sources.py`), written as CSV, JSON and a picture (`output.py`,
`plot.py`). Imports the remote code (processor, faces) and the data package's frame streaming, never training."""

from .live import LivePredictor, LiveWindow
from .output import format_summary, write_timeline
from .plot import plot_timeline
from .timeline import FrameGrid, Timeline, frame_grid, predict_timeline

__all__ = [
    "LivePredictor",
    "LiveWindow",
    "FrameGrid",
    "Timeline",
    "frame_grid",
    "predict_timeline",
    "write_timeline",
    "format_summary",
    "plot_timeline",
]
