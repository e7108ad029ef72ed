"""Film containers: probing a source, reading it tolerantly, and setting up and filling the output.

Only the first video stream is coloured. Every audio stream is carried over: remuxed untouched
when the output container takes its codec, re-encoded otherwise. Subtitles are copied where the
container allows. Damage is skipped and reported, never fatal, so an old film still comes out.
"""
from __future__ import annotations

import contextlib
import functools
import heapq
import io
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import islice
from pathlib import Path
from typing import Literal

import av
import numpy as np
from av.container import InputContainer, OutputContainer
from av.stream import Disposition, Stream

from ..utils.choices import CONTAINERS, FILM_BITS
from ..utils.errors import UserError
from ..utils.guard import check_claimed_size, watched
from ..utils.in_colour import looks_colour
from .yuv import LIMITED_RANGE, Colorimetry, format_bits, frame_colour, luma_bits, normalise, pixel_format

TRIAL_PACKETS = 2000  # how far into a film to look for each carried stream's first packet
REORDER_DEPTH = 16  # B-frames: how far decoding order may run ahead of display order (H.264's most)
PROBE_FRAMES = 12
MAX_FRAME_RATE = 1000  # past this a stream's rate is its time base, not its film's (DV reports 60000)
_MUXER_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder"}  # the muxer writes its own
_STREAM_TAGS = ("language", "title", "handler_name", "timecode")
_TAG_SPELLINGS = {"name": "title"}  # as a reader names a tag -> as the muxers take it: MP4 reads titles as "name"
_DEFAULT_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
_ENCODER_LAYOUTS = set(_DEFAULT_LAYOUTS.values())  # ones both the AAC and the Opus encoder take
_FAST_START = {"movflags": "+faststart"}  # index at the front: playable while still downloading

Mode = Literal["colour", "encode", "copy"]
Payload = av.Packet | av.VideoFrame | av.AudioFrame


class Incidents:
    """Warnings for the user; damage that repeats is shown a few times, then only counted."""

    SHOWN = 3

    def __init__(self, warn: Callable[[str], None]) -> None:
        self._warn = warn
        self._counts: Counter[str] = Counter()
        self._actions: dict[str, str] = {}
        self._lock = threading.Lock()

    def warn(self, message: str) -> None:
        self._warn(message)

    def damage(self, kind: str, detail: str, action: str = "skipped") -> None:
        """One more piece of `kind` skipped (e.g. "undecodable video packet"), or mended (`action`)."""
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


def _reason(exc: av.error.FFmpegError) -> str:
    return exc.strerror or str(exc)


def _label(stream: Stream) -> str:
    codec = stream.codec_context.codec.canonical_name if stream.codec_context is not None else "no codec"
    return f"{stream.type} stream #{stream.index} ({codec})"


def open_input(path: Path) -> InputContainer:
    """Open a film for reading, turning every way that can fail into one clear UserError."""
    if not path.is_file():
        raise UserError(f"{path}: " + ("not a file" if path.exists() else "no such file"))
    if path.stat().st_size == 0:
        raise UserError(f"{path}: the file is empty")
    try:
        with watched(path):
            return av.open(str(path), metadata_errors="replace")
    except PermissionError:
        raise UserError(f"{path}: not readable (permission denied)") from None
    except av.error.FFmpegError as exc:
        raise UserError(f"{path}: not a video file vidcolor can read, or damaged beyond use ({_reason(exc)})") from None


def film_stream(container: InputContainer, path: Path) -> av.video.stream.VideoStream:
    """The stream to colour: of the video streams that are not cover art, the one marked default, else the
    biggest picture (a proxy or thumbnail track beside the film is smaller), else the first, as FFmpeg picks."""
    films = [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]
    if not films:
        raise UserError(f"{path}: has no video stream")
    films = [s for s in films if s.codec_context is not None]  # FFmpeg knows no decoder for the others
    if not films:
        raise UserError(f"{path}: its video is in a codec FFmpeg does not know (the file is damaged, or made by a "
                        "codec this build lacks)")
    return max(films, key=lambda s: (bool(s.disposition & Disposition.default),
                                     s.codec_context.width * s.codec_context.height, -s.index))


