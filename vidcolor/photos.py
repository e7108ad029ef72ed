"""`vidcolor run` on a photo (a folder of them goes through vidcolor.archive, like any archive)."""
from __future__ import annotations

from pathlib import Path

from .atomic import check_writable, written_atomically
from .errors import UserError
from .inference import Colorizer
from .media import read_image, write_image


def colorize_photo(colorizer: Colorizer, src: Path, dst: Path, overwrite: bool = False) -> None:
    """Colour one photo into `dst` (same pixel size), written atomically."""
    if src.resolve() == dst.resolve():
        raise UserError(f"{dst}: output would overwrite the input")
    check_writable(dst, overwrite)
    rgb = colorizer.colorize_rgb(read_image(src))
    with written_atomically(dst) as tmp:
        write_image(tmp, rgb)
