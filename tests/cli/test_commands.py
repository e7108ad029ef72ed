"""The command line's film commands: run's report and refusals, frames, eval."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import av
import click
import numpy as np
import pytest
from click.testing import CliRunner
from helpers.films import Clip, cli, probe, write_film
from helpers.photos import landscape

import vidcolor.evaluation.evaluate
from vidcolor.cli import main
from vidcolor.photo.read import read_image
from vidcolor.photo.write import write_image


def test_the_command_line_colors_a_film_and_reports_frames_speed_and_output(clip, model_file, tmp_path):
    src = clip("old.mp4", frames=24)
    result = cli(src.path, "-o", tmp_path / "new.mp4", "--model", model_file, "--batch-size", "5", "--crf", "20")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"24 frames in [\d.]+ s \([\d.]+ fps\) -> .*new\.mp4$", result.stderr.strip())
    assert len(probe(tmp_path / "new.mp4").times) == 24


def test_a_photo_run_ends_with_its_own_line_as_a_film_run_does(model_file, tmp_path):
    """A photo run said nothing at all, even for a large scan taking many seconds."""
    write_image(tmp_path / "scan.png", landscape(0).mean(axis=2).astype(np.uint8))
    result = cli(tmp_path / "scan.png", "-o", tmp_path / "new.png", "--model", model_file)
    last = re.split(r"[\r\n]", result.stderr.strip())[-1]  # after the bar, if the photo took more than its delay
    assert result.exit_code == 0 and re.fullmatch(r"1 photo in [\d.]+ s -> .*new\.png", last), result.stderr


def test_quiet_prints_nothing_at_all(clip, model_file, tmp_path):
    src = clip("old.mp4")
    write_image(tmp_path / "scan.png", landscape(0).mean(axis=2).astype(np.uint8))
    for given, made in ((src.path, tmp_path / "new.mkv"), (tmp_path / "scan.png", tmp_path / "new.png")):
        result = cli(given, "-o", made, "--model", model_file, "--quiet")
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
    index_cut = tmp_path / "web.mp4"  # a film made for the web, its index first, cut inside that index
    with av.open(str(src.path)) as film, av.open(str(index_cut), "w", options={"movflags": "faststart"}) as web:
        stream = web.add_stream_from_template(film.streams.video[0])
        for packet in film.demux(film.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                web.mux(packet)
    index_cut.write_bytes(index_cut.read_bytes()[:index_cut.read_bytes().find(b"mdia") + 8])
    out = tmp_path / "out.mp4"
    (tmp_path / "loop_a.mp4").symlink_to(tmp_path / "loop_b.mp4")
    (tmp_path / "loop_b.mp4").symlink_to(tmp_path / "loop_a.mp4")
    return {
        "missing file": ([tmp_path / "nope.mp4", "-o", out], "no such file"),
        "a link to a moved film": ([tmp_path / "loop_a.mp4", "-o", out], "a link that leads to no file or folder"),
        "an output that links round in a loop": ([src.path, "-o", tmp_path / "loop_a.mp4"],
                                                 "a link that leads to no file (the links go round in a loop)"),
        "empty file": ([empty, "-o", out], "empty"),
        "not a media file": ([text, "-o", out], "not a video file"),
        "no video stream": ([song, "-o", out], "no video stream"),
        "truncated beyond use": ([cut, "-o", out], "damaged beyond use"),
        "cut inside its index": ([index_cut, "-o", out], "has no video stream (nor sound: it is damaged, cut short"),
        "output exists": ([src.path, "-o", exists], "already exists"),
        "output is the input": ([src.path, "-o", src.path, "--overwrite"], "overwrite the input"),
        "missing output folder": ([src.path, "-o", tmp_path / "nowhere" / "out.mp4"], "does not exist"),
        "a file for the output folder": ([src.path, "-o", exists / "out.mp4"],
                                         f"{exists}: is a file, where the output folder should be"),
        "unknown container": ([src.path, "-o", tmp_path / "out.avi"], "must end in"),
        "output is a folder": ([src.path, "-o", tmp_path], f"is a folder; give the film's output file name, e.g. "
                                                           f"{tmp_path / 'old_color.mp4'}"),
        "a film into a photo": ([text, "-o", tmp_path / "out.png"], "not a photo by its name"),
        "codec the container cannot hold": ([src.path, "-o", tmp_path / "out.webm", "--codec", "libx264"],
                                           "cannot go into a .webm"),
        "vp9 into a .mov": ([src.path, "-o", tmp_path / "out.mov", "--codec", "libvpx-vp9"],
                            "cannot go into a .mov file (a .mov takes --codec libx264, libx265; libvpx-vp9 goes into "
                            ".mp4, .mkv, .webm)"),
        "crf out of range for x264": ([src.path, "-o", out, "--crf", "60"], "between 0 and 51"),
        "unknown model": ([src.path, "-o", out, "--model", "no-such-model"], "unknown model"),
        "a preset for vp9": ([src.path, "-o", tmp_path / "out.webm", "--preset", "slow"],
                             "--preset is for libx264 and libx265; libvpx-vp9 has none"),
        "a quality for lossless ffv1": ([src.path, "-o", tmp_path / "out.mkv", "--codec", "ffv1", "--crf", "3"],
                                        "--crf: ffv1 is lossless"),
        "a look-ahead for no smoothing": ([src.path, "-o", out, "--temporal", "none", "--window", "20"],
                                          "--window is the look-ahead of --temporal flow and ema"),
    }


REFUSALS = ["missing file", "a link to a moved film", "an output that links round in a loop", "empty file",
            "not a media file", "no video stream", "truncated beyond use",
            "cut inside its index",
            "output exists", "output is the input", "missing output folder", "a file for the output folder",
            "unknown container", "output is a folder",
            "a film into a photo",
            "codec the container cannot hold", "vp9 into a .mov", "crf out of range for x264", "unknown model",
            "a preset for vp9", "a quality for lossless ffv1", "a look-ahead for no smoothing"]


@pytest.mark.parametrize("case", REFUSALS)
def test_a_bad_request_is_refused_with_one_clear_line_and_nothing_written(clip, tmp_path, case):
    src = clip("old.mp4")
    args, message = _refusal_cases(tmp_path, src)[case]
    before = _snapshot(tmp_path)
    result = cli(*args)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("vidcolor: "), result.stderr
    assert message in result.stderr
    assert _snapshot(tmp_path) == before  # nothing new, nothing changed


def _snapshot(folder: Path) -> dict[Path, bytes | str]:
    """Each file's bytes, each link's target."""
    return {p: str(p.readlink()) if p.is_symlink() else p.read_bytes() for p in folder.iterdir()}


def test_film_options_given_with_a_photo_are_named_in_a_warning_and_the_photo_is_colored(model_file, tmp_path):
    """A script may give every file of a folder the same options, one `vidcolor run` each."""
    write_image(tmp_path / "scan.png", landscape(1))
    result = cli(tmp_path / "scan.png", "-o", tmp_path / "out.png", "--model", model_file, "--crf", "3",
                 "--temporal", "none")
    assert result.exit_code == 0
    assert result.stderr.startswith(f"vidcolor: warning: --temporal, --crf are for films; {tmp_path / 'scan.png'} "
                                    "is a photo, coloured without them\n")
    assert (tmp_path / "out.png").exists()


def test_a_lossless_master_may_say_its_quality_is_lossless(clip, model_file, tmp_path):
    """--crf 0 is every codec's lossless mode, FFV1's too."""
    src = clip("old.mp4")
    result = cli(src.path, "-o", tmp_path / "master.mkv", "--model", model_file, "--codec", "ffv1", "--crf", "0")
    assert result.exit_code == 0, result.stderr


def test_a_usage_mistake_under_python_m_points_to_the_commands_help(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "vidcolor", "run", "old.mp4", "-o", "new.mp4", "--crf", "good"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 2 and done.stderr.strip().endswith("(see vidcolor run --help)"), done.stderr
    assert "'good' is not a whole number" in done.stderr


@pytest.mark.parametrize("args", [("serve", "--max-upload-mb", "inf"), ("serve", "--max-video-seconds", "nan"),
                                  ("train", "--data", "photos", "--out", "run", "--lr", "nan"),
                                  ("export", "run", "-o", "m.safetensors", "--temperature", "1e400")])
def test_a_number_that_is_not_finite_is_a_usage_mistake_not_a_traceback(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"{args[-1]!r} is not a number" in result.stderr


def test_a_script_calling_the_command_line_not_standalone_gets_the_usage_error_to_handle_itself():
    with pytest.raises(click.UsageError, match="Missing"):
        main.main(["run", "old.mp4"], standalone_mode=False)  # not an exit of the calling script


@pytest.mark.parametrize("args", [("run", "", "-o", "new.mp4"), ("run", "old.mp4", "-o", ""), ("eval", ""),
                                  ("eval", "old.mp4", "-o", ""), ("frames", "old.mp4", "-o", ""),
                                  ("export", "", "-o", "m.safetensors"), ("train", "--model", "unet", "--data", "",
                                                                          "--out", "run")])
def test_an_empty_path_is_a_usage_mistake_not_the_folder_the_command_runs_in(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # '' would be read as '.': here, where a stray frame or report would land
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "an empty path names no file or folder" in result.stderr
    assert result.stderr.count("\n") == 1 and not any(tmp_path.iterdir())


def test_a_folder_where_the_film_should_go_is_refused_before_any_work(clip, tmp_path):
    src = clip("old.mp4")
    (tmp_path / "new.mp4").mkdir()
    result = cli(src.path, "-o", tmp_path / "new.mp4", "--overwrite", "--model", "no-such-model")
    assert result.exit_code == 1 and "new.mp4: is a folder" in result.stderr  # before the model is even looked for
    assert not any((tmp_path / "new.mp4").iterdir())


@pytest.mark.parametrize("option", [["--batch-size", "0"], ["--crf", "good"], ["--temporal", "warp"],
                                    ["--codec", "divx"], ["--preset", "warp"], ["--window", "-1"],
                                    ["--window", "1000"], ["--jobs", "\u00b2"], ["--split", "\u0663"],
                                    ["--keyframe", "\u00b2:painted.png"]])
def test_a_malformed_option_is_a_usage_error(clip, tmp_path, option):
    src = clip("old.mp4")
    result = cli(src.path, "-o", tmp_path / "out.mp4", *option)
    assert result.exit_code == 2 and option[0] in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "(see vidcolor run --help)" in result.stderr  # one line
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("args", [["frames", "--every", "0"], ["frames", "--every", "-1"],
                                  ["eval", "--max-frames", "0"], ["eval", "--max-frames", "-3"]])
def test_a_frame_count_below_one_is_a_usage_error_for_frames_and_eval(clip, tmp_path, args):
    src = clip("old.mp4", color=True)
    result = CliRunner().invoke(main, [args[0], str(src.path), "-o", str(tmp_path / "out"), *args[1:]])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_frames_of_two_films_with_one_name_are_all_kept_and_never_written_over(clip, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    films = [clip("a/reel.mp4", frames=8, color=True).path, clip("b/reel.mkv", frames=8, color=True).path]
    result = CliRunner().invoke(main, ["frames", *map(str, films), "-o", str(tmp_path / "set"), "--every", "4"])
    assert result.exit_code == 0 and "4 frames written" in result.output
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == [
        "reel-1_000000.png", "reel-1_000004.png", "reel-2_000000.png", "reel-2_000004.png"]
    for frame in (tmp_path / "set").glob("reel-1_*"):  # the first film's frames are gone, the second's not
        frame.unlink()
    before = sorted(p.name for p in (tmp_path / "set").iterdir())
    again = CliRunner().invoke(main, ["frames", *map(str, films), "-o", str(tmp_path / "set"), "--every", "4"])
    assert again.exit_code == 1 and "reel-2_000000.png: already exists (use --overwrite" in again.output
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == before  # refused before writing any frame


def test_frames_of_an_archive_where_a_second_film_of_one_name_came_say_the_first_may_be_there_twice(clip, tmp_path):
    """a/reel.mp4's frames were reel_...; with b/reel.mp4 beside it they are reel-1_..., written again unseen."""
    (tmp_path / "reels" / "a").mkdir(parents=True)
    clip("reels/a/reel.mp4", frames=8, color=True)
    command = ["frames", str(tmp_path / "reels"), "-o", str(tmp_path / "set"), "--every", "4", "--quiet"]
    assert CliRunner().invoke(main, command).exit_code == 0
    (tmp_path / "reels" / "b").mkdir()
    clip("reels/b/reel.mp4", frames=8, color=True)
    again = CliRunner().invoke(main, command)
    assert again.exit_code == 0
    assert again.stderr == (f"vidcolor: warning: {tmp_path / 'set'} holds frames named reel_... from an earlier "
                            "extraction of one film of that name; the films named reel now get reel-1_..., "
                            "reel-2_..., so some frames may be there twice (remove the earlier ones, or give "
                            "another -o)\n")


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_frames_where_a_folder_bears_a_frames_name_say_so_and_how_to_go_on(clip, tmp_path, overwrite):
    film = clip("reel.mp4", frames=4, color=True).path
    (tmp_path / "set" / "reel_000000.png").mkdir(parents=True)
    result = CliRunner().invoke(main, ["frames", str(film), "-o", str(tmp_path / "set"), *overwrite])
    assert result.exit_code == 1
    assert result.stderr == (f"vidcolor: {tmp_path / 'set' / 'reel_000000.png'}: is a folder; give another -o "
                             "(this frame's name is taken)\n")


