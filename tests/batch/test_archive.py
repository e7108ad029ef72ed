"""`vidcolor run` on a whole archive, told as what an archivist sees: a folder of films and photos
in, the same tree in colour out, broken files reported and left behind, and a rerun (after a crash,
a new file, a change of mind) doing only what is left to do.

Films and photos are generated on the fly and coloured by a tiny untrained model; the work is done
by real worker processes, so each run costs a few seconds of start-up.
"""
from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers.films import make_clip, probe, write_film
from helpers.models import write_tiny_hint_model
from helpers.photos import landscape

from vidcolor.batch.manifest import MANIFEST_NAME
from vidcolor.batch.workers import FileTask, LocalPool, Settings
from vidcolor.cli import main
from vidcolor.evaluation.metrics import colorfulness
from vidcolor.photo.read import read_image, read_photo
from vidcolor.photo.write import write_image
from vidcolor.utils.folder_lock import LOCK_NAME


def make_archive(root: Path) -> Path:
    """A small archive: photos in a folder, films in nested folders (one in a container we do not
    write), and a file that is neither."""
    (root / "photos" / "family").mkdir(parents=True)
    write_image(root / "photos" / "family" / "wedding.jpg", landscape(1))
    write_image(root / "photos" / "harbour.png", landscape(2))
    (root / "reels" / "1920s").mkdir(parents=True)
    make_clip(root / "reels" / "1920s" / "parade.mp4", frames=12)
    make_clip(root / "reels" / "ferry.avi", frames=12, audio=())
    (root / "notes.txt").write_text("catalogue")
    return root


def files_under(folder: Path) -> set[str]:
    """Every file below `folder`, hidden ones too, as paths inside it."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def outputs(folder: Path) -> set[str]:
    """The coloured files: everything but vidcolor's own bookkeeping."""
    return {f for f in files_under(folder) if f not in (MANIFEST_NAME, ".vidcolor.lock")}


def manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """The latest record per input."""
    lines = (folder / MANIFEST_NAME).read_text().splitlines()
    return {r["input"]: r for r in map(json.loads, lines)}


def mtimes(folder: Path) -> dict[str, int]:
    return {f: (folder / f).stat().st_mtime_ns for f in outputs(folder)}


def run(archive: Path, out: Path, model: Path, *options: object) -> Any:
    return CliRunner().invoke(main, ["run", str(archive), "-o", str(out), "--model", str(model), "--jobs", "1",
                                     *map(str, options)])


def run_in_background(archive: Path, out: Path, model: Path, *options: object) -> subprocess.Popen:
    """The command in a process of its own, as a user starts it, with --verbose lines on stderr."""
    cmd = [sys.executable, "-m", "vidcolor", "run", str(archive), "-o", str(out), "--model", str(model),
           "--jobs", "1", "--verbose", *map(str, options)]
    return subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def assert_summary(result: Any, done: int, skipped: int, failed: int) -> None:
    for name, count in (("done", done), ("skipped", skipped), ("failed", failed)):
        assert re.search(rf"\| {name} +\| +{count} \|", result.stderr), result.stderr


# --- a whole archive, once -----------------------------------------------------------------------

def test_an_archive_comes_out_as_the_same_tree_with_every_film_and_photo_in_color(model_file, tmp_path):
    archive = make_archive(tmp_path / "archive")
    result = run(archive, tmp_path / "coloured", model_file)

    assert result.exit_code == 0, result.output
    assert outputs(tmp_path / "coloured") == {"photos/family/wedding.png", "photos/harbour.png",
                                              "reels/1920s/parade.mp4", "reels/ferry.mkv"}
    assert read_image(tmp_path / "coloured" / "photos" / "family" / "wedding.png").shape == (48, 64, 3)
    assert len(probe(tmp_path / "coloured" / "reels" / "ferry.mkv").times) == 12
    assert min(c.mean() for c in probe(tmp_path / "coloured" / "reels" / "1920s" / "parade.mp4").chroma) > 5
    assert_summary(result, done=4, skipped=0, failed=0)
    assert "1 other file ignored" in result.stderr
    records = manifest(tmp_path / "coloured")
    assert {r["status"] for r in records.values()} == {"done"}
    assert records["reels/1920s/parade.mp4"]["frames"] == 12 and records["reels/1920s/parade.mp4"]["duration"] > 0


