"""Keeping the memory each batch frees for the next one while films are coloured (glibc's thresholds)."""
from __future__ import annotations

import ctypes
import sys
import threading


class _KeepFreedMemory:
    """While films are coloured, glibc keeps the big blocks each batch frees, for the next batch to reuse.

    By default it hands every block over 128 KiB back to the OS on free, so each batch's tensors
    fault their pages in afresh: on CPU that is ~20% of the model's time. When no film is being
    coloured any more the defaults are put back and the memory returned. Elsewhere than glibc: nothing.
    """

    _M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
    _DEFAULT, _KEEP = 128 * 1024, 1 << 30

    def __init__(self) -> None:
        libc = ctypes.CDLL(None) if sys.platform.startswith("linux") else None
        self._mallopt = getattr(libc, "mallopt", None)
        self._malloc_trim = getattr(libc, "malloc_trim", None)
        self._lock = threading.Lock()
        self._films = 0

    def __enter__(self) -> None:
        with self._lock:
            if self._films == 0:
                self._thresholds(self._KEEP)
            self._films += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._films -= 1
            if self._films == 0:
                self._thresholds(self._DEFAULT)
                if self._malloc_trim is not None:
                    self._malloc_trim(0)

    def _thresholds(self, size: int) -> None:
        if self._mallopt is not None:
            self._mallopt(self._M_MMAP_THRESHOLD, size)
            self._mallopt(self._M_TRIM_THRESHOLD, size)


keep_freed_memory = _KeepFreedMemory()  # one for the process: films coloured in several threads share it
