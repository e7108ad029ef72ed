"""Opening a film and reading it tolerantly: which stream is the film, damage skipped and said (never fatal,
so an old film still comes out), broken timestamps mended, frames handed on in display order."""
from __future__ import annotations

import heapq
import math
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
from av.container import InputContainer
from av.stream import Disposition, Stream

from ..utils.errors import UserError
from ..utils.guard import watched
from ..utils.paths import for_ffmpeg, not_there

REORDER_DEPTH = 16  # B-frames: how far decoding order may run ahead of display order (H.264's most)


JOIN_SECONDS = Fraction(1, 10)  # a stream's time going back this much, in a container whose times may jump
# (MPEG-TS), is where two recordings were joined end to end: what follows is moved on past it, as FFmpeg does
MAX_FRAME_RATE = 1000  # past this a stream's rate is its time base, not its film's (DV reports 60000)


Payload = av.Packet | av.VideoFrame | av.AudioFrame


class Incidents:
    """Warnings for the user; damage that repeats is shown a few times, then only counted.

    A piece of a film (--split) reads a little of its neighbours too; given `within`, the seconds it is
    answerable for, it tells only what happens there, so that each damage is told once, by its own piece.
    """

    SHOWN = 3

    def __init__(self, warn: Callable[[str], None], within: tuple[float, float] | None = None) -> None:
        self._warn, self._within = warn, within
        self._counts: Counter[str] = Counter()
        self._actions: dict[str, str] = {}
        self._lock = threading.Lock()

    def _ours(self, at: float | None) -> bool:
        return at is None or self._within is None or self._within[0] <= at < self._within[1]

    def warn(self, message: str, at: float | None = None) -> None:
        if self._ours(at):
            self._warn(message)

    def damage(self, kind: str, detail: str, action: str = "skipped", at: float | None = None) -> None:
        """One more piece of `kind` (e.g. "undecodable video packet") skipped, or mended (`action`), `at` seconds."""
        if not self._ours(at):
            return
        with self._lock:
            self._counts[kind] += 1
            self._actions[kind] = action
            shown = self._counts[kind] <= self.SHOWN
        if shown:
            self._warn(f"{action} {kind} ({detail})")

    def summarise(self) -> None:
        for kind, n in self._counts.items():
            if n > self.SHOWN:
                self._warn(f"{self._actions[kind]} {n} {kind}s in all")


def nothing_decoded(path: Path) -> UserError:
    """The film held no frame that could be decoded: said alike wherever that is found."""
    return UserError(f"{path}: no video frame could be decoded (the file is damaged or cut short)")


def reason(exc: av.error.FFmpegError) -> str:
    return exc.strerror or str(exc)


def label(stream: Stream) -> str:
    codec = stream.codec_context.codec.canonical_name if stream.codec_context is not None else "no codec"
    return f"{stream.type} stream #{stream.index} ({codec})"


BY_DECODING = ("mp4", "mov")  # (de)muxers that time a film by its packets' decoding order


class FilmEnd:
    """Where a film's packets say its last frame stops being shown (its time base): where the packet of the frame
    shown last ends, and in MP4 and MOV, which time a film by decoding order and so lay a held last frame's time on
    the packet decoded last (with B-frames another frame's), where that one ends, moved to showing times."""

    def __init__(self, container: InputContainer) -> None:
        self.by_decoding = any(name in BY_DECODING for name in container.format.name.split(","))  # "mov,mp4,m4a,..."
        self.end: int | None = None
        self._first: tuple[int, int] | None = None  # the first packet's (pts, dts)

    def note(self, packet: av.Packet) -> None:
        """Take a film packet into account (they come in decoding order)."""
        if packet.pts is None or not packet.size:
            return
        duration = packet.duration or 0
        self.end = max(self.end or 0, packet.pts + duration)
        if self.by_decoding and packet.dts is not None:
            self._first = self._first or (packet.pts, packet.dts)
            self.end = max(self.end, packet.dts + duration + self._first[0] - self._first[1])


def open_input(path: Path) -> InputContainer:
    """Open a film for reading, turning every way that can fail into one clear UserError."""
    if not path.is_file():
        raise UserError(f"{path}: " + ("not a file" if path.exists() else not_there(path)))
    if path.stat().st_size == 0:
        raise UserError(f"{path}: the file is empty")
    try:
        with watched(path):
            return av.open(for_ffmpeg(path), metadata_errors="replace")
    except PermissionError:
        raise UserError(f"{path}: not readable (permission denied)") from None
    except av.error.FFmpegError as exc:
        raise UserError(f"{path}: not a video file vidcolor can read, or damaged beyond use ({reason(exc)})") from None


