"""Workers: colour one file (or one piece of a film) at a time, in processes of their own.

A worker process loads the model the first time it needs it and keeps it. `LocalPool` runs up to
`--jobs` spawned processes on this machine, started as tasks need them; `RayPool` runs the same tasks
on a Ray cluster. Either way the driver hears back one Outcome per task, also when the process doing
it died (a crash, the OOM killer): then that task has failed, and the others go on.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Protocol

from ..film.options import VideoOptions
from ..film.probe import film_seconds
from ..one_file import UNGUARDED, UNGUARDED_SCRIPT, WORKER_NAME
from ..runtime.inference import Colorizer
from ..utils.atomic import make_folder
from ..utils.errors import UserError
from ..utils.guard import HUNG, give_up, hang_reason, on_hang
from ..utils.numbers import is_whole_number
from ..utils.stopping import started_ignoring_ctrl_c, stop_cleanly_on_signals

RAY_RETRIES = 3  # times Ray runs a task again after losing the worker or node doing it
PROGRESS_SECONDS = 0.5  # a worker tells the driver of the frames it has done at most this often


@dataclass(frozen=True)
class Settings:
    """What every worker needs, sent once: the model and how films are written."""
    model: str  # a shipped model name or an absolute path every worker can read
    device: str = "auto"
    working_size: int | None = None
    video: VideoOptions = field(default_factory=lambda: VideoOptions(quiet=True, overwrite=True))
    threads: int | None = None  # torch threads per worker (None: torch's or Ray's own choice)
    saturation: float = 1.0  # scale of the predicted chroma


@dataclass(frozen=True)
class Outcome:
    """What one task did, sent back to the driver."""
    error: str | None = None
    frames: int = 0
    duration: float = 0.0  # seconds of film written (0 for a photo or a piece of a film)
    seconds: float = 0.0  # work time
    warnings: tuple[str, ...] = ()
    where: str = ""  # host and process that did it


class Task(Protocol):
    """One unit of work: a photo, a film, a piece of a film, or the joining of the pieces."""
    name: str  # the input, as the user should see it
    needs_model: bool

    def run(self, settings: Settings, warn: Callable[[str], None],
            on_frames: Callable[[int], None] | None = None) -> Outcome:
        """Do it; `on_frames(n)` hears of a film's frames as they are done."""


_load = functools.cache(Colorizer.load)


def colorizer(settings: Settings) -> Colorizer:
    """This process's colorizer, loaded once and kept for every later task."""
    return _load(settings.model, settings.device, settings.working_size, settings.saturation)


@dataclass(frozen=True)
class FileTask:
    """Colour one photo, or one film whole, with the hints of its hints file if it has one."""
    name: str
    src: Path
    dst: Path
    needs_model: bool = True
    hints: Path | None = None

    def run(self, settings: Settings, warn: Callable[[str], None],
            on_frames: Callable[[int], None] | None = None) -> Outcome:
        from ..one_file import Guidance, colorize_file

        make_folder(self.dst.parent)
        result = colorize_file(self.src, self.dst, settings.video, lambda: colorizer(settings), warn,
                               guidance=Guidance(hints=self.hints), on_frames=on_frames)
        return Outcome() if isinstance(result, Path) else Outcome(frames=result.frames,
                                                                  duration=film_seconds(self.dst))


