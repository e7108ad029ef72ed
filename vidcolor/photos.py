"""`vidcolor run` on photos: one file, or a whole folder mirrored into an output folder."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from tqdm import tqdm

from .errors import UserError
from .inference import Colorizer
from .media import find_media, read_image, write_image


def atomic_target(dst: Path, overwrite: bool) -> Path:
    """Check `dst` may be written and return the temp path next to it to write first."""
    if dst.exists() and not overwrite:
        raise UserError(f"{dst}: already exists (use --overwrite to replace it)")
    if not dst.parent.is_dir():
        raise UserError(f"{dst.parent}: output folder does not exist")
    if not os.access(dst.parent, os.W_OK):
        raise UserError(f"{dst.parent}: output folder is not writable")
    return dst.with_name(f".{dst.stem}.partial{dst.suffix}")


def colorize_photo(colorizer: Colorizer, src: Path, dst: Path, overwrite: bool = False) -> None:
    """Colour one photo into `dst` (same pixel size), written atomically."""
    if src.resolve() == dst.resolve():
        raise UserError(f"{dst}: output would overwrite the input")
    tmp = atomic_target(dst, overwrite)
    rgb = colorizer.colorize_rgb(read_image(src))
    try:
        write_image(tmp, rgb)
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)


def colorize_photo_dir(colorizer: Colorizer, src: Path, dst: Path, overwrite: bool = False,
                       quiet: bool = False, ext: str = ".png") -> tuple[int, list[str]]:
    """Colour every image under `src` into `dst`, mirroring the tree and keeping each stem.

    A broken file is reported and skipped; returns (done, errors).
    """
    photos = find_media(src, kinds=("image",))
    if not photos:
        raise UserError(f"{src}: no images found")
    if dst.resolve() == src.resolve():
        raise UserError(f"{dst}: output folder must differ from the input folder")
    errors: list[str] = []
    done = 0
    for path in tqdm(photos, disable=quiet, unit="photo"):
        out = dst / path.relative_to(src).with_suffix(ext)
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            colorize_photo(colorizer, path, out, overwrite)
            done += 1
        except UserError as exc:
            errors.append(str(exc))
            print(f"vidcolor: {exc}", file=sys.stderr)
    return done, errors
