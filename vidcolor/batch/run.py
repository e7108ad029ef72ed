"""Running the jobs of a folder run: each file's tasks (a split film's pieces, then their join) handed to a
pool of workers, their outcomes collected; a failure is only its own file's."""
from __future__ import annotations

import os
import sys
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..utils.atomic import remove_folder
from ..utils.errors import UserError
from ..utils.warn import default_warn
from .manifest import Manifest, Record, stamp
from .options import ArchiveOptions, Summary
from .workers import FileTask, LocalPool, Outcome, Pool, RayPool, Settings, Task


@dataclass
class Job:
    """One input file on its way through the run: one task, or a split film's pieces and then their join."""
    name: str  # the input's path inside the archive
    src: Path
    dst: Path
    film: bool
    record: Record | None = None  # the manifest line to complete (None: a run without manifest)
    hints: Path | None = None  # its hints file
    phases: deque[list[Task]] = field(default_factory=deque)
    queued: int = 0  # tasks of the current phase not yet handed to the pool
    running: int = 0
    frames: int = 0
    seconds: float = 0.0
    duration: float = 0.0
    error: str | None = None
    parts: Path | None = None  # a split film's pieces, removed when it is over

    def reason(self) -> str:
        """The error without the input's path in front, since the report names the file anyway."""
        error = self.error or ""
        return error.split(": ", 1)[1] if error.startswith(f"{self.src}: ") else error


def report_failure(job: Job, summary: Summary) -> None:
    summary.fail(job.name, job.reason())


