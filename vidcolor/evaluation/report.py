"""Pictures a person can look at: a grid of (grey | ours | truth) rows, for eval's report and training's
validation."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..utils.atomic import written_atomically


def sample_grid(triples: list[tuple[np.ndarray, np.ndarray, np.ndarray]], path: Path, height: int = 128) -> None:
    """Rows of (grey | ours | truth), RGB uint8, each scaled to `height`."""
    rows = []
    for images in triples:
        scaled = [cv2.resize(im, (round(im.shape[1] * height / im.shape[0]), height)) for im in images]
        rows.append(np.concatenate(scaled, axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    write_png(path, cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))


def write_png(path: Path, bgr: np.ndarray) -> None:
    with written_atomically(path) as tmp:
        tmp.write_bytes(cv2.imencode(".png", bgr)[1].tobytes())
