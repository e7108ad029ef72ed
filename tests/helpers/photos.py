"""Small colour photos made on the fly, so tests never need the shared data set."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from vidcolor.photo.write import write_image


def landscape(seed: int, h: int = 48, w: int = 64) -> np.ndarray:
    """A 'blue sky over green field' with a red sun: colour a model can learn from L and position."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.uint8)
    horizon = int(h * rng.uniform(0.4, 0.6))
    img[:horizon] = (rng.integers(60, 110), rng.integers(130, 180), rng.integers(200, 255))
    img[horizon:] = (rng.integers(30, 80), rng.integers(120, 180), rng.integers(20, 60))
    cy, cx = rng.integers(4, horizon), rng.integers(8, w - 8)
    yy, xx = np.mgrid[:h, :w]
    img[(yy - cy) ** 2 + (xx - cx) ** 2 < 16] = (230, 40, 30)
    return img


def photo_folder(root: Path, n: int = 12, h: int = 48, w: int = 64) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        write_image(root / f"photo_{i:02d}.png", landscape(i, h, w))
    return root
