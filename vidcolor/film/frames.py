"""A film's frames as RGB pictures (for `vidcolor frames`, training and eval), and how long a film lasts."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np

from ..utils.errors import UserError
from ..utils.guard import check_claimed_size, watched
from ..utils.warn import default_warn
from .reader import film_stream, open_input, quarter_turns, reason


def film_seconds(path: Path) -> float:
    """How long a film lasts, as its container says; 0.0 when it does not say."""
    with open_input(path) as container:
        return container.duration / av.time_base if container.duration else 0.0


def video_frames(path: Path, every: int = 1, warn: Callable[[str], None] = default_warn) -> Iterator[np.ndarray]:
    """Every `every`-th decoded frame of the film (its stream `vidcolor run` colours) as RGB uint8, upright as a
    player shows it (a phone's film is stored sideways with a rotation tag, which FFmpeg gives counter-clockwise).

    Damage is read past as `vidcolor run` reads it: an undecodable packet is skipped, a read error ends the film
    early; both are said. Raises UserError if not even one frame decodes."""
    decoded = skipped = 0
    with open_input(path) as container:
        stream = film_stream(container, path)
        check_claimed_size(path, stream.codec_context.width * stream.codec_context.height, path.stat().st_size)
        packets = container.demux(stream)
        while True:
            try:
                with watched(path):  # not while the caller has the frame: it may take its time
                    packet = next(packets, None)
            except av.error.FFmpegError as exc:
                warn(f"{path.name}: damaged or cut short after {decoded} frames ({reason(exc)}); keeping those")
                break
            if packet is None:
                break
            try:
                with watched(path):
                    frames = stream.decode(packet)
            except av.error.FFmpegError:
                skipped += 1
                continue
            for frame in frames:
                if decoded % every == 0:
                    yield _upright_rgb(frame)
                decoded += 1
    if skipped:
        warn(f"{path.name}: skipped {skipped} undecodable video packet{'s' * (skipped != 1)}")
    if not decoded:
        raise UserError(f"{path}: no video frame could be decoded (the file is damaged or cut short)")


def _upright_rgb(frame: av.VideoFrame) -> np.ndarray:
    turns = quarter_turns(frame)
    rgb = frame.to_ndarray(format="rgb24")
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb
