"""Colour science must agree with scikit-image, since 'luma kept' is judged in its Lab."""
import warnings

import numpy as np
import pytest
import torch
from skimage import color, data

from vidcolor.runtime.color import lab_to_rgb, lab_to_rgb_unclipped, rgb_to_l, rgb_to_lab


def _chw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img).permute(2, 0, 1)


@pytest.mark.parametrize("image", [data.astronaut()[:97, :131] / 255.0,
                                   np.random.default_rng(0).random((40, 50, 3))])
def test_rgb_to_lab_matches_skimage(image):
    ours = rgb_to_lab(_chw(image)).permute(1, 2, 0).numpy()
    assert np.abs(ours - color.rgb2lab(image)).max() < 1e-3
    assert np.abs(rgb_to_l(_chw(image))[0].numpy() - color.rgb2lab(image)[..., 0]).max() < 1e-3


def test_lab_to_rgb_matches_skimage_including_out_of_gamut_colors():
    rng = np.random.default_rng(1)
    lab = np.stack([rng.uniform(0, 100, (30, 30)), rng.uniform(-110, 110, (30, 30)),
                    rng.uniform(-110, 110, (30, 30))], axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = color.lab2rgb(lab)
    assert np.abs(lab_to_rgb(_chw(lab)).permute(1, 2, 0).numpy() - expected).max() < 1e-3


def test_batched_float32_round_trip_keeps_colors():
    rgb = torch.rand(4, 3, 16, 16)
    assert (lab_to_rgb(rgb_to_lab(rgb)) - rgb).abs().max() < 1e-3


def test_unclipped_rgb_is_the_clipped_one_where_srgb_can_show_the_color_and_runs_on_past_it():
    inside = rgb_to_lab(torch.rand(2, 3, 8, 8) * 0.8 + 0.1)
    assert (lab_to_rgb_unclipped(inside) - lab_to_rgb(inside)).abs().max() < 1e-5
    vivid = torch.tensor([60.0, 100.0, 0.0]).view(3, 1, 1)  # a magenta past sRGB's gamut
    unclipped = lab_to_rgb_unclipped(vivid).flatten()
    assert unclipped.max() > 1 or unclipped.min() < 0
    assert torch.allclose(unclipped.clamp(0, 1), lab_to_rgb(vivid).flatten(), atol=1e-5)
