"""Chroma as a distribution over a grid of a/b colours, decoded by its annealed mean.

A regression head answers "red or green?" with the grey in between. Predicting a distribution
over colours (Zhang et al. 2016) keeps both answers; decoding with the annealed mean
(softmax of logits / T) then paints confident regions vividly while truly ambiguous ones stay
muted. T = 1 is the plain mean (the least-squares answer); lower T moves toward the mode.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ...utils.choices import MIN_TEMPERATURE


def valid_temperature(t: float) -> bool:
    """At least MIN_TEMPERATURE and finite: anything else turns the softmax into NaN or a single bin's centre."""
    return MIN_TEMPERATURE <= t < math.inf


def grid_centres(n: int) -> torch.Tensor:
    """(2, n*n) scaled a/b of the grid's colours: n evenly spaced values in [-1, 1] per axis."""
    axis = torch.linspace(-1.0, 1.0, n)
    a, b = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([a.flatten(), b.flatten()])


def soft_encode(ab: torch.Tensor, n: int) -> torch.Tensor:
    """(B, 2, H, W) scaled a/b -> (B, n*n, H, W) bilinear weights over the grid.

    Bilinear, so the encoding's mean is exactly the colour it encodes: decoding at T = 1 is unbiased.
    """
    ab = ab.float()  # in bf16, n - 1 - 1e-4 rounds to n - 1: an index past the grid
    u = ((ab.clamp(-1.0, 1.0) + 1.0) * (n - 1) / 2).clamp(max=n - 1 - 1e-4)
    lo = u.floor()
    frac = u - lo
    lo = lo.long()
    out = torch.zeros(ab.shape[0], n * n, *ab.shape[2:], dtype=ab.dtype, device=ab.device)
    for da in (0, 1):
        wa = frac[:, :1] if da else 1 - frac[:, :1]
        for db in (0, 1):
            wb = frac[:, 1:] if db else 1 - frac[:, 1:]
            out.scatter_add_(1, (lo[:, :1] + da) * n + lo[:, 1:] + db, wa * wb)
    return out


class ChromaBins(nn.Module):
    """1x1 conv to one logit per grid colour; `decode` turns logits into a/b at `temperature`."""

    def __init__(self, channels: int, n: int, temperature: float = 1.0) -> None:
        super().__init__()
        if n < 2 or not valid_temperature(temperature):
            raise ValueError(f"ab_bins needs at least 2 values per axis, and a temperature of at least "
                             f"{MIN_TEMPERATURE}")
        self.temperature = temperature
        self.conv = nn.Conv2d(channels, n * n, 1)
        self.register_buffer("centres", grid_centres(n), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    def decode(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, n*n, h, w) logits -> (B, 2, h, w) scaled a/b, the annealed mean of the distribution."""
        p = F.softmax(logits.float() / self.temperature, dim=1)
        return torch.einsum("bqhw,cq->bchw", p, self.centres)


def bins_cross_entropy(logits: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """(B, 1, h, w) cross-entropy of (B, n*n, h, w) logits against the soft-encoded (B, 2, h, w) target a/b."""
    target = soft_encode(ab, round(logits.shape[1] ** 0.5))
    return -(target * F.log_softmax(logits.float(), dim=1)).sum(dim=1, keepdim=True)
