"""Telling a film its colours: a click is carried through its shot, a hand-coloured keyframe too, and
mistakes are one line before anything is written."""
from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers.films import make_clip, textured, write_shots
from helpers.models import write_tiny_hint_model

from vidcolor.cli import main
from vidcolor.runtime.color import from_int_images, lab_to_rgb, rgb_to_lab, to_int_images

SIZE = 90  # not a multiple of 32: a decoded frame's rows are padded in memory


@pytest.fixture(scope="module")
def hint_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_hint_model(tmp_path_factory.mktemp("hint_model") / "hints.safetensors")


def _pan(seed: int, frames: int, bright_sky: bool = False) -> list[np.ndarray]:
    """A camera panning right 2 px a frame over a textured scene (the picture moves left)."""
    scene = textured(SIZE + 2 * frames, SIZE, seed)
    if bright_sky:
        scene[: SIZE // 2] = 235
    return [np.ascontiguousarray(scene[:, 2 * i:2 * i + SIZE]) for i in range(frames)]


@pytest.fixture
def two_shots(tmp_path: Path) -> Path:
    """12 frames of one shot, then a cut to 8 frames of another (a different scene, under a bright sky)."""
    return write_shots(tmp_path / "two_shots.mkv", [_pan(1, 12), _pan(2, 8, bright_sky=True)])


def _color(film: Path, out: Path, model: Path, *options: str) -> list[np.ndarray]:
    result = CliRunner().invoke(main, ["run", str(film), "-o", str(out), "--model", str(model), "--codec", "ffv1",
                                       "--temporal", "none", "--quiet", *options])
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as container:
        return [f.to_ndarray(format="yuv444p")[1:].astype(int) for f in container.decode(video=0)]


def _spot(chroma: np.ndarray, x: float, y: float) -> np.ndarray:
    return chroma[:, int(y) - 4:int(y) + 5, int(x) - 4:int(x) + 5]


def test_a_click_on_the_last_frame_of_a_shot_colors_that_spot_back_to_the_shots_start_and_not_past_the_cut(
        two_shots, hint_model, tmp_path):
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps([{"x": 30, "y": 48, "color": "#d02020", "frame": 11}]))
    told = _color(two_shots, tmp_path / "told.mkv", hint_model, "--hints", str(hints))
    plain = _color(two_shots, tmp_path / "plain.mkv", hint_model)
    for frame in range(12):  # the spot was 2 px further right on each earlier frame
        x = 30 + 2 * (11 - frame)
        assert np.abs(_spot(told[frame], x, 48) - _spot(plain[frame], x, 48)).mean() > 2, frame
    for frame in range(12, 20):
        assert np.array_equal(told[frame], plain[frame]), frame


def test_a_hint_at_a_time_belongs_to_the_frame_shown_then(two_shots, hint_model, tmp_path):
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps([{"x": 70, "y": 48, "color": "#2040d0", "time": 0.25}]))  # 24 fps: frame 6
    told = _color(two_shots, tmp_path / "told.mkv", hint_model, "--hints", str(hints))
    plain = _color(two_shots, tmp_path / "plain.mkv", hint_model)
    assert np.abs(_spot(told[6], 70, 48) - _spot(plain[6], 70, 48)).mean() > 2
    assert np.array_equal(told[15], plain[15])


def test_a_hint_timed_within_the_last_frame_belongs_to_that_frame(two_shots, hint_model, tmp_path):
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps([{"x": 70, "y": 48, "color": "#2040d0", "time": 0.82}]))  # 24 fps: frame 19 of 20
    told = _color(two_shots, tmp_path / "told.mkv", hint_model, "--hints", str(hints))
    plain = _color(two_shots, tmp_path / "plain.mkv", hint_model)
    assert np.abs(_spot(told[19], 70, 48) - _spot(plain[19], 70, 48)).mean() > 2


