"""Seeded mutation fuzzing: small films and photos, damaged on purpose, sent through every door vidcolor has.

A case is (seed, number). Its kind of input (a film in some container and codec, a photo in some format)
and its damage (flipped bits, a cut, a zeroed or repeated block, a damaged header) follow from those
two alone, so a failure is rerun with `python benchmarks/fuzz.py --seed S --case N`. At every door
(`vidcolor run` on the file and on a folder, `vidcolor eval`, `vidcolor frames`, training's data
loading, the web page's upload) the outcome must be a readable output or one clear line and exit code 1:
never a traceback, a death by signal, a hang, or a file left behind.

The doors run in worker processes that take one case at a time, so a crash or a hang costs only that
case (the worker is replaced); the folder runs are real `vidcolor` processes. Used by tests/test_fuzz.py
(a fast slice) and benchmarks/fuzz.py (the long run).
"""
from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from helpers.films import make_clip
from helpers.photos import landscape

# --- inputs ------------------------------------------------------------------------------------------

INTERLACED = {"flags": "+ildct+ilme", "x264-params": "tff=1"}


@dataclass(frozen=True)
class Kind:
    """One kind of input: its file name ending, and how to write a small intact one."""
    suffix: str
    make: Callable[[Path], object]


def _film(**options: Any) -> Callable[[Path], object]:
    return lambda path: make_clip(path, width=64, height=48, frames=8, **options)


def _photo(bits: int = 8, alpha: bool = False) -> Callable[[Path], object]:
    def make(path: Path) -> None:
        from vidcolor.photo.write import write_image

        rgb = landscape(len(path.name))
        if alpha:
            rgb = np.dstack([rgb, np.linspace(40, 255, rgb.shape[1], dtype=np.uint8)[None].repeat(rgb.shape[0], 0)])
        write_image(path, rgb.astype(np.uint16) * 257 if bits == 16 else rgb)
    return make


KINDS: dict[str, Kind] = {
    "mp4 h264+aac b&w": Kind(".mp4", _film()),
    "mp4 h264 silent": Kind(".mp4", _film(audio=(), color=True)),
    "mkv h264+opus": Kind(".mkv", _film(audio=("libopus",), audio_rate=48000, color=True)),
    "webm vp9+opus": Kind(".webm", _film(video_codec="libvpx-vp9", audio=("libopus",), audio_rate=48000,
                                         color=True)),
    "avi mpeg4+mp3": Kind(".avi", _film(video_codec="mpeg4", audio=("mp3",), color=True)),
    "mov h264+aac": Kind(".mov", _film(color=True)),
    "ts h264+aac": Kind(".ts", _film(color=True)),
    "mkv h264 10-bit": Kind(".mkv", _film(pix_fmt="yuv420p10le", audio=(), color=True)),
    "mp4 h264 interlaced": Kind(".mp4", _film(video_options=INTERLACED, color=True)),
    "jpeg": Kind(".jpg", _photo()),
    "png": Kind(".png", _photo()),
    "png 16-bit alpha": Kind(".png", _photo(bits=16, alpha=True)),
    "tiff": Kind(".tif", _photo()),
    "tiff 16-bit alpha": Kind(".tif", _photo(bits=16, alpha=True)),
    "webp alpha": Kind(".webp", _photo(alpha=True)),
}


