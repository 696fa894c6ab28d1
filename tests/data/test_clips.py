"""The torch and datasets views of a split's clips, and clip decoding errors."""

import pytest
import torch

from a3lign import A3lignVideoProcessor
from a3lign.data import ClipDataset, load_split
from a3lign.decoding_a3lign import read_clip_frames

from ..videos import noise_frames, write_frame_folder, write_video


def frames(folder, count=5, suffix="jpg"):
    return write_frame_folder(folder, noise_frames(count, 24, 32), suffix=suffix)


def test_clip_dataset_yields_model_inputs(tmp_path):
    for k in range(4):
        write_video(tmp_path / f"{k}.mp4", noise_frames(20 + k, 62, 98, seed=k), "libx264", "yuv420p")
    (tmp_path / "train.csv").write_text("path,label\n" + "".join(f"{k}.mp4,{'ab'[k % 2]}\n" for k in range(4)))
    report = load_split("csv", tmp_path, "train")
    processor = A3lignVideoProcessor(num_frames=8, crop_size={"height": 56, "width": 56}, size={"shortest_edge": 60})
    evaluation = ClipDataset(report.clips, processor, training=False)
    sample = evaluation[1]
    assert sample["labels"] == 1 and sample["pixel_values_videos"].shape == (8, 3, 56, 56)
    assert torch.equal(sample["pixel_values_videos"], processor(str(tmp_path / "1.mp4"))["pixel_values_videos"][0])
    training = ClipDataset(report.clips, processor, training=True)
    assert training[0]["pixel_values_videos"].shape == (8, 3, 56, 56)
    loader = torch.utils.data.DataLoader(training, batch_size=2, num_workers=2)  # decoding in workers
    batches = list(loader)
    assert [b["pixel_values_videos"].shape for b in batches] == [(2, 8, 3, 56, 56)] * 2
    hf = evaluation.to_hf_dataset()
    assert hf.column_names == ["clip_id", "path", "label"] and len(hf) == 4
    assert torch.equal(hf[1]["pixel_values_videos"], sample["pixel_values_videos"]) and hf[1]["labels"] == 1


def test_unreadable_image_in_a_folder_names_the_file(tmp_path):
    folder = frames(tmp_path / "clip", count=16, suffix="png")
    (folder / "3.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"3\.png"):
        read_clip_frames(folder, 16)


