"""What a film is before it is read for real: size, length, colour or not, colorimetry, rotation,
interlacing, depth."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import av
import cv2
import numpy as np
from av.stream import Stream

from ..utils.guard import check_claimed_size
from ..utils.in_color import looks_color
from .encoder import EncoderSettings, writes_10_bit
from .reader import (
    Incidents,
    SourceReader,
    announced_seconds,
    film_stream,
    frame_rate,
    nothing_decoded,
    open_input,
    quarter_turns,
)
from .yuv import Colorimetry, frame_color, is_full_range, luma_bits, normalise, pixel_format

PROBE_FRAMES = 12  # that show something (not black), judged for colour
PROBE_LIMIT = 600  # frames read at most to find them (25 s at 24 fps): past a black leader
FLAT = 2.0  # luma levels of spread: a black, white or grey frame shows nothing
GRAIN = 8  # times smaller a frame is judged flat or not at: grain averaged away


@dataclass(frozen=True)
class Source:
    """What the pipeline needs to know about a film before reading it for real."""
    path: Path
    width: int
    height: int
    frames: int | None  # expected frame count, for the progress bar (None: the file does not say)
    seconds: float  # how long the film is, as the file says (0: it does not)
    color: bool
    colorimetry: Colorimetry
    color_primaries: int
    color_trc: int
    display_matrix: list[int] | None  # rotation/flip, as FFmpeg's 3x3 fixed-point matrix
    field_order: int = 0  # FFmpeg's AVFieldOrder: 0 unknown, 1 progressive, 2-5 interlaced (which field first)
    bits: int = 8  # per luma sample, as decoded
    turns: int = 0  # quarter turns counter-clockwise that stand a frame upright, as a player shows it
    rate: float | None = None  # frames a second, as the file says (None: it does not say)
    seconds_span_streams: bool = False  # whether `seconds` is the container's, all streams', not the picture's own
    full_range: bool = False  # whether its levels span every code (written mapped onto the limited range)

    def coded_format(self, encoder: EncoderSettings) -> str:
        """The pixel format the film is written in: 10-bit for a deeper film where the encoder may write it."""
        deep = self.bits > 8 and encoder.max_bits > 8 and writes_10_bit(encoder.codec)
        return pixel_format(self.width, self.height, deep)


def probe(path: Path) -> Source:
    """Open the film and decode its first frames: size, colour or not, colorimetry, rotation."""
    with open_input(path) as container:
        stream = film_stream(container, path)
        check_claimed_size(path, stream.codec_context.width * stream.codec_context.height, path.stat().st_size)
        quiet = Incidents(lambda message: None)
        reader = SourceReader(container, [stream], {stream.index}, quiet)
        first, color = _first_frame_and_color(reader)
        if first is None:
            raise nothing_decoded(path)
        matrix = _display_matrix(first)
        seconds, span_streams = announced_seconds(container, stream)
        return Source(path, first.width, first.height, _expected_frames(stream, seconds), seconds,
                      color, Colorimetry.of(first), first.color_primaries, first.color_trc,
                      matrix, _field_order(stream, first), luma_bits(first), quarter_turns(first),
                      float(rate) if (rate := frame_rate(stream)) else None, span_streams, is_full_range(first))


def _shows_something(luma: np.ndarray) -> bool:
    """Whether a frame's luma shows more than a flat field: judged an eighth of its size, where film grain on a
    black leader has averaged out and a picture's shapes have not."""
    h, w = luma.shape
    size = (min(w, max(4, w // GRAIN)), min(h, max(4, h // GRAIN)))  # a tiny film's few pixels are kept
    small = cv2.resize(luma, size, interpolation=cv2.INTER_AREA)
    return float(small.std()) > FLAT


def _first_frame_and_color(reader: SourceReader) -> tuple[av.VideoFrame | None, bool]:
    """The film's first frame, and whether it is in colour, as its first PROBE_FRAMES frames that show something
    tell: a film opening on black (a leader, a slow fade) is judged past it, up to PROBE_LIMIT frames in."""
    first, opening, shown = None, [], []
    for _, frame in islice(reader, PROBE_LIMIT):
        first = first or frame
        seen = frame_color(normalise(frame, pixel_format(first.width, first.height), first.width, first.height))
        opening = opening or [seen]  # judged where no frame shows anything
        if _shows_something(seen[0]):
            shown.append(seen)
            if len(shown) == PROBE_FRAMES:
                break
    judged = shown or opening
    return first, bool(judged) and looks_color(np.stack([y for y, _ in judged]), np.stack([c for _, c in judged]))


def _display_matrix(frame: av.VideoFrame) -> list[int] | None:
    """The frame's rotation/flip, as FFmpeg's 3x3 fixed-point matrix; None where it has none, or where it also
    carries side data this PyAV has no name for (a newer FFmpeg's EXIF or view ids), which makes PyAV list none."""
    try:  # PyAV up to 18.1.0 lists the side data itself; 18.1.1 maps its types to it
        side_data = [item if hasattr(item, "type") else frame.side_data[item] for item in frame.side_data]
    except ValueError:
        return None
    return next((np.frombuffer(bytes(sd), np.int32).tolist() for sd in side_data if sd.type.name == "DISPLAYMATRIX"),
                None)


def _field_order(stream: Stream, first: av.VideoFrame) -> int:
    """The stream's AVFieldOrder. A DV stream states none, but standard-definition DV is interlaced bottom
    field first by its standard, and its frames say they are interlaced."""
    order = stream.codec_context.field_order
    if order == 0 and first.interlaced_frame and stream.codec_context.name == "dvvideo" and first.height <= 576:
        return BOTTOM_FIELD_FIRST[0]
    return order


def film_seconds(path: Path) -> float:
    """How long a film lasts, as its container says; 0.0 when it does not say."""
    with open_input(path) as container:
        return container.duration / av.time_base if container.duration else 0.0


def _expected_frames(stream: Stream, seconds: float) -> int | None:
    if stream.frames:
        return stream.frames
    rate = frame_rate(stream)
    return round(seconds * rate) if rate and seconds else None


TOP_FIELD_FIRST, BOTTOM_FIELD_FIRST = (2, 5), (3, 4)  # AVFieldOrder by the field shown first: TT, BT / BB, TB
