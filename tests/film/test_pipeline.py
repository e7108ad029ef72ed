"""The film pipeline: every frame coloured, its own luma and timing kept, the options doing what they say."""
from __future__ import annotations

import hashlib

import av
import numpy as np
import pytest
import torch
from helpers.films import assert_same_timing, files_in, probe, psnr
from helpers.photos import landscape

from vidcolor import colorize_video
from vidcolor.film.options import VideoOptions
from vidcolor.film.painter import model_workers
from vidcolor.film.yuv import planes
from vidcolor.photo.write import write_image
from vidcolor.runtime.temporal import NoSmoothing, make_smoother
from vidcolor.utils.choices import TEMPORAL_MODES
from vidcolor.utils.errors import UserError


def test_a_black_and_white_film_comes_out_in_color_with_its_own_luma(clip, color, tmp_path):
    src = clip("old.mp4", frames=24)
    result, warnings = color(src.path, tmp_path / "new.mp4")
    before, after = probe(src.path), probe(tmp_path / "new.mp4")
    assert (after.width, after.height) == (before.width, before.height)
    assert result.frames == len(after.times) == 24
    assert min(psnr(a, b) for a, b in zip(before.lumas, after.lumas, strict=True)) >= 40
    assert max(c.mean() for c in before.chroma) < 1
    assert min(c.mean() for c in after.chroma) > 5
    assert warnings == []


def test_each_frame_gets_the_colors_it_would_get_as_a_photo(clip, color, colorizer, tmp_path):
    src = clip("old.mp4", frames=6, width=96, height=64)
    color(src.path, tmp_path / "new.mkv", temporal="none", crf=0)  # lossless: only our chroma differs
    with av.open(str(src.path)) as before, av.open(str(tmp_path / "new.mkv")) as after:
        for old, new in zip(before.decode(video=0), after.decode(video=0), strict=True):
            as_photo = av.VideoFrame.from_ndarray(colorizer.colorize_rgb(old.to_ndarray(format="rgb24")), "rgb24")
            # U/V only: a film keeps its luma Y', a photo its lightness L, which differ where colour is strong
            film_uv, photo_uv = (planes(f.reformat(format="yuv444p", dst_colorspace=new.colorspace))[1:]
                                 for f in (new, as_photo))
            assert all(np.abs(a.astype(int) - b).mean() < 1 for a, b in zip(film_uv, photo_uv, strict=True))


def test_every_frame_keeps_its_timestamp_and_the_film_its_duration(clip, color, tmp_path):
    src = clip("old.mp4", frames=30, fps=25)
    color(src.path, tmp_path / "new.mp4")
    assert_same_timing(src, tmp_path / "new.mp4")
    assert probe(tmp_path / "new.mp4").duration == pytest.approx(probe(src.path).duration, abs=0.01)


def test_a_variable_frame_rate_film_keeps_every_irregular_frame_time(clip, color, tmp_path):
    src = clip("vfr.mkv", times_ms=[0, 40, 80, 200, 240, 400, 420, 440, 600, 1000], audio=())
    for name in ("new.mp4", "new.mkv"):
        _, warnings = color(src.path, tmp_path / name)
        assert_same_timing(src, tmp_path / name)
        assert warnings == []  # fewer frames than length x nominal rate is no sign of damage here


@pytest.mark.parametrize("window", [1, 5, 30])
def test_look_ahead_smoothing_still_gives_back_every_frame_at_its_time(clip, color, tmp_path, window):
    src = clip("old.mp4", frames=23, fps=25)  # batches of 8 do not divide it; 30 frames is more than the film
    result, _ = color(src.path, tmp_path / "new.mp4", window=window, batch_size=8)
    assert result.frames == 23
    assert_same_timing(src, tmp_path / "new.mp4")
    assert min(c.mean() for c in probe(tmp_path / "new.mp4").chroma) > 5


def test_matroska_moves_a_film_whose_sound_starts_early_by_that_delay_and_keeps_sync(clip, color, tmp_path):
    # AAC starts 1024 samples before the picture; Matroska cannot store negative times, so
    # (like ffmpeg) the muxer moves everything by that much: intervals and sync stay exact.
    src = clip("old.mp4", frames=24)
    color(src.path, tmp_path / "new.mkv")
    assert_same_timing(src, tmp_path / "new.mkv", shift=1024 / 44100)


@pytest.mark.parametrize("size, source", [((65, 49), {}), ((64, 49), {}), ((66, 48), {}),
                                          ((65, 49), {"video_codec": "libvpx-vp9", "pix_fmt": "yuv420p"})])
def test_a_film_with_odd_dimensions_keeps_its_exact_size(clip, color, tmp_path, size, source):
    src = clip("odd.mkv", width=size[0], height=size[1], frames=6, audio=(), **source)
    color(src.path, tmp_path / "new.mp4")
    after = probe(tmp_path / "new.mp4")
    assert (after.width, after.height, len(after.times)) == (*size, 6)
    assert min(psnr(a, b) for a, b in zip(probe(src.path).lumas, after.lumas, strict=True)) >= 40


