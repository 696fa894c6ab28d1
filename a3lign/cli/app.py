"""`a3lign app`: the browser demo of a saved model folder (needs `pip install a3lign[app]`).

    a3lign app --model runs/dfew-1                   # http://127.0.0.1:7860: upload or record a video
    a3lign app --model runs/dfew-1 --port 8080 --face_crop false   # videos already cut to the face

The page shows the face the model looks at, the clip's top emotions and the emotion timeline; its API endpoint is
`/analyse` (`gradio_client.Client(url).predict(handle_file("clip.mp4"), api_name="/analyse")`). It listens on the
loopback address unless `--host` says otherwise.
"""

import argparse
import sys
from pathlib import Path

from ..train.model_card import HUB_ID  # a model on the Hub, fetched by from_pretrained (a folder may look alike)

FACE_CROP = {"true": True, "false": False, "strict": "strict", "folder": None}


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
    return parse


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
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
        analyzer = Analyzer(args.model, face_crop=FACE_CROP[args.face_crop], window=args.window, stride=args.stride)
    except (ImportError, OSError, ValueError) as error:  # OSError: a Hub id that cannot be fetched
        raise SystemExit(f"error: {error}") from error
    try:
        build_app(analyzer, args.work_dir).launch(server_name=args.host, server_port=args.port, theme=THEME)
    except OSError as error:
        raise SystemExit(
            f"error: cannot listen on {args.host}:{args.port} ({error.strerror or 'in use'}): pass another --port"
        ) from error
    return 0