def test_a_broken_file_is_named_with_its_reason_and_the_rest_of_the_archive_goes_on(model_file, tmp_path):
    archive = make_archive(tmp_path / "archive")
    (archive / "reels" / "1920s" / "damaged.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 and then nothing")
    (archive / "photos" / "torn.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (archive / "photos" / "moved.jpg").symlink_to(tmp_path / "elsewhere.jpg")  # its target was moved away
    result = run(archive, tmp_path / "coloured", model_file)

    assert result.exit_code == 1
    assert re.search(r"failed reels/1920s/damaged\.mp4: .+", result.stderr)
    assert re.search(r"failed photos/torn\.jpg: not a readable image", result.stderr)
    assert re.search(r"failed photos/moved\.jpg: cannot be read \(No such file or directory\)", result.stderr)
    assert "Traceback" not in result.output
    assert outputs(tmp_path / "coloured") == {"photos/family/wedding.png", "photos/harbour.png",
                                              "reels/1920s/parade.mp4", "reels/ferry.mkv"}
    assert_summary(result, done=4, skipped=0, failed=3)
    assert manifest(tmp_path / "coloured")["photos/torn.jpg"]["status"] == "failed"


def test_a_folder_that_cannot_be_read_is_named_and_the_rest_of_the_archive_goes_on(model_file, tmp_path,
                                                                                  monkeypatch):
    """A folder locked to this user stopped the whole run on its first look inside it, excluded or not."""
    for folder in ("open", "locked"):
        (tmp_path / "archive" / folder).mkdir(parents=True)
        write_image(tmp_path / "archive" / folder / "harbour.png", landscape(1))
    listed = os.scandir

    def locked_out(path: Any = ".") -> Any:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return listed(path)

    monkeypatch.setattr(os, "scandir", locked_out)
    result = run(tmp_path / "archive", tmp_path / "coloured", model_file)
    assert result.exit_code == 1 and "failed locked/: cannot be read (Permission denied)" in result.stderr
    assert outputs(tmp_path / "coloured") == {"open/harbour.png"}
    assert_summary(result, done=1, skipped=0, failed=1)
    excluded = run(tmp_path / "archive", tmp_path / "coloured", model_file, "--exclude", "locked/*")
    assert excluded.exit_code == 0 and "1 excluded" in excluded.stderr


def test_a_linked_folder_is_coloured_once_and_a_link_back_into_the_archive_is_left_out(model_file, tmp_path):
    """An archive gathered from other disks links their folders in; a linked folder was passed over in silence."""
    (tmp_path / "archive" / "reels").mkdir(parents=True)
    (tmp_path / "other_disk" / "1950s").mkdir(parents=True)
    write_image(tmp_path / "archive" / "reels" / "harbour.png", landscape(1))
    write_image(tmp_path / "other_disk" / "1950s" / "wedding.png", landscape(2))
    (tmp_path / "archive" / "borrowed").symlink_to(tmp_path / "other_disk")
    (tmp_path / "archive" / "reels" / "up").symlink_to(tmp_path / "archive")  # round for ever, if followed
    (tmp_path / "archive" / "shortcut").symlink_to(tmp_path / "archive" / "reels")  # the same files again
    result = run(tmp_path / "archive", tmp_path / "coloured", model_file)
    assert result.exit_code == 0
    assert outputs(tmp_path / "coloured") == {"borrowed/1950s/wedding.png", "reels/harbour.png"}
    assert "reels/up/: a link to a folder this run goes through already" in result.stderr
    assert "shortcut/: a link to a folder this run goes through already" in result.stderr


def test_an_output_name_too_long_for_the_disk_fails_that_file_alone(model_file, tmp_path):
    """Two scans of one 251-letter name get their whole names kept (.jpg.png), past the 255 bytes a disk takes:
    the whole run stopped, nothing coloured."""
    (tmp_path / "archive").mkdir()
    for name in ("d" * 251 + ".jpg", "d" * 251 + ".tif", "harbour.png"):
        write_image(tmp_path / "archive" / name, landscape(1))
    result = run(tmp_path / "archive", tmp_path / "coloured", model_file)
    assert result.exit_code == 1 and result.stderr.count("File name too long") == 2
    assert outputs(tmp_path / "coloured") == {"harbour.png"}
    assert_summary(result, done=1, skipped=0, failed=2)


def test_a_file_where_an_output_folder_should_go_fails_the_files_below_it_in_one_line(model_file, tmp_path):
    archive = make_archive(tmp_path / "archive")
    (tmp_path / "colored" / "reels").mkdir(parents=True)
    (tmp_path / "colored" / "reels" / "1920s").write_text("a note someone saved under the folder's name")
    result = run(archive, tmp_path / "colored", model_file)

    assert result.exit_code == 1 and "Traceback" not in result.output
    assert re.search(r"failed reels/1920s/parade\.mp4: .*1920s: is a file, where the output folder should be",
                     result.stderr)
    assert outputs(tmp_path / "colored") == {"photos/family/wedding.png", "photos/harbour.png", "reels/1920s",
                                             "reels/ferry.mkv"}
    assert_summary(result, done=3, skipped=0, failed=1)


def test_include_and_exclude_choose_files_by_their_path_inside_the_archive(model_file, tmp_path):
    archive = make_archive(tmp_path / "archive")
    result = run(archive, tmp_path / "coloured", model_file, "--include", "Photos/*", "--exclude", "*/family/*")

    assert result.exit_code == 0, result.output
    assert outputs(tmp_path / "coloured") == {"photos/harbour.png"}
    assert "3 excluded" in result.stderr  # and case is ignored: Photos/* took photos/


def test_a_folder_with_nothing_to_color_is_refused_and_leaves_nothing_behind(model_file, tmp_path):
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "notes.txt").write_text("catalogue")
    result = run(tmp_path / "archive", tmp_path / "coloured", model_file)  # a folder given by mistake
    assert result.exit_code == 1 and "no photos or films found" in result.stderr
    assert not (tmp_path / "coloured").exists()


def test_a_folder_is_not_colored_into_a_name_that_is_a_films_and_that_is_all_it_says(model_file, tmp_path):
    (tmp_path / "archive" / "coloured").mkdir(parents=True)
    write_image(tmp_path / "archive" / "harbour.png", landscape(2))
    (tmp_path / "archive" / "coloured" / "vidcolor-manifest.jsonl").write_text("")  # an earlier output, not said
    result = run(tmp_path / "archive", tmp_path / "film.mp4", model_file)
    assert result.exit_code == 1
    said = f"vidcolor: {tmp_path / 'film.mp4'}: a folder is coloured into a folder, not into a .mp4 file\n"
    assert result.stderr == said
    assert not (tmp_path / "film.mp4").exists()


def test_an_earlier_output_inside_the_archive_is_not_colored_again(model_file, tmp_path):
    (tmp_path / "archive").mkdir()
    write_image(tmp_path / "archive" / "harbour.png", landscape(2))
    assert run(tmp_path / "archive", tmp_path / "archive" / "coloured", model_file).exit_code == 0
    again = run(tmp_path / "archive", tmp_path / "archive" / "coloured-again", model_file)
    assert again.exit_code == 0, again.output
    assert outputs(tmp_path / "archive" / "coloured-again") == {"harbour.png"}
    assert "coloured/: an earlier vidcolor output" in again.stderr


