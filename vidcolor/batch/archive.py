"""`vidcolor run` on a folder: every photo and film of an archive, mirrored into an output folder.

Films keep their container (.mp4 stays .mp4; one vidcolor cannot write becomes .mkv), photos
become .png. A manifest in the output folder (see vidcolor.batch.manifest) records every file, so a
rerun skips what is done and unchanged and does the rest: what failed, what a killed run left
unfinished, what changed, what lost its output. A broken file fails alone; the run goes on.
The work is done by worker processes on this machine (--jobs) or on a Ray cluster (--ray), and a
long film can be cut into pieces that workers colour side by side (--split, see vidcolor.batch.split).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from collections import deque
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any

from tqdm import tqdm

from ..film.options import VideoOptions
from ..utils.atomic import sweep_stale
from ..utils.choices import CONTAINERS, CRF_MAX, FILM_BITS
from ..utils.errors import UserError
from ..utils.paths import is_image, is_video
from ..utils.warn import default_warn
from .manifest import Manifest, Record
from .workers import FileTask, LocalPool, Outcome, Pool, RayPool, Settings, Task

FALLBACK_CONTAINER = ".mkv"  # for films in containers vidcolor does not write (.avi, .mpg, ...)


@dataclass(frozen=True)
class ArchiveOptions:
    """How to go through an archive: the folder options of `vidcolor run`."""
    include: tuple[str, ...] = ()  # globs on the path inside the archive; none: everything
    exclude: tuple[str, ...] = ()
    force: bool = False  # do every file again
    overwrite: bool = False  # replace outputs that no earlier run wrote
    jobs: int | None = None  # worker processes (None: what the machine suits)
    ray: str | None = None  # a Ray address, or "local"
    split: int | str | None = None  # pieces per film, "auto", or None: every film whole
    verbose: bool = False
    quiet: bool = False


@dataclass
class Tally:
    files: int = 0
    frames: int = 0
    duration: float = 0.0  # seconds of film

    def add(self, frames: int, duration: float) -> None:
        self.files, self.frames, self.duration = self.files + 1, self.frames + frames, self.duration + duration


@dataclass
class Summary:
    """What a run did, for the table at its end."""
    done: Tally = field(default_factory=Tally)
    skipped: Tally = field(default_factory=Tally)
    failed: Tally = field(default_factory=Tally)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)
    ignored: int = 0  # files that are neither photos nor films
    excluded: int = 0  # left out by --include / --exclude
    wall: float = 0.0

    def table(self) -> str:
        rows = ["|         | files | frames | hours of film |", "|---------|------:|-------:|--------------:|"]
        for name in ("done", "skipped", "failed"):
            t: Tally = getattr(self, name)
            rows.append(f"| {name:7} | {t.files:5} | {t.frames:6} | {t.duration / 3600:13.2f} |")
        left_out = f"{_count(self.ignored, 'other file')} ignored"
        if self.excluded:
            left_out += f", {self.excluded} excluded"
        return "\n".join([*rows, f"{left_out}; wall time {_clock(self.wall)}"])


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes else f"{seconds:.1f} s"


@dataclass
class Job:
    """One input file on its way through the run: one task, or a split film's pieces and then their join."""
    name: str  # the input's path inside the archive
    src: Path
    dst: Path
    film: bool
    record: Record | None = None  # the manifest line to complete (None: a run without manifest)
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


def output_name(rel: PurePosixPath, film_suffix: str | None = None) -> PurePosixPath:
    """Where an input's colour version goes, inside the output folder (films in `film_suffix` files when the
    codec asks for one container, as the lossless FFV1 asks for .mkv)."""
    if is_image(Path(rel)):
        return rel.with_suffix(".png")
    if film_suffix:
        return rel.with_suffix(film_suffix)
    return rel if rel.suffix.lower() in CONTAINERS else rel.with_suffix(FALLBACK_CONTAINER)


def output_names(found: list[PurePosixPath], recorded: dict[PurePosixPath, PurePosixPath],
                 film_suffix: str | None = None) -> dict[PurePosixPath, list[PurePosixPath]]:
    """Each output name and the inputs that would write it (more than one only in a clash nothing resolves).

    Inputs whose outputs would share a name (a master a.tif beside its access copy a.jpg) keep their
    whole name in front of the output's extension instead: a.tif.png and a.jpg.png; except one that an
    earlier run already wrote under the shared name (`recorded`: input -> output), which keeps it.
    """
    natural: dict[PurePosixPath, list[PurePosixPath]] = {}
    for rel in found:
        natural.setdefault(output_name(rel, film_suffix), []).append(rel)
    owners: dict[PurePosixPath, list[PurePosixPath]] = {}
    for out, rels in natural.items():
        keeper = next((r for r in rels if recorded.get(r) == out), rels[0] if len(rels) == 1 else None)
        for rel in rels:
            owners.setdefault(out if rel == keeper else rel.with_name(rel.name + out.suffix), []).append(rel)
    return owners


