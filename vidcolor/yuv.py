"""Video frames <-> Lab: the film's own Y plane is the L the model sees, and only U/V are replaced.

Keeping the decoded Y plane byte for byte (instead of a round trip through RGB) is what makes the
output's luma the input's: the encoder then sees exactly the original brightness and detail.
Frames are brought to limited-range 8-bit YUV first, which is a no-op for the usual yuv420p film.
"""
from __future__ import annotations

from dataclasses import dataclass

import av
import cv2
import numpy as np
import torch

from .color import rgb_to_l

LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG: Y in [16, 235], U/V in [16, 240]
FULL_RANGE = 2  # AVCOL_RANGE_JPEG

# (Kr, Kb) of the YCbCr matrices, by FFmpeg's AVCOL_SPC_* number.
_MATRICES = {1: (0.2126, 0.0722), 5: (0.299, 0.114), 6: (0.299, 0.114), 9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}
_BT709, _BT601 = 1, 6
# L of a grey pixel for each 8-bit limited-range luma: looking it up is exact and far cheaper than converting.
_L_OF_LUMA = rgb_to_l(((torch.arange(256) - 16.0) / 219.0).clamp(0.0, 1.0).expand(3, 1, 256))[0, 0].numpy()


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


COLOUR_LEVEL = 4.0  # mean distance of Cb/Cr from grey: colour is in the tens, black and white ~0-2
COLOUR_HUES = 1.8  # chroma off the picture's main hue axis: colour photos 3-30, toned or tinted ones 0.1-1.5


def looks_colour(chroma: np.ndarray) -> bool:
    """Whether (..., 2) Cb/Cr offsets from grey (8-bit units) are a colour picture's: far from grey, and in
    more than one hue. A sepia or selenium print, a tinted silent film or yellowed paper has colour of a
    single hue (its offsets lie along one line through grey), and is black and white to us."""
    x = chroma.reshape(-1, 2).astype(np.float64)
    level = float(np.abs(x).mean() * 2)
    minor = float(np.sqrt(max(np.linalg.eigvalsh(x.T @ x / len(x))[0], 0.0)))  # spread across the main axis
    return level > COLOUR_LEVEL and minor > COLOUR_HUES


def frame_chroma(frame: av.VideoFrame) -> np.ndarray:
    """(H', W', 2) Cb/Cr offsets from neutral grey (128) of a normalised frame."""
    u, v = planes(frame)[1:]
    return np.stack([u.astype(np.int16) - 128, v.astype(np.int16) - 128], axis=-1)


@dataclass(frozen=True)
class Colorimetry:
    """The YCbCr matrix a film uses, so new chroma decodes to the intended colours in any player."""
    colorspace: int  # AVCOL_SPC_* written to the output
    kr: float
    kb: float

    @classmethod
    def of(cls, frame: av.VideoFrame) -> Colorimetry:
        """The frame's own matrix; untagged films get the usual guess (BT.709 for HD, else BT.601)."""
        space = frame.colorspace if frame.colorspace in _MATRICES else (_BT709 if frame.height >= 720 else _BT601)
        return cls(space, *_MATRICES[space])

    def luma_to_l(self, y: np.ndarray) -> torch.Tensor:
        """(B, H, W) uint8 limited-range Y -> (B, 1, H, W) L in [0, 100], as for a grey pixel of that luma."""
        return torch.from_numpy(_L_OF_LUMA[y])[:, None]

    def chroma(self, L: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """(h, w) L and (2, h, w) a/b at the chroma planes' size -> (h, w, 2) uint8 limited-range U/V.

        OpenCV converts several times faster than torch on CPU. b is first capped where
        f(Z) would go negative, as skimage's conversion does and OpenCV's does not, so that every a/b,
        out of gamut or not, gets skimage's colour (U/V at most 1 code apart, from rounding).
        """
        lab = cv2.merge([L, ab[0], ab[1]])
        np.minimum(lab[..., 2], (lab[..., 0] + 16.0) * (200.0 / 116.0), out=lab[..., 2])
        uv = cv2.transform(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), self._rgb_to_uv())
        return np.clip(np.rint(uv), 0, 255).astype(np.uint8)

    def _rgb_to_uv(self) -> np.ndarray:
        """The 2x4 affine matrix from RGB in [0, 1] to limited-range U and V codes."""
        kg = 1.0 - self.kr - self.kb
        su, sv = 224.0 / (2.0 * (1.0 - self.kb)), 224.0 / (2.0 * (1.0 - self.kr))
        return np.array([[-self.kr * su, -kg * su, (1.0 - self.kb) * su, 128.0],
                         [(1.0 - self.kr) * sv, -kg * sv, -self.kb * sv, 128.0]], np.float32)


def assemble(y: np.ndarray, u: np.ndarray, v: np.ndarray, like: av.VideoFrame, fmt: str,
             colorimetry: Colorimetry) -> av.VideoFrame:
    """A new frame from Y/U/V planes, timed like `like` (same pts, time base and duration)."""
    frame = av.VideoFrame(y.shape[1], y.shape[0], fmt)
    for view, data in zip(planes(frame), (y, u, v), strict=True):
        view[...] = data
    frame.pts, frame.time_base, frame.duration = like.pts, like.time_base, like.duration
    frame.colorspace, frame.color_range = colorimetry.colorspace, LIMITED_RANGE
    return frame