class SourceReader:
    """Demuxes the kept streams once, in file order, decoding the ones that need it.

    Undecodable packets are skipped, a read error ends the film early (keeping what was read),
    and broken video timestamps are mended so the encoder always sees increasing ones. Video frames
    are held back a few at a time so that each takes the earliest timestamp among those decoded so
    far: containers with no presentation times of their own (AVI, raw streams) hand B-frame films'
    frames times in decoding order, which would otherwise be taken for damage and retimed.
    """

    def __init__(self, container: InputContainer, streams: list[Stream], decode: set[int],
                 incidents: Incidents) -> None:
        self.container, self.streams, self.decode, self.incidents = container, streams, decode, incidents
        video = next(s for s in streams if s.type == "video")
        rate = _frame_rate(video) or Fraction(25)
        self._video_step = max(1, round(1 / (rate * video.time_base)))
        self._last_pts: int | None = None
        self._video = video
        self._span: tuple[int, int] | None = None  # (start of the earliest, end of the latest) film frame read
        self._size: tuple[int, int] | None = None  # the film's picture size: its first frame's
        self._untimed = False  # whether the film's first frame came without a timestamp (a raw stream)
        self._held: deque[av.VideoFrame] = deque()  # decoded, in display order, waiting for their timestamp
        self._times: list[int] = []  # a heap of the held frames' timestamps
        self._time = 0.0

    @classmethod
    def for_routes(cls, container: InputContainer, routes: list[Route], incidents: Incidents) -> SourceReader:
        """Reads every routed stream, decoding all but those that are copied as they are."""
        return cls(container, [r.source for r in routes], {r.source.index for r in routes if r.mode != "copy"},
                   incidents)

    def __iter__(self) -> Iterator[tuple[Stream, Payload]]:
        packets = self.container.demux(self.streams)
        try:
            while (read := self._read(packets)) is not None:
                yield from read
        except av.error.FFmpegError as exc:
            self.incidents.warn(f"the file is damaged or cut short at {self._time:.1f} s ({_reason(exc)}); "
                                "keeping everything read up to there")
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
            if packet.pts is not None and packet.time_base:
                self._time = float(packet.pts * packet.time_base)
            if packet.stream.index in self.decode:
                return [(packet.stream, frame) for frame in self._decoded(packet.stream, packet)]
            if not packet.size:  # the end-of-stream marker, nothing to copy
                return []
            if packet.stream is self._video and packet.pts is not None:
                self._cover(packet.pts)
            return [(packet.stream, packet)]

    def _decoded(self, stream: Stream, packet: av.Packet | None) -> list[av.VideoFrame | av.AudioFrame]:
        try:
            frames = stream.decode(packet)
        except av.error.FFmpegError as exc:
            self.incidents.damage(f"undecodable {stream.type} packet", f"at {self._time:.1f} s: {_reason(exc)}")
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
        return ready

    def _mend_timestamp(self, frame: av.VideoFrame) -> None:
        missing = frame.pts is None
        if self._last_pts is None:
            self._untimed = missing  # a raw stream (.h264, .m2v) has no times at all: given them in step, quietly
        if missing or (self._last_pts is not None and frame.pts <= self._last_pts):
            frame.pts = 0 if self._last_pts is None else self._last_pts + self._video_step
            if not (missing and self._untimed):
                self.incidents.damage("broken video timestamp",
                                      f"frame retimed to {float(frame.pts * frame.time_base):.3f} s", action="mended")
        self._last_pts = frame.pts
        self._cover(frame.pts)

    def _check_size(self, frame: av.VideoFrame) -> None:
        """A film whose picture changes size (a raw stream cut together from several sources, say) is
        written at its first size: said, since the later frames are scaled."""
        size = (frame.width, frame.height)
        self._size = self._size or size
        if size != self._size:
            seconds = float(frame.pts * self._video.time_base)
            self.incidents.damage("odd-sized frame", f"{size[0]}x{size[1]} at {seconds:.2f} s; the film is "
                                  f"{self._size[0]}x{self._size[1]}", action="scaled")

    def _cover(self, pts: int) -> None:
        start, end = self._span or (pts, pts)
        self._span = (min(start, pts), max(end, pts + self._video_step))

    @property
    def film_seconds(self) -> float:
        """How much of the film was read so far: from its first frame to the end of its last."""
        return float((self._span[1] - self._span[0]) * self._video.time_base) if self._span else 0.0


