"""70x70 PatchGAN discriminator (pix2pix): judges (L, ab) patches as real or colourized."""
from __future__ import annotations

import torch
from torch import nn

from .blocks import normalise_l


class PatchDiscriminator(nn.Module):
    """C64-C128-C256-C512 with 4x4 kernels: each output logit sees a 70x70 patch of the input."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        cin = width
        for i, stride in enumerate((2, 2, 1)):
            cout = width * 2 ** (i + 1)
            layers += [nn.Conv2d(cin, cout, 4, stride, 1, bias=False), nn.BatchNorm2d(cout),
                       nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        layers.append(nn.Conv2d(cin, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """L in [0, 100], ab in [-1, 1] -> a map of real/fake logits."""
        return self.net(torch.cat([normalise_l(L), ab], dim=1))
