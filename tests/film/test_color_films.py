"""Films already in colour (or only tinted): coloured again from their luma, or kept with --skip-color."""
from __future__ import annotations

import numpy as np
import pytest
from helpers.films import assert_same_timing, probe, psnr, write_film
from helpers.photos import landscape


def test_a_color_film_is_colored_again_from_its_luma_with_a_warning(clip, color, tmp_path):
    src = clip("colour.mp4", color=True)
    result, warnings = color(src.path, tmp_path / "new.mp4")
    assert result.frames == 12
    assert any("already in colour" in w for w in warnings)
    assert min(psnr(a, b) for a, b in zip(probe(src.path).lumas, probe(tmp_path / "new.mp4").lumas,
                                          strict=True)) >= 40


@pytest.mark.parametrize("tint", [(1.0, 0.8, 0.55), (0.55, 0.7, 1.0)])  # amber day, blue night
def test_a_tinted_silent_film_is_black_and_white_to_us(color, tmp_path, tint):
    src = tmp_path / "tinted.mp4"
    write_film(src, frames=6,
               picture=lambda i: (landscape(i, 48, 64).mean(axis=2, keepdims=True) * np.array(tint)).astype(np.uint8))
    _, warnings = color(src, tmp_path / "new.mp4")
    assert not any("already in colour" in w for w in warnings)


@pytest.mark.parametrize("name", ["kept.mov", "kept.webm"])  # .mov: copied as is; .webm: re-encoded
def test_skip_color_leaves_a_color_film_as_it_is(clip, color, tmp_path, name):
    src = clip("colour.mp4", color=True)
    result, warnings = color(src.path, tmp_path / name, model="no-such-model", skip_color=True)  # no model needed
    assert result.summary() == f"12 frames kept as they were (already in colour) -> {tmp_path / name}"
    before, after = probe(src.path), probe(tmp_path / name)
    assert_same_timing(src, tmp_path / name)
    assert min(psnr(a, b) for a, b in zip(before.chroma, after.chroma, strict=True)) >= 30
    assert any("keeping its colours" in w for w in warnings)


@pytest.mark.parametrize("grain", [0, 8])  # a scanned leader is black with film grain
def test_skip_color_keeps_a_color_film_that_opens_on_black(color, tmp_path, grain):
    """Colour is judged on frames that show something: a second of black leader does not make a film grey."""
    src, noise = tmp_path / "leader.mkv", np.random.default_rng(0).normal(20, grain + 1e-9, (25, 48, 64, 1))
    black = [np.clip(np.repeat(n, 3, axis=2), 0, 255).astype(np.uint8) for n in noise]
    write_film(src, frames=40, picture=lambda i: landscape(i, 48, 64) if i >= 25 else black[i])
    result, warnings = color(src, tmp_path / "kept.mkv", model="no-such-model", skip_color=True)
    assert result.summary() == f"40 frames kept as they were (already in colour) -> {tmp_path / 'kept.mkv'}"
    assert any("keeping its colours" in w for w in warnings)


def test_skip_color_still_colors_a_black_and_white_film(clip, color, tmp_path):
    src = clip("old.mp4")
    color(src.path, tmp_path / "new.mp4", skip_color=True)
    assert min(c.mean() for c in probe(tmp_path / "new.mp4").chroma) > 5
