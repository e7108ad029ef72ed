"""One long film in pieces: cut it at keyframes, colour each piece alone (workers do them side by side, see
vidcolor.batch.split), join them.

Every piece starts at a keyframe of the source, so a worker can seek straight to it. The temporal
smoother carries colour from frame to frame, so a worker first colours the frames of the
WARMUP_SECONDS before its piece, only to bring the smoother to the state it has there in a whole
run, and drops them: no seam shows where pieces meet. A worker encodes its piece with the very
encoder settings of a whole run and saves the packets as they are, in a file of our own (no
container, so no timestamp is rounded). The join muxes those packets in order into the output
without re-encoding, and carries the source's sound and subtitles over once, as a whole run does.

Each piece's encoder starts its decode timestamps afresh; the join gives every packet the decode
timestamp one encoder would have given it over the whole film (x264, x265 and VP9 all follow the
same rule: the n-th packet is decoded at the time of the (n - delay)-th frame). So the output has
exactly the frames and timestamps of a whole run.
"""
from __future__ import annotations

import heapq
import math
import os
import struct
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
from av.container import InputContainer
from av.stream import Stream

from ..runtime.inference import Colorizer
from ..runtime.temporal import frames_ahead, make_smoother
from ..utils.atomic import check_writable, written_atomically
from ..utils.choices import CONTAINERS
from ..utils.errors import UserError
from ..utils.guard import watched
from .options import VideoOptions, prepare_film
from .painter import Painter
from .probe import film_seconds
from .reader import (
    BY_DECODING,
    JOIN_SECONDS,
    Incidents,
    Payload,
    SourceReader,
    film_stream,
    may_be_joined,
    nothing_decoded,
    open_input,
    warn_if_cut_short,
)
from .stages import run_stages
from .streams import Route, plan_routes
from .writer import OutputWriter, Shown, cannot_write, open_output

WARMUP_SECONDS = 2.0  # smoothing forgets what came before within a second or so
MIN_PIECE_SECONDS = 60.0  # --split auto: shorter pieces are not worth the warm-up and the join
_PACKET = struct.Struct("<qqqBI")  # pts, dts, duration, keyframe, size; then the packet's bytes


@dataclass(frozen=True)
class Piece:
    """A stretch of the film, in presentation timestamps of its video stream."""
    index: int
    start: int  # the first frame's, a keyframe's
    end: int | None  # the next piece's start (None: to the end of the film)
    warm: int  # frames from here to `start` are coloured only to warm the smoother up
    frames: int = 0  # the frames it keeps, as its packets' timestamps count them (for the run's bar)
    film_start: int = 0  # the film's first frame's: how much of it the last piece answers for, read to its end

    def past_end(self, pts: int) -> bool:
        return self.end is not None and pts >= self.end

    def seconds(self, time_base: Fraction) -> tuple[float, float]:
        """Where the piece starts and ends, in seconds: what it answers for (the first piece, all before it too;
        the last, all after)."""
        return (float(self.start * time_base) if self.index else -math.inf,
                math.inf if self.end is None else float(self.end * time_base))


def _ignore(message: str) -> None:
    """Where the warnings go that the whole run's join (or nobody) needs to hear."""


class CannotCut(Exception):
    """Why a film is better coloured whole than in pieces."""


