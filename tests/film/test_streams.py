"""What a film carries besides its picture: sound, subtitles, chapters, tags, depth, interlacing, rotation."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from helpers.films import assert_same_timing, probe, psnr, write_film

from vidcolor.film.probe import probe as probe_film
from vidcolor.film.yuv import planes
from vidcolor.utils.errors import UserError


def test_aac_and_mp3_soundtracks_are_both_kept_untouched(clip, color, tmp_path):
    src = clip("two_tracks.mp4", frames=24, audio=("aac", "mp3"))
    _, warnings = color(src.path, tmp_path / "new.mp4")
    before, after = probe(src.path), probe(tmp_path / "new.mp4")
    assert after.audio_codecs == ["aac", "mp3"]
    assert after.audio_seconds == pytest.approx(before.audio_seconds, abs=0.01)
    assert warnings == []


def test_sound_a_webm_cannot_hold_is_re_encoded_to_opus_with_a_warning(clip, color, tmp_path):
    src = clip("two_tracks.mp4", frames=24, audio=("aac", "mp3"))
    _, warnings = color(src.path, tmp_path / "new.webm")
    after = probe(tmp_path / "new.webm")
    assert after.audio_codecs == ["opus", "opus"]
    assert after.audio_seconds == pytest.approx([1.0, 1.0], abs=0.05)
    assert len(warnings) == 2 and all("re-encoding it to libopus" in w for w in warnings)


@pytest.mark.parametrize(("name", "codec", "layout", "output", "encoder"), [
    ("lossless.mkv", "flac", "stereo", "new.mov", "aac"),  # .mov refuses FLAC only when its header is written
    ("dvd.mkv", "ac3", "5.1(side)", "new.webm", "opus"),  # Opus takes 5.1, not DVD's 5.1(side)
])
def test_sound_a_container_refuses_late_is_re_encoded_from_the_start(clip, color, tmp_path, name, codec, layout,
                                                                      output, encoder):
    src = clip(name, frames=24, audio=(codec,), layout=layout)
    _, warnings = color(src.path, tmp_path / output)
    after = probe(tmp_path / output)
    assert after.audio_codecs == [encoder] and len(after.times) == 24
    assert after.audio_seconds == pytest.approx(probe(src.path).audio_seconds, abs=0.05)
    assert len(warnings) == 1 and f"re-encoding it to {'lib' if encoder == 'opus' else ''}{encoder}" in warnings[0]


@pytest.mark.parametrize("name", ["capture.mkv", "capture.avi"])
def test_a_captures_pcm_sound_stays_pcm_in_an_mp4(clip, color, tmp_path, name):
    """AVI and Matroska store PCM with no channel layout, which an MP4 refuses: it was re-encoded to AAC."""
    src = clip(name, frames=24, audio=("pcm_s16le",))
    _, warnings = color(src.path, tmp_path / "new.mp4")
    after = probe(tmp_path / "new.mp4")
    assert after.audio_codecs == ["pcm_s16le"] and warnings == []
    assert after.audio_seconds == pytest.approx(probe(src.path).audio_seconds, abs=0.01)


def test_a_captures_unlabelled_tracks_stay_unlabelled_where_they_can_and_are_named_where_labelled(clip, color,
                                                                                                  tmp_path):
    """Four PCM channels of a tape capture are often tracks side by side (programme, effects, commentary), not
    surround: a .mov keeps them unlabelled; an .mp4 takes them only labelled, and the user is told."""
    src = clip("capture.mkv", frames=24, audio=("pcm_s16le",), layout="quad")  # Matroska keeps no layout
    _, warnings = color(src.path, tmp_path / "new.mov")
    with av.open(str(tmp_path / "new.mov")) as film:
        assert film.streams.audio[0].layout.name == "4 channels" and warnings == []
    _, warnings = color(src.path, tmp_path / "new.mp4")
    assert probe(tmp_path / "new.mp4").audio_codecs == ["pcm_s16le"]
    assert len(warnings) == 1 and "has 4 channels with no layout" in warnings[0] and "labelled quad" in warnings[0]


def test_an_avi_film_with_b_frames_keeps_its_frame_times(clip, color, tmp_path):
    """AVI stores no presentation times: B-frames come out of the decoder with times in decoding order."""
    src = clip("capture.avi", frames=24, audio=())
    decoded = probe(src.path).times
    assert decoded != sorted(decoded)  # what the pipeline is handed
    _, warnings = color(src.path, tmp_path / "new.mp4")
    assert [float(t) for t in probe(tmp_path / "new.mp4").times] == pytest.approx(sorted(decoded), abs=1e-3)
    assert warnings == []


def test_a_lossless_master_keeps_every_bit_of_luma(clip, color, tmp_path):
    src = clip("scan.mp4", frames=12, audio=())
    color(src.path, tmp_path / "master.mkv", codec="ffv1")
    before, after = probe(src.path), probe(tmp_path / "master.mkv")
    assert_same_timing(src, tmp_path / "master.mkv")
    assert all((a == b).all() for a, b in zip(before.lumas, after.lumas, strict=True))
    assert min(c.mean() for c in after.chroma) > 5
    with pytest.raises(UserError, match="lossless"):
        color(src.path, tmp_path / "master.mp4", codec="ffv1")


def lossless_scan(path: Path, pix_fmt: str = "yuv420p10le", width: int = 96, height: int = 64,
                  frames: int = 8, color_range: int = 1) -> list[np.ndarray]:
    """A lossless black-and-white film (FFV1) of limited-range luma with detail in every bit, tagged so
    (`color_range` 1; 0: untagged); returns its Y planes."""
    shift = 2 if "10" in pix_fmt else 0
    yy, xx = np.mgrid[0:height, 0:width]
    lumas = [((16 << shift) + (3 * xx + 5 * yy + i) % (219 << shift)).astype(np.uint16) for i in range(frames)]
    with av.open(str(path), "w") as out:
        video = out.add_stream("ffv1", rate=24)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.codec_context.color_range = color_range  # limited, as film is
        for i, y in enumerate(lumas):
            frame = av.VideoFrame(width, height, pix_fmt)
            for view, value in zip(planes(frame), (y, 128 << shift, 128 << shift)[:len(frame.planes)], strict=True):
                view[...] = value
            frame.pts, frame.color_range = i, color_range
            out.mux(video.encode(frame))
        out.mux(video.encode())
    return lumas


def deep_lumas(path: Path) -> tuple[str, list[np.ndarray]]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    return frames[0].format.name, [planes(f)[0].copy() for f in frames]


def test_a_10_bit_scan_keeps_its_10_bit_luma(color, tmp_path):
    scan = tmp_path / "scan.mkv"
    lumas = lossless_scan(scan)

    _, warnings = color(scan, tmp_path / "master.mkv", codec="ffv1")
    fmt, kept = deep_lumas(tmp_path / "master.mkv")
    assert fmt == "yuv420p10le" and warnings == []
    assert all((a == b).all() for a, b in zip(lumas, kept, strict=True))  # to the last of the 10 bits
    assert min(c.mean() for c in probe(tmp_path / "master.mkv").chroma) > 5

    color(scan, tmp_path / "access.mp4")  # H.264 at CRF 18, in 10 bits
    fmt, coded = deep_lumas(tmp_path / "access.mp4")
    assert fmt == "yuv420p10le"
    assert min(psnr(a / 4, b / 4) for a, b in zip(lumas, coded, strict=True)) >= 40

    _, warnings = color(scan, tmp_path / "phone.mp4", max_bits=8)  # for players without 10-bit H.264
    assert deep_lumas(tmp_path / "phone.mp4")[0] == "yuv420p" and warnings == []

    _, warnings = color(scan, tmp_path / "web.webm")
    assert deep_lumas(tmp_path / "web.webm")[0] == "yuv420p"
    expected = ("the film's 10-bit picture is written in 8 bits (libvpx-vp9 here writes 8; libx264, libx265 and ffv1 "
                "write 10)")
    assert warnings == [expected]


@pytest.mark.parametrize(("pix_fmt", "codec", "name"), [("yuv420p10le", "libx264", "master.mp4"),
                                                      ("yuv420p10le", "libx265", "master.mkv"),
                                                      ("yuv420p", "libvpx-vp9", "master.webm")])
def test_crf_0_keeps_the_luma_bit_for_bit_whatever_the_codec(color, tmp_path, pix_fmt, codec, name):
    """x264's CRF 0 is lossless only in 8 bits; x265's and VP9's never: CRF 0 asks each for its lossless mode."""
    scan = tmp_path / "scan.mkv"
    lumas = lossless_scan(scan, pix_fmt, frames=4)
    color(scan, tmp_path / name, codec=codec, crf=0, temporal="none")
    assert all((a == b).all() for a, b in zip(lumas, deep_lumas(tmp_path / name)[1], strict=True))


