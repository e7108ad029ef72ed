"""A tiny untrained model file, for commands that need a --model."""
from __future__ import annotations

from pathlib import Path

TINY_UNET = {"family": "unet", "arch": {"width": 8}, "working_size": 64}  # a tiny U-Net's metadata


def write_tiny_model(path: Path) -> Path:
    """A tiny untrained U-Net saved as a model file: what `--model` needs, at a fraction of a real one's cost."""
    import torch

    from vidcolor.runtime.archs import build_model
    from vidcolor.runtime.weights import save_weights

    torch.manual_seed(0)
    save_weights(path, build_model("unet", width=8), TINY_UNET)
    return path


def write_tiny_hint_model(path: Path) -> Path:
    """A tiny hint model (fusion, width 8) whose hint branch is set by hand, not trained: it paints each hint's
    colour, strongly, on the spot it is given and nowhere else, and a reference palette shifts every colour a
    little. What tests of the hint plumbing need: an effect that is certain and local."""
    import torch

    from vidcolor.runtime.archs import build_model
    from vidcolor.runtime.archs.fusion import HINT_WIDTH
    from vidcolor.runtime.weights import save_weights

    torch.manual_seed(0)
    model = build_model("fusion", width=8, hints=True)
    a_plane = HINT_WIDTH + 8 * 2  # hint_in2 reads [spread (HINT_WIDTH), stride-2 features (2 x width), a, b, mask, ...]
    with torch.no_grad():
        for param in model.hint_in2.parameters():
            param.zero_()
        for channel, (plane, sign) in enumerate([(0, 1), (0, -1), (1, 1), (1, -1)]):  # ReLU keeps one sign each
            model.hint_in2[0].weight[channel, a_plane + plane] = 10.0 * sign
        model.hint_out.weight.zero_()
        model.hint_out.bias.zero_()
        for out, (plus, minus) in enumerate([(0, 1), (2, 3)]):
            model.hint_out.weight[out, plus, 1, 1], model.hint_out.weight[out, minus, 1, 1] = 1.0, -1.0
        model.hint_out.bias[2] = -30.0  # the gate towards colours carried by likeness: shut
        for param in model.hint_in8.parameters():  # points alone leave the spread features at zero...
            param.zero_()
        model.hint_reference.weight.normal_(0.0, 1.0)  # ...a reference fills them, and they reach the output
        for channel in range(4, 12):
            model.hint_in2[0].weight[channel, channel - 4] = 1.0
        model.hint_out.weight[:, 4:12, 1, 1] = 0.05
    arch = {"width": 8, "backbones": "lite0", "hints": True}
    save_weights(path, model, {"family": "fusion", "arch": arch, "working_size": 64})
    return path