@dataclass(frozen=True)
class Source:
    """What the pipeline needs to know about a film before reading it for real."""
    path: Path
    width: int
    height: int
    frames: int | None  # expected frame count, for the progress bar (None: the file does not say)
    seconds: float  # how long the film is, as the file says (0: it does not)
    colour: bool
    colorimetry: Colorimetry
    color_primaries: int
    color_trc: int
    display_matrix: list[int] | None  # rotation/flip, as FFmpeg's 3x3 fixed-point matrix
    field_order: int = 0  # FFmpeg's AVFieldOrder: 0 unknown, 1 progressive, 2-5 interlaced (which field first)
    bits: int = 8  # per luma sample, as decoded

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
        frames = [frame for _, frame in islice(reader, PROBE_FRAMES)]
        if not frames:
            raise UserError(f"{path}: no video frame could be decoded (the file is damaged or cut short)")
        first = frames[0]
        fmt = pixel_format(first.width, first.height)
        lumas, chromas = zip(*(frame_colour(normalise(f, fmt, first.width, first.height)) for f in frames),
                             strict=True)
        colour = looks_colour(np.stack(lumas), np.stack(chromas))
        matrix = _display_matrix(first)
        seconds = _seconds(container, stream)
        return Source(path, first.width, first.height, _expected_frames(stream, seconds), seconds,
                      colour, Colorimetry.of(first), first.color_primaries, first.color_trc,
                      matrix, _field_order(stream, first), luma_bits(first))


def _display_matrix(frame: av.VideoFrame) -> list[int] | None:
    """The frame's rotation/flip, as FFmpeg's 3x3 fixed-point matrix; None where it has none, or where it also
    carries side data this PyAV has no name for (a newer FFmpeg's EXIF or view ids), which makes PyAV list none."""
    try:
        side_data = list(frame.side_data)
    except ValueError:
        return None
    return next((np.frombuffer(bytes(sd), np.int32).tolist() for sd in side_data if sd.type.name == "DISPLAYMATRIX"),
                None)


def _field_order(stream: Stream, first: av.VideoFrame) -> int:
    """The stream's AVFieldOrder. A DV stream states none, but standard-definition DV is interlaced bottom
    field first by its standard, and its frames say they are interlaced."""
    order = stream.codec_context.field_order
    if order == 0 and first.interlaced_frame and stream.codec_context.name == "dvvideo" and first.height <= 576:
        return _BOTTOM_FIELD_FIRST[0]
    return order


def _seconds(container: InputContainer, stream: Stream) -> float:
    """How long the film's picture lasts, as the file says (0: it does not say): its stream's duration; else
    Matroska's DURATION tag, the track's end time, less its start; else the container's duration, which
    spans every stream (so may be longer: Matroska writes no duration of a stream but that tag)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = next((v for k, v in stream.metadata.items() if k.upper().split("-")[0] == "DURATION"), "")  # or DURATION-eng
    end = _clock_seconds(tag)
    if end is not None:
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        return max(0.0, end - start)
    return (container.duration or 0) / av.time_base


def _clock_seconds(clock: str) -> float | None:
    """'01:02:03.500000000' -> 3723.5; None for anything else."""
    try:
        hours, minutes, seconds = clock.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


def _frame_rate(stream: Stream) -> Fraction | None:
    """Frames per second: the stream's average, else FFmpeg's guess, whichever is believable."""
    return next((r for r in (stream.average_rate, stream.guessed_rate) if r and 0 < r <= MAX_FRAME_RATE), None)


def _expected_frames(stream: Stream, seconds: float) -> int | None:
    if stream.frames:
        return stream.frames
    rate = _frame_rate(stream)
    return round(seconds * rate) if rate and seconds else None


@dataclass(frozen=True)
class Route:
    """Where one input stream goes in the output, and how: coloured, re-encoded or copied."""
    source: Stream
    target: Stream
    mode: Mode


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


def check_encoder(suffix: str, codec: str) -> None:
    """Refuse a video codec the container cannot hold (e.g. H.264 in .webm) before any work is done."""
    with av.open(io.BytesIO(), "w", format=CONTAINERS[suffix][0]) as probe_out:
        if codec not in probe_out.supported_codecs:
            raise UserError(f"{codec} video cannot go into a {suffix} file (for {suffix} use --codec "
                            f"{CONTAINERS[suffix][1]})")


def open_output(path: Path, suffix: str) -> OutputContainer:
    """Open the (temporary) output file in the container its final name asks for."""
    muxer = CONTAINERS[suffix][0]
    try:
        return av.open(str(path), "w", format=muxer, container_options=_FAST_START if muxer in ("mp4", "mov") else {})
    except (OSError, av.error.FFmpegError) as exc:
        raise UserError(f"{path.parent}: cannot write the output there ({exc})") from None


def plan_routes(inp: InputContainer, out: OutputContainer, source: Source, suffix: str,
                encoder: EncoderSettings, keep_colours: bool, incidents: Incidents) -> list[Route]:
    """Add an output stream for every input stream worth keeping; the film's own route comes first."""
    video = film_stream(inp, source.path)
    routes = [_video_route(video, out, source, encoder, keep_colours)]
    written = format_bits(routes[0].target.codec_context.pix_fmt) if routes[0].mode != "copy" else source.bits
    if written < source.bits and encoder.max_bits > 8:
        incidents.warn(f"the film's {source.bits}-bit picture is written in {written} bits"
                       + ("" if written == 10 else f" ({encoder.codec} here writes 8; libx264, libx265 and ffv1 "
                                                   "write 10)"))
    out.metadata.update({k: v for k, v in inp.metadata.items() if k.lower() not in _MUXER_TAGS})
    chapters = inp.chapters()
    if chapters:
        out.set_chapters(chapters)
    carried = [s for s in inp.streams if s is not video and s.type in ("audio", "subtitle")]
    firsts = _first_packets(source.path, carried) if carried else {}
    for stream in inp.streams:
        if stream is video:
            continue
        if stream.type in ("audio", "subtitle"):
            route = _carried_route(stream, out, suffix, incidents, firsts.get(stream.index))
            if route:
                routes.append(route)
        elif chapters and stream.type == "data" and stream.codec_context is None:  # an MP4's chapter track:
            continue  # the muxer writes it anew from the chapters
        elif stream.type == "data" and "timecode" in stream.metadata:  # a .mov timecode track: the muxer
            routes[0].target.metadata["timecode"] = stream.metadata["timecode"]  # makes it anew from the tag
        else:
            incidents.warn(f"{_label(stream)} is left out (only the film and its sound and subtitles are kept)")
    for route in routes:
        route.target.metadata.update(_stream_tags(route.source))
        route.target.disposition = route.source.disposition
    return routes