def film_stream(container: InputContainer, path: Path) -> av.video.stream.VideoStream:
    """The stream to colour: of the video streams that are not cover art, the one marked default, else the
    biggest picture (a proxy or thumbnail track beside the film is smaller), else the first, as FFmpeg picks."""
    films = [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]
    if not films:
        raise UserError(f"{path}: has no video stream" + ("" if container.streams.audio else
                                                          " (nor sound: it is damaged, cut short, or no film)"))
    films = [s for s in films if s.codec_context is not None]  # FFmpeg knows no decoder for the others
    if not films:
        raise UserError(f"{path}: its video is in a codec FFmpeg does not know (the file is damaged, or made by a "
                        "codec this build lacks)")
    return max(films, key=lambda s: (bool(s.disposition & Disposition.default),
                                     s.codec_context.width * s.codec_context.height, -s.index))


class Reach:
    """How far into a file reading got: the furthest end of any picture or sound packet, in seconds."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def note(self, packet: av.Packet) -> None:
        """Count a picture or sound packet in (a subtitle's display time says nothing of how far the file goes)."""
        if packet.stream.type in ("video", "audio") and packet.pts is not None and packet.time_base:
            self.seconds = max(self.seconds, float((packet.pts + (packet.duration or 0)) * packet.time_base))


class SourceReader:
    """Demuxes the kept streams once, in file order, decoding the ones that need it.

    Undecodable packets are skipped, as are copied packets the demuxer flags as damaged (the last one of a file
    cut short), a read error ends the film early (keeping what was read),
    and broken video timestamps are mended so the encoder always sees increasing ones. Video frames
    are held back a few at a time so that each takes the earliest timestamp among those decoded so
    far: containers with no presentation times of their own (AVI, raw streams) hand B-frame films'
    frames times in decoding order, which would otherwise be taken for damage and retimed.
    """

    def __init__(self, container: InputContainer, streams: list[Stream], decode: set[int],
                 incidents: Incidents) -> None:
        self.container, self.streams, self.decode, self.incidents = container, streams, decode, incidents
        video = next(s for s in streams if s.type == "video")
        rate = frame_rate(video) or Fraction(25)
        self._time_base = video.time_base  # read once: PyAV 18.1.1 refuses it once the file is closed
        self._video_step = max(1, round(1 / (rate * video.time_base)))
        # frames closer than this are no film's (a header claiming billions of frames a second): retimed in step
        self._least_step = max(1, math.ceil(1 / (MAX_FRAME_RATE * video.time_base)))
        self._last_pts: int | None = None
        self._video = video
        self._span: tuple[int, int] | None = None  # (start of the earliest, end of the latest) film frame read
        self._film_end = FilmEnd(container)
        self._size: tuple[int, int] | None = None  # the film's picture size: its first frame's
        self._untimed = False  # whether the film's first frame came without a timestamp (a raw stream)
        self._held: deque[av.VideoFrame] = deque()  # decoded, in display order, waiting for their timestamp
        self._times: list[int] = []  # a heap of the held frames' timestamps
        self._time = 0.0
        self._reach = Reach()
        self._joined = may_be_joined(container)
        self._shift = Fraction(0)  # seconds added to every packet's times, past the joins met so far
        self._ends: dict[int, Fraction] = {}  # each stream's latest time read (decoding time + duration), shifted

    def __iter__(self) -> Iterator[tuple[Stream, Payload]]:
        packets = self.container.demux(self.streams)
        try:
            while (read := self._read(packets)) is not None:
                yield from read
        except av.error.FFmpegError as exc:
            self.incidents.warn(f"the file is damaged or cut short at {self._time:.1f} s ({reason(exc)}); "
                                "keeping everything read up to there", at=self._time)
            for stream in self.streams:
                if stream.index in self.decode:
                    with watched(self.container.name):
                        frames = self._decoded(stream, None)
                    yield from ((stream, frame) for frame in frames)

    def _read(self, packets: Iterator[av.Packet]) -> list[tuple[Stream, Payload]] | None:
        """What the next packet gives: itself (copied as it is) or the frames it completes; None at the end.
        Timed by the watchdog, which the caller's own pace (a full queue, say) must not be."""
        with watched(self.container.name):
            packet = next(packets, None)
            if packet is None:
                return None
            if self._joined and packet.dts is not None and packet.time_base:
                self._follow_joins(packet)
            if packet.pts is not None and packet.time_base:
                self._time = float(packet.pts * packet.time_base)
            self._reach.note(packet)
            if packet.stream.index in self.decode:
                if packet.stream is self._video:
                    self._film_end.note(packet)
                return [(packet.stream, frame) for frame in self._decoded(packet.stream, packet)]
            if not packet.size:  # the end-of-stream marker, nothing to copy
                return []
            if packet.is_corrupt:  # cut off by the file's end (or flagged by the demuxer): no player could decode it
                self.incidents.damage(f"damaged {packet.stream.type} packet", f"at {self._time:.1f} s", at=self._time)
                return []
            if packet.stream is self._video and packet.pts is not None:
                self._cover(packet.pts, packet.duration)
            return [(packet.stream, packet)]

    def _follow_joins(self, packet: av.Packet) -> None:
        """Move the packet on past the joins met so far; a time going back is a new join. Two recordings joined
        end to end (TS files cat together) both start near zero: unmoved, the second's sound would go back in
        time and the output could not take it, and its picture would be retimed frame by frame."""
        tb = packet.time_base
        start = packet.dts * tb + self._shift
        end = self._ends.get(packet.stream.index)
        if end is not None and start < end - JOIN_SECONDS:  # the next recording: it follows the end of all streams
            latest = max(self._ends.values())
            self._shift += latest - start
            self.incidents.warn(f"the film's times jump back {float(end - start):.2f} s at {float(latest):.2f} s "
                                "(recordings joined end to end?): what follows is moved on to follow what came before")
        step = round(self._shift / tb)
        packet.dts += step
        if packet.pts is not None:
            packet.pts += step
        self._ends[packet.stream.index] = max(end or start, (packet.dts + (packet.duration or 0)) * tb)

    def _decoded(self, stream: Stream, packet: av.Packet | None) -> list[av.VideoFrame | av.AudioFrame]:
        try:
            frames = stream.decode(packet)
        except av.error.FFmpegError as exc:
            self.incidents.damage(f"undecodable {stream.type} packet", f"at {self._time:.1f} s: {reason(exc)}",
                                  at=self._time)
            return []
        if stream.type == "video":
            return self._in_display_time(frames, final=packet is None or not packet.size)
        return frames

    def _in_display_time(self, frames: list[av.VideoFrame], final: bool) -> list[av.VideoFrame]:
        """The frames whose timestamp is settled: all but the last REORDER_DEPTH, or all at the end."""
        for frame in frames:
            self._held.append(frame)
            if frame.pts is not None:
                heapq.heappush(self._times, frame.pts)
        ready = []
        while len(self._held) > (0 if final else REORDER_DEPTH):
            frame = self._held.popleft()
            if frame.pts is not None:  # one without is mended alone, not given a later frame's time
                frame.pts = heapq.heappop(self._times)
            self._mend_timestamp(frame)
            self._check_size(frame)
            ready.append(frame)
        end = self._film_end.end
        if final and ready and end is not None and end > ready[-1].pts:  # the last frame: held that long
            ready[-1].duration = max(ready[-1].duration or 0, end - ready[-1].pts)
        return ready

    def _mend_timestamp(self, frame: av.VideoFrame) -> None:
        missing = frame.pts is None
        if self._last_pts is None:
            self._untimed = missing  # a raw stream (.h264, .m2v) has no times at all: given them in step, quietly
        if missing or (self._last_pts is not None and frame.pts < self._last_pts + self._least_step):
            frame.pts = 0 if self._last_pts is None else self._last_pts + self._video_step
            if not (missing and self._untimed):
                seconds = float(frame.pts * frame.time_base)
                self.incidents.damage("broken video timestamp", f"frame retimed to {seconds:.3f} s", action="mended",
                                      at=seconds)
        self._last_pts = frame.pts
        self._cover(frame.pts, frame.duration)

    def _check_size(self, frame: av.VideoFrame) -> None:
        """A film whose picture changes size (a raw stream cut together from several sources, say) is
        written at its first size: said, since the later frames are scaled."""
        size = (frame.width, frame.height)
        self._size = self._size or size
        if size != self._size:
            seconds = float(frame.pts * self._time_base)
            self.incidents.damage("odd-sized frame", f"{size[0]}x{size[1]} at {seconds:.2f} s; the film is "
                                  f"{self._size[0]}x{self._size[1]}", action="scaled", at=seconds)

    def _cover(self, pts: int, duration: int | None) -> None:
        """The film read so far spans this frame too, for as long as it is shown (a title card may be held for
        seconds), or where the film does not say, one frame step."""
        start, end = self._span or (pts, pts)
        self._span = (min(start, pts), max(end, pts + (duration if duration and duration > 0 else self._video_step)))

    @property
    def first_time(self) -> int | None:
        """The earliest film frame's timestamp read so far (None: none yet)."""
        return self._span[0] if self._span else None

    @property
    def film_seconds(self) -> float:
        """How much of the film was read so far: from its first frame to the end of its last."""
        return float((self._span[1] - self._span[0]) * self._time_base) if self._span else 0.0

    @property
    def file_seconds(self) -> float:
        """How much of the file was read so far: from the film's first frame to the furthest end of any stream's
        packets (its sound may outlast its picture), to set against a length that spans every stream."""
        return self._reach.seconds - float(self._span[0] * self._time_base) if self._span else 0.0


def announced_seconds(container: InputContainer, stream: Stream) -> tuple[float, bool]:
    """How long the film lasts, as the file says (0: it does not say), and whether that is the container's length,
    which spans every stream (a film's sound may outlast its picture), rather than the picture's own: its stream's
    duration; else Matroska's DURATION tag, the track's end time, less its start; else the container's duration
    (Matroska writes no duration of a stream but that tag; FLV none at all)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base), False
    tag = next((v for k, v in stream.metadata.items() if k.upper().split("-")[0] == "DURATION"), "")  # or DURATION-eng
    end = _clock_seconds(tag)
    if end is not None:
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        return max(0.0, end - start), False
    return (container.duration or 0) / av.time_base, True


def _clock_seconds(clock: str) -> float | None:
    """'01:02:03.500000000' -> 3723.5; None for anything else."""
    try:
        hours, minutes, seconds = clock.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


def warn_if_cut_short(picture: float, file: float, announced: tuple[float, bool], warn: Callable[[str], None]) -> None:
    """Say so when much less of the film could be read than the file announces: by time, not frame count
    (variable frame rates differ), so a film cut short or damaged past reading is not taken for a whole one.
    `picture`, `file`: the seconds of picture read, and how far into the file every stream was read; `announced`:
    as `announced_seconds` gives it. A length that spans every stream is set against the file read, so a film
    whose sound outlasts its picture is not taken for one cut short."""
    seconds, spans_streams = announced
    read = file if spans_streams else picture
    if read < 0.9 * seconds:
        warn(f"only {read:.1f} s of the {seconds:.1f} s the file announces could be read: "
             "it is probably damaged or cut short")


def may_be_joined(container: InputContainer) -> bool:
    """Whether the container's times may jump (MPEG-TS), as where recordings were joined end to end."""
    return bool(container.format.flags & av.format.Flags.ts_discont.value)


# FFmpeg's demuxers of bare streams: their frames come untimed, at an average rate that is FFmpeg's default (25),
# whatever rate the stream itself states (its guessed rate)
BARE_STREAMS = ("h264", "hevc", "mpegvideo", "m4v", "vc1", "cavsvideo")


def frame_rate(stream: Stream) -> Fraction | None:
    """Frames per second: the stream's average, else FFmpeg's guess, whichever is believable (the guess first
    for a bare stream)."""
    rates = (stream.average_rate, stream.guessed_rate)
    if stream.container.format.name in BARE_STREAMS:
        rates = rates[::-1]
    return next((r for r in rates if r and 0 < r <= MAX_FRAME_RATE), None)


def quarter_turns(frame: av.VideoFrame) -> int:
    """Quarter turns counter-clockwise that stand the frame upright, as a player shows it (a phone's film is
    stored sideways with a rotation tag). FFmpeg finds no angle in a degenerate display matrix (all zeros), which
    PyAV turns into a meaningless integer: players show such a film as it is stored."""
    rotation = frame.rotation
    return round(rotation / 90) % 4 if abs(rotation) <= 360 else 0
