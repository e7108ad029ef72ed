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
import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click

from ..utils.errors import UserError
from ..utils.guard import DECODE_SECONDS, on_hang
from .limits import ServeLimits

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at run
# time, and theirs are imported inside create_app. Names only needed for typing are quoted.

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ..runtime.inference import Colorizer

WEB_DIR = Path(__file__).resolve().parent / "web"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and headers around the file itself
PAGE_POLICY = "default-src 'self'; img-src 'self' blob:; media-src 'self' blob:"

log = logging.getLogger("vidcolor.serve")


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


def create_app(model: "str | Colorizer", *, device: str = "auto", limits: ServeLimits = ServeLimits(),
               temp_root: Path | None = None) -> "FastAPI":
    """The web app: the page at `/` and the JSON API under `/api`; what each request does is
    vidcolor.serve.service's.

    `model` is a shipped model name, a .safetensors file, or a ready Colorizer. The private
    folder is made under `temp_root` (default: the system's temp folder) when the app starts and
    deleted when it stops; run the app with its lifespan (uvicorn, or `with TestClient(app)`).
    Photos may be given hints when the model takes them (the default does).
    """
    from fastapi import FastAPI, Form, HTTPException, Request, UploadFile
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, Response
    from fastapi.staticfiles import StaticFiles
    from starlette.datastructures import UploadFile as FilePart  # what a form's file part is

    from .service import ColorService, form_mistake, hints_body, hints_file_part, hints_of

    colorizer, label = _load(model, device)
    service = ColorService(colorizer, limits, temp_root)
    # A decoder that hangs cannot be stopped, and a server is not ours to end: it is logged; the rest go on.
    on_hang(lambda what: log.error("decoding %s made no progress in %.0f s; its request is lost", what,
                                   DECODE_SECONDS))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.films.open()
        try:
            yield
        except asyncio.CancelledError:  # a forced stop (Ctrl-C twice): the process ends, quietly, not in a traceback
            pass  # of the cancelled shutdown (uvicorn skips it); what was kept is still deleted below
        finally:
            service.films.close()
            service.kept.clear()

    app = FastAPI(title="vidcolor", lifespan=lifespan, docs_url=None, redoc_url=None)
    megabytes = float(f"{limits.max_upload_bytes / 1024 ** 2:.3g}")  # three figures: 200, 1.5, 0.005 (not 0.01)
    too_large = f"the file is larger than this server's limit of {megabytes:g} MB"
    app.add_middleware(_UploadLimit, max_bytes=limits.max_upload_bytes + FORM_OVERHEAD, message=too_large)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.exception_handler(RequestValidationError)
    async def malformed(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": form_mistake(exc.errors())}, status_code=422)

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
    async def colorize(request: Request, file: UploadFile,
                       hints: Annotated[str | UploadFile | None, Form()] = None) -> Response:
        """A photo comes back coloured (PNG, same size); a film is queued: 202 and its job.

        `hints`: a photo's colour hints, the JSON list a hints file holds (`[{"x": 120, "y": 44, "color":
        "#a03020"}]`, pixels of the upright photo). Where hints can be taken, a photo's answer says under
        which id it is kept for previews (X-Photo-Id) and its upright size (X-Photo-Size, e.g. 640x480).
        """
        if file.size is not None and file.size > limits.max_upload_bytes:  # the body's limit has some slack
            raise HTTPException(413, too_large)
        if len((await request.form()).getlist("file")) > 1:  # the form already read: only the last would be kept
            raise HTTPException(422, "one photo or film per request, as the form's file part `file`")
        told = hints_of(hints_file_part(hints.file) if isinstance(hints, FilePart) else hints)
        return await run_in_threadpool(service.receive, file.file, told)

    @app.post("/api/photos/{photo_id}/preview")
    async def preview(photo_id: str, request: Request) -> Response:
        """A kept photo re-coloured with the hints the body gives (the JSON list a hints file holds, in the
        photo's own pixels), as a PNG whose longer side is at most 1024 pixels: the page's answer to a click."""
        told = hints_of(await hints_body(request))
        if told:
            service.hint_colorizer()
        return await run_in_threadpool(service.preview, service.kept_photo(photo_id), told)

    @app.get("/api/jobs/{job_id}")
    def job_status(job_id: str) -> dict[str, Any]:
        """State (queued, running, done, failed), progress 0..1, and the result's URL once done."""
        return service.job(job_id).status()

    @app.get("/api/jobs/{job_id}/result")
    def job_result(job_id: str) -> FileResponse:
        """The coloured film (MP4, with its sound)."""
        job = service.job(job_id)
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