def test_camcorder_and_broadcast_films_in_a_folder_are_colored_into_mkv(model_file, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    make_clip(archive / "holiday.mts", frames=6, audio=())
    make_clip(archive / "news.ts", frames=6, audio=())
    result = run(archive, tmp_path / "coloured", model_file)
    assert result.exit_code == 0, result.output
    assert outputs(tmp_path / "coloured") == {"holiday.mkv", "news.mkv"}
    assert len(probe(tmp_path / "coloured" / "holiday.mkv").times) == 6


def test_an_animated_gif_in_a_folder_is_colored_as_a_film_as_it_is_alone(model_file, tmp_path):
    from PIL import Image

    archive = tmp_path / "archive"
    archive.mkdir()
    frames = [Image.fromarray(landscape(i)) for i in range(4)]
    frames[0].save(archive / "loop.gif", save_all=True, append_images=frames[1:], duration=100)
    result = run(archive, tmp_path / "coloured", model_file)
    assert result.exit_code == 0, result.output
    assert outputs(tmp_path / "coloured") == {"loop.mkv"}
    assert len(probe(tmp_path / "coloured" / "loop.mkv").times) == 4


def test_a_master_scan_beside_its_access_copy_gives_two_outputs_named_after_each(model_file, tmp_path):
    archive = tmp_path / "archive"
    (archive / "roll1").mkdir(parents=True)
    write_image(archive / "roll1" / "frame.tif", landscape(1).astype(np.uint16) * 257)  # the 16-bit master
    write_image(archive / "roll1" / "frame.jpg", landscape(1))  # the access copy
    write_image(archive / "roll1" / "other.jpg", landscape(2))
    result = run(archive, tmp_path / "coloured", model_file)

    assert result.exit_code == 0, result.output
    assert outputs(tmp_path / "coloured") == {"roll1/frame.tif.png", "roll1/frame.jpg.png", "roll1/other.png"}
    assert read_photo(tmp_path / "coloured" / "roll1" / "frame.tif.png").dtype == np.uint16


def test_a_master_added_later_leaves_the_access_copy_done_under_its_name(model_file, tmp_path):
    archive, out = tmp_path / "archive", tmp_path / "coloured"
    archive.mkdir()
    write_image(archive / "frame.jpg", landscape(1))
    assert run(archive, out, model_file).exit_code == 0
    write_image(archive / "frame.tif", landscape(1))  # the master scan arrives
    again = run(archive, out, model_file)
    assert_summary(again, done=1, skipped=1, failed=0)
    assert outputs(out) == {"frame.png", "frame.tif.png"}


def test_a_scan_named_as_anothers_output_would_be_still_gets_a_file_of_its_own_and_every_rerun_skips_all(
        model_file, tmp_path):
    """p.jpg and p.png both turn into p.png, so each keeps its whole name: p.jpg.png, which is the output of the
    scan p.jpg.png itself. Two of the three failed on every run, and could never be coloured."""
    archive, out = tmp_path / "archive", tmp_path / "coloured"
    archive.mkdir()
    for seed, name in enumerate(("p.jpg", "p.png", "p.jpg.png")):
        write_image(archive / name, landscape(seed))
    first = run(archive, out, model_file)
    assert first.exit_code == 0, first.stderr
    assert outputs(out) == {"p.jpg-2.png", "p.png.png", "p.jpg.png"}
    assert {r["input"]: r["output"] for r in manifest(out).values()} == {
        "p.jpg": "p.jpg-2.png", "p.png": "p.png.png", "p.jpg.png": "p.jpg.png"}
    assert_summary(run(archive, out, model_file), done=0, skipped=3, failed=0)


def test_a_scan_whose_output_would_bear_a_folders_name_is_named_after_itself(model_file, tmp_path):
    """p.jpg becomes p.png, and p.png/ is also a folder of the archive (of its scans, q.jpg): one of them could
    not be written."""
    archive, out = tmp_path / "archive", tmp_path / "coloured"
    (archive / "p.png").mkdir(parents=True)
    write_image(archive / "p.jpg", landscape(1))
    write_image(archive / "p.png" / "q.jpg", landscape(2))
    result = run(archive, out, model_file)
    assert result.exit_code == 0, result.stderr
    assert outputs(out) == {"p.jpg.png", "p.png/q.png"}


@pytest.mark.parametrize("mistake, said", [
    ({"jobs": -1}, "jobs: -1; give a whole number from 1 up"),  # it spun for ever
    ({"jobs": 0}, "jobs: 0; give a whole number from 1 up"),  # it was taken as None
    ({"split": "many"}, "split: 'many'; give a whole number from 2 up, or 'auto'"),
    ({"saturation": "1.3"}, "saturation: '1.3' is not a number"),
    ({"window": "8"}, "window: '8' is not a whole number"),
    ({"skip_color": "no"}, "skip_color: 'no' is not True or False"),  # a string that is true
    ({"hints": {"x": 1, "y": 2, "color": "#a03020"}}, "hints: give a hints file, or a list of its entries"),
    ({"dst": None}, "dst: None is not a file or folder's path"),  # these were tracebacks, deep down or at once
    ({"model": None}, "model: None is not a model's name or file, or a Colorizer"),
    ({"device": None}, "device: None is not a string"),  # after the model had loaded
    ({"window": None}, "window: None is not a whole number"),
    ({"include": 5}, "include: 5 is not a glob, or a list of globs"),
    ({"exclude": [1]}, "exclude: [1] is not a glob, or a list of globs"),
    ({"ray": 5}, "ray: 5 is not a string, or None"),
])
def test_a_scripts_argument_of_the_wrong_kind_is_told_in_one_line(model_file, tmp_path, mistake, said):
    from vidcolor import colorize
    from vidcolor.utils.errors import UserError

    photo = tmp_path / "scan.png"
    write_image(photo, landscape(1))
    arguments = {"dst": tmp_path / "out.png", "model": str(model_file), **mistake}
    with pytest.raises(UserError, match=re.escape(said)):
        colorize(photo, **arguments)
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("mistake, said", [
    ({"overwrite": "no"}, "overwrite: 'no' is not True or False"),  # a string that is true: the output was replaced
    ({"saturation": "1.3"}, "saturation: '1.3' is not a number"),  # a TypeError deep down
    ({"hints": ({"x": 1, "y": 2, "color": "#a03020"},)}, "hints: give a hints file, or a list of its entries"),
])
def test_colouring_one_photo_or_film_from_a_script_checks_its_arguments_as_colorize_does(model_file, tmp_path,
                                                                                         mistake, said):
    from vidcolor import colorize_photo, colorize_video
    from vidcolor.utils.errors import UserError

    photo, film = tmp_path / "scan.png", tmp_path / "reel.mp4"
    write_image(photo, landscape(1))
    write_film(film)
    for colorize_one, src, dst in ((colorize_photo, photo, tmp_path / "out.png"),
                                   (colorize_video, film, tmp_path / "out.mp4")):
        dst.write_bytes(b"an earlier output, kept")
        with pytest.raises(UserError, match=re.escape(said)):
            colorize_one(src, dst, model=str(model_file), **mistake)
        assert dst.read_bytes() == b"an earlier output, kept"
    with pytest.raises(UserError, match="keyframes: give frame numbers and their pictures"):
        colorize_video(film, tmp_path / "new.mp4", model=str(model_file), keyframes=[photo])
    with pytest.raises(UserError, match="keyframes: 3: 5 is not a picture's file"):
        colorize_video(film, tmp_path / "new.mp4", model=str(model_file), keyframes={3: 5})
    with pytest.raises(UserError, match="on_frames: 5 is not a function, or None"):
        colorize_video(film, tmp_path / "new.mp4", model=str(model_file), on_frames=5)


def test_a_scripts_model_loader_that_gives_no_colorizer_is_told_in_one_line(tmp_path):
    """A loader giving None wrote the grey photo back as if coloured; one giving a name was a traceback."""
    from vidcolor import colorize_photo, colorize_video
    from vidcolor.runtime.inference import Colorizer
    from vidcolor.utils.errors import UserError

    photo, film = tmp_path / "scan.png", tmp_path / "reel.mp4"
    write_image(photo, landscape(1).mean(axis=2).astype(np.uint8))
    write_film(film)
    for colorize_one, src, dst in ((colorize_photo, photo, tmp_path / "out.png"),
                                   (colorize_video, film, tmp_path / "out.mp4")):
        for loader, gave in ((lambda: None, "None"), (lambda: "fusion", "'fusion'")):
            with pytest.raises(UserError, match=re.escape(f"model: its loader gave {gave}, not a Colorizer")):
                colorize_one(src, dst, model=loader)
        with pytest.raises(UserError, match="is not a model's name or file, or a Colorizer"):
            colorize_one(src, dst, model=Colorizer)  # the class, not one loaded
        assert not dst.exists()


def test_a_script_may_name_its_model_file_with_a_path(model_file, tmp_path):
    from vidcolor import colorize

    (tmp_path / "archive").mkdir()
    write_image(tmp_path / "archive" / "scan.png", landscape(1))
    colorize(tmp_path / "archive" / "scan.png", tmp_path / "one.png", model=model_file)
    colorize(tmp_path / "archive", tmp_path / "all", model=model_file, jobs=1, quiet=True)  # its workers load it
    assert (tmp_path / "one.png").is_file() and (tmp_path / "all" / "scan.png").is_file()


def test_one_glob_given_to_a_script_as_a_string_is_one_glob(model_file, tmp_path):
    """`include="reel1/*"` was read letter by letter, and its `*` took every file."""
    from vidcolor import colorize

    archive = make_archive(tmp_path / "archive")
    colorize(archive, tmp_path / "coloured", model=str(model_file), jobs=1, include="photos/family/*", quiet=True)
    assert outputs(tmp_path / "coloured") == {"photos/family/wedding.png"}


def _ignores_case(folder: Path) -> bool:
    (folder / "Case").touch()
    try:
        return (folder / "case").exists()
    finally:
        (folder / "Case").unlink()


def test_scans_whose_names_differ_only_in_case_get_outputs_apart_on_any_disk(model_file, tmp_path):
    """A.jpg and a.jpg are two files here, but A.png and a.png one on a Windows or macOS disk."""
    if _ignores_case(tmp_path):
        pytest.skip("this disk cannot hold A.jpg beside a.jpg")
    archive, out = tmp_path / "archive", tmp_path / "coloured"
    archive.mkdir()
    write_image(archive / "A.jpg", landscape(1))
    write_image(archive / "a.jpg", landscape(2))
    assert run(archive, out, model_file).exit_code == 0
    assert outputs(out) == {"A.jpg.png", "a.jpg-2.png"}  # A.jpg.png and a.jpg.png: one file there too


def test_outputs_an_earlier_run_wrote_apart_but_for_case_keep_their_names(model_file, tmp_path):
    """A.png and a.png, written by runs that met A.jpg and a.jpg one at a time (or before names alike but for
    case were told apart): the disk holds both, so neither is coloured again under a new name, which left the
    old one behind in no record."""
    if _ignores_case(tmp_path):
        pytest.skip("this disk cannot hold A.jpg beside a.jpg")
    archive, out = tmp_path / "archive", tmp_path / "coloured"
    archive.mkdir()
    write_image(archive / "A.jpg", landscape(1))
    assert run(archive, out, model_file).exit_code == 0
    (archive / "A.jpg").rename(tmp_path / "A.jpg")
    write_image(archive / "a.jpg", landscape(2))
    assert run(archive, out, model_file).exit_code == 0
    (tmp_path / "A.jpg").rename(archive / "A.jpg")
    assert_summary(run(archive, out, model_file), done=0, skipped=2, failed=0)
    assert outputs(out) == {"A.png", "a.png"}


def test_lossless_masters_of_a_whole_archive_all_go_into_mkv(model_file, tmp_path):
    archive = make_archive(tmp_path / "archive")
    result = run(archive, tmp_path / "masters", model_file, "--codec", "ffv1")
    assert result.exit_code == 0, result.output
    assert outputs(tmp_path / "masters") == {"photos/family/wedding.png", "photos/harbour.png",
                                             "reels/1920s/parade.mkv", "reels/ferry.mkv"}


def test_a_whole_archive_in_one_codec_puts_each_film_where_that_codec_goes(model_file, tmp_path):
    """H.264 goes into no .webm: such a film comes out as .mkv, as one in a container vidcolor does not write."""
    archive = make_archive(tmp_path / "archive")
    make_clip(archive / "reels" / "web.webm", frames=12, video_codec="libvpx-vp9", audio=())
    result = run(archive, tmp_path / "coloured", model_file, "--codec", "libx264")
    assert result.exit_code == 0, result.output
    assert {o for o in outputs(tmp_path / "coloured") if o.startswith("reels/")} == {
        "reels/1920s/parade.mp4", "reels/ferry.mkv", "reels/web.mkv"}


def test_films_in_older_containers_and_bare_streams_are_found_in_an_archive(model_file, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    make_clip(archive / "old.asf", frames=6, video_codec="wmv2", audio=())
    make_clip(archive / "master.y4m", frames=6, video_codec="rawvideo", pix_fmt="yuv420p", audio=())
    result = run(archive, tmp_path / "coloured", model_file)
    assert result.exit_code == 0, result.output
    assert outputs(tmp_path / "coloured") == {"old.mkv", "master.mkv"}


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems refuse names that are not UTF-8")
def test_a_file_name_from_an_old_latin_1_archive_is_colored_and_remembered(model_file, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    latin_1 = os.fsdecode(b"caf\xe9 1952.png")  # not UTF-8: as the file system holds it
    write_image(archive / latin_1, landscape(1))
    write_image(archive / "harbour.png", landscape(2))
    first = run(archive, tmp_path / "coloured", model_file)
    assert first.exit_code == 0, first.output
    assert outputs(tmp_path / "coloured") == {latin_1, "harbour.png"}
    assert_summary(run(archive, tmp_path / "coloured", model_file), done=0, skipped=2, failed=0)


def test_an_output_folder_that_cannot_be_written_into_is_refused_in_one_line(model_file, tmp_path):
    archive = make_archive(tmp_path / "archive")
    out = tmp_path / "coloured"
    (out / LOCK_NAME).mkdir(parents=True)  # in the way, whoever runs the test (root ignores permissions)
    result = run(archive, out, model_file)
    assert result.exit_code == 1 and "Traceback" not in result.output
    expected = f"vidcolor: {out}: cannot write into the output folder (Is a directory)"
    assert result.stderr.strip().splitlines() == [expected]


# --- coming back to it ---------------------------------------------------------------------------

def test_a_rerun_skips_what_is_done_and_redoes_only_what_changed_or_went_missing(model_file, tmp_path):
    archive, out = make_archive(tmp_path / "archive"), tmp_path / "coloured"
    assert run(archive, out, model_file).exit_code == 0
    before = mtimes(out)

    write_image(archive / "photos" / "harbour.png", landscape(7))  # a better scan of the same photo
    (out / "reels" / "ferry.mkv").unlink()  # an output lost
    again = run(archive, out, model_file)
    assert again.exit_code == 0, again.output
    assert_summary(again, done=2, skipped=2, failed=0)
    after = mtimes(out)
    assert {f for f in before if after[f] != before[f]} == {"photos/harbour.png", "reels/ferry.mkv"}

    finer = run(archive, out, model_file, "--crf", "12")  # films depend on it, photos do not
    assert_summary(finer, done=2, skipped=2, failed=0)
    assert manifest(out)["reels/ferry.avi"]["options"]["crf"] == 12

    muted = colorfulness(read_image(out / "photos" / "harbour.png"))
    livelier = run(archive, out, model_file, "--crf", "12", "--saturation", "1.5")  # photos and films
    assert_summary(livelier, done=4, skipped=0, failed=0)
    assert colorfulness(read_image(out / "photos" / "harbour.png")) > 1.2 * muted > 0


def test_an_output_retouched_by_hand_is_kept_when_its_scan_changes_unless_overwrite_is_given(model_file, tmp_path):
    """A restorer retouched a coloured photo, then rescanned its original: the rerun replaced the retouched one."""
    (tmp_path / "archive").mkdir()
    write_image(tmp_path / "archive" / "harbour.png", landscape(2))
    write_image(tmp_path / "archive" / "wedding.png", landscape(3))
    out = tmp_path / "coloured"
    assert run(tmp_path / "archive", out, model_file).exit_code == 0
    write_image(out / "harbour.png", landscape(4))  # the retouched colour photo
    retouched = (out / "harbour.png").read_bytes()
    for name, seed in (("harbour.png", 5), ("wedding.png", 6)):  # both rescanned
        write_image(tmp_path / "archive" / name, landscape(seed))
    again = run(tmp_path / "archive", out, model_file)
    assert again.exit_code == 1 and "failed harbour.png: " in again.stderr
    assert "was changed since vidcolor wrote it (use --overwrite to replace it)" in again.stderr
    assert (out / "harbour.png").read_bytes() == retouched
    assert_summary(again, done=1, skipped=0, failed=1)  # the wedding, untouched since, is done again
    replaced = run(tmp_path / "archive", out, model_file, "--overwrite")
    assert replaced.exit_code == 0 and (out / "harbour.png").read_bytes() != retouched


def test_outputs_no_earlier_run_wrote_are_kept_unless_overwrite_is_given(model_file, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    write_image(archive / "harbour.png", landscape(2))
    (tmp_path / "coloured").mkdir()
    write_image(tmp_path / "coloured" / "harbour.png", landscape(3))  # someone's own work

    refused = run(archive, tmp_path / "coloured", model_file)
    assert refused.exit_code == 1 and "use --overwrite" in refused.stderr
    assert (read_image(tmp_path / "coloured" / "harbour.png") == landscape(3)).all()
    assert run(archive, tmp_path / "coloured", model_file, "--force").exit_code == 1  # redoing is not replacing
    assert (read_image(tmp_path / "coloured" / "harbour.png") == landscape(3)).all()
    assert run(archive, tmp_path / "coloured", model_file, "--overwrite").exit_code == 0
    assert manifest(tmp_path / "coloured")["harbour.png"]["status"] == "done"


def test_another_archives_file_of_the_same_name_does_not_replace_an_output_unasked(model_file, tmp_path):
    for reel, seed in (("reel_a", 1), ("reel_b", 2)):
        (tmp_path / reel).mkdir()
        write_image(tmp_path / reel / "scan.png", landscape(seed))
    assert run(tmp_path / "reel_a", tmp_path / "coloured", model_file).exit_code == 0
    first = (tmp_path / "coloured" / "scan.png").read_bytes()

    merged = run(tmp_path / "reel_b", tmp_path / "coloured", model_file)
    assert merged.exit_code == 1 and f"was coloured from {(tmp_path / 'reel_a').resolve()}" in merged.stderr
    assert (tmp_path / "coloured" / "scan.png").read_bytes() == first
    assert run(tmp_path / "reel_b", tmp_path / "coloured", model_file, "--overwrite").exit_code == 0
    assert (tmp_path / "coloured" / "scan.png").read_bytes() != first


# --- hints files beside the files --------------------------------------------------------------

@pytest.fixture(scope="module")
def hint_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny hint model: it colours files with and without hints, and a hint visibly changes its colours."""
    return write_tiny_hint_model(tmp_path_factory.mktemp("hint_model") / "tiny_hints.safetensors")


def write_hints(path: Path, *hints: dict[str, Any]) -> None:
    path.write_text(json.dumps(list(hints)))


def color_difference(a: Path, b: Path) -> np.ndarray:
    return np.abs(read_image(a).astype(int) - read_image(b).astype(int)).sum(axis=-1)


def test_a_hints_file_beside_a_photo_or_film_tells_its_colors_in_a_folder_run(hint_model, tmp_path):
    archive, out = tmp_path / "archive", tmp_path / "coloured"
    archive.mkdir()
    for name in ("told.png", "untold.png"):  # the same photo twice: one told a colour, one not
        write_image(archive / name, landscape(1))
    write_hints(archive / "told.png.hints.json", {"x": 20, "y": 30, "color": "#a03020"})
    make_clip(archive / "reel.mp4", frames=6, audio=())
    write_hints(archive / "reel.mp4.hints.json", {"x": 10, "y": 10, "color": "#2040c0", "frame": 0})
    write_hints(archive / "reel.hints.json", {"x": 10, "y": 10, "color": "#2040c0"})  # beside no such file
    result = run(archive, out, hint_model, "--split", "2")

    assert result.exit_code == 0, result.output
    assert outputs(out) == {"told.png", "untold.png", "reel.mp4"}  # hints files are no inputs
    assert_summary(result, done=3, skipped=0, failed=0)
    assert "reel.hints.json: no photo or film reel beside it" in result.stderr
    assert "reel.mp4 has hints (reel.mp4.hints.json): colouring it whole" in result.stderr  # not cut up
    assert "1 other file ignored" in result.stderr
    difference = color_difference(out / "told.png", out / "untold.png")
    assert difference[25:36, 15:26].mean() > 5 * max(difference.mean(), 1)  # there, and hardly elsewhere
    records = manifest(out)
    assert records["told.png"]["options"]["hints_sha256"] and records["reel.mp4"]["options"]["hints_sha256"]
    assert "hints_sha256" not in records["untold.png"]["options"]


def test_a_changed_hints_file_redoes_just_its_photo_on_the_next_run(hint_model, tmp_path):
    archive, out = tmp_path / "archive", tmp_path / "coloured"
    archive.mkdir()
    for n, name in enumerate(("a.png", "b.png", "c.png")):
        write_image(archive / name, landscape(n))
    write_hints(archive / "a.png.hints.json", {"x": 20, "y": 30, "color": "#a03020"})
    write_hints(archive / "b.png.hints.json", {"x": 20, "y": 30, "color": "#a03020"})
    assert run(archive, out, hint_model).exit_code == 0
    before, first_a = mtimes(out), read_image(out / "a.png")

    write_hints(archive / "a.png.hints.json", {"x": 20, "y": 30, "color": "#2040c0"})  # blue, not red
    changed = run(archive, out, hint_model)
    assert changed.exit_code == 0, changed.output
    assert_summary(changed, done=1, skipped=2, failed=0)
    after = mtimes(out)
    assert {f for f in before if after[f] != before[f]} == {"a.png"}
    assert (read_image(out / "a.png") != first_a).any()

    (archive / "a.png.hints.json").unlink()  # removed, and a new one for c
    write_hints(archive / "c.png.hints.json", {"x": 5, "y": 5, "color": "#30a020"})
    again = run(archive, out, hint_model)
    assert_summary(again, done=2, skipped=1, failed=0)
    records = manifest(out)
    assert "hints_sha256" not in records["a.png"]["options"] and records["c.png"]["options"]["hints_sha256"]
    assert_summary(run(archive, out, hint_model), done=0, skipped=3, failed=0)


def test_a_malformed_hints_file_fails_only_its_file_naming_the_file_and_the_entry(hint_model, model_file,
                                                                                      tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    for n, name in enumerate(("bad.png", "good.png", "plain.png")):
        write_image(archive / name, landscape(n))
    write_hints(archive / "bad.png.hints.json", {"x": 20, "y": 30, "color": "#a03020"}, {"x": 1, "y": 2})
    write_hints(archive / "good.png.hints.json", {"x": 20, "y": 30, "color": "#a03020"})
    result = run(archive, tmp_path / "coloured", hint_model)

    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"failed bad.png: {archive / 'bad.png.hints.json'}: entry 1: has no color\n" in result.stderr
    assert_summary(result, done=2, skipped=0, failed=1)
    assert outputs(tmp_path / "coloured") == {"good.png", "plain.png"}

    plain_model = run(archive, tmp_path / "plain", model_file)  # a model that takes no hints
    assert "failed good.png: this model takes no hints or reference" in plain_model.stderr
    assert_summary(plain_model, done=1, skipped=0, failed=2)
    assert outputs(tmp_path / "plain") == {"plain.png"}


# --- crashes -------------------------------------------------------------------------------------

def test_a_run_killed_mid_way_leaves_no_half_written_file_and_a_rerun_finishes_the_job(model_file, tmp_path):
    archive, out = tmp_path / "archive", tmp_path / "coloured"
    archive.mkdir()
    for n in range(4):
        make_clip(archive / f"reel{n}.mp4", width=160, height=120, frames=48)
    proc = run_in_background(archive, out, model_file)
    deadline = time.monotonic() + 60
    while not (out / MANIFEST_NAME).exists() or '"done"' not in (out / MANIFEST_NAME).read_text():
        assert time.monotonic() < deadline and proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(1.5)  # its worker notices and stops too

    finished = [f for f in outputs(out) if not f.startswith(".")]
    assert finished and all(len(probe(out / f).times) == 48 for f in finished)

    rerun = run(archive, out, model_file)
    assert rerun.exit_code == 0, rerun.output
    assert outputs(out) == {f"reel{n}.mp4" for n in range(4)}  # and no hidden leftovers
    assert all(len(probe(out / f).times) == 48 for f in outputs(out))
    assert {r["status"] for r in manifest(out).values()} == {"done"}


def test_a_worker_that_dies_fails_only_the_file_it_was_coloring(model_file, tmp_path):
    archive, out = tmp_path / "archive", tmp_path / "coloured"
    archive.mkdir()
    make_clip(archive / "a_long_reel.mp4", width=320, height=240, frames=96)
    write_image(archive / "b_photo.png", landscape(1))
    make_clip(archive / "c_reel.mp4", frames=12)
    proc = run_in_background(archive, out, model_file)
    for line in proc.stderr:
        if found := re.search(r"\(pid (\d+)\): a_long_reel\.mp4", line):
            os.kill(int(found[1]), signal.SIGKILL)  # as the OOM killer would
            break
    stderr = proc.stderr.read()
    assert proc.wait() == 1
    assert "failed a_long_reel.mp4: the worker process died" in stderr
    assert outputs(out) == {"b_photo.png", "c_reel.mp4"}


def test_more_workers_than_cores_asked_for_run_one_per_core_and_say_so(model_file, tmp_path, monkeypatch):
    """--jobs 1000 once started a thousand worker processes, each with its own model: the machine ran out of
    memory."""
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    archive, out = make_archive(tmp_path / "archive"), tmp_path / "coloured"
    result = run(archive, out, model_file, "--jobs", "3")  # a few too many: were they started, no harm done
    assert result.exit_code == 0, result.stderr
    assert "--jobs 3: this machine has 2 CPU cores; running 2 workers" in result.stderr
    assert len(outputs(out)) == 4


def test_workers_are_started_only_as_the_files_need_them(model_file, tmp_path):
    """A photo or two need one worker, however many --jobs allows: each worker costs a model's memory."""
    write_image(tmp_path / "a.png", landscape(1))
    write_image(tmp_path / "b.png", landscape(2))
    pool = LocalPool(Settings(str(model_file)), jobs=4)
    try:
        for name in ("a.png", "b.png"):  # one after the other: the first's worker is free again for the second
            pool.submit(name, FileTask(name, tmp_path / name, tmp_path / "out" / name))
            key, outcome = pool.next_result()
            assert key == name and outcome.error is None
        workers = [p.name for p in multiprocessing.active_children() if p.name.startswith("vidcolor-worker")]
        assert workers == ["vidcolor-worker-1"] and pool.has_room()
    finally:
        pool.close()


def test_a_script_without_the_main_guard_is_told_what_it_lacks(model_file, tmp_path):
    """Each worker imports the script, which started the run again: every file failed in a traceback blaming
    "another vidcolor run is writing into this folder"."""
    archive = make_archive(tmp_path / "archive")
    script = tmp_path / "colour_all.py"
    script.write_text(f"from vidcolor import colorize\ncolorize({str(archive)!r}, {str(tmp_path / 'out')!r}, "
                      f"model={str(model_file)!r}, jobs=1, quiet=True)\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("Traceback") == 1, result.stderr  # the script's own
    assert result.stderr.splitlines()[-1].endswith('must keep that work under `if __name__ == "__main__":` '
                                                   "(each worker imports the script, and without it ran it again)")
    assert "another vidcolor run" not in result.stderr
    assert not (tmp_path / "out").exists()  # refused as a whole: no folder of a manifest of nothing is left


def test_a_worker_tells_the_frames_of_its_film_as_they_are_done(model_file, tmp_path):
    """A folder or --split run's bar stood at 0/1 file for the whole of a long film: its worker said nothing
    until the film was done."""
    film = make_clip(tmp_path / "reel.mp4", frames=48).path
    heard: list[tuple[str, int]] = []
    pool = LocalPool(Settings(str(model_file)), jobs=1)
    try:
        pool.submit("reel", FileTask("reel.mp4", film, tmp_path / "out" / "reel.mp4"))
        key, outcome = pool.next_result(lambda key, frames: heard.append((key, frames)))
    finally:
        pool.close()
    assert key == "reel" and outcome.error is None and outcome.frames == 48
    assert heard and {k for k, _ in heard} == {"reel"} and sum(n for _, n in heard) == 48


def test_workers_stopped_with_the_run_leave_their_films_unfinished_and_nothing_behind(model_file, tmp_path):
    """A Ctrl-C pressed while the workers were starting was lost on them (they start deaf to it, so as not to die
    half imported): the run waited for each to colour its film, 5 seconds a worker and more, saying nothing."""
    film = make_clip(tmp_path / "reel.mp4", frames=48).path
    pool = LocalPool(Settings(str(model_file)), jobs=1)
    pool.submit("reel", FileTask("reel.mp4", film, tmp_path / "out" / "reel.mp4"))
    pool.close(at_once=True)  # as the run does when stopped
    assert not (tmp_path / "out" / "reel.mp4").exists()  # stopped, not waited for
    assert not (tmp_path / "out").exists() or files_under(tmp_path / "out") == set()


def test_a_worker_tells_its_frames_every_half_second_not_every_batch(monkeypatch):
    from types import SimpleNamespace

    import vidcolor.batch.workers as workers

    sent: list[workers.Frames] = []
    now = [0.0]
    monkeypatch.setattr(workers, "time", SimpleNamespace(monotonic=lambda: now[0]))
    progress = workers.Progress(SimpleNamespace(send=sent.append))
    for now[0] in (0.1, 0.2, 0.6, 0.7, 1.2, 1.3):  # a batch of 8 frames at each
        progress.add(8)
    progress.send()  # at the task's end, the rest
    assert [frames.count for frames in sent] == [24, 16, 8]


# --- more machines, longer films -----------------------------------------------------------------

def test_a_local_ray_runtime_colors_the_files_into_the_same_manifest(model_file, tmp_path):
    pytest.importorskip("ray", reason='Ray is an optional extra: pip install "vidcolor[ray]"')
    archive = tmp_path / "archive"
    archive.mkdir()
    write_image(archive / "harbour.png", landscape(2))
    make_clip(archive / "parade.mp4", frames=12)
    result = run(archive, tmp_path / "coloured", model_file, "--ray", "local", "--jobs", "2")

    assert result.exit_code == 0, result.output
    assert outputs(tmp_path / "coloured") == {"harbour.png", "parade.mp4"}
    assert_summary(result, done=2, skipped=0, failed=0)
    assert {r["status"] for r in manifest(tmp_path / "coloured").values()} == {"done"}


def test_a_ray_cluster_nothing_answers_at_is_refused_in_a_line_rather_than_waited_for(model_file, tmp_path):
    pytest.importorskip("ray", reason='Ray is an optional extra: pip install "vidcolor[ray]"')
    with socket.socket() as closed:  # a port that was free a moment ago: nothing listens there
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    archive = tmp_path / "archive"
    archive.mkdir()
    write_image(archive / "harbour.png", landscape(2))
    result = run(archive, tmp_path / "coloured", model_file, "--ray", f"127.0.0.1:{port}")
    assert result.exit_code == 1
    assert result.output.strip() == f"vidcolor: cannot reach the Ray cluster at 127.0.0.1:{port} (Connection refused)"
    assert not (tmp_path / "coloured").exists()  # refused before any output folder is made


def test_a_device_this_machine_lacks_is_refused_once_before_any_file_of_a_folder(model_file, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has the GPU the test asks for in vain")
    archive = make_archive(tmp_path / "archive")
    result = run(archive, tmp_path / "coloured", model_file, "--device", "cuda")
    assert result.exit_code == 1 and result.output.count("vidcolor:") == 1 and "cuda" in result.output
    assert not (tmp_path / "coloured").exists()


@pytest.mark.parametrize("window", ["0", "5"])
def test_a_film_split_into_pieces_equals_the_whole_run_frame_for_frame(model_file, tmp_path, window):
    archive = tmp_path / "archive"
    archive.mkdir()
    make_clip(archive / "feature.mp4", frames=72, video_codec="mpeg4")  # a keyframe every 12 frames
    lossless = ("--crf", "0", "--window", window)  # so any difference in colouring would show
    whole = CliRunner().invoke(main, ["run", str(archive / "feature.mp4"), "-o", str(tmp_path / "whole.mp4"),
                                      "--model", str(model_file), *lossless])
    assert whole.exit_code == 0, whole.output
    split = run(archive, tmp_path / "coloured", model_file, "--split", "3", "--jobs", "2", "--verbose", *lossless)
    assert split.exit_code == 0, split.output
    assert "(piece 3/3)" in split.stderr

    a, b = probe(tmp_path / "whole.mp4"), probe(tmp_path / "coloured" / "feature.mp4")
    assert b.times == a.times and len(b.times) == 72
    assert all((x == y).all() for x, y in zip(a.lumas + a.chroma, b.lumas + b.chroma, strict=True))
    assert b.audio_codecs == a.audio_codecs and b.audio_seconds == a.audio_seconds
    assert manifest(tmp_path / "coloured")["feature.mp4"]["frames"] == 72
    assert outputs(tmp_path / "coloured") == {"feature.mp4"}  # the pieces are gone


def test_a_film_run_in_pieces_shows_its_frames_done_of_all_it_has(model_file, tmp_path):
    """Its bar was one of files, 0/1 for the whole film (its frames beside, with no total and no time left)."""
    make_clip(tmp_path / "feature.mp4", frames=72, video_codec="mpeg4", audio=())  # a keyframe every 12 frames
    terminal, shown_on = os.openpty()
    fcntl.ioctl(shown_on, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a new one is 0 wide: no bar
    proc = subprocess.Popen([sys.executable, "-m", "vidcolor", "run", str(tmp_path / "feature.mp4"), "-o",
                             str(tmp_path / "coloured.mp4"), "--model", str(model_file), "--split", "3", "--jobs", "2"],
                            stderr=shown_on)
    os.close(shown_on)
    drawn = _drawn_on(terminal, deadline=time.monotonic() + 120)
    assert proc.wait(timeout=10) == 0, drawn
    assert b"feature.mp4:" in drawn and b"72/72" in drawn and b"frame/s" in drawn, drawn


def test_a_film_run_in_pieces_into_a_log_shows_its_progress_there_as_a_whole_run_does(model_file, tmp_path):
    """With its stderr in a file, a nine-minute film in pieces said nothing until its last line."""
    make_clip(tmp_path / "feature.mp4", frames=72, video_codec="mpeg4", audio=())  # a keyframe every 12 frames
    for name, args in (("whole", ()), ("pieces", ("--split", "3"))):
        result = run(tmp_path / "feature.mp4", tmp_path / f"{name}.mp4", model_file, *args)
        assert result.exit_code == 0 and re.search(r"\d+/72 ", result.stderr) and "frame/s" in result.stderr, \
            (name, result.stderr)


def _drawn_on(terminal: int, deadline: float) -> bytes:
    """All a program writes on its terminal until it closes it (or the deadline passes); the terminal closed."""
    drawn = b""
    try:
        while time.monotonic() < deadline:
            if select.select([terminal], [], [], 1)[0]:
                chunk = os.read(terminal, 4096)
                if not chunk:
                    break
                drawn += chunk
    except OSError:  # the program closed its end
        pass
    finally:
        os.close(terminal)
    return drawn


def test_a_film_cut_short_is_said_to_be_so_whether_coloured_whole_or_in_pieces(model_file, tmp_path):
    """In pieces, none said it: each read only its own stretch."""
    film = tmp_path / "archive" / "reel.mkv"
    film.parent.mkdir()
    make_clip(film, frames=72, video_codec="mpeg4")  # a keyframe every 12 frames
    whole = run(film, tmp_path / "whole.mkv", model_file, "--split", "3")
    assert whole.exit_code == 0 and "cut short" not in whole.stderr, whole.stderr  # a film read to its end
    film.write_bytes(film.read_bytes()[: film.stat().st_size * 2 // 3])
    for args in ([], ["--split", "3"]):
        result = run(film, tmp_path / f"cut{len(args)}.mkv", model_file, *args)
        assert result.exit_code == 0 and "it is probably damaged or cut short" in result.stderr, result.stderr


@pytest.mark.parametrize("temporal", ["none", "flow"])
def test_a_split_film_with_a_damaged_frame_comes_out_as_it_does_whole_and_says_so_once(model_file, tmp_path,
                                                                                        temporal):
    """Every frame its own piece: the damaged frame's piece starts at it and holds nothing else, and the pieces
    around it read it too (to warm up, to look ahead). It once failed the film, or was told by every piece."""
    archive = tmp_path / "archive"
    archive.mkdir()
    make_clip(archive / "reel.avi", frames=24, video_codec="mjpeg", pix_fmt="yuvj420p", corrupt_frame=12, audio=())
    whole = CliRunner().invoke(main, ["run", str(archive / "reel.avi"), "-o", str(tmp_path / "whole.mkv"),
                                      "--model", str(model_file), "--temporal", temporal])
    split = run(archive, tmp_path / "coloured", model_file, "--split", "23", "--temporal", temporal, "--verbose")
    assert whole.exit_code == 0 and split.exit_code == 0, split.stderr
    assert "(piece 23/23)" in split.stderr and split.stderr.count("skipped undecodable video packet") == 1
    assert probe(tmp_path / "coloured" / "reel.mkv").times == probe(tmp_path / "whole.mkv").times
    assert len(probe(tmp_path / "whole.mkv").times) == 23


@pytest.fixture
def ctrl_c_heard() -> Iterator[None]:
    """Ctrl-C reaches the runs this test starts: a test run started as a background job (`.ci/run &`) ignores
    it, and a program started from one ignores it too."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _workers_of(pid: int) -> list[int]:
    """The worker processes `pid` has spawned so far (Linux: read from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        if parent == pid and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers in /proc")
def test_ctrl_c_while_a_folder_runs_worker_is_still_starting_is_one_line(model_file, tmp_path, ctrl_c_heard):
    """Ctrl-C reaches the terminal's whole process group: a worker still importing torch printed a traceback."""
    archive = make_archive(tmp_path / "archive")
    cmd = [sys.executable, "-m", "vidcolor", "run", str(archive), "-o", str(tmp_path / "out"), "--model",
           str(model_file), "--jobs", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not any(_ctrl_c(pid) == "ignored" for pid in _workers_of(proc.pid)):  # from its first instant
        assert time.monotonic() < deadline and proc.poll() is None, "the worker never started ignoring Ctrl-C"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the run and its starting worker alike
    assert proc.wait(timeout=60) == 130 and proc.stderr.read() == "vidcolor: interrupted\n"


def _ctrl_c(pid: int) -> str:
    """What the process does with SIGINT: "ignored", "heard" (caught, not blocked) or "not yet" (Linux: /proc)."""
    try:
        status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                      if ":" in line)
    except OSError:  # gone meanwhile
        return "not yet"
    bit = 1 << (signal.SIGINT - 1)
    if int(status["SigIgn"], 16) & bit:
        return "ignored"
    return "heard" if int(status["SigCgt"], 16) & bit and not int(status["SigBlk"], 16) & bit else "not yet"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the workers' signals in /proc")
def test_every_worker_hears_ctrl_c_once_it_is_under_way(model_file, tmp_path, ctrl_c_heard):
    """Started ignoring Ctrl-C, each hears it again once under way (a second worker once stayed deaf for good, and
    went on colouring for 5 s after a stop)."""
    archive = tmp_path / "archive"
    archive.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        make_clip(archive / name, frames=600, audio=())
    cmd = [sys.executable, "-m", "vidcolor", "run", str(archive), "-o", str(tmp_path / "out"), "--model",
           str(model_file), "--jobs", "2", "--quiet"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(workers := _workers_of(proc.pid)) < 2 or any(_ctrl_c(pid) != "heard" for pid in workers):
        assert time.monotonic() < deadline and proc.poll() is None, "the workers never all heard Ctrl-C"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=60) == 130 and proc.stderr.read() == "vidcolor: interrupted\n"


def test_a_split_film_stopped_with_ctrl_c_leaves_neither_pieces_nor_a_film(model_file, tmp_path, ctrl_c_heard):
    make_clip(tmp_path / "feature.mp4", width=160, height=120, frames=96, video_codec="mpeg4")
    cmd = [sys.executable, "-m", "vidcolor", "run", str(tmp_path / "feature.mp4"), "-o", str(tmp_path / "out.mp4"),
           "--model", str(model_file), "--split", "4", "--jobs", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 60
    while not any(tmp_path.glob(".out.partial-*.parts/*.packets")):  # a piece is being coloured
        assert time.monotonic() < deadline and proc.poll() is None, "the run ended before it could be stopped"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130 and "interrupted" in proc.stderr.read()
    time.sleep(1.0)  # its worker notices and stops too
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feature.mp4"]
