"""`vidcolor serve`: a local web page that colours photos and short films.

A photo is coloured while its request waits, with the user's colour hints if the form sends them.
A film is queued, coloured by a single worker thread through the same pipeline as `vidcolor run`
(so one film at a time, sound kept), and kept for download for a while. Whatever a visitor sends
is checked by decoding it, never by its name or declared type, and is stored only under names we
make up, in a private temp folder.

Where hints can be taken (the served model takes them, as the default does), each coloured photo is also kept
small in memory for a while, so that the page's clicks are answered by re-colouring that
(`/api/photos/{id}/preview`) in about a second rather than the whole photo.

Only click and the standard library are imported here at module level, so `vidcolor --help`
stays fast and works without the `serve` extra; the web stack and torch load when serving.
"""
import json
import logging
import math
import queue
import shutil
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click

from ..utils.errors import UserError
from ..utils.guard import DECODE_SECONDS, on_hang
from .jobs import Films, Job

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at run
# time, and theirs are imported inside create_app. Names only needed for typing are quoted.

if TYPE_CHECKING:
    import numpy as np
    from fastapi import FastAPI

    from ..runtime.inference import Colorizer

WEB_DIR = Path(__file__).resolve().parent / "web"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_PHOTO_PIXELS = 50_000_000  # beyond this a photo's float tensors would take many GB
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and headers around the file itself
PAGE_POLICY = "default-src 'self'; img-src 'self' blob:; media-src 'self' blob:"
MAX_HINTS = 1000  # entries in one request's hints
MAX_HINTS_BYTES = 256 * 1024  # a preview request's body: its hints
MAX_RATE = 120  # frames a second a film within --max-video-seconds is taken to have at most

log = logging.getLogger("vidcolor.serve")


@dataclass(frozen=True)
class ServeLimits:
    """What one visitor may ask of the server."""
    max_upload_bytes: int = 200 * 1024 * 1024
    max_video_seconds: float = 10 * 60
    retention_seconds: float = 60 * 60  # finished films are deleted this long after they finish


class _UploadLimit:
    """ASGI middleware: refuses a request body over the limit as it arrives, before it is stored.

    A declared Content-Length over the limit is refused before reading a byte; a chunked body is
    counted. The HTTPException is raised inside the endpoint's body parsing, where FastAPI turns
    it into a JSON 413.
    """

    def __init__(self, app: Callable[..., Awaitable[None]], max_bytes: int, message: str) -> None:
        self.app, self.max_bytes, self.message = app, max_bytes, message

    async def __call__(self, scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from fastapi import HTTPException

        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        received = 0

        async def limited() -> dict[str, Any]:
            nonlocal received
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise HTTPException(413, self.message)
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, self.message)
            return message

        await self.app(scope, limited, send)


def _label(model: "str | Colorizer") -> str:
    """The name the page shows for a model."""
    if isinstance(model, str):
        return Path(model).stem if model.endswith(".safetensors") else model
    return str(model.meta.get("family", "custom model"))


def _load(model: "str | Colorizer", device: str) -> "tuple[Colorizer, str]":
    """The colorizer to serve and the name the page shows for it."""
    from ..runtime.inference import Colorizer

    return (model if isinstance(model, Colorizer) else Colorizer.load(model, device)), _label(model)


