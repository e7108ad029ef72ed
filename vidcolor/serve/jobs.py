"""The web server's films: a private folder, one worker thread colouring queued films in order, a janitor
deleting each finished film a while after it finished."""
from __future__ import annotations

import logging
import queue
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..utils.errors import UserError

log = logging.getLogger("vidcolor.serve")
MAX_WAITING_FILMS = 16  # each waiting film holds its upload on disk
CLOSE_SECONDS = 30.0  # how long closing waits for the film being coloured to stop at its next frames


@dataclass
class Job:
    """One film: where its upload and result live (names we made up), and how far it has got."""
    id: str
    upload: Path
    result: Path
    frames_total: int | None
    frames_allowed: int | None = None  # past this many frames the film is longer than the server takes
    seconds: float = 0.0  # how long the film says it is; 0 where it does not say (a raw stream)
    state: str = "queued"  # -> running -> done | failed
    frames_done: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    finished: float | None = None  # time.monotonic() when it became done or failed

    def advance(self, frames: int) -> None:
        self.frames_done += frames

    @property
    def progress(self) -> float | None:
        """0..1; None while running a film whose length in frames is unknown."""
        if self.state == "done":
            return 1.0
        if self.state == "queued":
            return 0.0
        return min(self.frames_done / self.frames_total, 0.99) if self.frames_total else None

    def status(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "progress": self.progress, "frames_done": self.frames_done,
                "frames_total": self.frames_total, "error": self.error, "warnings": list(self.warnings),
                "result": f"/api/jobs/{self.id}/result" if self.state == "done" else None}


class Films:
    """The private folder and the films in it.

    One worker thread colours queued films in order; a janitor thread deletes each finished film
    `retention` seconds after it finished. Uploads are deleted as soon as their film is done.
    """

    def __init__(self, color: Callable[[Job], None], retention: float, temp_root: Path | None) -> None:
        self._color, self._retention, self._temp_root = color, retention, temp_root
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._waiting: queue.Queue[Job] = queue.Queue(maxsize=MAX_WAITING_FILMS)
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.folder = Path()

    def open(self) -> None:
        """Make the private folder (mode 0700) and start the worker and the janitor."""
        self.folder = Path(tempfile.mkdtemp(prefix="vidcolor-serve-", dir=self._temp_root))
        self._worker = threading.Thread(target=self._work, name="vidcolor-serve-worker", daemon=True)
        self._worker.start()
        threading.Thread(target=self._sweep, name="vidcolor-serve-janitor", daemon=True).start()

    def close(self) -> None:
        """Stop taking work and delete everything. A film being coloured fails at its next frames (`check_open`),
        and is waited for: left running into the interpreter's exit, its decoder and model threads abort it."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join(CLOSE_SECONDS)
        shutil.rmtree(self.folder, ignore_errors=True)

    def check_open(self) -> None:
        """Raise UserError once the server is closing: what a film being coloured calls as its frames come."""
        if self._stop.is_set():
            raise UserError("the server stopped before the film was done")

    def new_upload(self) -> tuple[str, Path]:
        """A fresh id and the path its upload is stored at."""
        job_id = uuid.uuid4().hex
        return job_id, self.folder / f"{job_id}.upload"

    def submit(self, job: Job) -> None:
        """Queue a film; raises queue.Full when too many are waiting."""
        with self._lock:
            self._waiting.put_nowait(job)
            self._jobs[job.id] = job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._waiting.get(timeout=0.5)
            except queue.Empty:
                continue
            job.state = "running"
            error = None
            try:
                self._color(job)
            except UserError as exc:
                error = str(exc).replace(str(job.upload), "the film")
            except Exception as exc:  # a bug, or the server closing under it: this film fails, the worker goes on
                log.exception("colouring film %s failed", job.id)
                error = f"internal error ({type(exc).__name__})"
            job.upload.unlink(missing_ok=True)
            job.error, job.finished = error, time.monotonic()
            job.state = "failed" if error else "done"  # last: whoever sees it finished finds it tidied up

    def _sweep(self) -> None:
        while not self._stop.wait(min(60.0, max(0.2, self._retention / 4))):
            now = time.monotonic()
            with self._lock:
                expired = [j for j in self._jobs.values()
                           if j.finished is not None and now - j.finished >= self._retention]
                for job in expired:
                    del self._jobs[job.id]
            for job in expired:
                job.result.unlink(missing_ok=True)
