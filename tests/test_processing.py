"""A3lignVideoProcessor and the shared sampler on real files: containers, codecs, sizes, lengths, bad input."""

import concurrent.futures
import tracemalloc

import numpy as np
import pytest
import torch
from PIL import Image

from a3lign import A3lignVideoProcessor
from a3lign.data import cut_view, sampled_frames, training_view
from a3lign.decoding_a3lign import read_clip_frames, sample_segment_indices

from .videos import FORMATS, coded_frames, decode_index, noise_frames, write_frame_folder, write_video


@pytest.fixture(scope="module")
def processor():
    return A3lignVideoProcessor()


def centres(total, num=16):
    return [int((i + 0.5) * total / num) for i in range(num)]


# ----- the sampler --------------------------------------------------------------------------------
@pytest.mark.parametrize("total", [1, 3, 15, 16, 17, 47, 300, 10_000])
def test_sampler_centres_random_and_padding(total):
    evaluation = sample_segment_indices(total, 16)
    if total < 16:
        assert evaluation == list(range(total)) + [total - 1] * (16 - total)
    else:
        assert evaluation == centres(total)
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        training = sample_segment_indices(total, 16, training=True, generator=generator)
        if total < 16:
            assert training == evaluation
        else:
            for i, index in enumerate(training):  # one frame inside each segment
                assert i * total // 16 <= index < (i + 1) * total // 16
    if total >= 32:  # random sampling actually varies
        draws = {tuple(sample_segment_indices(total, 16, True, generator)) for _ in range(5)}
        assert len(draws) > 1


# ----- files of every container and codec ----------------------------------------------------------
@pytest.mark.parametrize("suffix, codec, pix_fmt, odd", FORMATS, ids=[f"{f[0]}-{f[1]}" for f in FORMATS])
@pytest.mark.parametrize("length", [1, 3, 16, 300])
def test_every_container_and_codec(tmp_path, processor, suffix, codec, pix_fmt, odd, length):
    height, width = (61, 97) if odd else (62, 98)
    path = write_video(tmp_path / f"clip.{suffix}", coded_frames(length, height, width), codec, pix_fmt)
    out = processor(str(path), return_metadata=True)
    assert out["pixel_values_videos"].shape == (1, 16, 3, 112, 112)
    expected = sample_segment_indices(length, 16)
    assert out["video_metadata"][0].frames_indices == expected
    ((frames, indices),) = sampled_frames(processor, path)  # what training decodes, before resizing
    assert frames.shape == (16, height, width, 3) and frames.dtype == np.uint8 and indices == expected
    assert [decode_index(f) for f in frames] == expected


def test_variable_frame_rate(tmp_path, processor):
    """Frames 20, 80, 140 ms apart in turn: each sampled frame is the one on screen at its segment's centre of time
    (the last frame lasting the mean gap), not the one at its centre of indices."""
    path = write_video(tmp_path / "vfr.mp4", coded_frames(40, 62, 98), "libx264", "yuv420p", vfr=True)
    frames, metadata = processor.fetch_videos(str(path), processor.sample_frames)
    assert metadata.total_num_frames == 40
    times = np.cumsum([0] + [20 + 60 * (t % 3) for t in range(39)])
    duration = times[-1] * 40 / 39
    expected = [int(np.searchsorted(times, (i + 0.5) * duration / 16, side="right") - 1) for i in range(16)]
    assert [decode_index(f) for f in frames] == expected != centres(40)
    assert [decode_index(f) for f in sampled_frames(processor, path)[0][0]] == expected
    assert metadata.fps == pytest.approx(40 / duration * 1000) and metadata.duration == pytest.approx(duration / 1000)


def test_grayscale_and_alpha_inputs(tmp_path, processor):
    gray = coded_frames(20)[..., 0]
    video = write_video(tmp_path / "gray.mov", gray, "png", "gray")
    rgba_folder = tmp_path / "rgba"
    rgba_folder.mkdir()
    for t, frame in enumerate(coded_frames(20)):
        Image.fromarray(np.dstack([frame, np.full(frame.shape[:2], 128, np.uint8)])).save(rgba_folder / f"{t}.png")
    pil_gray = [Image.fromarray(f) for f in gray]
    for clip in (str(video), gray, pil_gray, str(rgba_folder), torch.from_numpy(gray)):
        out = processor(clip)["pixel_values_videos"]
        assert out.shape == (1, 16, 3, 112, 112), type(clip)
    # gray becomes three equal channels before normalisation
    ((frames, _),) = sampled_frames(processor, video)
    assert np.array_equal(frames[..., 0], frames[..., 1]) and np.array_equal(frames[..., 1], frames[..., 2])