def test_frames_of_a_folder_go_on_past_a_film_that_cannot_be_read_and_say_so(clip, tmp_path):
    (tmp_path / "reels").mkdir()
    clip("reels/harbour.mp4", frames=8, color=True)
    (tmp_path / "reels" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 and then nothing")
    result = CliRunner().invoke(main, ["frames", str(tmp_path / "reels"), "-o", str(tmp_path / "set"), "--every", "4"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "not read: " in result.stderr and "broken.mp4" in result.stderr
    assert result.stderr.strip().endswith("1 of 2 films could not be read")
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == ["harbour_000000.png", "harbour_000004.png"]


def test_frames_of_films_none_of_which_can_be_read_write_and_claim_nothing(tmp_path):
    for name in ("broken.mp4", "empty.mp4"):
        (tmp_path / name).write_bytes(b"not a film" if name == "broken.mp4" else b"")
    result = CliRunner().invoke(main, ["frames", str(tmp_path / "broken.mp4"), str(tmp_path / "empty.mp4"),
                                       "-o", str(tmp_path / "set")])
    assert result.exit_code == 1 and result.stderr.endswith("vidcolor: 2 of 2 films could not be read\n")
    assert "written to" not in result.stderr and not (tmp_path / "set").exists()


def test_frames_refuses_a_photo_rather_than_call_it_a_film(tmp_path):
    write_image(tmp_path / "portrait.jpg", landscape(0))
    result = CliRunner().invoke(main, ["frames", str(tmp_path / "portrait.jpg"), "-o", str(tmp_path / "set")])
    assert result.exit_code == 1 and "a photo, not a film" in result.output
    assert not (tmp_path / "set").exists()


def test_frames_of_a_pipe_say_it_is_not_a_file_rather_than_missing(tmp_path):
    os.mkfifo(tmp_path / "reel.mp4")
    result = CliRunner().invoke(main, ["frames", str(tmp_path / "reel.mp4"), "-o", str(tmp_path / "set")])
    assert result.exit_code == 1 and result.output == f"vidcolor: {tmp_path / 'reel.mp4'}: not a file or folder\n"


def test_frames_of_a_black_and_white_film_are_written_with_a_warning_that_training_skips_them(clip, tmp_path):
    grey, color = clip("grey.mp4", frames=4, audio=()), clip("colour.mp4", frames=4, color=True, audio=())
    result = CliRunner().invoke(main, ["frames", str(grey.path), str(color.path), "-o", str(tmp_path / "set"),
                                       "--every", "2"])
    assert result.exit_code == 0
    assert "warning: 2 of the 4 frames are black and white (training skips them)" in result.stderr
    assert len(list((tmp_path / "set").iterdir())) == 4


def test_frames_show_their_progress_and_quiet_silences_it(clip, tmp_path, monkeypatch):
    """Frames of a long film took minutes without a word."""
    import tqdm

    monkeypatch.setattr(tqdm.tqdm, "__init__", _drawn_at_once(tqdm.tqdm.__init__))
    film = clip("reel.mp4", frames=8, color=True).path
    shown = CliRunner().invoke(main, ["frames", str(film), "-o", str(tmp_path / "shown"), "--every", "4"])
    assert shown.exit_code == 0 and "reel.mp4: " in shown.stderr and "frame/s" in shown.stderr
    quiet = CliRunner().invoke(main, ["frames", str(film), "-o", str(tmp_path / "quiet"), "--every", "4", "--quiet"])
    assert (quiet.exit_code, quiet.stderr) == (0, "")
    assert len(list((tmp_path / "quiet").iterdir())) == 2


def test_a_film_with_a_long_name_leaves_its_bar_room_on_a_narrow_terminal(clip, model_file, tmp_path, monkeypatch):
    """An archive's names run long; the bar showed the whole name and had no room left for itself."""
    import tqdm

    monkeypatch.setattr(tqdm.tqdm, "__init__", _drawn_at_once(tqdm.tqdm.__init__))
    film = clip("1923_newsreel_reel_04_of_12_telecine_transfer_graded.mp4", frames=4).path
    result = CliRunner().invoke(main, ["run", str(film), "-o", str(tmp_path / "out.mp4"), "--model", str(model_file)])
    assert result.exit_code == 0
    bars = [line for line in re.split(r"[\r\n]", result.stderr) if "frame" in line and "|" in line]
    assert bars and all(line.startswith("1923_newsreel_reel_...graded.mp4: ") for line in bars), bars


def _drawn_at_once(init: Any) -> Any:
    """tqdm's __init__, less its delay: a bar of a test's tiny film is drawn, as a long film's is."""
    def drawn(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **{**kwargs, "delay": 0, "mininterval": 0})
    return drawn


def test_frames_of_a_file_that_is_no_film_leave_no_empty_folder_behind(tmp_path):
    (tmp_path / "notes.mp4").write_text("not a film")
    result = CliRunner().invoke(main, ["frames", str(tmp_path / "notes.mp4"), "-o", str(tmp_path / "set" / "a")])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.mp4"]


def test_frames_of_a_phone_film_come_out_upright(clip, tmp_path):
    film = clip("phone.mp4", frames=2, color=True, rotation=90, audio=())  # stored sideways, turned when shown
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
    clip("reels/strip.mp4", width=200, height=2, color=True, audio=())  # too thin for optical flow
    clip("reels/still.mp4", frames=1, color=True, audio=())  # one frame: no flicker to measure
    clip("reels/grey.mp4", audio=())  # black and white: no truth to score colours against
    (tmp_path / "reels" / "broken.mp4").write_bytes(b"not a film")
    (tmp_path / "reels" / "._strip.mp4").write_bytes(b"\x00\x05\x16\x07")  # macOS's hidden twin: no film, not counted
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
    assert f"| {tmp_path / 'day' / 'harbour.png'} |" in CliRunner().invoke(main, command[:-2]).output  # no report
    again = CliRunner().invoke(main, command)
    assert again.exit_code == 1 and "holds a report already" in again.output
    replaced = CliRunner().invoke(main, [*command[:2], *command[3:], "--overwrite"])  # the day's photo alone
    assert replaced.exit_code == 0 and "| harbour.png |" in replaced.output
    assert {p.name for p in (tmp_path / "report").iterdir()} == {"harbour.png", "report.json", "report.csv"}


def test_an_eval_replacing_a_report_that_had_a_file_it_could_not_score_leaves_none_of_its_pictures(
        model_file, tmp_path):
    """day/harbour.png could not be scored, so night/harbour.png's picture was harbour-2.png, which the earlier
    report's list (night's photo alone) did not give: it stayed beside a report that does not name it."""
    for folder, seed in (("day", 1), ("night", 2)):
        (tmp_path / folder).mkdir()
        write_image(tmp_path / folder / "harbour.png", landscape(seed))
    (tmp_path / "day" / "harbour.png").write_bytes(b"not a photo")
    command = ["eval", "--model", str(model_file), "-o", str(tmp_path / "report"), "--quiet"]
    assert CliRunner().invoke(main, [*command, str(tmp_path / "day"), str(tmp_path / "night")]).exit_code == 1
    assert "harbour-2.png" in {p.name for p in (tmp_path / "report").iterdir()}
    write_image(tmp_path / "dusk.png", landscape(3))
    assert CliRunner().invoke(main, [*command, str(tmp_path / "dusk.png"), "--overwrite"]).exit_code == 0
    assert {p.name for p in (tmp_path / "report").iterdir()} == {"dusk.png", "report.json", "report.csv"}


def test_an_eval_never_writes_its_pictures_over_a_users_file_without_overwrite(model_file, tmp_path):
    (tmp_path / "photos").mkdir()
    write_image(tmp_path / "photos" / "harbour.png", landscape(1))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "harbour.png").write_bytes(b"the user's own picture")
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "photos"), "--model", str(model_file),
                                       "-o", str(tmp_path / "notes")])
    assert result.exit_code == 1 and "harbour.png: is where the report would write" in result.stderr
    assert (tmp_path / "notes" / "harbour.png").read_bytes() == b"the user's own picture"
    assert {p.name for p in (tmp_path / "notes").iterdir()} == {"harbour.png"}


