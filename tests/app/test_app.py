"""`a3lign app` as a user meets it: the one command serves the page on a loopback port; a generated clip goes
through the API (`gradio_client`) and through the page in headless Chromium (upload, Analyse, the top label, the
face and the timeline picture), with a screenshot kept in the test's folder."""

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import av
import numpy as np
import pytest
from gradio_client import Client, handle_file

from a3lign.app.interface import FACE_CAPTIONS
from a3lign.cli.app import main as app_cli
from a3lign.data.synthetic import write_mp4

from ..predict import RATE, tinted_stretch
from ..videos import write_y4m

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Chromium as root in a sandbox-less machine with no internet: no sandbox, no GPU, no background connections.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PNG = b"\x89PNG\r\n\x1a\n"
PNG_OR_WEBP = (PNG[:4], b"RIFF")
FAKE_CAMERA = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")


def keep_screenshot(page, folder: Path, name: str) -> Path:
    """The whole page as `folder/name`; also in `$A3LIGN_SCREENSHOTS` when set (how docs/ gets the pictures it shows:
    `A3LIGN_SCREENSHOTS=docs pytest tests/app/test_app.py`)."""
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("A3LIGN_SCREENSHOTS"):
        shutil.copy(path, Path(os.environ["A3LIGN_SCREENSHOTS"]) / name)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serve(run, root: Path, *flags: str):
    """`python -m a3lign app --model RUN --port P --work_dir PLOTS *flags` in its own process; yields `(url, PLOTS,
    process)` and stops it afterwards. Its working folder, temporary folder (TMPDIR) and PLOTS are three different
    folders: Gradio serves files only below the first two, and the page must not depend on where the pictures are
    kept."""
    for folder in ("cwd", "tmp", "plots"):
        (root / folder).mkdir()
    port = free_port()
    log = root / "app.log"
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
        TMPDIR=str(root / "tmp"),
        PYTHONPATH=os.pathsep.join(sys.path),
    )
    command = [sys.executable, "-m", "a3lign", "app", "--model", str(run), "--port", str(port)]
    command += ["--work_dir", str(root / "plots"), *flags]
    with open(log, "w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=root / "cwd")
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"a3lign app exited with {process.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"a3lign app did not answer on {url} within 180 s:\n{log.read_text()}")
            time.sleep(0.5)
        yield url, root / "plots", process
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tinted_run, tmp_path_factory):
    """The app as `a3lign app --model RUN` serves it: `(url, PLOTS)`."""
    with serve(tinted_run, tmp_path_factory.mktemp("app")) as (url, plots, _):
        yield url, plots


@pytest.fixture(scope="module")
def sad_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clips") / "sad.mp4"
    write_mp4(path, tinted_stretch("Sad", 4, seed=7300), RATE)
    return path


def test_the_api_classifies_an_uploaded_clip(server, sad_clip):
    url, plots = server
    face, top, plot, summary = Client(url, verbose=False).predict(handle_file(str(sad_clip)), api_name="/analyse")
    assert top["label"] == "Sad" and top["confidences"][0] == {"label": "Sad", "confidence": pytest.approx(1, abs=0.1)}
    assert Path(plot).read_bytes()[:8] == PNG and Path(face).read_bytes()[:4] in PNG_OR_WEBP
    caption, timeline = summary.split(
        "\n", 1
    )  # whether a detector sees a cartoon face varies by frame: either caption
    assert caption in [f"Whole clip: {FACE_CAPTIONS[key]}." for key in (True, "gone", False)]
    assert (
        timeline.startswith("Timeline: sad.mp4: 4.0 s at 8 fps (by its timestamps), 5 windows")
        and "Sad 100%" in summary
    )
    assert (plots / "sad_timeline.png").read_bytes()[:8] == PNG  # kept in --work_dir, served all the same


def test_the_api_names_a_file_that_is_no_video(server, tmp_path):
    from gradio_client.exceptions import AppError

    bogus = tmp_path / "notes.mp4"
    bogus.write_text("not a video " * 50)
    with pytest.raises(AppError, match="'notes.mp4' is not a readable video") as raised:
        Client(server[0], verbose=False).predict(handle_file(str(bogus)), api_name="/analyse")
    assert "/tmp" not in str(raised.value)  # the upload's name, not the server's temporary copy


needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium; .ci/run does)"
)