def test_frame_folder_equals_lossless_video(tmp_path, processor):
    frames = noise_frames(23)
    folder = write_frame_folder(tmp_path / "frames", frames)
    video = write_video(tmp_path / "lossless.mov", frames, "qtrle", "rgb24")
    from_folder = processor(str(folder))["pixel_values_videos"]
    from_video = processor(str(video))["pixel_values_videos"]
    from_array = processor(frames)["pixel_values_videos"]
    assert torch.equal(from_folder, from_video) and torch.equal(from_folder, from_array)


def test_frame_folder_sorts_naturally(tmp_path, processor):
    folder = write_frame_folder(tmp_path / "frames", coded_frames(12), suffix="jpg", start=1)  # 1.jpg .. 12.jpg
    ((frames, _),) = sampled_frames(processor, folder, num_frames=12)
    assert [decode_index(f) for f in frames] == list(range(12))


def test_in_memory_inputs_and_batches(processor):
    array = noise_frames(30)
    inputs = {
        "numpy THWC": array,
        "numpy float": array.astype(np.float32) / 255,
        "torch TCHW": torch.from_numpy(array).permute(0, 3, 1, 2),
        "PIL list": [Image.fromarray(f) for f in array],
    }
    reference = processor(array)["pixel_values_videos"]
    for name, clip in inputs.items():
        torch.testing.assert_close(processor(clip)["pixel_values_videos"], reference, msg=name, atol=1e-6, rtol=0)
    batch = processor([array, inputs["PIL list"], array[:5]])["pixel_values_videos"]
    assert batch.shape == (3, 16, 3, 112, 112)
    assert processor(np.stack([array, array]))["pixel_values_videos"].shape == (2, 16, 3, 112, 112)
    assert processor(array, num_frames=8)["pixel_values_videos"].shape == (1, 8, 3, 112, 112)


# ----- input forms: transformers' batching rules ------------------------------------------------------
SHORT = noise_frames(8, 35, 22)  # 8 frames of 35 x 22: shorter than the 16 sampled, so padded


@pytest.mark.parametrize(
    "form, clip",
    [
        ("list of numpy frames", list(SHORT)),
        ("list of PIL images", [Image.fromarray(f) for f in SHORT]),
        ("(T, H, W, C) array", SHORT),
        ("(T, C, H, W) tensor", torch.from_numpy(SHORT).permute(0, 3, 1, 2)),
        ("list of float frames", [f.astype(np.float32) / 255 for f in SHORT]),
    ],
)
def test_one_clip_in_every_form(processor, form, clip):
    out = processor(clip, return_metadata=True)
    assert out["pixel_values_videos"].shape == (1, 16, 3, 112, 112), form
    assert out["video_metadata"][0].frames_indices == list(range(8)) + [7] * 8  # padded: repeated indices kept
    torch.testing.assert_close(out["pixel_values_videos"], processor(SHORT)["pixel_values_videos"], atol=1e-6, rtol=0)


def test_batches_in_every_form(processor):
    other = noise_frames(20, 35, 22, seed=1)
    expected = torch.cat([processor(SHORT)["pixel_values_videos"], processor(other)["pixel_values_videos"]])
    batches = {
        "list of arrays": [SHORT, other],
        "list of lists of numpy frames": [list(SHORT), list(other)],
        "list of lists of PIL images": [[Image.fromarray(f) for f in SHORT], [Image.fromarray(f) for f in other]],
        "list of tensors": [torch.from_numpy(SHORT), torch.from_numpy(other)],
    }
    for name, batch in batches.items():
        torch.testing.assert_close(processor(batch)["pixel_values_videos"], expected, atol=1e-6, rtol=0, msg=name)
    five_d = np.stack([SHORT, SHORT[::-1]])  # (B, T, H, W, C)
    expected = torch.cat(
        [processor(SHORT)["pixel_values_videos"], processor(SHORT[::-1].copy())["pixel_values_videos"]]
    )
    for name, batch in {
        "5-D array": five_d,
        "5-D tensor": torch.from_numpy(five_d),
        "5-D (B, T, C, H, W) tensor": torch.from_numpy(five_d).permute(0, 1, 4, 2, 3),
    }.items():
        torch.testing.assert_close(processor(batch)["pixel_values_videos"], expected, atol=1e-6, rtol=0, msg=name)
    one_image = processor(Image.fromarray(SHORT[0]))["pixel_values_videos"]
    assert one_image.shape == (1, 16, 3, 112, 112) and all(torch.equal(one_image[0, 0], f) for f in one_image[0])
    with pytest.raises(ValueError, match="no clip given"):
        processor([])