def test_an_eval_given_a_look_ahead_for_no_smoothing_is_refused_as_run_refuses_it(clip, tmp_path):
    """eval's --temporal and --window are run's, so a score is of what run would make; eval took it in silence."""
    film = clip("reel.mp4", frames=4, color=True, audio=()).path
    result = CliRunner().invoke(main, ["eval", str(film), "--temporal", "none", "--window", "4", "--model",
                                       "no-such-model"])
    assert result.exit_code == 1
    assert result.stderr == ("vidcolor: --window is the look-ahead of --temporal flow and ema; --temporal none looks "
                             "at none\n")


def test_an_eval_told_to_write_its_report_over_the_photo_it_scores_says_so_before_loading_a_model(tmp_path):
    write_image(tmp_path / "harbour.png", landscape(1))
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "harbour.png"), "--model", "no-such-model",
                                       "-o", str(tmp_path / "harbour.png")])
    assert result.exit_code == 1
    assert result.stderr == f"vidcolor: {tmp_path / 'harbour.png'}: is a file, where the output folder should be\n"


def test_an_eval_over_a_report_folder_holding_a_folder_by_a_pictures_name_is_refused_before_any_work(
        model_file, tmp_path):
    write_image(tmp_path / "harbour.png", landscape(1))
    (tmp_path / "report" / "harbour.png").mkdir(parents=True)
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "harbour.png"), "--model", str(model_file),
                                       "-o", str(tmp_path / "report"), "--overwrite"])
    assert result.exit_code == 1
    assert result.stderr == (f"vidcolor: {tmp_path / 'report' / 'harbour.png'}: is a folder, where the report "
                             "would write a file (give another -o)\n")
    assert {p.name for p in (tmp_path / "report").iterdir()} == {"harbour.png"}  # no report naming a lost picture


