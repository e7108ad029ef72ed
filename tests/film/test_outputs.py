"""Outputs appear whole or not at all: failures, signals and other runs leave nothing half written."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers.films import cli, files_in, probe

from vidcolor import colorize_video
from vidcolor.runtime.inference import Colorizer
from vidcolor.utils.atomic import sweep_stale
from vidcolor.utils.errors import UserError


class OnSecondBatch(Colorizer):
    """A colorizer during whose second batch something happens: it breaks, it is interrupted, another run..."""

    def __init__(self, base: Colorizer, event: Callable[[], None]) -> None:
        super().__init__(base.model, base.meta, base.device, base.working_size)
        self.event, self.calls = event, 0

    def predict_low(self, L: torch.Tensor, told: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls += 1
        if self.calls == 2:
            self.event()
        return super().predict_low(L, told)


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


def test_damage_no_stage_reads_past_is_one_line_and_leaves_nothing_behind(clip, colorizer, tmp_path):
    """What fuzzing met once, under load: FFmpeg refusing a damaged film's frame half way (PatchWelcome)."""
    import av

    src = clip("old.mp4", frames=24)
    with pytest.raises(UserError, match="old.mp4: the film is damaged past what could be coloured"):
        colorize_video(src.path, tmp_path / "new.mp4", model=OnSecondBatch(colorizer, raising(
            av.error.PatchWelcomeError(-1163346256, "Not yet implemented in FFmpeg, patches welcome"))),
            batch_size=4, quiet=True)
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


def test_ctrl_c_pressed_twice_ends_a_run_as_once_does(clip, model_file, tmp_path):
    """The second, landing in the first one's clean-up, cut it short: the process then aborted ("terminate
    called without an active exception", exit code 134) or printed a traceback of the interpreter's exit."""
    src = clip("old.mp4", width=160, height=120, frames=480)
    cmd = [sys.executable, "-m", "vidcolor", "run", str(src.path), "-o", str(tmp_path / "new.mp4"),
           "--model", str(model_file), "--quiet"]
    for gap in (0.0, 0.1, 0.3):
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size for p in tmp_path.glob(".new.partial-*")):  # frames are being written
            assert time.monotonic() < deadline and proc.poll() is None, "the run ended before it could be stopped"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        time.sleep(gap)
        proc.send_signal(signal.SIGINT)
        # 130, or ended by the signal itself when it lands after the run's last line (a shell says 130 for both)
        assert proc.wait(timeout=60) in (130, -signal.SIGINT) and proc.stderr.read() == "vidcolor: interrupted\n"
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