def test_paths_and_lists_of_paths(processor, tmp_path):
    video = write_video(tmp_path / "clip.mp4", noise_frames(25, 62, 98), "libx264", "yuv420p")
    folder = write_frame_folder(tmp_path / "frames", noise_frames(11, 40, 50, seed=2))
    singles = [processor(str(path))["pixel_values_videos"] for path in (video, folder)]
    assert all(single.shape == (1, 16, 3, 112, 112) for single in singles)
    assert torch.equal(processor(video)["pixel_values_videos"], singles[0])  # a pathlib.Path
    assert torch.equal(processor([str(video), folder])["pixel_values_videos"], torch.cat(singles))
    # A batch mixing files and frames keeps its order.
    mixed = processor([SHORT, str(video), [Image.fromarray(f) for f in SHORT]], return_metadata=True)
    assert mixed["pixel_values_videos"].shape == (3, 16, 3, 112, 112) and len(mixed["video_metadata"]) == 3
    assert torch.equal(mixed["pixel_values_videos"][1:2], singles[0])
    assert torch.equal(mixed["pixel_values_videos"][0], mixed["pixel_values_videos"][2])


def test_processing_is_resize_crop_normalise(processor):
    """Flat grey frames normalise to CLIP's (grey - mean) / std everywhere."""
    clip = np.full((4, 50, 300, 3), 200, np.uint8)
    out = processor(clip)["pixel_values_videos"][0]
    mean, std = torch.tensor(processor.image_mean), torch.tensor(processor.image_std)
    expected = (200 / 255 - mean) / std
    torch.testing.assert_close(out.mean(dim=(0, 2, 3)), expected, atol=1e-3, rtol=0)


def test_augment_uses_one_crop_and_flip_per_clip(processor):
    base = noise_frames(1, 120, 160)[0]
    clip = np.stack([base] * 16)
    views = [cut_view(processor, clip, training_view(), torch.Generator().manual_seed(seed)) for seed in range(6)]
    for view in views:
        assert view.shape == (16, 3, 112, 112)
        assert all(torch.equal(view[0], view[t]) for t in range(16))  # identical frames stay identical
    assert len({view[0].sum().item() for view in views}) > 1  # but views differ between draws
    centre = processor(clip)["pixel_values_videos"][0]
    assert centre.shape == views[0].shape  # same geometry as inference


# ----- save / load --------------------------------------------------------------------------------
def test_from_model_config_and_check_matches(tester):
    config = tester.get_config(image_size=64, num_frames=8)
    processor = A3lignVideoProcessor.from_model_config(config)
    assert (processor.crop_size.height, processor.num_frames, processor.size.shortest_edge) == (64, 8, 69)
    processor.check_matches(config)
    with pytest.raises(ValueError, match="does not match the model"):
        A3lignVideoProcessor().check_matches(config)


# ----- bad input ----------------------------------------------------------------------------------
def no_hang(function, *args, **kwargs):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args, **kwargs).result(timeout=30)


