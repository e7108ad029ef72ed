"""What a user of the installed package meets: the shipped models found as package data, listed with
what their own metadata says, and named when a `--model` is not one of them.

That a built wheel really carries them and works away from the repository is `.ci/check_wheel.sh`'s
job; these tests check the parts a wheel relies on, on the checkout.
"""
from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers.models import TINY_UNET
from helpers.photos import landscape

import vidcolor
from vidcolor import DEFAULT_MODEL
from vidcolor.cli import main
from vidcolor.photo.read import read_image
from vidcolor.photo.write import write_image
from vidcolor.runtime import catalog
from vidcolor.runtime.archs import build_model
from vidcolor.runtime.weights import read_metadata, read_weights, save_weights, shipped_models, update_metadata

REPO = Path(__file__).resolve().parent.parent


def test_the_shipped_weights_are_package_data_found_through_importlib_resources():
    package_models = files("vidcolor") / "models"
    shipped = shipped_models()
    assert DEFAULT_MODEL in shipped and "gan" not in shipped
    assert all(path.parent == package_models and path.is_file() for path in shipped.values())
    assert not list((REPO / "models").glob("*.safetensors"))  # one copy of the weights, in the package


def test_a_user_lists_the_shipped_models_with_what_their_files_say():
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["name", "family", "size"]
    rows = {line.split()[0]: line for line in lines[1:] if not line.startswith(" ")}
    assert set(rows) == set(shipped_models())
    assert lines[1].startswith(DEFAULT_MODEL + " ")  # the default first
    default_column = lines[0].index("default")
    for name, path in shipped_models().items():
        scores = read_metadata(path)["scores"]["photos/val"]
        assert f"{scores['psnr']:.2f}" in rows[name] and f"{scores['colourfulness']:.1f}" in rows[name]
        assert (rows[name][default_column:default_column + 3] == "yes") == (name == DEFAULT_MODEL)