def execute(task: Task, settings: Settings, on_frames: Callable[[int], None] | None = None) -> Outcome:
    """Run one task; any error becomes a failed Outcome, so one bad file never stops the others."""
    warnings: list[str] = []
    started = time.perf_counter()
    try:
        outcome = task.run(settings, warnings.append, on_frames)
    except UserError as exc:
        outcome = Outcome(error=str(exc))
    except OSError as exc:  # a file the system refuses (not readable, a full disk): its words, not Python's
        where = f"{exc.filename}: " if exc.filename else ""
        outcome = Outcome(error=f"{where}{exc.strerror or exc}")
    except Exception as exc:  # a bug or a library failing on a strange file: report it, go on
        outcome = Outcome(error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    return replace(outcome, seconds=time.perf_counter() - started, warnings=tuple(warnings),
                   where=f"{socket.gethostname()} pid {os.getpid()}")


class Pool(Protocol):
    """Runs tasks somewhere; the driver submits while there is room and collects outcomes."""
    workers: int  # how many tasks run at once

    def has_room(self) -> bool: ...

    def submit(self, key: Hashable, task: Task) -> str:
        """Start `task`; returns where it went, for --verbose."""

    def next_result(self, on_frames: Callable[[Hashable, int], None] | None = None) -> tuple[Hashable, Outcome]:
        """Wait for any submitted task to finish; `on_frames(key, n)` hears of frames done meanwhile, where the
        pool tells them."""

    def close(self, at_once: bool = False) -> None:
        """End the workers: once their tasks are done, or `at_once` (the run was stopped), stopping those too."""


def _serve(conn: Connection, settings: Settings, parent: int, interruptible: bool) -> None:
    """A local worker process, started ignoring Ctrl-C: run the tasks the driver sends until it sends None.
    `interruptible`: whether to hear Ctrl-C again, once it can stop cleanly."""
    import cv2
    import torch

    if settings.threads:
        torch.set_num_threads(settings.threads)
        cv2.setNumThreads(settings.threads)
    on_hang(give_up(HUNG, say=False))  # the driver says why, as for any failed file
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    try:
        if interruptible:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        stop_cleanly_on_signals(say=False)  # the driver's terminate() must not leave this worker's half-written file
        while (task := conn.recv()) is not None:
            progress = Progress(conn)
            outcome = execute(task, settings, progress.add)
            progress.send()
            conn.send(outcome)
    except (KeyboardInterrupt, EOFError, BrokenPipeError):
        pass  # Ctrl-C, or the driver is gone: stop quietly


@dataclass(frozen=True)
class Frames:
    """A worker's word to the driver, between tasks' outcomes: this many more frames done."""
    count: int


class Progress:
    """The frames a worker's task has done, sent to the driver at most every PROGRESS_SECONDS, and the rest at the
    end: a film's progress, without a message for every batch of frames."""

    def __init__(self, conn: Connection) -> None:
        self.conn, self.unsent, self.sent_at = conn, 0, time.monotonic()

    def add(self, frames: int) -> None:
        self.unsent += frames
        if time.monotonic() - self.sent_at >= PROGRESS_SECONDS:
            self.send()

    def send(self) -> None:
        if self.unsent:
            self.conn.send(Frames(self.unsent))
        self.unsent, self.sent_at = 0, time.monotonic()


def _exit_with_parent(parent: int) -> None:
    """Die with the driver (even a kill -9 of it), so no orphan goes on writing into the output."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


@dataclass
class _Worker:
    number: int
    process: multiprocessing.process.BaseProcess
    conn: Connection
    key: Hashable | None = None  # the task it is working on


class LocalPool:
    """Up to `jobs` worker processes on this machine, started as tasks need them (spawned, so each has a clean
    torch and its own model)."""

    def __init__(self, settings: Settings, jobs: int, gpus: int = 0) -> None:
        self._context = multiprocessing.get_context("spawn")
        # with several GPUs, worker n uses GPU n mod their number
        self._settings = [replace(settings, device=f"cuda:{n % gpus}") if gpus > 1 else settings
                          for n in range(jobs)]
        self._workers: list[_Worker] = []  # started as tasks come, up to `jobs`: a short list needs fewer
        self.workers = jobs

    def _start(self, number: int) -> _Worker:
        conn, child = self._context.Pipe()
        with started_ignoring_ctrl_c() as interruptible:
            process = self._context.Process(target=_serve, name=f"{WORKER_NAME}-{number + 1}", daemon=True,
                                            args=(child, self._settings[number], os.getpid(), interruptible))
            process.start()
        child.close()
        return _Worker(number, process, conn)

    def has_room(self) -> bool:
        return len(self._workers) < self.workers or any(w.key is None for w in self._workers)

    def submit(self, key: Hashable, task: Task) -> str:
        worker = next((w for w in self._workers if w.key is None), None)
        if worker is None:
            worker = self._start(len(self._workers))
            self._workers.append(worker)
        elif not worker.process.is_alive():  # died while idle
            worker = self._replace(worker)
        worker.conn.send(task)
        worker.key = key
        return f"worker {worker.number + 1} (pid {worker.process.pid})"

    def _replace(self, worker: _Worker) -> _Worker:
        worker.process.join()
        self._workers[worker.number] = self._start(worker.number)
        return self._workers[worker.number]

    def next_result(self, on_frames: Callable[[Hashable, int], None] | None = None) -> tuple[Hashable, Outcome]:
        busy = [w for w in self._workers if w.key is not None]
        while True:
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
            worker = next(w for w in busy if w.conn in ready or w.process.sentinel in ready)
            try:
                said = worker.conn.recv()
            except (EOFError, OSError):
                return self._lost(worker)
            if not isinstance(said, Frames):
                key, worker.key = worker.key, None
                return key, said
            if on_frames is not None:
                on_frames(worker.key, said.count)

    def _lost(self, worker: _Worker) -> tuple[Hashable, Outcome]:
        """The task of a worker that died: failed, and the worker replaced; or the whole run, where the worker
        found the script that started it had no `__main__` guard (every worker would)."""
        key, worker.key = worker.key, None
        worker.process.join()
        if worker.process.exitcode == UNGUARDED:
            raise UserError(UNGUARDED_SCRIPT) from None  # not the lost connection it was found by
        self._replace(worker)
        if worker.process.exitcode == HUNG:
            return key, Outcome(error=hang_reason())
        return key, Outcome(error="the worker process died while working on it "
                                  f"(exit code {worker.process.exitcode})")

    def close(self, at_once: bool = False) -> None:
        for worker in self._workers:
            if at_once and worker.key is not None:  # a Ctrl-C a starting worker did not hear: SIGTERM, heeded cleanly
                worker.process.terminate()
            else:
                with contextlib.suppress(OSError):  # it is gone already
                    worker.conn.send(None)
        for worker in self._workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join()


RAY_CONNECT_SECONDS = 10.0


def check_reachable(address: str) -> None:
    """Refuse, in a line, a cluster address nothing answers at: Ray itself retries it for ever, in log lines."""
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not is_whole_number(port):  # "auto", or no port to try: Ray's own lookup
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_CONNECT_SECONDS).close()
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot reach the Ray cluster at {address} ({getattr(exc, 'strerror', None) or exc})"
                        ) from None


class RayPool:
    """Tasks on a Ray cluster (or a local Ray runtime): one Ray task per file or piece of film.

    A task asks for one GPU when the cluster has any (and the device is not `cpu`), else one CPU.
    Ray runs a task again, up to RAY_RETRIES times, when the worker or node doing it is lost.
    Every node must see the input and output paths, and have vidcolor installed.
    """

    def __init__(self, settings: Settings, address: str, jobs: int) -> None:
        try:
            import ray
        except ImportError:
            raise UserError('--ray needs Ray: pip install "vidcolor[ray]"') from None
        self._ray = ray
        if address == "local":  # (ERROR: not even the notice about the local runtime's access token)
            ray.init(address="local", num_cpus=jobs, include_dashboard=False, logging_level=logging.ERROR,
                     log_to_driver=False)
        else:
            try:
                ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise UserError(f"cannot reach the Ray cluster at {address} ({exc})") from None
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0)) if settings.device != "cpu" else 0
        self.workers = gpus or max(1, int(resources.get("CPU", 1)))
        self._remote = ray.remote(execute)
        self._gpus = gpus
        self._settings = ray.put(settings)
        self._pending: dict[Any, Hashable] = {}

    def has_room(self) -> bool:
        return len(self._pending) < 2 * self.workers  # a little queued on the cluster, the rest here

    def submit(self, key: Hashable, task: Task) -> str:
        gpu = 1 if self._gpus and task.needs_model else 0
        ref = self._remote.options(num_gpus=gpu, num_cpus=1, max_retries=RAY_RETRIES,
                                   retry_exceptions=False).remote(task, self._settings)
        self._pending[ref] = key
        return "ray"

    def next_result(self, on_frames: Callable[[Hashable, int], None] | None = None) -> tuple[Hashable, Outcome]:
        """The next task done (Ray's tasks tell no frames on the way)."""
        (ref,), _ = self._ray.wait(list(self._pending), num_returns=1)
        key = self._pending.pop(ref)
        try:
            return key, self._ray.get(ref)
        except self._ray.exceptions.RayError as exc:
            return key, Outcome(error=f"Ray lost the task after {RAY_RETRIES} retries ({type(exc).__name__})")

    def close(self, at_once: bool = False) -> None:
        self._ray.shutdown()  # its tasks stop with it, done or not
