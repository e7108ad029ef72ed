"""Each metric against a case small enough to work out by hand."""
import math

import numpy as np
import pytest

from vidcolor.evaluation.metrics import cdc, colorfulness, psnr, ssim, warping_error


def test_psnr_of_a_uniform_error_of_one_grey_level():
    a = np.full((8, 8, 3), 100, np.uint8)
    assert psnr(a + 1, a) == pytest.approx(10 * math.log10(255 ** 2))
    assert psnr(a, a) == math.inf


def test_ssim_is_one_for_identical_images_and_lower_for_noise():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(np.clip(a + rng.normal(0, 40, a.shape), 0, 255).astype(np.uint8), a) < 0.9


def test_colorfulness_by_hand():
    grey = np.full((4, 4, 3), 128, np.uint8)
    assert colorfulness(grey) == 0.0
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 200
    # rg = 200 and yb = 100 everywhere: no spread, so 0.3 * hypot(200, 100)
    assert colorfulness(red) == pytest.approx(0.3 * math.hypot(200, 100))


def test_cdc_is_zero_for_a_steady_film_and_ln2_for_disjoint_colors():
    steady = [np.full((4, 4, 3), 50, np.uint8)] * 6
    assert cdc(steady) == 0.0
    flicker = [np.full((4, 4, 3), 50 if t % 2 else 200, np.uint8) for t in range(9)]
    # gap 1 always compares disjoint colours (JS = ln 2); gaps 2 and 4 compare equal frames (0)
    assert cdc(flicker) == pytest.approx(math.log(2) / 3)


def test_warping_error_sees_color_flicker_but_not_motion():
    rng = np.random.default_rng(1)
    texture = (rng.random((72, 96)) * 255).astype(np.uint8)
    import cv2
    texture = cv2.GaussianBlur(texture, (0, 0), 2)
    inputs = [np.roll(texture, 2 * t, axis=1) for t in range(4)]
    steady = [np.stack([f, f // 2, f // 3], -1) for f in inputs]
    assert warping_error(steady, inputs) < 1e-3
    flicker = [np.clip(s.astype(int) + (40 if t % 2 else 0), 0, 255).astype(np.uint8) for t, s in enumerate(steady)]
    assert warping_error(flicker, inputs) > 0.01