def survey(root: Path, skip: Path, options: ArchiveOptions, summary: Summary) -> list[PurePosixPath]:
    """The photos and films under `root` (sorted, hidden files and `skip` left out) that the globs allow."""
    found: list[PurePosixPath] = []
    skip = skip.resolve()
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and Path(folder, d).resolve() != skip)
        for name in sorted(names):
            if name.startswith("."):
                continue
            rel = PurePosixPath(Path(folder, name).relative_to(root).as_posix())
            if not (is_image(Path(name)) or is_video(Path(name))):
                summary.ignored += 1
            elif (options.include and not _matches(rel, options.include)) or _matches(rel, options.exclude):
                summary.excluded += 1
            else:
                found.append(rel)
    return sorted(found)


def _matches(rel: PurePosixPath, globs: tuple[str, ...]) -> bool:
    """Whether the path inside the archive matches a glob, ignoring case (`*.tif` takes SCAN.TIF too)."""
    return any(fnmatchcase(str(rel).lower(), g.lower()) for g in globs)


def worker_settings(model: str, device: str, working_size: int | None, video: VideoOptions,
                    saturation: float = 1.0) -> Settings:
    """Settings for workers anywhere: a model file goes by its absolute path (shipped ones by name),
    and is checked here, once, rather than failing in every worker."""
    from ..runtime.weights import read_metadata, resolve_model_path, shipped_models

    path = resolve_model_path(model)
    read_metadata(path)
    return Settings(model if model in shipped_models() else str(path.resolve()), device, working_size, video,
                    saturation=saturation)


def colorize_archive(src: Path, dst: Path, settings: Settings, options: ArchiveOptions) -> Summary:
    """Colour every photo and film under `src` into the same tree under `dst`; see the module doc."""
    started = time.perf_counter()
    if not src.is_dir():
        raise UserError(f"{src}: no such folder")
    if src.resolve() == dst.resolve() or src.resolve().is_relative_to(dst.resolve()):
        raise UserError(f"{dst}: the output folder must not contain the archive")
    summary = Summary()
    found = survey(src, dst, options, summary)
    if not found:  # said before the output folder is made: a mistyped command leaves nothing behind
        raise UserError(f"{src}: no photos or films found" + (" (all excluded)" if summary.excluded else ""))
    try:
        dst.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{dst}: cannot create the output folder ({exc.strerror or exc})") from None
    with Manifest(dst) as manifest:
        _sweep(dst)
        jobs = _plan(found, src, dst, settings, options, manifest, summary)
        if jobs:
            _Run(settings, options, summary, manifest).go(jobs)
    summary.wall = time.perf_counter() - started
    return summary


def colorize_film_in_parallel(src: Path, dst: Path, settings: Settings, options: ArchiveOptions) -> Summary:
    """Colour one film with workers: in pieces (--split) and/or on a Ray cluster (--ray)."""
    from ..film.options import prepare_film

    started = time.perf_counter()
    # without --overwrite its output must not exist now, nor be replaced if another run writes it meanwhile
    settings = replace(settings, video=replace(settings.video, overwrite=options.overwrite))
    prepare_film(src, dst, settings.video, lambda message: None)
    summary = Summary()
    _Run(settings, options, summary, None).go([Job(src.name, src, dst, film=True)])
    summary.wall = time.perf_counter() - started
    return summary


def _sweep(dst: Path) -> None:
    """Remove what a killed run left half done: hidden temporary outputs and pieces of films."""
    for folder, subfolders, _ in os.walk(dst):
        for d in [d for d in subfolders if d.startswith(".") and d.endswith(".parts")]:
            shutil.rmtree(Path(folder, d), ignore_errors=True)
            subfolders.remove(d)
        sweep_stale(Path(folder))


def _fingerprint(settings: Settings) -> dict[str, dict[str, Any]]:
    """What changes a photo's or a film's output: a rerun with other values does the file again."""
    from ..runtime.weights import resolve_model_path

    digest = hashlib.sha256(resolve_model_path(settings.model).read_bytes()).hexdigest()[:16]
    photo = {"model_sha256": digest, "working_size": settings.working_size}
    if settings.saturation != 1.0:  # only then, so archives done before the option existed stay done
        photo["saturation"] = settings.saturation
    v = settings.video
    film = photo | {"temporal": v.temporal, "window": v.window, "crf": v.crf, "preset": v.preset, "codec": v.codec,
                    "skip_color": v.skip_color}
    if v.skip_color:  # likewise
        photo["skip_color"] = True
    if v.max_bits != FILM_BITS[-1]:  # likewise
        film["max_bits"] = v.max_bits
    return {"photo": photo, "film": film}


