"""Outputs appear whole or not at all: written under a hidden name beside the target, then renamed.

Every file vidcolor writes (films, photos, model files, checkpoints, logs, manifests) goes through
here, so a crash or Ctrl-C never leaves a half-written file under a final name, and the one naming
scheme lets a rerun sweep up what a killed run left behind.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .errors import UserError

try:
    import fcntl  # advisory locks: how a sweep tells a live run's temporaries from a dead one's
except ImportError:  # Windows, where a file being written cannot be removed anyway
    fcntl = None  # type: ignore[assignment]

_PARTIAL_NAME = re.compile(r"\..*\.partial-(\d+)-[0-9a-f]{6}(\.[^.]*)?", re.DOTALL)  # every name partial_path gives
MAX_NAME_BYTES = 255  # the usual file-system limit on one name
FILE_FOR_FOLDER = "is a file, where the output folder should be"  # what a file in an output folder's place is told
_swept: set[Path] = set()  # folders this process has swept already
_swept_lock = threading.Lock()
_unfinished: set[Path] = set()  # the temporary outputs this process is writing now
_folder_locks: dict[Path, BinaryIO] = {}  # this process's temporary folders, each with its held lock file
FOLDER_LOCK = ".lock"


def partial_path(dst: Path, suffix: str | None = None) -> Path:
    """A hidden temporary name for `dst`, new to this call, so two runs writing the same output never write
    one file, and no input that happens to bear such a name is ever written over. It keeps the extension,
    which some writers go by (or takes `suffix`); a name too long to grow is cut short (the tag tells it apart)."""
    tag = f"{os.getpid()}-{secrets.token_hex(3)}"
    suffix = dst.suffix if suffix is None else suffix
    name = f".{dst.stem}.partial-{tag}{suffix}"
    if len(os.fsencode(name)) > MAX_NAME_BYTES:
        keep = max(0, MAX_NAME_BYTES - len(os.fsencode(f"..partial-{tag}{suffix}")))
        stem = os.fsencode(dst.stem)[:keep].decode("utf-8", "ignore")  # whole characters only
        name = f".{stem}.partial-{tag}{suffix}"
    return dst.with_name(name)


def is_temporary(name: str) -> bool:
    """Whether a file or folder name is one `partial_path` gives."""
    return _PARTIAL_NAME.fullmatch(name) is not None


def check_not_a_folder(dst: Path, asked: str = "the output's file name", example: str | None = None) -> None:
    """Refuse a folder where a file is to be written: no file can replace it, found out only at the end, after all
    the work. `asked`: what to give instead; `example`: a file name in that folder to suggest."""
    if dst.is_dir():
        raise UserError(f"{dst}: is a folder; give {asked}" + (f", e.g. {dst / example}" if example else ""))


def check_writable(dst: Path, overwrite: bool, asked: str = "the output's file name") -> None:
    """Refuse early, with one clear line, an output that may not or cannot be written (`asked`: what to give
    instead of a folder in its place)."""
    check_not_a_folder(dst, asked)
    if os.path.lexists(dst) and not overwrite:  # a link to nowhere is there too
        raise UserError(f"{dst}: already exists (use --overwrite to replace it)")
    if not dst.parent.is_dir():
        raise UserError(f"{dst.parent}: {FILE_FOR_FOLDER if dst.parent.exists() else 'output folder does not exist'}")
    if not os.access(dst.parent, os.W_OK):
        raise UserError(f"{dst.parent}: output folder is not writable")


def check_not_the_input(src: Path, dst: Path, what: str = "input") -> None:
    """Refuse an output that is the input (or another file it is made from, `what`), by name or through a link:
    writing it would destroy what it is made from."""
    if src.exists() and (_resolved(src) == _resolved(dst) or (dst.exists() and dst.samefile(src))):
        raise UserError(f"{dst}: output would overwrite the {what}")


def _resolved(path: Path) -> Path:
    """The path with every link followed; a loop of links is the user's one line (Python 3.11 raises
    RuntimeError)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        raise UserError(f"{path}: a link that leads to no file (the links go round in a loop)") from None


def check_folder_makeable(path: Path) -> None:
    """Refuse now, in one line, a folder `make_folder` could not make: found before the work that would fill it."""
    if path.exists() and not path.is_dir():
        raise UserError(f"{path}: {FILE_FOR_FOLDER}")
    there = next(p for p in (path, *path.parents) if p.exists())
    if not there.is_dir():
        raise UserError(f"{path}: cannot make the folder ({there} is a file)")
    if not os.access(there, os.W_OK):
        raise UserError(f"{path}: cannot make the folder ({there} is not writable)")


def make_folder(path: Path) -> Path | None:
    """Make an output folder and its parents, refusing with one line a file in its place. Returns the
    outermost folder it made (None: `path` was there), so that a command that writes nothing can take it back."""
    check_folder_makeable(path)
    made = next((p for p in reversed((path, *path.parents)) if not p.exists()), None)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{path}: cannot make the folder ({exc.strerror or exc})") from None
    return made


def take_back(path: Path, made: Path | None) -> None:
    """Remove the folders `make_folder(path)` made (`made`: the outermost) while they are empty, so that a command
    that wrote nothing leaves nothing in the way of the next try."""
    if made is None:
        return
    for folder in (path, *path.parents):
        try:
            folder.rmdir()
        except OSError:  # something is in it after all: kept
            return
        if folder == made:
            return


@contextmanager
def written_atomically(dst: Path, replace: bool = True) -> Iterator[Path]:
    """Yield a new temporary path to write; it becomes `dst` if the block succeeds, else it is removed.

    `replace` False keeps a `dst` that appeared meanwhile (another run's, say) and raises UserError instead:
    for outputs the user asked not to have overwritten."""
    _sweep_once(dst.parent)
    tmp = partial_path(dst)
    try:
        held = _held(tmp.open("xb"))  # ours alone: never a file that was there before
    except OSError as exc:
        raise UserError(f"{dst}: cannot write it there ({exc.strerror or exc})") from None
    _unfinished.add(tmp)
    try:
        yield tmp
        _publish(tmp, dst, replace)
    finally:
        _unfinished.discard(tmp)
        held.close()
        with contextlib.suppress(OSError):  # e.g. held open by a virus scanner on Windows: a stray, not a failure
            tmp.unlink(missing_ok=True)


def temporary_folder(dst: Path) -> Path:
    """A new hidden folder beside `dst` for what a run makes on the way to it (a split film's pieces, an eval's
    pictures until its report is written), named as a temporary output is and holding a locked file while this
    process lives: a later run's sweep removes it once its run is gone (`kill -9`), never before. `remove_folder`
    takes it away."""
    sweep_stale(dst.parent, folders=True)
    folder = partial_path(dst, ".parts")
    try:
        folder.mkdir()
        _folder_locks[folder] = _held((folder / FOLDER_LOCK).open("xb"))
    except OSError as exc:
        raise UserError(f"{dst.parent}: cannot make a working folder there ({exc.strerror or exc})") from None
    return folder


def remove_folder(folder: Path) -> None:
    """Remove a `temporary_folder` and all in it."""
    handle = _folder_locks.pop(folder, None)
    if handle is not None:
        handle.close()
    shutil.rmtree(folder, ignore_errors=True)


def remove_unfinished() -> None:
    """Remove the temporary outputs and working folders of now, for a process about to end without its
    clean-up."""
    for tmp in list(_unfinished):
        with contextlib.suppress(OSError):
            tmp.unlink()
    for folder in list(_folder_locks):
        shutil.rmtree(folder, ignore_errors=True)


def _held(handle: BinaryIO) -> BinaryIO:
    """Lock the new temporary file for as long as it stays open, so a sweep knows its run is alive (the system
    drops the lock when the process dies, however it dies). Without advisory locks (Windows) it is closed:
    there an open file could not be renamed."""
    if fcntl is None:
        handle.close()
        return handle
    with contextlib.suppress(OSError):  # a file system without locks: then its process id alone tells
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return handle


def sweep_stale(folder: Path, folders: bool = False) -> None:
    """Remove the temporary outputs in `folder` that runs which are gone left behind (a `kill -9`, a power cut),
    never one a live run is writing: that run's process is alive and holds a lock on it. With `folders`, so too
    `temporary_folder`s: asked only where a run starts (its driver), never by a worker writing its part of a
    run, which might take its own run's pieces for a dead one's where locks do not reach (Windows, another
    node of a cluster)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:  # not there (yet), or not ours to read
        return
    for entry in entries:
        match = _PARTIAL_NAME.fullmatch(entry.name)
        if not match:
            continue
        if entry.is_file(follow_symlinks=False) and _abandoned(Path(entry.path), int(match[1])):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
        elif folders and entry.is_dir(follow_symlinks=False) and fcntl is not None \
                and _abandoned(Path(entry.path, FOLDER_LOCK), int(match[1])):
            shutil.rmtree(entry.path, ignore_errors=True)


def _sweep_once(folder: Path) -> None:
    """`sweep_stale` the first time this process writes into `folder`: cheap however many files go there."""
    with _swept_lock:
        if folder in _swept:
            return
        _swept.add(folder)
    sweep_stale(folder)


def _abandoned(path: Path, pid: int) -> bool:
    """Whether no live run owns this temporary file: its process (named in it) is gone and nothing holds its
    lock (which, unlike the process id, holds across machines sharing the folder). Without advisory locks
    (Windows) a file being written cannot be removed anyway."""
    if fcntl is None:
        return True
    if _alive(pid):  # also covers the moment between the file's creation and its lock
        return False
    try:
        with path.open("rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held, or gone already
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process
        return True
    return True


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
