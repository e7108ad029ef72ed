"""`vidcolor run` on films, told as what a user sees: old films in, coloured films out, nothing lost.

Every film here is generated on the fly (see conftest.py) and coloured by a tiny untrained model:
these tests check the pipeline (timing, sound, luma, damage, refusals), not the colours' quality.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers.films import Clip, probe, psnr
from helpers.photos import landscape

from vidcolor import colorize_video
from vidcolor.cli import main
from vidcolor.film.pipeline import VideoOptions, model_workers
from vidcolor.film.yuv import planes
from vidcolor.photo.codec import read_image, write_image
from vidcolor.runtime.archs import build_model
from vidcolor.runtime.inference import Colorizer
from vidcolor.runtime.temporal import NoSmoothing, make_smoother
from vidcolor.utils.atomic import sweep_stale
from vidcolor.utils.choices import TEMPORAL_MODES
from vidcolor.utils.errors import UserError

MS = 0.001  # seconds: timestamps must agree to the millisecond (Matroska's own precision)


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    torch.manual_seed(0)
    return Colorizer(build_model("unet", width=8), {"working_size": 64})


@pytest.fixture
def colour(colorizer: Colorizer) -> Any:
    """colour(src, dst, **options) -> (result, warnings): the Python API with the tiny model."""
    def run(src: Path, dst: Path, **options: Any) -> tuple[Any, list[str]]:
        warnings: list[str] = []
        result = colorize_video(src, dst, model=options.pop("model", colorizer), quiet=True, warn=warnings.append,
                                **options)
        return result, warnings
    return run


def cli(*args: object) -> Any:
    return CliRunner().invoke(main, ["run", *map(str, args)])


def write_film(path: Path, *, codec: str = "libx264", size: tuple[int, int] = (64, 48), frames: int = 5,
               container_format: str | None = None, options: dict[str, str] | None = None,
               tags: dict[str, str] | None = None,
               picture: Callable[[int], np.ndarray] | None = None) -> None:
    """A silent film written by hand, for what make_clip does not set: encoder options, stream tags, a raw
    container. Frame i is `picture(i)` (RGB), else a flat grey getting lighter."""
    width, height = size
    with av.open(str(path), "w", format=container_format) as out:
        video = out.add_stream(codec, rate=25, options=options or {})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.metadata.update(tags or {})
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


# --- the film comes out right -------------------------------------------------------------------

def test_a_black_and_white_film_comes_out_in_colour_with_its_own_luma(clip, colour, tmp_path):
    src = clip("old.mp4", frames=24)
    result, warnings = colour(src.path, tmp_path / "new.mp4")
    before, after = probe(src.path), probe(tmp_path / "new.mp4")
    assert (after.width, after.height) == (before.width, before.height)
    assert result.frames == len(after.times) == 24
    assert min(psnr(a, b) for a, b in zip(before.lumas, after.lumas, strict=True)) >= 40
    assert max(c.mean() for c in before.chroma) < 1
    assert min(c.mean() for c in after.chroma) > 5
    assert warnings == []


def test_each_frame_gets_the_colours_it_would_get_as_a_photo(clip, colour, colorizer, tmp_path):
    src = clip("old.mp4", frames=6, width=96, height=64)
    colour(src.path, tmp_path / "new.mkv", temporal="none", crf=0)  # lossless: only our chroma differs
    with av.open(str(src.path)) as before, av.open(str(tmp_path / "new.mkv")) as after:
        for old, new in zip(before.decode(video=0), after.decode(video=0), strict=True):
            as_photo = av.VideoFrame.from_ndarray(colorizer.colorize_rgb(old.to_ndarray(format="rgb24")), "rgb24")
            # U/V only: a film keeps its luma Y', a photo its lightness L, which differ where colour is strong
            film_uv, photo_uv = (planes(f.reformat(format="yuv444p", dst_colorspace=new.colorspace))[1:]
                                 for f in (new, as_photo))
            assert all(np.abs(a.astype(int) - b).mean() < 1 for a, b in zip(film_uv, photo_uv, strict=True))


def test_every_frame_keeps_its_timestamp_and_the_film_its_duration(clip, colour, tmp_path):
    src = clip("old.mp4", frames=30, fps=25)
    colour(src.path, tmp_path / "new.mp4")
    assert_same_timing(src, tmp_path / "new.mp4")
    assert probe(tmp_path / "new.mp4").duration == pytest.approx(probe(src.path).duration, abs=0.01)


def test_a_variable_frame_rate_film_keeps_every_irregular_frame_time(clip, colour, tmp_path):
    src = clip("vfr.mkv", times_ms=[0, 40, 80, 200, 240, 400, 420, 440, 600, 1000], audio=())
    for name in ("new.mp4", "new.mkv"):
        _, warnings = colour(src.path, tmp_path / name)
        assert_same_timing(src, tmp_path / name)
        assert warnings == []  # fewer frames than length x nominal rate is no sign of damage here


@pytest.mark.parametrize("window", [1, 5, 30])
def test_look_ahead_smoothing_still_gives_back_every_frame_at_its_time(clip, colour, tmp_path, window):
    src = clip("old.mp4", frames=23, fps=25)  # batches of 8 do not divide it; 30 frames is more than the film
    result, _ = colour(src.path, tmp_path / "new.mp4", window=window, batch_size=8)
    assert result.frames == 23
    assert_same_timing(src, tmp_path / "new.mp4")
    assert min(c.mean() for c in probe(tmp_path / "new.mp4").chroma) > 5


def test_matroska_moves_a_film_whose_sound_starts_early_by_that_delay_and_keeps_sync(clip, colour, tmp_path):
    # AAC starts 1024 samples before the picture; Matroska cannot store negative times, so
    # (like ffmpeg) the muxer moves everything by that much: intervals and sync stay exact.
    src = clip("old.mp4", frames=24)
    colour(src.path, tmp_path / "new.mkv")
    assert_same_timing(src, tmp_path / "new.mkv", shift=1024 / 44100)


@pytest.mark.parametrize("size, source", [((65, 49), {}), ((64, 49), {}), ((66, 48), {}),
                                          ((65, 49), {"video_codec": "libvpx-vp9", "pix_fmt": "yuv420p"})])
def test_a_film_with_odd_dimensions_keeps_its_exact_size(clip, colour, tmp_path, size, source):
    src = clip("odd.mkv", width=size[0], height=size[1], frames=6, audio=(), **source)
    colour(src.path, tmp_path / "new.mp4")
    after = probe(tmp_path / "new.mp4")
    assert (after.width, after.height, len(after.times)) == (*size, 6)
    assert min(psnr(a, b) for a, b in zip(probe(src.path).lumas, after.lumas, strict=True)) >= 40


@pytest.mark.parametrize("size", [(8, 8), (64, 10), (80, 16), (640, 16)])
def test_a_tiny_or_strip_like_film_is_smoothed_without_optical_flow(clip, colour, tmp_path, size):
    """Optical flow needs a frame of some size (OpenCV fails, or even crashes, below it): these films are
    linked as if still instead, with every frame kept."""
    src = clip("strip.mkv", width=size[0], height=size[1], frames=4, audio=())
    colour(src.path, tmp_path / "new.mkv", temporal="flow")
    assert (probe(tmp_path / "new.mkv").width, len(probe(tmp_path / "new.mkv").times)) == (size[0], 4)


def test_an_intact_mkv_starting_late_with_longer_sound_is_not_called_damaged(clip, colour, tmp_path):
    """Matroska gives no stream its own duration, and the file's spans every stream from time 0."""
    src = clip("late.mkv", times_ms=[5000 + 40 * i for i in range(12)], audio=())
    _, warnings = colour(src.path, tmp_path / "new.mkv")
    assert warnings == []
    with av.open(str(tmp_path / "sound.mkv"), "w") as out:  # 0.48 s of picture, 0.8 s of sound
        video, sound = out.add_stream("libx264", rate=25), out.add_stream("pcm_s16le", rate=48000, layout="mono")
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        for i in range(12):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64), 30 + 15 * i, np.uint8), format="gray")
            frame.pts = i
            out.mux(video.encode(frame.reformat(format="yuv420p")))
        out.mux(video.encode())
        for start in range(0, 38400, 1024):
            samples = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.int16), format="s16", layout="mono")
            samples.sample_rate, samples.pts = 48000, start
            out.mux(sound.encode(samples))
    _, warnings = colour(tmp_path / "sound.mkv", tmp_path / "new_sound.mkv")
    assert warnings == []


