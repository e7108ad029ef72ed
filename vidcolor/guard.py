"""Calling the decoders beneath vidcolor (FFmpeg, OpenCV's libpng, libjpeg and libtiff, Pillow, tifffile) on
files from anywhere, so that a damaged one is told in vidcolor's one clear line and nothing more.
"""
from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_quiet_lock = threading.Lock()
_quiet_depth = 0  # threads inside `library_noise_silenced` now
_saved_stderr: int | None = None  # the real file descriptor 2 meanwhile


@contextmanager
def library_noise_silenced() -> Iterator[None]:
    """What C libraries write to stderr themselves meanwhile ("libpng error: IDAT: incorrect data check",
    "Corrupt JPEG data: ...") goes nowhere: the file's damage is ours to tell, in one line. Process-wide, as
    file descriptor 2 is: the first thread in silences it, the last one out gives it back."""
    global _quiet_depth, _saved_stderr
    with _quiet_lock:
        if _quiet_depth == 0:
            _saved_stderr = _silence_stderr()
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _saved_stderr is not None:
                os.dup2(_saved_stderr, 2)
                os.close(_saved_stderr)
                _saved_stderr = None


def _silence_stderr() -> int | None:
    """Point file descriptor 2 at the null device; the real one, to put back (None: there was none)."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (a daemon): nothing to keep quiet
        return None
    sys.stderr.flush()
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    return saved
