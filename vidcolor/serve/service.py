"""What the web page's requests do, apart from their routes (vidcolor.serve.app): colour a photo and keep it
small for previews, re-colour a kept one with clicks, queue a film and hold it to the server's limits.

Imported only when serving: it needs the web stack, and torch through the colourizer.
"""
from __future__ import annotations

import json
import math
import queue
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import cv2
import numpy as np
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response

from ..api import colorize_photo, colorize_video
from ..film.probe import Source, probe
from ..hints.file import check_hints_fit, parse_hints, points_of
from ..photo.read import photo_suffix, pillow_format, pixel_count, read_photo
from ..runtime.hints import Told
from ..runtime.inference import Colorizer
from ..utils.errors import UserError
from ..utils.in_color import KEEP_ADVICE
from ..utils.numbers import is_whole_number
from .jobs import Films, Job
from .kept import KeptPhoto, KeptPhotos, small_picture
from .limits import ServeLimits

MAX_PHOTO_PIXELS = 50_000_000  # beyond this a photo's float tensors would take many GB
MAX_HINTS = 1000  # entries in one request's hints
MAX_HINTS_BYTES = 256 * 1024  # a preview request's body: its hints
MAX_RATE = 120  # frames a second a film within --max-video-seconds is taken to have at most


def hints_of(text: str | bytes | None) -> list[dict[str, Any]]:
    """The hints a request sends (JSON: a hints file's list), checked; none for an empty field or `[]`.
    Anything wrong is an HTTP 422 whose message is the one line `vidcolor run` would say."""
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


def form_mistake(errors: Sequence[Any]) -> str:
    """FastAPI's account of a malformed request (a list of dicts, echoing what was sent) as one line that
    names the field and says nothing back of what was sent."""
    first = errors[0] if errors else {}
    field = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path"))
    if field == "file":  # missing, or sent as a plain field (a part with no file name)
        return "the form needs the photo or film as its file part `file` (e.g. curl -F file=@photo.jpg)"
    if first.get("type") == "missing":
        return f"the form has no `{field}` field"
    return f"{field or 'the request'}: {str(first.get('msg', 'not understood')).lower()}"


def hints_file_part(part: BinaryIO) -> bytes:
    """A hints file sent as a file (curl -F hints=@h.json), read no further than the limit."""
    hints = part.read(MAX_HINTS_BYTES + 1)
    if len(hints) > MAX_HINTS_BYTES:
        raise HTTPException(413, f"hints: more than {MAX_HINTS_BYTES // 1024} KB")
    return hints


async def hints_body(request: Request) -> bytes:
    """A preview request's body, read no further than the limit."""
    declared = request.headers.get("content-length", "")
    too_long = f"the hints are larger than this server's limit of {MAX_HINTS_BYTES // 1024} kB"
    if is_whole_number(declared) and int(declared) > MAX_HINTS_BYTES:
        raise HTTPException(413, too_long)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_HINTS_BYTES:
            raise HTTPException(413, too_long)
    return body


def _too_many_pixels() -> HTTPException:
    return HTTPException(413, f"the photo has more than this server's limit of {MAX_PHOTO_PIXELS:,} pixels")