def test_a_full_range_film_keeps_its_brightness(clip, colour, tmp_path):
    src = clip("mjpeg.mkv", video_codec="mjpeg", pix_fmt="yuvj420p", audio=())  # JPEG range: Y in 0-255
    colour(src.path, tmp_path / "new.mp4")  # written as standard limited-range video
    before, after = probe(src.path), probe(tmp_path / "new.mp4")  # both read back as limited range
    scores = [psnr(a, b) for a, b in zip(before.lumas, after.lumas, strict=True)]
    # 256 levels squeezed into 220 are requantised before encoding, so one frame may dip a little below 40
    assert np.mean(scores) >= 40 and min(scores) >= 39


def test_the_batch_size_changes_nothing_but_rounding(clip, colour, tmp_path):
    src = clip("old.mp4", frames=11, audio=())
    colour(src.path, tmp_path / "one.mp4", batch_size=1, crf=0)  # lossless: no encoder noise
    colour(src.path, tmp_path / "four.mp4", batch_size=4, crf=0)
    one, four = probe(tmp_path / "one.mp4"), probe(tmp_path / "four.mp4")
    # float sums differ with the batch shape, so a chroma value may round the other way
    assert all(abs(a - b).max() <= 2 for a, b in zip(one.chroma, four.chroma, strict=True))
    assert all((a == b).all() for a, b in zip(probe(src.path).lumas, one.lumas, strict=True))