@pytest.mark.parametrize("columns", [80, 140])
def test_the_model_list_fits_a_narrow_terminal_with_every_description_whole(monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= columns
    words = " ".join(line.strip() for line in lines).split()
    for path in shipped_models().values():
        description = read_metadata(path)["description"].split()
        assert any(words[i:i + len(description)] == description for i in range(len(words)))


def test_a_script_reads_the_model_list_as_json():
    result = CliRunner().invoke(main, ["models", "--json"])
    assert result.exit_code == 0, result.output
    listed = {row["name"]: row for row in json.loads(result.output)}
    assert set(listed) == set(shipped_models())
    assert [name for name, row in listed.items() if row["default"]] == [DEFAULT_MODEL]
    assert listed[DEFAULT_MODEL]["hints"]  # the default takes the user's colours
    for name, row in listed.items():
        meta = read_metadata(shipped_models()[name])
        assert row["family"] == meta["family"] and row["hints"] is bool(meta.get("arch", {}).get("hints"))
        assert row["psnr"] == meta["scores"]["photos/val"]["psnr"]
        assert row["film_psnr"] == meta["scores"]["videos/color"]["psnr"]  # the film frames', what vidcolor is for
        assert row["size_mb"] == pytest.approx(shipped_models()[name].stat().st_size / 1e6, abs=0.05)


def test_a_model_whose_file_records_no_scores_shows_dashes_not_numbers(tmp_path, monkeypatch):
    save_weights(tmp_path / "plain.safetensors", build_model("unet", width=8), TINY_UNET)
    monkeypatch.setattr(catalog, "models_dir", lambda: tmp_path)
    table = CliRunner().invoke(main, ["models"])
    listed = json.loads(CliRunner().invoke(main, ["models", "--json"]).output)
    assert table.exit_code == 0 and table.output.splitlines()[1].split()[3:5] == ["-", "-"]
    assert listed[0]["psnr"] is None and listed[0]["colourfulness"] is None and listed[0]["hints"] is False


def test_a_user_reads_a_model_they_trained_beside_a_shipped_one(tmp_path):
    mine = tmp_path / "my_model.safetensors"
    save_weights(mine, build_model("unet", width=8), TINY_UNET | {
        "description": "my own", "scores": {"photos/val": {"psnr": 21.5, "colourfulness": 9.5}}})
    exported = tmp_path / "run_export.safetensors"  # as `vidcolor export` leaves it: no description, no scores
    save_weights(exported, build_model("unet", width=8), TINY_UNET | {
        "steps": 1200, "val": {"val": {"psnr": 20.123, "colourfulness": 7.34}}})
    default_file = str(shipped_models()[DEFAULT_MODEL])
    result = CliRunner().invoke(main, ["models", str(mine), str(exported), "unet", default_file, "--json"])
    assert result.exit_code == 0, result.output
    listed = {row["name"]: row for row in json.loads(result.output)}
    assert list(listed) == [str(mine), str(exported), "unet", default_file]  # as named, in the order named
    assert listed[str(mine)]["psnr"] == 21.5 and listed[str(mine)]["description"] == "my own"
    assert listed[str(exported)]["psnr"] is None  # its run's validation is not a full-path score...
    assert "trained 1,200 steps" in listed[str(exported)]["description"]  # ...but it is said, as what it is
    assert "val 20.12 dB / 7.3" in listed[str(exported)]["description"]
    assert [name for name, row in listed.items() if row["default"]] == [default_file]  # the default's file


def test_a_model_named_twice_by_name_and_by_file_is_listed_once(tmp_path, monkeypatch):
    default_file = shipped_models()[DEFAULT_MODEL]
    monkeypatch.chdir(default_file.parent)
    result = CliRunner().invoke(main, ["models", DEFAULT_MODEL, "unet", default_file.name, str(default_file),
                                       "--json"])
    assert result.exit_code == 0, result.output
    assert [row["name"] for row in json.loads(result.output)] == [DEFAULT_MODEL, "unet"]


def test_listing_a_file_that_is_no_model_says_so_in_one_line(tmp_path):
    (tmp_path / "notes.safetensors").write_text("not weights")
    for named, said in [(tmp_path / "gone.safetensors", "no such model file"),
                        (tmp_path / "notes.safetensors", "not a vidcolor model file")]:
        result = CliRunner().invoke(main, ["models", str(named)])
        assert result.exit_code == 1 and said in result.output and len(result.output.splitlines()) == 1


@pytest.mark.parametrize("odd", [
    {"scores": [23.0], "arch": "fusion", "description": 5, "family": {"x": 1}},
    {"scores": {"photos/val": {"psnr": float("nan"), "colourfulness": 10 ** 400}}, "arch": None, "steps": True},
    {"scores": {"photos/val": [1]}, "description": "red \x1b[31mtext", "steps": 30, "val": {"val": "high"}}])
def test_a_model_file_with_odd_metadata_is_listed_with_what_it_gets_right(tmp_path, monkeypatch, odd):
    """A file's metadata is what its maker wrote: a field that is not what vidcolor writes counts as missing."""
    odd_file = tmp_path / "odd.safetensors"
    save_weights(odd_file, build_model("unet", width=8), TINY_UNET | odd)
    monkeypatch.setenv("COLUMNS", "4")  # and a terminal far too narrow
    table = CliRunner().invoke(main, ["models", str(odd_file)])
    as_json = CliRunner().invoke(main, ["models", str(odd_file), "--json"])
    assert table.exit_code == 0 and as_json.exit_code == 0, table.output + as_json.output
    row = json.loads(as_json.output, parse_constant=pytest.fail)[0]  # strict JSON: no NaN, no Infinity
    assert row["psnr"] is None and row["colourfulness"] is None and row["hints"] is False
    assert isinstance(row["description"], str) and "\x1b" not in row["description"] + table.output
    assert row["family"] in (None, "unet")


def test_an_empty_model_name_is_said_to_be_empty(tmp_path):
    write_image(tmp_path / "in.png", landscape(0))
    for args in (["models", ""], ["run", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--model", ""]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1 and result.output.splitlines() == [
            "vidcolor: an empty model name (a shipped model's name, or a .safetensors file)"]


def test_an_unknown_model_name_is_refused_with_the_shipped_names(tmp_path):
    write_image(tmp_path / "in.png", landscape(0))
    result = CliRunner().invoke(main, ["run", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"),
                                       "--model", "fusion-xl"])
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1
    assert "unknown model 'fusion-xl'" in result.output and ", ".join(shipped_models()) in result.output
    assert "vidcolor models" in result.output and not (tmp_path / "out.png").exists()


def test_the_run_help_names_the_shipped_models():
    result = CliRunner().invoke(main, ["run", "--help"])
    assert all(name in result.output for name in shipped_models())


def test_a_gan_family_file_still_colors_a_photo(tmp_path):
    """gan is no longer shipped, but a gan-family file a user trained still loads and colours."""
    model = tmp_path / "my_gan.safetensors"
    save_weights(model, build_model("gan", width=8), TINY_UNET | {"family": "gan"})
    grey = np.repeat(landscape(1, 48, 64).mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
    write_image(tmp_path / "in.png", grey)
    result = CliRunner().invoke(main, ["run", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"),
                                       "--model", str(model)])
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "out.png").shape == grey.shape


def test_rewriting_a_model_files_metadata_keeps_its_tensors_bit_for_bit(tmp_path):
    path = tmp_path / "m.safetensors"
    save_weights(path, build_model("unet", width=8), TINY_UNET)
    before, data_before = read_weights(path), path.read_bytes()[-1000:]
    update_metadata(path, {"description": "a test model", "hints": False})
    after = read_weights(path)
    assert read_metadata(path) == TINY_UNET | {"description": "a test model", "hints": False}
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert path.read_bytes()[-1000:] == data_before  # the data section itself, byte for byte


def test_the_version_lives_in_one_place():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 on
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "vidcolor.__version__"}
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"vidcolor, version {vidcolor.__version__}"


def test_a_script_finds_the_whole_public_api_on_the_package_without_loading_torch():
    """The API's docstrings name UserError, FilmResult and Summary: a script reached them through internal
    modules, and `dir(vidcolor)` listed none of the API."""
    code = ("import sys, vidcolor; print(sorted(set(vidcolor.__all__) - set(dir(vidcolor))), "
            "issubclass(vidcolor.UserError, Exception), 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["[]", "True", "False"]
    assert {"UserError", "FilmResult", "Summary", "colorize"} <= set(vidcolor.__all__)
    assert vidcolor.FilmResult.__name__ == "FilmResult" and vidcolor.Summary.__name__ == "Summary"


def test_a_run_whose_last_validation_was_cut_short_says_which_step_its_scores_are_of(tmp_path):
    path = tmp_path / "run.safetensors"
    path.write_bytes(b"")
    said = catalog.describe("run", path, {"steps": 40, "val_step": 30, "val": {"photos": {"psnr": 22.5,
                                                                                        "colourfulness": 18.0}}}, None)
    assert said["description"] == "trained 40 steps; its run's validation at step 30 at working size: photos " \
                                  "22.50 dB / 18.0"
