"""`vidcolor frames`: a training set of frames from colour films."""
from __future__ import annotations

import os
import re
from pathlib import Path

import click

from ..utils.errors import UserError
from .common import friendly


@click.command()
@click.argument("videos", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "dst", required=True, type=click.Path(path_type=Path), help="Folder for the frames.")
@click.option("--every", type=click.IntRange(min=1), default=10, show_default=True, help="Keep every N-th frame.")
@click.option("--overwrite", is_flag=True, help="Replace frames an earlier extraction wrote.")
@friendly
def frames(videos: tuple[Path, ...], dst: Path, every: int, overwrite: bool) -> None:
    """Extract a training set of frames from colour videos."""
    from ..film.frames import video_frames
    from ..photo.write import write_image
    from ..training.data import looks_grey
    from ..utils.atomic import check_writable, make_folder, take_back, written_atomically
    from ..utils.paths import distinct_stems, is_image

    videos = tuple({video.resolve(): video for video in videos}.values())  # each film once, however named
    for video in videos:
        if not video.is_file():
            raise UserError(f"{video}: " + ("not a film file" if video.exists() else "no such file"))
        if is_image(video):
            raise UserError(f"{video}: a photo, not a film (training takes photo folders as they are)")
    stems = distinct_stems(videos)
    if not overwrite and dst.is_dir():  # an earlier extraction's frames: refused before any frame is written
        earlier = re.compile("|".join(rf"{re.escape(stem)}_\d{{6}}\.png" for stem in stems))
        for name in sorted(os.listdir(dst)):
            if earlier.fullmatch(name):
                check_writable(dst / name, overwrite)
    made = make_folder(dst)
    total = grey = 0
    try:
        for video, stem in zip(videos, stems, strict=True):
            for i, rgb in enumerate(video_frames(video, every)):
                target = dst / f"{stem}_{i * every:06d}.png"
                check_writable(target, overwrite)
                with written_atomically(target, replace=overwrite) as tmp:
                    write_image(tmp, rgb)
                total += 1
                grey += looks_grey(rgb)
    except BaseException:  # not a film after all, say: the folder made for it is taken back while empty
        take_back(dst, made)
        raise
    if grey:  # written as asked, but a colour model learns nothing from them
        click.echo(f"vidcolor: warning: {grey} of the {total} frames are black and white (training skips them)",
                   err=True)
    click.echo(f"{total} frame{'s' * (total != 1)} written to {dst}", err=True)