def test_an_eval_that_scores_nothing_leaves_nothing_in_the_way_of_the_next_try(model_file, tmp_path):
    (tmp_path / "notes.mp4").write_text("not a film")
    command = ["eval", "--model", str(model_file), "-o", str(tmp_path / "reports" / "today")]
    failed = CliRunner().invoke(main, [*command, str(tmp_path / "notes.mp4")])
    assert failed.exit_code == 1 and failed.stderr.startswith(f"vidcolor: {tmp_path / 'notes.mp4'}: not a ")
    assert failed.stderr.count("\n") == 1 and "\r" not in failed.stderr  # its reason, once, and no bar's remains
    assert not (tmp_path / "reports").exists()  # nor the folder made to hold it
    write_image(tmp_path / "harbour.png", landscape(3))
    assert CliRunner().invoke(main, [*command, str(tmp_path / "harbour.png")]).exit_code == 0


def ctrl_c_at(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's Ctrl-C while eval scores the file called `name`."""
    score = vidcolor.evaluation.evaluate.evaluate_item

    def stopped_there(colorizer: object, path: Path, *args: object, **kwargs: object) -> object:
        if path.name == name:
            raise KeyboardInterrupt
        return score(colorizer, path, *args, **kwargs)

    monkeypatch.setattr(vidcolor.evaluation.evaluate, "evaluate_item", stopped_there)


def two_photos(folder: Path) -> Path:
    folder.mkdir()
    for name, seed in (("a_harbour.png", 1), ("b_night.png", 2)):
        write_image(folder / name, landscape(seed))
    return folder


def test_an_eval_stopped_half_way_leaves_no_pictures_in_the_way_of_the_next_try(model_file, tmp_path, monkeypatch):
    """Its first photo's picture was once left behind, and the next eval refused to write over it."""
    command = ["eval", str(two_photos(tmp_path / "photos")), "--model", str(model_file), "-o", str(tmp_path / "report"),
               "--quiet"]
    with monkeypatch.context() as patched:
        ctrl_c_at("b_night.png", patched)
        stopped = CliRunner().invoke(main, command)
    assert stopped.exit_code == 130 and stopped.stderr == "vidcolor: interrupted\n"
    assert not (tmp_path / "report").exists()
    assert CliRunner().invoke(main, command).exit_code == 0


def test_an_eval_stopped_while_replacing_a_report_leaves_the_earlier_one_whole(model_file, tmp_path, monkeypatch):
    command = ["eval", str(two_photos(tmp_path / "photos")), "--model", str(model_file), "-o", str(tmp_path / "report"),
               "--quiet"]
    assert CliRunner().invoke(main, command).exit_code == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "report").iterdir()}
    write_image(tmp_path / "photos" / "a_harbour.png", landscape(3))  # a better scan since
    with monkeypatch.context() as patched:
        ctrl_c_at("b_night.png", patched)
        assert CliRunner().invoke(main, [*command, "--overwrite"]).exit_code == 130
    assert {p.name: p.read_bytes() for p in (tmp_path / "report").iterdir()} == before


