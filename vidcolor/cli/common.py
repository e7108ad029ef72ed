"""What every command shares: one-line errors (never a traceback), clean stops on signals, option helpers."""
from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from ..runtime.catalog import shipped_models
from ..utils.choices import MAX_FRAME
from ..utils.errors import UserError, shown
from ..utils.guard import give_up, on_hang
from ..utils.numbers import is_whole_number
from ..utils.stderr import outliving_stderr
from ..utils.stopping import Stopped, heard_stop, restore_signals, stop_cleanly_on_signals


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn UserError into one line on stderr and exit code 1, never a traceback; so too any file-system
    error not met more precisely on the way (a name too long for the disk, say). Ctrl-C, SIGTERM and SIGHUP
    clean up, say so in a line, and exit 128 + the signal's number; so does a decoder that hangs, with exit
    code 1 (see vidcolor.utils.guard)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        handlers = stop_cleanly_on_signals()
        before = on_hang(give_up())
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt as exc:
            _exit_stopped(exc)
        except Exception as exc:
            stop = heard_stop()
            if stop is not None:
                _exit_stopped(stop)
            if isinstance(exc, UserError):
                click.echo(f"vidcolor: {exc}", err=True)
                sys.exit(1)
            if isinstance(exc, OSError):
                click.echo(f"vidcolor: {exc.filename}: {exc.strerror}" if exc.filename and exc.strerror
                           else f"vidcolor: {exc}", err=True)
                sys.exit(1)
            raise
        finally:
            on_hang(before)  # called from Python, the caller's process is its own again
            restore_signals(handlers)
    return wrapper


def _exit_stopped(stop: KeyboardInterrupt) -> NoReturn:
    """Say how the run was stopped, and exit 128 + the signal's number, as a shell reports it."""
    if isinstance(stop, Stopped):
        click.echo(f"vidcolor: stopped by {stop}", err=True)
        sys.exit(128 + stop.signal_number)
    click.echo("vidcolor: interrupted", err=True)
    sys.exit(130)


def check_window_looks_ahead(ctx: click.Context) -> None:
    """Refuse a --window given with --temporal none, where it would do nothing (as `run` and `eval` both take them)."""
    given = ctx.get_parameter_source("window") is click.core.ParameterSource.COMMANDLINE
    if given and ctx.params["temporal"] == "none" and ctx.params["window"]:
        raise UserError("--window is the look-ahead of --temporal flow and ema; --temporal none looks at none")


def frame_and_picture(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
                      ) -> tuple[tuple[int, Path], ...]:
    """`N:painted.png` options -> (N, path) pairs; a malformed one is a usage mistake."""
    pairs = []
    for value in values:
        frame, _, picture = value.partition(":")
        if not is_whole_number(frame.strip()) or not picture or int(frame) >= MAX_FRAME:  # past any film: said at once
            raise click.BadParameter(f"{shown(value)} is not N:PICTURE (a frame number, then the picture)")
        pairs.append((int(frame), Path(picture)))
    if len({n for n, _ in pairs}) < len(pairs):
        raise click.BadParameter("a frame is given two keyframes")
    return tuple(pairs)


class GivenPath(click.Path):
    """click's Path, less the empty string: pathlib reads '' as '.', the folder the command runs in, so
    `vidcolor eval ''` scored everything under it and `frames -o ''` wrote frames there."""

    def __init__(self) -> None:
        super().__init__(path_type=Path, readable=False)  # an unreadable file is told by what reads it: exit 1

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "":
            self.fail("an empty path names no file or folder", param, ctx)
        return super().convert(value, param, ctx)


class ModelFile(GivenPath):
    """A model file, or a shipped model's name (`fusion`) as its file, the name first, as `--model` takes it.
    The name as typed: `./fusion` is the file of that name, which a Path would have made `fusion`."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            try:
                shipped = shipped_models()
            except UserError as exc:
                if not Path(value).exists():  # a broken install: its reason, not "no such weights file"
                    self.fail(str(exc), param, ctx)
                shipped = {}
            if value in shipped:
                return shipped[value]
        return super().convert(value, param, ctx)


class Number(click.FloatRange):
    """click's FloatRange, less the floats that are not numbers to a user: click lets `nan` through any bounds
    (it compares false with both) and `inf` through an open one, and either would fail far downstream."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a number", param, ctx)
        return number


# click names a bounded number's type after its class ("'abc' is not a valid integer range"); what the user gave is
# not a number at all
PLAIN_WORDS = {"a valid integer range": "a whole number", "a valid float range": "a number"}


def _plain(message: str) -> str:
    for click_words, ours in PLAIN_WORDS.items():
        message = message.replace(click_words, ours)
    return message


class OneLineErrors(click.Group):
    """Usage mistakes (a missing -o, a number out of range) in one line on stderr, as every other mistake
    is, instead of click's usage block; exit code 2 as click gives them. A stderr whose reader has gone
    stops nothing (`vidcolor.utils.stderr`)."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:  # a caller handling click's exceptions itself, as click's own main lets it
            return super().main(*args, standalone_mode=False, **kwargs)
        with outliving_stderr():
            return self._main_in_one_line(*args, **kwargs)

    def _main_in_one_line(self, *args: Any, **kwargs: Any) -> Any:
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:  # plain `vidcolor`: the help is what was wanted
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            # the subcommand after the root, however it was started (`vidcolor`, `python -m vidcolor`)
            sub = exc.ctx.command_path.removeprefix(exc.ctx.find_root().command_path) if exc.ctx else ""
            command = f"vidcolor{sub}"
            click.echo(f"vidcolor: {_plain(exc.format_message())} (see {command} --help)", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"vidcolor: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("vidcolor: interrupted", err=True)
            sys.exit(130)
        if isinstance(code, int) and code:  # click's own exits (ctx.exit(n))
            sys.exit(code)
        return code


def _shipped_names() -> str:
    """The shipped models' names for the help, which must print even where they cannot be found: the
    command that needs one says why, in its one line."""
    try:
        return ", ".join(shipped_models()) or "none installed"
    except UserError:
        return "none found"


MODEL_HELP = f"Shipped model ({_shipped_names()}; see `vidcolor models`) or a .safetensors file."


def count_or_auto(minimum: int) -> Callable[[click.Context, click.Parameter, str | None], int | str | None]:
    """A click callback for options that take a number (at least `minimum`) or `auto`."""
    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
        if value is None or value == "auto":
            return value
        if not is_whole_number(value) or int(value) < minimum:
            raise click.BadParameter(f"give a whole number from {minimum} up, or auto")
        return int(value)
    return convert
