"""`a3lign live`: emotions from a camera, a network stream or a file as they happen, then the timeline's files.

    a3lign live --model runs/dfew-1 --source 0 --face_crop true          # the first camera
    a3lign live --model runs/dfew-1 --source rtsp://host/stream           # a network stream
    a3lign live --model runs/dfew-1 --source interview.mp4 --realtime     # a file at its own rate, as a camera

Each window's top emotion is printed as it comes (with frames/s read, the latency from the arrival of the window's
last frame to its probabilities, and frames dropped). When the machine is slower than the source, the oldest frames
are dropped and counted, never queued. The end of the source, `--duration` or Ctrl-C ends it; `--output` then holds
timeline.csv / .json / .png (as `a3lign predict --timeline` writes them) and live.json (the live figures).
"""

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
from transformers import AutoModelForVideoClassification

from ..predict import LivePredictor, format_summary, write_timeline
from ..predict.sources import FrameReader
from ..predict.tower import TOWERS, use_tower
from .predict import FACE_CROP, load_processor


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="a3lign live",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parse.add_argument("--model", required=True, help="A saved model folder (model + video processor).")
    parse.add_argument(
        "--source", required=True, help="A camera index (0) or device (/dev/video0), a stream URL, or a video file."
    )
    parse.add_argument("--realtime", action="store_true", help="A file: read at its own rate, as a camera would.")
    parse.add_argument("--window", type=float, default=2.0, help="Window length in seconds.")
    parse.add_argument(
        "--stride", type=float, default=0.5, help="Seconds between window starts (a multiple of window / num_frames)."
    )
    parse.add_argument(
        "--face_crop", choices=sorted(FACE_CROP), help="Follow the main face and crop it (default: the folder's)."
    )
    parse.add_argument("--face_margin", type=float, help="Margin around the face, a fraction of its side.")
    parse.add_argument("--face_detector", choices=["mtcnn", "haar"], help="Face detector (default: the folder's).")
    parse.add_argument("--detect_every", type=int, default=4, help="Run the face detector on every n-th grid frame.")
    parse.add_argument(
        "--tower", choices=TOWERS, default="transformers", help="The vision tower: transformers' own, or int8."
    )
    parse.add_argument("--buffer", type=int, default=4, help="Frames held for a slow machine before dropping.")
    parse.add_argument("--duration", type=float, help="Stop after this many seconds of the source.")
    parse.add_argument("--output", default="live_output", help="Folder for timeline.csv / .json / .png, live.json.")
    parse.add_argument("--quiet", action="store_true", help="No live line.")
    return parse


def live_line(window, labels, rate: float, dropped: int, read: int) -> str:
    top = int(np.argmax(window.probabilities))
    face = "" if window.face is None else ("  face" if window.face_box is not None else "  no face")
    return (
        f"{window.end:7.1f} s  {labels[top]:<12} {window.probabilities[top]:.2f}  {rate:5.1f} frames/s  "
        f"latency {1000 * window.latency:4.0f} ms  dropped {dropped} of {read}{face}"
    )


def main(argv: list[str] | None = None):
    """Run until the source ends, `--duration` or Ctrl-C; write the outputs; returns the `Timeline`."""
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    args.frame_folder_fps = None
    if not Path(args.model).is_dir():
        raise SystemExit(f"error: model folder '{args.model}' does not exist")
    try:
        processor = load_processor(args)
        model = AutoModelForVideoClassification.from_pretrained(args.model, trust_remote_code=True).eval()
        use_tower(model, args.tower)
        processor.check_matches(model.config)
        predictor = LivePredictor(
            model, processor, args.window, args.stride, detect_every=args.detect_every, name=args.source
        )
        reader = FrameReader(args.source, realtime=args.realtime, capacity=args.buffer)
    except (ImportError, ValueError) as error:
        raise SystemExit(f"error: {error}") from error
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "started").write_text(args.source)  # reading has begun (what a supervising script may wait for)
    started, consumed, latencies, first, last, ended = time.perf_counter(), 0, [], None, None, "the source ended"
    interrupted = threading.Event()

    def on_interrupt(signum, frame):
        # Ctrl-C stops reading where the loop checks, never inside a conversion or the tower (an exception raised
        # there could surface as a decoding error); a second Ctrl-C interrupts at once.
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()
        reader.stopped = True  # a plain flag: frames() returns within its wait's 0.5 s, even from a stalled camera

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_interrupt) if in_main else None
    try:
        for frame in reader.frames():
            if interrupted.is_set():
                break
            first = frame.seconds if first is None else first
            last = frame.seconds
            if args.duration is not None and float(last - first) >= args.duration:
                ended = f"--duration {args.duration:g} s"
                break
            consumed += 1
            for window in predictor.add(frame.pixels, frame.seconds, frame.arrived):
                latencies.append(window.latency)
                if not args.quiet:
                    rate = consumed / max(1e-9, time.perf_counter() - started)
                    line = live_line(window, predictor.labels, rate, reader.dropped, reader.read)
                    print("\r" + line if sys.stdout.isatty() else line, end="" if sys.stdout.isatty() else "\n")
                    sys.stdout.flush()
    except KeyboardInterrupt:
        interrupted.set()
    except ValueError as error:  # the source broke part way: what was read is still reported
        ended = f"error: {error}"
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
        reader.stop()
    if interrupted.is_set():
        ended = "stopped (Ctrl-C)"
    elapsed = time.perf_counter() - started
    print(("\n" if sys.stdout.isatty() else "") + ended)
    try:
        timeline = predictor.finish()
    except ValueError as error:
        raise SystemExit(f"error: {error}") from error
    paths = write_timeline(timeline, output)
    stats = {
        "source": args.source,
        "ended": ended,
        "seconds_read": float(last - first) if first is not None else 0.0,
        "wall_seconds": elapsed,
        "frames_read": reader.read,
        "frames_dropped": reader.dropped,
        "frames_embedded": timeline.frames_embedded,
        "frames_per_second": consumed / max(1e-9, elapsed),
        "windows": len(timeline.times),
        "latency_median_ms": 1000 * float(np.median(latencies)) if latencies else None,
        "latency_p95_ms": 1000 * float(np.percentile(latencies, 95)) if latencies else None,
    }
    (output / "live.json").write_text(json.dumps(stats, indent=1))
    print(format_summary(timeline))
    latency = (
        f"latency median {stats['latency_median_ms']:.0f} ms, 95th percentile {stats['latency_p95_ms']:.0f} ms; "
        if latencies
        else ""
    )
    print(f"{stats['frames_per_second']:.1f} frames/s read; {latency}dropped {reader.dropped} of {reader.read} frames")
    print("wrote " + ", ".join(str(path) for path in [*paths.values(), output / "live.json"]))
    return timeline