def test_an_eval_report_keeps_a_films_strip_and_a_photo_that_bears_its_name_apart(clip, model_file, tmp_path):
    (tmp_path / "reels").mkdir()
    clip("reels/harbour.mp4", color=True, audio=())
    write_image(tmp_path / "reels" / "harbour_strip.png", landscape(6))
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "reels"), "--model", str(model_file),
                                       "-o", str(tmp_path / "report"), "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert {p.name for p in (tmp_path / "report").glob("*.png")} == {"harbour_strip-1.png", "harbour_strip-2.png"}


def test_an_eval_report_written_over_keeps_no_picture_of_a_film_it_could_not_score(clip, model_file, tmp_path):
    (tmp_path / "reels").mkdir()
    film = clip("reels/harbour.mp4", color=True, audio=())
    write_image(tmp_path / "reels" / "night.png", landscape(7))
    command = ["eval", str(tmp_path / "reels"), "--model", str(model_file), "-o", str(tmp_path / "report"), "--quiet"]
    assert CliRunner().invoke(main, command).exit_code == 0
    film.path.write_bytes(b"damaged since")
    again = CliRunner().invoke(main, [*command, "--overwrite"])
    assert again.exit_code == 1 and "1 of 2 could not be scored" in again.stderr
    assert {p.name for p in (tmp_path / "report").iterdir()} == {"night.png", "report.json", "report.csv"}


