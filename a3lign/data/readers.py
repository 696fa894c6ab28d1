"""Readers of the official split files: DFEW, FERV39k, MAFW, annotation lists, CSVs, folder trees.

Each reader lists the split's clips (`ListedClip`) and, for a dataset with an official class list, that list
(`ClassSet`); `load_split` declares the class set (official, `--classes`, or the train split's labels: one policy
for every reader, `labels.py`) and validates the clips against it and the disk.
"""

import csv
import io
import re
from pathlib import Path

from .clips import ListedClip, SplitReport, find_clip, validate_split
from .labels import DFEW_LABELS, MAFW_LABELS, ClassSet

DATASET_NAMES = ("dfew", "ferv39k", "mafw", "annotation", "csv", "folder", "synthetic")
FIVE_FOLD = ("dfew", "mafw")
FOLDS = ("1", "2", "3", "4", "5")
DFEW_FRAME_SOURCES = ("clip_224x224", "clip_224x224_16f", "videos")


def _require(path: Path, layout: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"'{path}' does not exist; expected layout: {layout}")
    return path


def read_text(path: Path) -> str:
    """A split file's text: UTF-8 (with or without BOM), else GBK (some MAFW releases)."""
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gbk"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError(f"split file '{path}' is neither UTF-8 nor GBK text")


def split_rows(path: Path) -> list[tuple[int, list[str]]]:
    """Non-empty lines as fields, separated by commas, tabs or spaces: `[(line number, fields)]`."""
    rows = []
    for number, line in enumerate(read_text(path).splitlines(), 1):
        fields = [f for f in re.split(r"[,\t ]+", line.strip()) if f]
        if fields:
            rows.append((number, fields))
    return rows


def _check_fold(dataset: str, fold) -> int:
    if str(fold) not in FOLDS:
        raise ValueError(f"{dataset} has 5 folds: --fold must be 1..5 (or 'all' for training); got {fold!r}")
    return int(fold)


def read_dfew(root: Path, split: str, fold=None, dfew_frames: str = "clip_224x224", **_):
    """DFEW: `EmoLabel_DataSplit/{train,test}(single-labeled)/set_K.csv` (`video_name,label`, labels 1..7)."""
    fold = _check_fold("dfew", fold)
    if dfew_frames not in DFEW_FRAME_SOURCES:
        raise ValueError(f"dfew_frames={dfew_frames!r}: expected one of {DFEW_FRAME_SOURCES}")
    split_file = _require(
        root / "EmoLabel_DataSplit" / f"{split}(single-labeled)" / f"set_{fold}.csv",
        "<root>/EmoLabel_DataSplit/{train,test}(single-labeled)/set_{1..5}.csv and <root>/Clip/clip_224x224/<id>/",
    )
    listed = []
    for number, fields in split_rows(split_file):
        if fields[0] == "video_name":
            continue
        name = fields[0]
        ids = [name, name.zfill(5)]  # the CSVs may drop the folders' zero padding
        if dfew_frames == "videos":
            path = find_clip(*(root / "Clip" / "original" / i for i in ids))
        else:
            path = find_clip(*(root / "Clip" / dfew_frames / i for i in ids))
        label = fields[1] if len(fields) > 1 else ""
        listed.append(ListedClip(ids[1], path, label, source=f"{split_file.name}:{number}"))
    return listed, ClassSet(DFEW_LABELS, first_number=1, origin="DFEW's official list")


def read_ferv39k(root: Path, split: str, **_):
    """FERV39k: `4_setups/All_scenes/{train,test}_All.csv`, rows naming `<Scene>/<Emotion>/<id>`.

    The label is the `<Emotion>` folder, mapped to DFEW's names and order.
    """
    split_file = _require(
        root / "4_setups" / "All_scenes" / f"{split}_All.csv",
        "<root>/4_setups/All_scenes/{train,test}_All.csv and <root>/2_ClipsforFaceCrop/<Scene>/<Emotion>/<id>/",
    )
    listed = []
    for number, fields in split_rows(split_file):
        relative = fields[0].strip("/").removeprefix("2_ClipsforFaceCrop/")
        parts = relative.split("/")
        if len(parts) < 3:
            continue  # a header line
        listed.append(
            ListedClip(
                relative,
                find_clip(root / "2_ClipsforFaceCrop" / relative),
                parts[-2],
                source=f"{split_file.name}:{number}",
            )
        )
    return listed, ClassSet(DFEW_LABELS, first_number=0, origin="FERV39k's classes (DFEW's names and order)")


def read_mafw(root: Path, split: str, fold=None, **_):
    """MAFW single-label: `Train_Test_Set/single/.../set_K/{train,test}.txt`, `<clip> <label>` per line.

    Separators: tab, space or comma; encoding UTF-8 or GBK; label: a name of `MAFW_LABELS` or its number
    1..11. Clips: `data/clips/<id>.mp4`, else frame folders `data/frames/<id>` or `data/faces/<id>`.
    """
    fold = _check_fold("mafw", fold)
    base = _require(root / "Train_Test_Set" / "single", "<root>/Train_Test_Set/single/.../set_{1..5}/{train,test}.txt")
    matches = sorted(base.glob(f"**/set_{fold}/{split}.txt"))
    if not matches:
        raise FileNotFoundError(
            f"no set_{fold}/{split}.txt under '{base}'; expected layout: "
            f"<root>/Train_Test_Set/single/.../set_K/{split}.txt"
        )
    split_file = matches[0]
    listed = []
    for number, fields in split_rows(split_file):
        clip_id = Path(fields[0]).stem
        path = find_clip(
            root / "data" / "clips" / clip_id, root / "data" / "frames" / clip_id, root / "data" / "faces" / clip_id
        )
        label = fields[1] if len(fields) > 1 else ""
        listed.append(ListedClip(clip_id, path, label, source=f"{split_file.name}:{number}"))
    return listed, ClassSet(MAFW_LABELS, first_number=1, origin="MAFW's official list")


