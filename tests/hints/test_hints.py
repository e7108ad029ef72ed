"""The user's colours: hints files, keyframes, and hints carried through a film's shot."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.films import textured

from vidcolor.hints.file import check_hints_fit, color_ab, parse_hints, read_hints
from vidcolor.hints.keyframes import keyframe_points
from vidcolor.hints.track import carry
from vidcolor.utils.errors import UserError

RED = {"x": 10, "y": 20, "color": "#c02020"}


def _panned(scene: np.ndarray, frames: int, step: int, size: int = 96) -> list[np.ndarray]:
    """A camera panning right over `scene` by `step` pixels a frame: the picture moves left."""
    return [np.ascontiguousarray(scene[:size, i * step:i * step + size]) for i in range(frames)]


def test_a_click_follows_the_picture_through_its_shot_and_never_crosses_the_cut():
    shot = _panned(textured(200, 96, seed=1), frames=10, step=3)
    after_cut = _panned(textured(200, 96, seed=2), frames=6, step=3)
    seed = np.array([[60.0, 40.0, 0.5, 0.3, 0.0]], np.float32)
    points, read = carry(shot + after_cut, {4: seed}, scale=1.0)
    for frame in range(10):  # forwards and backwards: the spot moves 3 px left a frame
        assert frame in points and np.allclose(points[frame][0, :2], [60 - 3 * (frame - 4), 40], atol=1.0), frame
        assert np.allclose(points[frame][0, 2:], seed[0, 2:])  # the colour travels unchanged
    assert not any(frame in points for frame in range(10, 16))
    assert read == 11  # nothing left to carry: the film is read no further than the cut


def test_a_point_that_leaves_the_picture_is_dropped():
    frames = _panned(textured(200, 96, seed=3), frames=8, step=4)
    points, _ = carry(frames, {0: np.array([[6.0, 40.0, 0.5, 0.3, 0.0]], np.float32)}, scale=1.0)
    assert 1 in points and 3 not in points  # 6 px from the left edge, moving 4 px a frame out of it


def test_a_frames_own_hint_wins_over_one_carried_to_it():
    frames = _panned(textured(200, 96, seed=4), frames=4, step=0)
    own = np.array([[50.0, 50.0, -0.4, 0.0, 0.0]], np.float32)
    carried = np.array([[50.0, 50.0, 0.4, 0.0, 0.0]], np.float32)
    points, _ = carry(frames, {0: carried, 2: own}, scale=1.0)
    assert points[2][-1, 2] == pytest.approx(-0.4)  # drawn last, so it is what the model sees there


def test_more_clicks_than_opencv_maps_have_rows_are_all_carried():
    """A hints file of 32,767 points or more (OpenCV's maps take fewer rows) was a traceback on a film."""
    frames = _panned(textured(200, 96, seed=5), frames=3, step=2)
    rng = np.random.default_rng(0)
    many = np.column_stack([rng.uniform(20, 76, (40_000, 2)), np.zeros((40_000, 3))]).astype(np.float32)
    points, _ = carry(frames, {0: many}, scale=1.0)
    assert len(points[2]) > 30_000 and np.median(points[2][:, 0]) - np.median(many[:, 0]) == pytest.approx(-4, abs=1)


def test_a_hand_colored_keyframe_becomes_dense_points_of_its_colors():
    painted = np.zeros((48, 96, 3), np.uint8)
    painted[:, :48] = (200, 30, 30)
    painted[:, 48:] = (30, 30, 200)
    points = keyframe_points(painted)
    left, right = points[points[:, 0] < 40], points[points[:, 0] > 56]
    assert len(points) >= 64 and (left[:, 2] > 0.3).all() and (right[:, 3] < -0.3).all()  # red: +a, blue: -b
    assert (points[:, 4] > 0).all()  # each covers its cell


def test_a_hint_color_is_its_chroma_and_grey_means_no_color():
    assert color_ab("#808080") == pytest.approx((0.0, 0.0), abs=1e-3)
    assert color_ab("#f00") == pytest.approx(color_ab("ff0000"))
    assert color_ab("#c02020")[0] > 0.4


def test_a_file_of_many_clicks_gives_each_its_own_color():
    """The colours of a file are converted together (one at a time, 200,000 clicks took three minutes)."""
    colors = ["#c02020", "#2040C0", "#808080", "#c02020", "#ff0", "1a7f3c"]
    hints = parse_hints([{"x": i, "y": 0, "color": c} for i, c in enumerate(colors)], "clicks.json")
    assert [(h.x, h.a, h.b) for h in hints] == pytest.approx([(i, *color_ab(c)) for i, c in enumerate(colors)],
                                                             abs=1e-6)  # torch's vector arithmetic: last digits


def test_a_script_may_give_its_clicks_as_numpy_numbers():
    """They were refused as "x np.int64(1) is not a number"."""
    hint, = parse_hints([{"x": np.int64(3), "y": np.float32(2.5), "color": "#f00", "frame": np.int64(4)}], "hints")
    assert (hint.x, hint.y, hint.frame) == (3.0, 2.5, 4) and type(hint.frame) is int


@pytest.mark.parametrize(("entries", "message"), [
    ({"x": 1}, "a hints file is a JSON list"),
    ([RED, {"x": 1, "y": 2}], "entry 1: has no color"),
    ([{**RED, "color": "red"}], "entry 0: color 'red' is not an sRGB hex colour"),
    ([{**RED, "x": "ten"}], "entry 0: x 'ten' is not a number"),
    ([{**RED, "frame": -1}], "entry 0: frame -1 is not a frame number"),
    ([{**RED, "x": 10 ** 400}], "entry 0: x 10000000000000000000… is not a number"),  # not its start, as if whole
    ([{**RED, "frame": 10 ** 400}], "entry 0: frame 10000000000000000000… is not a frame number"),  # not 400 digits
    ([{**RED, "frame": 2, "time": 1.0}], "entry 0: gives both frame and time"),
    ([{**RED, "colour": "#fff"}], "entry 0: has an unknown key 'colour'"),
])
def test_a_malformed_hint_is_one_line_naming_its_entry(entries, message):
    with pytest.raises(UserError, match=message):
        parse_hints(entries, "hints.json")


def test_a_hints_file_saved_by_notepad_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "hints.json"
    path.write_text('[{"x": 10, "y": 20, "color": "#c02020"}]', encoding="utf-8-sig")
    assert len(read_hints(path)) == 1


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs a device that never ends")
def test_a_hints_file_that_never_ends_is_refused_without_reading_it_all():
    with pytest.raises(UserError, match="more than 20 MB is not a hints file"):
        read_hints(Path("/dev/zero"))  # no size to check beforehand, and no end


def test_a_hint_outside_the_picture_or_a_photo_hint_with_a_frame_is_refused():
    with pytest.raises(UserError, match=r"entry 0: \(10, 20\) is outside the picture \(8 x 8 pixels\)"):
        check_hints_fit(parse_hints([RED], "h.json"), 8, 8, "h.json")
    for when in ({"frame": 3}, {"frame": 0}, {"time": 0}):  # the film's first frame is a frame too
        with pytest.raises(UserError, match="entry 0: a photo has no frames or times"):
            check_hints_fit(parse_hints([{**RED, **when}], "h.json"), 64, 64, "h.json")


def test_a_click_on_a_flat_sky_stays_with_its_shot_rather_than_being_lost():
    scene = textured(200, 96, seed=6)
    scene[:40] = 200  # a clear sky over a textured town
    points, _ = carry(_panned(scene, frames=8, step=2), {0: np.array([[48.0, 10.0, 0.1, -0.4, 0.0]], np.float32)},
                      scale=1.0)
    assert all(frame in points for frame in range(8))


def test_a_click_on_the_ground_is_not_dragged_along_by_a_thing_passing_in_front_of_it():
    ground, passer = textured(96, 96, seed=9), textured(40, 40, seed=10)
    frames = []
    for i in range(30):  # the passer enters from the left, 4 px a frame, and crosses the click at frames 15-25
        frame, left = ground.copy(), 4 * i - 40
        frame[30:70, max(0, left):min(96, left + 40)] = passer[:, max(0, -left):min(40, 96 - left)]
        frames.append(frame)
    points, _ = carry(frames, {0: np.array([[60.0, 50.0, 0.1, -0.4, 0.0]], np.float32)}, scale=1.0)
    assert all(frame in points for frame in range(9))  # the ground, seen, keeps its colour
    assert all(np.allclose(p[0, :2], [60, 50], atol=2) for p in points.values())  # never moved with the passer


def test_a_click_on_grainy_low_contrast_film_stays_with_its_shot():
    scene = (textured(260, 96, seed=11).astype(np.float32) - 128) * 0.3 + 128  # foggy: little contrast
    grain = np.random.default_rng(0).normal(0, 6, (16, 96, 96))  # fresh on every frame, as film grain is
    frames = [np.clip(f + g, 0, 255).astype(np.uint8) for f, g in zip(_panned(scene, frames=16, step=5), grain)]
    points, _ = carry(frames, {0: np.array([[80.0, 48.0, 0.1, -0.4, 0.0]], np.float32)}, scale=1.0)
    assert all(frame in points and np.allclose(points[frame][0, :2], [80 - 5 * frame, 48], atol=2)
               for frame in range(10))  # the grain does not change its look (the flow drifts a little in it)


def test_a_click_stays_with_its_shot_through_a_fade():
    scene = textured(200, 96, seed=8).astype(np.float32)
    fading_in = [np.clip(frame * (0.5 + 0.1 * i), 0, 255).astype(np.uint8)  # brighter by a tenth each frame
                 for i, frame in enumerate(_panned(scene, frames=8, step=2))]
    points, _ = carry(fading_in, {0: np.array([[48.0, 40.0, 0.1, -0.4, 0.0]], np.float32)}, scale=1.0)
    assert all(frame in points and np.allclose(points[frame][0, :2], [48 - 2 * frame, 40], atol=1.0)
               for frame in range(8))


def test_a_click_lands_on_its_own_pixel_at_the_working_size_whatever_the_aspect():
    from vidcolor.runtime.hints import hint_planes

    points = np.array([[10.0, 20.0, 0.5, -0.5, 0.0], [11.0, 20.0, -0.2, 0.1, 0.0]], np.float32)
    planes = hint_planes(points, 40, 30, sx=0.5, sy=0.25).numpy()  # (10.0, 20.0) -> pixel (5, 5)
    rows, cols = np.nonzero(planes[2])
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (4, 6, 4, 6)  # the 3 x 3 square centred there
    assert planes[0, 5, 5] == pytest.approx(-0.2)  # the later click at the same spot wins


def test_a_click_on_something_moving_stays_on_it_to_the_end_of_a_long_shot():
    """The flow runs a little slow on a moving thing: over 60 frames that once added up to losing the click."""
    ground, mover = textured(200, 96, seed=12), textured(40, 40, seed=13)
    frames = []
    for i in range(60):  # a textured box crossing a textured ground, 2 px a frame
        frame = ground.copy()
        frame[30:70, 4 + 2 * i:44 + 2 * i] = mover
        frames.append(frame)
    points, _ = carry(frames, {0: np.array([[24.0, 50.0, 0.1, -0.4, 0.0]], np.float32)}, scale=1.0)
    assert all(frame in points and np.allclose(points[frame][0, :2], [24 + 2 * frame, 50], atol=1.5)
               for frame in range(60))
