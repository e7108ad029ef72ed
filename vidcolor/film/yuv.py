"""Video frames <-> Lab: the film's own Y plane is the L the model sees, and only U/V are replaced.

Keeping the decoded Y plane byte for byte (instead of a round trip through RGB) is what makes the
output's luma the input's: the encoder then sees exactly the original brightness and detail.
Frames are brought to limited-range YUV first (8 bits, or 10 for a deeper film that the encoder can
write in 10), which is a no-op for the usual yuv420p film.
"""
from __future__ import annotations

from dataclasses import dataclass

import av
import cv2
import numpy as np
import torch

from ..runtime.color import rgb_to_l

LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG: Y in [16, 235], U/V in [16, 240]
FULL_RANGE = 2  # AVCOL_RANGE_JPEG

# (Kr, Kb) of the YCbCr matrices, by FFmpeg's AVCOL_SPC_* number.
_MATRICES = {1: (0.2126, 0.0722), 5: (0.299, 0.114), 6: (0.299, 0.114), 9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}
_BT709, _BT601 = 1, 6


def _l_of_luma(bits: int) -> np.ndarray:
    """L of a grey pixel for each limited-range luma code: looking it up is exact and far cheaper than converting."""
    codes, scale = 1 << bits, 1 << (bits - 8)
    grey = ((torch.arange(codes) - 16.0 * scale) / (219.0 * scale)).clamp(0.0, 1.0)
    return rgb_to_l(grey.expand(3, 1, codes))[0, 0].numpy()


_L_OF_LUMA = {np.dtype(np.uint8): _l_of_luma(8), np.dtype(np.uint16): _l_of_luma(10)}


def pixel_format(width: int, height: int, deep: bool = False) -> str:
    """yuv420p where the size allows it (4:2:0 cannot code odd sizes in H.264/HEVC, so those get 4:4:4), in
    10 bits if `deep`."""
    fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    return fmt + "10le" if deep else fmt


def luma_bits(frame: av.VideoFrame) -> int:
    """Bits per luma sample of a decoded frame (8 for most films; 10 or 12 for scans and mastering codecs)."""
    return frame.format.components[0].bits


def format_bits(fmt: str) -> int:
    """Bits per sample of one of our pixel formats (`pixel_format`)."""
    return 10 if fmt.endswith("10le") else 8


# Grey formats whose samples `planes` reads as they are (native little-endian integers).
_PLAIN_GREY = {"gray", "gray9le", "gray10le", "gray12le", "gray14le", "gray16le"}


def normalise(frame: av.VideoFrame, fmt: str, width: int, height: int) -> av.VideoFrame:
    """`frame` as limited-range `fmt` at the film's size (the same object when it already is).

    Deeper conversions run on one scaler thread: libswscale's threaded 10-bit conversions sometimes
    write chroma into the first luma row of a slice, and the luma is what we promise to keep.
    """
    if frame.format.name in _PLAIN_GREY and frame.color_range == LIMITED_RANGE and \
            (frame.width, frame.height) == (width, height):
        return _grey_as_yuv(frame, fmt)
    full = is_full_range(frame)
    deep = format_bits(fmt) > 8 or luma_bits(frame) > 8
    return frame.reformat(width, height, fmt, src_color_range=FULL_RANGE if full else LIMITED_RANGE,
                          dst_color_range=LIMITED_RANGE, threads=1 if deep else None)


def is_full_range(frame: av.VideoFrame) -> bool:
    """Whether the frame's levels span every code (JPEG's range: MJPEG, some scans, grey masters not tagged
    limited, which libswscale takes for full range whatever else their tag says), which the film is written
    without: its levels are mapped onto the usual limited range."""
    name = frame.format.name
    return name.startswith("yuvj") or frame.color_range == FULL_RANGE or \
        (name in _PLAIN_GREY and frame.color_range != LIMITED_RANGE)


def _grey_as_yuv(frame: av.VideoFrame, fmt: str) -> av.VideoFrame:
    """A frame tagged limited-range grey in `fmt`, its samples moved only to the new depth: libswscale takes
    every grey format for full range whatever its tag, and would lift the blacks and flatten the contrast."""
    bits = format_bits(fmt)
    shift = luma_bits(frame) - bits
    grey = planes(frame)[0].astype(np.uint32)
    y = np.minimum((grey + (1 << (shift - 1))) >> shift, (1 << bits) - 1) if shift > 0 else grey << -shift
    out = av.VideoFrame(frame.width, frame.height, fmt)
    for view, value in zip(planes(out), (y, 128 << (bits - 8), 128 << (bits - 8)), strict=True):
        view[...] = value
    _time_like(out, frame)
    out.color_range = LIMITED_RANGE
    return out


def _time_like(frame: av.VideoFrame, like: av.VideoFrame) -> None:
    """Give `frame` the timing of `like` (a frame drained from a damaged stream may have no time base)."""
    frame.pts, frame.duration = like.pts, like.duration
    if like.time_base is not None:
        frame.time_base = like.time_base


def planes(frame: av.VideoFrame) -> list[np.ndarray]:
    """Writable (height, width) views of a planar frame's planes, without line padding: uint8 for 8-bit
    frames, uint16 for 10-bit ones."""
    dtype = np.dtype(np.uint8 if luma_bits(frame) == 8 else np.uint16)
    return [np.frombuffer(p, dtype).reshape(p.height, p.line_size // dtype.itemsize)[:, : p.width]
            for p in frame.planes]


def frame_color(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray]:
    """A normalised frame's luma at its chroma planes' size, and (H', W', 2) Cb/Cr offsets from grey (128)."""
    y, u, v = planes(frame)
    if y.shape != u.shape:
        y = cv2.resize(y, (u.shape[1], u.shape[0]), interpolation=cv2.INTER_AREA)
    return y, np.stack([u.astype(np.int16) - 128, v.astype(np.int16) - 128], axis=-1)


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
        """(B, H, W) limited-range Y (uint8, or uint16 holding 10 bits) -> (B, 1, H, W) L in [0, 100], as for
        a grey pixel of that luma."""
        return torch.from_numpy(_L_OF_LUMA[y.dtype][y])[:, None]

    def chroma(self, L: np.ndarray, ab: np.ndarray, bits: int = 8) -> np.ndarray:
        """(h, w) L and (2, h, w) a/b at the chroma planes' size -> (h, w, 2) limited-range U/V of `bits` bits
        (uint8, or uint16 holding 10 bits).

        OpenCV converts several times faster than torch on CPU. b is first capped where
        f(Z) would go negative, as skimage's conversion does and OpenCV's does not, so that every a/b,
        out of gamut or not, gets skimage's colour (U/V at most 1 code apart, from rounding).
        """
        lab = cv2.merge([L, ab[0], ab[1]])
        np.minimum(lab[..., 2], (lab[..., 0] + 16.0) * (200.0 / 116.0), out=lab[..., 2])
        uv = cv2.transform(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), self._rgb_to_uv() * (1 << (bits - 8)))
        return np.clip(np.rint(uv), 0, (1 << bits) - 1).astype(np.uint8 if bits == 8 else np.uint16)

    def _rgb_to_uv(self) -> np.ndarray:
        """The 2x4 affine matrix from RGB in [0, 1] to limited-range 8-bit U and V codes."""
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
    _time_like(frame, like)
    frame.colorspace, frame.color_range = colorimetry.colorspace, LIMITED_RANGE
    return frame