def write_originals(folder: Path) -> dict[str, Path]:
    """One intact input of every kind, written once and damaged afresh for each case."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {kind: folder / f"original-{i:02d}{k.suffix}" for i, (kind, k) in enumerate(KINDS.items())}
    for kind, path in paths.items():
        if not path.exists():
            KINDS[kind].make(path)
    return paths


# --- damage ------------------------------------------------------------------------------------------

DAMAGES = ("flipped bits 0.01%", "flipped bits 0.1%", "flipped bits 1%", "cut short", "zeroed block",
           "repeated block", "damaged header")
HEADER_BYTES = 512  # where a damaged header is damaged
MAX_BLOCK = 4096


def damage(data: bytes, how: str, rng: np.random.Generator) -> bytes:
    """`data` damaged as `how` (one of DAMAGES) says, at places `rng` picks."""
    buf = np.frombuffer(data, np.uint8).copy()
    if how.startswith("flipped bits"):
        rate = float(how.split()[-1].rstrip("%")) / 100
        bits = rng.integers(0, buf.size * 8, max(1, rng.binomial(buf.size * 8, rate)))
        np.bitwise_xor.at(buf, bits // 8, (1 << (bits % 8)).astype(np.uint8))
    elif how == "cut short":
        return data[:int(rng.integers(0, len(data)))]
    elif how == "damaged header":
        where = rng.integers(0, min(len(data), HEADER_BYTES), int(rng.integers(1, 9)))
        buf[where] = rng.integers(0, 256, where.size)
    else:
        start = int(rng.integers(0, len(data)))
        end = min(len(data), start + int(rng.integers(1, MAX_BLOCK)))
        if how == "repeated block":  # written twice in a row, as a bad copy does
            return data[:end] + data[start:end] + data[end:]
        buf[start:end] = 0
    return buf.tobytes()


@dataclass(frozen=True)
class Case:
    """One damaged input: everything about it follows from (seed, number)."""
    seed: int
    number: int

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.number])

    @property
    def kind(self) -> str:
        return list(KINDS)[int(self._rng().integers(len(KINDS)))]

    @property
    def damage(self) -> str:
        rng = self._rng()
        rng.integers(len(KINDS))
        return DAMAGES[int(rng.integers(len(DAMAGES)))]

    @property
    def name(self) -> str:
        return f"case{self.number:05d}{KINDS[self.kind].suffix}"

    def write(self, originals: dict[str, Path], folder: Path) -> Path:
        """The damaged input, written into `folder`."""
        rng = self._rng()
        rng.integers(len(KINDS)), rng.integers(len(DAMAGES))  # drawn for kind and damage
        path = folder / self.name
        path.write_bytes(damage(originals[self.kind].read_bytes(), self.damage, rng))
        return path

    def __str__(self) -> str:
        return f"seed {self.seed} case {self.number} ({self.kind}, {self.damage})"


# --- outcomes ----------------------------------------------------------------------------------------

DOORS = ("run", "run folder", "eval", "frames", "train data", "serve")
GOOD = ("output", "refused")  # a readable output, or one clear line and exit code 1
FAILURES = ("traceback", "signal", "hang", "left behind", "unclear message", "unreadable output", "no output",
            "exit code")
_INTERNAL = re.compile(r"Traceback|internal error|worker process died|\b[A-Z][A-Za-z]*(Error|Exception)\b")


@dataclass(frozen=True)
class Outcome:
    case: Case
    door: str
    verdict: str  # one of GOOD or FAILURES
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.verdict not in GOOD

    def __str__(self) -> str:
        return f"{self.case}: {self.door}: {self.verdict}" + (f" -- {self.detail}" if self.detail else "")


Verdict = tuple[str, str]  # (verdict, detail)


def readable(path: Path) -> bool:
    """Whether an output opens: a photo decodes, a film has a first frame."""
    import av
    import cv2

    from vidcolor.utils.paths import is_image

    if is_image(path):
        return cv2.imread(str(path), cv2.IMREAD_UNCHANGED) is not None
    try:
        with av.open(str(path)) as film:
            return next(film.decode(video=0), None) is not None
    except (av.error.FFmpegError, IndexError):
        return False


def judge_message(said: list[str], noise: list[str], exit_code: int) -> Verdict:
    """What stderr and the exit code tell: vidcolor's lines (`said`: warnings, and on failure one clear line)
    and nothing from the libraries beneath it (`noise`: what they wrote to the file descriptor itself)."""
    noise = [line for line in noise if line.strip()]
    errors = [line for line in said if not line.startswith("vidcolor: warning: ")] + noise
    if exit_code == 0:
        return ("unclear message", noise[0]) if noise else ("output", "")
    if exit_code != 1:
        return "exit code", f"{exit_code}: {' | '.join(said + noise)[:300]}"
    if len(errors) != 1 or not errors[0].startswith("vidcolor: "):
        return "unclear message", " | ".join(errors)[:300]
    return ("traceback" if _INTERNAL.search(errors[0]) else "refused"), errors[0]


def left_behind(folder: Path, allowed: set[str] | None = None) -> list[str]:
    """The temporary (hidden) files left in an output folder; with `allowed`, any file not among those."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or allowed is not None
                  and p.name not in allowed)