def test_a_hint_at_a_time_belongs_to_the_frame_shown_then_in_a_film_whose_frame_rate_varies(hint_model, tmp_path):
    times = [0.25 * i for i in range(6)] + [1.5 + i / 24 for i in range(12)]  # 4 fps, a cut, then 24 fps: 2 s
    film = write_shots(tmp_path / "phone.mkv", [_pan(1, 6), _pan(2, 12, bright_sky=True)], times=times)
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps([{"x": 70, "y": 48, "color": "#2040d0", "time": 1.1}]))  # frame 4 (9 frames a second
    told = _color(film, tmp_path / "told.mkv", hint_model, "--hints", str(hints))  # on average: not frame 9)
    plain = _color(film, tmp_path / "plain.mkv", hint_model)
    assert np.abs(_spot(told[4], 70, 48) - _spot(plain[4], 70, 48)).mean() > 2
    assert all(np.array_equal(told[frame], plain[frame]) for frame in range(6, 18))
    hints.write_text(json.dumps([{"x": 70, "y": 48, "color": "#2040d0", "time": 2.2}]))
    late = CliRunner().invoke(main, ["run", str(film), "-o", str(tmp_path / "late.mkv"), "--model", str(hint_model),
                                     "--hints", str(hints)])
    assert late.exit_code == 1 and "entry 0: time 2.2 s is past the film's end (1.999 s)" in late.stderr  # Matroska: ms


def test_a_hint_at_a_time_in_recordings_joined_end_to_end_is_taken(hint_model, tmp_path):
    """Two TS recordings cat together both start at 0 s: their timestamps repeat, and the frame rate tells."""
    for name in ("a.ts", "b.ts"):
        make_clip(tmp_path / name, frames=24, fps=24, audio=())
    (tmp_path / "joined.ts").write_bytes((tmp_path / "a.ts").read_bytes() + (tmp_path / "b.ts").read_bytes())
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps([{"x": 30, "y": 20, "color": "#2040d0", "time": 1.5}]))  # in the second recording
    result = CliRunner().invoke(main, ["run", str(tmp_path / "joined.ts"), "-o", str(tmp_path / "told.mkv"), "--model",
                                       str(hint_model), "--hints", str(hints), "--quiet"])
    assert result.exit_code == 0, result.output


def test_a_click_on_a_phone_film_lands_where_the_player_shows_it(hint_model, tmp_path):
    stored = [np.ascontiguousarray(frame[:60]) for frame in _pan(3, 4)]  # 90 wide, 60 high, stored sideways
    film = write_shots(tmp_path / "phone.mkv", [stored], rotation=90)  # a player shows it 60 wide, 90 high
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps([{"x": 15, "y": 70, "color": "#d02020"}]))  # a spot low on the left, upright
    told = _color(film, tmp_path / "told.mkv", hint_model, "--hints", str(hints))
    plain = _color(film, tmp_path / "plain.mkv", hint_model)
    changed = np.abs(told[0] - plain[0]).sum(axis=0)  # stored: the upright (15, 70) is (90 - 1 - 70, 15)
    # where it was clicked the colour moves by tens of levels; elsewhere by 8-bit rounding at most (0-2 levels where
    # the model runs in bf16), where a click put down unrotated would move it by tens there too
    assert _spot(changed[None], 19, 15).mean() > 10 and _spot(changed[None], 70, 15).mean() < 2


def test_a_hand_colored_keyframe_colors_its_shot(two_shots, hint_model, tmp_path):
    painted = np.zeros((SIZE, SIZE, 3), np.uint8)
    painted[:] = (40, 160, 60)
    cv2.imwrite(str(tmp_path / "frame3.png"), painted)
    told = _color(two_shots, tmp_path / "told.mkv", hint_model, "--keyframe", f"3:{tmp_path / 'frame3.png'}")
    plain = _color(two_shots, tmp_path / "plain.mkv", hint_model)
    assert np.abs(told[5] - plain[5]).mean() > 2 and np.array_equal(told[14], plain[14])


