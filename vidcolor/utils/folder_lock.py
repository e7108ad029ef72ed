"""One vidcolor run at a time writing into a folder (an archive's output folder, a training run's folder)."""
from __future__ import annotations

from pathlib import Path
from typing import TextIO

from .errors import UserError

LOCK_NAME = ".vidcolor.lock"


def lock_folder(folder: Path) -> TextIO:
    """Hold an exclusive lock on `folder` for as long as the returned file is open; another run's lock there is a
    UserError. The operating system drops the lock when the process dies, however it dies, so a killed run never
    blocks the next one."""
    try:
        handle = (folder / LOCK_NAME).open("a")
    except OSError as exc:
        raise UserError(f"{folder}: cannot write into the output folder ({exc.strerror or exc})") from None
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one run at a time is then up to the user
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise UserError(f"{folder}: another vidcolor run is writing into this folder") from None
    return handle
