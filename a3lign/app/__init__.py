"""The browser demo (`a3lign app --model FOLDER`, extra `a3lign[app]`): `analysis.py` computes what one video
shows (top emotions, face, timeline) and `live.py` what the Live tab shows as webcam frames arrive, with no browser
involved; `interface.py` is the Gradio page around them.
Imports the remote code and `a3lign.predict`, never training; Gradio only in `interface.py`."""

from .analysis import Analysis, Analyzer
from .live import LiveSession, LiveUpdate

__all__ = ["Analysis", "Analyzer", "LiveSession", "LiveUpdate"]
