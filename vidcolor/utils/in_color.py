"""Telling a colour picture from a black-and-white one (however toned), for photos and films alike, and the
warning for one that is in colour already."""
from __future__ import annotations

import numpy as np

COLOR_LEVEL = 4.0  # mean distance of Cb/Cr from grey: colour is in the tens, black and white ~0-2


COLOR_SPREAD = 5.0  # RMS of chroma not explained by brightness: colour photos 3-30 (median 11), toned 0-5


COLOR_OPPOSITE = 3.0  # chroma this far to the far side of grey, along the main hue axis: warm and cool at once


_LUMA_BINS = 32


def looks_color(luma: np.ndarray, chroma: np.ndarray) -> bool:
    """Whether 8-bit luma (...) and its Cb/Cr offsets from grey (..., 2) are a colour picture's.

    A sepia or selenium print, a tinted silent film or yellowed paper is black and white to us: its colour,
    however strong, follows its density (one colour per brightness) and stays on one side of grey. A colour
    picture has colours that brightness does not explain (a red coat and a green hedge alike in grey), or
    warm and cool colours at once, even when one hue rules it (a sunset, a forest, a night street)."""
    c = chroma.reshape(-1, 2).astype(np.float64)
    if np.abs(c).mean() * 2 <= COLOR_LEVEL:
        return False
    level = luma.reshape(-1).astype(np.int64) * _LUMA_BINS // 256
    counts = np.maximum(np.bincount(level, minlength=_LUMA_BINS), 1)
    by_level = np.stack([np.bincount(level, c[:, k], minlength=_LUMA_BINS) / counts for k in range(2)], axis=1)
    spread = float(np.sqrt(((c - by_level[level]) ** 2).sum(axis=1).mean()))
    along = c @ np.linalg.eigh(c.T @ c)[1][:, 1]  # on the main hue axis, through grey
    along = along if np.median(along) >= 0 else -along
    return spread > COLOR_SPREAD or float(np.percentile(along, 5)) < -COLOR_OPPOSITE


KEEP_ADVICE = " (--skip-color keeps it as it is)"  # the command line's way out; the web page, which has none, drops it


def already_in_color(what: str, skip_color: bool) -> str:
    """The warning for a film or photo that is in colour already."""
    return f"the {what} is already in colour; " + ("keeping its colours (--skip-color)" if skip_color
                                                   else "colouring it again from its luma" + KEEP_ADVICE)
