"""Damaged films: what can be read comes out, what cannot is skipped and said."""
from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from helpers.films import MS, probe, write_film

from vidcolor.film.frames import video_frames


def test_a_corrupt_frame_in_the_middle_is_skipped_with_a_warning(clip, color, tmp_path):
    src = clip("damaged.mkv", video_codec="mjpeg", pix_fmt="yuvj420p", corrupt_frame=5)
    result, warnings = color(src.path, tmp_path / "new.mp4")
    times = probe(tmp_path / "new.mp4").times
    assert result.frames == len(times) == 11
    assert all(abs(float(a - b)) <= MS for a, b in zip(src.times[:5] + src.times[6:], times, strict=True))
    assert any("undecodable video packet" in w for w in warnings)


def test_broken_audio_packets_do_not_stop_the_film(clip, color, tmp_path):
    src = clip("bad_sound.mp4", frames=24, audio=("mp3",), corrupt_audio_packet=10)
    result, warnings = color(src.path, tmp_path / "new.webm")  # webm: the mp3 must be decoded
    assert result.frames == len(probe(tmp_path / "new.webm").times) == 24
    assert any("undecodable audio packet" in w for w in warnings)


def test_a_sound_track_with_nothing_readable_in_it_is_said_to_be_left_out(color, tmp_path):
    src = tmp_path / "lost_sound.mkv"
    write_film(src, empty_sound_track=True)  # its track is announced, its sound is gone
    result, warnings = color(src, tmp_path / "new.mkv")
    assert result.frames == len(probe(tmp_path / "new.mkv").times) == 5
    assert any("audio stream #1 (aac) held nothing that could be read" in w for w in warnings), warnings


def test_a_film_cut_short_still_comes_out_with_every_readable_frame(clip, color, tmp_path):
    src = clip("cut.mkv", frames=48)
    data = src.path.read_bytes()
    src.path.write_bytes(data[: len(data) // 2])
    result, warnings = color(src.path, tmp_path / "new.mp4")
    assert 0 < result.frames < 48
    assert result.frames == len(probe(tmp_path / "new.mp4").times)
    assert any("cut short" in w for w in warnings)


def test_a_film_whose_sound_outlasts_its_picture_is_not_taken_for_one_cut_short(clip, color, tmp_path, capsys):
    """FLV says how long the file lasts, not its picture: the sound's 0.4 s more is no missing picture."""
    src = clip("talk.flv", video_codec="flv", frames=24, sound_seconds=1.4)
    result, warnings = color(src.path, tmp_path / "new.mp4")
    assert result.frames == 24 and warnings == []
    assert len(list(video_frames(src.path))) == 24 and capsys.readouterr().err == ""
    src.path.write_bytes(src.path.read_bytes()[: src.path.stat().st_size // 2])  # cut short, sound and all
    assert any("could be read: it is probably damaged or cut short" in w
               for w in color(src.path, tmp_path / "cut.mp4")[1])


def test_a_film_cut_short_mid_sound_packet_leaves_that_packet_out_instead_of_copying_it_broken(
        clip, color, tmp_path):
    """An MP4 with its index at the front (as vidcolor writes them) cut short: its last sound packet is half there."""
    src = clip("source.mp4", frames=48, width=128, height=96)
    whole = tmp_path / "whole.mp4"
    color(src.path, whole)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.9)])
    result, warnings = color(cut, tmp_path / "new.mp4")
    assert any("skipped damaged audio packet" in w for w in warnings), warnings
    with av.open(str(tmp_path / "new.mp4")) as out:
        sound = out.streams.audio[0]
        decoded = [sound.decode(packet) for packet in out.demux(sound)]  # raises on a broken packet
    assert sum(len(frames) for frames in decoded) > 0 and result.frames > 0


def test_a_raw_stream_spliced_from_two_sizes_comes_out_whole_at_its_first_size(color, tmp_path):
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
    result, warnings = color(tmp_path / "reel.h264", tmp_path / "new.mp4")
    after = probe(tmp_path / "new.mp4")
    assert result.frames == len(after.times) == 12 and (after.width, after.height) == (64, 48)
    assert warnings[0] == "scaled odd-sized frame (96x72 at 0.24 s; the film is 64x48)"
    assert warnings[-1] == "scaled 6 odd-sized frames in all" and len(warnings) == 4


def test_a_film_claiming_billions_of_frames_a_second_plays_at_a_believable_rate(color, tmp_path):
    """Its frames' times, a fraction of a nanosecond apart, all came out as 0: a film no player could show."""
    header = b"YUV4MPEG2 W32 H16 F2147483647:1 Ip A1:1 C420jpeg\n"
    frames = b"".join(b"FRAME\n" + bytes([40 + 10 * i]) * (32 * 16) + b"\x80" * (2 * 16 * 8) for i in range(6))
    (tmp_path / "odd.y4m").write_bytes(header + frames)
    result, warnings = color(tmp_path / "odd.y4m", tmp_path / "new.mkv")
    assert result.frames == 6 and probe(tmp_path / "new.mkv").times == [Fraction(i, 25) for i in range(6)]
    assert warnings[-1] == "mended 5 broken video timestamps in all"


@pytest.mark.parametrize(("frames", "sound_outlasts_picture"), [(24, False), (24, True), (8, False)])
def test_two_recordings_joined_end_to_end_keep_their_sound_and_play_one_after_the_other(
        clip, color, tmp_path, frames, sound_outlasts_picture):
    """MPEG-TS files cat together: the second starts its times again near zero. Its picture and sound are moved
    on to follow the whole of the first, as a player does, rather than its sound dropped for going back in time
    (a first recording of a third of a second went back too little to be taken for a join: half its sound was
    dropped, and the picture ran on past it)."""
    first = clip("a.ts", frames=frames, sound_seconds=1.5 if sound_outlasts_picture else None)
    second = clip("b.ts", frames=24)
    (tmp_path / "joined.ts").write_bytes(first.path.read_bytes() + second.path.read_bytes())
    _, warnings = color(tmp_path / "joined.ts", tmp_path / "new.mkv")
    after = probe(tmp_path / "new.mkv")
    assert len(after.times) == len(first.times) + 24 and all(b > a for a, b in zip(after.times, after.times[1:]))
    first_sound, second_sound = probe(first.path).audio_seconds[0], probe(second.path).audio_seconds[0]
    assert float(after.times[len(first.times)] - after.times[0]) == pytest.approx(first_sound, abs=0.1)
    assert after.audio_seconds[0] == pytest.approx(first_sound + second_sound, abs=0.1)
    assert [w for w in warnings if "jump back" in w] == warnings[:1] and len(warnings) <= 2  # one join, said once
