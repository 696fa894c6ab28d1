"""Files written the way phones, cameras and editors write them, read as a player shows them: portrait videos upright
(display rotation), the main video stream among several, square pixels, frames sampled by time, frame folders at a
stated rate; what cannot be shown right is an error naming the file. Each test checks the pixels that reach the
model (and, with face crops, that the face is found in them)."""

from fractions import Fraction

import numpy as np
import pytest
import torch
from PIL import Image

from a3lign import A3lignVideoProcessor
from a3lign.data import sampled_frames
from a3lign.decoding_a3lign import iter_frames, probe_clip, read_clip_frames, sample_segment_indices

from .scenes import astronaut_video, background, place_photo
from .videos import coded_frames, decode_index, write_frame_folder, write_video

# Lossless H.264 in mp4 (phones write H.264 in mp4 / mov), without B-frames (the mp4 muxer refuses irregular
# timestamps with them): frames read back exactly.
LOSSLESS = dict(codec="libx264rgb", pix_fmt="rgb24", options={"qp": "0", "bf": "0"})


def upright_scene(num_frames: int = 8) -> np.ndarray:
    """`(T, 240, 320, 3)`: the astronaut on a background, landscape, upright."""
    return astronaut_video(num_frames, face_side=70, noise=0)[0]


def stored_as(frames: np.ndarray, rotation: int, hflip: bool = False) -> np.ndarray:
    """The pixels a camera stores for upright `frames` shown with display rotation `rotation` (counter-clockwise, as
    FFmpeg's player turns them) and then mirrored if `hflip`: the inverse of what a player does."""
    if hflip:
        frames = frames[:, :, ::-1]
    return np.ascontiguousarray(np.rot90(frames, -rotation // 90, axes=(1, 2)))


def closeness(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two frame stacks of one shape (inf for different shapes)."""
    return float(np.abs(a.astype(float) - b.astype(float)).mean()) if a.shape == b.shape else float("inf")


# ----- display rotation -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "rotation, hflip",
    [(90, False), (180, False), (270, False), (-90, False), (0, True), (90, True), (180, True), (270, True)],
)
def test_a_rotated_video_is_read_upright(tmp_path, rotation, hflip):
    """A phone's portrait video stores landscape pixels and a display matrix: every reader shows it upright."""
    upright = upright_scene()
    path = write_video(
        tmp_path / "phone.mp4", stored_as(upright, rotation, hflip), **LOSSLESS, rotation=rotation, hflip=hflip
    )
    shown = np.stack([frame for _, frame in iter_frames(path)])
    assert closeness(shown, upright) < 1.0  # the right way up, not merely the right shape
    for wrong in {1, 2, 3} - {0}:
        turned = np.rot90(upright, wrong, axes=(1, 2))
        assert closeness(shown, turned) > 10 or turned.shape != shown.shape
    frames, indices, info = read_clip_frames(path, 4)
    assert closeness(frames, upright[indices]) < 1.0 and info.num_frames == 8
    ((loaded, _),) = sampled_frames(A3lignVideoProcessor(), path, num_frames=4)
    assert closeness(loaded, upright[indices]) < 1.0


def test_a_portrait_phone_video_reaches_the_model_upright_with_its_face(tmp_path):
    """Portrait: the scene is taller than wide, stored sideways with rotation -90 (a phone's "rotate 90" tag): the
    face crop finds the face in the upright frames, and the pipeline's pixels equal those of the upright video."""
    tall, _ = place_photo(background(4, height=320, width=240), 70, (120, 150))
    tall = np.stack([tall] * 16)
    path = write_video(tmp_path / "portrait.mp4", stored_as(tall, -90), **LOSSLESS, rotation=-90)
    plain = write_video(tmp_path / "upright.mp4", tall, **LOSSLESS)
    processor = A3lignVideoProcessor(face_crop=True)
    assert torch.equal(processor(str(path))["pixel_values_videos"], processor(str(plain))["pixel_values_videos"])
    assert processor.face_crop_counts["no_face"] == 0


def test_a_rotation_other_than_a_quarter_turn_is_named(tmp_path):
    path = write_video(tmp_path / "tilted.mp4", upright_scene(4), **LOSSLESS, rotation=45)
    with pytest.raises(
        ValueError, match=r"'.*tilted.mp4' asks to be shown rotated by 315 degrees: only quarter turns"
    ):
        read_clip_frames(path, 4)
    with pytest.raises(ValueError, match="tilted.mp4"):
        A3lignVideoProcessor()(str(path))


# ----- which stream ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", ["mp4", "mkv", "mov"])
def test_the_main_stream_is_read_not_a_thumbnail(tmp_path, suffix):
    """A small thumbnail stream written first, the real one marked default: every reader takes the real one."""
    frames = coded_frames(20, 64, 96)
    path = write_video(tmp_path / f"camera.{suffix}", frames, "libx264", "yuv444p", thumbnail=True)
    info = probe_clip(path)
    decoded, indices, _ = read_clip_frames(path, 16)
    assert decoded.shape[1:3] == (64, 96) and info.num_frames == 20
    assert [decode_index(f) for f in decoded] == indices
    assert next(iter_frames(path))[1].shape == (64, 96, 3)
    if suffix == "mkv":  # no stream marked default (mp4 and mov mark the first one when none is): the larger one
        path = write_video(tmp_path / f"plain.{suffix}", frames, "libx264", "yuv444p", thumbnail=True, default="none")
        assert read_clip_frames(path, 4)[0].shape[1:3] == (64, 96)


def test_a_default_thumbnail_is_what_a_player_shows(tmp_path):
    """The rule is a player's: the default stream first (here the thumbnail), then the largest."""
    path = write_video(
        tmp_path / "odd.mp4", coded_frames(20, 64, 96), "libx264", "yuv444p", thumbnail=True, default="thumbnail"
    )
    assert read_clip_frames(path, 4)[0].shape[1:3] == (24, 32)


def test_cover_art_is_never_the_video(tmp_path):
    """An attached picture (cover art) written before the video is skipped; a file holding only one is an error."""
    frames = coded_frames(12, 64, 96)
    path = write_video(tmp_path / "with_cover.mp4", frames, "libx264", "yuv444p", cover=True)
    decoded, indices, _ = read_clip_frames(path, 4)
    assert decoded.shape[1:3] == (64, 96) and [decode_index(f) for f in decoded] == indices
    import av

    song = tmp_path / "song.mp3"
    with av.open(str(song), "w") as container:
        audio = container.add_stream("libmp3lame", rate=44100)
        cover = container.add_stream("mjpeg")
        cover.width, cover.height, cover.pix_fmt = 48, 48, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        picture = av.VideoFrame.from_ndarray(np.full((48, 48, 3), 128, np.uint8), format="rgb24")
        for packet in [*cover.encode(picture), *cover.encode()]:
            container.mux(packet)
        sound = av.AudioFrame.from_ndarray(np.zeros((1, 1152), np.float32), format="fltp", layout="mono")
        sound.sample_rate = 44100
        for k in range(10):
            sound.pts = k * 1152
            for packet in audio.encode(sound):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    with pytest.raises(ValueError, match=r"'.*song.mp3' holds no video: its only video stream is an attached picture"):
        A3lignVideoProcessor()(str(song))


# ----- square pixels -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("aspect", [Fraction(2), Fraction(4, 3), Fraction(3, 4)])
def test_non_square_pixels_are_resampled_to_square(tmp_path, aspect):
    """An anamorphic camera stores the picture squeezed and states the pixels' aspect ratio: the frames come back at
    the picture's true proportions (the face not squeezed), before any crop."""
    upright = upright_scene(4)
    height, width = upright.shape[1:3]
    size = (round(width / aspect), height) if aspect > 1 else (width, round(height * aspect))
    squeezed = np.stack([np.asarray(Image.fromarray(f).resize(size, Image.BICUBIC)) for f in upright])
    path = write_video(tmp_path / "anamorphic.mp4", squeezed, **LOSSLESS, sample_aspect=aspect)
    frames, _, _ = read_clip_frames(path, 4)
    assert frames.shape[1:3] == (height, width)
    assert closeness(frames, upright) < 6  # resampled twice (squeezed here, stretched back): close, not exact
    processor = A3lignVideoProcessor(face_crop=True)
    processor(str(path))
    assert processor.face_crop_counts["no_face"] == 0


# ----- time, not index -----------------------------------------------------------------------------------------------
def test_the_sampler_takes_segments_of_time(tmp_path):
    """5 s at 30 fps, then 5 s at 2 fps (a phone that slowed down in the dark): by frame index, 15 of 16 samples fall
    in the first half of the clip's time; by time, 8 do, each the frame on screen at its segment's centre."""
    times = [round(1000 * k / 30) for k in range(150)] + [5000 + 500 * k for k in range(10)]
    path = write_video(tmp_path / "night.mp4", coded_frames(160, 48, 64), **LOSSLESS, times_ms=times)
    info = probe_clip(path)
    assert info.num_frames == 160 and not info.timing.is_constant
    starts = info.timing.starts()
    duration = info.duration  # the last frame lasts the mean gap
    centres = [(i + 0.5) * duration / 16 for i in range(16)]
    expected = [int(np.searchsorted(starts, t, side="right") - 1) for t in centres]
    frames, indices, _ = read_clip_frames(path, 16)
    assert indices == expected and [decode_index(f) for f in frames] == indices
    assert sum(starts[i] < 5 for i in indices) == 8
    assert sum(i < 150 for i in sample_segment_indices(160, 16)) == 15  # the index rule's answer
    # training: a random frame among those on screen during each segment
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        drawn = sample_segment_indices(160, 16, training=True, generator=generator, timing=info.timing)
        for i, index in enumerate(drawn):
            start, end = i * duration / 16, (i + 1) * duration / 16
            shown_until = starts[index + 1] if index + 1 < len(starts) else duration
            assert starts[index] < end and shown_until > start
    # a constant-rate file keeps the index rule exactly
    constant = write_video(tmp_path / "constant.mp4", coded_frames(47, 48, 64), **LOSSLESS)
    assert read_clip_frames(constant, 16)[1] == sample_segment_indices(47, 16)


def test_a_frame_folder_has_a_rate(tmp_path):
    folder = write_frame_folder(tmp_path / "frames", coded_frames(100, 16, 16))
    assert probe_clip(folder).rate == 25 and probe_clip(folder).rate_source == "folder_fps"
    assert probe_clip(folder, folder_fps=10).duration == pytest.approx(10.0)
    processor = A3lignVideoProcessor(frame_folder_fps=10)
    metadata = processor(str(folder), return_metadata=True)["video_metadata"][0]
    assert metadata.fps == pytest.approx(10) and metadata.duration == pytest.approx(10)


def test_jpeg_frames_are_turned_by_their_exif_orientation(tmp_path):
    """A phone's photos store their orientation as EXIF: frame folders of them are read upright."""
    upright = upright_scene(3)
    folder = tmp_path / "photos"
    folder.mkdir()
    for t, frame in enumerate(upright):
        image = Image.fromarray(np.ascontiguousarray(np.rot90(frame, 1)))  # stored turned left
        exif = image.getexif()
        exif[0x0112] = 6  # orientation: turn 90 degrees clockwise to show
        image.save(folder / f"{t + 1}.jpg", exif=exif, quality=95)
    frames, _, _ = read_clip_frames(folder, 3)
    assert closeness(frames, upright) < 4


# ----- what cameras and editors also write ---------------------------------------------------------------------------
def test_motion_jpeg_frames_carrying_exif_are_read(tmp_path):
    """A camera's Motion-JPEG frames carry EXIF, which FFmpeg 8 attaches to each decoded frame as side data of a type
    PyAV 18 does not know: the frames are read all the same (their rotation from what PyAV does read)."""
    import io

    import av

    upright = upright_scene(6)
    path = tmp_path / "camera.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuvj420p"
        stream.time_base = Fraction(1, 25)
        for t, frame in enumerate(upright):
            image = Image.fromarray(frame)
            exif = image.getexif()
            exif[0x010F] = "Canon"
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", exif=exif, quality=95)
            packet = av.Packet(buffer.getvalue())
            packet.stream, packet.pts, packet.dts, packet.time_base = stream, t, t, Fraction(1, 25)
            container.mux(packet)
    frames, indices, _ = read_clip_frames(path, 6)
    assert closeness(frames, upright[indices]) < 4


def test_an_edit_list_is_played_as_a_player_plays_it(tmp_path):
    """A trimmed mp4 (`ffmpeg -ss ... -c copy`, an editor's cut) keeps the frames before its start, marked to be
    discarded: they are not frames of the clip (50 packets, 40 shown)."""
    path = write_video(
        tmp_path / "trimmed.mp4", coded_frames(50, 32, 48), **LOSSLESS, times_ms=[-400 + 40 * k for k in range(50)]
    )
    info = probe_clip(path)
    assert info.num_frames == 40 and info.duration == pytest.approx(1.6)
    frames, indices, _ = read_clip_frames(path, 16)
    assert indices == sample_segment_indices(40, 16) and [decode_index(f) - 10 for f in frames] == indices


def test_a_resolution_change_is_shown_at_the_first_frames_size(tmp_path):
    """A browser recording whose resolution drops part way (WebRTC adapts it): every frame at the first's size, as
    FFmpeg's player shows it, for every reader."""
    import av

    scene = astronaut_video(40, face_side=60, noise=0)[0]
    path = tmp_path / "call.webm"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libvpx-vp9", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        small = av.CodecContext.create("libvpx-vp9", "w")
        small.width, small.height, small.pix_fmt, small.time_base, small.framerate = (
            160,
            120,
            "yuv420p",
            Fraction(1, 25),
            25,
        )
        for t, frame in enumerate(scene):
            if t == 20:  # the first encoder's buffered frames out before the smaller ones
                for packet in stream.encode():
                    container.mux(packet)
            encoder, pixels = (
                (stream, frame) if t < 20 else (small, np.asarray(Image.fromarray(frame).resize((160, 120))))
            )
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            video_frame.pts, video_frame.time_base = t, Fraction(1, 25)
            for packet in encoder.encode(video_frame):
                packet.stream, packet.time_base = stream, Fraction(1, 25)
                container.mux(packet)
        for packet in small.encode():
            packet.stream, packet.time_base = stream, Fraction(1, 25)
            container.mux(packet)
    assert {frame.shape for _, frame in iter_frames(path)} == {(240, 320, 3)}
    frames, indices, _ = read_clip_frames(path, 16)
    assert frames.shape == (16, 240, 320, 3) and closeness(frames[-1], scene[indices[-1]]) < 12  # blown up, not lost
    processor = A3lignVideoProcessor(face_crop=True)
    assert processor(str(path))["pixel_values_videos"].shape == (1, 16, 3, 112, 112)
    assert processor.face_crop_counts["no_face"] == 0


def test_a_damaged_tail_is_told(tmp_path, caplog):
    """Its packets promise 40 frames, the second half of their payload is zeroed: the samples past what decodes show
    the last decoded frame, and a warning names the file and says how many decoded."""
    import logging

    path = write_video(tmp_path / "cut_short.mp4", coded_frames(40, 32, 48), "libx264", "yuv444p")
    data = bytearray(path.read_bytes())
    start = data.find(b"mdat")
    end = start - 4 + int.from_bytes(data[start - 4 : start], "big")
    half = (start + 4 + end) // 2
    data[half:end] = bytes(end - half)
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        frames, indices, info = read_clip_frames(path, 16)
    decoded = [decode_index(f) for f in frames]
    assert info.num_frames == 40 and decoded[:4] == indices[:4] and decoded[-1] < indices[-1]
    assert f"'{path}' decodes only" in caplog.text and "show that frame" in caplog.text


def test_frame_folders_skip_hidden_files_and_read_16_bit_frames(tmp_path):
    """macOS leaves `._1.png` beside `1.png` on foreign disks: not frames. 16-bit grey PNGs keep their levels (PIL's
    own conversion would make them white). A list of PIL images is turned by its EXIF orientation, as the files are."""
    folder = write_frame_folder(tmp_path / "frames", coded_frames(6, 16, 16))
    (folder / "._1.png").write_bytes(b"\x00\x05\x16\x07 resource fork")
    frames, indices, info = read_clip_frames(folder, 6)
    assert info.num_frames == 6 and [decode_index(f) for f in frames] == list(range(6))
    deep = tmp_path / "deep"
    deep.mkdir()
    for t in range(4):
        Image.fromarray(np.full((8, 8), 100 * 257, np.uint16)).save(deep / f"{t}.png")  # level 100 of 255, in 16 bits
    assert read_clip_frames(deep, 4)[0].max() == 100
    turned = []
    for frame in upright_scene(2):
        image = Image.fromarray(np.ascontiguousarray(np.rot90(frame, 1)))
        exif = image.getexif()
        exif[0x0112] = 6
        buffer = tmp_path / f"photo{len(turned)}.jpg"
        image.save(buffer, exif=exif, quality=95)
        turned.append(Image.open(buffer))
    ((loaded, _),) = sampled_frames(A3lignVideoProcessor(), turned, num_frames=2)
    assert loaded.shape[1:3] == (240, 320)


def test_a_short_clip_held_on_one_frame_is_sampled_by_time(tmp_path):
    """Four frames, the third held for 10 s (fewer frames than samples, at no constant rate): each frame as often as
    its time on screen asks (the padding rule would give 0, 1, 2, then 3 thirteen times). A short clip at a constant
    rate keeps the field's padding convention."""
    path = write_video(tmp_path / "held.mkv", coded_frames(4, 32, 48), "ffv1", "yuv444p", times_ms=[0, 40, 80, 10_000])
    assert read_clip_frames(path, 16)[1] == [2] * 12 + [3] * 4
    constant = write_video(tmp_path / "short.mkv", coded_frames(3, 32, 48), "ffv1", "yuv444p")
    assert read_clip_frames(constant, 16)[1] == [0, 1] + [2] * 14


def test_a_folder_mixing_frame_sizes_is_named_by_every_reader(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for t, size in enumerate((32, 32, 24, 32)):
        Image.fromarray(np.full((size, size, 3), 50, np.uint8)).save(folder / f"{t}.png")
    with pytest.raises(ValueError, match=r"frame folder '.*mixed' mixes frame sizes"):
        read_clip_frames(folder, 4)
    with pytest.raises(ValueError, match=r"frame folder '.*mixed' mixes frame sizes"):
        list(iter_frames(folder))


FORKED_WORKERS = """
import gc, sys, av, torch
from fractions import Fraction
from a3lign.decoding_a3lign import frame_pixels
container = av.open(sys.argv[1])
frame = next(container.decode(video=0))
frame_pixels(frame, Fraction(1), sys.argv[1], size=(64, 40))  # a scaled conversion: the frame keeps a scaler
container.close()
cycle = [frame]
cycle.append(cycle)  # left to the garbage collector, as a frame caught in a reference cycle is
del frame, cycle
gc.disable()  # collected only in the workers, after the fork


class Collecting(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        gc.collect()
        return index


loader = torch.utils.data.DataLoader(Collecting(), batch_size=2, num_workers=2)
print(sum(int(b.sum()) for b in loader))
"""


def test_a_converted_frame_freed_in_a_forked_worker_does_not_hang_it(tmp_path):
    """A frame converted with swscale slice threads and freed in a forked DataLoader worker waited forever on
    threads that exist only in the parent (the first training epoch hung); conversions use one swscale thread."""
    import subprocess
    import sys

    path = tmp_path / "clip.mp4"
    write_video(
        path, np.random.default_rng(0).integers(0, 255, (4, 480, 640, 3), dtype=np.uint8), "libx264", "yuv420p"
    )
    run = subprocess.run([sys.executable, "-c", FORKED_WORKERS, str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "6", run.stderr[-2000:]