def _stream_tags(stream: Stream) -> dict[str, str]:
    """The tags worth carrying: language, track name, timecode, whatever case the container spells them in."""
    tags = {_TAG_SPELLINGS.get(k.lower(), k.lower()): v for k, v in stream.metadata.items()}
    return {k: tags[k] for k in _STREAM_TAGS if k in tags}


def _video_route(video: Stream, out: OutputContainer, source: Source, encoder: EncoderSettings,
                 keep_colours: bool) -> Route:
    if keep_colours:
        try:
            return Route(video, out.add_stream_from_template(video), "copy")
        except ValueError:
            pass  # this container cannot take the film's codec: re-encode it unchanged
    rate = _frame_rate(video) or Fraction(25)
    interlaced = source.field_order in _TOP_FIELD_FIRST or source.field_order in _BOTTOM_FIELD_FIRST
    options = encoder.options() | (_interlaced_options(encoder.codec, source.field_order) if interlaced else {})
    target = out.add_stream(encoder.codec, rate=rate, options=options)
    ctx = target.codec_context
    ctx.width, ctx.height, ctx.pix_fmt = source.width, source.height, source.coded_format(encoder)
    ctx.time_base = target.time_base = video.time_base  # keeps every frame's timestamp exactly
    if video.sample_aspect_ratio:
        ctx.sample_aspect_ratio = video.sample_aspect_ratio
    if interlaced:
        ctx.field_order = source.field_order  # so players know to deinterlace
    if encoder.codec == "libx265" and out.format.name in ("mp4", "mov"):
        ctx.codec_tag = "hvc1"  # not FFmpeg's hev1: Apple's players take only hvc1
    ctx.colorspace, ctx.color_range = source.colorimetry.colorspace, LIMITED_RANGE
    ctx.color_primaries, ctx.color_trc = source.color_primaries, source.color_trc
    if source.display_matrix:
        target.set_display_matrix(source.display_matrix)
    return Route(video, target, "encode" if keep_colours else "colour")