def _plan(found: list[PurePosixPath], src: Path, dst: Path, settings: Settings, options: ArchiveOptions,
          manifest: Manifest, summary: Summary) -> list[Job]:
    """A job for every file to do now; the rest is counted as skipped (or refused, as failed)."""
    fingerprints = _fingerprint(settings)
    codec = settings.video.codec
    recorded = {PurePosixPath(r.input): PurePosixPath(r.output) for r in manifest.records.values()}
    owners = output_names(found, recorded, ".mkv" if codec and CRF_MAX.get(codec, 0) is None else None)
    out_of = {rel: out for out, rels in owners.items() for rel in rels}
    jobs, archive = [], str(src.resolve())
    for rel in found:
        out = out_of[rel]
        path, target = src / rel, dst / out
        film = not is_image(path)
        try:
            stat = path.stat()
        except OSError as exc:  # a link to nowhere, or round in a loop
            _report_failure(Job(str(rel), path, target, film, error=f"cannot be read ({exc.strerror or exc})"),
                            summary)
            continue
        record = Record(str(rel), stat.st_size, stat.st_mtime_ns, str(out), "started", settings.model,
                        fingerprints["film" if film else "photo"], archive=archive)
        old = manifest.get(str(rel))
        job = Job(str(rel), path, target, film, record)
        if len(owners[out]) > 1:
            job.error = f"{out} would also be written from " + ", ".join(str(o) for o in owners[out] if o != rel)
        elif old is None and target.exists() and not options.overwrite:
            job.error = f"{target} already exists and no earlier run wrote it (use --overwrite to replace it)"
        elif old is not None and not options.force and _done_before(old, record, target):
            summary.skipped.add(old.frames, old.duration)
            continue
        elif old is not None and old.archive not in (None, record.archive) and target.exists() \
                and not options.overwrite:  # another archive's file of the same name
            job.error = f"{target} was coloured from {old.archive} (use --overwrite to replace it)"
        if job.error:
            _report_failure(job, summary)
        else:
            jobs.append(job)
    return jobs


def _done_before(old: Record, new: Record, target: Path) -> bool:
    """Whether an earlier run finished this very input with these options, and its output is still there."""
    return old.status == "done" and target.exists() and \
        (old.size, old.mtime_ns, old.output, old.options) == (new.size, new.mtime_ns, new.output, new.options)


def _report_failure(job: Job, summary: Summary) -> None:
    summary.failed.add(0, 0.0)
    summary.failures.append((job.name, job.reason()))
    tqdm.write(f"vidcolor: failed {job.name}: {job.reason()}", file=sys.stderr)


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
    if options.ray:
        return RayPool(settings, options.ray, options.jobs or os.cpu_count() or 1)
    default, gpus = auto_jobs(settings.device)
    jobs = options.jobs or default
    threads = max(1, (os.cpu_count() or 1) // jobs)  # torch's threads, shared out among the workers
    return LocalPool(replace(settings, threads=threads), jobs, gpus)


class _Run:
    """Hands the jobs' tasks to a pool and collects their outcomes; a failure is only its own job's."""

    def __init__(self, settings: Settings, options: ArchiveOptions, summary: Summary,
                 manifest: Manifest | None) -> None:
        self.settings, self.options, self.summary, self.manifest = settings, options, summary, manifest
        self.ready: deque[tuple[Job, Task]] = deque()
        self.running: dict[int, tuple[Job, Task]] = {}
        self.frames = 0

    def go(self, jobs: list[Job]) -> None:
        waiting = deque(jobs)
        pool = make_pool(self.settings, self.options)
        try:
            with tqdm(total=len(jobs), unit="file", disable=True if self.options.quiet else None,
                      dynamic_ncols=True) as self.bar:
                while waiting or self.ready or self.running:
                    while pool.has_room() and (self.ready or waiting):
                        if self.ready:
                            self._submit(pool, *self.ready.popleft())
                        else:
                            self._begin(waiting.popleft(), pool.workers)
                    if self.running:
                        self._collect(*pool.next_result())
        finally:
            pool.close()
            for job in jobs:  # pieces of a film left unjoined (Ctrl-C)
                if job.parts:
                    shutil.rmtree(job.parts, ignore_errors=True)

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

        if job.film and self.options.split is not None:
            pieces = None if self.options.split == "auto" else int(self.options.split)
            split = split_film(job.name, job.src, job.dst, self.settings.video, pieces, workers, default_warn)
            if split is not None:
                job.parts = split.folder
                return deque([list(split.pieces), [split.join]])
        return deque([[FileTask(job.name, job.src, job.dst)]])

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

    def _collect(self, key: Any, outcome: Outcome) -> None:
        job, task = self.running.pop(key)
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
        self.bar.set_postfix(frames=self.frames, failed=self.summary.failed.files, refresh=False)
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
            shutil.rmtree(job.parts, ignore_errors=True)
        if self.manifest and job.record:
            self.manifest.write(job.record.update(status="failed" if job.error else "done", frames=job.frames,
                                                  seconds=job.seconds, duration=job.duration, error=job.error))
        if job.error:
            _report_failure(job, self.summary)
        else:
            self.summary.done.add(job.frames, job.duration)
        self.bar.update(1)

