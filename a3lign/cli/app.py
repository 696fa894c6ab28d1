"""`a3lign app`: the browser demo of a saved model folder (needs `pip install a3lign[app]`).

    a3lign app --model runs/dfew-1                   # http://127.0.0.1:7860: upload or record a video
    a3lign app --model runs/dfew-1 --port 8080 --face_crop false   # videos already cut to the face

    a3lign app --model runs/dfew-1 --host 0.0.0.0 --auth_file users.txt   # served to others: passwords, limits

Tab "Analyse a video" shows the face the model looks at, the clip's top emotions and the emotion timeline; its API
endpoint is `/analyse` (`gradio_client.Client(url).predict(handle_file("clip.mp4"), api_name="/analyse")`). It
listens on the loopback address unless `--host` says otherwise. What one request may cost is bounded: uploads up to
`--max_upload_mb`, videos up to `--max_seconds` long (both refused with a message naming the file), `--concurrency`
analyses at a time and at most `--queue_size` waiting (more are told the queue is full). `--auth` / `--auth_file`
(Gradio's login, `user:password` each) ask for a password; serving beyond the loopback address without one warns.
Tab "Live" streams the webcam to the server (`--live_fps` frames a second at most, for up to `--max_seconds`,
`--live_sessions` streams at once) and updates the top emotions, the face box and a scrolling timeline as frames
arrive; "Finish" writes the recording's timeline files (kept in `--work_dir` when given).
"""

import argparse
import logging
import sys
from pathlib import Path

from ..predict.tower import TOWERS
from ..train.model_card import HUB_ID  # a model on the Hub, fetched by from_pretrained (a folder may look alike)

FACE_CROP = {"true": True, "false": False, "strict": "strict", "folder": None}
LOOPBACK = ("127.0.0.1", "localhost", "::1")
logger = logging.getLogger(__name__)


def credentials(pairs: list[str], file: str | None) -> list[tuple[str, str]]:
    """`user:password` pairs from `--auth` and from the lines of `--auth_file` (blank lines and `#` comments skipped);
    `SystemExit` naming a malformed one (never echoing its password)."""
    entries = [(f"--auth #{k + 1}", pair) for k, pair in enumerate(pairs)]
    if file is not None:
        if not Path(file).is_file():
            raise SystemExit(f"error: --auth_file '{file}' does not exist")
        lines = Path(file).read_text().splitlines()
        entries += [(f"{file} line {n + 1}", line.strip()) for n, line in enumerate(lines)]
    found = []
    for where, text in entries:
        if not text or text.startswith("#"):
            continue
        user, colon, password = text.partition(":")
        if not colon or not user or not password:
            raise SystemExit(
                f"error: {where} is not user:password (a name, a colon, a password of at least one character)"
            )
        found.append((user, password))
    return found


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="a3lign app",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parse.add_argument("--model", required=True, help="A saved model folder (model + video processor), or a Hub id.")
    parse.add_argument("--host", default="127.0.0.1", help="Address to listen on (0.0.0.0: every interface).")
    parse.add_argument("--port", type=int, default=7860, help="Port to listen on.")
    parse.add_argument(
        "--face_crop",
        choices=list(FACE_CROP),
        default="true",
        help="Crop around the main face (default true: uploads and webcam recordings are raw footage; "
        "folder: the processor's saved setting).",
    )
    parse.add_argument("--window", type=float, default=2.0, help="Timeline: window length in seconds.")
    parse.add_argument("--stride", type=float, default=0.5, help="Timeline: seconds between window starts.")
    parse.add_argument("--work_dir", help="Keep the timeline pictures in this folder (default: none kept).")
    parse.add_argument(
        "--auth", action="append", default=[], help="user:password allowed in (Gradio's login); repeat."
    )
    parse.add_argument(
        "--tower",
        choices=TOWERS,
        default="transformers",
        help="The vision tower: transformers' own, or int8 (faster on the CPU; a3lign/predict/tower.py).",
    )
    parse.add_argument("--auth_file", help="A file of user:password lines allowed in.")
    parse.add_argument("--max_upload_mb", type=float, default=200, help="Largest upload accepted, in MB.")
    parse.add_argument("--max_seconds", type=float, default=600, help="Longest video analysed, in seconds.")
    parse.add_argument("--live_fps", type=float, default=10, help="Live tab: frames a second streamed at most.")
    parse.add_argument(
        "--live_sessions", type=int, default=2, help="Live tab: webcam streams served at once; more wait their turn."
    )
    parse.add_argument("--concurrency", type=int, default=1, help="Videos analysed at the same time.")
    parse.add_argument("--queue_size", type=int, default=16, help="Requests waiting at most; more are refused.")
    return parse


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    auth = credentials(args.auth, args.auth_file)
    for name in ("max_upload_mb", "max_seconds", "concurrency", "queue_size", "live_fps", "live_sessions"):
        if not getattr(args, name) > 0:
            raise SystemExit(f"error: --{name} {getattr(args, name)} is invalid: expected a positive number")
    if args.host not in LOOPBACK and not auth:
        logger.warning("serving on %s without a password: anyone who reaches it may use it (--auth)", args.host)
    if not Path(args.model).is_dir() and not HUB_ID.match(args.model):
        raise SystemExit(
            f"error: model folder '{args.model}' does not exist (expected a saved model folder or a Hub id)"
        )
    try:
        from ..app.interface import THEME, build_app
    except ImportError as error:
        raise SystemExit(f"error: the app needs Gradio ({error}): pip install 'a3lign[app]'") from error
    from ..app import Analyzer

    try:
        analyzer = Analyzer(
            args.model, face_crop=FACE_CROP[args.face_crop], window=args.window, stride=args.stride, tower=args.tower
        )
    except (ImportError, OSError, ValueError) as error:  # OSError: a Hub id that cannot be fetched
        raise SystemExit(f"error: {error}") from error
    try:
        app = build_app(
            analyzer,
            args.work_dir,
            max_seconds=args.max_seconds,
            max_upload_mb=args.max_upload_mb,
            live_every=1 / args.live_fps,
            live_sessions=args.live_sessions,
        )
        app.queue(default_concurrency_limit=args.concurrency, max_size=args.queue_size).launch(
            server_name=args.host,
            server_port=args.port,
            theme=THEME,
            auth=auth or None,
            max_file_size=round(args.max_upload_mb * 1e6),
            allowed_paths=[args.work_dir] if args.work_dir else None,  # the Live tab's timeline files, served
        )
    except OSError as error:
        raise SystemExit(
            f"error: cannot listen on {args.host}:{args.port} ({error.strerror or 'in use'}): pass another --port"
        ) from error
    return 0
