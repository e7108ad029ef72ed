"""Image quality metrics used by training validation and the benchmarks."""
from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity


def psnr(pred: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB of two uint8 (or [0, 255] float) images."""
    mse = np.mean((pred.astype(np.float64) - truth.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def ssim(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean SSIM over RGB channels of two uint8 images."""
    return float(structural_similarity(pred, truth, channel_axis=-1, data_range=255))


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) colourfulness of an RGB uint8 image: 0 for grey, ~40+ for vivid photos."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
