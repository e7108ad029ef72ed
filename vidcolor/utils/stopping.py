"""Stopping a run from outside: a scheduler's `kill`, a closed terminal, Ctrl-C all end it the same way.

Python turns only Ctrl-C (SIGINT) into an exception, so only it ran the clean-up that removes
half-written outputs. SIGTERM and SIGHUP are made to raise a KeyboardInterrupt too.
"""
from __future__ import annotations

import signal
from types import FrameType


class Stopped(KeyboardInterrupt):
    """The run was told to stop by `signal_number`; the exit code is 128 + it, as a shell reports."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


def _raise_stopped(signal_number: int, frame: FrameType | None) -> None:
    raise Stopped(signal_number)


def stop_cleanly_on_signals() -> None:
    """From now on SIGTERM and SIGHUP (where there is one) stop the main thread as Ctrl-C does."""
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _raise_stopped)
