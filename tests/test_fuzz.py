"""Fuzzing the processor and the pipeline (issue 11): random shapes, dtypes, channels, frame counts (0 to 300),
sizes (1 to 4096 px on a side, few pixels in all), nesting (clip, list of frames, list of clips, 5-D batch),
corrupted real files (truncated, zeroed, flipped bytes of mp4 / webm / avi files and frame folders), and files
written as phones, cameras and editors write them (display rotations of any angle and mirrors, sample aspect
ratios, irregular and repeated timestamps, thumbnail and cover-art streams, in mp4 / mkv / mov).

Property: a valid output of the documented shape with one result per clip, or a `ValueError` /
`FileNotFoundError` that names the input; never another exception, a hang (each case runs under a time
limit) or a silent change of shape. The number of generated cases is printed at the end of the run.
"""

import shutil
import signal
from contextlib import contextmanager
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from a3lign import A3lignModel, A3lignVideoProcessor
from a3lign.decoding_a3lign import MAX_PIXEL_ASPECT, read_clip_frames

from .videos import noise_frames, write_frame_folder, write_video

NUM_FRAMES, CROP = 4, 32
CASES: dict[str, int] = {}  # reported by conftest's terminal summary
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@contextmanager
def time_limit(seconds: int, what: str):
    def expire(*_):
        raise TimeoutError(f"{what} ran past {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def count(kind: str) -> None:
    CASES[kind] = CASES.get(kind, 0) + 1


@pytest.fixture(scope="module")
def processor():
    return A3lignVideoProcessor(
        num_frames=NUM_FRAMES, crop_size={"height": CROP, "width": CROP}, size={"shortest_edge": CROP + 2}
    )


# ----- in-memory clips ---------------------------------------------------------------------------------
@st.composite
def clip_arrays(draw, max_pixels: int = 60_000):
    """One clip: (T, H, W, C) or (T, C, H, W) or (T, H, W), any dtype, values in or out of range."""
    frames = draw(st.integers(0, 300))
    height = draw(st.one_of(st.integers(1, 24), st.integers(1, 4096)))
    width = draw(st.integers(1, max(1, min(4096, max_pixels // max(1, frames * height)))))
    channels = draw(st.sampled_from([None, 1, 2, 3, 4, 5]))
    layout = draw(st.sampled_from(["last", "first"]))
    dtype = draw(st.sampled_from(["uint8", "uint16", "int16", "float32", "float64", "bool", "float16"]))
    fill = draw(st.sampled_from(["random", "nan", "out_of_range", "constant"]))
    shape = (
        (frames, height, width)
        if channels is None
        else ((frames, height, width, channels) if layout == "last" else (frames, channels, height, width))
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if dtype.startswith("float"):
        array = rng.random(shape).astype(dtype)
        if fill == "nan" and array.size:
            array.flat[0] = np.nan
        elif fill == "out_of_range":
            array *= 3
    elif dtype == "bool":
        array = rng.random(shape) > 0.5
    else:
        high = 1000 if fill == "out_of_range" else 256
        array = rng.integers(0, high, shape).astype(dtype)
    if fill == "constant":
        array = np.zeros_like(array)
    return array


def clip_count_of(inputs) -> int:
    """How many clips an input holds, by the documented rules."""
    if isinstance(inputs, np.ndarray):
        return inputs.shape[0] if inputs.ndim == 5 else 1
    if isinstance(inputs, list) and inputs and all(isinstance(x, np.ndarray) and x.ndim <= 3 for x in inputs):
        return 1  # a list of frames
    return len(inputs)


@st.composite
def nested_inputs(draw):
    kind = draw(st.sampled_from(["clip", "frames", "clips", "batch5"]))
    if kind == "clip":
        return draw(clip_arrays())
    if kind == "frames":
        clip = draw(clip_arrays(max_pixels=20_000))
        return [frame for frame in clip] if clip.ndim == 4 and clip.shape[-1] in (1, 3, 4) else clip
    if kind == "clips":
        return [draw(clip_arrays(max_pixels=20_000)) for _ in range(draw(st.integers(0, 3)))]
    clip = draw(clip_arrays(max_pixels=20_000))
    return np.stack([clip] * draw(st.integers(1, 3))) if clip.ndim == 4 else clip


def check_processor_call(processor, inputs, kind: str):
    count(kind)
    try:
        with time_limit(60, "the processor"):
            output = processor(inputs)["pixel_values_videos"]
    except (ValueError, FileNotFoundError) as error:
        assert str(error).strip(), "an error without a message"
        return None
    assert output.shape == (clip_count_of(inputs), NUM_FRAMES, 3, CROP, CROP), output.shape
    assert torch.isfinite(output).all()
    return output


@FUZZ
@given(inputs=nested_inputs())
def test_processor_on_arrays_gives_one_clip_per_clip_or_a_clear_error(processor, inputs):
    check_processor_call(processor, inputs, "processor, in-memory inputs")


# ----- corrupted files ---------------------------------------------------------------------------------
FILE_FORMATS = {"mp4": ("libx264", "yuv420p"), "webm": ("libvpx-vp9", "yuv420p"), "avi": ("mpeg4", "yuv420p")}


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    folder = tmp_path_factory.mktemp("originals")
    files = {
        suffix: write_video(folder / f"clip.{suffix}", noise_frames(12, 32, 48, seed=3), *codec)
        for suffix, codec in FILE_FORMATS.items()
    }
    files["frames"] = write_frame_folder(folder / "frames", noise_frames(6, 20, 24, seed=4))
    return files


def corrupt(data: bytes, how: str, position: float, amount: int, rng) -> bytes:
    if how == "truncate":
        return data[: int(len(data) * position)]
    start = int(len(data) * position)
    if how == "zero":
        return data[:start] + bytes(min(amount, len(data) - start)) + data[start + amount :]
    flipped = bytearray(data)
    for index in rng.integers(0, len(data), amount):
        flipped[index] ^= 0xFF
    return bytes(flipped)


@FUZZ
@given(
    source=st.sampled_from(["mp4", "webm", "avi", "frames"]),
    how=st.sampled_from(["truncate", "zero", "flip"]),
    position=st.floats(0, 1),
    amount=st.integers(1, 4096),
    seed=st.integers(0, 2**16),
)
def test_processor_on_corrupted_files_gives_a_clip_or_names_the_file(
    processor, originals, tmp_path_factory, source, how, position, amount, seed
):
    rng = np.random.default_rng(seed)
    folder = tmp_path_factory.mktemp("case")
    original = originals[source]
    if source == "frames":
        target = shutil.copytree(original, folder / "frames")
        victim = sorted(target.iterdir())[int(rng.integers(0, 6))]
    else:
        target = victim = folder / original.name
        shutil.copy(original, victim)
    victim.write_bytes(corrupt(victim.read_bytes(), how, position, amount, rng))
    count("processor, corrupted files")
    try:
        with time_limit(60, f"decoding {victim}"):
            output = processor(str(target))["pixel_values_videos"]
    except (ValueError, FileNotFoundError) as error:
        assert victim.name in str(error) or target.name in str(error), f"error does not name the input: {error}"
        return
    assert output.shape == (1, NUM_FRAMES, 3, CROP, CROP)
    assert torch.isfinite(output).all()


# ----- real-file metadata: rotation, pixel aspect, timestamps, extra streams ------------------------------------
@settings(FUZZ, max_examples=60)
@given(
    suffix=st.sampled_from(["mp4", "mkv", "mov"]),
    rotation=st.one_of(st.sampled_from([0, 90, 180, 270, -90]), st.integers(-180, 180)),
    hflip=st.booleans(),
    aspect=st.one_of(st.none(), st.fractions(Fraction(1, 6), 6, max_denominator=12)),
    gaps=st.one_of(st.none(), st.lists(st.integers(1, 400), min_size=11, max_size=11)),
    extra=st.sampled_from(["none", "thumbnail", "cover"]),
    seed=st.integers(0, 2**16),
)
def test_processor_on_real_file_metadata_gives_the_shown_frames_or_names_the_file(
    processor, tmp_path_factory, suffix, rotation, hflip, aspect, gaps, extra, seed
):
    """Every combination reads as a player shows it (the frames' shape follows the rotation and the pixel aspect,
    the samples follow the timestamps) or is refused naming the file (an angle that is not a quarter turn, an
    implausible pixel aspect)."""
    frames = noise_frames(12, 32, 48, seed=seed % 97)
    path = tmp_path_factory.mktemp("metadata") / f"clip.{suffix}"
    options = dict(
        rotation=rotation,
        hflip=hflip,
        sample_aspect=aspect,
        thumbnail=extra == "thumbnail",
        cover=extra == "cover" and suffix != "mkv",
    )
    times = None if gaps is None else np.cumsum([0, *gaps]).tolist()
    write_video(path, frames, "libx264", "yuv444p", times_ms=times, options={"bf": "0"}, **options)
    count("processor, real-file metadata")
    try:
        with time_limit(60, f"decoding {path}"):
            output = processor(str(path))["pixel_values_videos"]
            decoded, indices, info = read_clip_frames(path, NUM_FRAMES)
    except ValueError as error:
        assert path.name in str(error), f"error does not name the input: {error}"
        quarter = rotation % 90 == 0
        wild = aspect is not None and not 1 / MAX_PIXEL_ASPECT <= aspect <= MAX_PIXEL_ASPECT
        assert (not quarter and "only quarter turns" in str(error)) or (wild and "aspect ratio" in str(error)), error
        return
    assert output.shape == (1, NUM_FRAMES, 3, CROP, CROP) and torch.isfinite(output).all()
    width, height = 48, 32
    if aspect is not None and aspect != 1:
        width, height = (round(width * aspect), height) if aspect > 1 else (width, round(height / aspect))
    turned = rotation % 180 == 90 and rotation % 90 == 0
    assert decoded.shape[1:3] == ((width, height) if turned else (height, width)), (decoded.shape, rotation, aspect)
    assert info.num_frames == 12 and indices == sorted(indices) and 0 <= min(indices) and max(indices) < 12
    if times is not None:  # each sample is the frame on screen at its segment's centre
        starts = np.array(times, float) / 1000
        for i, index in enumerate(indices):
            centre = (i + 0.5) * info.duration / NUM_FRAMES
            assert starts[index] - starts[0] <= centre + 1e-6
            assert index == 11 or starts[index + 1] - starts[0] > centre - 1e-6


# ----- the pipeline ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    from transformers import pipeline

    from a3lign.train.run import save_model_folder

    from .conftest import A3lignTester

    tester = A3lignTester()
    torch.manual_seed(0)
    model = A3lignModel(tester.get_config(num_frames=NUM_FRAMES, image_size=CROP))
    folder = tmp_path_factory.mktemp("model")
    save_model_folder(model, A3lignVideoProcessor.from_model_config(model.config), folder)
    return pipeline("video-classification", model=str(folder), trust_remote_code=True)


@settings(FUZZ, max_examples=60)
@given(inputs=nested_inputs())
def test_pipeline_gives_one_result_per_clip_or_a_clear_error(classifier, inputs):
    count("pipeline, in-memory inputs")
    expected = clip_count_of(inputs)
    try:
        with time_limit(60, "the pipeline"):
            results = classifier(inputs, top_k=2)
    except (ValueError, FileNotFoundError) as error:
        assert str(error).strip()
        return
    one = (
        isinstance(inputs, np.ndarray)
        and inputs.ndim <= 4
        or (isinstance(inputs, list) and clip_count_of(inputs) == 1 and all(x.ndim <= 3 for x in inputs))
    )
    if one:
        assert len(results) == 2 and all("label" in r for r in results), results
    else:
        assert len(results) == expected and all(len(r) == 2 for r in results), (expected, results)