@contextlib.contextmanager
def browser_page(*flags: str, **context):
    """A page of headless Chromium (the system's), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_FLAGS, *flags])
        try:
            yield browser.new_context(viewport={"width": 1280, "height": 1000}, **context).new_page()
        finally:
            browser.close()


def wait_for_results(page):
    """Press Analyse and wait until the timeline picture has loaded."""
    page.click("#analyse")
    page.locator("#timeline img").wait_for(timeout=120_000)
    page.wait_for_function("document.querySelector('#timeline img').naturalWidth > 0", timeout=30_000)


@needs_chromium
def test_the_page_in_a_headless_browser(server, sad_clip, tmp_path):
    with browser_page() as page:
        page.goto(server[0])  # the first tab, "Analyse a video"
        page.locator("#video input[type=file]").set_input_files(str(sad_clip))
        page.locator("#video video").wait_for(timeout=60_000)  # the upload is in the player
        wait_for_results(page)
        assert "Sad\n100%" in page.locator("#top").inner_text()
        assert page.locator("#face img").get_attribute("src")
        assert "Sad 100%" in page.locator("#summary textarea").input_value()
        # The picture the page shows is the timeline the server drew, as a PNG.
        with urllib.request.urlopen(page.locator("#timeline img").get_attribute("src")) as response:
            assert response.read()[:8] == PNG
        shot = keep_screenshot(page, tmp_path, "app.png")
    assert shot.stat().st_size > 10_000


@needs_chromium
def test_a_webcam_recording_in_a_headless_browser(server, tmp_path):
    """Chromium's fake camera records about 3 s through the page (a WebM whose frame times are irregular and whose
    header states no rate); the timeline's length is the recording's, by its timestamps."""
    with browser_page(*FAKE_CAMERA, permissions=["camera", "microphone"]) as page:
        page.goto(server[0])
        page.get_by_label("Capture from camera").click()
        page.get_by_text("Click to Access Webcam").click()
        page.get_by_label("start recording").click()
        stop = page.locator("#video button", has_text="Stop")
        stop.wait_for(timeout=60_000)  # recording has begun (a loaded machine starts it late: count from here)
        page.wait_for_timeout(3000)
        stop.click()
        player = page.locator("#video video")
        player.wait_for(timeout=60_000)
        wait_for_results(page)
        summary = page.locator("#summary textarea").input_value()
        recording = tmp_path / "recording.webm"
        with urllib.request.urlopen(player.get_attribute("src")) as response:
            recording.write_bytes(response.read())
    with av.open(str(recording)) as container:
        stream = container.streams.video[0]
        stamps = sorted(p.pts for p in container.demux(stream) if p.size)
    span = float((stamps[-1] - stamps[0]) * stream.time_base)  # first to last frame
    duration = float(re.search(r"\.webm: ([0-9.]+) s at ", summary).group(1))
    assert 0.5 < span < 10 and span <= duration <= span * len(stamps) / (len(stamps) - 1) + 0.1, (summary, span)


def live_windows(page) -> int:
    """The window count the Live tab's status line shows (0 before the first update)."""
    found = re.search(r"(\d+) windows", page.locator("#live_status textarea").input_value())
    return int(found.group(1)) if found else 0


