"""The fast guided filter (He & Sun 2015) that brings working-size chroma to full resolution, steered by the
full-resolution L; box means and pooling on OpenCV where it can (many times faster than torch on CPU)."""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def _opencv_can(x: torch.Tensor) -> bool:
    """OpenCV takes it: a float32/float64 CPU tensor outside autograd."""
    return x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and not x.requires_grad


def _plane_by_plane(x: torch.Tensor, filter_2d: Callable[[np.ndarray], np.ndarray]) -> torch.Tensor:
    """`filter_2d` applied to every (H, W) plane of a (..., H, W) tensor."""
    planes = x.reshape(-1, *x.shape[-2:]).contiguous().numpy()
    out = np.stack([filter_2d(plane) for plane in planes])
    return torch.from_numpy(out).reshape(*x.shape[:-2], *out.shape[-2:])


def _window_counts(n: int, r: int) -> torch.Tensor:
    """How many of the 2r+1 positions around each of n places lie inside."""
    i = torch.arange(n)
    return (i + r).clamp(max=n - 1) - (i - r).clamp(min=0) + 1


def box_mean(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean over a (2r+1)x(2r+1) window, shrunk at the borders (avg_pool2d's count_include_pad=False).

    OpenCV's box filter where it can (on CPU ~15x faster than torch), else differences of running
    sums one axis at a time (half the time of avg_pool2d).
    """
    counts = [_window_counts(n, r).to(x.device, x.dtype) for n in x.shape[-2:]]
    if _opencv_can(x):
        sums = _plane_by_plane(x, lambda plane: cv2.boxFilter(plane, -1, (2 * r + 1, 2 * r + 1), normalize=False,
                                                              borderType=cv2.BORDER_CONSTANT))
        return sums / (counts[0][:, None] * counts[1])
    for dim, count in ((-1, counts[1]), (-2, counts[0][:, None])):
        n = x.shape[dim]
        sums = F.pad(x, (r + 1, r) if dim == -1 else (0, 0, r + 1, r)).cumsum(dim)
        x = (sums.narrow(dim, 2 * r + 1, n) - sums.narrow(dim, 0, n)) / count
    return x


def pool(x: torch.Tensor, k: int) -> torch.Tensor:
    """Mean over k x k blocks (sizes divisible by k): a 4:2:0 film's chroma-plane guide. OpenCV where it
    can (on CPU ~20x faster than torch), else avg_pool2d."""
    if not _opencv_can(x):
        return F.avg_pool2d(x, k)
    h, w = x.shape[-2:]
    return _plane_by_plane(x, lambda plane: cv2.resize(plane, (w // k, h // k), interpolation=cv2.INTER_AREA))


def guided_coefficients(ab_low: torch.Tensor, guide_low: torch.Tensor, radius: int = 2,
                        eps: float = 1e-3) -> torch.Tensor:
    """Fast guided filter, low-resolution half: the local fit ab ≈ A·guide + b, as (B, 2C, h, w): A, then b.
    The local statistics share one box filter."""
    c = ab_low.shape[1]
    stats = box_mean(torch.cat([guide_low, ab_low, guide_low * ab_low, guide_low * guide_low], dim=1), radius)
    mean_i, mean_p, mean_ip, mean_ii = stats.split([1, c, c, 1], dim=1)
    a = (mean_ip - mean_i * mean_p) / (mean_ii - mean_i * mean_i + eps)
    b = mean_p - a * mean_i
    return box_mean(torch.cat([a, b], dim=1), radius)


def apply_coefficients(coef: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """Fast guided filter, full-resolution half: A·guide + b with A, b already at the guide's size."""
    c = coef.shape[1] // 2
    return torch.addcmul(coef[:, c:], coef[:, :c], guide)


def guided_upsample(ab_low: torch.Tensor, guide_low: torch.Tensor, guide_full: torch.Tensor) -> torch.Tensor:
    """Fast guided filter: fit ab ≈ A·guide + b locally at low resolution, apply A, b at full size; all that
    runs at full resolution is one interpolation and a fused multiply-add."""
    coef = F.interpolate(guided_coefficients(ab_low, guide_low), size=guide_full.shape[-2:], mode="bilinear",
                         align_corners=False)
    return apply_coefficients(coef, guide_full)


def resized_rows(x: torch.Tensor, height: int, start: int, stop: int) -> torch.Tensor:
    """Rows start:stop of (…, h, W) `x` resized to `height` rows as F.interpolate's bilinear mode does
    (align_corners False), without making the others: a tall photo's coefficients a strip at a time."""
    h = x.shape[-2]
    y = ((torch.arange(start, stop, dtype=torch.float64) + 0.5) * (h / height) - 0.5).clamp_min(0.0)
    top = y.floor().long().clamp_max(h - 1)
    weight = (y - top).to(x.dtype)[:, None]
    return torch.lerp(x[..., top, :], x[..., (top + 1).clamp_max(h - 1), :], weight)
