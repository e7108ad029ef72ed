"""Batches of random crops, with augmentation on L that imitates old film.

The target a/b always comes from the clean photo; only the model's input L is degraded
(contrast and gamma drift, softness, grain, scratches and dust), so the model learns to
colour what archive film actually looks like. All randomness comes from one torch.Generator
so that `--resume` reproduces an uninterrupted run exactly.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..runtime.color import AB_SCALE, from_int_images, rgb_to_lab


def _u(gen: torch.Generator, lo: float = 0.0, hi: float = 1.0) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=gen))


def random_crop(rgb: np.ndarray, size: int, gen: torch.Generator) -> np.ndarray:
    """Random resized crop (35-100% of the area, aspect 3:4-4:3) to size x size, random h-flip."""
    h, w = rgb.shape[:2]
    for _ in range(10):
        area = h * w * _u(gen, 0.35, 1.0)
        aspect = math.exp(_u(gen, math.log(3 / 4), math.log(4 / 3)))
        cw, ch = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
        if cw <= w and ch <= h:
            break
    else:
        ch = cw = min(h, w)
    y, x = int(_u(gen) * (h - ch + 1)), int(_u(gen) * (w - cw + 1))
    crop = cv2.resize(rgb[y:y + ch, x:x + cw], (size, size), interpolation=cv2.INTER_AREA)
    return crop[:, ::-1] if _u(gen) < 0.5 else crop


def degrade_l(L: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Film-like damage on a (1, H, W) L channel in [0, 100]; each effect applied at random."""
    x = L / 100.0
    _, h, w = x.shape
    if _u(gen) < 0.5:  # contrast and gamma drift of old stock and telecine
        x = ((x - 0.5) * _u(gen, 0.7, 1.3) + 0.5 + _u(gen, -0.1, 0.1)).clamp(0, 1) ** _u(gen, 0.7, 1.4)
    if _u(gen) < 0.3:  # soft focus
        sigma = _u(gen, 0.5, 1.5)
        k = torch.arange(-3, 4, dtype=x.dtype)
        k = torch.exp(-k ** 2 / (2 * sigma ** 2))
        k = k / k.sum()
        x = F.conv2d(F.pad(x[None], (3, 3, 0, 0), mode="replicate"), k.view(1, 1, 1, 7))
        x = F.conv2d(F.pad(x, (0, 0, 3, 3), mode="replicate"), k.view(1, 1, 7, 1))[0]
    if _u(gen) < 0.5:  # film grain
        x = x + torch.randn(x.shape, generator=gen) * _u(gen, 0.01, 0.05)
    if _u(gen) < 0.25:  # vertical scratches
        for _ in range(int(_u(gen, 1, 4))):
            col = int(_u(gen) * w)
            x[:, :, col:col + 1] = _u(gen, 0.0, 1.0)
    if _u(gen) < 0.25:  # dust specks
        n = int(_u(gen, 5, 40))
        ys = (torch.rand(n, generator=gen) * h).long()
        xs = (torch.rand(n, generator=gen) * w).long()
        x[:, ys, xs] = (torch.rand(n, generator=gen) > 0.5).to(x.dtype)
    return x.clamp(0, 1) * 100.0


def make_batch(images: list[np.ndarray], indices: list[int], size: int, gen: torch.Generator
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L_input, L_clean, ab_target): L in [0, 100], ab scaled to [-1, 1]; the input L degraded as old film
    is, the clean L what the colours are scored against."""
    crops = np.stack([random_crop(images[i], size, gen) for i in indices])
    lab = rgb_to_lab(from_int_images(crops))
    L, ab = lab[:, :1], lab[:, 1:] / AB_SCALE
    return torch.stack([degrade_l(one, gen) for one in L]), L, ab
