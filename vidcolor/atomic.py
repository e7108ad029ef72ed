"""Outputs appear whole or not at all: written under a hidden name beside the target, then renamed.

Every file vidcolor writes (films, photos, model files, checkpoints, logs, manifests) goes through
here, so a crash or Ctrl-C never leaves a half-written file under a final name, and the one naming
scheme lets a rerun sweep up what a killed run left behind.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import UserError

PARTIAL_PATTERN = ".*.partial*"  # matches every name partial_path gives


MAX_NAME_BYTES = 255  # the usual file-system limit on one name


def partial_path(dst: Path) -> Path:
    """The hidden temporary name for `dst`; it keeps the extension, which some writers go by. A name too
    long to grow is cut short and told apart from its neighbours by a hash of the whole."""
    name = f".{dst.stem}.partial{dst.suffix}"
    if len(os.fsencode(name)) <= MAX_NAME_BYTES:
        return dst.with_name(name)
    tag = hashlib.sha256(os.fsencode(dst.name)).hexdigest()[:8]
    keep = MAX_NAME_BYTES - len(os.fsencode(f"..{tag}.partial{dst.suffix}"))
    stem = os.fsencode(dst.stem)[:keep].decode("utf-8", "ignore")  # whole characters only
    return dst.with_name(f".{stem}.{tag}.partial{dst.suffix}")


def check_writable(dst: Path, overwrite: bool) -> None:
    """Refuse early, with one clear line, an output that may not or cannot be written."""
    if dst.exists() and not overwrite:
        raise UserError(f"{dst}: already exists (use --overwrite to replace it)")
    if not dst.parent.is_dir():
        raise UserError(f"{dst.parent}: output folder does not exist")
    if not os.access(dst.parent, os.W_OK):
        raise UserError(f"{dst.parent}: output folder is not writable")


@contextmanager
def written_atomically(dst: Path) -> Iterator[Path]:
    """Yield the temporary path to write; it replaces `dst` if the block succeeds, else it is removed."""
    tmp = partial_path(dst)
    try:
        yield tmp
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)
