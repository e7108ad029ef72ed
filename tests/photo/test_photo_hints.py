"""Telling a photo its colours: a click colours the place it is given, a reference photo steers the palette,
and mistakes are one line before anything is written."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers.films import textured
from helpers.models import write_tiny_hint_model

from vidcolor import colorize_photo
from vidcolor.cli import main
from vidcolor.runtime.archs import HINT_PREFIX, build_model
from vidcolor.runtime.hints import Told
from vidcolor.runtime.inference import Colorizer
from vidcolor.runtime.weights import load_model
from vidcolor.utils.errors import UserError


@pytest.fixture(scope="module")
def hint_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_hint_model(tmp_path_factory.mktemp("hint_model") / "hints.safetensors")


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    cv2.imwrite(str(tmp_path / "photo.png"), textured(128, 96, seed=5))
    return tmp_path / "photo.png"


def _bgr(path: Path) -> np.ndarray:
    return cv2.imread(str(path)).astype(int)


def test_a_click_colors_the_photo_where_it_is_given(photo, hint_model, tmp_path):
    plain, told = tmp_path / "plain.png", tmp_path / "told.png"
    colorize_photo(photo, plain, model=str(hint_model))
    colorize_photo(photo, told, model=str(hint_model), hints=[{"x": 100, "y": 20, "color": "#d02020"}])
    change = np.abs(_bgr(told) - _bgr(plain))
    assert change[14:27, 94:107].mean() > 3 * change[60:, :40].mean()


def test_a_reference_photo_changes_the_colors_and_a_grey_one_is_refused(photo, hint_model, tmp_path):
    reference = tmp_path / "reference.png"
    cv2.imwrite(str(reference), np.dstack([np.full((32, 32), v, np.uint8) for v in (30, 60, 200)]))
    colorize_photo(photo, tmp_path / "plain.png", model=str(hint_model))
    result = CliRunner().invoke(main, ["run", str(photo), "-o", str(tmp_path / "told.png"), "--model",
                                       str(hint_model), "--reference", str(reference)])
    assert result.exit_code == 0, result.output
    assert not np.array_equal(_bgr(tmp_path / "told.png"), _bgr(tmp_path / "plain.png"))  # it reached the model
    refused = CliRunner().invoke(main, ["run", str(photo), "-o", str(tmp_path / "grey.png"), "--model",
                                        str(hint_model), "--reference", str(photo)])
    assert refused.exit_code == 1 and "has no colours to take as a reference" in refused.stderr


@pytest.mark.parametrize("option", ["--reference", "--hints"])
def test_the_reference_photo_or_hints_file_given_is_never_the_output_even_with_overwrite(photo, hint_model, tmp_path,
                                                                                       option):
    told = tmp_path / "told.png"  # a hints file of any name is read as JSON
    if option == "--reference":
        cv2.imwrite(str(told), np.dstack([np.full((32, 32), v, np.uint8) for v in (30, 60, 200)]))
    else:
        told.write_text('[{"x": 100, "y": 20, "color": "#d02020"}]')
    before = told.read_bytes()
    result = CliRunner().invoke(main, ["run", str(photo), "-o", str(told), "--model", str(hint_model), option,
                                       str(told), "--overwrite"])
    what = "reference photo" if option == "--reference" else "hints file"
    assert result.exit_code == 1 and result.stderr == f"vidcolor: {told}: output would overwrite the {what}\n"
    assert told.read_bytes() == before


@pytest.mark.parametrize(("content", "message"), [
    ('[{"x": 300, "y": 10, "color": "#d02020"}]', "hints.json: entry 0: (300, 10) is outside the picture (128 x 96"),
    ('[{"x": 3, "y": 10, "color": "#d02020"', "hints.json: not valid JSON (line 1, column 38"),
    ('[{"x": 3, "y": 10, "color": "#d02020", "frame": 2}]', "hints.json: entry 0: a photo has no frames or times"),
])
def test_a_hints_file_that_does_not_fit_the_photo_is_one_line_and_nothing_is_written(photo, hint_model, tmp_path,
                                                                                      content, message):
    (tmp_path / "hints.json").write_text(content)
    out = tmp_path / "out.png"
    result = CliRunner().invoke(main, ["run", str(photo), "-o", str(out), "--model", str(hint_model), "--hints",
                                       str(tmp_path / "hints.json")])
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr and not out.exists()


def test_a_hint_off_the_photo_or_a_damaged_photo_is_said_before_the_model_is_loaded(photo, tmp_path):
    loads = []
    (tmp_path / "damaged.png").write_bytes(photo.read_bytes()[:200])
    for src, hints, message in [(photo, [{"x": 300, "y": 10, "color": "#d02020"}], "is outside the picture"),
                                (tmp_path / "damaged.png", None, "damaged.png")]:
        with pytest.raises(UserError, match=message):
            colorize_photo(src, tmp_path / "out.png", model=lambda: loads.append(1), hints=hints)
    assert not loads and not (tmp_path / "out.png").exists()  # loading a model may take a minute: not for this


def test_a_keyframe_is_for_films_and_a_malformed_one_is_a_usage_mistake(photo, hint_model, tmp_path):
    out = str(tmp_path / "out.png")
    refused = CliRunner().invoke(main, ["run", str(photo), "-o", out, "--keyframe", f"0:{photo}"])
    malformed = CliRunner().invoke(main, ["run", str(photo), "-o", out, "--keyframe", "first:painted.png"])
    assert refused.exit_code == 1 and "--keyframe is for films" in refused.stderr
    assert malformed.exit_code == 2 and "is not N:PICTURE" in malformed.stderr
    past_any_film = CliRunner().invoke(main, ["run", str(photo), "-o", out, "--keyframe", f"{'9' * 400}:{photo}"])
    assert past_any_film.exit_code == 2 and "'9999999999999999999… is not N:PICTURE" in past_any_film.stderr


def test_a_hint_model_told_nothing_colors_exactly_as_the_automatic_model_it_grew_from(hint_model):
    told_model, meta = load_model(str(hint_model))
    automatic = build_model("fusion", width=8).eval()
    state = {k: v for k, v in told_model.state_dict().items() if not k.startswith(HINT_PREFIX)}
    automatic.load_state_dict(state)
    L = torch.rand(1, 1, 72, 100) * 100
    with torch.no_grad():
        assert torch.equal(told_model(L), automatic(L))  # the hint branch is not even run


def test_turning_up_the_saturation_livens_the_models_colors_but_not_the_color_the_user_clicked(hint_model):
    model, meta = load_model(str(hint_model))
    with torch.no_grad():
        model.hint_out.bias[2] = 30.0  # the gate open: the clicked colour, carried by likeness, everywhere
    L = torch.rand(1, 1, 64, 96) * 100
    click = Told(points=np.array([[40.0, 30.0, 0.5, -0.3, 0.0]], np.float32))
    told, own = {}, {}
    for saturation in (1.0, 2.0):
        colorizer = Colorizer(model, meta, saturation=saturation)
        told[saturation] = colorizer.predict_low(L, [click])[1]
        own[saturation] = colorizer.predict_low(L)[1]
    assert torch.allclose(own[2.0], 2 * own[1.0]) and own[1.0].abs().max() > 0.01
    assert torch.allclose(told[2.0], told[1.0], atol=1e-4)
    assert torch.allclose(told[1.0][0, :, 30, 40], torch.tensor([0.5, -0.3]), atol=0.05)