@contextlib.contextmanager
def fd2_captured() -> Iterator[list[str]]:
    """What C libraries (FFmpeg, libpng, libtiff) write straight to file descriptor 2 meanwhile, as lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    lines: list[str] = []
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines += tmp.read().decode(errors="replace").splitlines()


def _where(exc_info: Any) -> str:
    """The exception and the innermost frame in vidcolor that raised it."""
    frames = [f for f in traceback.extract_tb(exc_info[2]) if "vidcolor" in f.filename] or \
        traceback.extract_tb(exc_info[2])
    last = frames[-1] if frames else None
    where = f" at {Path(last.filename).name}:{last.lineno}" if last else ""
    return f"{exc_info[0].__name__}: {str(exc_info[1]).splitlines()[0] if str(exc_info[1]) else ''}{where}"


# --- the doors, inside a worker process --------------------------------------------------------------

class Doors:
    """Every door but the folder run, taken in this process: the CLI through click's runner, training's loader
    and the web app's upload directly. `wait` bounds how long a film may take on the web page."""

    def __init__(self, work: Path, model: Path, wait: float) -> None:
        from click.testing import CliRunner
        from fastapi.testclient import TestClient

        from vidcolor.runtime.inference import Colorizer
        from vidcolor.serve.app import create_app

        self.work, self.model, self.wait = work, str(model), wait
        self.runner = CliRunner()
        self.served = work / f"serve-{os.getpid()}"
        self.served.mkdir(parents=True, exist_ok=True)
        self._client = TestClient(create_app(Colorizer.load(self.model, "cpu"), temp_root=self.served))
        self._client.__enter__()
        self.broken = False  # a film the web page never finished: its worker thread is stuck, so start afresh

    def enter(self, door: str, src: Path) -> Verdict:
        folder = door_folder(self.work, src, door)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        try:
            return {"run": self._run, "eval": self._eval, "frames": self._frames, "train data": self._train_data,
                    "serve": self._serve}[door](src, folder)
        except Exception:  # noqa: BLE001 -- what escaped vidcolor is the finding
            return "traceback", _where(sys.exc_info())

    def _cli(self, args: list[str], folder: Path, output: Callable[[], Verdict | None],
             written: str | None = None) -> Verdict:
        """A command's verdict: its messages, what it left in `folder` (only `written`, if named, and only on
        success), and on success what `output` finds wrong with its output."""
        from vidcolor.cli import main

        with fd2_captured() as noise:
            result = self.runner.invoke(main, args)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            return "traceback", _where(result.exc_info)
        verdict = judge_message(result.stderr.splitlines(), noise, result.exit_code)
        stray = left_behind(folder, None if written is None else {written} if result.exit_code == 0 else set())
        if stray:
            return "left behind", ", ".join(stray)
        if verdict[0] == "output":
            return output() or verdict
        return verdict

    def _run(self, src: Path, folder: Path) -> Verdict:
        from vidcolor.batch.naming import output_name

        dst = folder / output_name(PurePosixPath(src.name)).name
        return self._cli(["run", str(src), "-o", str(dst), "--model", self.model, "--quiet"], folder,
                         lambda: None if readable(dst) else ("unreadable output", dst.name), dst.name)

    def _eval(self, src: Path, folder: Path) -> Verdict:
        def report() -> Verdict | None:
            try:
                json.loads((folder / "report.json").read_text())
            except (OSError, ValueError) as exc:
                return "unreadable output", str(exc)
            return None
        return self._cli(["eval", str(src), "--model", self.model, "--quiet", "--max-frames", "10", "-o",
                          str(folder)], folder, report)

    def _frames(self, src: Path, folder: Path) -> Verdict:
        def pictures() -> Verdict | None:
            written = sorted(folder.iterdir())
            if not written:
                return "no output", "exit code 0 and no frame written"
            bad = [p.name for p in written if not readable(p)]
            return ("unreadable output", ", ".join(bad)) if bad else None
        return self._cli(["frames", str(src), "-o", str(folder), "--every", "3", "--quiet"], folder, pictures)

    def _train_data(self, src: Path, folder: Path) -> Verdict:
        """Training's loader, as `vidcolor train` calls it: a hung decoder ends the process."""
        from vidcolor.training.data import load_images
        from vidcolor.utils.errors import UserError
        from vidcolor.utils.guard import give_up, on_hang

        shutil.copy(src, folder / src.name)
        said = io.StringIO()
        before = on_hang(give_up())
        with fd2_captured() as noise, contextlib.redirect_stderr(said):
            try:
                loaded = load_images([folder], frame_stride=3, max_short=64, quiet=True)
                images = loaded.images
            except UserError as exc:
                print(f"vidcolor: {exc}", file=sys.stderr)
                images = None
            finally:
                on_hang(before)
        verdict = judge_message(said.getvalue().splitlines(), noise, 0 if images else 1)
        if verdict[0] == "output" and not all(i.ndim == 3 and i.shape[2] == 3 and i.dtype == np.uint8 for i in images):
            return "unreadable output", "an image that is not (H, W, 3) uint8"
        return verdict

    def _serve(self, src: Path, folder: Path) -> Verdict:
        with fd2_captured() as noise:
            response = self._client.post("/api/colorize", files={"file": ("upload", src.read_bytes())})
            verdict = self._served(response, folder)
        stray = [line for line in noise if line.strip()]
        if stray and verdict[0] in GOOD:
            return "unclear message", stray[0]
        private = next(self.served.iterdir())
        leftovers = [p.name for p in private.iterdir() if not re.fullmatch(r"[0-9a-f]{32}\.mp4", p.name)]
        return ("left behind", ", ".join(leftovers)) if leftovers else verdict

    def _served(self, response: Any, folder: Path) -> Verdict:
        if response.status_code == 200:
            photo = folder / "served.png"
            photo.write_bytes(response.content)
            return ("output", "") if readable(photo) else ("unreadable output", "the PNG sent back")
        if response.status_code != 202:
            detail = str(response.json().get("detail", ""))
            one_line = response.status_code in (413, 415, 422) and "\n" not in detail
            return ("refused" if one_line and not _INTERNAL.search(detail) else "unclear message"), \
                f"{response.status_code} {detail}"
        job = response.json()
        deadline = time.monotonic() + self.wait
        while job["state"] not in ("done", "failed"):
            if time.monotonic() > deadline:
                self.broken = True
                return "hang", f"the film was still {job['state']} after {self.wait:.0f} s"
            time.sleep(0.05)
            job = self._client.get(f"/api/jobs/{job['id']}").json()
        if job["state"] == "failed":
            error = job["error"] or ""
            return ("traceback" if _INTERNAL.search(error) or "\n" in error else "refused"), error
        film = folder / "served.mp4"
        film.write_bytes(self._client.get(job["result"]).content)
        return ("output", "") if readable(film) else ("unreadable output", "the film sent back")


