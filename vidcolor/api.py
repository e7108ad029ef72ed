"""The Python API, and the one way in for the command line: `colorize` takes a photo, a film or a whole folder,
with the same checks and behaviour as `vidcolor run`; `colorize_photo` and `colorize_video` take one kind.

    from vidcolor import colorize

    if __name__ == "__main__":  # a folder is coloured by worker processes, which first import this script
        colorize("reel.mp4", "reel_colour.mp4")
        colorize("scans/", "scans_colour/", jobs=2)
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path

from .batch.archive import colorize_archive, colorize_film_in_parallel, worker_settings
from .batch.options import ArchiveOptions, Summary
from .film.options import FilmResult, VideoOptions
from .one_file import (
    Guidance,
    Hints,
    Model,
    check_arguments,
    check_not_in_a_worker,
    colorize_photo,
    colorize_video,
    is_whole,
)
from .utils.atomic import sweep_stale
from .utils.choices import DEFAULT_MODEL, DEFAULT_WINDOW, FILM_BITS, FILM_OPTIONS
from .utils.errors import UserError, shown
from .utils.paths import is_image, not_there
from .utils.warn import default_warn

__all__ = ["FilmResult", "Summary", "colorize", "colorize_photo", "colorize_video"]


def colorize(src: str | Path, dst: str | Path, *, model: Model = DEFAULT_MODEL, device: str = "auto",
             working_size: int | None = None, saturation: float = 1.0, batch_size: int | None = None,
             temporal: str = "flow", window: int = DEFAULT_WINDOW, crf: int = 18, preset: str = "medium",
             codec: str | None = None, max_bits: int = FILM_BITS[-1], skip_color: bool = False,
             overwrite: bool = False, include: str | tuple[str, ...] = (), exclude: str | tuple[str, ...] = (),
             force: bool = False, jobs: int | None = None, ray: str | None = None, split: int | str | None = None,
             verbose: bool = False, quiet: bool = False, hints: Hints | None = None,
             keyframes: Mapping[int, str | Path] | None = None, reference: str | Path | None = None,
             warn: Callable[[str], None] = default_warn) -> Path | FilmResult | Summary:
    """Colour `src` into `dst`: a photo into a photo (`colorize_photo`), a film into a film (`colorize_video`),
    a folder recursively into a folder of the same tree (photos become .png), with a manifest so that a rerun
    does only what is not done yet. The options are `vidcolor run`'s, by the same names.

    Folders, and films with `split` (pieces side by side: a number, or "auto") or `ray` (a Ray address, or
    "local"), are coloured by worker processes (`jobs`; None: one per GPU, else one per 4 cores), which load
    `model` themselves: a name or a file, not a loaded Colorizer; each starts by importing the calling script, so
    a script keeps such a call under `if __name__ == "__main__":`. `include`/`exclude` are globs on the path
    inside the folder (one string: one glob); `force` does every file again. `hints`, `keyframes` and
    `reference` tell the colours of one file (see `colorize_video`); in a folder, a file's hints are read from
    FILE.hints.json beside it (a rerun redoes the file when that changes).
    Returns the photo's output path, the film's FilmResult, or for workers' runs a Summary (its `failures`
    name the files that failed; the others are done). Raises UserError for anything wrong with the request.
    Warnings go to `warn` when this process colours the file; workers, processes of their own, write theirs to
    stderr.
    """
    check_not_in_a_worker()
    check_arguments(locals())
    include, exclude = _globs(include), _globs(exclude)
    if jobs is not None and (not is_whole(jobs) or jobs < 1):
        raise UserError(f"jobs: {shown(jobs)}; give a whole number from 1 up, or None (one per GPU, else per 4 cores)")
    if split is not None and split != "auto" and (not is_whole(split) or split < 2):
        raise UserError(f"split: {shown(split)}; give a whole number from 2 up, or 'auto'")
    Guidance.check_types(hints, keyframes, reference)
    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise UserError(f"{src}: {not_there(src, 'file or folder')}")
    if src.is_file() and (include or exclude or force):
        raise UserError("--include, --exclude and --force are for folders")
    if src.is_file() and is_image(src) and (split is not None or ray is not None):
        raise UserError("--split and --ray are for films and folders")
    told = hints is not None or bool(keyframes) or reference is not None
    if told and src.is_dir():
        raise UserError("--hints, --keyframe and --reference are for one file: in a folder, put each file's hints "
                        "in FILE.hints.json beside it")
    if told and (split is not None or ray is not None):
        raise UserError("--hints, --keyframe and --reference colour a film whole, in one process: leave out "
                        "--split and --ray")
    if src.is_dir() or split is not None or ray is not None:
        if not isinstance(model, (str, Path)):
            raise UserError("workers load the model themselves: give its name or file, not a loaded one")
        video = VideoOptions(batch_size=batch_size, temporal=temporal, window=window, crf=crf, preset=preset,
                             codec=codec, max_bits=max_bits, skip_color=skip_color, overwrite=True, quiet=True)
        settings = worker_settings(model, device, working_size, video, saturation)
        options = ArchiveOptions(include, exclude, force, overwrite, jobs, ray, split, verbose, quiet)
        if src.is_dir():
            return colorize_archive(src, dst, settings, options)
        return colorize_film_in_parallel(src, dst, settings, options)
    sweep_stale(dst.parent, folders=True)  # what killed runs left there, a --split run's pieces too: this run leads
    if is_image(src):
        if keyframes:
            raise UserError("--keyframe is for films; a photo takes --hints")
        _warn_of_film_options(locals(), src, warn)
        return colorize_photo(src, dst, model=model, device=device, working_size=working_size, saturation=saturation,
                              skip_color=skip_color, overwrite=overwrite, quiet=quiet, hints=hints, reference=reference,
                              warn=warn)
    return colorize_video(src, dst, model=model, device=device, working_size=working_size, saturation=saturation,
                          batch_size=batch_size, temporal=temporal, window=window, crf=crf, preset=preset,
                          codec=codec, max_bits=max_bits, skip_color=skip_color, overwrite=overwrite, quiet=quiet,
                          hints=hints, keyframes=keyframes, reference=reference, warn=warn)


def _warn_of_film_options(given: dict[str, object], photo: Path, warn: Callable[[str], None]) -> None:
    """Name the film options given (other than their defaults) with a photo, which is coloured without them: a
    script may give every file the same options, and one that meant them for this photo learns they did nothing."""
    defaults = inspect.signature(colorize).parameters
    named = ["--" + name.replace("_", "-") for name in FILM_OPTIONS if given[name] != defaults[name].default]
    if named:
        warn(f"{', '.join(named)} {'is' if len(named) == 1 else 'are'} for films; {photo} is a photo, coloured "
             f"without {'it' if len(named) == 1 else 'them'}")


def _globs(globs: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """`include`/`exclude` as globs; one string is one glob (read letter by letter, its `*` took every file)."""
    return (globs,) if isinstance(globs, str) else tuple(globs)
