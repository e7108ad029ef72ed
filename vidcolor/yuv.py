"""Video frames <-> Lab: the film's own Y plane is the L the model sees, and only U/V are replaced.

Keeping the decoded Y plane byte for byte (instead of a round trip through RGB) is what makes the
output's luma the input's: the encoder then sees exactly the original brightness and detail.
Frames are brought to limited-range 8-bit YUV first, which is a no-op for the usual yuv420p film.
"""
from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np
import torch
import torch.nn.functional as F

from .color import lab_to_rgb, rgb_to_l

LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG: Y in [16, 235], U/V in [16, 240]
FULL_RANGE = 2  # AVCOL_RANGE_JPEG

# (Kr, Kb) of the YCbCr matrices, by FFmpeg's AVCOL_SPC_* number.
_MATRICES = {1: (0.2126, 0.0722), 5: (0.299, 0.114), 6: (0.299, 0.114), 9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}
_BT709, _BT601 = 1, 6


def pixel_format(width: int, height: int) -> str:
    """yuv420p where the size allows it; 4:2:0 cannot code odd sizes in H.264/HEVC, so those get 4:4:4."""
    return "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"


def normalise(frame: av.VideoFrame, fmt: str, width: int, height: int) -> av.VideoFrame:
    """`frame` as limited-range 8-bit `fmt` at the film's size (the same object when it already is)."""
    full = frame.format.name.startswith("yuvj") or frame.color_range == FULL_RANGE
    return frame.reformat(width, height, fmt, src_color_range=FULL_RANGE if full else LIMITED_RANGE,
                          dst_color_range=LIMITED_RANGE)


def planes(frame: av.VideoFrame) -> list[np.ndarray]:
    """Writable (height, width) uint8 views of an 8-bit planar frame's planes, without line padding."""
    return [np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, : p.width] for p in frame.planes]


def chroma_level(frame: av.VideoFrame) -> float:
    """Mean distance of U/V from neutral grey (128) of a normalised frame: ~0 for black and white."""
    return float(np.mean([np.abs(p.astype(np.int16) - 128).mean() for p in planes(frame)[1:]]) * 2)


@dataclass(frozen=True)
class Colorimetry:
    """The YCbCr matrix a film uses, so new chroma decodes to the intended colours in any player."""
    colorspace: int  # AVCOL_SPC_* written to the output
    kr: float
    kb: float

    @classmethod
    def of(cls, frame: av.VideoFrame) -> "Colorimetry":
        """The frame's own matrix; untagged films get the usual guess (BT.709 for HD, else BT.601)."""
        space = frame.colorspace if frame.colorspace in _MATRICES else (_BT709 if frame.height >= 720 else _BT601)
        return cls(space, *_MATRICES[space])

    def luma_to_l(self, y: torch.Tensor) -> torch.Tensor:
        """(B, H, W) uint8 limited-range Y -> (B, 1, H, W) L in [0, 100], as for a grey pixel of that luma."""
        grey = ((y.float() - 16.0) / 219.0).clamp(0.0, 1.0)[:, None]
        return rgb_to_l(grey.expand(-1, 3, -1, -1))

    def chroma(self, L: torch.Tensor, ab: torch.Tensor, subsample: int) -> torch.Tensor:
        """(B, 2, h, w) uint8 limited-range U/V for Lab pixels, averaged down `subsample`x for 4:2:0."""
        if subsample > 1:
            L, ab = F.avg_pool2d(L, subsample), F.avg_pool2d(ab, subsample)
        r, g, b = lab_to_rgb(torch.cat([L, ab], dim=1)).unbind(1)
        y = self.kr * r + (1.0 - self.kr - self.kb) * g + self.kb * b
        u = (b - y) / (2.0 * (1.0 - self.kb))
        v = (r - y) / (2.0 * (1.0 - self.kr))
        return (torch.stack([u, v], dim=1) * 224.0 + 128.0).round().clamp(0, 255).to(torch.uint8)


def assemble(y: np.ndarray, u: np.ndarray, v: np.ndarray, like: av.VideoFrame, fmt: str,
             colorimetry: Colorimetry) -> av.VideoFrame:
    """A new frame from Y/U/V planes, timed like `like` (same pts, time base and duration)."""
    frame = av.VideoFrame(y.shape[1], y.shape[0], fmt)
    for view, data in zip(planes(frame), (y, u, v), strict=True):
        view[...] = data
    frame.pts, frame.time_base, frame.duration = like.pts, like.time_base, like.duration
    frame.colorspace, frame.color_range = colorimetry.colorspace, LIMITED_RANGE
    return frame
