"""sRGB <-> CIE Lab (D65) for batched torch tensors, matching scikit-image.

Everything in vidcolor speaks Lab: the models see L and predict a/b, so the
conversion has to be exact (it decides what "luma is kept" means) and fast on
whole batches, which is why it lives in torch rather than calling skimage.
"""
from __future__ import annotations

import numpy as np
import torch

AB_SCALE = 110.0  # a/b in Lab units are divided by this to give the model's [-1, 1] range

_XYZ_FROM_RGB = torch.tensor(
    [[0.412453, 0.357580, 0.180423],
     [0.212671, 0.715160, 0.072169],
     [0.019334, 0.119193, 0.950227]], dtype=torch.float64)
_RGB_FROM_XYZ = torch.linalg.inv(_XYZ_FROM_RGB)
_WHITE_D65 = torch.tensor([0.95047, 1.0, 1.08883], dtype=torch.float64)


def _channel_matmul(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Apply a 3x3 colour matrix to the channel axis (dim -3) of x."""
    return torch.einsum("ij,...jhw->...ihw", m.to(x.dtype).to(x.device), x)


def _white(x: torch.Tensor) -> torch.Tensor:
    return _WHITE_D65.to(x.dtype).to(x.device).view(3, 1, 1)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(…, 3, H, W) sRGB in [0, 1] -> Lab with L in [0, 100], a/b in Lab units."""
    rgb = rgb.clamp(0.0, 1.0)
    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = _channel_matmul(_XYZ_FROM_RGB, linear) / _white(rgb)
    f = torch.where(xyz > 0.008856, xyz.clamp_min(1e-12) ** (1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
    fx, fy, fz = f.unbind(-3)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=-3)


def _lab_to_linear(lab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(…, 3, H, W) Lab -> (linear sRGB, unclipped; f(z), below 0 where no colour has that b)."""
    L, a, b = lab.unbind(-3)
    fy = (L + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = fy - b / 200.0
    f = torch.stack([fx, fy, fz.clamp_min(0.0)], dim=-3)
    xyz = torch.where(f > 0.2068966, f ** 3, (f - 16.0 / 116.0) / 7.787) * _white(lab)
    return _channel_matmul(_RGB_FROM_XYZ, xyz), fz


def _encode(linear: torch.Tensor) -> torch.Tensor:
    """Linear light -> sRGB values (the transfer curve; values past 1 go on along it, below 0 along its line)."""
    return torch.where(linear > 0.0031308, 1.055 * linear.clamp_min(1e-12) ** (1.0 / 2.4) - 0.055, 12.92 * linear)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """(…, 3, H, W) Lab -> sRGB in [0, 1], clipped to the gamut like skimage."""
    return _encode(_lab_to_linear(lab)[0].clamp_min(0.0)).clamp(0.0, 1.0)


def lab_to_rgb_unclipped(lab: torch.Tensor) -> torch.Tensor:
    """(…, 3, H, W) Lab -> sRGB, not clipped: a colour sRGB cannot show lands past [0, 1] by how far out it is,
    so a loss on RGB still tells a model how far off such a colour is (clipping would hide it)."""
    return _encode(_lab_to_linear(lab)[0])


def _in_gamut(lab: torch.Tensor, tolerance: float = 1e-5) -> torch.Tensor:
    """(…, 3, H, W) Lab -> (…, H, W): whether sRGB can show the colour."""
    linear, fz = _lab_to_linear(lab)
    return (fz >= 0.0) & ((linear >= -tolerance) & (linear <= 1.0 + tolerance)).all(dim=-3)


def fit_to_gamut(L: torch.Tensor, ab: torch.Tensor, steps: int = 8) -> torch.Tensor:
    """a/b (Lab units) shrunk toward grey, pixel by pixel, just enough for sRGB to show the colour at that L.

    Writing an out-of-gamut colour clips R, G or B, which changes L (by several units for vivid colours);
    shrinking the chroma instead keeps L and hue. Bisection on the pixels that need it, to 1/256 of their
    chroma (finer is invisible; L is kept at any precision).
    """
    bad = ~_in_gamut(torch.cat([L, ab], dim=-3))
    if not bad.any():
        return ab
    ab = ab.movedim(-3, -1).clone()
    L_bad, ab_bad = L.movedim(-3, -1)[bad], ab[bad]  # (N, 1), (N, 2)
    low, high = torch.zeros_like(L_bad), torch.ones_like(L_bad)
    for _ in range(steps):
        mid = (low + high) / 2
        ok = _in_gamut(torch.cat([L_bad, ab_bad * mid], dim=-1).T[:, :, None])  # as one (3, N, 1) image
        low, high = torch.where(ok, mid, low), torch.where(ok, high, mid)
    ab[bad] = ab_bad * low
    return ab.movedim(-1, -3)


def rgb_to_l(rgb: torch.Tensor) -> torch.Tensor:
    """(…, 3, H, W) sRGB -> (…, 1, H, W) L in [0, 100]; cheaper than the full conversion."""
    rgb = rgb.clamp(0.0, 1.0)
    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    y = (_XYZ_FROM_RGB[1].to(rgb.dtype).to(rgb.device).view(3, 1, 1) * linear).sum(-3, keepdim=True)
    return torch.where(y > 0.008856, 116.0 * y.clamp_min(1e-12) ** (1.0 / 3.0) - 16.0, 903.3 * y)


def l_ab_to_rgb(L: torch.Tensor, ab_scaled: torch.Tensor) -> torch.Tensor:
    """Join L in [0, 100] with model a/b in [-1, 1] and return sRGB in [0, 1]."""
    return lab_to_rgb(torch.cat([L, ab_scaled * AB_SCALE], dim=-3))


def from_int_images(rgb: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 or uint16 -> (B, 3, H, W) sRGB in [0, 1]: the inverse of `to_int_images`."""
    return torch.from_numpy(np.ascontiguousarray(rgb).astype(np.float32)).permute(0, 3, 1, 2) / np.iinfo(rgb.dtype).max


def to_int_images(rgb: torch.Tensor, dtype: type[np.unsignedinteger] = np.uint8) -> np.ndarray:
    """(B, 3, H, W) sRGB in [0, 1] -> (B, H, W, 3) uint8 (or uint16 for deep scans), rounded: how images are
    written and scored."""
    return (rgb.permute(0, 2, 3, 1).cpu().numpy() * float(np.iinfo(dtype).max) + 0.5).astype(dtype)
