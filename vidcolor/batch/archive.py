"""`vidcolor run` on a folder: every photo and film of an archive, mirrored into an output folder.

Films keep their container (.mp4 stays .mp4; one vidcolor cannot write becomes .mkv), photos
become .png. A manifest in the output folder (see vidcolor.batch.manifest) records every file, so a
rerun skips what is done and unchanged and does the rest: what failed, what a killed run left
unfinished, what changed, what lost its output. A broken file fails alone; the run goes on.
A file's hints are read from FILE.hints.json beside it (vidcolor.hints.file); the manifest records a hash
of that file, so adding, changing or removing it redoes the file.
The work is done by worker processes on this machine (--jobs) or on a Ray cluster (--ray), and a
long film can be cut into pieces that workers colour side by side (--split, see vidcolor.batch.split).
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from ..film.options import VideoOptions
from ..utils.atomic import is_temporary, make_folder, sweep_stale, take_back
from ..utils.choices import FILM_BITS
from ..utils.errors import UserError
from ..utils.folder_lock import LOCK_NAME
from ..utils.paths import is_image, is_video
from .manifest import MANIFEST_NAME, Manifest, Record
from .naming import output_names, survey
from .options import ArchiveOptions, Summary
from .run import Job, Run, report_failure
from .workers import Settings, check_reachable


def worker_settings(model: str, device: str, working_size: int | None, video: VideoOptions,
                    saturation: float = 1.0) -> Settings:
    """Settings for workers anywhere: a model file goes by its absolute path (shipped ones by name),
    and is checked here, once, rather than failing in every worker."""
    from ..runtime.weights import model_spec, read_metadata, resolve_model_path, shipped_models

    path = resolve_model_path(model)
    model_spec(path, read_metadata(path))
    return Settings(model if model in shipped_models() else str(path.resolve()), device, working_size, video,
                    saturation=saturation)


def colorize_archive(src: Path, dst: Path, settings: Settings, options: ArchiveOptions) -> Summary:
    """Colour every photo and film under `src` into the same tree under `dst`; see the module doc."""
    started = time.perf_counter()
    if not src.is_dir():
        raise UserError(f"{src}: no such folder")
    if src.resolve() == dst.resolve() or src.resolve().is_relative_to(dst.resolve()):
        raise UserError(f"{dst}: the output folder must not contain the archive")
    if not dst.exists() and (is_image(dst) or is_video(dst)):  # a typo for a film's name, not a folder's
        raise UserError(f"{dst}: a folder is coloured into a folder, not into a {dst.suffix} file")
    _check_workers(settings, options)
    summary = Summary()
    found, hints = survey(src, dst, options, summary)
    if not found:  # said before the output folder is made: a mistyped command leaves nothing behind
        raise UserError(f"{src}: no photos or films found" + (" (all excluded)" if summary.excluded else ""))
    made = make_folder(dst)
    try:
        with Manifest(dst) as manifest:
            try:
                _sweep(dst)
                jobs = _plan(found, hints, src, dst, settings, options, manifest, summary)
                if jobs:
                    Run(settings, options, summary, manifest).go(jobs)
            except UserError:  # refused as a whole (a script without the __main__ guard): nothing done
                if made is not None and set(os.listdir(dst)) == {MANIFEST_NAME, LOCK_NAME}:
                    for own in (MANIFEST_NAME, LOCK_NAME):  # while this run holds them: no other run's
                        (dst / own).unlink()
                raise
    except UserError:
        take_back(dst, made)  # the folders this run made, if empty: what anyone put there keeps them
        raise
    summary.wall = time.perf_counter() - started
    return summary


def colorize_film_in_parallel(src: Path, dst: Path, settings: Settings, options: ArchiveOptions) -> Summary:
    """Colour one film with workers: in pieces (--split) and/or on a Ray cluster (--ray)."""
    from ..film.options import prepare_film

    started = time.perf_counter()
    # without --overwrite its output must not exist now, nor be replaced if another run writes it meanwhile
    settings = replace(settings, video=replace(settings.video, overwrite=options.overwrite))
    _check_workers(settings, options)
    prepare_film(src, dst, settings.video, lambda message: None)
    summary = Summary()
    Run(settings, options, summary, None, one_film=True).go([Job(src.name, src, dst, film=True)])
    summary.wall = time.perf_counter() - started
    return summary


def _check_workers(settings: Settings, options: ArchiveOptions) -> None:
    """Refuse, in a line and before anything is written, workers that could not start: a device this machine
    lacks (its own workers, a local Ray runtime's too), a Ray cluster nothing answers at. Else every file would
    fail alike, one line each, into an output folder made for nothing."""
    from ..runtime.device import resolve_device

    if options.ray in (None, "local"):
        resolve_device(settings.device)
    else:
        check_reachable(options.ray)


def _sweep(dst: Path) -> None:
    """Remove what a killed run left half done: hidden temporary outputs and pieces of films."""
    for folder, subfolders, _ in os.walk(dst):
        subfolders[:] = [d for d in subfolders if not is_temporary(d)]  # a split film's pieces: swept whole or kept
        sweep_stale(Path(folder), folders=True)


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


def _plan(found: list[PurePosixPath], hints: dict[PurePosixPath, PurePosixPath], src: Path, dst: Path,
          settings: Settings, options: ArchiveOptions, manifest: Manifest, summary: Summary) -> list[Job]:
    """A job for every file to do now; the rest is counted as skipped (or refused, as failed)."""
    fingerprint = _fingerprint(settings)
    codec = settings.video.codec
    recorded = {PurePosixPath(r.input): PurePosixPath(r.output) for r in manifest.records.values()}
    out_of = output_names(found, recorded, codec)
    jobs, archive = [], str(src.resolve())
    for rel in found:
        out = out_of[rel]
        path, target = src / rel, dst / out
        film = not is_image(path)
        sidecar = src / hints[rel] if rel in hints else None
        try:
            stat = path.stat()
        except OSError as exc:  # a link to nowhere, or round in a loop
            report_failure(Job(str(rel), path, target, film, error=f"cannot be read ({exc.strerror or exc})"),
                            summary)
            continue
        try:
            there = target.exists()
        except OSError as exc:  # a name the output's file system cannot hold (longer than 255 bytes)
            report_failure(Job(str(rel), path, target, film, error=f"its output {out.name} cannot be written there "
                                                                   f"({exc.strerror or exc})"), summary)
            continue
        try:
            told = _hints_record(sidecar)
        except UserError as exc:
            report_failure(Job(str(rel), path, target, film, error=str(exc)), summary)
            continue
        old = manifest.get(str(rel))
        ours = old is not None and old.output == str(out)  # the output an earlier run wrote (and stamped)
        record = Record(str(rel), stat.st_size, stat.st_mtime_ns, str(out), "started", settings.model,
                        fingerprint["film" if film else "photo"] | told, archive=archive,
                        written=old.written if ours else None)  # until it is written anew
        job = Job(str(rel), path, target, film, record, hints=sidecar)
        if old is None and there and not options.overwrite:
            job.error = f"{target} already exists and no earlier run wrote it (use --overwrite to replace it)"
        elif old is not None and not options.force and there and _done_before(old, record):
            summary.skipped.add(old.frames, old.duration)
            continue
        elif old is not None and old.archive not in (None, record.archive) and there and not options.overwrite:
            # another archive's file of the same name
            job.error = f"{target} was coloured from {old.archive} (use --overwrite to replace it)"
        elif ours and there and not options.overwrite and old.changed_since(target):
            job.error = f"{target} was changed since vidcolor wrote it (use --overwrite to replace it)"
        if job.error:
            report_failure(job, summary)
        else:
            jobs.append(job)
    return jobs


def _hints_record(sidecar: Path | None) -> dict[str, Any]:
    """What a file's record says of its hints file (None: it has none): a hash of its bytes, so a changed one
    redoes the file (nothing without one, as before hints existed)."""
    if sidecar is None:
        return {}
    try:
        return {"hints_sha256": hashlib.sha256(sidecar.read_bytes()).hexdigest()[:16]}
    except OSError as exc:
        raise UserError(f"{sidecar}: cannot read the hints file ({exc.strerror or exc})") from None


def _done_before(old: Record, new: Record) -> bool:
    """Whether an earlier run finished this very input with these options (its output still there: the caller's)."""
    return old.status == "done" and \
        (old.size, old.mtime_ns, old.output, old.options) == (new.size, new.mtime_ns, new.output, new.options)
