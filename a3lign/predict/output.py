"""What `a3lign predict --timeline` writes and prints: per-window probabilities as CSV and JSON, the picture, and a
short summary."""

import csv
import json
from pathlib import Path

from .plot import plot_timeline

# A summary lists at most this many segments (the files hold them all).
SUMMARY_SEGMENTS = 12


def write_timeline(timeline, folder, stem: str = "timeline") -> dict[str, Path]:
    """`timeline.csv` (one row a window: start, end, dominant, one probability column per class; with face crops
    `face`, the share of its frames showing the tracked face, and `face_x0 .. face_y1`, its box at the window's middle,
    blank where it is gone), `timeline.json` (the settings, the rate and where it came from, the windows, the segments,
    the shot cuts) and `timeline.png` in `folder` (`stem` names them: the app's live recordings are
    `recording-N.*`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {kind: folder / f"{stem}.{kind}" for kind in ("csv", "json", "png")}
    dominant = timeline.dominant
    rows = []
    for w, (start, end) in enumerate(timeline.times):
        row = {"start": round(start, 4), "end": round(end, 4), "dominant": timeline.labels[dominant[w]]}
        row.update({label: round(float(p), 6) for label, p in zip(timeline.labels, timeline.probabilities[w])})
        if timeline.face is not None:
            row["face"] = round(float(timeline.face[w]), 4)
            box = timeline.face_boxes[w]
            row.update(zip(("face_x0", "face_y0", "face_x1", "face_y1"), box if box is not None else [None] * 4))
        rows.append(row)
    with open(paths["csv"], "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    document = {
        "video": timeline.video,
        "duration": timeline.duration,
        "rate": timeline.rate,
        "rate_source": timeline.rate_source,
        "face_detector": timeline.face_detector,
        "window": timeline.window,
        "stride": timeline.stride,
        "labels": timeline.labels,
        "frames_embedded": timeline.frames_embedded,
        "windows": rows,
        "segments": [{"start": s, "end": e, "label": label} for s, e, label in timeline.segments()],
        "shares": timeline.shares(),
        "stretches_without_face": [list(pair) for pair in timeline.stretches_without_face],
        "cuts": timeline.cuts,
    }
    paths["json"].write_text(json.dumps(document, indent=1))
    plot_timeline(timeline, paths["png"])
    return paths


def format_summary(timeline) -> str:
    """A few lines: length and windows, time share of each dominant emotion, the segments, faces."""
    windows = len(timeline.times)
    rate = {"timestamps": "by its timestamps", "folder_fps": "frame folder, frame_folder_fps"}.get(
        timeline.rate_source, timeline.rate_source
    )
    lines = [
        f"{Path(timeline.video).name}: {timeline.duration:.1f} s at {timeline.rate:.3g} fps ({rate}), {windows} "
        f"window{'s' * (windows != 1)} of {timeline.window:g} s every {timeline.stride:g} s "
        f"({timeline.frames_embedded} frame{'s' * (timeline.frames_embedded != 1)} through the vision tower)"
    ]
    shares = [f"{label} {share:.0%}" for label, share in timeline.shares().items() if share > 0]
    lines.append("dominant emotion: " + ", ".join(shares))
    segments = timeline.segments()
    listed = ", ".join(f"{start:.1f}-{end:.1f} s {label}" for start, end, label in segments[:SUMMARY_SEGMENTS])
    more = f" (+{len(segments) - SUMMARY_SEGMENTS} more)" if len(segments) > SUMMARY_SEGMENTS else ""
    lines.append(f"segments: {listed}{more}")
    if timeline.face is not None:
        missing, cuts = timeline.stretches_without_face, timeline.cuts
        lines.append(
            f"faces ({timeline.face_detector}): {timeline.face.mean():.0%} of the windows' frames show "
            "the tracked face"
            + (
                f"; {len(missing)} stretch{'es' * (len(missing) != 1)} without it: "
                + ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in missing[:SUMMARY_SEGMENTS])
                if missing
                else ""
            )
            + (
                f"; {len(cuts)} shot cut{'s' * (len(cuts) != 1)} at "
                + ", ".join(f"{c:.1f} s" for c in cuts[:SUMMARY_SEGMENTS])
                if cuts
                else ""
            )
        )
    return "\n".join(lines)


__all__ = ["write_timeline", "format_summary"]
