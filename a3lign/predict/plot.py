"""The timeline's picture: class probabilities stacked over time, and the dominant emotion as a band beneath."""

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

# DFEW's and MAFW's emotions keep one colour in every picture; other classes take matplotlib's tab20 in class order.
EMOTION_COLOURS = {
    "happy": "#f2c12e",
    "happiness": "#f2c12e",
    "sad": "#3d6fb6",
    "sadness": "#3d6fb6",
    "neutral": "#a6a6a6",
    "angry": "#d1352b",
    "anger": "#d1352b",
    "surprise": "#f28e2b",
    "disgust": "#59a14f",
    "fear": "#8c5aa8",
    "contempt": "#9c755f",
    "anxiety": "#b07aa1",
    "helplessness": "#76b7b2",
    "disappointment": "#4e79a7",
}


def class_colours(labels: list[str]) -> list:
    palette = plt.get_cmap("tab20").colors
    return [EMOTION_COLOURS.get(label.lower(), palette[i % len(palette)]) for i, label in enumerate(labels)]


def plot_timeline(timeline, path) -> Path:
    """Write `timeline` (a `Timeline`) as a PNG: probabilities `(W, C)` stacked at window centres, and below them a
    band of the dominant emotion's segments; stretches without the tracked face hatched, shot cuts dashed."""
    colours = class_colours(timeline.labels)
    figure, (stack, band) = plt.subplots(
        2, 1, sharex=True, figsize=(11, 4.2), gridspec_kw={"height_ratios": [5, 1], "hspace": 0.08}
    )
    # Each window drawn at its centre; the first and last hold out to the video's ends.
    centres = [0.0, *timeline.centres, timeline.duration]
    probabilities = np.concatenate([timeline.probabilities[:1], timeline.probabilities, timeline.probabilities[-1:]])
    stack.stackplot(centres, probabilities.T, labels=timeline.labels, colors=colours, linewidth=0)
    stack.set_ylim(0, 1)
    stack.set_xlim(0, timeline.duration)
    stack.set_ylabel("probability")
    stack.set_title(f"{Path(timeline.video).name}: windows of {timeline.window:g} s every {timeline.stride:g} s")
    colour_of = dict(zip(timeline.labels, colours))
    for start, end, label in timeline.segments():
        band.axvspan(start, end, color=colour_of[label], linewidth=0)
        if end - start > 0.06 * timeline.duration:
            band.text((start + end) / 2, 0.5, label, ha="center", va="center", fontsize="small")
    for number, (start, end) in enumerate(timeline.stretches_without_face):
        stack.axvspan(
            start,
            end,
            facecolor="white",
            hatch="//",
            edgecolor="black",
            linewidth=0,
            alpha=0.55,
            label="no face" if number == 0 else None,
        )
    for number, cut in enumerate(timeline.cuts):
        for axis in (stack, band):
            axis.axvline(
                cut,
                color="black",
                linewidth=1.2,
                linestyle="--",
                label="shot cut" if number == 0 and axis is stack else None,
            )
    stack.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize="small")
    band.set_yticks([])
    band.set_ylabel("dominant", rotation=0, ha="right", va="center")
    band.set_xlabel("time (s)")
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return Path(path)


__all__ = ["plot_timeline", "class_colours"]
