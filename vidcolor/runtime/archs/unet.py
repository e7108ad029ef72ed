"""U-Net regression colourizer: L in, a/b out (the `unet` family and the `gan` generator)."""
from __future__ import annotations

import torch
from torch import nn

from ...utils.choices import MAX_WIDTH
from .blocks import UpBlock, check_option, conv_block, coord_channels, normalise_l, pad_to_multiple, upsample_ab

MAX_DEPTH = 6  # downsamplings: each doubles the multiple a picture is padded to (128 at six)


class UNetColorizer(nn.Module):
    """Encoder-decoder with skips, as in pix2pix's colourization model, with CoordConv input.

    Its stem works at half resolution and chroma comes out at half resolution, then bilinear:
    chroma is smooth, and the full-resolution edges come from L. `width` sets the first stage's channels; each of
    the `depth` downsamplings doubles them (capped at 8x), so the default is a small net that still runs in real
    time on a CPU.
    """

    def __init__(self, width: int = 32, depth: int = 4) -> None:
        super().__init__()
        check_option("width", width, 1, MAX_WIDTH)
        check_option("depth", depth, 1, MAX_DEPTH)
        chans = [min(width * 2 ** i, width * 8) for i in range(depth + 1)]
        self.multiple = 2 ** (depth + 1)
        self.stem = nn.Sequential(conv_block(3, chans[0], stride=2), conv_block(chans[0], chans[0]))
        self.down = nn.ModuleList(
            nn.Sequential(conv_block(chans[i], chans[i + 1], stride=2), conv_block(chans[i + 1], chans[i + 1]))
            for i in range(depth))
        self.up = nn.ModuleList(UpBlock(chans[i + 1], chans[i], chans[i]) for i in reversed(range(depth)))
        self.head = nn.Conv2d(chans[0], 2, 1)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L in [0, 100] -> (B, 2, H, W) a/b in [-1, 1]."""
        x, (h, w) = pad_to_multiple(L, self.multiple)
        x = normalise_l(x)
        x = self.stem(torch.cat([x, coord_channels(x)], dim=1))
        skips = [x]
        for down in self.down:
            x = down(x)
            skips.append(x)
        skips.pop()
        for up in self.up:
            x = up(x, skips.pop())
        return upsample_ab(self.head(x), L.shape[-2:])[..., :h, :w]
