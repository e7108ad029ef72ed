"""`vidcolor serve`: the web page and its API, as a visitor uses them.

The API is driven with FastAPI's TestClient; the page itself in a real headless Chromium
(Debian's, through Playwright) against a real uvicorn server. The model is a tiny untrained
U-Net set to paint a warm tint everywhere, so "it came back coloured" is plain to see; hints
go to a tiny hint model whose ways in for hints are random, so a hint changes the colour around it.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from fastapi.testclient import TestClient
from helpers.films import Clip, probe
from helpers.models import TINY_UNET, write_tiny_hint_model
from PIL import Image

from vidcolor.cli import main
from vidcolor.photo.write import write_image
from vidcolor.runtime.archs import build_model
from vidcolor.runtime.inference import Colorizer
from vidcolor.runtime.weights import save_weights
from vidcolor.serve.app import create_app
from vidcolor.serve.jobs import Films, Job
from vidcolor.serve.limits import ServeLimits

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT = Path("/tmp/serve_screenshot.png")


def tinted_unet() -> torch.nn.Module:
    net = build_model("unet", width=8)
    torch.nn.init.zeros_(net.head.weight)
    net.head.bias.data = torch.tensor([0.15, 0.35])  # a/b: a warm sepia
    return net


@pytest.fixture(scope="module")
def sepia() -> Colorizer:
    return Colorizer(tinted_unet(), TINY_UNET)


@pytest.fixture(scope="module")
def hinted(tmp_path_factory: pytest.TempPathFactory) -> Colorizer:
    """A tiny hint model: a hint visibly changes the colour around it."""
    return Colorizer.load(str(write_tiny_hint_model(tmp_path_factory.mktemp("hint") / "hint.safetensors")), "cpu")


def photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A grey picture: a gradient with a few bright squares, so two seeds give two photos."""
    rng = np.random.default_rng(seed)
    grey = np.tile(np.linspace(30, 200, width, dtype=np.float32), (height, 1))
    for _ in range(4):
        y, x = rng.integers(0, height - 4), rng.integers(0, width - 4)
        grey[y:y + max(4, height // 5), x:x + max(4, width // 5)] = 235
    return np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2)


def png(rgb: np.ndarray) -> bytes:
    return cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()


def decode(data: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def is_warm(rgb: np.ndarray) -> bool:
    return rgb[..., 0].astype(int).mean() > rgb[..., 2].astype(int).mean() + 10


@contextmanager
def serving(colorizer: Colorizer, root: Path, **limits: Any) -> Iterator[TestClient]:
    """A TestClient for a server whose private folder goes under `root`."""
    root.mkdir(exist_ok=True)
    app = create_app(colorizer, limits=ServeLimits(**limits), temp_root=root)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def client(sepia: Colorizer, tmp_path: Path) -> Iterator[TestClient]:
    with serving(sepia, tmp_path / "server") as client:
        yield client


def upload(client: TestClient, name: str, data: bytes, hints: Any = None) -> Any:
    form = {"hints": hints if isinstance(hints, str) else json.dumps(hints)} if hints is not None else None
    return client.post("/api/colorize", files={"file": (name, data)}, data=form)


def change_near(a: np.ndarray, b: np.ndarray, x: int, y: int, r: int = 4) -> float:
    """How much two pictures differ around (x, y): the mean of |RGB difference| summed over channels."""
    patch = np.s_[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1]
    return float(np.abs(a[patch].astype(int) - b[patch].astype(int)).sum(-1).mean())


def finished(client: TestClient, job_id: str, timeout: float = 120) -> dict[str, Any]:
    """Poll the job like the page does, until it is done or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['state']} after {timeout} s")


# --- photos ------------------------------------------------------------------------------------

def test_a_photo_comes_back_colored_at_the_same_size(client: TestClient) -> None:
    grey = photo(90, 60)
    response = upload(client, "grandma.png", png(grey))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    colored = decode(response.content)
    assert colored.shape == grey.shape
    assert is_warm(colored)


def test_a_photo_already_in_color_comes_back_with_the_warning_a_film_would_get(client: TestClient) -> None:
    """Photos' warnings were dropped: a colour photo came back recoloured without a word."""
    holiday = photo(90, 60).copy()
    holiday[..., 0] = 220  # red
    response = upload(client, "holiday.png", png(holiday))
    assert response.status_code == 200
    assert json.loads(response.headers["X-Warnings"]) == [
        "the photo is already in colour; colouring it again from its luma"]  # no command-line option in it
    assert "X-Warnings" not in upload(client, "grandma.png", png(photo(90, 60))).headers


def test_the_page_says_which_model_colors_and_what_it_accepts(client: TestClient) -> None:
    info = client.get("/api/info").json()
    assert info["model"] == "unet"
    assert info["max_upload_bytes"] == ServeLimits().max_upload_bytes
    page = client.get("/")
    assert page.status_code == 200 and "<form" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200


def grey_alpha_png_16(grey: np.ndarray, alpha: np.ndarray) -> bytes:
    """A 16-bit grey PNG with an alpha channel (colour type 4), which OpenCV does not write."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    h, w = grey.shape
    rows = np.stack([grey, alpha], axis=-1).astype(">u2").reshape(h, -1)  # big-endian (grey, alpha) pairs
    raw = b"".join(b"\0" + row.tobytes() for row in rows)  # filter type 0 before each row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 4, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_a_16_bit_grey_photo_with_transparency_comes_back_16_bit_with_its_alpha(client: TestClient) -> None:
    yy, xx = np.mgrid[0:48, 0:64]
    grey = (xx * 1000 + yy * 7 + 3).astype(np.uint16)  # levels no 8-bit picture has
    alpha = np.where(xx < 20, 0, np.where(yy < 10, 32768, 65535)).astype(np.uint16)
    response = upload(client, "scan.png", grey_alpha_png_16(grey, alpha))
    assert response.status_code == 200
    colored = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert colored.dtype == np.uint16 and colored.shape == (48, 64, 4)
    assert (colored[..., 3] == alpha).all()
    assert len(np.unique(colored[..., :3] >> 8 << 8 ^ colored[..., :3])) > 1  # the low byte still says something


def test_a_floating_point_tiff_scan_is_colored_as_vidcolor_run_colors_it(client: TestClient) -> None:
    """It was once refused as "not a readable image": the upload has no name, and deep TIFFs are read by theirs."""
    scan = io.BytesIO()
    Image.fromarray(photo(64, 48).mean(axis=2).astype(np.float32) / 255.0).save(scan, format="TIFF")
    response = upload(client, "scan.tif", scan.getvalue())
    assert response.status_code == 200, response.text
    colored = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert colored.dtype == np.uint16 and colored.shape == (48, 64, 3)


def test_photos_sent_at_once_each_get_their_own_colors(client: TestClient) -> None:
    photos = [png(photo(64, 48, seed)) for seed in range(3)]
    alone = [upload(client, "p.png", p).content for p in photos]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda i: upload(client, "p.png", photos[i % 3]).content, range(9)))
    assert together == [alone[i % 3] for i in range(9)]


# --- hints -------------------------------------------------------------------------------------

GREEN_AT_80_50 = [{"x": 80, "y": 50, "color": "#00c000"}]


@pytest.fixture
def hint_client(hinted: Colorizer, tmp_path: Path) -> Iterator[TestClient]:
    with serving(hinted, tmp_path / "server") as client:
        yield client


def test_a_color_hint_sent_with_a_photo_colors_the_photo_there(hint_client: TestClient) -> None:
    grey = png(photo(320, 200, seed=1))
    plain = upload(hint_client, "street.png", grey)
    told = upload(hint_client, "street.png", grey, GREEN_AT_80_50)
    assert plain.status_code == told.status_code == 200
    before, after = decode(plain.content), decode(told.content)
    assert after.shape == before.shape
    assert change_near(before, after, 80, 50) > 15  # changed where the hint is
    assert change_near(before, after, 280, 170) < 3  # and not far away
    assert hint_client.get("/api/info").json()["hints"] is True
    assert upload(hint_client, "street.png", grey, []).content == plain.content  # no hints: as without


def test_a_hints_file_sent_as_a_file_part_is_taken_like_the_field(hint_client: TestClient) -> None:
    grey = png(photo(320, 200, seed=1))
    as_field = upload(hint_client, "street.png", grey, GREEN_AT_80_50)
    as_file = hint_client.post("/api/colorize", files={"file": ("street.png", grey),
                                                      "hints": ("hints.json", json.dumps(GREEN_AT_80_50))})
    assert as_file.status_code == 200 and as_file.content == as_field.content


@pytest.mark.parametrize("hints, message", [
    ("{not json", "hints: not valid JSON (line 1, column 2: Expecting property name enclosed in double quotes)"),
    ({"x": 1, "y": 2, "color": "#fff"}, 'hints: a hints file is a JSON list of {"x", "y", "color"} entries'),
    ([{"x": 10, "y": 10}], "hints: entry 0: has no color"),
    ([{"x": 10, "y": 10, "color": "#fff"}, {"x": 1, "y": 2, "color": "teal"}],
     "hints: entry 1: color 'teal' is not an sRGB hex colour such as \"#a03020\""),
    ([{"x": 400, "y": 10, "color": "#fff"}], "hints: entry 0: (400, 10) is outside the picture (320 x 200 pixels)"),
    ([{"x": 1, "y": 1, "color": "#fff", "frame": 3}], "hints: entry 0: a photo has no frames or times"),
    ("[" * 100_000, "hints: not valid JSON"),
], ids=["not-json", "not-a-list", "no-color", "bad-color", "outside", "frame", "too-deep"])
def test_malformed_hints_are_refused_with_a_one_line_message(hint_client: TestClient, tmp_path: Path,
                                                             hints: Any, message: str) -> None:
    grey = upload(hint_client, "street.png", png(photo(320, 200)))
    response = upload(hint_client, "street.png", png(photo(320, 200)), hints)
    assert response.status_code == 422 and response.json() == {"detail": message}
    body = hints if isinstance(hints, str) else json.dumps(hints)
    response = hint_client.post(f"/api/photos/{grey.headers['x-photo-id']}/preview", content=body)
    assert response.status_code == 422 and response.json() == {"detail": message}
    [folder] = (tmp_path / "server").iterdir()
    assert list(folder.iterdir()) == []  # nothing of the refused photo is left


def test_hints_with_a_film_are_refused_with_the_way_to_give_them(hint_client: TestClient,
                                                                 clip: Callable[..., Clip]) -> None:
    film = clip("newsreel.mp4", frames=4)
    response = upload(hint_client, "newsreel.mp4", film.path.read_bytes(), GREEN_AT_80_50)
    assert response.status_code == 422 and "vidcolor run FILM -o OUT --hints" in response.json()["detail"]


def test_a_click_is_previewed_on_the_photo_kept_small(hint_client: TestClient) -> None:
    grey = photo(1280, 800, seed=3)
    response = upload(hint_client, "big.png", png(grey))
    assert response.headers["x-photo-size"] == "1280x800"
    url = f"/api/photos/{response.headers['x-photo-id']}/preview"

    plain = hint_client.post(url, content="[]")
    assert plain.status_code == 200 and plain.headers["content-type"] == "image/png"
    small = decode(plain.content)
    assert small.shape == (640, 1024, 3)  # the longer side at most 1024: quick to colour and to send
    full = cv2.resize(decode(response.content), (1024, 640), interpolation=cv2.INTER_AREA)
    assert change_near(small, full, 512, 320, r=300) < 4  # the same colours as the photo's, made small

    hint = [{"x": 400, "y": 250, "color": "#00c000"}]  # the photo's pixels: (320, 200) on the preview
    told = decode(hint_client.post(url, json=hint).content)
    assert change_near(small, told, 320, 200) > 15
    assert change_near(small, told, 900, 560) < 3
    full_told = decode(upload(hint_client, "big.png", png(grey), hint).content)
    assert change_near(decode(response.content), full_told, 400, 250, r=8) > 15  # and the full size agrees

    assert hint_client.post("/api/photos/nope/preview", content="[]").status_code == 404


def test_a_kept_photo_is_dropped_after_the_retention_time(hinted: Colorizer, tmp_path: Path) -> None:
    with serving(hinted, tmp_path / "server", retention_seconds=0.3) as client:
        photo_id = upload(client, "p.png", png(photo(64, 48))).headers["x-photo-id"]
        assert client.post(f"/api/photos/{photo_id}/preview", content="[]").status_code == 200
        time.sleep(0.6)
        response = client.post(f"/api/photos/{photo_id}/preview", content="[]")
        assert response.status_code == 404 and "colour it again" in response.json()["detail"]


def test_a_server_whose_model_takes_no_hints_says_so(client: TestClient) -> None:
    info = client.get("/api/info").json()
    assert info["hints"] is False
    plain = upload(client, "street.png", png(photo(90, 60)))
    assert plain.status_code == 200 and "x-photo-id" not in plain.headers  # nothing kept for hints
    response = upload(client, "street.png", png(photo(90, 60)), GREEN_AT_80_50)
    assert response.status_code == 422
    assert response.json()["detail"] == ("this model takes no hints or reference: give a hint model "
                                         "(`vidcolor models` lists them)")


# --- films -------------------------------------------------------------------------------------

def test_a_film_is_colored_in_the_background_with_its_sound(client: TestClient, clip: Callable[..., Clip],
                                                             tmp_path: Path) -> None:
    film = clip("newsreel.mp4", frames=12, audio=("aac",))
    response = upload(client, "newsreel.mp4", film.path.read_bytes())
    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == f"/api/jobs/{job['id']}"
    assert job["state"] in ("queued", "running")

    job = finished(client, job["id"])
    assert job["state"] == "done", job["error"]
    assert job["progress"] == 1.0 and job["frames_done"] == 12

    result = client.get(job["result"])
    assert result.headers["content-type"] == "video/mp4"
    (tmp_path / "coloured.mp4").write_bytes(result.content)
    out = probe(tmp_path / "coloured.mp4")
    assert (out.width, out.height, len(out.times)) == (film.width, film.height, 12)
    assert out.audio_codecs == ["aac"] and out.audio_seconds[0] > 0.4
    assert np.mean(out.chroma) > 10  # coloured


def test_a_film_already_in_color_is_colored_again_with_a_warning_in_the_page_s_words(
        client: TestClient, clip: Callable[..., Clip]) -> None:
    film = clip("holiday.mp4", frames=12, color=True)
    job = finished(client, upload(client, "holiday.mp4", film.path.read_bytes()).json()["id"])
    assert job["state"] == "done", job["error"]
    assert "the film is already in colour; colouring it again from its luma" in job["warnings"]
    assert not any("--" in warning for warning in job["warnings"])  # the page has no command-line options


def test_an_unknown_job_is_a_json_404(client: TestClient) -> None:
    for url in ("/api/jobs/nope", "/api/jobs/nope/result", "/api/jobs/..%2F..%2Fetc%2Fpasswd"):
        response = client.get(url)
        assert response.status_code == 404 and "detail" in response.json()


def test_a_finished_film_is_deleted_after_the_retention_time(sepia: Colorizer, clip: Callable[..., Clip],
                                                             tmp_path: Path) -> None:
    film = clip("short.mp4", frames=6)
    with serving(sepia, tmp_path / "server", retention_seconds=0.5) as client:
        job = finished(client, upload(client, "short.mp4", film.path.read_bytes()).json()["id"])
        assert client.get(job["result"]).status_code == 200
        time.sleep(1.5)
        assert client.get(job["result"]).status_code == 404
        [folder] = (tmp_path / "server").iterdir()
        assert list(folder.iterdir()) == []


# --- what the server refuses -------------------------------------------------------------------

@pytest.mark.parametrize("name, data", [
    ("holiday.png", np.random.default_rng(1).integers(0, 256, 5000, np.uint8).tobytes()),
    ("film.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100),
    ("empty.jpg", b""),
])
def test_garbage_is_refused_with_a_json_message(client: TestClient, name: str, data: bytes) -> None:
    response = upload(client, name, data)
    assert response.status_code == 415
    assert "neither a photo nor a film" in response.json()["detail"]


@pytest.mark.parametrize("form", [{"data": {"note": "hello"}}, {"files": {"image": ("a.png", png(photo(8, 8)))}},
                                  {"files": {"file": ("", b"bytes a user should not see echoed")}}])
def test_a_form_without_a_file_is_refused_in_one_line_that_names_the_field(client: TestClient, form: dict) -> None:
    response = client.post("/api/colorize", **form)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and "file" in detail and "echoed" not in detail, detail


def test_two_files_in_one_request_are_refused_rather_than_one_coloured_unsaid(client: TestClient) -> None:
    files = [("file", ("a.png", png(photo(8, 8)))), ("file", ("b.png", png(photo(8, 8, seed=1))))]
    response = client.post("/api/colorize", files=files)
    assert response.status_code == 422 and response.json()["detail"].startswith("one photo or film per request")


def test_a_file_over_the_size_limit_is_refused(sepia: Colorizer, tmp_path: Path) -> None:
    noise = png(np.random.default_rng(0).integers(0, 256, (100, 100, 3), np.uint8))  # ~30 kB
    with serving(sepia, tmp_path / "server", max_upload_bytes=len(noise)) as client:
        assert upload(client, "just-fits.png", noise).status_code == 200
        response = upload(client, "one-byte-over.png", noise + b"\0")
        assert response.status_code == 413
        assert "limit" in response.json()["detail"]
        response = upload(client, "far-over.png", noise + bytes(1_000_000))  # refused before it is read
        assert response.status_code == 413

        # Without a declared length (chunked), the body is counted as it arrives.
        def chunks() -> Iterator[bytes]:
            yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\n\r\n"
            for _ in range(20):
                yield bytes(10_000)
        response = client.post("/api/colorize", content=chunks(),
                               headers={"content-type": "multipart/form-data; boundary=b"})
        assert response.status_code == 413
    with serving(sepia, tmp_path / "small", max_upload_bytes=round(0.005 * 1024 ** 2)) as client:  # 0.005 MB
        assert upload(client, "noise.png", noise).json()["detail"].endswith("limit of 0.005 MB")  # once "0.01 MB"


def test_a_small_file_that_would_decode_to_a_huge_photo_is_refused_unread(client: TestClient) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 0, 0, 0, 0)  # 400 Mpx of grey, declared in a few bytes
    header_only = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(1000)))
    response = upload(client, "huge.png", header_only)
    assert response.status_code == 413 and "pixels" in response.json()["detail"]


def test_a_photo_whose_header_pillow_cannot_read_is_held_to_the_limit_once_decoded(
        client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vidcolor.serve import service

    monkeypatch.setattr(service, "MAX_PHOTO_PIXELS", 1000)
    cv2.imwrite(str(tmp_path / "radiance.hdr"), np.full((100, 100, 3), 0.5, np.float32))  # OpenCV reads it
    response = upload(client, "radiance.hdr", (tmp_path / "radiance.hdr").read_bytes())
    assert response.status_code == 413 and "pixels" in response.json()["detail"]


def test_a_film_over_the_length_limit_is_refused(sepia: Colorizer, clip: Callable[..., Clip],
                                                 tmp_path: Path) -> None:
    film = clip("feature.mp4", frames=24)  # one second
    with serving(sepia, tmp_path / "server", max_video_seconds=0.5) as client:
        response = upload(client, "feature.mp4", film.path.read_bytes())
        assert response.status_code == 422
        assert "0.5 s" in response.json()["detail"]
        [folder] = (tmp_path / "server").iterdir()
        assert list(folder.iterdir()) == []  # the refused upload is not kept


@pytest.mark.parametrize("frame_count", [4, 1])
def test_a_gif_animated_or_still_is_colored_as_a_film_as_run_colors_it(client: TestClient, tmp_path: Path,
                                                                      frame_count: int) -> None:
    from PIL import Image

    frames = [Image.fromarray(photo(48, 32, seed=i)) for i in range(frame_count)]
    frames[0].save(tmp_path / "loop.gif", save_all=True, append_images=frames[1:], duration=100)
    response = upload(client, "loop.gif", (tmp_path / "loop.gif").read_bytes())  # a still one states no length
    assert response.status_code == 202, response.text
    assert finished(client, response.json()["id"])["state"] == "done"


def test_a_damaged_photo_is_refused_as_a_photo_not_tried_as_a_film(client: TestClient, tmp_path: Path) -> None:
    write_image(tmp_path / "torn.jpg", photo(320, 240))
    whole = (tmp_path / "torn.jpg").read_bytes()
    for damaged in (whole[:len(whole) // 3], whole[:4] + bytes(range(256)) * 8):  # cut short; junk past its start
        response = upload(client, "torn.jpg", damaged)
        assert response.status_code == 415, response.text
        assert response.json()["detail"].startswith("not a photo vidcolor can use")


@pytest.mark.parametrize(("stated", "said"), [(0.2, "longer than it says"),
                                             (0.0, "does not say how long it is, and runs longer")])
def test_a_film_that_understates_its_length_is_stopped_at_the_limit(sepia: Colorizer, clip: Callable[..., Clip],
                                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    stated: float, said: str) -> None:
    film = clip("feature.mp4", frames=48)  # two seconds, whose file (as far as the server can tell) says `stated`
    monkeypatch.setattr("vidcolor.film.probe.announced_seconds", lambda container, stream: (stated, False))
    with serving(sepia, tmp_path / "server", max_video_seconds=0.5) as client:
        response = upload(client, "feature.mp4", film.path.read_bytes())
        assert response.status_code == 202
        job = finished(client, response.json()["id"])
        assert job["state"] == "failed" and said in job["error"] and "0.5 s" in job["error"]
        assert job["frames_done"] < 48


def test_a_path_like_file_name_never_becomes_a_path(sepia: Colorizer, clip: Callable[..., Clip],
                                                    tmp_path: Path) -> None:
    film = clip("film.mp4", frames=6)
    root = tmp_path / "deep" / "down" / "server"
    root.mkdir(parents=True)
    with serving(sepia, root) as client:
        assert upload(client, "../../etc/passwd.png", png(photo(32, 32))).status_code == 200
        job = finished(client, upload(client, "../../../film.mp4", film.path.read_bytes()).json()["id"])
        assert job["state"] == "done"

        [folder] = root.iterdir()  # the private folder is all the server made
        assert folder.stat().st_mode & 0o777 == 0o700
        assert [p.name for p in folder.iterdir()] == [f"{job['id']}.mp4"]
        made = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
        assert made == {Path("film.mp4"), (folder / f"{job['id']}.mp4").relative_to(tmp_path)}
    assert not folder.exists()  # stopping the server deletes the folder


# --- the command line --------------------------------------------------------------------------

@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "sepia.safetensors"
    save_weights(path, tinted_unet(), TINY_UNET)
    return path


@pytest.fixture
def uvicorn_runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Records uvicorn.run calls instead of serving forever."""
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    return calls


def test_serve_listens_on_this_computer_only_by_default(model_file: Path, uvicorn_runs: list) -> None:
    result = CliRunner().invoke(main, ["serve", "--model", str(model_file)])
    assert result.exit_code == 0, result.output
    assert uvicorn_runs == [{"host": "127.0.0.1", "port": 8000, "log_level": "warning"}]
    assert "http://127.0.0.1:8000/" in result.output and "warning" not in result.output


def test_serve_warns_when_listening_beyond_this_computer(model_file: Path, uvicorn_runs: list) -> None:
    result = CliRunner().invoke(main, ["serve", "--model", str(model_file), "--host", "0.0.0.0", "--port", "9000"])
    assert result.exit_code == 0, result.output
    assert uvicorn_runs[0]["host"] == "0.0.0.0"
    assert "warning: serving on 0.0.0.0" in result.output


def test_serve_on_a_port_in_use_says_so_before_announcing_anything(model_file: Path, uvicorn_runs: list) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--model", str(model_file), "--port", str(port)])
    assert result.exit_code == 1 and uvicorn_runs == []
    assert result.output == f"vidcolor: cannot listen on 127.0.0.1 port {port} (Address already in use)\n"


def test_serve_on_port_0_announces_the_port_it_really_listens_on(model_file: Path, uvicorn_runs: list) -> None:
    result = CliRunner().invoke(main, ["serve", "--model", str(model_file), "--port", "0"])
    port = uvicorn_runs[0]["port"]
    assert port > 0 and f"http://127.0.0.1:{port}/" in result.output


def test_serve_with_an_unknown_model_says_so_in_one_line(uvicorn_runs: list) -> None:
    result = CliRunner().invoke(main, ["serve", "--model", "no-such-model"])
    assert result.exit_code == 1
    assert result.output.startswith("vidcolor: unknown model 'no-such-model'")
    assert uvicorn_runs == []


# --- the page, in a real browser ---------------------------------------------------------------

@contextmanager
def real_server(colorizer: Colorizer, root: Path) -> Iterator[str]:
    """uvicorn in a thread on a free localhost port; yields the page's URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(colorizer, temp_root=root), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


AFTER_PIXEL = """() => {
  const img = document.getElementById("after");
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const [r, g, b] = ctx.getImageData(img.naturalWidth >> 1, img.naturalHeight >> 1, 1, 1).data;
  return {width: img.naturalWidth, height: img.naturalHeight, r, g, b};
}"""

DROP = """async ([name, bytes]) => {
  const data = new DataTransfer();
  data.items.add(new File([new Uint8Array(bytes)], name, {type: "image/png"}));
  document.getElementById("upload").dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
}"""


@pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                    reason="no browser: install Debian's chromium (apt-get install chromium)")
def test_in_a_browser_a_chosen_or_dropped_photo_comes_back_colored(sepia: Colorizer, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    street = tmp_path / "street.png"
    street.write_bytes(png(photo(320, 200, seed=1)))
    (tmp_path / "server").mkdir()
    with real_server(sepia, tmp_path / "server") as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 900, "height": 760})
        page.goto(url)
        expect(page.locator("#model")).to_have_text("unet")

        page.set_input_files("#file", street)
        expect(page.locator("#photo-result")).to_be_visible(timeout=60_000)
        expect(page.locator("#no-hints")).to_be_visible()  # this model takes none: said, and no tools shown
        expect(page.locator("#hint-tools")).to_be_hidden()
        page.wait_for_function("document.getElementById('after').complete && "
                               "document.getElementById('after').naturalWidth > 0")
        after = page.evaluate(AFTER_PIXEL)
        assert (after["width"], after["height"]) == (320, 200)
        assert after["r"] > after["b"] + 10  # warm: coloured by the model
        expect(page.locator("#download")).to_have_attribute("download", "street-colour.png")
        page.locator("#slider").fill("30")  # the before/after divider follows the slider
        assert page.eval_on_selector("#compare", "el => el.style.getPropertyValue('--split')") == "30%"
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        page.evaluate(DROP, ["portrait.png", list(png(photo(120, 160, seed=2)))])
        expect(page.locator("#download")).to_have_attribute("download", "portrait-colour.png", timeout=60_000)
        page.wait_for_function("document.getElementById('after').naturalWidth === 120")
        expect(page.locator("#message")).to_be_hidden()
        holiday = photo(100, 80, seed=3).copy()
        holiday[..., 0] = 220
        page.evaluate(DROP, ["holiday.png", list(png(holiday))])
        expect(page.locator("#message")).to_have_text("the photo is already in colour; colouring it again from its "
                                                      "luma", timeout=60_000)
        expect(page.locator("#photo-result")).to_be_visible()
        browser.close()


AFTER_AT = """([x, y, r]) => {
  const img = document.getElementById("after");
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(x - r, y - r, 2 * r + 1, 2 * r + 1).data;
  const sum = [0, 0, 0];
  for (let i = 0; i < data.length; i += 4) for (let c = 0; c < 3; c++) sum[c] += data[i + c];
  return sum.map((s) => s / (data.length / 4));
}"""
SHOWN = """n => { const img = document.getElementById("after");
  return img.dataset.hints === String(n) && img.complete && img.naturalWidth > 0; }"""


def color_at(page: Any, x: int, y: int, r: int = 3) -> np.ndarray:
    """The mean RGB of the result shown, around (x, y) in its pixels."""
    return np.array(page.evaluate(AFTER_AT, [x, y, r]))


def click_photo(page: Any, x: int, y: int, size: tuple[int, int], **options: Any) -> None:
    """Click the middle of the photo's pixel (x, y), wherever and however large the photo is shown."""
    box = page.locator("#compare").bounding_box()
    page.locator("#compare").click(position={"x": (x + 0.5) * box["width"] / size[0],
                                             "y": (y + 0.5) * box["height"] / size[1]}, **options)


@contextmanager
def browser_page(url: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 900}, accept_downloads=True)
            page.goto(url)
            yield page
        finally:
            browser.close()


def upload_in_page(page: Any, path: Path) -> None:
    from playwright.sync_api import expect

    page.set_input_files("#file", path)
    expect(page.locator("#hint-tools")).to_be_visible(timeout=60_000)
    page.wait_for_function(SHOWN, arg=0)


@pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                    reason="no browser: install Debian's chromium (apt-get install chromium)")
def test_in_a_browser_a_color_clicked_onto_a_photo_comes_back_there(hinted: Colorizer, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    street = tmp_path / "street.png"
    street.write_bytes(png(photo(320, 200, seed=1)))
    (tmp_path / "server").mkdir()
    with real_server(hinted, tmp_path / "server") as url, browser_page(url) as page:
        upload_in_page(page, street)
        there, far = color_at(page, 80, 50), color_at(page, 280, 170)

        page.locator("#color").fill("#00c000")
        click_photo(page, 80, 50, (320, 200))
        expect(page.locator("#hint-list li")).to_have_text(["#00c000 at (80, 50)Remove"])
        page.wait_for_function(SHOWN, arg=1, timeout=30_000)
        assert np.abs(color_at(page, 80, 50) - there).sum() > 15  # re-coloured where clicked
        assert np.abs(color_at(page, 280, 170) - far).sum() < 3  # and not far away
        expect(page.locator(".marker")).to_have_count(1)
        expect(page.locator("#download")).to_be_hidden()  # the full-size result has no hints yet
        expect(page.locator("#full-size")).to_be_visible()
        page.screenshot(path=str(SCREENSHOT.with_name("serve_hints_screenshot.png")), full_page=True)


@pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                    reason="no browser: install Debian's chromium (apt-get install chromium)")
def test_in_a_browser_hints_are_picked_removed_undone_downloaded_and_colored_at_full_size(
        hinted: Colorizer, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    street = tmp_path / "street.png"
    street.write_bytes(png(photo(320, 200, seed=1)))
    (tmp_path / "server").mkdir()
    size = (320, 200)
    with real_server(hinted, tmp_path / "server") as url, browser_page(url) as page:
        upload_in_page(page, street)
        automatic = color_at(page, 250, 150), color_at(page, 80, 50)

        def hex_at(x: int, y: int) -> str:
            return "#" + "".join(f"{round(v):02x}" for v in color_at(page, x, y, r=0))

        click_photo(page, 200, 100, size, modifiers=["Alt"])  # alt-click: the colour of the result there
        expect(page.locator("#color")).to_have_value(hex_at(200, 100))
        page.locator("#pick").click()
        expect(page.locator("#pick")).to_have_attribute("aria-pressed", "true")
        click_photo(page, 30, 30, size)
        expect(page.locator("#color")).to_have_value(hex_at(30, 30))
        expect(page.locator("#pick")).to_have_attribute("aria-pressed", "false")
        expect(page.locator("#hint-list li")).to_have_count(0)  # picking puts no hint

        page.locator("#color").fill("#2040e0")
        click_photo(page, 80, 50, size)
        page.locator("#color").fill("#e02020")
        click_photo(page, 250, 150, size)
        expect(page.locator("#hint-list li")).to_have_count(2)
        with page.expect_download() as download:
            page.locator("#download-hints").click()
        assert download.value.suggested_filename == "street.png.hints.json"
        assert json.loads(Path(download.value.path()).read_text()) == [
            {"x": 80, "y": 50, "color": "#2040e0"}, {"x": 250, "y": 150, "color": "#e02020"}]

        page.get_by_role("button", name="Remove hint 1").click()
        expect(page.locator("#hint-list li")).to_have_text(["#e02020 at (250, 150)Remove"])
        page.locator("#undo").click()
        expect(page.locator("#hint-list li")).to_have_count(2)
        page.locator("#clear").click()
        expect(page.locator("#hint-list li")).to_have_count(0)
        expect(page.locator("#download")).to_be_visible()  # no hints: the full-size result again
        page.wait_for_function(SHOWN, arg=0)
        assert np.abs(color_at(page, 250, 150) - automatic[0]).sum() < 1
        page.locator("#undo").click()  # back to both
        page.locator("#undo").click()  # back to the first alone
        expect(page.locator("#hint-list li")).to_have_text(["#2040e0 at (80, 50)Remove"])

        page.locator("#full-size").click()
        expect(page.locator("#download")).to_be_visible(timeout=60_000)
        page.wait_for_function(SHOWN, arg=1)
        assert page.evaluate("document.getElementById('after').naturalWidth") == 320
        assert np.abs(color_at(page, 80, 50) - automatic[1]).sum() > 15

        # What the server refuses is said in its own words, and the photo stays.
        page.route("**/preview", lambda route: route.fulfill(
            status=422, content_type="application/json", json={"detail": "hints: entry 1: refused for the test"}))
        click_photo(page, 10, 10, size)
        expect(page.locator("#message")).to_have_text("hints: entry 1: refused for the test")
        expect(page.locator("#photo-result")).to_be_visible()


def test_a_server_stopped_while_coloring_a_film_stops_the_film_and_waits_for_it(tmp_path):
    """Left running into the interpreter's exit, a film's decoder and model threads abort the process (134)."""
    started = threading.Event()

    def color(job: Job) -> None:
        started.set()
        while True:  # a long film: frames keep coming
            films.check_open()
            time.sleep(0.01)

    films = Films(color, retention=60.0, temp_root=tmp_path)
    films.open()
    job_id, upload = films.new_upload()
    upload.write_bytes(b"a film")
    job = Job(job_id, upload, tmp_path / "result.mp4", frames_total=None)
    films.submit(job)
    assert started.wait(10)
    films.close()
    assert (job.state, job.error) == ("failed", "the server stopped before the film was done")
    assert not any(tmp_path.iterdir())


def test_ctrl_c_pressed_twice_stops_the_server_quietly_and_deletes_what_it_kept(model_file: Path, tmp_path: Path
                                                                               ) -> None:
    """The second Ctrl-C is uvicorn's forced stop, which skips the app's shutdown: it ended in a traceback."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    command = [sys.executable, "-m", "vidcolor", "serve", "--port", "0", "--model", str(model_file)]
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env) as server:
        assert server.stderr is not None
        announced = server.stderr.readline()
        port = int(announced.rsplit(":", 1)[1].split("/")[0])
        deadline = time.monotonic() + 60
        while list(tmp_path.glob("vidcolor-serve-*")) == [] or not _answers(port):
            assert time.monotonic() < deadline, "the server never answered"
            time.sleep(0.1)
        server.send_signal(signal.SIGINT)
        time.sleep(0.05)
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=60) == 0
        assert server.stderr.read() == ""
    assert list(tmp_path.glob("vidcolor-serve-*")) == []


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
