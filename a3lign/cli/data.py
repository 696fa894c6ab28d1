"""`a3lign data check ...` (a dataset's validation report), `a3lign data synthesize ...` (the demo set) and
`a3lign data crop-faces ...` (raw videos -> face-frame folders, cut as the processor's face_crop cuts them).

    a3lign data check --dataset dfew --data_root /data/DFEW [--fold 1] [--strict] [--quick] [--classes A,B,...]
    a3lign data synthesize --output data/synthetic --clips_per_class 40 --seed 0
    a3lign data crop-faces --input raw_clips --output face_clips [--num_frames 16] [--face_margin 0.25]
        [--no_face keep]
"""

import logging
import sys
from dataclasses import dataclass, field

from transformers import HfArgumentParser

from ..configuration_a3lign import A3lignConfig
from ..data import DatasetArguments, synthesize


@dataclass
class CheckArguments:
    """How deeply `a3lign data check` reads the clips."""

    quick: bool = field(
        default=False, metadata={"help": "Read only headers and frame lists (counts frames), not the frames."}
    )
    num_frames: int = field(
        default=A3lignConfig.num_frames, metadata={"help": "Frames decoded per clip: training's --num_frames."}
    )
    num_workers: int | None = field(default=None, metadata={"help": "Decoding threads (default: one per CPU)."})


@dataclass
class SynthesizeArguments:
    """Where the synthetic set goes and how large it is."""

    output: str = field(metadata={"help": "Folder for train.csv, test.csv and clips/."})
    clips_per_class: int = field(default=40, metadata={"help": "Training clips per class."})
    test_clips_per_class: int | None = field(
        default=None, metadata={"help": "Test clips per class (default: half the training count, at least 2)."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of every clip."})


@dataclass
class CropFacesArguments:
    """What `a3lign data crop-faces` reads and writes."""

    input: str = field(
        metadata={
            "help": "A folder of videos (mirrored; its *.csv split files rewritten), or a .txt / .csv list of videos "
            "relative to its folder."
        }
    )
    output: str = field(
        metadata={"help": "Folder for the face-frame folders, the rewritten split files and crop_faces_report.json."}
    )
    num_frames: int = field(
        default=A3lignConfig.num_frames,
        metadata={"help": "The model's num_frames: faces are looked for where the processor looks."},
    )
    face_margin: float = field(
        default=0.25, metadata={"help": "The processor's face_margin: margin on each side, as a fraction of the face."}
    )
    no_face: str = field(
        default="skip",
        metadata={"help": "Clips without a face: skip (listed in the report) or keep (whole frames written)."},
    )
    face_detector: str = field(
        default="mtcnn", metadata={"help": "The processor's face_detector: mtcnn (eyes level) or haar."}
    )
    num_workers: int | None = field(
        default=None, metadata={"help": "Worker processes (default: one per CPU; 1: in this process)."}
    )


def check(data: DatasetArguments, options: CheckArguments = CheckArguments()) -> int:
    """Print each split's report (every fold when none is given), having decoded every clip's sampled frames
    unless `--quick`: 0 if clean or not strict, 1 with `--strict` on any problem or an empty split, 2 when a
    split cannot be read at all."""
    problems = empty = 0
    for fold in data.folds(all_by_default=True):
        try:  # --strict here decides the exit status
            splits = data.load_splits(
                fold,
                strict=False,
                decode_frames=None if options.quick else options.num_frames,
                num_workers=options.num_workers,
            )
        except (FileNotFoundError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        for report in splits.values():
            print((f"[fold {fold}] " if fold else "") + report.format())
            problems += len(report.problems)
            empty += not report.clips
    if data.strict and (problems or empty):
        print(f"--strict: {problems} problems, {empty} empty splits", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    command, rest = (argv[0], argv[1:]) if argv else (None, [])
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if command == "check":
        parser = HfArgumentParser(
            (DatasetArguments, CheckArguments),
            prog="a3lign data check",
            description="Decode every clip's sampled frames and report what training would skip: "
            "missing, empty, undecodable, unknown or blank labels, duplicates, "
            "conflicting labels, train/test overlap, paths outside the root, frame "
            "counts, classes.",
        )
        return check(*parser.parse_args_into_dataclasses(args=rest))
    if command == "synthesize":
        parser = HfArgumentParser(
            SynthesizeArguments,
            prog="a3lign data synthesize",
            description="Write the synthetic dynamic-expression dataset.",
        )
        (args,) = parser.parse_args_into_dataclasses(args=rest)
        path = synthesize(args.output, args.clips_per_class, args.test_clips_per_class, args.seed)
        print(f"wrote {path}: train.csv, test.csv, clips/")
        return 0
    if command == "crop-faces":
        from ..data.faces import crop_faces, format_report  # needs OpenCV: the faces extra

        parser = HfArgumentParser(
            CropFacesArguments, prog="a3lign data crop-faces", description=__doc__.split("\n\n")[0]
        )
        (args,) = parser.parse_args_into_dataclasses(args=rest)
        try:
            report = crop_faces(
                args.input,
                args.output,
                args.num_frames,
                args.face_margin,
                args.no_face,
                args.num_workers,
                detector=args.face_detector,
                progress=True,
            )
        except (FileNotFoundError, ValueError, ImportError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(format_report(report))
        return 0
    print(f"usage: a3lign data check|synthesize|crop-faces ...; got {command!r}\n\n{__doc__}", file=sys.stderr)
    return 2