def plan_pieces(src: Path, pieces: int | None, workers: int, temporal: str) -> list[Piece]:
    """Where to cut `src`: into `pieces`, or (None) into as many as the workers and its length suit. Raises
    CannotCut when the film is better done whole, saying why (too short, too few keyframes, timestamps that cannot
    be trusted to cut by)."""
    if pieces is None and film_seconds(src) < 2 * MIN_PIECE_SECONDS:
        raise CannotCut(f"shorter than two pieces of {MIN_PIECE_SECONDS:.0f} s")
    frames, keys, time_base = _timeline(src)
    length = float((frames[-1] - frames[0]) * time_base)
    count = pieces if pieces is not None else min(workers, int(length // MIN_PIECE_SECONDS))
    step = (frames[-1] - frames[0]) / max(count, 1)
    cuts = {min(keys, key=lambda k: abs(k - (frames[0] + n * step))) for n in range(1, count)}
    starts = [frames[0], *sorted(k for k in cuts if k > frames[0])]
    if len(starts) < 2:
        raise CannotCut("one keyframe, at its start: nowhere to cut" if len(keys) == 1 else
                        "its keyframes all lie near its start")
    warmup = round(WARMUP_SECONDS / time_base) if temporal != "none" else 0
    ends = [*starts[1:], None]
    return [Piece(n, start, end, frames[bisect_left(frames, start - warmup)],
                  (bisect_left(frames, end) if end is not None else len(frames)) - bisect_left(frames, start),
                  frames[0])
            for n, (start, end) in enumerate(zip(starts, ends, strict=True))]


def _timeline(src: Path) -> tuple[list[int], list[int], Fraction]:
    """All frame timestamps (sorted) and the keyframes' of the film, read from its packets alone; CannotCut where
    they cannot be trusted to cut by."""
    frames: list[int] = []
    keys: list[int] = []
    try:
        with open_input(src) as container:
            video = film_stream(container, src)
            time_base, joined, latest = video.time_base, may_be_joined(container), None
            for packet in container.demux(video):
                if packet.size == 0:
                    continue
                if packet.pts is None:
                    raise CannotCut("frames without timestamps")
                if joined and packet.dts is not None:
                    if latest is not None and (latest - packet.dts) * time_base > JOIN_SECONDS:
                        raise CannotCut("recordings joined end to end: a piece read alone would not follow the join")
                    latest = packet.dts if latest is None else max(latest, packet.dts)
                frames.append(packet.pts)
                if packet.is_keyframe:
                    keys.append(packet.pts)
    except av.error.FFmpegError:  # the whole-film pipeline copes with damage, pieces would not
        raise CannotCut("damaged") from None
    if not keys:
        raise CannotCut("no keyframes")
    if len(set(frames)) != len(frames):
        raise CannotCut("frames with the same timestamp")
    return sorted(frames), keys, time_base


def color_piece(src: Path, dst: Path, part: Path, piece: Piece, options: VideoOptions,
                 model: Callable[[], Colorizer], warn: Callable[[str], None],
                 on_frames: Callable[[int], None] | None = None) -> int:
    """Colour one piece of `src` (encoded exactly as a whole run into `dst` would be) and save its packets in
    `part`; returns how many frames it holds. `model()` is called once the film has been checked; `on_frames(n)`
    hears of the frames it keeps as they are done."""
    source = prepare_film(src, dst, options, _ignore).source
    suffix = dst.suffix.lower()
    encoder = options.encoder_for(suffix)
    paint = Painter(model(), make_smoother(options.temporal, options.window), source, encoder)
    with open_input(src) as inp, av.open(os.devnull, "w", format=CONTAINERS[suffix][0]) as scratch:
        # the film's route on a container that is never written: the encoder exactly as a whole run sets it up
        film = plan_routes(inp, scratch, source, suffix, encoder, keep_colors=False,
                           incidents=Incidents(_ignore))[0]
        if piece.index:
            _seek(inp, film.source, piece)
        incidents = Incidents(warn, within=piece.seconds(film.source.time_base))
        reader = SourceReader(inp, [film.source], {film.source.index}, incidents)
        writer = _PieceWriter(part, piece, CONTAINERS[suffix][0] in BY_DECODING, on_frames)
        frames = _window(reader, piece, frames_ahead(options.window))
        try:
            run_stages(frames, writer, [film], paint, source, options)
        except OSError as exc:  # the piece's file: a full disk
            raise cannot_write(dst, exc) from None
        time_base = film.source.time_base  # read while the file is open (PyAV 18 refuses it after)
    incidents.summarise()
    if piece.end is None and reader.first_time is not None:  # read to the film's end: cut short is said, as whole
        before = float((reader.first_time - piece.film_start) * time_base)
        warn_if_cut_short(before + reader.film_seconds, before + reader.file_seconds,
                          (source.seconds, source.seconds_span_streams), warn)
    return writer.frames  # 0 when every frame of the piece is damaged: the join leaves it out


def _seek(container: InputContainer, stream: Stream, piece: Piece) -> None:
    """Go to where the piece's decoding begins; refused where the film cannot land there (the piece would lose
    frames). Judged by the first packet there, not the first frame: that one may be damaged, and skipped."""
    try:
        with watched(container.name):
            container.seek(piece.warm, stream=stream)
            first = next((p.pts for p in container.demux(stream) if p.size), None)
    except av.error.FFmpegError:
        first = None
    if first is None or first > piece.start:
        raise UserError("cannot seek precisely in this film (pieces would lose frames); colour it without --split")
    container.seek(piece.warm, stream=stream)


def _window(reader: Iterable[tuple[Stream, Payload]], piece: Piece,
            lookahead: int) -> Iterator[tuple[Stream, Payload]]:
    """The decoded frames from the warm-up on to the end of the piece, and the smoother's look-ahead beyond."""
    beyond = 0
    for stream, frame in reader:
        if piece.past_end(frame.pts):
            if beyond == lookahead:
                return
            beyond += 1
        if frame.pts >= piece.warm:
            yield stream, frame


class _PieceWriter:
    """Encodes the frames of a piece (warm-up and look-ahead dropped) and saves the packets as they come;
    `on_frames(1)` hears of each frame kept (not of those coloured only to warm up or look ahead: a run's count
    would overshoot, then go back as the piece ends)."""

    def __init__(self, path: Path, piece: Piece, by_decoding: bool,
                 on_frames: Callable[[int], None] | None = None) -> None:
        self.path, self.piece, self.frames, self.by_decoding = path, piece, 0, by_decoding
        self.on_frames = on_frames

    def write(self, items: Iterable[tuple[Route, Payload]]) -> None:
        route, shown = None, Shown(self.by_decoding)
        with self.path.open("wb") as out:
            for route, frame in items:
                if frame.pts >= self.piece.start and not self.piece.past_end(frame.pts):
                    self._save(out, shown.encode(route.target, frame))
                    self.frames += 1
                    if self.on_frames is not None:
                        self.on_frames(1)
            if route is not None:
                self._save(out, shown.encode(route.target, None))
                _extradata(self.path).write_bytes(bytes(route.target.codec_context.extradata or b""))

    @staticmethod
    def _save(out: BinaryIO, packets: list[av.Packet]) -> None:
        for p in packets:
            out.write(_PACKET.pack(p.pts, p.dts, p.duration or 0, p.is_keyframe, p.size))
            out.write(bytes(p))


def _extradata(part: Path) -> Path:
    return part.with_suffix(".extradata")


def _headers(part: Path) -> list[tuple[int, int, int, bool, int, int]]:
    """(pts, dts, duration, keyframe, offset, size) of every packet a piece file holds."""
    heads = []
    with part.open("rb") as f:
        while head := f.read(_PACKET.size):
            pts, dts, duration, key, size = _PACKET.unpack(head)
            heads.append((pts, dts, duration, bool(key), f.tell(), size))
            f.seek(size, os.SEEK_CUR)
    return heads


def _packets(parts: tuple[Path, ...], time_base: Fraction) -> Iterator[av.Packet]:
    """The pieces' packets in order, each with the decode timestamp one encoder would have given it
    over the whole film."""
    heads = [_headers(part) for part in parts]
    delay = sum(1 for _, dts, *_ in heads[0] if dts < heads[0][0][0])  # packets decoded before the first frame shows
    times = [pts for piece in heads for pts in sorted(h[0] for h in piece)]
    n, last_dts = 0, None
    for part, piece in zip(parts, heads, strict=True):
        with part.open("rb") as f:
            for pts, dts, duration, key, offset, size in piece:
                f.seek(offset)
                packet = av.Packet(f.read(size))
                packet.pts, packet.dts = pts, times[n - delay] if n >= delay else dts
                if packet.dts > pts or (last_dts is not None and packet.dts <= last_dts):
                    raise UserError("the pieces of the film do not join up; colour it without --split")
                packet.duration, packet.time_base, packet.is_keyframe = duration, time_base, key
                n, last_dts = n + 1, packet.dts
                yield packet


def _when(item: tuple[Route, Payload]) -> float:
    """When an item is due in the output, to interleave the film's packets with its sound."""
    payload = item[1]
    ts = payload.dts if isinstance(payload, av.Packet) and payload.dts is not None else payload.pts
    return float(ts * payload.time_base) if ts is not None and payload.time_base else 0.0


def join_pieces(src: Path, dst: Path, parts: tuple[Path, ...], options: VideoOptions,
                warn: Callable[[str], None]) -> None:
    """Mux the pieces' packets, in order and untouched, with the source's sound into `dst`."""
    source = prepare_film(src, dst, options, _ignore).source
    suffix = dst.suffix.lower()
    incidents = Incidents(warn)
    check_writable(dst, overwrite=True)
    parts = tuple(p for p in parts if p.stat().st_size)  # a piece whose every frame was damaged holds nothing
    if not parts:
        raise nothing_decoded(src)
    try:
        with written_atomically(dst, replace=options.overwrite) as tmp:
            with open_input(src) as inp, open_output(tmp, suffix) as out:
                routes = plan_routes(inp, out, source, suffix, options.encoder_for(suffix), keep_colors=False,
                                     incidents=incidents)
                film, by_index = routes[0], {r.source.index: r for r in routes}
                reader = SourceReader(inp, [r.source for r in routes],
                                      {r.source.index for r in routes[1:] if r.mode != "copy"}, incidents)
                carried = ((by_index[s.index], item) for s, item in reader if s.index != film.source.index)
                video = ((film, packet) for packet in _packets(parts, film.source.time_base))
                OutputWriter(out, routes, incidents).write(heapq.merge(video, carried, key=_when))
                if any(_extradata(p).read_bytes() != bytes(film.target.codec_context.extradata or b"")
                       for p in parts):
                    raise UserError("the pieces were encoded unlike the output; colour it without --split")
    except OSError as exc:
        raise cannot_write(dst, exc) from None
    incidents.summarise()