@pytest.mark.parametrize(("pix_fmt", "width"), [("yuv422p10le", 100), ("gray", 96), ("gray10le", 96)])
def test_a_master_in_another_layout_keeps_its_luma_bit_for_bit(color, tmp_path, pix_fmt, width):
    """4:2:2 (ProRes, DNxHR) and grey-only scans: their luma goes through unchanged, levels and all."""
    scan = tmp_path / "scan.mkv"
    lumas = lossless_scan(scan, pix_fmt, width=width, frames=12)
    color(scan, tmp_path / "master.mkv", codec="ffv1")
    assert all((a == b).all() for a, b in zip(lumas, deep_lumas(tmp_path / "master.mkv")[1], strict=True))


def test_a_16_bit_grey_scan_keeps_its_whites_in_an_8_bit_access_copy(color, tmp_path):
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
    _, warnings = color(scan, tmp_path / "access.mkv", codec="ffv1", max_bits=8)
    fmt, kept = deep_lumas(tmp_path / "access.mkv")
    assert fmt == "yuv420p" and warnings == []
    assert (kept[-1] == 255).all()  # white stays white, not wrapped round to black
    assert all((np.abs(a.astype(int) / 256 - b) <= 0.5 + 1e-9).all() for a, b in zip(lumas, kept, strict=False))