def _another_run_holding(code: str, dst: Path) -> tuple[subprocess.Popen[str], Path]:
    """Another process that runs `code` (which prints the temporary it makes for `sys.argv[1]`, then waits on its
    stdin), and that temporary."""
    other = subprocess.Popen([sys.executable, "-c", "import sys; from pathlib import Path\n" + code, str(dst)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return other, Path(other.stdout.readline().strip())


def test_the_temporary_file_of_a_run_still_writing_is_never_swept(tmp_path):
    other, theirs = _another_run_holding(
        "from vidcolor.utils.atomic import written_atomically\n"
        "with written_atomically(Path(sys.argv[1])) as tmp:\n"
        "    tmp.write_bytes(b'half a film'); print(tmp, flush=True); sys.stdin.read()\n", tmp_path / "theirs.mp4")
    sweep_stale(tmp_path)  # as a run starting meanwhile in the same folder does
    assert theirs.exists()
    other.communicate("", timeout=30)  # it finishes
    assert files_in(tmp_path) == {"theirs.mp4"}


def test_the_pieces_of_a_split_film_are_kept_while_their_run_lives_and_swept_once_it_was_killed(tmp_path):
    other, pieces = _another_run_holding(
        "from vidcolor.utils.atomic import temporary_folder\n"
        "folder = temporary_folder(Path(sys.argv[1])); (folder / '00000.packets').write_bytes(b'a piece')\n"
        "print(folder, flush=True); sys.stdin.read()\n", tmp_path / "film.mp4")
    sweep_stale(tmp_path, folders=True)  # as a run starting meanwhile in the same folder does
    assert (pieces / "00000.packets").exists()
    other.kill()  # kill -9: nothing of its own clean-up runs
    other.wait(timeout=30)
    sweep_stale(tmp_path)  # as a worker writing its part does: pieces are never its to judge
    assert pieces.exists()
    sweep_stale(tmp_path, folders=True)  # as the next run does
    assert files_in(tmp_path) == set()


def test_the_pieces_a_killed_split_run_left_are_swept_by_the_next_one_file_run_into_the_folder(
        clip, model_file, tmp_path):
    other, pieces = _another_run_holding(
        "from vidcolor.utils.atomic import temporary_folder\n"
        "folder = temporary_folder(Path(sys.argv[1])); (folder / '00000.packets').write_bytes(b'a piece')\n"
        "print(folder, flush=True); sys.stdin.read()\n", tmp_path / "long.mp4")
    other.kill()  # a --split run killed outright
    other.wait(timeout=30)
    short = clip("short.mp4", frames=6)
    assert cli(short.path, "-o", tmp_path / "short_color.mp4", "--model", model_file, "--quiet").exit_code == 0
    assert files_in(tmp_path) == {"short.mp4", "short_color.mp4"}


def test_an_output_another_run_finishes_meanwhile_is_kept(clip, colorizer, tmp_path):
    src = clip("old.mp4", frames=24)
    other_run = OnSecondBatch(colorizer, lambda: (tmp_path / "new.mp4").write_bytes(b"the other run's film"))
    with pytest.raises(UserError, match="appeared while this run was writing it"):
        colorize_video(src.path, tmp_path / "new.mp4", model=other_run, batch_size=4, quiet=True)
    assert (tmp_path / "new.mp4").read_bytes() == b"the other run's film"
    assert files_in(tmp_path) == {"old.mp4", "new.mp4"}


def test_an_input_named_like_a_temporary_file_is_read_not_written(clip, color, tmp_path):
    """e.g. what a killed run of an older version left: `.new.partial.mp4` beside the `new.mp4` asked for."""
    src = clip(".new.partial.mp4", frames=12)
    before = hashlib.sha256(src.path.read_bytes()).hexdigest()
    color(src.path, tmp_path / "new.mp4")
    assert hashlib.sha256(src.path.read_bytes()).hexdigest() == before
    assert len(probe(tmp_path / "new.mp4").times) == 12


def test_an_existing_output_is_replaced_only_when_asked(clip, color, tmp_path):
    src = clip("old.mp4")
    (tmp_path / "new.mp4").write_bytes(b"precious")
    with pytest.raises(UserError, match="already exists"):
        color(src.path, tmp_path / "new.mp4")
    assert (tmp_path / "new.mp4").read_bytes() == b"precious"
    color(src.path, tmp_path / "new.mp4", overwrite=True)
    assert len(probe(tmp_path / "new.mp4").times) == 12
    assert files_in(tmp_path) == {"old.mp4", "new.mp4"}


def test_a_film_named_with_colons_is_read_and_written_as_a_file(clip, model_file, tmp_path, monkeypatch):
    """FFmpeg reads a relative name with a colon before any slash as a protocol (`12:00:00.mp4`, `take:2.mkv`)."""
    clip("12:00:00.mp4", frames=12)
    monkeypatch.chdir(tmp_path)
    result = cli("12:00:00.mp4", "-o", "take:2.mkv", "--model", model_file, "--quiet")
    assert result.exit_code == 0 and result.stderr == "", result.output
    assert len(probe(tmp_path / "take:2.mkv").times) == 12


def test_a_film_named_through_a_link_and_dot_dot_is_the_file_the_system_finds(clip, model_file, tmp_path,
                                                                             monkeypatch):
    """`link/..` is the folder above where the link leads, not the one holding the link."""
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "link").symlink_to(tmp_path / "real" / "sub")
    clip("real/reel.mp4", frames=12)
    monkeypatch.chdir(tmp_path)
    result = cli("work/link/../reel.mp4", "-o", "work/link/../reel.mkv", "--model", model_file, "--quiet")
    assert result.exit_code == 0 and result.stderr == "", result.output
    assert len(probe(tmp_path / "real" / "reel.mkv").times) == 12
