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