def test_frames_and_eval_say_when_a_film_is_cut_short(model_file, tmp_path):
    src = tmp_path / "reel.mkv"
    write_film(src, codec="ffv1", frames=10, picture=lambda i: landscape(i))
    src.write_bytes(src.read_bytes()[: src.stat().st_size * 6 // 10])
    for command in (["frames", str(src), "-o", str(tmp_path / "frames")], ["eval", str(src), "--model",
                                                                            str(model_file), "--quiet"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 0 and "reel.mkv: only 0." in result.stderr, result.stderr
        assert "of the 0.4 s the file announces could be read" in result.stderr


def test_an_eval_report_is_strict_json_even_where_a_score_is_perfect(model_file, tmp_path):
    write_image(tmp_path / "night.png", np.zeros((32, 48, 3), np.uint8))  # black: any colour of it is black
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "night.png"), "--model", str(model_file),
                                       "-o", str(tmp_path / "report")])
    assert result.exit_code == 0, result.stderr

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    report = json.loads((tmp_path / "report" / "report.json").read_text(), parse_constant=refuse)
    assert report[str(tmp_path / "night.png")]["psnr"] is None  # infinite


def test_eval_will_not_write_its_report_among_what_it_scores(model_file, tmp_path):
    (tmp_path / "photos").mkdir()
    write_image(tmp_path / "photos" / "harbour.png", landscape(4))
    before = (tmp_path / "photos" / "harbour.png").read_bytes()
    for scored, report, complaint in ((tmp_path / "photos", tmp_path / "photos" / "report", "must not be inside"),
                                      (tmp_path / "photos" / "harbour.png", tmp_path / "photos", "must not hold")):
        result = CliRunner().invoke(main, ["eval", str(scored), "--model", str(model_file), "-o", str(report)])
        assert result.exit_code == 1 and complaint in result.stderr
    assert {p.name for p in (tmp_path / "photos").iterdir()} == {"harbour.png"}
    assert (tmp_path / "photos" / "harbour.png").read_bytes() == before  # its comparison did not take its name


def test_a_photo_named_twice_is_scored_once(model_file, tmp_path):
    write_image(tmp_path / "harbour.png", landscape(5))
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "harbour.png"), str(tmp_path / ".." / tmp_path.name /
                                       "harbour.png"), "--model", str(model_file), "-o", str(tmp_path / "report")])
    assert result.exit_code == 0, result.stderr
    assert len(json.loads((tmp_path / "report" / "report.json").read_text())) == 1
    assert {p.name for p in (tmp_path / "report").glob("*.png")} == {"harbour.png"}


