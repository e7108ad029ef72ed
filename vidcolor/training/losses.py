"""Losses on a/b: L1, MSE, MSE of the RGB colours they make with the picture's L, or cross-entropy over colour
bins; optionally weighted towards rare (vivid) colours."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..runtime.archs.chroma_bins import bins_cross_entropy
from ..runtime.color import AB_SCALE, lab_to_rgb_unclipped
from ..utils.choices import LOSSES


def gaussian_smooth_2d(hist: torch.Tensor, sigma_bins: float) -> torch.Tensor:
    """Smooth a 2-D histogram with a separable Gaussian (sigma in bins)."""
    r = max(1, int(3 * sigma_bins))
    k = torch.exp(-torch.arange(-r, r + 1, dtype=hist.dtype) ** 2 / (2 * sigma_bins ** 2))
    k = k / k.sum()
    x = hist[None, None]
    x = F.conv2d(F.pad(x, (r, r, 0, 0)), k.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r)), k.view(1, 1, -1, 1))
    return x[0, 0]


def rebalance_weights(hist: torch.Tensor, lam: float = 0.5, sigma_bins: float = 1.5) -> torch.Tensor:
    """Class-rebalancing weights (Zhang et al. 2016) over a/b bins.

    w ∝ 1 / ((1 - λ)·p̃ + λ/Q), with p̃ the Gaussian-smoothed empirical distribution and Q the
    number of bins that occur at all; normalised so the expected weight under p̃ is 1, so the
    loss keeps its scale while rare, saturated colours count for more.
    """
    p = gaussian_smooth_2d(hist, sigma_bins)
    p = p / p.sum()
    q = int((p > 1e-6).sum())
    w = 1.0 / ((1.0 - lam) * p + lam / q)
    return w / (p * w).sum()



class ColorLoss(torch.nn.Module):
    """Per-pixel loss on scaled a/b, weighted by the target colour's rebalancing weight.

    `l1`/`mse` compare predicted a/b; `rgb` the sRGB colours predicted and target a/b make with the picture's
    clean `L` (what PSNR is measured on and a viewer sees: an a/b error counts for less in the dark, where it
    changes little on screen), with a little for how far a colour sRGB cannot show lies past it, so such a
    colour is still drawn back where clipping would hide it; `bins` takes a binned head's logits (`chroma_bins`)
    and scores them against the target at their resolution.
    """

    def __init__(self, kind: str = "l1", weights: torch.Tensor | None = None) -> None:
        super().__init__()
        if kind not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}")
        self.kind = kind
        self.register_buffer("weights", weights if weights is not None else torch.ones(0, 0))

    def forward(self, pred: torch.Tensor, target: torch.Tensor, L: torch.Tensor | None = None) -> torch.Tensor:
        if self.kind == "bins":  # the logits are at half resolution: so are the target and its weights
            target = F.interpolate(target, size=pred.shape[-2:], mode="area")
            err = bins_cross_entropy(pred, target)
        elif self.kind == "rgb":
            if L is None:
                raise ValueError("the rgb loss needs the pictures' L")
            seen, truth = _rgb(L, pred), _rgb(L, target).clamp(0, 1)
            shown = seen.clamp(0, 1)
            err = (shown - truth) ** 2 + BEYOND_GAMUT_WEIGHT * (seen - shown) ** 2
        else:
            err = (pred - target).abs() if self.kind == "l1" else (pred - target) ** 2
        if self.weights.numel() == 0:
            return err.mean()
        bins = self.weights.shape[0]
        idx = ((target.clamp(-1, 1 - 1e-6) + 1) / 2 * bins).long()
        w = self.weights[idx[:, 0], idx[:, 1]].unsqueeze(1)
        return (err * w).mean()


BEYOND_GAMUT_WEIGHT = 0.1  # rgb loss: how much a colour past sRGB's gamut costs for how far past it is


def _rgb(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    return lab_to_rgb_unclipped(torch.cat([L.float(), ab.float() * AB_SCALE], dim=1))