def read_annotation(root: Path, split: str, annotation_file: str | None = None, **_):
    """The field's annotation list: `<frame_dir> <num_frames> <label>` (0-based ids), `<root>/<split>.txt`.

    The frame count is taken from the disk; the listed one is only checked. Classes: the train split's ids.
    """
    split_file = _require(
        Path(annotation_file) if annotation_file else root / f"{split}.txt", "<root>/{train,test}.txt"
    )
    listed = []
    for number, fields in split_rows(split_file):
        if len(fields) != 3 or not fields[1].isdigit():
            raise ValueError(
                f"{split_file}:{number}: expected '<frame_dir> <num_frames> <label>', got {' '.join(fields)!r}"
            )
        path = Path(fields[0]) if Path(fields[0]).is_absolute() else root / fields[0]
        listed.append(ListedClip(fields[0], find_clip(path), fields[2], int(fields[1]), f"{split_file.name}:{number}"))
    return listed, None


def _csv_rows(split_file: Path):
    reader = csv.DictReader(io.StringIO(read_text(split_file)))
    if not reader.fieldnames or not {"path", "label"} <= set(reader.fieldnames):
        raise ValueError(f"'{split_file}' must have a header with columns 'path,label'; got {reader.fieldnames}")
    return [(number, row) for number, row in enumerate(reader, 2)]


def read_csv(root: Path, split: str, **_):
    """A CSV `<root>/<split>.csv` with columns `path,label`; paths relative to root; labels names (or 0-based ids
    into the sorted names). Classes: the train split's labels."""
    split_file = _require(root / f"{split}.csv", "<root>/{train,test}.csv with columns path,label")
    listed = [
        ListedClip(
            row["path"], find_clip(root / row["path"]), row["label"] or "", source=f"{split_file.name}:{number}"
        )
        for number, row in _csv_rows(split_file)
    ]
    return listed, None


def read_folder(root: Path, split: str, **_):
    """A tree `<root>/<split>/<label>/<clip>` of videos or frame folders. Classes: the train label folders."""
    split_dir = _require(root / split, "<root>/{train,test}/<label>/<clip file or frame folder>")
    listed = [  # a folder holds no lines: its clips are sourced by their place in the tree
        ListedClip(
            f"{label_dir.name}/{clip.name}", clip, label_dir.name, source=f"{split}/{label_dir.name}/{clip.name}"
        )
        for label_dir in sorted(p for p in split_dir.iterdir() if p.is_dir())
        for clip in sorted(label_dir.iterdir())
    ]
    return listed, None


def read_synthetic(root: Path, split: str, **options):
    """The embedded synthetic set (`a3lign data synthesize`): a CSV split in DFEW's class order."""
    listed, _ = read_csv(root, split)
    return listed, ClassSet(DFEW_LABELS, first_number=0, origin="the synthetic set's classes (DFEW's)")


READERS = {
    "dfew": read_dfew,
    "ferv39k": read_ferv39k,
    "mafw": read_mafw,
    "annotation": read_annotation,
    "csv": read_csv,
    "folder": read_folder,
    "synthetic": read_synthetic,
}


def declare_classes(dataset: str, official: ClassSet | None, classes=None, train_listed=None) -> ClassSet:
    """The class set of a dataset: its official list, else `classes` (`--classes`), else the labels of the train
    split's listed clips (`train_listed()`). `classes` on a dataset with an official list must be that list."""
    declared = ClassSet.declared(classes) if classes else None
    if official is not None:
        if declared is not None and declared.names != official.names:
            raise ValueError(
                f"{dataset}'s classes are its official list: {', '.join(official.names)}; "
                f"got --classes {','.join(declared.names)} (--classes is for annotation, csv and folder)"
            )
        return official
    if declared is not None:
        return declared
    return ClassSet.from_labels(
        [(item.label, item.source) for item in train_listed()], origin="the train split's labels"
    )


def load_split(
    dataset: str, data_root, split: str, fold=None, strict: bool = False, classes=None, **options
) -> SplitReport:
    """List and validate one split of a dataset. Returns the `SplitReport` (its `.clips` are the valid ones).

    Args:
        dataset: one of `DATASET_NAMES`.
        data_root: the dataset's root folder, laid out as its official release.
        split: `"train"` or `"test"`.
        fold: 1..5 for DFEW and MAFW.
        strict: raise `ValueError` on any problem, or when no clip is valid, instead of skipping clips.
        classes: the class names in class order (`--classes`: a comma-separated string or a sequence), for
            datasets without an official list; default: the train split's labels.
        **options: reader options (`dfew_frames`, `annotation_file`).
    """
    if dataset not in READERS:
        raise ValueError(f"unknown dataset {dataset!r}: expected one of {', '.join(DATASET_NAMES)}")
    root = _require(Path(data_root), f"the {dataset} root folder")
    read = READERS[dataset]
    listed, official = read(root, split, fold=fold, **options)
    class_set = declare_classes(
        dataset,
        official,
        classes,
        lambda: listed if split == "train" else read(root, "train", fold=fold, **options)[0],
    )
    report = validate_split(dataset, split, listed, class_set, root)
    if strict:
        report.raise_if_problems()
    return report