def test_frames_and_eval_read_past_a_damaged_frame_as_run_does(clip, model_file, tmp_path):
    src = clip("damaged.mkv", video_codec="mjpeg", pix_fmt="yuvj420p", corrupt_frame=5, color=True, audio=())
    extracted = CliRunner().invoke(main, ["frames", str(src.path), "-o", str(tmp_path / "frames"), "--every", "1"])
    assert extracted.exit_code == 0 and "damaged.mkv: skipped undecodable video packet" in extracted.stderr
    assert len(list((tmp_path / "frames").iterdir())) == 11
    scored = CliRunner().invoke(main, ["eval", str(src.path), "--model", str(model_file), "--quiet"])
    assert scored.exit_code == 0 and "| damaged.mkv |" in scored.output and "| 11 |" in scored.output


def _exit_and_stderr(script: str) -> tuple[int, str]:
    """A Python script run as a process of its own: its exit code and what it said on stderr."""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    return done.returncode, done.stderr


def test_a_ctrl_c_while_the_command_line_is_still_loading_ends_in_a_line_not_a_traceback():
    command = ("import sys\n"
               "class CtrlC:  # the user's Ctrl-C, landing while the command line's modules load\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name == 'vidcolor.cli':\n"
               "            raise KeyboardInterrupt\n"
               "sys.meta_path.insert(0, CtrlC())\n"
               "from vidcolor.__main__ import main\n"
               "main()\n")
    assert _exit_and_stderr(command) == (130, "vidcolor: interrupted\n")