def test_a_keyframe_comes_out_as_painted_on_its_frame_small_patches_too(two_shots, hint_model, tmp_path):
    """The model pools what it is told: among a keyframe's thousands of cells, a small patch was averaged away."""
    with av.open(str(two_shots)) as container:
        grey = next(f for i, f in enumerate(container.decode(video=0)) if i == 3).to_ndarray(format="rgb24")
    lab = rgb_to_lab(from_int_images(grey[None]))
    for (y, x), ab in {(20, 20): (40.0, -60.0), (60, 55): (55.0, 35.0)}.items():  # blue and red, 14 px a side
        lab[0, 1:, y - 7:y + 7, x - 7:x + 7] = torch.tensor(ab)[:, None, None]
    painted = to_int_images(lab_to_rgb(lab))[0]
    cv2.imwrite(str(tmp_path / "frame3.png"), painted[..., ::-1])
    result = CliRunner().invoke(main, ["run", str(two_shots), "-o", str(tmp_path / "told.mkv"), "--model",
                                       str(hint_model), "--codec", "ffv1", "--temporal", "none", "--quiet",
                                       "--keyframe", f"3:{tmp_path / 'frame3.png'}"])
    assert result.exit_code == 0, result.output
    with av.open(str(tmp_path / "told.mkv")) as container:
        told = next(f for i, f in enumerate(container.decode(video=0)) if i == 3).to_ndarray(format="rgb24")
    for y, x in ((20, 20), (60, 55)):  # RGB levels: 3.9 and 7.2 (58.9 and 22.9 when the model pooled them)
        assert np.abs(told[y - 2:y + 3, x - 2:x + 3].astype(int) - painted[y - 2:y + 3, x - 2:x + 3]).mean() < 10


def test_two_keyframes_of_one_shot_each_rule_their_own_side_of_it(two_shots, hint_model, tmp_path):
    for frame, bgr in ((2, (200, 120, 40)), (9, (40, 160, 60))):  # blue on frame 2, green on frame 9
        cv2.imwrite(str(tmp_path / f"frame{frame}.png"), np.full((SIZE, SIZE, 3), bgr, np.uint8))
    both = _color(two_shots, tmp_path / "both.mkv", hint_model, "--keyframe", f"2:{tmp_path / 'frame2.png'}",
                  "--keyframe", f"9:{tmp_path / 'frame9.png'}")
    alone = {frame: _color(two_shots, tmp_path / f"{frame}.mkv", hint_model, "--keyframe",
                           f"{frame}:{tmp_path / f'frame{frame}.png'}") for frame in (2, 9)}
    for frame, ruled_by in ((0, 2), (1, 2), (2, 2), (9, 9), (10, 9), (11, 9)):  # the nearer keyframe's painting (in
        assert np.abs(both[frame] - alone[ruled_by][frame]).mean() < 1, frame  # between, the pan brings in what only
        # the farther one painted)


def test_a_keyframe_left_grey_is_said_to_make_its_shot_black_and_white(two_shots, hint_model, tmp_path):
    """A painted keyframe is the film's frame, painted: one saved before painting tells the shot 'grey'."""
    cv2.imwrite(str(tmp_path / "frame3.png"), np.full((SIZE, SIZE, 3), 120, np.uint8))
    result = CliRunner().invoke(main, ["run", str(two_shots), "-o", str(tmp_path / "told.mkv"), "--model",
                                       str(hint_model), "--quiet", "--keyframe", f"3:{tmp_path / 'frame3.png'}"])
    assert result.exit_code == 0, result.output
    assert "frame3.png: the keyframe holds no colour, so the shot it is in comes out black and white" in result.stderr


