"""Colouring one photo: the checks made before any work, and the colouring itself (vidcolor.one_file decides
what is a photo; a folder of them goes through vidcolor.batch, like any archive)."""
from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from ..hints.file import Hint, check_hints_fit, points_of
from ..runtime.hints import Told
from ..runtime.inference import Colorizer
from ..utils.atomic import check_not_the_input, check_writable, written_atomically
from ..utils.errors import UserError
from ..utils.in_color import already_in_color, looks_color
from ..utils.paths import bar_label
from .metadata import read_metadata
from .read import ALPHA_EXTS, image_format, page_count, read_photo, to_depth
from .write import check_photo_output, write_image

BAR_DELAY = 2.0  # seconds before a photo's bar shows: a large scan takes many, most photos a fraction of one


def photo_color(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Luma and (H, W, 2) Cr/Cb offsets from grey in 8-bit units, as `yuv.frame_color` gives a film's."""
    ycc = cv2.cvtColor(np.ascontiguousarray(to_depth(rgb[..., :3], np.uint8)), cv2.COLOR_RGB2YCrCb)
    return ycc[..., 0], ycc[..., 1:].astype(np.int16) - 128


@dataclass
class PhotoTold:
    """What the user says of a photo: hints (from `hints_name`, for messages) and a reference palette."""

    hints: list[Hint] = field(default_factory=list)
    hints_name: str = "hints"
    reference: torch.Tensor | None = None

    def runtime(self) -> Told:
        return Told(points_of(self.hints), self.reference)


def check_photo_job(src: Path, dst: Path, overwrite: bool) -> None:
    """Refuse, before any work, an output that would replace the input or cannot be written."""
    check_not_the_input(src, dst)
    check_photo_output(dst)
    check_writable(dst, overwrite)


def color_photo(model: Callable[[], Colorizer], src: Path, dst: Path, overwrite: bool = False,
                skip_color: bool = False, warn: Callable[[str], None] = lambda message: None,
                told: PhotoTold | None = None, quiet: bool = True) -> None:
    """Colour one photo into `dst` (same pixel size, bit depth, transparency and EXIF/ICC where the format holds
    them), written atomically. A photo already in colour is coloured again from its L, or with `skip_color` kept.
    `told`: the user's hints and reference palette, checked against the photo before anything is written.
    `model()` is called once the photo is read and the hints fit it (loading may take a while, and a damaged
    photo or a hint off its edge should be said at once), and not at all for a photo kept as it is. Unless
    `quiet`, a bar shows its steps (read, coloured, written) where they take a while."""
    check_photo_job(src, dst, overwrite)
    with tqdm(total=3, desc=bar_label(src.name), unit="step", leave=False, delay=BAR_DELAY, disable=quiet,
              dynamic_ncols=True) as bar:
        # tqdm's delay draws only on an update: a step of many seconds (colouring) would pass unseen
        shown = threading.Timer(BAR_DELAY, bar.refresh)
        shown.daemon = True
        shown.start()
        try:
            _color_photo(model, src, dst, overwrite, skip_color, warn, told, bar)
        finally:
            shown.cancel()


def _color_photo(model: Callable[[], Colorizer], src: Path, dst: Path, overwrite: bool, skip_color: bool,
                 warn: Callable[[str], None], told: PhotoTold | None, bar: tqdm) -> None:
    photo = read_photo(src)
    bar.update()
    if told is not None:
        check_hints_fit(told.hints, photo.shape[1], photo.shape[0], told.hints_name)
    color = looks_color(*photo_color(photo))
    colorizer = None if color and skip_color else model()  # a model that cannot be loaded: its line alone
    if (pages := page_count(src)) > 1:
        warn(f"{src.name} holds {pages} pages or frames; only the first is coloured")
    see_through = photo.shape[-1] == 4 and photo[..., 3].min() < np.iinfo(photo.dtype).max  # not all opaque
    if see_through and dst.suffix.lower() not in ALPHA_EXTS:
        warn(f"{dst.name} cannot hold the photo's transparency, so it is written without it (.png, .tif and .webp "
             "keep it)")
    if color:
        warn(already_in_color("photo", skip_color))
        if skip_color and told is not None:
            warn(f"{src.name} is kept as it is: the colours it was told are not used")
    try:
        with written_atomically(dst, replace=overwrite) as tmp:
            if colorizer is None and image_format(src) == image_format(dst):
                shutil.copyfile(src, tmp)  # left alone: the very file, not a second encoding of it
            else:
                colored = photo if colorizer is None else colorizer.colorize_rgb(photo, told and told.runtime())
                bar.update()
                write_image(tmp, colored, read_metadata(src))
        bar.update(bar.total - bar.n)
    except OSError as exc:  # disk full, folder gone, ...
        raise UserError(f"{dst}: could not write the photo ({exc.strerror or exc})") from None
