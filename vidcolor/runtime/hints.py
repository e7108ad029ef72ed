"""What a hint-conditioned colourizer is told besides L (Zhang et al. 2017): colour points as planes, and a
reference photo's palette as a histogram.

Hint planes are (3, h, w) at the working size: the a/b of each point (scaled to [-1, 1]) over a small square,
and a mask that is 1 there. A reference is the (REFERENCE_BINS²,) histogram of a photo's a/b, summing to 1.
All zeros means "not told", which is what the automatic model sees.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

HINT_CHANNELS = 3  # a, b, mask
REFERENCE_BINS = 10  # per a/b axis
REFERENCE_RANGE = 0.6  # scaled a/b beyond ±this share the edge bins (66 Lab units: all but the most vivid)
HINT_SQUARE = 3  # pixels at the working size a clicked point covers (training draws 1-5)
POINT_FIELDS = 5  # x, y, a, b, size


def no_points() -> np.ndarray:
    return np.zeros((0, POINT_FIELDS), np.float32)


@dataclass
class Told:
    """What the user says of one picture: `points` (N, 5) rows of x, y (the picture's pixels), a, b (scaled)
    and the side of the square they cover (the picture's pixels; 0: a click, HINT_SQUARE at the working size);
    and a `reference` palette (reference_histogram), or None."""

    points: np.ndarray = field(default_factory=no_points)
    reference: torch.Tensor | None = None


def hint_planes(points: np.ndarray, h: int, w: int, sx: float, sy: float) -> torch.Tensor:
    """Points of a picture `sx` x `sy` times the working size's -> (3, h, w) planes at the working size; a point
    outside is left out, a later one wins where squares meet."""
    planes = np.zeros((HINT_CHANNELS, h * w), np.float32)
    if len(points):
        side = np.where(points[:, 4] > 0, np.maximum(1, np.rint(points[:, 4] * sx)), HINT_SQUARE).astype(np.int64)
        x0 = np.floor(points[:, 0] * sx).astype(np.int64) - side // 2  # the square centred on the point's pixel
        y0 = np.floor(points[:, 1] * sy).astype(np.int64) - side // 2
        winner = np.full(h * w, -1)
        for size in np.unique(side):  # a keyframe's cells are all one size: few passes, each vectorised
            which = np.flatnonzero(side == size)
            dy, dx = np.divmod(np.arange(size * size), size)
            xs, ys = x0[which, None] + dx, y0[which, None] + dy
            inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
            owner = np.broadcast_to(which[:, None], xs.shape)
            np.maximum.at(winner, (ys * w + xs)[inside], owner[inside])
        hinted = winner >= 0
        planes[0, hinted], planes[1, hinted] = points[winner[hinted], 2], points[winner[hinted], 3]
        planes[2, hinted] = 1.0
    return torch.from_numpy(planes.reshape(HINT_CHANNELS, h, w))


def reference_histogram(ab: torch.Tensor) -> torch.Tensor:
    """(B, 2, h, w) scaled a/b -> (B, REFERENCE_BINS²) histograms summing to 1, each pixel counting once."""
    n = REFERENCE_BINS
    cells = ((ab.float().clamp(-REFERENCE_RANGE, REFERENCE_RANGE * 0.999) / REFERENCE_RANGE + 1) * (n / 2)).long()
    index = (cells[:, 0] * n + cells[:, 1]).flatten(1)
    hist = torch.zeros(ab.shape[0], n * n).scatter_add_(1, index, torch.ones_like(index, dtype=torch.float32))
    return hist / hist.sum(1, keepdim=True).clamp_min(1e-6)
