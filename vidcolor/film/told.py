"""What the user tells of a film (hints, hand-painted keyframes, a reference palette), made ready for the
painter: a first pass reads the film's luma small and carries every hint through its shot (hints.track), so
the colouring pass is told, for each frame, the points that reach it. The pass stops once the last hint is
lost, and is skipped when the film is told no points."""
from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from av.container import InputContainer
from av.video.stream import VideoStream

from ..hints.file import Hint, check_hints_fit, points_of
from ..hints.keyframes import give_way_to_clicks, keyframe_points
from ..hints.track import TRACK_SIZE, carry
from ..runtime.hints import POINT_FIELDS, Told, no_points
from ..utils.errors import UserError
from .probe import Source
from .reader import FilmEnd, Incidents, SourceReader, film_stream, frame_rate, may_be_joined, open_input

MAX_SECONDS = 1e7  # a time beyond this (four months) is past any film's end: said so, not overflowed


@dataclass
class Keyframe:
    """A frame coloured by hand: its number, the picture (H, W, 3 RGB) and a name for messages."""

    frame: int
    rgb: np.ndarray
    name: str


@dataclass
class FilmTold:
    """The points on each frame they reach, and the reference palette every frame is given."""

    points: dict[int, np.ndarray] = field(default_factory=dict)
    reference: torch.Tensor | None = None

    def at(self, frame: int) -> Told:
        """What frame `frame` is told; asked once per frame, in order, so its points are let go."""
        return Told(self.points.pop(frame, no_points()), self.reference)


def film_told(source: Source, hints: list[Hint], hints_name: str, keyframes: list[Keyframe],
              reference: torch.Tensor | None) -> FilmTold:
    """Check the hints and keyframes against the film and carry them through their shots. Raises UserError
    naming the entry at fault (outside the picture, a frame past the end, a keyframe of another size).

    Hints and keyframes are upright, as a player shows the film (a phone's film is stored sideways with a
    rotation tag); the frames are coloured as stored, so the points are turned to where they are stored."""
    width, height = upright_size(source)
    check_hints_fit(hints, width, height, hints_name, film=True)
    for key in keyframes:
        if key.rgb.shape[:2] != (height, width):
            raise UserError(f"{key.name}: the keyframe is {key.rgb.shape[1]} x {key.rgb.shape[0]} pixels, the film's "
                            f"frames {width} x {height}")
    if not hints and not keyframes:
        return FilmTold(reference=reference)
    timed = [hint.time for hint in hints if hint.time is not None]
    shown = _frame_clock(source.path, max(timed)) if timed else None
    with open_input(source.path) as container:
        stream = film_stream(container, source.path)
        owners, seeds = _seeds(hints, hints_name, keyframes, shown or frame_rate(stream), source)
        if source.frames and (late := [f for f in seeds if f > 1.1 * source.frames + 25]):  # before reading it all
            raise UserError(f"{owners[min(late)]} is past the film's end (about {source.frames} frames)")
        scale = min(1.0, TRACK_SIZE / min(source.width, source.height))
        size = (max(1, round(source.width * scale)), max(1, round(source.height * scale)))
        points, read = carry(_small_greys(container, stream, size), seeds, scale)
    for frame in sorted(seeds):
        if frame >= read:
            raise UserError(f"{owners[frame]} is past the film's end ({read} frames)")
    short_side = min(upright_size(source))  # a click given or carried onto a painted frame wins where it is
    return FilmTold({frame: give_way_to_clicks(p, short_side) for frame, p in points.items()}, reference)


def upright_size(source: Source) -> tuple[int, int]:
    """The film's frames' width and height as a player shows them."""
    return (source.height, source.width) if source.turns % 2 else (source.width, source.height)


def _as_stored(points: np.ndarray, source: Source) -> np.ndarray:
    """Points on the upright picture -> the same places on the frame as stored: each quarter turn undone."""
    points = points.copy()
    width, height = upright_size(source)
    for _ in range(source.turns):
        x = points[:, 0].copy()
        points[:, 0], points[:, 1] = height - 1 - points[:, 1], x
        width, height = height, width
    return points


