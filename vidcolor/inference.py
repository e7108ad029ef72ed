"""Colouring L: run a model at its working size, then bring chroma back to full resolution.

The model sees a small image (fast, and the scale it was trained at); chroma is then upsampled
with a fast guided filter (He & Sun 2015) steered by the full-resolution L, so colour edges snap
to the original's edges instead of bleeding across them. The output's L is always the input's.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .color import AB_SCALE, lab_to_rgb, rgb_to_l
from .temporal import TemporalSmoother

DEFAULT_WORKING_SIZE = 224


def _box(x: torch.Tensor, r: int) -> torch.Tensor:
    return F.avg_pool2d(x, 2 * r + 1, stride=1, padding=r, count_include_pad=False)


def guided_upsample(ab_low: torch.Tensor, guide_low: torch.Tensor, guide_full: torch.Tensor,
                    radius: int = 2, eps: float = 1e-3) -> torch.Tensor:
    """Fast guided filter: fit ab ≈ A·guide + b locally at low resolution, apply A, b at full size."""
    mean_i = _box(guide_low, radius)
    mean_p = _box(ab_low, radius)
    cov_ip = _box(guide_low * ab_low, radius) - mean_i * mean_p
    var_i = _box(guide_low * guide_low, radius) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    size = guide_full.shape[-2:]
    a = F.interpolate(_box(a, radius), size=size, mode="bilinear", align_corners=False)
    b = F.interpolate(_box(b, radius), size=size, mode="bilinear", align_corners=False)
    return a * guide_full + b


def working_shape(h: int, w: int, short_side: int, multiple: int = 8) -> tuple[int, int]:
    """(h, w) scaled so the short side is `short_side` (never upscaled), rounded to `multiple`."""
    scale = min(1.0, short_side / min(h, w))
    return (max(multiple, round(h * scale / multiple) * multiple),
            max(multiple, round(w * scale / multiple) * multiple))


class Colorizer:
    """A loaded model plus the recipe for using it on frames of any size."""

    def __init__(self, model: nn.Module, meta: dict[str, Any] | None = None,
                 device: torch.device | str = "cpu", working_size: int | None = None) -> None:
        self.meta = meta or {}
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.working_size = working_size or int(self.meta.get("working_size", DEFAULT_WORKING_SIZE))
        self.chroma_gain = float(self.meta.get("chroma_gain", 1.0))

    @torch.no_grad()
    def predict_ab(self, L_low: torch.Tensor) -> torch.Tensor:
        """(B, 1, h, w) L in [0, 100] at working size -> (B, 2, h, w) scaled a/b."""
        L_low = L_low.to(self.device)
        if self.device.type == "cuda":
            with torch.autocast("cuda", dtype=torch.float16):
                return self.model(L_low).float() * self.chroma_gain
        return self.model(L_low) * self.chroma_gain

    @torch.no_grad()
    def colorize_l(self, L: torch.Tensor, smoother: TemporalSmoother | None = None) -> torch.Tensor:
        """(B, 1, H, W) full-resolution L -> (B, 2, H, W) a/b in Lab units.

        For consecutive video frames pass a temporal `smoother`: it works on the small
        working-size chroma, before upsampling, where it is cheap.
        """
        h, w = working_shape(*L.shape[-2:], self.working_size)
        L_low = F.interpolate(L, size=(h, w), mode="area") if (h, w) != tuple(L.shape[-2:]) else L
        ab_low = self.predict_ab(L_low).to(L.device)
        if smoother is not None:
            ab_low = smoother(L_low, ab_low)
        ab = guided_upsample(ab_low, L_low / 100.0, L / 100.0)
        return (ab * AB_SCALE).clamp(-AB_SCALE * 1.2, AB_SCALE * 1.2)

    def colorize_rgb(self, rgb: np.ndarray, smoother: TemporalSmoother | None = None) -> np.ndarray:
        """(H, W, 3) or (B, H, W, 3) uint8 RGB (colour or grey) -> coloured uint8 RGB, same size, L kept."""
        batch = rgb[None] if rgb.ndim == 3 else rgb
        x = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float() / 255.0
        L = rgb_to_l(x)
        lab = torch.cat([L, self.colorize_l(L, smoother)], dim=1)
        out = (lab_to_rgb(lab).permute(0, 2, 3, 1).numpy() * 255.0 + 0.5).astype(np.uint8)
        return out[0] if rgb.ndim == 3 else out
