"""Building blocks shared by the colourizer architectures."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def check_option(name: str, value: int, low: int, high: int) -> None:
    """Refuse an architecture option out of range before anything is built: a model file asking for a width of a
    billion would be allocated (terabytes) before its weights could be found not to fit."""
    if not low <= value <= high:
        raise ValueError(f"{name} must be {low} to {high}, not {value}")


def conv_block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv + BatchNorm + ReLU: the unit every encoder and decoder here is built of."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UpBlock(nn.Module):
    """Upsample x2 (bilinear, no checkerboard), concatenate a skip, then two conv blocks."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(conv_block(cin + cskip, cout), conv_block(cout, cout))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], dim=1))


class LightUpBlock(nn.Module):
    """An UpBlock at about a third of the cost: the input is mixed by a 1x1 conv, the coarse part before it is
    upsampled (a 1x1 conv and bilinear upsampling commute: 4x fewer places), then one 3x3 conv block. The first
    3x3 conv of a decoder's blocks is most of a fast colourizer's time; on upsampled, smooth features a 1x1 does
    most of its work.

    Loaded from a full UpBlock's tensors, it starts from them: the 1x1 is the 3x3 summed over its taps (the same
    on a locally even input), the second conv block is the UpBlock's second."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.cin = cin
        self.coarse = nn.Conv2d(cin, cout, 1, bias=False)
        self.fine = nn.Conv2d(cskip, cout, 1, bias=False)
        self.mix = nn.Sequential(nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
        self.refine = conv_block(cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(self.coarse(x), size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.refine(self.mix(x + self.fine(skip)))

    def _load_from_state_dict(self, state: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        if prefix + "conv.0.0.weight" in state and prefix + "coarse.weight" not in state:  # a full UpBlock's
            taps = state.pop(prefix + "conv.0.0.weight").sum(dim=(2, 3), keepdim=True)
            state[prefix + "coarse.weight"], state[prefix + "fine.weight"] = taps[:, :self.cin], taps[:, self.cin:]
            renamed = {"conv.0.1.": "mix.0.", "conv.1.": "refine."}  # its first BatchNorm, its second conv block
            for key in [k for k in state if k.startswith(prefix + "conv.")]:
                old = next((o for o in renamed if key.startswith(prefix + o)), None)
                if old:
                    state[prefix + renamed[old] + key[len(prefix + old):]] = state.pop(key)
        super()._load_from_state_dict(state, prefix, *args, **kwargs)


def normalise_l(L: torch.Tensor) -> torch.Tensor:
    """L in [0, 100] -> [-1, 1], the range the trainable layers expect."""
    return L / 50.0 - 1.0


def coord_channels(x: torch.Tensor) -> torch.Tensor:
    """Two channels holding pixel coordinates in [-1, 1] (CoordConv): lets the net learn 'sky is up'."""
    b, _, h, w = x.shape
    ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype).view(1, 1, h, 1).expand(b, 1, h, w)
    xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype).view(1, 1, 1, w).expand(b, 1, h, w)
    return torch.cat([ys, xs], dim=1)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad H and W up to a multiple so any input size survives the down/up path."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if h > ph and w > pw else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


class Residual(nn.Module):
    """A bottleneck residual block (1x1 down to half, 3x3, 1x1 back) whose last BatchNorm starts at zero: added to a
    trained model, it starts as the identity, so training goes on from what the model already does."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = channels // 2
        self.body = nn.Sequential(
            nn.Conv2d(channels, inner, 1, bias=False), nn.BatchNorm2d(inner), nn.ReLU(inplace=True),
            conv_block(inner, inner), nn.Conv2d(inner, channels, 1, bias=False), nn.BatchNorm2d(channels))
        nn.init.zeros_(self.body[-1].weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class SelfAttention(nn.Module):
    """Non-local self-attention (SAGAN style) with a learned residual gate starting at zero."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(channels // 8, 8)
        self.q = nn.Conv2d(channels, inner, 1)
        self.k = nn.Conv2d(channels, inner, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.q(x).flatten(2).transpose(1, 2)
        k = self.k(x).flatten(2).transpose(1, 2)
        v = self.v(x).flatten(2).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)
        return x + self.gamma * out.transpose(1, 2).reshape(b, c, h, w)


def upsample_ab(logits: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Half-resolution chroma logits -> a/b in [-1, 1] at `size` (bilinear, then tanh)."""
    return torch.tanh(F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=False))