@needs_chromium
def test_the_live_tab_in_a_headless_browser(server, tmp_path):
    """Chromium's fake camera plays a generated clip of a cold (Sad) cartoon face, looped (a Y4M file): while the
    page streams it, updates arrive (the window count grows, the top label reads Sad, the face picture and the
    scrolling plot are drawn); after the camera stops, Finish leaves the recording's timeline and its files; a tab
    closed without Finish has its recording written by the server."""
    camera = write_y4m(tmp_path / "camera.y4m", tinted_stretch("Sad", 4, seed=7600).repeat(2, 1).repeat(2, 2), RATE)
    with browser_page(*FAKE_CAMERA, f"--use-file-for-fake-video-capture={camera}", permissions=["camera"]) as page:
        page.goto(server[0])
        page.get_by_role("tab", name="Live").click()
        live = page.locator("#live_camera")
        live.get_by_text("Click to Access Webcam").click()
        live.get_by_text("Record").click()
        page.wait_for_function(
            "/[1-9][0-9]* windows/.test(document.querySelector('#live_status textarea').value)", timeout=120_000
        )
        counts = [live_windows(page)]
        for _ in range(30):  # about 3 s more of streaming, read as it goes
            page.wait_for_timeout(100)
            counts.append(live_windows(page))
        assert counts == sorted(counts) and counts[-1] >= counts[0] + 2, counts  # updates arrive while streaming
        assert "Sad\n100%" in page.locator("#live_top").inner_text()
        assert page.locator("#live_face img").get_attribute("src")
        page.locator("#live_timeline canvas, #live_timeline svg").first.wait_for(timeout=30_000)
        keep_screenshot(page, tmp_path, "live.png")
        live.get_by_text("Stop").click()
        stopped = live_windows(page)
        page.click("#live_finish")
        page.locator("#live_plot img").wait_for(timeout=60_000)
        page.wait_for_function("document.querySelector('#live_plot img').naturalWidth > 0", timeout=30_000)
        summary = page.locator("#live_summary textarea").input_value()
        files = page.locator("#live_files").inner_text().replace("\n", "")  # a name shows in two parts
        with urllib.request.urlopen(page.locator("#live_plot img").get_attribute("src")) as response:
            assert response.read()[:8] == PNG
        keep_screenshot(page, tmp_path, "live-finished.png")
        # A second recording, and the tab closed without Finish: the server writes it all the same.
        live.get_by_text("Record").click()
        page.wait_for_function(
            "/Recording 2: .* [1-9][0-9]* windows/.test(document.querySelector('#live_status textarea').value)",
            timeout=120_000,
        )
        page.close()
    deadline = time.monotonic() + 60
    while not list(server[1].glob("live-*/recording-2.csv")) and time.monotonic() < deadline:
        time.sleep(0.5)
    written = sorted(server[1].glob("live-*/recording-*.csv"))  # one folder: the tab's session
    assert [p.name for p in written] == ["recording-1.csv", "recording-2.csv"] and written[0].parent == written[
        1
    ].parent
    found = re.search(r"webcam recording 1: ([0-9.]+) s at [0-9.]+ fps \(by its timestamps\), (\d+) windows", summary)
    assert found and int(found.group(2)) >= stopped and "Sad 100%" in summary, summary
    assert float(found.group(1)) >= 2 + 0.5 * (int(found.group(2)) - 1) - 0.01  # the windows fit in the recording
    assert all(f"recording-1.{kind}" in files for kind in ("csv", "json", "png")), files


def test_a_missing_model_folder_is_named(tmp_path):
    with pytest.raises(SystemExit, match="model folder '.*nowhere' does not exist"):
        app_cli(["--model", str(tmp_path / "nowhere")])


def test_a_window_or_stride_that_cannot_work_stops_the_command(tinted_run):
    # 4 frames in 2 s windows: a grid step of 0.5 s, so a 0.3 s stride cannot share frames (every upload would fail).
    with pytest.raises(SystemExit, match="stride=0.3 s is invalid"):
        app_cli(["--model", str(tinted_run), "--stride", "0.3"])
    with pytest.raises(SystemExit, match="window=-1.0 s is invalid"):
        app_cli(["--model", str(tinted_run), "--window", "-1"])


def test_a_port_in_use_is_named(tinted_run):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit, match=f"cannot listen on 127.0.0.1:{port} .*pass another --port"):
            app_cli(["--model", str(tinted_run), "--port", str(port)])