def test_a_full_range_color_film_kept_with_skip_color_keeps_its_levels(clip, color, tmp_path):
    src = clip("phone.mp4", frames=12, color=True, pix_fmt="yuvj420p", audio=())
    color(src.path, tmp_path / "kept.webm", skip_color=True)  # VP9: re-encoded, not copied
    before, after = probe(src.path), probe(tmp_path / "kept.webm")
    assert min(psnr(a, b) for a, b in zip(before.lumas, after.lumas, strict=True)) >= 40


def test_an_interlaced_film_whose_fields_h264_cannot_code_apart_is_named_and_kept_in_an_mkv(color, tmp_path):
    """NTSC D1 has 486 lines, whose fields' 4:2:0 chroma x264 cannot code apart, and an .mp4 has no other way to say
    the film is interlaced: players showed its combing, and nothing said so."""
    src = tmp_path / "d1.mkv"
    write_film(src, codec="mpeg2video", size=(64, 54), frames=6, options={"flags": "+ildct+ilme", "top": "0"})
    _, warnings = color(src, tmp_path / "access.mp4")
    assert len(warnings) == 1 and "interlaced, but libx264 cannot code its 54 lines' fields apart" in warnings[0]
    assert "--codec libx265, keeps it marked interlaced" in warnings[0]
    _, warnings = color(src, tmp_path / "access.mkv")
    with av.open(str(tmp_path / "access.mkv")) as film:
        assert film.streams.video[0].codec_context.field_order == 3 and warnings == []  # AV_FIELD_BB


def test_an_odd_sized_interlaced_film_keeps_its_fields_apart_in_4_4_4(clip, color, tmp_path):
    """An odd-sized film is written 4:4:4, whose fields x264 codes apart at any even height."""
    src = clip("odd.mp4", width=63, height=54, frames=4, audio=(),
               video_options={"flags": "+ildct+ilme", "x264-params": "bff=1"})
    _, warnings = color(src.path, tmp_path / "new.mp4")
    with av.open(str(tmp_path / "new.mp4")) as film:
        assert film.streams.video[0].codec_context.field_order == 3 and warnings == []  # AV_FIELD_BB


def test_a_pal_films_pixel_shape_is_kept_or_its_loss_named(clip, color, tmp_path):
    """A PAL transfer's pixels are 16:15; an FFV1 master in Matroska cannot say so here, and said nothing."""
    src = clip("pal.mp4", frames=6, audio=(), sar=Fraction(16, 15))
    _, warnings = color(src.path, tmp_path / "access.mkv")
    with av.open(str(tmp_path / "access.mkv")) as film:
        assert film.streams.video[0].sample_aspect_ratio == Fraction(16, 15) and warnings == []
    _, warnings = color(src.path, tmp_path / "master.mkv", codec="ffv1")
    assert len(warnings) == 1 and "pixels are not square (16:15)" in warnings[0] and "not 68x48" in warnings[0]
    _, warnings = color(src.path, tmp_path / "web.mp4", codec="libvpx-vp9")  # an MP4 says it for VP9
    with av.open(str(tmp_path / "web.mp4")) as film:
        assert film.streams.video[0].sample_aspect_ratio == Fraction(16, 15) and warnings == []


