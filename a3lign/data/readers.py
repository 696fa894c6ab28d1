"""Readers of the official split files: DFEW, FERV39k, MAFW, annotation lists, CSVs, folder trees.

Each reader lists the split's clips (`ListedClip`) and how its labels map to a fixed class order
(`id2label`, documented per dataset); `load_split` validates them against the disk.
"""

import csv
import io
import re
from pathlib import Path

from ..configuration_a3lign import DFEW_LABELS
from .clips import ListedClip, SplitReport, find_clip, validate_split

# MAFW's native order (its label 1..11); FERV39k uses DFEW's seven names and order.
MAFW_LABELS = (
    "anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise",
    "contempt", "anxiety", "helplessness", "disappointment",
)
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


def _name_or_number(names, one_based: bool):
    """Label parser: a class name (case-insensitive) or its number."""
    lookup = {name.lower(): i for i, name in enumerate(names)}

    def to_index(label):
        text = str(label).strip()
        if text.lstrip("-").isdigit():
            index = int(text) - (1 if one_based else 0)
            if not 0 <= index < len(names):
                raise KeyError(label)
            return index
        return lookup[text.lower()]

    return to_index


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
    return listed, _name_or_number(DFEW_LABELS, one_based=True), DFEW_LABELS


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
            ListedClip(relative, find_clip(root / "2_ClipsforFaceCrop" / relative), parts[-2], source=f"{split_file.name}:{number}")
        )
    return listed, _name_or_number(DFEW_LABELS, one_based=False), DFEW_LABELS


def read_mafw(root: Path, split: str, fold=None, **_):
    """MAFW single-label: `Train_Test_Set/single/.../set_K/{train,test}.txt`, `<clip> <label>` per line.

    Separators: tab, space or comma; encoding UTF-8 or GBK; label: a name of `MAFW_LABELS` or its number
    1..11. Clips: `data/clips/<id>.mp4`, else frame folders `data/frames/<id>` or `data/faces/<id>`.
    """
    fold = _check_fold("mafw", fold)
    base = _require(root / "Train_Test_Set" / "single", "<root>/Train_Test_Set/single/.../set_{1..5}/{train,test}.txt")
    matches = sorted(base.glob(f"**/set_{fold}/{split}.txt"))
    if not matches:
        raise FileNotFoundError(f"no set_{fold}/{split}.txt under '{base}'; expected layout: <root>/Train_Test_Set/single/.../set_K/{split}.txt")
    split_file = matches[0]
    listed = []
    for number, fields in split_rows(split_file):
        clip_id = Path(fields[0]).stem
        path = find_clip(root / "data" / "clips" / clip_id, root / "data" / "frames" / clip_id, root / "data" / "faces" / clip_id)
        label = fields[1] if len(fields) > 1 else ""
        listed.append(ListedClip(clip_id, path, label, source=f"{split_file.name}:{number}"))
    return listed, _name_or_number(MAFW_LABELS, one_based=True), MAFW_LABELS


def read_annotation(root: Path, split: str, annotation_file: str | None = None, class_names=None, **_):
    """The field's annotation list: `<frame_dir> <num_frames> <label>` (0-based labels), `<root>/<split>.txt`.

    The frame count is taken from the disk; the listed one is only checked.
    """
    split_file = _require(Path(annotation_file) if annotation_file else root / f"{split}.txt", "<root>/{train,test}.txt")
    rows = split_rows(split_file)
    if class_names is None:
        class_names = tuple(f"class_{i}" for i in range(1 + max((int(f[2]) for _, f in rows if len(f) > 2 and f[2].isdigit()), default=1)))
    listed = []
    for number, fields in rows:
        if len(fields) != 3 or not fields[1].isdigit():
            raise ValueError(f"{split_file}:{number}: expected '<frame_dir> <num_frames> <label>', got {' '.join(fields)!r}")
        path = Path(fields[0]) if Path(fields[0]).is_absolute() else root / fields[0]
        listed.append(ListedClip(fields[0], find_clip(path), fields[2], int(fields[1]), f"{split_file.name}:{number}"))
    return listed, _name_or_number(class_names, one_based=False), tuple(class_names)


def _csv_rows(split_file: Path):
    reader = csv.DictReader(io.StringIO(read_text(split_file)))
    if not reader.fieldnames or not {"path", "label"} <= set(reader.fieldnames):
        raise ValueError(f"'{split_file}' must have a header with columns 'path,label'; got {reader.fieldnames}")
    return [(number, row) for number, row in enumerate(reader, 2)]


def read_csv(root: Path, split: str, class_names=None, **_):
    """A CSV `<root>/<split>.csv` with columns `path,label`; paths relative to root; labels names or 0-based ids.

    Class order: `class_names` if given, else the sorted names of the train split.
    """
    split_file = _require(root / f"{split}.csv", "<root>/{train,test}.csv with columns path,label")
    rows = _csv_rows(split_file)
    if class_names is None:
        train_rows = rows if split == "train" else _csv_rows(_require(root / "train.csv", "<root>/train.csv"))
        class_names = tuple(sorted({row["label"] for _, row in train_rows}))
    listed = [
        ListedClip(row["path"], find_clip(root / row["path"]), row["label"], source=f"{split_file.name}:{number}")
        for number, row in rows
    ]
    return listed, _name_or_number(class_names, one_based=False), tuple(class_names)


def read_folder(root: Path, split: str, class_names=None, **_):
    """A tree `<root>/<split>/<label>/<clip>` of videos or frame folders; classes: sorted train label folders."""
    split_dir = _require(root / split, "<root>/{train,test}/<label>/<clip file or frame folder>")
    if class_names is None:
        class_names = tuple(sorted(p.name for p in _require(root / "train", "<root>/train/<label>/").iterdir() if p.is_dir()))
    listed = [
        ListedClip(f"{label_dir.name}/{clip.name}", clip, label_dir.name, source=str(label_dir))
        for label_dir in sorted(p for p in split_dir.iterdir() if p.is_dir())
        for clip in sorted(label_dir.iterdir())
    ]
    return listed, _name_or_number(class_names, one_based=False), tuple(class_names)


def read_synthetic(root: Path, split: str, **options):
    """The embedded synthetic set (`a3lign data synthesize`): a CSV split in DFEW's class order."""
    return read_csv(root, split, class_names=DFEW_LABELS)


READERS = {
    "dfew": read_dfew, "ferv39k": read_ferv39k, "mafw": read_mafw, "annotation": read_annotation,
    "csv": read_csv, "folder": read_folder, "synthetic": read_synthetic,
}


def load_split(dataset: str, data_root, split: str, fold=None, strict: bool = False, **options) -> SplitReport:
    """List and validate one split of a dataset. Returns the `SplitReport` (its `.clips` are the valid ones).

    Args:
        dataset: one of `DATASET_NAMES`.
        data_root: the dataset's root folder, laid out as its official release.
        split: `"train"` or `"test"`.
        fold: 1..5 for DFEW and MAFW.
        strict: raise `ValueError` on any problem instead of skipping the clip.
        **options: reader options (`dfew_frames`, `class_names`, `annotation_file`).
    """
    if dataset not in READERS:
        raise ValueError(f"unknown dataset {dataset!r}: expected one of {', '.join(DATASET_NAMES)}")
    root = _require(Path(data_root), f"the {dataset} root folder")
    listed, to_index, names = READERS[dataset](root, split, fold=fold, **options)
    report = validate_split(dataset, split, listed, to_index, dict(enumerate(names)))
    if strict:
        report.raise_if_problems()
    return report
