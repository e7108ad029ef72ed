"""The output film: opened in the container its name asks for, frames encoded and packets muxed as they
arrive."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import av
from av.container import OutputContainer

from ..utils.choices import CONTAINERS
from ..utils.errors import UserError
from ..utils.paths import for_ffmpeg
from .reader import BY_DECODING, Incidents, Payload, label, reason
from .streams import Route
from .yuv import normalise

_FAST_START = {"movflags": "+faststart"}  # index at the front: playable while still downloading


def cannot_write(dst: Path, exc: OSError) -> UserError:
    """The film's output could not be written (disk full, folder gone): said alike by a whole run, a piece and the
    join."""
    return UserError(f"{dst}: could not write the film ({exc.strerror or exc})")


def open_output(path: Path, suffix: str) -> OutputContainer:
    """Open the (temporary) output file in the container its final name asks for."""
    muxer = CONTAINERS[suffix][0]
    try:
        return av.open(for_ffmpeg(path), "w", format=muxer,
                       container_options=_FAST_START if muxer in ("mp4", "mov") else {})
    except (OSError, av.error.FFmpegError) as exc:
        raise UserError(f"{path.parent}: cannot write the output there ({exc})") from None


class Shown:
    """Encodes a film's frames, each packet keeping how long its frame is shown: x264 leaves that out, and a muxer
    then ends a film one frame step after its last frame starts (a held title card, a GIF's long last frame).
    `by_decoding`: the container (MP4, MOV) times a film by its packets' decoding order too."""

    def __init__(self, by_decoding: bool) -> None:
        self.by_decoding = by_decoding
        self._durations: dict[int, int] = {}  # by the frame's timestamp, in the encoder's time base
        self._first: tuple[int, int] | None = None  # the first packet's (pts, dts)
        self._until = 0  # where the frame shown last stops being shown

    def encode(self, target: av.video.stream.VideoStream, frame: av.VideoFrame | None) -> list[av.Packet]:
        if frame is not None and frame.pts is not None and frame.duration:
            self._durations[frame.pts] = frame.duration
            self._until = max(self._until, frame.pts + frame.duration)
        packets = target.encode(frame)
        timed = [p for p in packets if p.pts is not None and p.dts is not None]
        for packet in timed:
            packet.duration = self._durations.pop(packet.pts, None) or packet.duration
            self._first = self._first or (packet.pts, packet.dts)
        if frame is None and timed and self._first:  # the film's end: its frame shown last lasts to there, and in
            # MP4 its packet decoded last does too (with B-frames another one, which MP4 times the film's end by)
            shown = max(timed, key=lambda p: p.pts)
            shown.duration = max(shown.duration or 0, self._until - shown.pts)
            if self.by_decoding:
                (pts, dts), decoded = self._first, timed[-1]
                decoded.duration = max(decoded.duration or 0, self._until - pts - (decoded.dts - dts))
        return packets


class OutputWriter:
    """Encodes frames and muxes packets into the output as they arrive.

    Trouble with a carried stream (a broken audio packet, say) skips that packet; trouble with
    the film itself is fatal, since the output would be wrong.
    """

    def __init__(self, out: OutputContainer, routes: list[Route], incidents: Incidents) -> None:
        self.out, self.routes, self.incidents = out, routes, incidents
        self.shown = Shown(out.format.name in BY_DECODING)

    def write(self, items: Iterable[tuple[Route, Payload]]) -> None:
        heard: set[int] = set()
        for route, item in items:
            heard.add(route.source.index)
            self._send(route, item)
        for route in self.routes:
            if route.mode != "copy":
                self._send(route, None)
            if route.source.index not in heard and route.source.type != "video":  # its index damaged, say
                self.incidents.warn(f"{label(route.source)} held nothing that could be read (damaged, or an empty "
                                    "track), so the output holds nothing from it")

    def _send(self, route: Route, item: Payload | None) -> None:
        try:
            if isinstance(item, av.Packet):
                item.stream = route.target
                self.out.mux(item)
            elif route.source.type == "video":
                ctx = route.target.codec_context  # a film kept in colour: brought to the range its tag says
                kept = route.mode == "encode" and item is not None
                frame = normalise(item, ctx.pix_fmt, ctx.width, ctx.height) if kept else item
                self.out.mux(self.shown.encode(route.target, frame))
            else:
                self.out.mux(route.target.encode(item))
        except av.error.FFmpegError as exc:
            if route.mode == "color" or isinstance(exc, OSError):  # OSError: the file, not the packet
                raise
            self.incidents.damage(f"{route.source.type} packet", f"the output could not take it: {reason(exc)}")
