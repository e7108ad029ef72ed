"""`vidcolor frames`: a training set of frames from colour films."""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import click

from ..utils.errors import UserError
from ..utils.paths import bar_label, not_there
from .common import GivenPath, friendly

FRAME_TAKEN = "another -o (this frame's name is taken)"  # for a folder by a frame's name: no file name is asked here


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=GivenPath())
@click.option("-o", "--output", "dst", required=True, type=GivenPath(), help="Folder for the frames.")
@click.option("--every", type=click.IntRange(min=1), default=10, show_default=True, help="Keep every N-th frame.")
@click.option("--overwrite", is_flag=True, help="Replace frames an earlier extraction wrote.")
@click.option("--quiet", is_flag=True, help="No progress bar, and no closing line.")
@friendly
def frames(inputs: tuple[Path, ...], dst: Path, every: int, overwrite: bool, quiet: bool) -> None:
    """Extract a training set of frames from colour videos (files, or folders of them)."""
    from tqdm import tqdm

    from ..film.frames import video_frames
    from ..photo.write import write_image
    from ..training.data import looks_grey
    from ..utils.atomic import check_writable, make_folder, take_back, written_atomically
    from ..utils.paths import distinct_stems
    from ..utils.warn import default_warn

    videos = _films(inputs)
    stems = distinct_stems(videos)
    there = sorted(os.listdir(dst)) if dst.is_dir() else []
    if not overwrite:  # an earlier extraction's frames: refused before any frame is written
        earlier = _frames_named(stems)
        for name in there:
            if earlier.fullmatch(name):
                check_writable(dst / name, overwrite, FRAME_TAKEN)
    _warn_of_frames_named_before(dst, there, videos, stems, default_warn)
    made = make_folder(dst)
    total = grey = failed = 0
    # drawn once the extraction takes a while: a film that turns out to be none leaves its one line alone
    bar = tqdm(unit="frame", disable=quiet, leave=False, delay=1, dynamic_ncols=True)
    try:
        for video, stem in zip(videos, stems, strict=True):
            bar.set_description(bar_label(video), refresh=False)
            try:  # one film that cannot be read does not cost the others theirs
                for i, rgb in enumerate(video_frames(video, every)):
                    target = dst / f"{stem}_{i * every:06d}.png"
                    check_writable(target, overwrite, FRAME_TAKEN)
                    with written_atomically(target, replace=overwrite) as tmp:
                        write_image(tmp, rgb)
                    total += 1
                    grey += looks_grey(rgb)
                    bar.update(1)
            except UserError as exc:
                if len(videos) == 1:
                    raise
                default_warn(f"not read: {exc}")
                failed += 1
    except BaseException:  # not a film after all, say: the folder made for it is taken back while empty
        take_back(dst, made)
        raise
    finally:
        bar.close()
    if grey:  # written as asked, but a colour model learns nothing from them
        default_warn(f"{grey} of the {total} frames are black and white (training skips them)")
    if (total or not failed) and not quiet:  # no films read at all: the folder is taken back, the error says why
        click.echo(f"{total} frame{'s' * (total != 1)} written to {dst}", err=True)
    if failed:
        take_back(dst, made)  # if nothing at all was written
        raise UserError(f"{failed} of {len(videos)} films could not be read")


def _frames_named(stems: list[str]) -> re.Pattern[str]:
    """The names of the frames an extraction writes for films named `stems` (`reel_000040.png`)."""
    return re.compile("|".join(rf"{re.escape(stem)}_\d{{6}}\.png" for stem in stems))


def _warn_of_frames_named_before(dst: Path, there: list[str], videos: list[Path], stems: list[str],
                                 warn: Callable[[str], None]) -> None:
    """Frames of one film named `reel_...` by an earlier extraction (`there`: the names in `dst`), when two films
    named reel now get `reel-1_...` and `reel-2_...` (a second reel came into the archive): one film's frames
    would be there twice, unseen."""
    renumbered = sorted({video.stem for video, stem in zip(videos, stems, strict=True) if stem != video.stem})
    for stem in renumbered:
        ones = _frames_named([stem])
        if any(ones.fullmatch(name) for name in there):
            warn(f"{dst} holds frames named {stem}_... from an earlier extraction of one film of that name; the films "
                 f"named {stem} now get {stem}-1_..., {stem}-2_..., so some frames may be there twice (remove the "
                 "earlier ones, or give another -o)")


def _films(inputs: tuple[Path, ...]) -> list[Path]:
    """The films named, and those in the folders named, each once however named; a photo or a missing file is
    refused before any frame is written."""
    from ..utils.paths import find_media, is_image

    films: list[Path] = []
    for path in inputs:
        if path.is_dir():
            films += [p for p in find_media(path) if not is_image(p)]
        elif not path.is_file():  # a FIFO or a device is there, but no film
            why = "not a file or folder" if path.exists() else not_there(path, "file or folder")
            raise UserError(f"{path}: {why}")
        elif is_image(path):
            raise UserError(f"{path}: a photo, not a film (training takes photo folders as they are)")
        else:
            films.append(path)
    if not films:
        raise UserError(f"{', '.join(map(str, inputs))}: no films found")
    return list({film.resolve(): film for film in films}.values())