def _muxer_takes(stream: Stream, suffix: str, first: av.Packet | None) -> bool:
    """Whether a `suffix` file takes the stream copied as it is. Tried with the stream's `first` packet on a
    file in memory, since some muxers refuse only when they write the header (FLAC in .mov) or the index
    (PCM with no channel layout in .mp4), which in the real file would be after the whole film was coloured."""
    trial = av.open(io.BytesIO(), "w", format=CONTAINERS[suffix][0])
    try:
        target = trial.add_stream_from_template(stream)
        trial.start_encoding()
        if first is not None:
            first.stream = target
            trial.mux(first)
        trial.close()
        return True
    except (ValueError, av.error.FFmpegError):
        with contextlib.suppress(av.error.FFmpegError):
            trial.close()
        return False


def _first_packets(path: Path, streams: list[Stream]) -> dict[int, av.Packet]:
    """The first packet of each stream, read in one pass from a second opening of the file (stopping as soon
    as all are found, at most TRIAL_PACKETS packets in)."""
    found: dict[int, av.Packet] = {}
    with open_input(path) as again, watched(path):
        wanted = [again.streams[s.index] for s in streams]
        for packet in islice(again.demux(wanted), TRIAL_PACKETS):
            if packet.size and packet.stream.index not in found:
                found[packet.stream.index] = packet
                if len(found) == len(wanted):
                    break
    return found


_TOP_FIELD_FIRST, _BOTTOM_FIELD_FIRST = (2, 5), (3, 4)  # AVFieldOrder by the field shown first: TT, BT / BB, TB


def _interlaced_options(codec: str, field_order: int) -> dict[str, str]:
    """Encode an interlaced film as interlaced (fields kept apart), where the encoder can: x264 can."""
    if codec != "libx264":
        return {}
    return {"flags": "+ildct+ilme", "x264-params": "tff=1" if field_order in _TOP_FIELD_FIRST else "bff=1"}


def _carried_route(stream: Stream, out: OutputContainer, suffix: str, incidents: Incidents,
                   first: av.Packet | None) -> Route | None:
    if _muxer_takes(stream, suffix, first):
        return Route(stream, out.add_stream_from_template(stream), "copy")
    if stream.codec_context is None:  # no decoder, so it could only have been copied as it is
        incidents.warn(f"{_label(stream)} is in a codec FFmpeg does not know (or damaged), and is left out")
        return None
    if stream.type != "audio":
        incidents.warn(f"{_label(stream)} cannot go into a {suffix} file and is left out")
        return None
    codec = CONTAINERS[suffix][2]
    rates = av.Codec(codec, "w").audio_rates
    rate = stream.rate if not rates or stream.rate in rates else max(rates)
    incidents.warn(f"{_label(stream)} cannot go into a {suffix} file as it is: re-encoding it to {codec}")
    return Route(stream, out.add_stream(codec, rate=rate, layout=_encodable_layout(stream.layout)), "encode")


def _encodable_layout(layout: av.AudioLayout) -> str:
    """A channel layout AAC and Opus encoders take for these channels: the "back" 5.0/5.1 rather than the
    "side" ones (AC-3 and DVD sound), and a named layout for PCM that says only how many channels it has."""
    name = layout.name.replace("(side)", "")
    if name.endswith(" channels") or name not in _ENCODER_LAYOUTS:
        return _DEFAULT_LAYOUTS.get(layout.nb_channels, "stereo")
    return name


class OutputWriter:
    """Encodes frames and muxes packets into the output as they arrive.

    Trouble with a carried stream (a broken audio packet, say) skips that packet; trouble with
    the film itself is fatal, since the output would be wrong.
    """

    def __init__(self, out: OutputContainer, routes: list[Route], incidents: Incidents) -> None:
        self.out, self.routes, self.incidents = out, routes, incidents

    def write(self, items: Iterable[tuple[Route, Payload]]) -> None:
        for route, item in items:
            self._send(route, item)
        for route in self.routes:
            if route.mode != "copy":
                self._send(route, None)

    def _send(self, route: Route, item: Payload | None) -> None:
        try:
            if isinstance(item, av.Packet):
                item.stream = route.target
                self.out.mux(item)
            elif route.mode == "encode" and item is not None and route.source.type == "video":
                ctx = route.target.codec_context  # a film kept in colour: brought to the range its tag says
                self.out.mux(route.target.encode(normalise(item, ctx.pix_fmt, ctx.width, ctx.height)))
            else:
                self.out.mux(route.target.encode(item))
        except av.error.FFmpegError as exc:
            if route.mode == "colour" or isinstance(exc, OSError):  # OSError: the file, not the packet
                raise
            self.incidents.damage(f"{route.source.type} packet the output could not take", _reason(exc))