def test_a_full_range_capture_made_a_lossless_master_is_told_its_levels_are_mapped(clip, color, tmp_path):
    """A master is made to keep every code; an MJPEG capture's full-range levels are written limited."""
    src = clip("capture.mkv", frames=6, video_codec="mjpeg", pix_fmt="yuvj420p", audio=())
    assert color(src.path, tmp_path / "access.mp4")[1] == []
    _, warnings = color(src.path, tmp_path / "master.mkv", codec="ffv1")
    assert len(warnings) == 1 and "full range" in warnings[0] and "256 levels onto 220" in warnings[0]


def test_an_untagged_grey_master_is_told_its_levels_are_mapped_and_a_tagged_one_is_not(color, tmp_path):
    """A grey FFV1 master not tagged limited is full range to FFmpeg; its codes were re-levelled in silence."""
    lossless_scan(tmp_path / "grey.mkv", "gray", frames=3, color_range=0)
    _, warnings = color(tmp_path / "grey.mkv", tmp_path / "master.mkv", codec="ffv1")
    assert len(warnings) == 1 and "full range" in warnings[0]
    lossless_scan(tmp_path / "limited.mkv", "gray", frames=3)
    assert color(tmp_path / "limited.mkv", tmp_path / "limited_master.mkv", codec="ffv1")[1] == []


def test_an_interlaced_film_stays_interlaced_with_its_field_order(clip, color, tmp_path):
    src = tmp_path / "broadcast.mp4"  # top field first, like most HD broadcast and DV-to-H.264 transfers
    write_film(src, frames=6, options={"flags": "+ildct+ilme", "x264-params": "tff=1"})
    color(src, tmp_path / "new.mp4")
    with av.open(str(tmp_path / "new.mp4")) as film:
        assert film.streams.video[0].codec_context.field_order == 2  # AV_FIELD_TT
        assert all(frame.interlaced_frame for frame in film.decode(video=0))
    progressive = clip("old.mp4", audio=())
    color(progressive.path, tmp_path / "progressive.mp4")
    with av.open(str(tmp_path / "progressive.mp4")) as film:
        assert not any(frame.interlaced_frame for frame in film.decode(video=0))


def test_an_interlaced_film_of_a_height_x264_cannot_code_as_fields_is_colored_whole(color, tmp_path):
    """NTSC D1 is 486 lines: x264 codes fields only of heights 4 divides. The lines are kept, the tag too (.mkv)."""
    src = tmp_path / "capture.ts"
    write_film(src, codec="mpeg2video", size=(64, 50), frames=6, container_format="mpegts",
               options={"flags": "+ildct+ilme", "top": "0"})
    result, _ = color(src, tmp_path / "capture.mkv")
    assert result.frames == 6
    with av.open(str(tmp_path / "capture.mkv")) as film:
        assert film.streams.video[0].codec_context.field_order == 3  # AV_FIELD_BB


@pytest.mark.parametrize("name", ["card.mp4", "card.mkv"])
def test_a_title_card_held_at_the_end_keeps_its_length(color, tmp_path, name):
    """The last frame shown for 2 s: the film is 2.25 s long, not 0.29 s, and not said to be cut short."""
    src = tmp_path / name
    with av.open(str(src), "w") as out:
        video = out.add_stream("libx264", rate=24, options={"bf": "0"})
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.codec_context.time_base = Fraction(1, 24000)
        packets = []
        for i in range(7):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 30 * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i * 1000, Fraction(1, 24000)
            packets += video.encode(frame)
        packets += video.encode()
        for k, packet in enumerate(packets):
            packet.duration = 48000 if k == len(packets) - 1 else 1000
            out.mux(packet)
    _, warnings = color(src, tmp_path / f"new{src.suffix}")
    _, again = color(tmp_path / f"new{src.suffix}", tmp_path / f"again{src.suffix}")  # its hold on a B-frame's packet
    for done in (f"new{src.suffix}", f"again{src.suffix}"):
        with av.open(str(tmp_path / done)) as film:
            assert film.duration / av.time_base == pytest.approx(2.25, abs=0.002), done
    assert warnings == again == []


@pytest.mark.parametrize(("name", "codec"), [("reel.h264", "libx264"), ("reel.m2v", "mpeg2video")])
def test_a_bare_stream_keeps_the_frame_rate_it_states(color, tmp_path, name, codec):
    """FFmpeg times a bare stream's frames at its default 25 a second: a 16 fps silent film would play fast."""
    src = tmp_path / name
    with av.open(str(src), "w", format={"libx264": "h264", "mpeg2video": "mpeg2video"}[codec]) as out:
        video = out.add_stream(codec, rate=16)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        for i in range(8):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * i, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode())
    color(src, tmp_path / "reel.mkv")
    with av.open(str(tmp_path / "reel.mkv")) as film:
        assert film.streams.video[0].average_rate == 16
        times = [f.time for f in film.decode(video=0)]
        assert len(times) == 8 and np.diff(times) == pytest.approx([1 / 16] * 7, abs=0.001)  # to the ms


