"""Calling the decoders beneath vidcolor (FFmpeg, OpenCV's libpng, libjpeg and libtiff, Pillow, tifffile) on
files from anywhere, so that a damaged one is told in vidcolor's one clear line and nothing more.

Three guards, each cheap where nothing is wrong: a picture whose header claims far more pixels than its
bytes could hold is refused before it is decoded (decoding it would fill gigabytes and call in the OOM
killer); what the C libraries write to stderr themselves is silenced while a photo decodes; and a
watchdog thread times every decoder call, so that one that never returns ends the command with one line
instead of hanging it (the command line and worker processes only: a library user's process is theirs).
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from .errors import UserError
from .stderr import Outliving

DECODE_SECONDS = 120.0  # one decoder call longer than this is a hang (a 100-megapixel scan decodes in seconds)
HUNG = 3  # a worker process's exit code after giving up on a hang (the command line's is 1, as for any failure)
BIG_PICTURE = 1 << 26  # pixels (8192 x 8192): a claim beyond this must be backed by the file's size...
PIXELS_PER_BYTE = 10_000  # ...at this ratio, past what any photo codec reaches (deflate: ~8,000 for flat 1-bit)

_quiet_lock = threading.Lock()
_quiet_depth = 0  # threads inside `library_noise_silenced` now
_saved_stderr: int | None = None  # the real file descriptor 2 meanwhile
_swapped: tuple[TextIO, Outliving] | None = None  # sys.stderr as it was, and ours on the real stderr meanwhile


def check_claimed_size(path: Path, pixels: int, size: int) -> None:
    """Refuse, before decoding, a picture whose header claims more `pixels` than `size` bytes could hold: a
    damaged header (a few flipped bits make a 64 x 48 photo claim 30,000 x 30,000)."""
    if pixels > max(BIG_PICTURE, size * PIXELS_PER_BYTE):
        raise UserError(f"{path}: claims a picture of {pixels / 1e6:,.0f} megapixels in {size:,} bytes (the file is "
                        "damaged)")


@contextmanager
def library_noise_silenced() -> Iterator[None]:
    """What C libraries write to stderr themselves meanwhile ("libpng error: IDAT: incorrect data check",
    "Corrupt JPEG data: ...") goes nowhere: the file's damage is ours to tell, in one line. Process-wide, as
    file descriptor 2 is: the first thread in silences it, the last one out gives it back. Python's own
    writes (a warning another thread prints meanwhile) still reach the real stderr."""
    global _quiet_depth
    with _quiet_lock:
        if _quiet_depth == 0:
            _silence_stderr()
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                _restore_stderr()


def _silence_stderr() -> None:
    """Point file descriptor 2 at the null device, keeping the real one (none kept: there was no stderr, a
    daemon); sys.stderr, when it writes to descriptor 2, is meanwhile a stream on the real one."""
    global _saved_stderr, _swapped
    try:
        _saved_stderr = os.dup(2)
    except OSError:
        return
    sys.stderr.flush()
    if _writes_to_descriptor_2(sys.stderr):
        # it owns the kept descriptor: a thread still writing to it when fd 2 is given back writes safely
        ours = Outliving(open(_saved_stderr, "w", buffering=1, encoding=sys.stderr.encoding,  # noqa: SIM115
                              errors=sys.stderr.errors))
        _swapped, sys.stderr = (sys.stderr, ours), ours  # type: ignore[assignment]
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)


def _restore_stderr() -> None:
    global _saved_stderr, _swapped
    if _saved_stderr is None:
        return
    os.dup2(_saved_stderr, 2)
    if _swapped is None:
        os.close(_saved_stderr)
    else:
        original, ours = _swapped
        ours.flush()
        if sys.stderr is ours:  # not if someone has set another meanwhile
            sys.stderr = original
        _swapped = None  # the stream on the kept descriptor closes when unused
    _saved_stderr = None


def _writes_to_descriptor_2(stream: object) -> bool:
    try:
        return stream.fileno() == 2  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # captured (pytest's capsys), or replaced by the caller
        return False


class _Watchdog:
    """One thread timing the decoder calls under way, started with the first; a call past its deadline is
    handed to `on_hang` (once), which the command line sets to end the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[object, tuple[float, str]] = {}
        self._thread: threading.Thread | None = None
        self.on_hang: Callable[[str], None] | None = None

    @contextmanager
    def watching(self, what: str) -> Iterator[None]:
        token = object()
        with self._lock:
            self._armed[token] = (time.monotonic() + DECODE_SECONDS, what)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="vidcolor-watchdog", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._armed.pop(token, None)

    def _watch(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                late = [(token, what) for token, (deadline, what) in self._armed.items() if deadline <= now]
                for token, _ in late:
                    del self._armed[token]
                nearest = min((deadline for deadline, _ in self._armed.values()), default=now + DECODE_SECONDS)
            for _, what in late:
                if self.on_hang is not None:
                    self.on_hang(what)
            time.sleep(min(1.0, max(0.05, nearest - time.monotonic())))


_watchdog = _Watchdog()


def watched(what: Path | str) -> contextlib.AbstractContextManager[None]:
    """Time a decoder call on `what` (a file): one that runs past DECODE_SECONDS is a hang."""
    return _watchdog.watching(str(what))


@contextmanager
def decoding(photo: Path) -> Iterator[None]:
    """A photo decoder's call (OpenCV, Pillow, tifffile), `watched` and with its libraries' own messages silenced.
    Not for films: decoding one takes long, and the progress bar and warnings must get through meanwhile."""
    with watched(photo), library_noise_silenced():
        yield


def on_hang(handler: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """From now on `handler(file)` is told of a decoder call that hangs (None: no one is); returns the one
    that was, to put back."""
    previous, _watchdog.on_hang = _watchdog.on_hang, handler
    return previous


def give_up(exit_code: int = 1, say: bool = True) -> Callable[[str], None]:
    """The command line's and worker processes' answer to a hang, since nothing can stop a C function that
    never returns: the outputs being written are removed, the reason said in one line on stderr (`say`), and
    the process ends with `exit_code`."""
    return lambda what: _give_up(what, exit_code, say)


def _give_up(what: str, exit_code: int, say: bool) -> None:
    from .atomic import remove_unfinished

    remove_unfinished()
    if say:
        say_at_the_end(f"vidcolor: {what}: {hang_reason()}\n")
    os._exit(exit_code)


def say_at_the_end(text: str) -> None:
    """Write `text` on the real stderr, for a process about to end at once: past a photo decoder's silencing of
    descriptor 2 (the call that hangs may be under it) and past Python's own streams."""
    with _quiet_lock, contextlib.suppress(OSError):
        os.write(_saved_stderr if _saved_stderr is not None else 2, text.encode(errors="replace"))


def hang_reason() -> str:
    return f"decoding it made no progress in {DECODE_SECONDS:.0f} s (the file is damaged); given up"
