"""Outputs appear whole or not at all: written under a hidden name beside the target, then renamed.

Every file vidcolor writes (films, photos, model files, checkpoints, logs, manifests) goes through
here, so a crash or Ctrl-C never leaves a half-written file under a final name, and the one naming
scheme lets a rerun sweep up what a killed run left behind.
"""
from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import UserError

PARTIAL_PATTERN = ".*.partial*"  # matches every name partial_path gives
MAX_NAME_BYTES = 255  # the usual file-system limit on one name


def partial_path(dst: Path) -> Path:
    """A hidden temporary name for `dst`, new to this call, so two runs writing the same output never write
    one file, and no input that happens to bear such a name is ever written over. It keeps the extension,
    which some writers go by; a name too long to grow is cut short (the tag tells it apart)."""
    tag = f"{os.getpid()}-{secrets.token_hex(3)}"
    name = f".{dst.stem}.partial-{tag}{dst.suffix}"
    if len(os.fsencode(name)) > MAX_NAME_BYTES:
        keep = max(0, MAX_NAME_BYTES - len(os.fsencode(f"..partial-{tag}{dst.suffix}")))
        stem = os.fsencode(dst.stem)[:keep].decode("utf-8", "ignore")  # whole characters only
        name = f".{stem}.partial-{tag}{dst.suffix}"
    return dst.with_name(name)


def check_writable(dst: Path, overwrite: bool) -> None:
    """Refuse early, with one clear line, an output that may not or cannot be written."""
    if os.path.lexists(dst) and not overwrite:  # a link to nowhere is there too
        raise UserError(f"{dst}: already exists (use --overwrite to replace it)")
    if not dst.parent.is_dir():
        raise UserError(f"{dst.parent}: output folder does not exist")
    if not os.access(dst.parent, os.W_OK):
        raise UserError(f"{dst.parent}: output folder is not writable")


@contextmanager
def written_atomically(dst: Path, replace: bool = True) -> Iterator[Path]:
    """Yield a new temporary path to write; it becomes `dst` if the block succeeds, else it is removed.

    `replace` False keeps a `dst` that appeared meanwhile (another run's, say) and raises UserError instead:
    for outputs the user asked not to have overwritten."""
    tmp = partial_path(dst)
    try:
        tmp.open("xb").close()  # ours alone: never a file that was there before
    except OSError as exc:
        raise UserError(f"{dst}: cannot write it there ({exc.strerror or exc})") from None
    try:
        yield tmp
        _publish(tmp, dst, replace)
    finally:
        with contextlib.suppress(OSError):  # e.g. held open by a virus scanner on Windows: a stray, not a failure
            tmp.unlink(missing_ok=True)


def _publish(tmp: Path, dst: Path, replace: bool) -> None:
    """`tmp` becomes `dst`: renamed over it, or (`replace` False) only if there is none."""
    try:
        if replace:
            tmp.replace(dst)
        elif not _hard_linked(tmp, dst):
            if os.path.lexists(dst):
                raise FileExistsError
            tmp.replace(dst)
    except FileExistsError:
        raise UserError(f"{dst}: appeared while this run was writing it, and is kept (use --overwrite to replace "
                        "it)") from None
    except OSError as exc:
        raise UserError(f"{dst}: cannot write it there ({exc.strerror or exc})") from None


def _hard_linked(tmp: Path, dst: Path) -> bool:
    """Link `tmp` as `dst`, which unlike a rename fails if `dst` exists (no check-then-act race); False where
    the file system has no hard links (some network and FAT ones)."""
    try:
        os.link(tmp, dst)
    except FileExistsError:
        if not os.path.samefile(tmp, dst):  # NFS may answer a retried link that went through so
            raise
    except OSError:
        return False
    return True
