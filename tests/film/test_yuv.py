"""The frame code under the film pipeline: the Y plane kept byte for byte, new chroma in the film's own matrix,
levels brought to limited range; and the colour test that tells a toned print from a colour picture."""
from __future__ import annotations

import av
import numpy as np
import pytest

from vidcolor.film.yuv import Colorimetry, assemble, format_bits, normalise, pixel_format, planes
from vidcolor.utils.in_color import looks_color


def frame_of(fmt: str, y: np.ndarray, chroma: int = 128, color_range: int = 1) -> av.VideoFrame:
    frame = av.VideoFrame(y.shape[1], y.shape[0], fmt)
    for n, view in enumerate(planes(frame)):
        view[...] = y if n == 0 else chroma
    frame.pts, frame.color_range = 7, color_range
    return frame


def test_odd_sizes_and_deep_films_get_the_formats_their_encoders_can_write():
    assert pixel_format(64, 48) == "yuv420p" and pixel_format(65, 48) == "yuv444p"
    assert pixel_format(64, 48, deep=True) == "yuv420p10le" and format_bits("yuv420p10le") == 10


def test_a_limited_range_film_at_its_own_size_is_used_as_it_is():
    frame = frame_of("yuv420p", np.full((48, 64), 100, np.uint8))
    assert normalise(frame, "yuv420p", 64, 48) is frame


def test_full_range_black_and_white_become_limited_range_black_and_white():
    y = np.zeros((48, 64), np.uint8)
    y[:, 32:] = 255
    out = normalise(frame_of("yuvj420p", y, color_range=2), "yuv420p", 64, 48)
    luma = planes(out)[0]
    assert luma[:, :16].max() <= 17 and luma[:, 48:].min() >= 234  # 16 and 235, give or take the scaler


def test_a_limited_range_grey_frame_keeps_its_levels_and_gets_neutral_chroma():
    y = np.arange(48 * 64, dtype=np.uint8).reshape(48, 64) % 220 + 16
    grey = av.VideoFrame.from_ndarray(y, format="gray")
    grey.color_range = 1
    out = normalise(grey, "yuv420p", 64, 48)
    assert (planes(out)[0] == y).all()
    assert (planes(out)[1] == 128).all() and (planes(out)[2] == 128).all()


@pytest.mark.parametrize("bits", [8, 10])
def test_grey_chroma_stays_grey_in_any_matrix_and_depth(bits):
    ab = np.zeros((2, 4, 4), np.float32)
    for height in (480, 1080):  # BT.601 and BT.709 by size
        colorimetry = Colorimetry.of(frame_of("yuv420p", np.full((height, 8), 100, np.uint8)))
        uv = colorimetry.chroma(np.full((4, 4), 50.0, np.float32), ab, bits)
        assert (uv == 128 << (bits - 8)).all()


def test_the_model_sees_black_as_l_0_and_white_as_l_100():
    L = Colorimetry(1, 0.2126, 0.0722).luma_to_l(np.array([[[16, 235]]], np.uint8))
    assert L.shape == (1, 1, 1, 2)
    assert abs(float(L[0, 0, 0, 0])) < 1e-3 and abs(float(L[0, 0, 0, 1]) - 100) < 1e-3


def test_a_new_frame_keeps_the_y_plane_byte_for_byte_and_the_timing_of_the_old():
    like = frame_of("yuv420p", np.full((48, 64), 50, np.uint8))
    y = np.random.default_rng(0).integers(16, 236, (48, 64), dtype=np.uint8)
    u = v = np.full((24, 32), 90, np.uint8)
    out = assemble(y, u, v, like, "yuv420p", Colorimetry(1, 0.2126, 0.0722))
    assert (planes(out)[0] == y).all() and (planes(out)[1] == 90).all()
    assert out.pts == like.pts and out.colorspace == 1


def test_a_toned_print_is_black_and_white_and_two_hues_at_once_are_color():
    luma = np.repeat(np.linspace(20, 230, 64)[None], 48, axis=0).astype(np.uint8)
    sepia = np.stack([luma.astype(np.int16) // 12, -(luma.astype(np.int16) // 20)], axis=-1)  # colour follows density
    assert not looks_color(luma, np.zeros((48, 64, 2), np.int16))
    assert not looks_color(luma, sepia)
    two = np.zeros((48, 64, 2), np.int16)
    two[:, ::2] = (30, -30)
    two[:, 1::2] = (-30, 30)  # red and green side by side at the same brightness
    assert looks_color(luma, two)