class ColorService:
    """The served model, the films' queue and the photos kept for hints, and what each request does with them.

    One photo at a time: each pass uses every core (or the GPU). The film being coloured runs its model in
    single-threaded workers (vidcolor.film.painter.model_pool), which share the cores with a photo fairly."""

    def __init__(self, colorizer: Colorizer, limits: ServeLimits, temp_root: Path | None) -> None:
        self.colorizer, self.limits = colorizer, limits
        self.kept = KeptPhotos(limits.retention_seconds)
        self.films = Films(self._color_film, limits.retention_seconds, temp_root)
        self.photo_lock = threading.Lock()

    def hint_colorizer(self) -> Colorizer:
        """The served model, for photos given hints: refused if it takes none."""
        try:
            return self.colorizer.require_hints()
        except UserError as exc:
            raise HTTPException(422, str(exc)) from None

    def receive(self, data: BinaryIO, told: list[dict[str, Any]]) -> Response:
        """An upload: a photo comes back coloured, a film is queued. A GIF is a film, as `vidcolor run` has it."""
        if told:
            self.hint_colorizer()  # refused before the upload is stored, if no model takes hints
        job_id, upload = self.films.new_upload()
        with upload.open("wb") as out:
            shutil.copyfileobj(data, out)
        if (pixel_count(upload) or 0) > MAX_PHOTO_PIXELS:  # told by the header: never decoded
            upload.unlink()
            raise _too_many_pixels()
        suffix = photo_suffix(upload)
        if suffix is not None:  # read as what it is: the reader goes by the name for deep TIFFs, transparency, pages
            upload = upload.rename(upload.with_suffix(suffix))
        try:
            if pillow_format(upload) == "GIF":
                raise UserError("a GIF is coloured as a film")
            rgb = read_photo(upload)
        except UserError as exc:
            if suffix is not None:  # a photo by its bytes, damaged: not a film either
                upload.unlink()
                raise HTTPException(415, f"not a photo vidcolor can use: {str(exc).replace(f'{upload}: ', '')}")
            if told:
                upload.unlink()
                raise HTTPException(422, "hints are taken here for photos only; colour a film with hints by "
                                         "`vidcolor run FILM -o OUT --hints HINTS.json`") from None
            return self._queue_film(job_id, upload)
        if rgb.shape[0] * rgb.shape[1] > MAX_PHOTO_PIXELS:  # a format whose header Pillow cannot read (.hdr)
            upload.unlink()
            raise _too_many_pixels()
        return self._color_photo(job_id, upload, rgb, told)

    def _color_photo(self, job_id: str, photo: Path, rgb: np.ndarray, told: list[dict[str, Any]]) -> Response:
        """As `vidcolor run` colours a photo into a PNG: depth, transparency and EXIF/ICC kept."""
        result = self.films.folder / f"{job_id}-color.png"
        said: list[str] = []  # in the page's words: no upload's name, no command-line options
        try:
            with self.photo_lock:
                colorize_photo(photo, result, model=self.colorizer, hints=told or None, overwrite=True, quiet=True,
                               warn=lambda message: said.append(message.removesuffix(KEEP_ADVICE).replace(
                                   f"{photo.name} ", "the photo ")))
            headers = self._keep_for_hints(rgb) if self.colorizer.takes_hints else {}
            if said:  # as a film job's warnings are: a header is one line of ASCII, so as JSON
                headers["X-Warnings"] = json.dumps(said)
            return Response(result.read_bytes(), media_type="image/png", headers=headers)
        except UserError as exc:
            reason = str(exc).replace(f"{photo}: ", "")
            if reason.startswith("hints: "):  # e.g. a hint outside the photo
                raise HTTPException(422, reason) from None
            raise HTTPException(415, f"not a photo vidcolor can use: {reason}") from None
        finally:
            photo.unlink(missing_ok=True)
            result.unlink(missing_ok=True)

    def _keep_for_hints(self, rgb: np.ndarray) -> dict[str, str]:
        """Keep the photo small for previews; the answer's headers that say under which id, and its size (upright,
        as it was coloured and as the page's clicks are measured)."""
        height, width = rgb.shape[:2]
        photo_id = self.kept.keep(KeptPhoto(width, height, small_picture(rgb)))
        return {"X-Photo-Id": photo_id, "X-Photo-Size": f"{width}x{height}"}

    def kept_photo(self, photo_id: str) -> KeptPhoto:
        photo = self.kept.get(photo_id)
        if photo is None:
            raise HTTPException(404, "this photo is no longer kept for hints (photos are dropped after a while); "
                                     "colour it again")
        return photo

    def preview(self, photo: KeptPhoto, told: list[dict[str, Any]]) -> Response:
        """The kept photo re-coloured with the hints, in its own small size, as a PNG."""
        hints = parse_hints(told, "hints")
        try:
            check_hints_fit(hints, photo.width, photo.height, "hints")
        except UserError as exc:
            raise HTTPException(422, str(exc)) from None
        points = points_of(hints)
        points[:, :2] *= photo.scale  # across, down
        with self.photo_lock:
            if hints:
                colored = self.hint_colorizer().colorize_rgb(photo.small, Told(points))
            else:
                colored = self.colorizer.colorize_rgb(photo.small)
        return Response(cv2.imencode(".png", cv2.cvtColor(colored, cv2.COLOR_RGB2BGR))[1].tobytes(),
                        media_type="image/png")

    def _queue_film(self, job_id: str, upload: Path) -> JSONResponse:
        """The film queued, when its stated length is within the limit; the upload gone otherwise. A film that
        states no length (a still GIF) is held to the frames the limit allows, as one that understates it is."""
        try:
            source = probe(upload)
            if source.seconds > self.limits.max_video_seconds:
                raise HTTPException(422, f"the film lasts {source.seconds:.0f} s; this server takes films up to "
                                         f"{self.limits.max_video_seconds:g} s")
            job = Job(job_id, upload, self.films.folder / f"{job_id}.mp4", source.frames, self._frames_allowed(source),
                      seconds=source.seconds)
            self.films.submit(job)
        except BaseException as exc:  # the upload goes, whatever went wrong
            upload.unlink(missing_ok=True)
            if isinstance(exc, UserError):
                reason = str(exc).replace(f"{upload}: ", "")
                raise HTTPException(415, f"neither a photo nor a film vidcolor can use: {reason}") from None
            if isinstance(exc, queue.Full):
                raise HTTPException(503, "too many films are waiting; try again later") from None
            raise
        return JSONResponse(job.status(), status_code=202, headers={"Location": f"/api/jobs/{job_id}"})

    def _frames_allowed(self, source: Source) -> int:
        """The most frames a film within the limit holds, at its stated rate (at most MAX_RATE: a rate can lie too)."""
        return math.ceil(self.limits.max_video_seconds * min(source.rate or 25, MAX_RATE) * 1.05) + 1

    def _color_film(self, job: Job) -> None:
        """The films' worker: one queued film through `vidcolor run`'s pipeline, held to the frames allowed (a
        file may understate its length: its frames are what count)."""
        def advance(frames: int) -> None:
            self.films.check_open()
            job.advance(frames)
            if job.frames_allowed is not None and job.frames_done > job.frames_allowed:
                said = "is longer than it says" if job.seconds else "does not say how long it is, and runs longer"
                raise UserError(f"the film {said}; this server takes films up to {self.limits.max_video_seconds:g} s")

        colorize_video(job.upload, job.result, model=self.colorizer, max_bits=8,  # browsers play only 8-bit H.264
                       quiet=True, warn=lambda message: job.warnings.append(message.removesuffix(KEEP_ADVICE)),
                       on_frames=advance)

    def job(self, job_id: str) -> Job:
        job = self.films.get(job_id)
        if job is None:
            raise HTTPException(404, "no such job (finished films are deleted after a while)")
        return job