@pytest.mark.parametrize("frame", [3, 8])  # the keyframe's own frame, and another of its shot it is carried to
def test_a_click_on_a_hand_colored_keyframe_wins_over_the_painting_where_it_is(two_shots, hint_model, tmp_path,
                                                                               frame):
    painted = np.zeros((SIZE, SIZE, 3), np.uint8)
    painted[:] = (200, 120, 40)  # BGR: all blue
    cv2.imwrite(str(tmp_path / "frame3.png"), painted)
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps([{"x": 30, "y": 48, "color": "#d02020", "frame": frame}]))
    keyframe = ("--keyframe", f"3:{tmp_path / 'frame3.png'}")
    both = _color(two_shots, tmp_path / "both.mkv", hint_model, "--hints", str(hints), *keyframe)
    click = _color(two_shots, tmp_path / "click.mkv", hint_model, "--hints", str(hints))
    painting = _color(two_shots, tmp_path / "painting.mkv", hint_model, *keyframe)
    at_click = [_spot(film[frame], 30, 48).mean(axis=(1, 2)) for film in (both, click, painting)]
    assert np.abs(at_click[0] - at_click[1]).max() < np.abs(at_click[2] - at_click[1]).max() / 4
    far = [_spot(film[frame], 70, 20) for film in (both, painting)]
    assert np.abs(far[0] - far[1]).mean() < 2  # away from the click the painting holds


@pytest.mark.parametrize(("hints", "keyframe", "message"), [
    ([{"x": 10, "y": 10, "color": "#d02020", "frame": 40}], None,
     "entry 0: frame 40 is past the film's end (20 frames)"),
    ([{"x": 100, "y": 10, "color": "#d02020"}], None, "entry 0: (100, 10) is outside the picture (90 x 90"),
    (None, (64, 64), "the keyframe is 64 x 64 pixels, the film's frames 90 x 90"),
    (None, (SIZE, SIZE, 30), "frame 30 is past the film's end (20 frames)"),
])
def test_a_hint_or_keyframe_that_does_not_fit_the_film_is_one_line_and_nothing_is_written(
        two_shots, hint_model, tmp_path, hints, keyframe, message):
    options = []
    if hints is not None:
        (tmp_path / "hints.json").write_text(json.dumps(hints))
        options += ["--hints", str(tmp_path / "hints.json")]
    if keyframe is not None:
        cv2.imwrite(str(tmp_path / "key.png"), np.full((*keyframe[:2], 3), 90, np.uint8))
        options += ["--keyframe", f"{keyframe[2] if len(keyframe) > 2 else 0}:{tmp_path / 'key.png'}"]
    out = tmp_path / "out.mkv"
    result = CliRunner().invoke(main, ["run", str(two_shots), "-o", str(out), "--model", str(hint_model), *options])
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr, result.stderr
    assert not out.exists()


def test_hints_given_to_a_model_that_takes_none_are_refused_before_any_work(two_shots, model_file, tmp_path):
    (tmp_path / "hints.json").write_text(json.dumps([{"x": 10, "y": 10, "color": "#d02020"}]))
    result = CliRunner().invoke(main, ["run", str(two_shots), "-o", str(tmp_path / "out.mkv"), "--model",
                                       str(model_file), "--hints", str(tmp_path / "hints.json")])
    assert result.exit_code == 1 and "this model takes no hints" in result.stderr


@pytest.mark.parametrize(("where", "option", "message"), [
    ("film", ["--split", "2"], "colour a film whole, in one process: leave out --split and --ray"),
    ("folder", [], "in a folder, put each file's hints in FILE.hints.json beside it"),
])
def test_hints_that_cannot_be_followed_this_way_say_what_to_do_instead(two_shots, hint_model, tmp_path, where,
                                                                       option, message):
    (tmp_path / "hints.json").write_text(json.dumps([{"x": 10, "y": 10, "color": "#d02020"}]))
    src = two_shots if where == "film" else two_shots.parent
    result = CliRunner().invoke(main, ["run", str(src), "-o", str(tmp_path / "out"), "--model", str(hint_model),
                                       "--hints", str(tmp_path / "hints.json"), *option])
    assert result.exit_code == 1 and message in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()