def _hints_of(text: str | bytes | None) -> list[dict[str, Any]]:
    """The hints a request sends (JSON: a hints file's list), checked; none for an empty field or `[]`.
    Anything wrong is an HTTP 422 whose message is the one line `vidcolor run` would say."""
    from fastapi import HTTPException

    from ..hints.file import parse_hints

    if text is None or not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HTTPException(422, f"hints: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except (ValueError, RecursionError):  # not UTF-8, or nested beyond reason
        raise HTTPException(422, "hints: not valid JSON") from None
    if isinstance(data, list) and len(data) > MAX_HINTS:
        raise HTTPException(422, f"hints: {len(data)} entries; this server takes up to {MAX_HINTS}")
    try:
        parse_hints(data, "hints")
    except UserError as exc:
        raise HTTPException(422, str(exc)) from None
    return list(data)


def create_app(model: "str | Colorizer", *, device: str = "auto", limits: ServeLimits = ServeLimits(),
               temp_root: Path | None = None) -> "FastAPI":
    """The web app: the page at `/` and the JSON API under `/api`.

    `model` is a shipped model name, a .safetensors file, or a ready Colorizer. The private
    folder is made under `temp_root` (default: the system's temp folder) when the app starts and
    deleted when it stops; run the app with its lifespan (uvicorn, or `with TestClient(app)`).
    Photos may be given hints when the model takes them (the default does).
    """
    import cv2
    from fastapi import FastAPI, Form, HTTPException, Request, UploadFile
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import FileResponse, JSONResponse, Response
    from fastapi.staticfiles import StaticFiles
    from PIL import Image
    from starlette.datastructures import UploadFile as FilePart  # what a form's file part is

    from ..api import colorize_photo, colorize_video
    from ..film.probe import Source, probe
    from ..hints.file import check_hints_fit, parse_hints, points_of
    from ..photo.read import photo_suffix, pillow_format, pixel_count, read_image, read_photo
    from ..runtime.hints import Told
    from ..runtime.inference import Colorizer
    from ..utils.in_color import KEEP_ADVICE
    from .kept import KeptPhoto, KeptPhotos, small_picture

    colorizer, label = _load(model, device)
    kept = KeptPhotos(limits.retention_seconds)
    # A decoder that hangs cannot be stopped, and a server is not ours to end: it is logged; the rest go on.
    on_hang(lambda what: log.error("decoding %s made no progress in %.0f s; its request is lost", what,
                                   DECODE_SECONDS))
    # One photo at a time: each pass uses every core (or the GPU). The film being coloured runs its model
    # in single-threaded workers (vidcolor.film.painter.model_pool), which share the cores with a photo fairly.
    photo_lock = threading.Lock()

    def color_film(job: Job) -> None:
        def advance(frames: int) -> None:  # a file may understate its length: its frames are what count
            films.check_open()
            job.advance(frames)
            if job.frames_allowed is not None and job.frames_done > job.frames_allowed:
                raise UserError(f"the film is longer than it says; this server takes films up to "
                                f"{limits.max_video_seconds:g} s")

        colorize_video(job.upload, job.result, model=colorizer, max_bits=8,  # browsers play only 8-bit H.264
                       quiet=True, warn=lambda message: job.warnings.append(message.removesuffix(KEEP_ADVICE)),
                       on_frames=advance)

    def frames_allowed(source: Source) -> int:
        """The most frames a film within the limit holds, at its stated rate (at most MAX_RATE: a rate can lie too)."""
        return math.ceil(limits.max_video_seconds * min(source.rate or 25, MAX_RATE) * 1.05) + 1

    films = Films(color_film, limits.retention_seconds, temp_root)

    def hint_colorizer() -> Colorizer:
        """The served model, for photos given hints: refused if it takes none."""
        try:
            return colorizer.require_hints()
        except UserError as exc:
            raise HTTPException(422, str(exc)) from None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        films.open()
        try:
            yield
        finally:
            films.close()
            kept.clear()

    app = FastAPI(title="vidcolor", lifespan=lifespan, docs_url=None, redoc_url=None)
    too_large = f"the file is larger than this server's limit of {limits.max_upload_bytes / 1024 ** 2:g} MB"
    app.add_middleware(_UploadLimit, max_bytes=limits.max_upload_bytes + FORM_OVERHEAD, message=too_large)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers={"Content-Security-Policy": PAGE_POLICY})

    @app.get("/api/info")
    def info() -> dict[str, Any]:
        """What the page shows and checks before uploading."""
        return {"model": label, "max_upload_bytes": limits.max_upload_bytes,
                "max_video_seconds": limits.max_video_seconds, "retention_seconds": limits.retention_seconds,
                "hints": colorizer.takes_hints}

    @app.post("/api/colorize")
    def colorize(file: UploadFile, hints: Annotated[str | UploadFile | None, Form()] = None) -> Response:
        """A photo comes back coloured (PNG, same size); a film is queued: 202 and its job.

        `hints`: a photo's colour hints, the JSON list a hints file holds (`[{"x": 120, "y": 44, "color":
        "#a03020"}]`, pixels of the upright photo). Where hints can be taken, a photo's answer says under
        which id it is kept for previews (X-Photo-Id) and its upright size (X-Photo-Size, e.g. 640x480).
        """
        if file.size is not None and file.size > limits.max_upload_bytes:  # the body's limit has some slack
            raise HTTPException(413, too_large)
        if isinstance(hints, FilePart):  # a hints file sent as a file (curl -F hints=@h.json)
            hints = hints.file.read(MAX_HINTS_BYTES + 1)
            if len(hints) > MAX_HINTS_BYTES:
                raise HTTPException(413, f"hints: more than {MAX_HINTS_BYTES // 1024} KB")
        told = _hints_of(hints)
        if told:
            hint_colorizer()  # refused before the upload is stored, if no model takes hints
        job_id, upload = films.new_upload()
        with upload.open("wb") as out:
            shutil.copyfileobj(file.file, out)
        too_many_pixels = f"the photo has more than this server's limit of {MAX_PHOTO_PIXELS:,} pixels"
        if (pixel_count(upload) or 0) > MAX_PHOTO_PIXELS:  # told by the header: never decoded
            upload.unlink()
            raise HTTPException(413, too_many_pixels)
        try:
            if pillow_format(upload) == "GIF":  # `vidcolor run` colours a GIF as a film, and so does the page
                raise UserError("a GIF is coloured as a film")
            rgb = read_image(upload)
        except UserError:
            if told:
                upload.unlink()
                raise HTTPException(422, "hints are taken here for photos only; colour a film with hints by "
                                         "`vidcolor run FILM -o OUT --hints HINTS.json`") from None
            return queue_film(job_id, upload)
        if rgb.shape[0] * rgb.shape[1] > MAX_PHOTO_PIXELS:  # a format whose header Pillow cannot read (.hdr)
            upload.unlink()
            raise HTTPException(413, too_many_pixels)
        return color_photo(job_id, upload, rgb, told)

    def color_photo(job_id: str, upload: Path, rgb: "np.ndarray", told: list[dict[str, Any]]) -> Response:
        """As `vidcolor run` colours a photo into a PNG: depth, transparency and EXIF/ICC kept."""
        photo = upload.rename(upload.with_suffix(photo_suffix(upload) or upload.suffix))  # read as what it is
        result = films.folder / f"{job_id}-colour.png"
        try:
            with photo_lock:
                colorize_photo(photo, result, model=colorizer, hints=told or None,
                               overwrite=True, warn=lambda message: None)
            headers = keep_for_hints(photo, rgb, result) if colorizer.takes_hints else {}
            return Response(result.read_bytes(), media_type="image/png", headers=headers)
        except UserError as exc:
            reason = str(exc).replace(f"{photo}: ", "")
            if reason.startswith("hints: "):  # e.g. a hint outside the photo
                raise HTTPException(422, reason) from None
            raise HTTPException(415, f"not a photo vidcolor can use: {reason}") from None
        finally:
            photo.unlink(missing_ok=True)
            result.unlink(missing_ok=True)

    def keep_for_hints(photo: Path, rgb: "np.ndarray", result: Path) -> dict[str, str]:
        """Keep the photo small for previews; the answer's headers that say under which id, and its size."""
        with Image.open(result) as written:
            width, height = written.size  # upright, as the page's clicks are measured
        if rgb.shape[:2] != (height, width):  # the quick decode turned it otherwise (some TIFFs): as coloured
            rgb = read_photo(photo)
        photo_id = kept.keep(KeptPhoto(width, height, small_picture(rgb)))
        return {"X-Photo-Id": photo_id, "X-Photo-Size": f"{width}x{height}"}

    async def hints_body(request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        too_long = f"the hints are larger than this server's limit of {MAX_HINTS_BYTES // 1024} kB"
        if declared.isdigit() and int(declared) > MAX_HINTS_BYTES:
            raise HTTPException(413, too_long)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_HINTS_BYTES:
                raise HTTPException(413, too_long)
        return body

    @app.post("/api/photos/{photo_id}/preview")
    async def preview(photo_id: str, request: Request) -> Response:
        """A kept photo re-coloured with the hints the body gives (the JSON list a hints file holds, in the
        photo's own pixels), as a PNG whose longer side is at most 1024 pixels: the page's answer to a click."""
        told = _hints_of(await hints_body(request))
        if told:
            hint_colorizer()
        photo = kept.get(photo_id)
        if photo is None:
            raise HTTPException(404, "this photo is no longer kept for hints (photos are dropped after a while); "
                                     "colour it again")
        return await run_in_threadpool(color_preview, photo, told)

    def color_preview(photo: KeptPhoto, told: list[dict[str, Any]]) -> Response:
        hints = parse_hints(told, "hints")
        try:
            check_hints_fit(hints, photo.width, photo.height, "hints")
        except UserError as exc:
            raise HTTPException(422, str(exc)) from None
        points = points_of(hints)
        points[:, :2] *= photo.scale  # across, down
        with photo_lock:
            if hints:
                colored = hint_colorizer().colorize_rgb(photo.small, Told(points))
            else:
                colored = colorizer.colorize_rgb(photo.small)
        return Response(cv2.imencode(".png", cv2.cvtColor(colored, cv2.COLOR_RGB2BGR))[1].tobytes(),
                        media_type="image/png")

    def queue_film(job_id: str, upload: Path) -> JSONResponse:
        try:
            source = probe(upload)
            seconds = source.seconds
            if not seconds:
                raise HTTPException(422, "the film does not say how long it is, so it cannot be checked")
            if seconds > limits.max_video_seconds:
                raise HTTPException(422, f"the film lasts {seconds:.0f} s; this server takes films up to "
                                         f"{limits.max_video_seconds:g} s")
            job = Job(job_id, upload, films.folder / f"{job_id}.mp4", source.frames, frames_allowed(source))
            films.submit(job)
        except BaseException as exc:  # the upload goes, whatever went wrong
            upload.unlink(missing_ok=True)
            if isinstance(exc, UserError):
                reason = str(exc).replace(f"{upload}: ", "")
                raise HTTPException(415, f"neither a photo nor a film vidcolor can use: {reason}") from None
            if isinstance(exc, queue.Full):
                raise HTTPException(503, "too many films are waiting; try again later") from None
            raise
        return JSONResponse(job.status(), status_code=202, headers={"Location": f"/api/jobs/{job_id}"})

    def job_or_404(job_id: str) -> Job:
        job = films.get(job_id)
        if job is None:
            raise HTTPException(404, "no such job (finished films are deleted after a while)")
        return job

    @app.get("/api/jobs/{job_id}")
    def job_status(job_id: str) -> dict[str, Any]:
        """State (queued, running, done, failed), progress 0..1, and the result's URL once done."""
        return job_or_404(job_id).status()

    @app.get("/api/jobs/{job_id}/result")
    def job_result(job_id: str) -> FileResponse:
        """The coloured film (MP4, with its sound)."""
        job = job_or_404(job_id)
        if job.state != "done":
            raise HTTPException(409, job.error or f"the film is not coloured yet ({job.state})")
        return FileResponse(job.result, media_type="video/mp4")

    return app


def _free_port(host: str, port: int) -> int:
    """`port` (0: one the system picks) if it can be listened on at `host`, checked before the page is
    announced; else one clear line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind((host, port))
            return int(probe.getsockname()[1])
    except OSError as exc:
        raise UserError(f"cannot listen on {host} port {port} ({exc.strerror or exc})") from None


def run_server(host: str, port: int, model: str, device: str = "auto", limits: ServeLimits = ServeLimits()) -> None:
    """Load the model, then serve the page until Ctrl-C (which deletes every upload and result)."""
    try:
        import uvicorn
    except ImportError:
        raise UserError("serving needs the web extra: pip install 'vidcolor[serve]'") from None
    port = _free_port(host, port)  # first: an address it cannot listen on is all there is to say
    if host not in LOCAL_HOSTS:
        click.echo(f"vidcolor: warning: serving on {host}, not just this computer: anyone who can reach it can "
                   "upload files and use its processor, with no login", err=True)
    app = create_app(model, device=device, limits=limits)
    url_host = f"[{host}]" if ":" in host else host
    click.echo(f"vidcolor: serving {model} at http://{url_host}:{port}/ (Ctrl-C stops)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
