"""Pictures a person can look at: a grid of pictures side by side (grey | ours | truth, a film's frames, one
model after another), for eval's report, training's validation and the model card."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..utils.atomic import written_atomically

GRID_HEIGHT = 128  # pixels of each picture in the grid: small enough for many rows, big enough to judge colour


def sample_grid(rows_of_pictures: list[tuple[np.ndarray, ...]], path: Path) -> None:
    """A PNG of the rows one above the other, each a row of RGB uint8 pictures side by side, scaled to one height
    (a row shorter than the widest is padded white)."""
    rows = []
    for images in rows_of_pictures:
        scaled = [cv2.resize(im, (round(im.shape[1] * GRID_HEIGHT / im.shape[0]), GRID_HEIGHT)) for im in images]
        rows.append(np.concatenate(scaled, axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    write_png(path, cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))


def write_png(path: Path, bgr: np.ndarray) -> None:
    with written_atomically(path) as tmp:
        tmp.write_bytes(cv2.imencode(".png", bgr)[1].tobytes())
