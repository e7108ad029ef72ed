"""Hints drawn from the truth: simulated users for training a hint model, and fixed ones to score it.

As in Zhang et al. 2017, a user is simulated by a few points (the number geometric, mostly small), each
the mean colour of a small square of the truth; some crops get a dense, patchy map instead (a hand-painted
keyframe carried along the flow, with holes where the flow lost it), some the truth's own palette as the
reference, some only that. Every crop is told something: told nothing, a hint model is its automatic model
and its hint branch is not run.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..runtime.hints import HINT_CHANNELS, HINT_SQUARE, REFERENCE_BINS, reference_histogram

P_POINTS = 0.7  # a crop gets points...
P_DENSE = 0.15  # ...or a dense, patchy map (the rest: the reference alone)
P_REFERENCE = 0.3  # independently, the truth's palette as reference
MEAN_POINTS = 8  # geometric: 1 point most often, rarely dozens
MAX_POINTS = 48
DENSE_CELL = 4  # pixels: a dense map's patches are the truth averaged over cells this size


def _u(gen: torch.Generator) -> float:
    return float(torch.rand((), generator=gen))


def _square_mean(ab: torch.Tensor, x: int, y: int, size: int) -> tuple[slice, slice, torch.Tensor]:
    h, w = ab.shape[-2:]
    ys, xs = slice(max(0, y - size // 2), min(h, y - size // 2 + size)), slice(max(0, x - size // 2),
                                                                              min(w, x - size // 2 + size))
    return ys, xs, ab[:, ys, xs].mean(dim=(1, 2))


def points_from_truth(ab: torch.Tensor, n: int, gen: torch.Generator, sizes: tuple[int, int] = (HINT_SQUARE,
                                                                                               HINT_SQUARE)
                      ) -> torch.Tensor:
    """(2, h, w) true scaled a/b -> (3, h, w) planes with `n` points at random places, each the truth's mean
    over a square of a side drawn from `sizes` (inclusive), as a user who knew the colours would click."""
    h, w = ab.shape[-2:]
    planes = torch.zeros(HINT_CHANNELS, h, w)
    for _ in range(n):
        x, y = int(_u(gen) * w), int(_u(gen) * h)
        size = sizes[0] + int(_u(gen) * (sizes[1] - sizes[0] + 1))
        ys, xs, mean = _square_mean(ab, x, y, size)
        planes[:2, ys, xs] = mean[:, None, None]
        planes[2, ys, xs] = 1.0
    return planes


def _dense_from_truth(ab: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A keyframe's hints after the flow carried them: the truth by cells, a random share of cells missing."""
    h, w = ab.shape[-2:]
    cells = F.avg_pool2d(ab[None], DENSE_CELL, ceil_mode=True)
    keep = (torch.rand(cells.shape[-2:], generator=gen) < 0.2 + 0.8 * _u(gen)).float()[None, None]
    up = F.interpolate(torch.cat([cells, keep], dim=1), scale_factor=DENSE_CELL, mode="nearest")[0, :, :h, :w]
    return torch.cat([up[:2] * up[2:], up[2:]])


def _point_count(gen: torch.Generator) -> int:
    """Geometric on 1, 2, ... with mean MEAN_POINTS, capped."""
    p = 1.0 / MEAN_POINTS
    return min(MAX_POINTS, 1 + int(torch.log(torch.rand((), generator=gen).clamp_min(1e-9)) / torch.log(
        torch.tensor(1.0 - p))))


def simulate_hints(ab: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 2, h, w) true scaled a/b -> hint planes (B, 3, h, w) and references (B, REFERENCE_BINS²)."""
    ab = ab.float().cpu()
    planes = torch.zeros(ab.shape[0], HINT_CHANNELS, *ab.shape[-2:])
    references = torch.zeros(ab.shape[0], REFERENCE_BINS ** 2)
    for i, one in enumerate(ab):
        draw = _u(gen)
        if draw < P_POINTS:
            planes[i] = points_from_truth(one, _point_count(gen), gen, sizes=(1, 5))
        elif draw < P_POINTS + P_DENSE:
            planes[i] = _dense_from_truth(one, gen)
        if _u(gen) < P_REFERENCE or draw >= P_POINTS + P_DENSE:
            references[i] = reference_histogram(one[None])[0]
    return planes, references
