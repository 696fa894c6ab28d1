"""The torch and datasets views of a split's clips, and clip decoding errors."""

import pytest
import torch

from a3lign import A3lignVideoProcessor
from a3lign.data import ClipDataset, ClipView, clip_pixels, evaluation_views, load_split, training_view
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
    evaluation = ClipDataset(report.clips, processor)
    sample = evaluation[1]
    assert sample["labels"] == 1 and sample["pixel_values_videos"].shape == (8, 3, 56, 56)
    assert torch.equal(sample["pixel_values_videos"], processor(str(tmp_path / "1.mp4"))["pixel_values_videos"][0])
    training = ClipDataset(report.clips, processor, training_view())
    assert training[0]["pixel_values_videos"].shape == (8, 3, 56, 56)
    loader = torch.utils.data.DataLoader(training, batch_size=2, num_workers=2)  # decoding in workers
    batches = list(loader)
    assert [b["pixel_values_videos"].shape for b in batches] == [(2, 8, 3, 56, 56)] * 2
    hf = evaluation.to_hf_dataset()
    assert hf.column_names == ["clip_id", "path", "label"] and len(hf) == 4
    assert torch.equal(hf[1]["pixel_values_videos"], sample["pixel_values_videos"]) and hf[1]["labels"] == 1
    # Multi-view testing: 2 x 2 views stacked; the centre view of a 1 x 1 set is the pipeline's view.
    multi = ClipDataset(report.clips, processor, evaluation_views(2, 2))[1]["pixel_values_videos"]
    assert multi.shape == (4, 8, 3, 56, 56) and len({v.sum().item() for v in multi}) == 4
    # Each view exactly its own clip_pixels, with the clip decoded once (not once per view).
    for view, pixels in zip(evaluation_views(2, 2), multi):
        assert torch.equal(pixels, clip_pixels(processor, report.clips[1].path, view))
    import a3lign.data.views as views_module

    decodes = []
    read = views_module.read_sampled_frames
    views_module.read_sampled_frames = lambda *args, **kwargs: decodes.append(args[0]) or read(*args, **kwargs)
    try:
        ClipDataset(report.clips, processor, evaluation_views(2, 2))[1]
    finally:
        views_module.read_sampled_frames = read
    assert len(decodes) == 1
    (centre,) = evaluation_views(1, 1)
    assert centre == ClipView()


def test_fixed_views_take_the_segment_offset_and_crop_position(tmp_path):
    """A view shifted in time reads other frames; corner crops are the corners of the resized frames."""
    from a3lign.data import clip_pixels, cut_view

    from ..videos import coded_frames, decode_index

    folder = write_frame_folder(tmp_path / "clip", coded_frames(32, 64, 64))
    processor = A3lignVideoProcessor(
        num_frames=4,
        crop_size={"height": 32, "width": 32},
        size={"shortest_edge": 64},
        do_normalize=False,
        do_rescale=False,
    )
    early, late = (clip_pixels(processor, folder, ClipView(segment_offset=o)) for o in (0.0, 0.75))
    indices = lambda pixels: [decode_index(frame.permute(1, 2, 0).numpy()) for frame in pixels]  # noqa: E731
    assert indices(early) == [0, 8, 16, 24] and indices(late) == [6, 14, 22, 30]
    frames_ = noise_frames(1, 64, 64, seed=3)
    chw = torch.from_numpy(frames_).permute(0, 3, 1, 2)
    corner = cut_view(processor, frames_, ClipView(crop_position=(1.0, 1.0)))
    assert torch.equal(corner, chw[..., 32:, 32:].float())
    assert torch.equal(
        cut_view(processor, frames_, ClipView()), processor.center_crop(chw, processor.crop_size).float()
    )


@pytest.mark.parametrize("source", ["odd video", "frame folder", "faces"])
def test_the_pipelines_view_is_the_processors_own_pixels(tmp_path, source):
    """`ClipView()` through the views' own steps equals what the processor (transformers' transform) gives the
    pipeline, pixel for pixel: on frames whose resized margin is odd (the centre crop's rounding), a frame folder,
    and with face crops."""
    from ..scenes import astronaut_video

    if source == "odd video":
        path = write_video(tmp_path / "odd.mp4", noise_frames(30, 61, 97), "libx264", "yuv444p")
    elif source == "frame folder":
        path = write_frame_folder(tmp_path / "clip", noise_frames(23, 50, 75))
    else:
        path = write_video(tmp_path / "face.mp4", astronaut_video(30, face_side=50)[0], "libx264", "yuv444p")
    processor = A3lignVideoProcessor(
        num_frames=8, crop_size={"height": 56, "width": 56}, size={"shortest_edge": 60}, face_crop=source == "faces"
    )
    pipeline = processor(str(path))["pixel_values_videos"][0]
    assert torch.equal(clip_pixels(processor, path, ClipView()), pipeline)
    shifted = clip_pixels(processor, path, ClipView(crop_position=(0.0, 0.0)))
    assert source == "faces" or not torch.equal(shifted, pipeline)  # the view's crop is its own


