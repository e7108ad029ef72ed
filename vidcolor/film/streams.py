"""Routing a film's streams into the output: the film's own route first, then every audio stream (remuxed
untouched when the output container takes its codec, re-encoded otherwise) and the subtitles the container
allows; chapters, tags, timecode and dispositions carried over."""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from fractions import Fraction
from itertools import islice
from pathlib import Path
from typing import Literal

import av
from av.container import InputContainer, OutputContainer
from av.stream import Stream

from ..utils.choices import CONTAINERS
from ..utils.errors import UserError
from ..utils.guard import watched
from .encoder import EncoderSettings
from .probe import BOTTOM_FIELD_FIRST, TOP_FIELD_FIRST, Source
from .reader import Incidents, SourceReader, film_stream, frame_rate, label, open_input, reason
from .yuv import LIMITED_RANGE, format_bits, pixel_format

TRIAL_PACKETS = 2000  # how far into a film to look for each carried stream's first packet
_MUXER_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder"}  # the muxer writes its own
_STREAM_TAGS = ("language", "title", "handler_name", "timecode")
_TAG_SPELLINGS = {"name": "title"}  # as a reader names a tag -> as the muxers take it: MP4 reads titles as "name"
_DEFAULT_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
_ENCODER_LAYOUTS = set(_DEFAULT_LAYOUTS.values())  # ones both the AAC and the Opus encoder take
_SAR_IN_STREAM = ("libx264", "libx265")  # encoders that write the pixels' aspect ratio into the picture's own stream
_SUFFIXES = {muxer: suffix for suffix, (muxer, _, _) in CONTAINERS.items()}  # a file's muxer -> its ending

Mode = Literal["color", "encode", "copy"]


@dataclass(frozen=True)
class Route:
    """Where one input stream goes in the output, and how: coloured, re-encoded or copied."""
    source: Stream
    target: Stream
    mode: Mode


def plan_routes(inp: InputContainer, out: OutputContainer, source: Source, suffix: str,
                encoder: EncoderSettings, keep_colors: bool, incidents: Incidents) -> list[Route]:
    """Add an output stream for every input stream worth keeping; the film's own route comes first."""
    video = film_stream(inp, source.path)
    routes = [_video_route(video, out, source, encoder, keep_colors)]
    if routes[0].mode != "copy":
        for loss in _losses(video, source, encoder, out):
            incidents.warn(loss)
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
            incidents.warn(f"{label(stream)} is left out (only the film and its sound and subtitles are kept)")
    for route in routes:
        route.target.metadata.update(_stream_tags(route.source))
        route.target.disposition = route.source.disposition
    return routes


def _losses(video: Stream, source: Source, encoder: EncoderSettings, out: OutputContainer) -> list[str]:
    """What of the film's picture its encoding cannot keep, each said in a warning: depth beyond what the encoder
    writes; non-square pixels where neither the codec's stream nor the container can say so (VP9 and FFV1 in
    Matroska, whose aspect ratio PyAV cannot set); interlacing where neither can (H.264 of NTSC D1's 486 lines in
    4:2:0, in .mp4 or .mov); full-range levels in a master meant to keep every code."""
    losses = []
    written = format_bits(source.coded_format(encoder))
    if written < source.bits and encoder.max_bits > 8:
        losses.append(f"the film's {source.bits}-bit picture is written in {written} bits"
                      + ("" if written == 10 else f" ({encoder.codec} here writes 8; libx264, libx265 and ffv1 "
                                                  "write 10)"))
    sar = video.sample_aspect_ratio
    suffix = _SUFFIXES[out.format.name]
    if sar and sar != 1 and encoder.codec not in _SAR_IN_STREAM and suffix in (".mkv", ".webm"):
        losses.append(f"the film's pixels are not square ({sar.numerator}:{sar.denominator}), and {encoder.codec} "
                      f"in a {suffix} file is written without saying so: players show it {source.width}x"
                      f"{source.height}, not {round(source.width * sar)}x{source.height} (H.264 or H.265 in a .mkv, "
                      "or VP9 in a .mp4, keep it)")
    if _interlaced(source) and encoder.codec == "libx264" and not _interlaced_options(encoder.codec, source) and \
            suffix in (".mp4", ".mov"):
        losses.append(f"the film is interlaced, but libx264 cannot code its {source.height} lines' fields apart in "
                      "4:2:0: it is written as progressive frames (every line kept) that players will not "
                      "deinterlace; a .mkv, or --codec libx265, keeps it marked interlaced")
    if source.full_range and (encoder.codec == "ffv1" or encoder.crf == 0):
        losses.append("the film's levels span every code (full range): in this lossless master they are mapped onto "
                      "the usual limited range (256 levels onto 220), so its codes are not kept bit for bit")
    return losses


def _stream_tags(stream: Stream) -> dict[str, str]:
    """The tags worth carrying: language, track name, timecode, whatever case the container spells them in."""
    tags = {_TAG_SPELLINGS.get(k.lower(), k.lower()): v for k, v in stream.metadata.items()}
    return {k: tags[k] for k in _STREAM_TAGS if k in tags}