def door_folder(work: Path, src: Path, door: str) -> Path:
    """Where a door's outputs for one input go."""
    return work / "out" / f"{src.stem}-{door.replace(' ', '-')}"


GAVE_UP_DOORS = ("run", "eval", "frames", "train data")  # the command line's: a hung decoder ends the process


def _worker(conn: Connection, work: Path, model: Path, wait: float) -> None:
    """A worker process: take the doors the parent sends, one at a time, until it sends None. vidcolor's own
    watchdog gives up on a hung decoder within `wait`, before the parent would count a hang."""
    import cv2
    import torch

    import vidcolor.utils.guard

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    vidcolor.utils.guard.DECODE_SECONDS = wait / 2
    warnings.filterwarnings("ignore", message="Using `httpx` with")  # Starlette on the test client's HTTP library
    doors = Doors(work, model, wait)
    conn.send("ready")
    while (job := conn.recv()) is not None:
        door, src = job
        conn.send(doors.enter(door, src))
        if doors.broken:
            return


# --- the parent: workers, timeouts, the folder runs --------------------------------------------------

@dataclass
class _Slot:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    ready: bool = False
    job: tuple[Case, str, Path] | None = None
    deadline: float = 0.0


class _Workers:
    """Worker processes, each given one door of one case at a time, and replaced when one dies or hangs."""

    def __init__(self, count: int, work: Path, model: Path, timeout: float) -> None:
        self._context = multiprocessing.get_context("spawn")
        self.work, self.model, self.timeout = work, model, timeout
        self.slots = [self._start() for _ in range(count)]

    def _start(self) -> _Slot:
        conn, child = self._context.Pipe()
        env = {"OMP_NUM_THREADS": "1"}
        with _environment(env):
            process = self._context.Process(target=_worker, args=(child, self.work, self.model, self.timeout * 0.8),
                                            daemon=True)
            process.start()
        child.close()
        return _Slot(process, conn, deadline=time.monotonic() + 120)  # starting takes a while

    def run(self, jobs: deque[tuple[Case, str, Path]], on_outcome: Callable[[Outcome], None]) -> None:
        while jobs or any(s.job for s in self.slots):
            for slot in self.slots:
                if slot.ready and slot.job is None and jobs:
                    slot.job, slot.deadline = jobs.popleft(), time.monotonic() + self.timeout
                    slot.conn.send(slot.job[1:])
            nearest = min(s.deadline for s in self.slots if s.job or not s.ready)
            wait([s.conn for s in self.slots] + [s.process.sentinel for s in self.slots],
                 timeout=max(0.0, nearest - time.monotonic()))
            for n, slot in enumerate(self.slots):
                self._check(n, slot, on_outcome)

    def _check(self, n: int, slot: _Slot, on_outcome: Callable[[Outcome], None]) -> None:
        try:
            message = slot.conn.recv() if slot.conn.poll() else None
        except (EOFError, OSError):
            message = None
        if message == "ready":
            slot.ready = True
        elif message is not None and slot.job:
            on_outcome(Outcome(slot.job[0], slot.job[1], *message))
            slot.job = None
        elif not slot.process.is_alive():
            code = slot.process.exitcode
            if slot.job:
                on_outcome(self._death(*slot.job, code))
            elif not slot.ready:
                raise RuntimeError(f"a fuzzing worker could not start (exit code {code})")
            self.slots[n] = self._start()
        elif (slot.job or not slot.ready) and time.monotonic() > slot.deadline:
            if not slot.ready:
                raise RuntimeError("a fuzzing worker did not start within 120 s")
            on_outcome(Outcome(slot.job[0], slot.job[1], "hang", f"no answer within {self.timeout:.0f} s"))
            slot.process.kill()
            slot.process.join()
            self.slots[n] = self._start()

    def _death(self, case: Case, door: str, src: Path, code: int | None) -> Outcome:
        """A worker died on a door: the command line giving up on a hung decoder (exit code 1, its temporary
        outputs removed), or a crash."""
        if code == 1 and door in GAVE_UP_DOORS:
            stray = left_behind(door_folder(self.work, src, door))
            return Outcome(case, door, *(("left behind", ", ".join(stray)) if stray else
                                         ("refused", "vidcolor's watchdog gave up on a hung decoder")))
        return Outcome(case, door, "signal" if code and code < 0 else "exit code", f"the process died with {code}")

    def close(self) -> None:
        for slot in self.slots:
            with contextlib.suppress(OSError):
                slot.conn.send(None)
        for slot in self.slots:
            slot.process.join(timeout=10)
            if slot.process.is_alive():
                slot.process.kill()


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_folder(cases: list[tuple[Case, Path]], folder: Path, model: Path, timeout: float) -> list[Outcome]:
    """`vidcolor run FOLDER` on the damaged inputs together, as its own process: each file's outcome is read
    from the manifest (a failed file's reason, the worker that died on it), what the run left behind, and
    what was said while it was being coloured (one worker, --verbose: each file's turn is named)."""
    archive, out = folder / "archive", folder / "coloured"
    archive.mkdir(parents=True)
    for _, src in cases:
        shutil.copy(src, archive / src.name)
    cmd = [sys.executable, "-m", "vidcolor", "run", str(archive), "-o", str(out), "--model", str(model), "--quiet",
           "--jobs", "1", "--verbose"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout,
                              env={**os.environ, "OMP_NUM_THREADS": "1"}, check=False)
    except subprocess.TimeoutExpired:
        return [Outcome(case, "run folder", "hang", f"the folder run of {len(cases)} files took over {timeout:.0f} s")
                for case, _ in cases]
    from vidcolor.batch.manifest import MANIFEST_NAME

    records = {}
    with contextlib.suppress(OSError):
        for line in (out / MANIFEST_NAME).read_text().splitlines():
            record = json.loads(line)
            records[record["input"]] = record
    said = _said_per_file(done.stderr.splitlines())
    return [_folder_outcome(case, src.name, records.get(src.name), out, said.get(src.name, []) + said.get("", []),
                            done.returncode) for case, src in cases]


