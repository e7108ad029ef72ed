"""`vidcolor run` on a photo (a folder of them goes through vidcolor.archive, like any archive)."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import UserError
from .inference import Colorizer
from .media import read_image, write_image


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