def test_a_dv_tape_capture_keeps_its_frame_rate_and_its_bottom_field_first_interlacing(color, tmp_path):
    src = tmp_path / "tape.dv"  # FFmpeg reads a raw DV file as 60000 fps, its fields unstated
    write_film(src, codec="dvvideo", size=(720, 576), container_format="dv")
    color(src, tmp_path / "tape.mp4")
    with av.open(str(tmp_path / "tape.mp4")) as film:
        assert film.streams.video[0].average_rate == 25
        assert film.streams.video[0].codec_context.field_order == 3  # AV_FIELD_BB
        assert sum(frame.interlaced_frame for frame in film.decode(video=0)) == 5


def test_hevc_in_mp4_is_tagged_for_apple_players(clip, color, tmp_path):
    src = clip("old.mp4", audio=())
    color(src.path, tmp_path / "new.mp4", codec="libx265")
    with av.open(str(tmp_path / "new.mp4")) as film:
        assert film.streams.video[0].codec_context.codec_tag == "hvc1"
        assert film.streams.video[0].frames == 12


def test_a_film_keeps_its_timecode(color, tmp_path):
    src = tmp_path / "reel.mov"
    write_film(src, tags={"timecode": "01:00:00:00"})  # the .mov muxer adds a timecode track from it
    for name in ("new.mov", "new.mkv"):
        _, warnings = color(src, tmp_path / name)
        assert warnings == []
        with av.open(str(tmp_path / name)) as film:
            tags = {k.lower(): v for k, v in film.streams.video[0].metadata.items()}
        assert tags["timecode"] == "01:00:00:00"
    color(tmp_path / "new.mkv", tmp_path / "again.mov")  # Matroska spells the tag TIMECODE
    with av.open(str(tmp_path / "again.mov")) as film:
        assert film.streams.video[0].metadata["timecode"] == "01:00:00:00"


def test_sound_tracks_keep_their_names(color, tmp_path):
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
        color(src, tmp_path / name)
        with av.open(str(tmp_path / name)) as film:
            tags = film.streams.audio[0].metadata
        assert tags["language"] == "fra" and tags.get("name", tags.get("title")) == "Commentary"


def test_chapters_are_kept_and_the_film_beside_a_small_proxy_is_the_one_colored(color, tmp_path):
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
    _, warnings = color(src, tmp_path / "new.mp4")
    assert any("video stream #0" in w for w in warnings)  # the proxy is the one left out
    with av.open(str(tmp_path / "new.mp4")) as kept:
        assert (kept.streams.video[0].width, kept.streams.video[0].height) == (128, 96)
        assert [c["metadata"]["title"] for c in kept.chapters()] == ["Church", "Dance"]


def test_a_silent_film_comes_out_silent(clip, color, tmp_path):
    src = clip("silent.mp4", audio=())
    color(src.path, tmp_path / "new.mov")
    after = probe(tmp_path / "new.mov")
    assert after.audio_codecs == [] and len(after.times) == 12


def test_a_phone_video_keeps_its_rotation(clip, color, tmp_path):
    src = clip("phone.mp4", rotation=90)
    color(src.path, tmp_path / "new.mp4")
    assert probe(tmp_path / "new.mp4").rotation == 90


def test_a_film_whose_rotation_tag_is_all_zeros_is_taken_as_stored_as_players_show_it(clip, tmp_path):
    """Its hints and keyframes were once checked against the picture turned a quarter."""
    src = clip("odd_tag.mp4", rotation=90)
    data = bytearray(src.path.read_bytes())
    matrix = data.find(b"tkhd") + 44  # past the box's version, flags, times, track, duration, layer and volume
    data[matrix:matrix + 36] = bytes(36)
    src.path.write_bytes(data)
    assert probe_film(src.path).turns == 0


def test_title_and_creation_date_are_carried_over(clip, color, tmp_path):
    tags = {"title": "Grandpa's wedding", "creation_time": "2024-05-01T10:00:00.000000Z"}
    src = clip("tagged.mp4", metadata=tags)
    for name in ("new.mp4", "new.mkv"):
        color(src.path, tmp_path / name)
        assert tags.items() <= probe(tmp_path / name).metadata.items()