def test_without_gradio_the_command_says_which_extra(tinted_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio -> ImportError
    monkeypatch.delitem(sys.modules, "a3lign.app.interface", raising=False)
    with pytest.raises(SystemExit, match=r"the app needs Gradio .*pip install 'a3lign\[app\]'"):
        app_cli(["--model", str(tinted_run)])


@pytest.mark.parametrize(
    "shape, expected",
    [
        ((64, 64), (256, 256)),  # a small clip: blown up 4x
        ((2, 640), (2, 640)),  # a strip: never beyond 1024 px long
        ((4320, 7680), (256, 455)),  # 8K: brought down
        ((480, 640), (256, 341)),
    ],
)
def test_the_face_picture_is_shown_at_a_size_the_page_can_hold(shape, expected):
    from a3lign.app.interface import for_display

    assert for_display(np.zeros((*shape, 3), np.uint8)).shape == (*expected, 3)


# ----- served to others: a password, limits, a queue ---------------------------------------------------------------
def resident_mib(pid: int) -> float:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


@pytest.fixture(scope="module")
def guarded(tinted_run, tmp_path_factory):
    """The app served with a password, a 1 MB upload limit, a 6 s duration limit, 2 analyses at a time, 16 waiting."""
    flags = ["--auth", "ana:s3cret", "--max_upload_mb", "1", "--max_seconds", "6", "--concurrency", "2"]
    with serve(tinted_run, tmp_path_factory.mktemp("guarded"), *flags, "--queue_size", "16") as started:
        yield started


def test_a_served_app_asks_for_its_password(guarded, sad_clip):
    url = guarded[0]
    with pytest.raises(Exception, match="(?i)login|auth|401|403"):
        Client(url, verbose=False)
    with pytest.raises(Exception, match="(?i)login|auth|401|403|incorrect"):
        Client(url, verbose=False, auth=("ana", "wrong"))
    _, top, _, _ = Client(url, verbose=False, auth=("ana", "s3cret")).predict(
        handle_file(str(sad_clip)), api_name="/analyse"
    )
    assert top["label"] == "Sad"


def test_eight_clients_at_once_and_oversize_uploads_are_each_answered(guarded, sad_clip, tmp_path):
    """8 clients upload at once, with one upload over the size limit and one video over the duration limit: every
    request is answered (the result) or refused with a message naming the file; the server's memory stays bounded
    and it answers afterwards."""
    import concurrent.futures

    from a3lign.data.synthetic import write_mp4

    url, _, process = guarded
    long_clip = tmp_path / "long.mp4"
    write_mp4(long_clip, tinted_stretch("Sad", 10, seed=7400), RATE)
    big = tmp_path / "big.mp4"
    write_video_noise(big, megabytes=1.5)
    client = Client(url, verbose=False, auth=("ana", "s3cret"))
    client.predict(handle_file(str(sad_clip)), api_name="/analyse")  # warm: the first analysis loads what it needs
    before = resident_mib(process.pid)

    def request(path):
        started = time.monotonic()
        try:
            _, top, _, _ = Client(url, verbose=False, auth=("ana", "s3cret")).predict(
                handle_file(str(path)), api_name="/analyse"
            )
            return path.name, top["label"], time.monotonic() - started
        except Exception as error:  # refused: the message is what the user reads
            return path.name, f"refused: {error}", time.monotonic() - started

    uploads = [sad_clip] * 6 + [long_clip, big]
    with concurrent.futures.ThreadPoolExecutor(len(uploads)) as pool:
        answers = list(pool.map(request, uploads, timeout=600))
    after = resident_mib(process.pid)
    assert [label for name, label, _ in answers if name == "sad.mp4"] == ["Sad"] * 6, answers
    refused = {name: label for name, label, _ in answers if name != "sad.mp4"}
    assert "'long.mp4' lasts 10 s: this app takes videos up to 6 s" in refused["long.mp4"], refused
    assert refused["big.mp4"].startswith("refused:") and re.search(r"(?i)size|large|MB", refused["big.mp4"]), refused
    assert after - before < 600, (before, after)  # no copy of every upload kept, nothing growing per request
    _, top, _, _ = client.predict(handle_file(str(sad_clip)), api_name="/analyse")  # still answering
    assert top["label"] == "Sad"


def write_video_noise(path: Path, megabytes: float) -> None:
    """An mp4 of random frames (incompressible): about `megabytes` MB."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (12, 240, 320, 3), dtype=np.uint8)
    while True:
        write_mp4(path, frames, RATE)
        if path.stat().st_size >= megabytes * 1e6:
            return
        frames = np.concatenate([frames, rng.integers(0, 256, (12, 240, 320, 3), dtype=np.uint8)])


def test_bad_app_limits_and_credentials_are_named(tmp_path):
    (tmp_path / "users.txt").write_text("# who may use it\nana:s3cret\nbob\n")
    with pytest.raises(SystemExit, match=r"users.txt line 3 is not user:password"):
        app_cli(["--model", str(tmp_path), "--auth_file", str(tmp_path / "users.txt")])
    with pytest.raises(SystemExit, match=r"--max_seconds 0.0 is invalid"):
        app_cli(["--model", str(tmp_path), "--max_seconds", "0"])
    with pytest.raises(SystemExit, match=r"--live_fps -5.0 is invalid"):
        app_cli(["--model", str(tmp_path), "--live_fps", "-5"])
    with pytest.raises(SystemExit, match=r"--live_sessions 0 is invalid"):
        app_cli(["--model", str(tmp_path), "--live_sessions", "0"])
