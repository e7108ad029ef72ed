"""How a film's video is encoded: constant quality or lossless per encoder, what this FFmpeg build can write
in 10 bits, which codecs a container takes."""
from __future__ import annotations

import functools
import io
from dataclasses import dataclass

import av

from ..utils.choices import CONTAINERS, CRF_MAX, FILM_BITS, VIDEO_CODECS
from ..utils.errors import UserError


@dataclass(frozen=True)
class EncoderSettings:
    """How the film's video is encoded."""
    codec: str
    crf: int
    preset: str
    max_bits: int = FILM_BITS[-1]  # per sample: 10 keeps a 10-bit film's depth where the codec can; 8 for any player

    def options(self) -> dict[str, str]:
        """Encoder options for constant quality (x264/x265 CRF, or VP9's constant-quality mode), or lossless.

        CRF 0 asks each encoder for its lossless mode: x264's CRF 0 is lossless only in 8 bits (its 10-bit
        scale starts at -12), and neither x265's nor VP9's CRF 0 is lossless at all."""
        lossless = self.crf == 0
        if self.codec == "libvpx-vp9":
            quality = {"lossless": "1"} if lossless else {"crf": str(self.crf), "b": "0"}
            return {**quality, "row-mt": "1", "deadline": "good", "cpu-used": "4"}
        if self.codec == "ffv1":  # the archival settings: level 3, every frame a keyframe, checksummed slices
            return {"level": "3", "g": "1", "slicecrc": "1"}
        if self.codec == "libx265":
            params = "log-level=error" + (":lossless=1" if lossless else "")
            return {"crf": str(self.crf), "preset": self.preset, "x265-params": params}
        return {"qp" if lossless else "crf": str(self.crf), "preset": self.preset}


@functools.cache
def writes_10_bit(codec: str) -> bool:
    """Whether this FFmpeg build's `codec` encodes 10-bit 4:2:0 (x264, x265 and FFV1 usually; VP9 not here)."""
    return "yuv420p10le" in {f.name for f in av.Codec(codec, "w").video_formats or ()}


# Codecs a muxer lists but refuses when it writes the header: FFmpeg's mov muxer writes VP9 only into .mp4.
_REFUSED_AT_HEADER = {("mov", "libvpx-vp9")}


@functools.cache
def container_holds(suffix: str, codec: str) -> bool:
    """Whether a film written as `suffix` (one of CONTAINERS) can hold `codec` video (lossless FFV1: .mkv only)."""
    if CRF_MAX.get(codec, 0) is None and suffix != ".mkv":
        return False
    muxer = CONTAINERS[suffix][0]
    with av.open(io.BytesIO(), "w", format=muxer) as probe_out:
        return codec in probe_out.supported_codecs and (muxer, codec) not in _REFUSED_AT_HEADER


def check_encoder(suffix: str, codec: str) -> None:
    """Refuse a video codec the container cannot hold (e.g. H.264 in .webm) before any work is done."""
    if not container_holds(suffix, codec):
        takes = [c for c in VIDEO_CODECS if container_holds(suffix, c)]
        homes = [s for s in CONTAINERS if container_holds(s, codec)]
        raise UserError(f"{codec} video cannot go into a {suffix} file (a {suffix} takes --codec {', '.join(takes)}"
                        + (f"; {codec} goes into {', '.join(homes)})" if homes else ")"))