@dataclass
class FrameClock:
    """When the film's frames are shown, from their timestamps: the frame a paused player shows at a time."""

    starts: list[float]  # seconds after the first frame, in order, up to the first frame after the times asked
    end: float | None  # when the last frame's showing ends, where the film ends before that

    def frame_at(self, time: float) -> int | None:
        """The frame shown `time` seconds after the first one; None past the film's end."""
        if self.end is not None and time >= self.end + 1e-3:  # 1e-3: Matroska keeps milliseconds
            return None
        return max(0, bisect.bisect_right(self.starts, time + 1e-6) - 1)  # 1e-6: 0.1 s at 30 fps is frame 3


REORDERED = 16  # packets read past the last time asked: frames come in decoding order, a few out of showing order


def _frame_clock(path: Path, until: float) -> FrameClock | None:
    """The film's FrameClock up to `until` seconds, read from its packets (a phone's film varies its frame rate,
    so a time is not the frame rate times it); None where its packets carry no timestamps, or ones that repeat
    (recordings joined end to end): there the frame rate tells."""
    times: set[int] = set()  # of the frames' packets
    with open_input(path) as container:
        stream = film_stream(container, path)
        time_base = stream.time_base  # read while the file is open: PyAV 18.1.1 refuses it after
        if may_be_joined(container) or not time_base:
            return None
        film_end, first = FilmEnd(container), math.inf
        beyond, ended = 0, False  # packets read past `until`; whether the film was read to its end
        try:
            for packet in container.demux(stream):
                if packet.is_discard or not packet.size:  # before an edit list's start, never shown; the stream's end
                    continue
                if packet.pts is None or packet.pts in times:
                    return None
                times.add(packet.pts)
                film_end.note(packet)
                first = min(first, packet.pts)
                beyond += (packet.pts - first) * time_base > until
                if beyond > REORDERED:
                    break
            else:
                ended = True
        except av.FFmpegError:  # damage: the colouring pass finds where the film ends
            pass
    if not times:
        return None
    order = sorted(times)
    starts = [float((t - order[0]) * time_base) for t in order]
    step = order[-1] - order[-2] if len(order) > 1 else 0  # the last frame's, where the packets say none
    end = max(film_end.end or 0, order[-1] + step) - order[0]
    return FrameClock(starts, float(end * time_base) if ended and end > order[-1] - order[0] else None)


def _seeds(hints: list[Hint], hints_name: str, keyframes: list[Keyframe], clock: FrameClock | Fraction | None,
           source: Source) -> tuple[dict[int, str], dict[int, np.ndarray]]:
    """Points (where they are stored) by the frame they are given on, and who gave each frame's first (for
    messages). A time is the frame shown then, as a paused player shows it: by the frames' timestamps (`clock`), or
    where they have none, at the film's frame rate."""
    owners: dict[int, str] = {}
    by_frame: dict[int, list[np.ndarray]] = {}
    for i, hint in enumerate(hints):
        if hint.time is None:
            frame, said = hint.frame or 0, f"frame {hint.frame or 0}"
        elif clock is None:
            raise UserError(f"{hints_name}: entry {i}: the film states no frame rate; give a frame, not a time")
        elif isinstance(clock, FrameClock):
            if (shown := clock.frame_at(hint.time)) is None:
                raise UserError(f"{hints_name}: entry {i}: time {hint.time:g} s is past the film's end "
                                f"({clock.end:.3f} s)")
            frame, said = shown, f"time {hint.time:g} s (frame {shown})"
        else:
            frame = math.floor(min(hint.time, MAX_SECONDS) * float(clock) + 1e-6)  # 1e-6: 0.1 s at 30 fps is 3
            said = f"time {hint.time:g} s (frame {frame})"
        owners.setdefault(frame, f"{hints_name}: entry {i}: {said}")
        by_frame.setdefault(frame, []).append(_as_stored(points_of([hint]), source))
    for key in keyframes:
        owners.setdefault(key.frame, f"{key.name}: frame {key.frame}")
        stored = np.ascontiguousarray(np.rot90(key.rgb, -source.turns))
        by_frame.setdefault(key.frame, []).insert(0, keyframe_points(stored))
    return owners, {f: np.concatenate(p).reshape(-1, POINT_FIELDS) for f, p in by_frame.items()}


def _small_greys(container: InputContainer, stream: VideoStream, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """The film's frames (those the colouring pass will see, damage skipped alike) as grey pictures of one
    `size` (width, height), even where the film's picture changes size on the way."""
    for _, frame in SourceReader(container, [stream], {stream.index}, Incidents(lambda message: None)):
        yield np.ascontiguousarray(frame.reformat(width=size[0], height=size[1], format="gray").to_ndarray())
