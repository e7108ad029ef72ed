"""Small synthetic films written with PyAV, so no test needs a media file on disk: `make_clip` writes one,
`probe` reads back what a test wants to check."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from click.testing import CliRunner

from vidcolor.cli import main

AUDIO_RATE = 44100


def _picture(i: int, width: int, height: int, color: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-resolution Y, U, V planes of frame i: a smooth gradient with a moving bright disc.

    Smooth content compresses well, so luma comparisons measure the pipeline, not the codec.
    """
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    y = 40 + 120 * xx / max(width - 1, 1) + 40 * yy / max(height - 1, 1)
    cx, cy = (i * 3) % width, height / 2
    y = np.where((xx - cx) ** 2 + (yy - cy) ** 2 < (min(width, height) / 4) ** 2, 220, y)
    if color:
        u = 128 + 60 * np.sin(xx / 7 + i / 3)
        v = 128 + 60 * np.cos(yy / 5)
    else:
        u = v = np.full_like(y, 128)
    return tuple(np.clip(p, 0, 255).astype(np.uint8) for p in (y, u, v))


def _video_frame(planes: tuple[np.ndarray, ...], fmt: str) -> av.VideoFrame:
    height, width = planes[0].shape
    frame = av.VideoFrame(width, height, fmt)
    for plane, data in zip(frame.planes, planes, strict=True):
        if (plane.height, plane.width) != data.shape:  # 4:2:0 chroma: subsample by 2 (ceil)
            data = data[::2, ::2]
        view = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        view[:, : plane.width] = data
    return frame


def _tone(start: int, samples: int, pitch: float, channels: int = 2, rate: int = AUDIO_RATE) -> np.ndarray:
    t = (np.arange(start, start + samples) / rate).astype(np.float32)
    wave = 0.3 * np.sin(2 * np.pi * pitch * t)
    return np.repeat(wave[None], channels, axis=0).astype(np.float32)


@dataclass
class Clip:
    """What a generated clip contains, for tests to compare against."""
    path: Path
    width: int
    height: int
    times: list[Fraction]  # presentation time of every video frame, in seconds
    audio: list[str] = field(default_factory=list)


class _Muxer:
    """Muxes one stream's packets, replacing the bytes of packet number `corrupt` with garbage."""

    def __init__(self, out: av.container.OutputContainer, corrupt: int | None) -> None:
        self.out, self.corrupt, self.count = out, corrupt, 0

    def __call__(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            if self.count == self.corrupt:
                packet.update(np.random.default_rng(0).integers(0, 256, packet.size, np.uint8).tobytes())
            self.count += 1
            self.out.mux(packet)


def make_clip(path: Path, *, width: int = 64, height: int = 48, frames: int = 12, fps: int = 24,
              times_ms: Sequence[int] | None = None, color: bool = False,
              audio: Sequence[str] = ("aac",), rotation: int = 0, video_codec: str = "libx264",
              pix_fmt: str | None = None, corrupt_frame: int | None = None,
              corrupt_audio_packet: int | None = None, metadata: dict[str, str] | None = None,
              layout: str = "stereo", audio_rate: int = AUDIO_RATE,
              video_options: dict[str, str] | None = None, sound_seconds: float | None = None,
              sar: Fraction | None = None) -> Clip:
    """Write a short film: a gradient with a moving disc, plus one sine tone per audio codec.

    times_ms gives explicit frame times (variable frame rate); corrupt_frame and
    corrupt_audio_packet replace that packet's bytes (of the video / first audio stream) with
    garbage, like a damaged file. A pix_fmt deeper than 8 bits gets the 8-bit picture widened;
    audio_rate is for encoders that take only some (Opus: 48 kHz); video_options go to the encoder;
    sound_seconds makes the sound longer or shorter than the picture; sar makes its pixels that shape.
    """
    tb = Fraction(1, 1000) if times_ms is not None else Fraction(1, fps)
    pts_list = list(times_ms) if times_ms is not None else list(range(frames))
    pix_fmt = pix_fmt or ("yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p")
    duration = float((pts_list[-1] + (1 if times_ms is None else 40)) * tb)
    with av.open(str(path), "w") as out:
        out.metadata.update(metadata or {})
        video = out.add_stream(video_codec, rate=fps, options=video_options or {})
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.codec_context.time_base = tb
        if sar is not None:
            video.codec_context.sample_aspect_ratio = sar
        if rotation:
            video.set_display_rotation(rotation)
        tracks = [out.add_stream(codec, rate=audio_rate, layout=layout) for codec in audio]
        mux_video = _Muxer(out, corrupt_frame)
        for i, pts in enumerate(pts_list):
            frame = _video_frame(_picture(i, width, height, color), pix_fmt if "p10" not in pix_fmt else "yuv444p")
            if "p10" in pix_fmt:
                frame = frame.reformat(format=pix_fmt)
            frame.pts, frame.time_base = pts, tb
            mux_video(video.encode(frame))
        mux_video(video.encode())
        total = int((sound_seconds or duration) * audio_rate)
        for n, track in enumerate(tracks):
            mux_audio = _Muxer(out, corrupt_audio_packet if n == 0 else None)
            for start in range(0, total, 4096):
                samples = _tone(start, min(4096, total - start), 330.0 * (n + 1), av.AudioLayout(layout).nb_channels,
                                audio_rate)
                frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=layout)
                frame.sample_rate, frame.pts, frame.time_base = audio_rate, start, Fraction(1, audio_rate)
                mux_audio(track.encode(frame))
            mux_audio(track.encode())
    return Clip(path, width, height, [pts * tb for pts in pts_list], list(audio))