@pytest.mark.parametrize("face_crop", [False, True])
def test_views_decoded_together_are_each_views_own_pixels(tmp_path, face_crop):
    """The pipeline's view, fixed views and random training views (each with its generator), face crops or not:
    `clip_views` gives exactly what `clip_pixels` gives view by view, from one decode."""
    from a3lign.data import clip_views

    from ..scenes import astronaut_video

    path = write_video(tmp_path / "clip.mp4", astronaut_video(30, face_side=50)[0], "libx264", "yuv444p")
    processor = A3lignVideoProcessor(
        num_frames=8, crop_size={"height": 56, "width": 56}, size={"shortest_edge": 60}, face_crop=face_crop
    )
    views = [ClipView(), *evaluation_views(2, 2), training_view(), training_view()]
    seeds = [None] * 5 + [11, 12]
    together = clip_views(
        processor, path, views, [None if s is None else torch.Generator().manual_seed(s) for s in seeds]
    )
    for view, seed, pixels in zip(views, seeds, together):
        alone = clip_pixels(processor, path, view, None if seed is None else torch.Generator().manual_seed(seed))
        assert torch.equal(pixels, alone), view
    assert not torch.equal(together[5], together[6])  # two training views, two draws


def test_unreadable_image_in_a_folder_names_the_file(tmp_path):
    folder = frames(tmp_path / "clip", count=16, suffix="png")
    (folder / "3.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"3\.png"):
        read_clip_frames(folder, 16)


# ----- a clip that fails to decode mid-run --------------------------------------------------------
def small_split(tmp_path):
    """Four decodable clips, two per class (a, b: calm; c, d: tense), read as a CSV split."""
    from ..layouts import labelled_csv

    labelled_csv(tmp_path, "train", [("a", "calm"), ("b", "calm"), ("c", "tense"), ("d", "tense")])
    return load_split("csv", tmp_path, "train").clips


def test_an_undecodable_clip_is_replaced_by_a_class_mate_and_recorded(tmp_path):
    """Through a DataLoader with 2 workers: the broken clip yields its class-mate's pixels, one failure recorded."""
    from a3lign.data import DecodeFailures

    from ..layouts import corrupt_frame_folder

    clips = small_split(tmp_path)
    corrupt_frame_folder(tmp_path / "a")  # broken after the split was checked: as it happens mid-run
    processor = A3lignVideoProcessor(num_frames=2, crop_size={"height": 8, "width": 8}, size={"shortest_edge": 8})
    failures = DecodeFailures(tmp_path / "run" / "decode_failures.jsonl")
    dataset = ClipDataset(clips, processor, failures=failures, split="train")
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=2)
    samples = list(loader)
    assert [int(s["labels"]) for s in samples] == [0, 0, 1, 1]
    assert torch.equal(samples[0]["pixel_values_videos"], samples[1]["pixel_values_videos"])  # b stands in for a
    dataset[0]  # met again (another epoch, another rank): still one failure
    (failure,) = failures.read()
    assert failure["clip_id"] == "a" and failure["split"] == "train" and failure["substitute"] == "b"
    assert "2.png" in failure["error"] and failure["path"] == str(tmp_path / "a")
    assert len(failures) == 1
    with pytest.raises(ValueError, match=r"clip 'a' .*cannot be decoded.*2\.png"):
        ClipDataset(clips, processor, failures=failures, strict=True, split="train")[0]
    with pytest.raises(ValueError, match=r"2\.png"):  # without a record of failures, nothing is substituted
        ClipDataset(clips, processor)[0]
    corrupt_frame_folder(tmp_path / "b")
    with pytest.raises(ValueError, match=r"clip 'a' .*no other clip of class 0 in the train split decodes"):
        dataset[0]
    assert [f["clip_id"] for f in failures.read()] == ["a", "b"]


def test_pixels_or_substitute_takes_any_reader(tmp_path):
    """The same substitute-and-record step for any `read(path)`, e.g. the frame cache's extraction."""
    from a3lign.data import DecodeFailures, pixels_or_substitute

    clips = small_split(tmp_path)

    def read(path):
        if path.name in ("c", "d"):
            raise FileNotFoundError(f"clip '{path}' does not exist")
        return path.name

    failures = DecodeFailures(tmp_path / "failures.jsonl")
    assert pixels_or_substitute(clips, 1, read, failures) == "b"
    with pytest.raises(FileNotFoundError, match=r"clip 'c' .*no other clip of class 1 in the test split decodes"):
        pixels_or_substitute(clips, 2, read, failures, split="test")
    assert [(f["clip_id"], f["split"]) for f in failures.read()] == [("c", "test"), ("d", "test")]
    with pytest.raises(FileNotFoundError, match=r"clip 'c' .*cannot be decoded"):
        pixels_or_substitute(clips, 2, read, failures, strict=True)