@pytest.mark.parametrize("batch_size", [1, 4])
def test_the_temporal_smoother_sees_every_frame_once_in_film_order(clip, colour, tmp_path, monkeypatch, batch_size):
    seen: list[float] = []

    class Recorder(NoSmoothing):
        def __call__(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
            seen.extend(L[:, 0, :, 10].mean(dim=1).tolist())  # a column the moving disc crosses
            return ab

    monkeypatch.setattr("vidcolor.film.pipeline.make_smoother", lambda mode, window: Recorder())
    src = clip("old.mp4", frames=10, audio=())
    colour(src.path, tmp_path / "new.mp4", batch_size=batch_size)
    disc = [i for i, value in enumerate(seen) if value > max(seen) - 5]
    assert len(seen) == 10 and disc == [2, 3, 4, 5]  # the disc passes x=10 in frames 2-5


def test_a_caller_can_follow_the_progress_frame_by_frame(clip, colour, tmp_path):
    src = clip("old.mp4", frames=40, audio=())
    done: list[int] = []
    colour(src.path, tmp_path / "new.mp4", batch_size=4, window=3, on_frames=done.append)
    assert sum(done) == 40 and len(done) >= 3 and all(n > 0 for n in done)


def test_colouring_a_film_gives_torch_its_thread_count_back(clip, colour, tmp_path):
    """The model runs in worker threads with a share of torch's threads each; the caller's count returns."""
    before = torch.get_num_threads()
    colour(clip("old.mp4", frames=12, audio=()).path, tmp_path / "new.mp4")
    assert torch.get_num_threads() == before


def test_the_film_model_workers_share_out_every_core_of_any_machine():
    before = torch.get_num_threads()
    try:
        for cores in range(1, 17):
            torch.set_num_threads(cores)
            workers, each = model_workers(torch.device("cpu"))
            assert workers * each == cores and 1 <= workers <= 4
        assert model_workers(torch.device("cuda"))[0] == 1  # a GPU takes one batch at a time
    finally:
        torch.set_num_threads(before)


def test_without_a_batch_size_a_gpu_takes_bigger_batches_than_a_cpu():
    assert VideoOptions().batch_for(torch.device("cpu")) == 8
    assert VideoOptions().batch_for(torch.device("cuda")) == 16
    assert VideoOptions(batch_size=5).batch_for(torch.device("cuda")) == 5


def test_a_saturation_outside_what_makes_sense_is_refused(clip, tmp_path):
    src = clip("old.mp4", frames=4)
    with pytest.raises(UserError, match="saturation must be between 0 and 3"):
        colorize_video(src.path, tmp_path / "new.mp4", saturation=-1.0, quiet=True)
    assert not (tmp_path / "new.mp4").exists()


def test_a_photo_handed_to_the_film_api_is_refused_not_made_into_a_one_frame_film(tmp_path):
    photo = tmp_path / "portrait.jpg"
    write_image(photo, landscape(0))
    with pytest.raises(UserError, match="a photo, not a film"):
        colorize_video(photo, tmp_path / "portrait.mp4", quiet=True)
    assert not (tmp_path / "portrait.mp4").exists()


def test_every_smoothing_mode_the_command_line_offers_exists():
    for mode in TEMPORAL_MODES:
        make_smoother(mode)


def test_the_input_film_is_never_modified(clip, colour, tmp_path):
    src = clip("old.mp4")
    digest = hashlib.sha256(src.path.read_bytes()).hexdigest()
    colour(src.path, tmp_path / "new.mkv")
    assert hashlib.sha256(src.path.read_bytes()).hexdigest() == digest


# --- sound and metadata ----------------------------------------------------------------------

def test_aac_and_mp3_soundtracks_are_both_kept_untouched(clip, colour, tmp_path):
    src = clip("two_tracks.mp4", frames=24, audio=("aac", "mp3"))
    _, warnings = colour(src.path, tmp_path / "new.mp4")
    before, after = probe(src.path), probe(tmp_path / "new.mp4")
    assert after.audio_codecs == ["aac", "mp3"]
    assert after.audio_seconds == pytest.approx(before.audio_seconds, abs=0.01)
    assert warnings == []


def test_sound_a_webm_cannot_hold_is_re_encoded_to_opus_with_a_warning(clip, colour, tmp_path):
    src = clip("two_tracks.mp4", frames=24, audio=("aac", "mp3"))
    _, warnings = colour(src.path, tmp_path / "new.webm")
    after = probe(tmp_path / "new.webm")
    assert after.audio_codecs == ["opus", "opus"]
    assert after.audio_seconds == pytest.approx([1.0, 1.0], abs=0.05)
    assert len(warnings) == 2 and all("re-encoding it to libopus" in w for w in warnings)


@pytest.mark.parametrize(("name", "codec", "layout", "output", "encoder"), [
    ("lossless.mkv", "flac", "stereo", "new.mov", "aac"),  # .mov refuses FLAC only when its header is written
    ("capture.mkv", "pcm_s16le", "stereo", "new.mp4", "aac"),  # PCM with no channel layout: refused at the end
    ("dvd.mkv", "ac3", "5.1(side)", "new.webm", "opus"),  # Opus takes 5.1, not DVD's 5.1(side)
])
def test_sound_a_container_refuses_late_is_re_encoded_from_the_start(clip, colour, tmp_path, name, codec, layout,
                                                                      output, encoder):
    src = clip(name, frames=24, audio=(codec,), layout=layout)
    _, warnings = colour(src.path, tmp_path / output)
    after = probe(tmp_path / output)
    assert after.audio_codecs == [encoder] and len(after.times) == 24
    assert after.audio_seconds == pytest.approx(probe(src.path).audio_seconds, abs=0.05)
    assert len(warnings) == 1 and f"re-encoding it to {'lib' if encoder == 'opus' else ''}{encoder}" in warnings[0]


def test_an_avi_film_with_b_frames_keeps_its_frame_times(clip, colour, tmp_path):
    """AVI stores no presentation times: B-frames come out of the decoder with times in decoding order."""
    src = clip("capture.avi", frames=24, audio=())
    decoded = probe(src.path).times
    assert decoded != sorted(decoded)  # what the pipeline is handed
    _, warnings = colour(src.path, tmp_path / "new.mp4")
    assert [float(t) for t in probe(tmp_path / "new.mp4").times] == pytest.approx(sorted(decoded), abs=1e-3)
    assert warnings == []


def test_a_lossless_master_keeps_every_bit_of_luma(clip, colour, tmp_path):
    src = clip("scan.mp4", frames=12, audio=())
    colour(src.path, tmp_path / "master.mkv", codec="ffv1")
    before, after = probe(src.path), probe(tmp_path / "master.mkv")
    assert_same_timing(src, tmp_path / "master.mkv")
    assert all((a == b).all() for a, b in zip(before.lumas, after.lumas, strict=True))
    assert min(c.mean() for c in after.chroma) > 5
    with pytest.raises(UserError, match="lossless"):
        colour(src.path, tmp_path / "master.mp4", codec="ffv1")


def lossless_scan(path: Path, pix_fmt: str = "yuv420p10le", width: int = 96, height: int = 64,
                  frames: int = 8) -> list[np.ndarray]:
    """A lossless black-and-white film (FFV1) of limited-range luma with detail in every bit; returns its Y planes."""
    shift = 2 if "10" in pix_fmt else 0
    yy, xx = np.mgrid[0:height, 0:width]
    lumas = [((16 << shift) + (3 * xx + 5 * yy + i) % (219 << shift)).astype(np.uint16) for i in range(frames)]
    with av.open(str(path), "w") as out:
        video = out.add_stream("ffv1", rate=24)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.codec_context.color_range = 1  # limited, as film is
        for i, y in enumerate(lumas):
            frame = av.VideoFrame(width, height, pix_fmt)
            for view, value in zip(planes(frame), (y, 128 << shift, 128 << shift)[:len(frame.planes)], strict=True):
                view[...] = value
            frame.pts, frame.color_range = i, 1
            out.mux(video.encode(frame))
        out.mux(video.encode())
    return lumas


def deep_lumas(path: Path) -> tuple[str, list[np.ndarray]]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    return frames[0].format.name, [planes(f)[0].copy() for f in frames]


def test_a_10_bit_scan_keeps_its_10_bit_luma(colour, tmp_path):
    scan = tmp_path / "scan.mkv"
    lumas = lossless_scan(scan)

    _, warnings = colour(scan, tmp_path / "master.mkv", codec="ffv1")
    fmt, kept = deep_lumas(tmp_path / "master.mkv")
    assert fmt == "yuv420p10le" and warnings == []
    assert all((a == b).all() for a, b in zip(lumas, kept, strict=True))  # to the last of the 10 bits
    assert min(c.mean() for c in probe(tmp_path / "master.mkv").chroma) > 5

    colour(scan, tmp_path / "access.mp4")  # H.264 at CRF 18, in 10 bits
    fmt, coded = deep_lumas(tmp_path / "access.mp4")
    assert fmt == "yuv420p10le"
    assert min(psnr(a / 4, b / 4) for a, b in zip(lumas, coded, strict=True)) >= 40

    _, warnings = colour(scan, tmp_path / "phone.mp4", max_bits=8)  # for players without 10-bit H.264
    assert deep_lumas(tmp_path / "phone.mp4")[0] == "yuv420p" and warnings == []

    _, warnings = colour(scan, tmp_path / "web.webm")
    assert deep_lumas(tmp_path / "web.webm")[0] == "yuv420p"
    expected = ("the film's 10-bit picture is written in 8 bits (libvpx-vp9 here writes 8; libx264, libx265 and ffv1 "
                "write 10)")
    assert warnings == [expected]


@pytest.mark.parametrize(("pix_fmt", "codec", "name"), [("yuv420p10le", "libx264", "master.mp4"),
                                                      ("yuv420p10le", "libx265", "master.mkv"),
                                                      ("yuv420p", "libvpx-vp9", "master.webm")])
def test_crf_0_keeps_the_luma_bit_for_bit_whatever_the_codec(colour, tmp_path, pix_fmt, codec, name):
    """x264's CRF 0 is lossless only in 8 bits; x265's and VP9's never: CRF 0 asks each for its lossless mode."""
    scan = tmp_path / "scan.mkv"
    lumas = lossless_scan(scan, pix_fmt, frames=4)
    colour(scan, tmp_path / name, codec=codec, crf=0, temporal="none")
    assert all((a == b).all() for a, b in zip(lumas, deep_lumas(tmp_path / name)[1], strict=True))


@pytest.mark.parametrize(("pix_fmt", "width"), [("yuv422p10le", 100), ("gray", 96), ("gray10le", 96)])
def test_a_master_in_another_layout_keeps_its_luma_bit_for_bit(colour, tmp_path, pix_fmt, width):
    """4:2:2 (ProRes, DNxHR) and grey-only scans: their luma goes through unchanged, levels and all."""
    scan = tmp_path / "scan.mkv"
    lumas = lossless_scan(scan, pix_fmt, width=width, frames=12)
    colour(scan, tmp_path / "master.mkv", codec="ffv1")
    assert all((a == b).all() for a, b in zip(lumas, deep_lumas(tmp_path / "master.mkv")[1], strict=True))


def test_a_16_bit_grey_scan_keeps_its_whites_in_an_8_bit_access_copy(colour, tmp_path):
    scan = tmp_path / "scan.mkv"
    lumas = lossless_scan(scan, "gray16le", frames=4)  # detail below 8 bits...
    white = np.full((64, 96), 65535, np.uint16)  # ...and a frame of peak white, which rounds up past 8 bits
    with av.open(str(scan), "w") as out:
        video = out.add_stream("ffv1", rate=24)
        video.width, video.height, video.pix_fmt = 96, 64, "gray16le"
        video.codec_context.color_range = 1
        for i, y in enumerate([*lumas, white]):
            frame = av.VideoFrame(96, 64, "gray16le")
            planes(frame)[0][...] = y
            frame.pts, frame.color_range = i, 1
            out.mux(video.encode(frame))
        out.mux(video.encode())
    _, warnings = colour(scan, tmp_path / "access.mkv", codec="ffv1", max_bits=8)
    fmt, kept = deep_lumas(tmp_path / "access.mkv")
    assert fmt == "yuv420p" and warnings == []
    assert (kept[-1] == 255).all()  # white stays white, not wrapped round to black
    assert all((np.abs(a.astype(int) / 256 - b) <= 0.5 + 1e-9).all() for a, b in zip(lumas, kept, strict=False))


def test_a_full_range_colour_film_kept_with_skip_color_keeps_its_levels(clip, colour, tmp_path):
    src = clip("phone.mp4", frames=12, colour=True, pix_fmt="yuvj420p", audio=())
    colour(src.path, tmp_path / "kept.webm", skip_color=True)  # VP9: re-encoded, not copied
    before, after = probe(src.path), probe(tmp_path / "kept.webm")
    assert min(psnr(a, b) for a, b in zip(before.lumas, after.lumas, strict=True)) >= 40


def test_an_interlaced_film_stays_interlaced_with_its_field_order(clip, colour, tmp_path):
    src = tmp_path / "broadcast.mp4"  # top field first, like most HD broadcast and DV-to-H.264 transfers
    write_film(src, frames=6, options={"flags": "+ildct+ilme", "x264-params": "tff=1"})
    colour(src, tmp_path / "new.mp4")
    with av.open(str(tmp_path / "new.mp4")) as film:
        assert film.streams.video[0].codec_context.field_order == 2  # AV_FIELD_TT
        assert all(frame.interlaced_frame for frame in film.decode(video=0))
    progressive = clip("old.mp4", audio=())
    colour(progressive.path, tmp_path / "progressive.mp4")
    with av.open(str(tmp_path / "progressive.mp4")) as film:
        assert not any(frame.interlaced_frame for frame in film.decode(video=0))


def test_a_dv_tape_capture_keeps_its_frame_rate_and_its_bottom_field_first_interlacing(colour, tmp_path):
    src = tmp_path / "tape.dv"  # FFmpeg reads a raw DV file as 60000 fps, its fields unstated
    write_film(src, codec="dvvideo", size=(720, 576), container_format="dv")
    colour(src, tmp_path / "tape.mp4")
    with av.open(str(tmp_path / "tape.mp4")) as film:
        assert film.streams.video[0].average_rate == 25
        assert film.streams.video[0].codec_context.field_order == 3  # AV_FIELD_BB
        assert sum(frame.interlaced_frame for frame in film.decode(video=0)) == 5


def test_hevc_in_mp4_is_tagged_for_apple_players(clip, colour, tmp_path):
    src = clip("old.mp4", audio=())
    colour(src.path, tmp_path / "new.mp4", codec="libx265")
    with av.open(str(tmp_path / "new.mp4")) as film:
        assert film.streams.video[0].codec_context.codec_tag == "hvc1"
        assert film.streams.video[0].frames == 12


def test_a_film_keeps_its_timecode(colour, tmp_path):
    src = tmp_path / "reel.mov"
    write_film(src, tags={"timecode": "01:00:00:00"})  # the .mov muxer adds a timecode track from it
    for name in ("new.mov", "new.mkv"):
        _, warnings = colour(src, tmp_path / name)
        assert warnings == []
        with av.open(str(tmp_path / name)) as film:
            tags = {k.lower(): v for k, v in film.streams.video[0].metadata.items()}
        assert tags["timecode"] == "01:00:00:00"
    colour(tmp_path / "new.mkv", tmp_path / "again.mov")  # Matroska spells the tag TIMECODE
    with av.open(str(tmp_path / "again.mov")) as film:
        assert film.streams.video[0].metadata["timecode"] == "01:00:00:00"


def test_sound_tracks_keep_their_names(colour, tmp_path):
    src = tmp_path / "interview.mp4"
    with av.open(str(src), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream("aac", rate=48000, layout="mono")
        sound.metadata.update(language="fra", title="Commentary")  # the MP4 reader calls it "name"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode())
        for start in range(0, 9600, 1024):
            samples = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            samples.sample_rate, samples.pts = 48000, start
            out.mux(sound.encode(samples))
        out.mux(sound.encode())
    for name in ("new.mp4", "new.mkv"):
        colour(src, tmp_path / name)
        with av.open(str(tmp_path / name)) as film:
            tags = film.streams.audio[0].metadata
        assert tags["language"] == "fra" and tags.get("name", tags.get("title")) == "Commentary"


def test_chapters_are_kept_and_the_film_beside_a_small_proxy_is_the_one_coloured(colour, tmp_path):
    src = tmp_path / "wedding.mkv"
    with av.open(str(src), "w") as out:
        proxy, film = (out.add_stream("libx264", rate=25) for _ in range(2))
        for stream, (w, h) in ((proxy, (32, 24)), (film, (128, 96))):
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(6):
            for stream in (proxy, film):
                frame = av.VideoFrame.from_ndarray(np.full((stream.height, stream.width, 3), 40 * i, np.uint8),
                                                   format="rgb24")
                frame.pts = i
                out.mux(stream.encode(frame))
        out.mux(proxy.encode())
        out.mux(film.encode())
        out.set_chapters([{"id": n, "start": 120 * n, "end": 120 * (n + 1), "time_base": Fraction(1, 1000),
                           "metadata": {"title": title}} for n, title in enumerate(["Church", "Dance"])])
    _, warnings = colour(src, tmp_path / "new.mp4")
    assert any("video stream #0" in w for w in warnings)  # the proxy is the one left out
    with av.open(str(tmp_path / "new.mp4")) as kept:
        assert (kept.streams.video[0].width, kept.streams.video[0].height) == (128, 96)
        assert [c["metadata"]["title"] for c in kept.chapters()] == ["Church", "Dance"]


def test_a_silent_film_comes_out_silent(clip, colour, tmp_path):
    src = clip("silent.mp4", audio=())
    colour(src.path, tmp_path / "new.mov")
    after = probe(tmp_path / "new.mov")
    assert after.audio_codecs == [] and len(after.times) == 12


def test_a_phone_video_keeps_its_rotation(clip, colour, tmp_path):
    src = clip("phone.mp4", rotation=90)
    colour(src.path, tmp_path / "new.mp4")
    assert probe(tmp_path / "new.mp4").rotation == 90


def test_title_and_creation_date_are_carried_over(clip, colour, tmp_path):
    tags = {"title": "Grandpa's wedding", "creation_time": "2024-05-01T10:00:00.000000Z"}
    src = clip("tagged.mp4", metadata=tags)
    for name in ("new.mp4", "new.mkv"):
        colour(src.path, tmp_path / name)
        assert tags.items() <= probe(tmp_path / name).metadata.items()


# --- damaged films -----------------------------------------------------------------------------

def test_a_corrupt_frame_in_the_middle_is_skipped_with_a_warning(clip, colour, tmp_path):
    src = clip("damaged.mkv", video_codec="mjpeg", pix_fmt="yuvj420p", corrupt_frame=5)
    result, warnings = colour(src.path, tmp_path / "new.mp4")
    times = probe(tmp_path / "new.mp4").times
    assert result.frames == len(times) == 11
    assert all(abs(float(a - b)) <= MS for a, b in zip(src.times[:5] + src.times[6:], times, strict=True))
    assert any("undecodable video packet" in w for w in warnings)


def test_broken_audio_packets_do_not_stop_the_film(clip, colour, tmp_path):
    src = clip("bad_sound.mp4", frames=24, audio=("mp3",), corrupt_audio_packet=10)
    result, warnings = colour(src.path, tmp_path / "new.webm")  # webm: the mp3 must be decoded
    assert result.frames == len(probe(tmp_path / "new.webm").times) == 24
    assert any("undecodable audio packet" in w for w in warnings)


def test_a_film_cut_short_still_comes_out_with_every_readable_frame(clip, colour, tmp_path):
    src = clip("cut.mkv", frames=48)
    data = src.path.read_bytes()
    src.path.write_bytes(data[: len(data) // 2])
    result, warnings = colour(src.path, tmp_path / "new.mp4")
    assert 0 < result.frames < 48
    assert result.frames == len(probe(tmp_path / "new.mp4").times)
    assert any("cut short" in w for w in warnings)


def test_a_raw_stream_spliced_from_two_sizes_comes_out_whole_at_its_first_size(colour, tmp_path):
    """A raw H.264 stream has no timestamps (given quietly); its frames of another size are scaled, and said."""
    spliced = b""
    for width, height in ((64, 48), (96, 72)):
        with av.open(str(tmp_path / "part.h264"), "w", format="h264") as out:
            video = out.add_stream("libx264", rate=25)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            for i in range(6):
                frame = av.VideoFrame.from_ndarray(np.full((height, width), 40 + 20 * i, np.uint8), format="gray")
                frame.pts = i
                out.mux(video.encode(frame.reformat(format="yuv420p")))
            out.mux(video.encode())
        spliced += (tmp_path / "part.h264").read_bytes()
    (tmp_path / "reel.h264").write_bytes(spliced)
    result, warnings = colour(tmp_path / "reel.h264", tmp_path / "new.mp4")
    after = probe(tmp_path / "new.mp4")
    assert result.frames == len(after.times) == 12 and (after.width, after.height) == (64, 48)
    assert warnings[0] == "scaled odd-sized frame (96x72 at 0.24 s; the film is 64x48)"
    assert warnings[-1] == "scaled 6 odd-sized frames in all" and len(warnings) == 4


# --- colour films ------------------------------------------------------------------------------

def test_a_colour_film_is_coloured_again_from_its_luma_with_a_warning(clip, colour, tmp_path):
    src = clip("colour.mp4", colour=True)
    result, warnings = colour(src.path, tmp_path / "new.mp4")
    assert result.frames == 12
    assert any("already in colour" in w for w in warnings)
    assert min(psnr(a, b) for a, b in zip(probe(src.path).lumas, probe(tmp_path / "new.mp4").lumas,
                                          strict=True)) >= 40


@pytest.mark.parametrize("tint", [(1.0, 0.8, 0.55), (0.55, 0.7, 1.0)])  # amber day, blue night
def test_a_tinted_silent_film_is_black_and_white_to_us(colour, tmp_path, tint):
    src = tmp_path / "tinted.mp4"
    write_film(src, frames=6,
               picture=lambda i: (landscape(i, 48, 64).mean(axis=2, keepdims=True) * np.array(tint)).astype(np.uint8))
    _, warnings = colour(src, tmp_path / "new.mp4")
    assert not any("already in colour" in w for w in warnings)


@pytest.mark.parametrize("name", ["kept.mov", "kept.webm"])  # .mov: copied as is; .webm: re-encoded
def test_skip_color_leaves_a_colour_film_as_it_is(clip, colour, tmp_path, name):
    src = clip("colour.mp4", colour=True)
    _, warnings = colour(src.path, tmp_path / name, model="no-such-model", skip_color=True)  # no model needed
    before, after = probe(src.path), probe(tmp_path / name)
    assert_same_timing(src, tmp_path / name)
    assert min(psnr(a, b) for a, b in zip(before.chroma, after.chroma, strict=True)) >= 30
    assert any("keeping its colours" in w for w in warnings)


def test_skip_color_still_colours_a_black_and_white_film(clip, colour, tmp_path):
    src = clip("old.mp4")
    colour(src.path, tmp_path / "new.mp4", skip_color=True)
    assert min(c.mean() for c in probe(tmp_path / "new.mp4").chroma) > 5


# --- nothing lost ------------------------------------------------------------------------------

class OnSecondBatch(Colorizer):
    """A colorizer during whose second batch something happens: it breaks, it is interrupted, another run..."""

    def __init__(self, base: Colorizer, event: Callable[[], None]) -> None:
        super().__init__(base.model, base.meta, base.device, base.working_size)
        self.event, self.calls = event, 0

    def predict_low(self, L: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls += 1
        if self.calls == 2:
            self.event()
        return super().predict_low(L)


def raising(error: BaseException) -> Callable[[], None]:
    def event() -> None:
        raise error
    return event


@pytest.mark.parametrize("error", [RuntimeError("model exploded"), KeyboardInterrupt()])
def test_a_failure_half_way_leaves_nothing_behind(clip, colorizer, tmp_path, error):
    src = clip("old.mp4", frames=24)
    with pytest.raises(type(error)):
        colorize_video(src.path, tmp_path / "new.mp4", model=OnSecondBatch(colorizer, raising(error)), batch_size=4,
                       quiet=True)
    assert files_in(tmp_path) == {"old.mp4"}


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])  # a scheduler's kill; a closed terminal
def test_a_run_stopped_from_outside_leaves_nothing_behind(clip, model_file, tmp_path, stop):
    src = clip("old.mp4", width=160, height=120, frames=480)
    cmd = [sys.executable, "-m", "vidcolor", "run", str(src.path), "-o", str(tmp_path / "new.mp4"),
           "--model", str(model_file), "--quiet"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size for p in tmp_path.glob(".new.partial-*")):  # frames are being written
        assert time.monotonic() < deadline and proc.poll() is None, "the run ended before it could be stopped"
        time.sleep(0.05)
    proc.send_signal(stop)
    assert proc.wait(timeout=60) == 128 + stop and f"stopped by {stop.name}" in proc.stderr.read()
    assert files_in(tmp_path) == {"old.mp4"}


def test_a_film_run_killed_outright_leaves_a_hidden_file_that_the_next_run_into_the_folder_sweeps(
        clip, model_file, tmp_path):
    src = clip("old.mp4", width=160, height=120, frames=480)
    cmd = [sys.executable, "-m", "vidcolor", "run", str(src.path), "-o", str(tmp_path / "new.mp4"),
           "--model", str(model_file), "--quiet"]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size for p in tmp_path.glob(".new.partial-*")):  # frames are being written
        assert time.monotonic() < deadline and proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    proc.kill()  # kill -9, as the OOM killer would: nothing can clean up
    proc.wait(timeout=60)
    assert any(tmp_path.glob(".new.partial-*"))
    short = clip("short.mp4", frames=6)
    assert cli(short.path, "-o", tmp_path / "short_color.mp4", "--model", model_file, "--quiet").exit_code == 0
    assert files_in(tmp_path) == {"old.mp4", "short.mp4", "short_color.mp4"}


def test_the_temporary_file_of_a_run_still_writing_is_never_swept(tmp_path):
    writer = ("import sys; from pathlib import Path; from vidcolor.utils.atomic import written_atomically\n"
              "with written_atomically(Path(sys.argv[1])) as tmp:\n"
              "    tmp.write_bytes(b'half a film'); print(tmp, flush=True); sys.stdin.read()\n")
    other = subprocess.Popen([sys.executable, "-c", writer, str(tmp_path / "theirs.mp4")], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    theirs = Path(other.stdout.readline().strip())
    sweep_stale(tmp_path)  # as a run starting meanwhile in the same folder does
    assert theirs.exists()
    other.communicate("", timeout=30)  # it finishes
    assert files_in(tmp_path) == {"theirs.mp4"}


def test_an_output_another_run_finishes_meanwhile_is_kept(clip, colorizer, tmp_path):
    src = clip("old.mp4", frames=24)
    other_run = OnSecondBatch(colorizer, lambda: (tmp_path / "new.mp4").write_bytes(b"the other run's film"))
    with pytest.raises(UserError, match="appeared while this run was writing it"):
        colorize_video(src.path, tmp_path / "new.mp4", model=other_run, batch_size=4, quiet=True)
    assert (tmp_path / "new.mp4").read_bytes() == b"the other run's film"
    assert files_in(tmp_path) == {"old.mp4", "new.mp4"}


def test_an_input_named_like_a_temporary_file_is_read_not_written(clip, colour, tmp_path):
    """e.g. what a killed run of an older version left: `.new.partial.mp4` beside the `new.mp4` asked for."""
    src = clip(".new.partial.mp4", frames=12)
    before = hashlib.sha256(src.path.read_bytes()).hexdigest()
    colour(src.path, tmp_path / "new.mp4")
    assert hashlib.sha256(src.path.read_bytes()).hexdigest() == before
    assert len(probe(tmp_path / "new.mp4").times) == 12


def test_an_existing_output_is_replaced_only_when_asked(clip, colour, tmp_path):
    src = clip("old.mp4")
    (tmp_path / "new.mp4").write_bytes(b"precious")
    with pytest.raises(UserError, match="already exists"):
        colour(src.path, tmp_path / "new.mp4")
    assert (tmp_path / "new.mp4").read_bytes() == b"precious"
    colour(src.path, tmp_path / "new.mp4", overwrite=True)
    assert len(probe(tmp_path / "new.mp4").times) == 12
    assert files_in(tmp_path) == {"old.mp4", "new.mp4"}


# --- the command line ------------------------------------------------------------------------

def test_the_command_line_colours_a_film_and_reports_frames_speed_and_output(clip, model_file, tmp_path):
    src = clip("old.mp4", frames=24)
    result = cli(src.path, "-o", tmp_path / "new.mp4", "--model", model_file, "--batch-size", "5", "--crf", "20")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"24 frames in [\d.]+ s \([\d.]+ fps\) -> .*new\.mp4$", result.stderr.strip())
    assert len(probe(tmp_path / "new.mp4").times) == 24


def test_quiet_prints_nothing_at_all(clip, model_file, tmp_path):
    src = clip("old.mp4")
    result = cli(src.path, "-o", tmp_path / "new.mkv", "--model", model_file, "--quiet")
    assert result.exit_code == 0 and result.stderr == ""


def _refusal_cases(tmp_path: Path, src: Clip) -> dict[str, tuple[list[Any], str]]:
    """name -> (arguments after `run`, what the one line must say)."""
    empty = tmp_path / "empty.mp4"
    empty.touch()
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a film\n" * 50)
    song = tmp_path / "song.m4a"
    import av  # a sound-only file: no video stream
    with av.open(str(song), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=44100)
        frame = av.AudioFrame(format="fltp", layout="stereo", samples=1024)
        frame.sample_rate = 44100
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(src.path.read_bytes()[: src.path.stat().st_size // 2])  # index (moov) is at the end
    exists = tmp_path / "exists.mp4"
    exists.write_bytes(b"keep me")
    out = tmp_path / "out.mp4"
    return {
        "missing file": ([tmp_path / "nope.mp4", "-o", out], "no such file"),
        "empty file": ([empty, "-o", out], "empty"),
        "not a media file": ([text, "-o", out], "not a video file"),
        "no video stream": ([song, "-o", out], "no video stream"),
        "truncated beyond use": ([cut, "-o", out], "damaged beyond use"),
        "output exists": ([src.path, "-o", exists], "already exists"),
        "output is the input": ([src.path, "-o", src.path, "--overwrite"], "overwrite the input"),
        "missing output folder": ([src.path, "-o", tmp_path / "nowhere" / "out.mp4"], "does not exist"),
        "unknown container": ([src.path, "-o", tmp_path / "out.avi"], "must end in"),
        "codec the container cannot hold": ([src.path, "-o", tmp_path / "out.webm", "--codec", "libx264"],
                                           "cannot go into a .webm"),
        "crf out of range for x264": ([src.path, "-o", out, "--crf", "60"], "between 0 and 51"),
        "unknown model": ([src.path, "-o", out, "--model", "no-such-model"], "unknown model"),
    }


REFUSALS = ["missing file", "empty file", "not a media file", "no video stream", "truncated beyond use",
            "output exists", "output is the input", "missing output folder", "unknown container",
            "codec the container cannot hold", "crf out of range for x264", "unknown model"]


@pytest.mark.parametrize("case", REFUSALS)
def test_a_bad_request_is_refused_with_one_clear_line_and_nothing_written(clip, tmp_path, case):
    src = clip("old.mp4")
    args, message = _refusal_cases(tmp_path, src)[case]
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    result = cli(*args)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("vidcolor: "), result.stderr
    assert message in result.stderr
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing new, nothing changed


@pytest.mark.parametrize("option", [["--batch-size", "0"], ["--crf", "good"], ["--temporal", "warp"],
                                    ["--codec", "divx"], ["--preset", "warp"], ["--window", "-1"],
                                    ["--window", "1000"]])
def test_a_malformed_option_is_a_usage_error(clip, tmp_path, option):
    src = clip("old.mp4")
    result = cli(src.path, "-o", tmp_path / "out.mp4", *option)
    assert result.exit_code == 2 and option[0] in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "(see vidcolor run --help)" in result.stderr  # one line
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("args", [["frames", "--every", "0"], ["frames", "--every", "-1"],
                                  ["eval", "--max-frames", "0"], ["eval", "--max-frames", "-3"]])
def test_a_frame_count_below_one_is_a_usage_error_for_frames_and_eval(clip, tmp_path, args):
    src = clip("old.mp4", colour=True)
    result = CliRunner().invoke(main, [args[0], str(src.path), "-o", str(tmp_path / "out"), *args[1:]])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_frames_of_two_films_with_one_name_are_all_kept_and_never_written_over(clip, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    films = [clip("a/reel.mp4", frames=8, colour=True).path, clip("b/reel.mkv", frames=8, colour=True).path]
    result = CliRunner().invoke(main, ["frames", *map(str, films), "-o", str(tmp_path / "set"), "--every", "4"])
    assert result.exit_code == 0 and "4 frames written" in result.output
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == [
        "reel-1_000000.png", "reel-1_000004.png", "reel-2_000000.png", "reel-2_000004.png"]
    again = CliRunner().invoke(main, ["frames", *map(str, films), "-o", str(tmp_path / "set"), "--every", "4"])
    assert again.exit_code == 1 and "already exists (use --overwrite" in again.output


def test_frames_refuses_a_photo_rather_than_call_it_a_film(tmp_path):
    write_image(tmp_path / "portrait.jpg", landscape(0))
    result = CliRunner().invoke(main, ["frames", str(tmp_path / "portrait.jpg"), "-o", str(tmp_path / "set")])
    assert result.exit_code == 1 and "a photo, not a film" in result.output
    assert not (tmp_path / "set").exists()


def test_frames_of_a_phone_film_come_out_upright(clip, tmp_path):
    film = clip("phone.mp4", frames=2, colour=True, rotation=90, audio=())  # stored sideways, turned when shown
    result = CliRunner().invoke(main, ["frames", str(film.path), "-o", str(tmp_path / "set")])
    assert result.exit_code == 0, result.output
    with av.open(str(film.path)) as container:
        stored = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert stored.shape == (48, 64, 3)
    assert (read_image(tmp_path / "set" / "phone_000000.png") == np.rot90(stored)).all()  # 90° counter-clockwise


def test_names_made_apart_never_meet_another_film_or_a_case_twin():
    from vidcolor.utils.paths import distinct_stems

    assert distinct_stems([Path("a/clip.mp4"), Path("b/clip.mp4"), Path("clip-1.mp4")]) == ["clip-2", "clip-3",
                                                                                           "clip-1"]
    assert distinct_stems([Path("Reel.mp4"), Path("reel.mkv"), Path("x.mp4")]) == ["Reel-1", "reel-2", "x"]


def test_eval_scores_what_it_can_and_says_what_it_cannot(clip, model_file, tmp_path):
    (tmp_path / "reels").mkdir()
    clip("reels/strip.mp4", width=200, height=2, colour=True, audio=())  # too thin for optical flow
    clip("reels/still.mp4", frames=1, colour=True, audio=())  # one frame: no flicker to measure
    clip("reels/grey.mp4", audio=())  # black and white: no truth to score colours against
    (tmp_path / "reels" / "broken.mp4").write_bytes(b"not a film")
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "reels"), "--model", str(model_file), "-o",
                                       str(tmp_path / "report"), "--quiet"])
    assert result.exit_code == 1 and "1 of 4 could not be scored" in result.stderr
    assert "it/s" not in result.stderr and "item/s" not in result.stderr  # --quiet: no progress bars
    assert "not scored: " in result.stderr and "grey.mp4 is black and white" in result.stderr
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert {Path(item).name for item in report} == {"strip.mp4", "still.mp4", "grey.mp4"}
    assert "warp_error" not in report[str(tmp_path / "reels" / "strip.mp4")]
    assert "cdc" not in report[str(tmp_path / "reels" / "still.mp4")]


def test_an_eval_report_names_each_photo_apart_and_is_replaced_only_when_asked(model_file, tmp_path):
    for folder, seed in (("day", 1), ("night", 2)):
        (tmp_path / folder).mkdir()
        write_image(tmp_path / folder / "harbour.png", landscape(seed))
    command = ["eval", str(tmp_path / "day"), str(tmp_path / "night"), "--model", str(model_file),
               "-o", str(tmp_path / "report")]
    assert CliRunner().invoke(main, command).exit_code == 0
    assert {"harbour-1.png", "harbour-2.png", "report.json", "report.csv"} <= {p.name for p in
                                                                            (tmp_path / "report").iterdir()}
    again = CliRunner().invoke(main, command)
    assert again.exit_code == 1 and "holds a report already" in again.output
    assert CliRunner().invoke(main, [*command, "--overwrite"]).exit_code == 0
