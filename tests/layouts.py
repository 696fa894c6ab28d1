"""Miniature copies of the datasets' official layouts, with their defects, for readers and commands."""

from pathlib import Path

from .videos import noise_frames, write_frame_folder


def small_dfew(root: Path) -> Path:
    """DFEW fold 1: 6 training rows (one unknown label, one missing folder, one empty folder), 1 test row."""
    split_dir = root / "EmoLabel_DataSplit" / "train(single-labeled)"
    split_dir.mkdir(parents=True)
    rows = [(1, 1), (2, 6), (3, 7), (4, 3), (5, 9), (6, 2)]  # 5: label 9 is unknown; 6: no folder
    (split_dir / "set_1.csv").write_text("video_name,label\n" + "".join(f"{v},{label}\n" for v, label in rows))
    test_dir = root / "EmoLabel_DataSplit" / "test(single-labeled)"
    test_dir.mkdir()
    (test_dir / "set_1.csv").write_text("video_name,label\n1,1\n")
    for video, _ in rows[:4]:
        write_frame_folder(
            root / "Clip" / "clip_224x224" / f"{video:05d}", noise_frames(20 + video, 24, 32), suffix="jpg"
        )
        write_frame_folder(root / "Clip" / "clip_224x224_16f" / f"{video:05d}", noise_frames(16, 24, 32), suffix="jpg")
    (root / "Clip" / "clip_224x224" / "00003").rename(root / "Clip" / "clip_224x224" / "moved")
    (root / "Clip" / "clip_224x224" / "00003").mkdir()  # now empty
    return root


def tiny_clip(folder: Path, seed: int = 0) -> Path:
    """A 2-frame folder of 8 x 8 images: the cheapest clip that decodes."""
    return write_frame_folder(folder, noise_frames(2, 8, 8, seed=seed), suffix="png")


def labelled_csv(root: Path, split: str, rows: list[tuple[str, str]], make_clips: bool = True) -> Path:
    """`<root>/<split>.csv` with `path,label` rows, written as given; each listed path that does not exist yet
    becomes a tiny clip (a frame folder) unless `make_clips` is False."""
    root.mkdir(parents=True, exist_ok=True)
    for k, (path, _) in enumerate(rows):
        if make_clips and not (root / path).exists():
            tiny_clip(root / path, seed=k)
    (root / f"{split}.csv").write_text("path,label\n" + "".join(f"{path},{label}\n" for path, label in rows))
    return root


def undecodable_video(path: Path) -> Path:
    """An mp4 whose header and packets read (header-only scans pass) but whose frames do not decode: the
    payload of a valid file, zeroed."""
    from .videos import write_video

    write_video(path, noise_frames(10, 32, 32), "libx264", "yuv420p")
    data = bytearray(path.read_bytes())
    start = data.find(b"mdat")
    size = int.from_bytes(data[start - 4 : start], "big")
    data[start + 4 : start - 4 + size] = bytes(size - 8)
    path.write_bytes(bytes(data))
    return path


def corrupt_frame_folder(folder: Path) -> Path:
    """A frame folder whose images list fine but whose last image is garbage."""
    tiny_clip(folder)
    (folder / "2.png").write_bytes(b"garbage")
    return folder
