"""Stopping a run from outside: a scheduler's `kill`, a closed terminal, Ctrl-C all end it the same way.

Python turns only Ctrl-C (SIGINT) into an exception, so only it ran the clean-up that removes
half-written outputs. SIGTERM and SIGHUP are made to raise a KeyboardInterrupt too.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class Stopped(KeyboardInterrupt):
    """The run was told to stop by `signal_number`; the exit code is 128 + it, as a shell reports."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


GRACE_SECONDS = 5.0  # a stop's clean-up takes well under this; another stop after it ends the process at once

_heard: list[int] = []  # the stop signals this process has received (a repeat under way not counted)
_first_heard = 0.0  # time.monotonic() of the first
_say_when_ending = True  # whether ending at once says so (a worker process leaves that to its driver)


def _raise_stopped(signal_number: int, frame: FrameType | None) -> None:
    if _heard_first(signal_number):
        raise Stopped(signal_number)


def _raise_interrupted(signal_number: int, frame: FrameType | None) -> None:
    if _heard_first(signal_number):
        raise KeyboardInterrupt


def _heard_first(signal_number: int) -> bool:
    """Whether this stop is the first, to be raised. One while the first's clean-up is under way (Ctrl-C pressed
    twice) is not: raised again, it cut that clean-up short, left the decoder's and model's threads running, and
    the interpreter's exit aborted ("terminate called without an active exception"). One after GRACE_SECONDS,
    when the clean-up should have ended (the first stop met something that would not stop), ends the process
    at once, as a hang is given up on: the outputs being written removed, a line said."""
    global _first_heard
    if not _heard:
        _heard.append(signal_number)
        _first_heard = time.monotonic()
        return True
    if time.monotonic() - _first_heard < GRACE_SECONDS:
        return False
    from .atomic import remove_unfinished
    from .guard import say_at_the_end

    remove_unfinished()
    if _say_when_ending:
        line = "interrupted" if signal_number == signal.SIGINT else f"stopped by {signal.Signals(signal_number).name}"
        say_at_the_end(("\r\x1b[K" if os.isatty(2) else "\n") + f"vidcolor: {line}\n")  # not after a bar's text
    os._exit(128 + signal_number)


def stop_cleanly_on_signals(say: bool = True) -> dict[int, Any]:
    """From now on SIGTERM and SIGHUP (where there is one) stop the main thread as Ctrl-C does, and each stop
    is remembered (`heard_stop`) from here on; `say`: whether a process ended at once by a late repeat says so.
    Returns the handlers replaced, for `restore_signals`."""
    global _say_when_ending
    _heard.clear()
    _say_when_ending = say
    replaced = {}
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            number = getattr(signal, name)
            replaced[number] = signal.signal(number, _raise_stopped)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where Ctrl-C is ignored (`&` jobs)
        replaced[signal.SIGINT] = signal.signal(signal.SIGINT, _raise_interrupted)
    return replaced


def restore_signals(replaced: dict[int, Any]) -> None:
    """Put back the handlers `stop_cleanly_on_signals` replaced, once the run is over: a stop that comes while
    the interpreter shuts down must not raise inside other libraries' exit handlers (a traceback after the
    run's last line), and a caller from Python gets its own handlers back."""
    for number, handler in replaced.items():
        if handler is not None:  # None: a handler not set from Python, which Python cannot put back
            signal.signal(number, handler)


def heard_stop() -> KeyboardInterrupt | None:
    """The stop a signal asked for, if one came. An error raised after it is its echo, not a fault of its own:
    an import the stop cut short leaves half-made modules behind, whose users then fail in odd ways."""
    if not _heard:
        return None
    return KeyboardInterrupt() if _heard[-1] == signal.SIGINT else Stopped(_heard[-1])


@contextmanager
def stops_deferred() -> Iterator[None]:
    """Meanwhile a stop (Ctrl-C, SIGTERM, SIGHUP) waits for the end of the block, then comes as it would have:
    for work that must be done whole or not at all. A training step stopped half-way left its checkpoint with the
    weights of one step and the normalisation statistics (or the critic) of the next. The main thread only, where
    signals are handled."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    heard: list[int] = []
    numbers = [getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")  # not one whose handler Python
               if hasattr(signal, name) and signal.getsignal(getattr(signal, name)) is not None]  # could not put back
    replaced = {number: signal.signal(number, lambda number, frame: heard.append(number)) for number in numbers}
    try:
        yield
    finally:
        restore_signals(replaced)
        if heard:
            signal.raise_signal(heard[0])


@contextmanager
def started_ignoring_ctrl_c() -> Iterator[bool]:
    """Processes started in the block ignore Ctrl-C from their first instant (an ignored signal stays ignored in a
    new program) until they say otherwise, once they can stop cleanly: Ctrl-C reaches a terminal's whole process
    group, and a worker still starting (importing torch) printed a traceback of the import it cut short. Meanwhile
    this process ignores it too: a Ctrl-C in the few milliseconds of a process's start is lost (pressed again, it
    stops the run). Yields whether the processes should hear Ctrl-C at all (not where this one ignores it, as `&`
    jobs do). The main thread only, where handlers are set."""
    own = signal.getsignal(signal.SIGINT)
    heard = own not in (signal.SIG_IGN, None)
    if not heard or threading.current_thread() is not threading.main_thread():
        yield heard
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield heard
    finally:
        signal.signal(signal.SIGINT, own)
