"""A reference photo: a colour picture whose palette steers a hint model (`--reference`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..runtime.color import AB_SCALE, from_int_images, rgb_to_lab
from ..runtime.hints import reference_histogram
from ..utils.errors import UserError
from .read import read_image, shrunk

PALETTE_SIZE = 256  # pixels on the long side: plenty for a histogram of colours


def reference_palette(path: Path) -> torch.Tensor:
    """The (REFERENCE_BINS²,) a/b histogram of the photo at `path`. Raises UserError if it cannot be read or
    holds no colour to take."""
    ab = picture_ab(shrunk(read_image(path), PALETTE_SIZE))
    if not _has_color(ab):
        raise UserError(f"{path}: a black-and-white picture has no colours to take as a reference")
    return reference_histogram(ab)[0]


def has_color(rgb: np.ndarray) -> bool:
    """Whether a picture holds any colour at all: a keyframe or reference left grey tells only grey."""
    return _has_color(picture_ab(shrunk(rgb, PALETTE_SIZE)))


def _has_color(ab: torch.Tensor) -> bool:
    return float(ab.abs().max()) * AB_SCALE >= 2.0  # a/b within 2 Lab units of grey everywhere: none


def picture_ab(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 or uint16 RGB -> its (1, 2, H, W) a/b scaled to the model's [-1, 1]."""
    return rgb_to_lab(from_int_images(rgb[None]))[:, 1:] / AB_SCALE
