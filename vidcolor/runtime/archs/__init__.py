"""A small registry of colourizer architectures by name (BasicSR style).

`unet` and `gan` share one generator architecture; they differ in how they were trained.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from .fusion import BLOCKS8_PREFIX, HINT_PREFIX, FusionColorizer, split_hint_branch
from .patchgan import PatchDiscriminator
from .unet import UNetColorizer

FAMILIES: dict[str, Callable[..., nn.Module]] = {
    "unet": UNetColorizer,
    "gan": UNetColorizer,
    "fusion": FusionColorizer,
}


def build_model(family: str, **options: Any) -> nn.Module:
    """Instantiate a colourizer of `family` with its architecture options."""
    try:
        return FAMILIES[family](**options)
    except KeyError:
        raise ValueError(f"unknown model family {family!r} (choose from {', '.join(FAMILIES)})") from None


__all__ = ["BLOCKS8_PREFIX", "FAMILIES", "HINT_PREFIX", "FusionColorizer", "PatchDiscriminator", "UNetColorizer",
           "build_model", "split_hint_branch"]
