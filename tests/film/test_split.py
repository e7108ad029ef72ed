"""Cutting a long film into pieces for workers: where the cuts fall, and a piece that cannot be written (the join
is tested end to end in test_archive, against a whole run)."""
from __future__ import annotations

import errno
import os

import av
import pytest
from helpers.films import make_clip

from vidcolor.film.options import VideoOptions
from vidcolor.film.split import WARMUP_SECONDS, CannotCut, Piece, _PieceWriter, color_piece, plan_pieces
from vidcolor.utils.errors import UserError

KEYS = {"g": "24", "keyint_min": "24", "sc_threshold": "0"}  # a keyframe every second at 24 fps


def ticks(film, frames: int) -> int:
    """`frames` frames at 24 fps in the film's own time base."""
    with av.open(str(film)) as container:
        return round(frames / (24 * container.streams.video[0].time_base))


def test_pieces_start_at_keyframes_and_follow_each_other_to_the_end(tmp_path):
    film = make_clip(tmp_path / "reel.mp4", frames=96, fps=24, video_options=KEYS).path
    pieces = plan_pieces(film, 4, workers=4, temporal="flow")
    assert [p.start for p in pieces] == [ticks(film, n) for n in (0, 24, 48, 72)]
    assert [p.end for p in pieces] == [ticks(film, n) for n in (24, 48, 72)] + [None]
    assert [p.index for p in pieces] == [0, 1, 2, 3]


def test_each_piece_warms_the_smoother_up_on_the_seconds_before_it_unless_there_is_no_smoothing(tmp_path):
    film = make_clip(tmp_path / "reel.mp4", frames=96, fps=24, video_options=KEYS).path
    warm = round(WARMUP_SECONDS * 24)
    starts = (0, 24, 48, 72)
    assert [p.warm for p in plan_pieces(film, 4, 4, "flow")] == [ticks(film, max(0, s - warm)) for s in starts]
    assert [p.warm for p in plan_pieces(film, 4, 4, "none")] == [ticks(film, s) for s in starts]


def test_a_film_with_fewer_keyframes_than_pieces_gets_the_cuts_it_can(tmp_path):
    film = make_clip(tmp_path / "reel.mp4", frames=96, fps=24, video_options={**KEYS, "g": "48"}).path
    assert [p.start for p in plan_pieces(film, 4, 4, "flow")] == [0, ticks(film, 48)]


def test_a_short_film_or_one_without_cuts_is_done_whole(tmp_path):
    film = make_clip(tmp_path / "reel.mp4", frames=48, fps=24, video_options={**KEYS, "g": "100"}).path
    with pytest.raises(CannotCut, match="shorter than two pieces of 60 s"):  # auto
        plan_pieces(film, None, 4, "flow")
    with pytest.raises(CannotCut, match="one keyframe, at its start: nowhere to cut"):  # said, not "damaged?"
        plan_pieces(film, 3, 4, "flow")


def test_a_piece_ends_where_the_next_begins():
    piece = Piece(index=1, start=24, end=48, warm=0)
    assert not piece.past_end(47) and piece.past_end(48)
    assert not Piece(index=2, start=48, end=None, warm=0).past_end(10 ** 9)


def test_recordings_joined_end_to_end_are_colored_whole_since_a_piece_read_alone_would_miss_the_join(tmp_path):
    later = [501 + round(i * 1000 / 24) for i in range(48)]  # starts again, though at no time the first has
    parts = [make_clip(tmp_path / f"{n}.ts", frames=48, fps=24, video_options=KEYS, times_ms=times).path
             for n, times in (("a", None), ("b", later))]
    (tmp_path / "joined.ts").write_bytes(b"".join(p.read_bytes() for p in parts))
    assert plan_pieces(parts[0], 2, 2, "flow") is not None  # one recording alone is cut
    with pytest.raises(CannotCut, match="recordings joined end to end"):
        plan_pieces(tmp_path / "joined.ts", 2, 2, "flow")


def test_a_piece_that_finds_the_disk_full_says_so_in_the_words_of_a_whole_run(tmp_path, colorizer, monkeypatch):
    """It once said "OSError: [Errno 28] No space left on device", Python's words."""
    film = make_clip(tmp_path / "reel.mp4", frames=48, fps=24, video_options=KEYS).path
    piece = plan_pieces(film, 2, 2, "none")[1]

    def disk_full(out: object, packets: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_PieceWriter, "_save", staticmethod(disk_full))
    with pytest.raises(UserError, match=r"color\.mp4: could not write the film \(No space left on device\)$"):
        color_piece(film, tmp_path / "color.mp4", tmp_path / "00001.packets", piece, VideoOptions(quiet=True),
                    lambda: colorizer, print)


def test_a_piece_tells_the_frames_it_keeps_not_those_it_colours_to_warm_up(tmp_path, colorizer):
    """The run's count went past the film's frames, then back, as each piece ended."""
    film = make_clip(tmp_path / "reel.mp4", frames=96, fps=24, video_options=KEYS).path
    piece = plan_pieces(film, 4, 4, "flow")[2]  # warms up on the piece before it, looks ahead into the next
    told: list[int] = []
    kept = color_piece(film, tmp_path / "color.mp4", tmp_path / "00002.packets", piece, VideoOptions(quiet=True),
                       lambda: colorizer, print, told.append)
    assert told and sum(told) == kept < 48
