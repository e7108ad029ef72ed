"""A film's frames as RGB pictures (for `vidcolor frames`, training and eval)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from av.container import InputContainer

from ..utils.guard import check_claimed_size, watched
from ..utils.warn import default_warn
from .reader import (
    Incidents,
    Reach,
    announced_seconds,
    film_stream,
    frame_rate,
    nothing_decoded,
    open_input,
    quarter_turns,
    reason,
    warn_if_cut_short,
)


def video_frames(path: Path, every: int = 1) -> Iterator[np.ndarray]:
    """Every `every`-th decoded frame of the film (its stream `vidcolor run` colours) as RGB uint8, upright as a
    player shows it (a phone's film is stored sideways with a rotation tag, which FFmpeg gives counter-clockwise).

    Damage is read past as `vidcolor run` reads it: an undecodable packet is skipped, a read error ends the film
    early; both are said. Raises UserError if not even one frame decodes."""
    incidents, decoded = Incidents(lambda message: default_warn(f"{path.name}: {message}")), 0
    first: float | None = None  # the time of the first frame read, and of the last: how much of the film was read
    last: float | None = None
    with open_input(path) as container:
        stream = film_stream(container, path)
        check_claimed_size(path, stream.codec_context.width * stream.codec_context.height, path.stat().st_size)
        announced, rate, reach = announced_seconds(container, stream), frame_rate(stream), Reach()
        for i, frame in enumerate(_decoded(container, stream, incidents, reach)):
            decoded = i + 1
            if frame.time is not None:
                first, last = frame.time if first is None else first, frame.time
            if i % every:
                continue
            try:
                rgb = _upright_rgb(frame)
            except (av.error.FFmpegError, ValueError) as exc:  # a picture no RGB conversion takes
                incidents.damage("unconvertible video frame", f"frame {i}: {exc}")
                continue
            yield rgb
    incidents.summarise()
    if not decoded:
        raise nothing_decoded(path)
    if first is not None and last is not None and rate:
        warn_if_cut_short(last - first + float(1 / rate), reach.seconds - first, announced, incidents.warn)


def _decoded(container: InputContainer, stream: av.video.stream.VideoStream, incidents: Incidents,
             reach: Reach) -> Iterator[av.VideoFrame]:
    """The stream's frames in display order; undecodable packets skipped, a read error the end (after the frames
    the decoder still holds). Each call into FFmpeg is watched, never the caller's time with a frame. Every
    stream's packets are read, so that `reach` knows how far into the file reading got."""
    packets = container.demux()  # its last packets are empty ones, which flush the decoders
    while True:
        try:
            with watched(container.name):
                packet = next(packets, None)
        except av.error.FFmpegError as exc:
            incidents.warn(f"damaged or cut short ({reason(exc)}); keeping the frames read up to there")
            yield from _held(container, stream)
            return
        if packet is None:
            return
        reach.note(packet)
        if packet.stream is not stream:
            continue
        try:
            with watched(container.name):
                frames = stream.decode(packet)
        except av.error.FFmpegError as exc:
            incidents.damage("undecodable video packet", reason(exc))
            continue
        yield from frames


def _held(container: InputContainer, stream: av.video.stream.VideoStream) -> list[av.VideoFrame]:
    """The frames a decoder still holds (B-frames waiting for their turn) when the file ends unannounced."""
    try:
        with watched(container.name):
            return stream.decode(None)
    except av.error.FFmpegError:
        return []


def _upright_rgb(frame: av.VideoFrame) -> np.ndarray:
    turns = quarter_turns(frame)
    rgb = frame.to_ndarray(format="rgb24")
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb
