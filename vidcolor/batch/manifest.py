"""The archive manifest: one JSON line per input file, so that a rerun knows what is already done.

Lines are appended and flushed one at a time, so a killed run loses at most the line being
written, and a torn line is skipped when reading; they are fsynced at most once a second (and at
the end), so a power cut loses little more, without a disk sync for every photo. Each run starts
by compacting the file (the latest record per input) into a temporary file that is renamed over
the old one, so the manifest is never half written and never grows without bound. Only one run
at a time may write into an output folder: the manifest holds a lock on it while it is open.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from ..utils.atomic import written_atomically
from ..utils.errors import UserError
from ..utils.folder_lock import lock_folder

MANIFEST_NAME = "vidcolor-manifest.jsonl"
SYNC_SECONDS = 1.0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Record:
    """What happened to one input file, as of the last time it was worked on."""
    input: str  # POSIX path relative to the archive folder
    size: int  # of the input, with mtime_ns: a changed input is done again
    mtime_ns: int
    output: str  # POSIX path relative to the output folder
    status: str  # "started", "done" or "failed"
    model: str
    options: dict[str, Any]  # everything that changes the output (a change means doing it again)
    frames: int = 0
    seconds: float = 0.0  # work time
    duration: float = 0.0  # length of the film in seconds (0 for a photo)
    error: str | None = None
    time: str = field(default_factory=_now)
    archive: str | None = None  # the folder the input was found in (None: a manifest older than this field)
    written: list[int] | None = None  # the output's [size, mtime_ns] as the run left it (None: not known)

    def update(self, **changes: Any) -> Record:
        """This record with `changes`, stamped with the time of the change."""
        return replace(self, **changes, time=_now())

    def changed_since(self, output: Path) -> bool:
        """Whether the output is no longer as the run that wrote it left it (retouched by hand): the user's now."""
        return isinstance(self.written, list) and self.written != stamp(output)


def stamp(path: Path) -> list[int] | None:
    """A file's [size, mtime_ns], to tell later whether anyone has changed it; None where there is none."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


_FIELDS = {f.name for f in fields(Record)}


class Manifest:
    """The manifest of an output folder, open for the length of a run (use it as a context manager)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / MANIFEST_NAME
        self._lock = lock_folder(folder)
        try:
            self.records = _read(self.path)
            with written_atomically(self.path) as tmp, _open_text(tmp, "w") as f:
                f.writelines(_line(r) for r in self.records.values())
                f.flush()
                os.fsync(f.fileno())
            self._file: TextIO = _open_text(self.path, "a")
        except BaseException as exc:
            self._lock.close()  # the next run must not find the folder locked by a run that never started
            if isinstance(exc, OSError):
                raise UserError(f"{self.path}: cannot read and rewrite the manifest ({exc.strerror or exc})") from None
            raise
        self._synced = time.monotonic()

    def get(self, name: str) -> Record | None:
        return self.records.get(name)

    def write(self, record: Record) -> None:
        """Append a record: once this returns, killing the process cannot lose it."""
        self.records[record.input] = record
        try:
            self._file.write(_line(record))
            self._file.flush()
            if time.monotonic() - self._synced > SYNC_SECONDS:
                self._sync()
        except OSError as exc:  # a full disk: named, as a film's or a photo's output is
            raise self._unwritable(exc) from None

    def _sync(self) -> None:
        os.fsync(self._file.fileno())
        self._synced = time.monotonic()

    def _unwritable(self, exc: OSError) -> UserError:
        return UserError(f"{self.path}: cannot write the manifest ({exc.strerror or exc})")

    def close(self) -> None:
        """Write out what is left and let the folder go; a line the disk will not take is a UserError, after."""
        failed = None
        try:
            self._file.flush()
            self._sync()
        except OSError as exc:
            failed = exc
        finally:
            with contextlib.suppress(OSError):  # the line it could not write, tried again: closed all the same
                self._file.close()
            self._lock.close()
        if failed is not None:
            raise self._unwritable(failed) from None

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        try:
            self.close()
        except UserError:
            if kind is None:  # else the error on its way out says it first
                raise


def _open_text(path: Path, mode: str) -> TextIO:
    """Read leniently: a manifest written by a version that put a non-UTF-8 name's raw bytes in still loads."""
    return path.open(mode, encoding="utf-8", errors="surrogateescape")


def _line(record: Record) -> str:
    """ASCII JSON: a file name that is not UTF-8 (an old Latin-1 archive) is escaped, and round-trips."""
    return json.dumps(asdict(record), ensure_ascii=True) + "\n"


def _read(path: Path) -> dict[str, Record]:
    """The latest record per input; lines that do not parse (a torn last line) are skipped."""
    records: dict[str, Record] = {}
    if not path.is_file():
        return records
    for line in path.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
        try:
            data = json.loads(line)
            record = Record(**{k: v for k, v in data.items() if k in _FIELDS})
        except (json.JSONDecodeError, TypeError, AttributeError):
            continue
        records[record.input] = record
    return records
