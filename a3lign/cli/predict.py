"""`a3lign predict`: a video through a saved model folder, as one clip (the pipeline) or as a timeline.

    a3lign predict clip.mp4 --model runs/dfew-1                      # top classes of the clip, as the pipeline
                                                                     # gives them
    a3lign predict interview.mp4 --model runs/dfew-1 --face_crop true --timeline --window 2 --stride 0.5
                                                                     # timeline.csv / .json / .png in --output

`--face_crop` overrides the folder's processor setting (raw footage: `true`; `strict` fails where no face is found), as
do `--face_margin`, `--face_detector` and `--frame_folder_fps` (a frame folder's rate: the timeline's seconds).
"""

import argparse
import sys
from pathlib import Path

from transformers import AutoModelForVideoClassification, AutoVideoProcessor, pipeline

from ..predict import format_summary, predict_timeline, write_timeline
from ..predict.tower import TOWERS, use_tower

FACE_CROP = {"true": True, "false": False, "strict": "strict"}


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="a3lign predict",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parse.add_argument("video", help="A video file or a folder of frame images.")
    parse.add_argument("--model", required=True, help="A saved model folder (model + video processor).")
    parse.add_argument(
        "--face_crop", choices=sorted(FACE_CROP), help="Crop around the main face (default: the folder's setting)."
    )
    parse.add_argument(
        "--face_margin", type=float, help="Margin around the face, a fraction of its side (default: the folder's)."
    )
    parse.add_argument(
        "--face_detector", choices=["mtcnn", "haar"], help="Face detector (default: the folder's; mtcnn unless set)."
    )
    parse.add_argument(
        "--frame_folder_fps",
        type=float,
        help="Frames per second of a frame folder, which states none (default: the folder's, 25 unless set).",
    )
    parse.add_argument("--top_k", type=int, default=3, help="Classes printed for one clip.")
    parse.add_argument("--timeline", action="store_true", help="Slide windows over the whole video instead.")
    parse.add_argument("--window", type=float, default=2.0, help="Timeline: window length in seconds.")
    parse.add_argument(
        "--stride",
        type=float,
        default=0.5,
        help="Timeline: seconds between window starts (a multiple of window / num_frames).",
    )
    parse.add_argument("--batch_size", type=int, default=32, help="Timeline: frames through the vision tower at once.")
    parse.add_argument(
        "--output", help="Timeline: folder for timeline.csv, .json, .png (default: <video name>_timeline)."
    )
    parse.add_argument(
        "--tower",
        choices=TOWERS,
        default="transformers",
        help="The vision tower: transformers' own, or int8 (faster on the CPU; see a3lign/predict/tower.py).",
    )
    parse.add_argument("--quiet", action="store_true", help="No progress bar.")
    return parse


def load_processor(args):
    overrides = {}
    if args.face_crop is not None:
        overrides["face_crop"] = FACE_CROP[args.face_crop]
    for name in ("face_margin", "face_detector", "frame_folder_fps"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    return AutoVideoProcessor.from_pretrained(args.model, trust_remote_code=True, **overrides)


def main(argv: list[str] | None = None):
    """Print the clip's top classes (returns them), or write and summarise its timeline (returns the `Timeline`)."""
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    if not Path(args.video).exists():
        raise SystemExit(f"error: video '{args.video}' does not exist")
    try:
        processor = load_processor(args)
    except (ImportError, ValueError) as error:
        raise SystemExit(f"error: {error}") from error
    if not args.timeline:
        classify = pipeline(
            "video-classification", model=args.model, video_processor=processor, trust_remote_code=True
        )
        use_tower(classify.model, args.tower)
        try:
            results = classify(args.video, top_k=args.top_k)
        except ValueError as error:
            raise SystemExit(f"error: {error}") from error
        for result in results:
            print(f"{result['label']:<16} {result['score']:.3f}")
        return results
    model = use_tower(
        AutoModelForVideoClassification.from_pretrained(args.model, trust_remote_code=True).eval(), args.tower
    )
    processor.check_matches(model.config)
    try:
        timeline = predict_timeline(
            model, processor, args.video, args.window, args.stride, args.batch_size, progress=not args.quiet
        )
    except ValueError as error:
        raise SystemExit(f"error: {error}") from error
    output = Path(args.output or f"{Path(args.video).name.rsplit('.', 1)[0]}_timeline")
    paths = write_timeline(timeline, output)
    print(format_summary(timeline))
    print("wrote " + ", ".join(str(path) for path in paths.values()))
    return timeline