@pytest.mark.parametrize("size", [(8, 8), (64, 10), (80, 16), (640, 16)])
def test_a_tiny_or_strip_like_film_is_smoothed_without_optical_flow(clip, color, tmp_path, size):
    """Optical flow needs a frame of some size (OpenCV fails, or even crashes, below it): these films are
    linked as if still instead, with every frame kept."""
    src = clip("strip.mkv", width=size[0], height=size[1], frames=4, audio=())
    color(src.path, tmp_path / "new.mkv", temporal="flow")
    assert (probe(tmp_path / "new.mkv").width, len(probe(tmp_path / "new.mkv").times)) == (size[0], 4)


def test_a_film_too_small_for_the_codec_asked_is_refused_in_words_and_nothing_is_written(clip, color, tmp_path):
    src = clip("tiny.mkv", width=8, height=8, frames=3)  # with sound: its packets once hid the encoder's refusal
    with pytest.raises(UserError, match=r"^libx265 cannot encode this 8x8 film .*try another --codec$"):
        color(src.path, tmp_path / "new.mkv", codec="libx265")
    assert files_in(tmp_path) == {"tiny.mkv"}


def test_an_intact_mkv_starting_late_with_longer_sound_is_not_called_damaged(clip, color, tmp_path):
    """Matroska gives no stream its own duration, and the file's spans every stream from time 0."""
    src = clip("late.mkv", times_ms=[5000 + 40 * i for i in range(12)], audio=())
    _, warnings = color(src.path, tmp_path / "new.mkv")
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
    _, warnings = color(tmp_path / "sound.mkv", tmp_path / "new_sound.mkv")
    assert warnings == []


def test_a_full_range_film_keeps_its_brightness(clip, color, tmp_path):
    src = clip("mjpeg.mkv", video_codec="mjpeg", pix_fmt="yuvj420p", audio=())  # JPEG range: Y in 0-255
    color(src.path, tmp_path / "new.mp4")  # written as standard limited-range video
    before, after = probe(src.path), probe(tmp_path / "new.mp4")  # both read back as limited range
    scores = [psnr(a, b) for a, b in zip(before.lumas, after.lumas, strict=True)]
    # 256 levels squeezed into 220 are requantised before encoding, so one frame may dip a little below 40
    assert np.mean(scores) >= 40 and min(scores) >= 39


def test_the_batch_size_changes_nothing_but_rounding(clip, color, tmp_path):
    src = clip("old.mp4", frames=11, audio=())
    color(src.path, tmp_path / "one.mp4", batch_size=1, crf=0)  # lossless: no encoder noise
    color(src.path, tmp_path / "four.mp4", batch_size=4, crf=0)
    one, four = probe(tmp_path / "one.mp4"), probe(tmp_path / "four.mp4")
    # float sums differ with the batch shape, so a chroma value may round the other way
    assert all(abs(a - b).max() <= 2 for a, b in zip(one.chroma, four.chroma, strict=True))
    assert all((a == b).all() for a, b in zip(probe(src.path).lumas, one.lumas, strict=True))


@pytest.mark.parametrize("batch_size", [1, 4])
def test_the_temporal_smoother_sees_every_frame_once_in_film_order(clip, color, tmp_path, monkeypatch, batch_size):
    seen: list[float] = []

    class Recorder(NoSmoothing):
        def __call__(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
            seen.extend(L[:, 0, :, 10].mean(dim=1).tolist())  # a column the moving disc crosses
            return ab

    monkeypatch.setattr("vidcolor.film.pipeline.make_smoother", lambda mode, window: Recorder())
    src = clip("old.mp4", frames=10, audio=())
    color(src.path, tmp_path / "new.mp4", batch_size=batch_size)
    disc = [i for i, value in enumerate(seen) if value > max(seen) - 5]
    assert len(seen) == 10 and disc == [2, 3, 4, 5]  # the disc passes x=10 in frames 2-5


def test_a_caller_can_follow_the_progress_frame_by_frame(clip, color, tmp_path):
    src = clip("old.mp4", frames=40, audio=())
    done: list[int] = []
    color(src.path, tmp_path / "new.mp4", batch_size=4, window=3, on_frames=done.append)
    assert sum(done) == 40 and len(done) >= 3 and all(n > 0 for n in done)


def test_coloring_a_film_gives_torch_its_thread_count_back(clip, color, tmp_path):
    """The model runs in worker threads with a share of torch's threads each; the caller's count returns."""
    before = torch.get_num_threads()
    color(clip("old.mp4", frames=12, audio=()).path, tmp_path / "new.mp4")
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


def test_the_input_film_is_never_modified(clip, color, tmp_path):
    src = clip("old.mp4")
    digest = hashlib.sha256(src.path.read_bytes()).hexdigest()
    color(src.path, tmp_path / "new.mkv")
    assert hashlib.sha256(src.path.read_bytes()).hexdigest() == digest
