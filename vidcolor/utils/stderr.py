"""A stderr that outlives its reader. A folder's run logged through `2>&1 | head`, or into a pipe whose reader
died, must go on colouring: the messages are lost, the films must not be (Python ignores SIGPIPE, so the first
warning written after the reader has gone raised BrokenPipeError and stopped the run)."""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO


class Outliving:
    """`stream`, less its broken pipe: once its reader has gone, what is written goes nowhere, and its file
    descriptor is pointed at the null device, so that the interpreter's last flush and the C libraries' own
    writes find nothing broken either."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._gone = False

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._let_go()
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._let_go()

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        """encoding, isatty, fileno...: the stream's own; not its `buffer`, through which click writes past us
        where the stream's encoding is ASCII."""
        if name == "buffer":
            raise AttributeError(name)
        return getattr(self._stream, name)

    def _let_go(self) -> None:
        self._gone = True
        with contextlib.suppress(AttributeError, OSError, ValueError):  # a stream with no descriptor (captured)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)


@contextmanager
def outliving_stderr() -> Iterator[None]:
    """sys.stderr is `Outliving` meanwhile (the command line's whole run), and what it was afterwards."""
    original = sys.stderr
    sys.stderr = Outliving(original)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stderr = original