def _video_route(video: Stream, out: OutputContainer, source: Source, encoder: EncoderSettings,
                 keep_colors: bool) -> Route:
    if keep_colors:
        try:
            return Route(video, out.add_stream_from_template(video), "copy")
        except ValueError:
            pass  # this container cannot take the film's codec: re-encode it unchanged
    rate = frame_rate(video) or Fraction(25)
    interlaced = _interlaced(source)
    options = encoder.options() | (_interlaced_options(encoder.codec, source) if interlaced else {})
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
    try:  # now, not at the first packet: a film the encoder refuses (x265 below 16 pixels) is told so in words
        ctx.open()
    except av.error.FFmpegError as exc:
        raise UserError(f"{encoder.codec} cannot encode this {source.width}x{source.height} film ({reason(exc)}); "
                        "try another --codec") from None
    return Route(video, target, "encode" if keep_colors else "color")


def _muxer_takes(stream: Stream, suffix: str, first: av.Packet | None, layout: str | None = None) -> bool:
    """Whether a `suffix` file takes the stream copied as it is (with `layout`, labelled so). Tried with the
    stream's `first` packet on a file in memory, since some muxers refuse only when they write the header (FLAC in
    .mov) or the index (PCM with no channel layout in .mp4), which in the real file would be after the whole film
    was coloured."""
    trial = av.open(io.BytesIO(), "w", format=CONTAINERS[suffix][0])
    try:
        target = _copied(stream, trial, layout)
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


def _copied(stream: Stream, out: OutputContainer, layout: str | None = None) -> Stream:
    """An output stream for `stream` copied as it is, its channels labelled `layout` where given."""
    target = out.add_stream_from_template(stream)
    if layout is not None:
        target.codec_context.layout = layout
    return target


def _label_for(stream: Stream) -> str | None:
    """The layout to label PCM sound with whose layout says only how many channels it has (as an AVI or a Matroska
    file stores it), where a container refuses it so (an MP4, which would have had it re-encoded lossy); None for
    any other stream."""
    if stream.type != "audio" or not stream.codec_context or not stream.codec_context.name.startswith("pcm_"):
        return None
    if not stream.layout.name.endswith(" channels"):
        return None
    return _DEFAULT_LAYOUTS.get(stream.layout.nb_channels)


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


def _interlaced(source: Source) -> bool:
    return source.field_order in TOP_FIELD_FIRST or source.field_order in BOTTOM_FIELD_FIRST


def _interlaced_options(codec: str, source: Source) -> dict[str, str]:
    """Encode an interlaced film as interlaced (fields kept apart), where the encoder can: x264 can, for a
    height its fields' chroma divides (4:2:0: not NTSC D1's 486 lines; 4:4:4, an odd-sized film's: any even one).
    Elsewhere the fields are coded together as one picture, every line kept, and where the container keeps a field
    order tag (.mkv) it tells players to deinterlace."""
    full_chroma = pixel_format(source.width, source.height).startswith("yuv444")
    if codec != "libx264" or source.height % (2 if full_chroma else 4):
        return {}
    return {"flags": "+ildct+ilme", "x264-params": "tff=1" if source.field_order in TOP_FIELD_FIRST else "bff=1"}


def _carried_route(stream: Stream, out: OutputContainer, suffix: str, incidents: Incidents,
                   first: av.Packet | None) -> Route | None:
    if _muxer_takes(stream, suffix, first):
        return Route(stream, _copied(stream, out), "copy")
    layout = _label_for(stream)
    if layout is not None and _muxer_takes(stream, suffix, first, layout):
        if stream.layout.nb_channels > 2:  # tracks side by side (programme, effects, commentary) are no surround
            incidents.warn(f"{label(stream)} has {stream.layout.nb_channels} channels with no layout, which a "
                           f"{suffix} file takes only labelled: labelled {layout} (a .mkv keeps them unlabelled)")
        return Route(stream, _copied(stream, out, layout), "copy")
    if stream.codec_context is None:  # no decoder, so it could only have been copied as it is
        incidents.warn(f"{label(stream)} is in a codec FFmpeg does not know (or damaged), and is left out")
        return None
    if stream.type != "audio":
        incidents.warn(f"{label(stream)} cannot go into a {suffix} file and is left out")
        return None
    codec = CONTAINERS[suffix][2]
    rates = av.Codec(codec, "w").audio_rates
    rate = stream.rate if not rates or stream.rate in rates else max(rates)
    incidents.warn(f"{label(stream)} cannot go into a {suffix} file as it is: re-encoding it to {codec}")
    return Route(stream, out.add_stream(codec, rate=rate, layout=_encodable_layout(stream.layout)), "encode")


def _encodable_layout(layout: av.AudioLayout) -> str:
    """A channel layout AAC and Opus encoders take for these channels: the "back" 5.0/5.1 rather than the
    "side" ones (AC-3 and DVD sound), and a named layout for PCM that says only how many channels it has."""
    name = layout.name.replace("(side)", "")
    if name.endswith(" channels") or name not in _ENCODER_LAYOUTS:
        return _DEFAULT_LAYOUTS.get(layout.nb_channels, "stereo")
    return name


def route_reader(container: InputContainer, routes: list[Route], incidents: Incidents) -> SourceReader:
    """A reader of every routed stream, decoding all but those that are copied as they are."""
    return SourceReader(container, [r.source for r in routes], {r.source.index for r in routes if r.mode != "copy"},
                        incidents)