def auto_jobs(device: str) -> tuple[int, int]:
    """(worker processes, GPUs) for this machine: one worker per GPU, else one per four CPU cores.

    A film worker keeps several cores busy (decoding, the model, smoothing, encoding), so more
    workers than that only fight over the cores.
    """
    import torch

    gpus = torch.cuda.device_count() if device in ("auto", "cuda") and torch.cuda.is_available() else 0
    return (gpus or max(1, (os.cpu_count() or 1) // 4)), gpus


def make_pool(settings: Settings, options: ArchiveOptions) -> Pool:
    """Workers on this machine, or on the Ray cluster that --ray names."""
    cores = os.cpu_count() or 1
    if options.ray:  # a cluster's resources are its own; a local runtime's are this machine's
        return RayPool(settings, options.ray, _held_to(cores, options.jobs or cores) if options.ray == "local"
                       else options.jobs or cores)
    default, gpus = auto_jobs(settings.device)
    jobs = _held_to(cores, options.jobs or default, asked=options.jobs is not None)
    threads = cores // jobs  # torch's threads, shared out among the workers
    return LocalPool(replace(settings, threads=threads), jobs, gpus)


def _held_to(cores: int, jobs: int, asked: bool = True) -> int:
    """At most one worker per core: each holds a model in memory (a thousand would exhaust it), and more only
    fight over the cores."""
    if jobs > cores:
        default_warn(f"{f'--jobs {jobs}' if asked else f'{jobs} GPUs'}: this machine has {cores} CPU cores; "
                     f"running {cores} workers")
    return min(jobs, cores)


class Run:
    """Hands the jobs' tasks to a pool and collects their outcomes; a failure is only its own job's."""

    def __init__(self, settings: Settings, options: ArchiveOptions, summary: Summary,
                 manifest: Manifest | None, one_film: bool = False) -> None:
        """`one_film`: the run is of one film; cut into pieces, whose frames the split knows, its bar counts them."""
        self.settings, self.options, self.summary, self.manifest = settings, options, summary, manifest
        self.one_film = one_film
        self.by_frames = False  # whether the bar counts frames (else files)
        self.ready: deque[tuple[Job, Task]] = deque()
        self.running: dict[int, tuple[Job, Task]] = {}
        self.frames = 0  # of the tasks done
        self.under_way: dict[Any, int] = {}  # frames the running tasks have told of so far

    def go(self, jobs: list[Job]) -> None:
        waiting = deque(jobs)
        pool = make_pool(self.settings, self.options)
        stopped = True  # until the work is all done: a Ctrl-C (or a failure) ends the workers' tasks at once
        try:
            # a folder's bar only on a terminal (a log gets the table at the end); one film's, as a whole run's, always
            shown = False if self.one_film else None
            with tqdm(total=len(jobs), unit="file", disable=True if self.options.quiet else shown,
                      dynamic_ncols=True) as self.bar:
                while waiting or self.ready or self.running:
                    while pool.has_room() and (self.ready or waiting):
                        if self.ready:
                            self._submit(pool, *self.ready.popleft())
                        else:
                            self._begin(waiting.popleft(), pool.workers)
                    if self.running:
                        self._collect(*pool.next_result(self._advance))
            stopped = False
        finally:
            pool.close(at_once=stopped)
            for job in jobs:  # pieces of a film left unjoined (Ctrl-C)
                if job.parts:
                    remove_folder(job.parts)

    def _say(self, line: str) -> None:
        if self.options.verbose:
            self.bar.write(f"vidcolor: {line}", file=sys.stderr)

    def _begin(self, job: Job, workers: int) -> None:
        """Record that the job is under way and queue its first tasks."""
        if self.manifest and job.record:
            self.manifest.write(job.record)
        try:
            job.phases = self._phases(job, workers)
        except (UserError, OSError) as exc:  # a film that cannot even be cut
            job.error = str(exc)
            self._finish(job)
            return
        self._queue(job)

    def _phases(self, job: Job, workers: int) -> deque[list[Task]]:
        """The job's tasks, phase by phase: a split film's pieces first, then their join."""
        from .split import split_film

        if job.film and self.options.split is not None and job.hints is not None:
            # hints are carried through their shots, which a piece may not see whole
            if self.options.split != "auto":
                default_warn(f"{job.name} has hints ({job.hints.name}): colouring it whole")
        elif job.film and self.options.split is not None:
            pieces = None if self.options.split == "auto" else int(self.options.split)
            split = split_film(job.name, job.src, job.dst, self.settings.video, pieces, workers, default_warn)
            if split is not None:
                job.parts = split.folder
                if self.one_film:  # its frames, not 0/1 file for the whole film
                    self.by_frames, self.bar.unit, self.bar.desc = True, "frame", job.name
                    self.bar.reset(total=split.frames)
                return deque([list(split.pieces), [split.join]])
        return deque([[FileTask(job.name, job.src, job.dst, hints=job.hints)]])

    def _queue(self, job: Job) -> None:
        tasks = job.phases.popleft()
        job.queued = len(tasks)
        self.ready.extendleft((job, t) for t in reversed(tasks))  # a started film first: it finishes sooner

    def _submit(self, pool: Pool, job: Job, task: Task) -> None:
        key = id(task)
        self.running[key] = (job, task)
        job.queued, job.running = job.queued - 1, job.running + 1
        where = pool.submit(key, task)
        self._say(f"{where}: {task.name}")

    def _advance(self, key: Any, frames: int) -> None:
        """A running task's frames, as they are done: a long film's progress, not only its end."""
        self.under_way[key] = self.under_way.get(key, 0) + frames
        self._show_frames()

    def _show_frames(self) -> None:
        frames = self.frames + sum(self.under_way.values())
        if self.by_frames:
            self.bar.update(frames - self.bar.n)
        else:
            self.bar.set_postfix(frames=frames, failed=self.summary.failed.files)

    def _collect(self, key: Any, outcome: Outcome) -> None:
        job, task = self.running.pop(key)
        self.under_way.pop(key, None)
        job.running -= 1
        for warning in outcome.warnings:
            self.bar.write(f"vidcolor: {task.name}: warning: {warning}", file=sys.stderr)
        if outcome.error and not job.error:
            job.error = outcome.error
            job.phases.clear()
            self.ready = deque(item for item in self.ready if item[0] is not job)
            job.queued = 0
        job.frames += outcome.frames
        job.seconds += outcome.seconds
        job.duration += outcome.duration
        self.frames += outcome.frames
        self._show_frames()
        self._say(f"{task.name}: " + (f"{outcome.frames} frames, " if outcome.frames else "")
                  + f"{outcome.seconds:.1f} s on {outcome.where}" + (" (failed)" if outcome.error else ""))
        if job.queued or job.running:
            return
        if job.phases:
            self._queue(job)
        else:
            self._finish(job)

    def _finish(self, job: Job) -> None:
        if job.parts:
            remove_folder(job.parts)
        if self.manifest and job.record:
            self.manifest.write(job.record.update(status="failed" if job.error else "done", frames=job.frames,
                                                  seconds=job.seconds, duration=job.duration, error=job.error,
                                                  written=job.record.written if job.error else stamp(job.dst)))
        if job.error:
            report_failure(job, self.summary)
        else:
            self.summary.done.add(job.frames, job.duration)
        if not self.by_frames:
            self.bar.update(1)