@dataclass
class Probe:
    """What a film holds, as decoded by PyAV."""
    width: int
    height: int
    times: list[Fraction]
    lumas: list[np.ndarray]  # limited-range Y of every frame
    chroma: list[np.ndarray]  # |U - 128| + |V - 128| of every frame
    audio_codecs: list[str]
    audio_seconds: list[float]  # decoded length of each audio stream
    rotation: int
    duration: float
    metadata: dict[str, str]


def probe(path: Path) -> Probe:
    """Decode every frame of the first video stream and summarise the audio streams."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times, lumas, chroma, rotation = [], [], [], 0
        for frame in container.decode(stream):
            # read every film on one scale, limited-range 4:4:4, as a player would interpret it
            full = frame.format.name.startswith("yuvj") or frame.color_range == 2
            yuv = frame.reformat(format="yuv444p", src_color_range=2 if full else 1, dst_color_range=1)
            planes = [np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, : p.width] for p in yuv.planes]
            times.append(frame.pts * frame.time_base)
            lumas.append(planes[0].copy())
            chroma.append(np.abs(planes[1].astype(int) - 128) + np.abs(planes[2].astype(int) - 128))
            rotation = frame.rotation
        audio_codecs = [s.codec_context.codec.canonical_name for s in container.streams.audio]
        audio_seconds = [_audio_seconds(path, i) for i in range(len(audio_codecs))]
        return Probe(stream.codec_context.width, stream.codec_context.height, times, lumas, chroma,
                     audio_codecs, audio_seconds, rotation, container.duration / av.time_base,
                     dict(container.metadata))


def _audio_seconds(path: Path, index: int) -> float:
    """How much sound an audio stream holds, by decoding it (containers do not all say)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[index]
        return sum(frame.samples / frame.sample_rate for frame in container.decode(stream))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


MS = 0.001  # seconds: timestamps must agree to the millisecond (Matroska's own precision)


def cli(*args: object) -> Any:
    return CliRunner().invoke(main, ["run", *map(str, args)])


def write_film(path: Path, *, codec: str = "libx264", size: tuple[int, int] = (64, 48), frames: int = 5,
               container_format: str | None = None, options: dict[str, str] | None = None,
               tags: dict[str, str] | None = None,
               picture: Callable[[int], np.ndarray] | None = None, empty_sound_track: bool = False) -> None:
    """A silent film written by hand, for what make_clip does not set: encoder options, stream tags, a raw
    container, a sound track with nothing in it. Frame i is `picture(i)` (RGB), else a flat grey getting lighter."""
    width, height = size
    with av.open(str(path), "w", format=container_format) as out:
        video = out.add_stream(codec, rate=25, options=options or {})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.metadata.update(tags or {})
        if empty_sound_track:
            out.add_stream("aac", rate=44100)
        for i in range(frames):
            rgb = picture(i) if picture else np.full((height, width, 3), 40 * i, np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode())


def assert_same_timing(src: Clip, dst: Path, shift: float = 0.0) -> None:
    """Every frame of `dst` at the time it had in `src` (moved by `shift` seconds)."""
    times = probe(dst).times
    assert len(times) == len(src.times)
    assert all(abs(float(b - a) - shift) <= MS for a, b in zip(src.times, times, strict=True))


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def write_shots(path: Path, shots: Sequence[Sequence[np.ndarray]], fps: int = 24, rotation: int = 0,
                times: Sequence[float] | None = None) -> Path:
    """A silent film of grey pictures (H, W uint8), shot after shot, losslessly (FFV1 in .mkv): frames that
    went in alike come out alike, so tests can compare colours exactly. `rotation`: a tag that a player turns
    the pictures by (degrees counter-clockwise), as a phone's; `times`: when each frame is shown (seconds, to the
    millisecond), for a film whose frame rate varies."""
    pictures = [p for shot in shots for p in shot]
    height, width = pictures[0].shape
    with av.open(str(path), "w") as out:
        video = out.add_stream("ffv1", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv444p"
        if rotation:
            video.set_display_rotation(rotation)
        for i, grey in enumerate(pictures):
            frame = _video_frame((grey, np.full_like(grey, 128), np.full_like(grey, 128)), "yuv444p")
            frame.pts, frame.time_base = (i, Fraction(1, fps)) if times is None else (round(times[i] * 1000),
                                                                                       Fraction(1, 1000))
            out.mux(video.encode(frame))
        out.mux(video.encode())
    return path


def textured(width: int, height: int, seed: int) -> np.ndarray:
    """A grey picture with texture everywhere (blurred noise): what optical flow can follow."""
    import cv2

    noise = np.random.default_rng(seed).integers(0, 256, (height, width)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 2.0) * 3 - 256, 0, 255).astype(np.uint8)