def _said_per_file(lines: list[str]) -> dict[str, list[str]]:
    """A folder run's stderr, each line under the file whose turn it was ("": before any)."""
    said: dict[str, list[str]] = {}
    turn = ""
    for line in lines:
        started = re.fullmatch(r"vidcolor: worker \d+ \(pid \d+\): (.+)", line)
        turn = started[1] if started else turn
        said.setdefault(turn, []).append(line)
    return said


def _folder_outcome(case: Case, name: str, record: dict[str, Any] | None, out: Path, lines: list[str],
                    code: int) -> Outcome:
    def outcome(verdict: str, detail: str = "") -> Outcome:
        return Outcome(case, "run folder", verdict, detail)

    if code < 0:
        return outcome("signal", f"the folder run died with {code}")
    stray = [line for line in lines if not line.startswith("vidcolor: ")]
    if stray:
        return outcome("unclear message", stray[0])
    mine = [p for p in out.rglob(f".{Path(name).stem}.*")]
    if mine:
        return outcome("left behind", ", ".join(p.name for p in mine))
    if record is None:
        return outcome("no output", "not in the manifest")
    if record["status"] == "done":
        return outcome("output") if readable(out / record["output"]) else outcome("unreadable output", record["output"])
    error = record.get("error") or record["status"]
    failed = [line for line in lines if line.startswith(f"vidcolor: failed {name}: ")]
    if "worker process died" in error:
        return outcome("signal" if "exit code -" in error else "exit code", error)
    if _INTERNAL.search(error) or len(failed) != 1 or "\n" in error:
        return outcome("traceback" if _INTERNAL.search(error) else "unclear message", error)
    return outcome("refused", error)