def test_a_stop_that_cuts_start_up_short_ends_as_a_stop_not_as_the_odd_error_it_leaves_behind():
    """A signal in the first second may land in an import, leaving half-made modules whose users then fail
    oddly (numpy without `iterable`); what the user sees is still the stop they asked for."""
    command = ("import signal\n"
               "from vidcolor.cli.common import friendly\n"
               "@friendly\n"
               "def start() -> None:\n"
               "    try:\n"
               "        signal.raise_signal(signal.SIGTERM)\n"
               "    except KeyboardInterrupt:\n"
               "        pass  # swallowed where it landed\n"
               "    raise AttributeError(\"module 'numpy' has no attribute 'iterable'\")\n"
               "start()\n")
    assert _exit_and_stderr(command) == (143, "vidcolor: stopped by SIGTERM\n")


def test_a_stop_while_the_interpreter_shuts_down_adds_nothing_after_the_runs_last_line():
    """A supervisor's SIGTERM landing after the error line, in another library's exit handler (torch's)."""
    command = ("import atexit, signal\n"
               "atexit.register(signal.raise_signal, signal.SIGTERM)  # runs while the interpreter shuts down\n"
               "from vidcolor.cli.common import friendly\n"
               "from vidcolor.utils.errors import UserError\n"
               "@friendly\n"
               "def start() -> None:\n"
               "    raise UserError('hints.json: entry 0: (200, 44) is outside the picture')\n"
               "start()\n")
    code, stderr = _exit_and_stderr(command)
    assert code != 0 and stderr == "vidcolor: hints.json: entry 0: (200, 44) is outside the picture\n"


def test_a_second_ctrl_c_long_after_the_first_ends_a_run_that_swallows_its_stops():
    """A stop can land in a library that catches everything; pressed again once the first one's clean-up
    should have ended, Ctrl-C ends the process, saying so."""
    command = ("import signal\n"
               "from vidcolor.cli.common import friendly\n"
               "from vidcolor.utils import stopping\n"
               "stopping.GRACE_SECONDS = 0.0\n"
               "@friendly\n"
               "def start() -> None:\n"
               "    for _ in range(2):\n"
               "        try:\n"
               "            signal.raise_signal(signal.SIGINT)\n"
               "        except KeyboardInterrupt:\n"
               "            pass  # swallowed where it landed\n"
               "start()\n")
    assert _exit_and_stderr(command) == (130, "\nvidcolor: interrupted\n")  # a line of its own after any bar


def test_a_command_called_from_python_gives_the_caller_its_signal_handlers_back(tmp_path):
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    CliRunner().invoke(main, ["run", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "out.mp4")])
    assert {number: signal.getsignal(number) for number in before} == before


def test_a_folder_run_whose_log_reader_has_gone_still_colors_every_photo(model_file, tmp_path):
    """`vidcolor run scans -o out 2>&1 | head -1`: each photo here is in colour already, so each gets a warning,
    and the first written after the reader had gone stopped the run."""
    scans = tmp_path / "scans"
    scans.mkdir()
    for n in range(4):
        write_image(scans / f"scan{n}.png", landscape(n))
    command = [sys.executable, "-m", "vidcolor", "run", str(scans), "-o", str(tmp_path / "out"),
               "--model", str(model_file), "--jobs", "1"]
    with subprocess.Popen(command, stderr=subprocess.PIPE) as run:
        assert run.stderr is not None
        assert b"scan0.png: warning" in run.stderr.readline()  # as `head -1` reads, and then it is gone
        run.stderr.close()
        assert run.wait(timeout=120) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == [f"scan{n}.png" for n in range(4)]
