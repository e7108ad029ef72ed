"""A tiny untrained model file, for commands that need a --model."""
from __future__ import annotations

from pathlib import Path


def write_tiny_model(path: Path) -> Path:
    """A tiny untrained U-Net saved as a model file: what `--model` needs, at a fraction of a real one's cost."""
    import torch

    from vidcolor.runtime.archs import build_model
    from vidcolor.runtime.weights import save_weights

    torch.manual_seed(0)
    save_weights(path, build_model("unet", width=8), {"family": "unet", "arch": {"width": 8}, "working_size": 64})
    return path


def write_tiny_hint_model(path: Path) -> Path:
    """A tiny hint model (fusion, width 8) whose ways in for hints are random rather than zero, so a hint
    visibly changes the colour where it is given: what tests of the hint plumbing need."""
    import torch

    from vidcolor.runtime.archs import HINT_PREFIX, build_model
    from vidcolor.runtime.weights import save_weights

    torch.manual_seed(0)
    model = build_model("fusion", width=8, hints=True)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith(HINT_PREFIX):
                param.normal_(0.0, 2.0)
    arch = {"width": 8, "backbones": "lite0", "hints": True}
    save_weights(path, model, {"family": "fusion", "arch": arch, "working_size": 64, "hints": True})
    return path