def fuzz(cases: Sequence[Case], work: Path, model: Path, *, workers: int = 2, timeout: float = 60.0,
         folder_batch: int = 50, on_outcome: Callable[[Outcome], None] = lambda outcome: None) -> list[Outcome]:
    """Every door for every case; the outcomes in case order. `timeout`: seconds one door may take on one
    case before it counts as a hang (a folder run of `folder_batch` files gets a tenth of that per file, and
    three minutes more: its worker's watchdog waits 120 s). `workers` folder runs go side by side too."""
    originals = write_originals(work / "originals")
    inputs = work / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    written = [(case, case.write(originals, inputs)) for case in cases]
    outcomes: list[Outcome] = []

    def record(outcome: Outcome) -> None:
        outcomes.append(outcome)
        on_outcome(outcome)

    pool = _Workers(workers, work, model, timeout)
    try:
        pool.run(deque((case, door, src) for case, src in written for door in DOORS if door != "run folder"),
                 record)
    finally:
        pool.close()
    batches = [written[start:start + folder_batch] for start in range(0, len(written), folder_batch)]
    folder_timeout = 180 + timeout * folder_batch / 10
    with ThreadPoolExecutor(workers) as side_by_side:
        runs = side_by_side.map(lambda n: run_folder(batches[n], work / f"folder-{n}", model, folder_timeout),
                                range(len(batches)))
        for batch_outcomes in runs:
            for outcome in batch_outcomes:
                record(outcome)
    order = {door: i for i, door in enumerate(DOORS)}
    return sorted(outcomes, key=lambda o: (o.case.number, order[o.door]))


def summary(outcomes: Sequence[Outcome]) -> str:
    """Markdown tables of verdicts per kind of input, per damage and per door."""
    verdicts = [v for v in (*GOOD, *FAILURES) if any(o.verdict == v for o in outcomes)]

    def table(title: str, key: Callable[[Outcome], str]) -> list[str]:
        counts = Counter((key(o), o.verdict) for o in outcomes)
        rows = sorted({key(o) for o in outcomes}, key=[*KINDS, *DAMAGES, *DOORS].index)
        head = [f"| {title} | inputs | " + " | ".join(verdicts) + " |", "|---|---:|" + "---:|" * len(verdicts)]
        inputs: dict[str, set[Case]] = {}
        for o in outcomes:
            inputs.setdefault(key(o), set()).add(o.case)
        return head + [f"| {row} | {len(inputs[row])} | " + " | ".join(str(counts[row, v]) for v in verdicts) + " |"
                       for row in rows]

    return "\n".join([*table("kind", lambda o: o.case.kind), "", *table("damage", lambda o: o.case.damage), "",
                      *table("door", lambda o: o.door)])
