"""Miniature copies of the datasets' official layouts, with their defects, for readers and commands."""

from pathlib import Path

from .videos import noise_frames, write_frame_folder


def small_dfew(root: Path) -> Path:
    """DFEW fold 1: 6 training rows (one unknown label, one missing folder, one empty folder), 1 test row."""
    split_dir = root / "EmoLabel_DataSplit" / "train(single-labeled)"
    split_dir.mkdir(parents=True)
    rows = [(1, 1), (2, 6), (3, 7), (4, 3), (5, 9), (6, 2)]  # 5: label 9 is unknown; 6: no folder
    (split_dir / "set_1.csv").write_text("video_name,label\n" + "".join(f"{v},{l}\n" for v, l in rows))
    test_dir = root / "EmoLabel_DataSplit" / "test(single-labeled)"
    test_dir.mkdir()
    (test_dir / "set_1.csv").write_text("video_name,label\n1,1\n")
    for video, _ in rows[:4]:
        write_frame_folder(root / "Clip" / "clip_224x224" / f"{video:05d}", noise_frames(20 + video, 24, 32), suffix="jpg")
        write_frame_folder(root / "Clip" / "clip_224x224_16f" / f"{video:05d}", noise_frames(16, 24, 32), suffix="jpg")
    (root / "Clip" / "clip_224x224" / "00003").rename(root / "Clip" / "clip_224x224" / "moved")
    (root / "Clip" / "clip_224x224" / "00003").mkdir()  # now empty
    return root