def test_missing_path(processor, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.mp4"):
        no_hang(processor, str(tmp_path / "nowhere.mp4"))


@pytest.mark.parametrize(
    "kind", ["text", "empty", "truncated", "no_frames", "audio_only", "empty_folder", "bad_image"]
)
def test_bad_files_raise_value_errors_naming_them(processor, tmp_path, kind):
    import av

    if kind == "text":
        path = tmp_path / "notes.mp4"
        path.write_text("this is not a video\n" * 50)
    elif kind == "empty":
        path = tmp_path / "empty.mp4"
        path.touch()
    elif kind == "truncated":
        full = write_video(tmp_path / "full.mp4", noise_frames(30, 62, 98), "libx264", "yuv420p")
        path = tmp_path / "truncated.mp4"
        path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    elif kind == "no_frames":
        # The index lists packets, but their payload (the mdat atom) is zeroed: nothing decodes.
        full = write_video(tmp_path / "full.mp4", noise_frames(10, 62, 98), "libx264", "yuv420p")
        data = bytearray(full.read_bytes())
        start, end = data.index(b"mdat") + 4, data.index(b"moov") - 4
        data[start:end] = bytes(end - start)
        path = tmp_path / "noframes.mp4"
        path.write_bytes(bytes(data))
    elif kind == "audio_only":
        path = tmp_path / "audio.mkv"
        with av.open(str(path), "w") as container:
            stream = container.add_stream("pcm_s16le", rate=8000)
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
            frame.sample_rate = 8000
            for packet in stream.encode(frame):
                container.mux(packet)
    elif kind == "empty_folder":
        path = tmp_path / "frames"
        path.mkdir()
        (path / "readme.txt").write_text("no images here")
    else:
        path = write_frame_folder(tmp_path / "frames", coded_frames(16))
        (path / "5.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(ValueError) as error:
        no_hang(processor, str(path))
    message = str(error.value)
    assert path.name in message
    expected = {
        "empty_folder": "no images",
        "bad_image": "5.png",
        "no_frames": "no decodable frames",
        "audio_only": "no video stream",
        "empty": "empty file",
    }.get(kind, "")
    assert expected in message


def test_batch_error_names_the_bad_item(processor, tmp_path):
    good = write_video(tmp_path / "good.mp4", noise_frames(10, 62, 98), "libx264", "yuv420p")
    bad = tmp_path / "bad.mp4"
    bad.write_text("nope")
    with pytest.raises(ValueError, match=r"batch item 1 \('.*bad.mp4'\)"):
        processor([str(good), str(bad), str(good)])
    with pytest.raises(FileNotFoundError, match=r"batch item 2 .*gone.mp4"):
        processor([str(good), str(good), str(tmp_path / "gone.mp4")])


@pytest.mark.parametrize(
    "clip, match",
    [
        (np.zeros((0, 8, 8, 3), np.uint8), "T >= 1"),
        (np.zeros((4, 8, 8, 2), np.uint8), "1, 3 or 4 channels"),
        (np.full((4, 8, 8, 3), 2.0, np.float32), r"\[0, 1\]"),
        ([Image.new("RGB", (8, 8)), Image.new("RGB", (9, 8))], "differ in size"),
        (42, "cannot read a clip from int"),
        (["a.mp4", 42], "batch item 1: cannot read a clip from int"),
    ],
)
def test_bad_arrays(processor, clip, match):
    with pytest.raises(ValueError, match=match):
        processor(clip)


# ----- memory -------------------------------------------------------------------------------------
def test_a_long_video_keeps_only_the_sampled_frames(tmp_path, processor):
    """10,000 frames of 32 x 32 (30 MB decoded) must never be held: only the 16 sampled frames are."""
    path = write_video(tmp_path / "long.mkv", coded_frames(10_000, 32, 32), "ffv1", "yuv444p")
    tracemalloc.start()
    frames, indices, info = read_clip_frames(path, 16)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert info.num_frames == 10_000 and indices == centres(10_000)
    assert [decode_index(f) for f in frames] == [i % 4096 for i in indices]
    frame_bytes = 32 * 32 * 3
    assert peak < 200 * frame_bytes, (
        f"peak {peak / 1e6:.1f} MB: frames were retained"
    )  # 16 kept; 10,000 would be 30 MB


def test_channels_first_frames_and_gray_clips_are_read_as_meant():
    """Review of issue 11: a (3, H, W) image or a list of such frames was read as 3-frame gray clips, and a
    list of gray (T, H, W) clips was one clip to the pipeline but a batch to the processor."""
    from a3lign.processing_a3lign import is_single_clip

    processor = A3lignVideoProcessor(num_frames=4, crop_size={"height": 16, "width": 16}, size={"shortest_edge": 16})
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.integers(0, 256, (3, 20, 24), dtype=np.uint8))
    frames = [torch.from_numpy(rng.integers(0, 256, (3, 20, 24), dtype=np.uint8)) for _ in range(8)]
    gray_clips = [rng.integers(0, 256, (5, 20, 24), dtype=np.uint8) for _ in range(3)]
    for inputs, clips in ((image, 1), (frames, 1), (gray_clips, 3), (np.stack(gray_clips)[..., None], 3)):
        assert processor(inputs)["pixel_values_videos"].shape == (clips, 4, 3, 16, 16)
        assert is_single_clip(inputs) == (clips == 1)
    # The channels-first image is the same image as its channels-last copy.
    torch.testing.assert_close(
        processor(image)["pixel_values_videos"], processor(image.permute(1, 2, 0).numpy())["pixel_values_videos"]
    )
