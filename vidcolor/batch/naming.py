"""Finding an archive's photos and films (the globs, hidden files left out) and their hints files, and naming
their outputs so that no two inputs write one file."""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from fnmatch import fnmatchcase
from itertools import count
from pathlib import Path, PurePosixPath

from ..film.encoder import container_holds
from ..utils.choices import CONTAINERS, CRF_MAX
from ..utils.paths import is_image, is_video
from ..utils.warn import default_warn
from .manifest import MANIFEST_NAME
from .options import ArchiveOptions, Summary

FALLBACK_CONTAINER = ".mkv"  # for films in containers vidcolor does not write (.avi, .mpg, ...)
HINTS_SUFFIX = ".hints.json"  # reel.mp4.hints.json beside reel.mp4: the film's hints (vidcolor.hints.file)


def output_name(rel: PurePosixPath, codec: str | None = None) -> PurePosixPath:
    """Where an input's colour version goes, inside the output folder: a film in its own container where
    vidcolor writes it and it holds the `--codec` asked for (H.264 goes into no .webm, lossless FFV1 into .mkv
    only), else in .mkv, which holds them all."""
    if is_image(Path(rel)):
        return rel.with_suffix(".png")
    suffix = rel.suffix.lower()
    if suffix in CONTAINERS and (codec not in CRF_MAX or container_holds(suffix, codec)):
        return rel
    return rel.with_suffix(FALLBACK_CONTAINER)


def output_names(found: list[PurePosixPath], recorded: dict[PurePosixPath, PurePosixPath],
                 codec: str | None = None) -> dict[PurePosixPath, PurePosixPath]:
    """Each input's output name, no two alike, nor alike but for case (one file on Windows and macOS disks).

    Inputs whose outputs would share a name (a master a.tif beside its access copy a.jpg) keep their whole
    name in front of the output's extension instead: a.tif.png and a.jpg.png; numbered (a.tif-2.png) where
    that name is another input's own, or a folder's (p.jpg beside a folder p.png/). An output an earlier run
    wrote (`recorded`: input -> output) stays its input's, while it is still a name that input could get:
    whatever arrives in the archive later is named around it.
    """
    natural = {rel: output_name(rel, codec) for rel in found}
    named: dict[PurePosixPath, PurePosixPath] = {}
    taken = {_folded(folder) for rel in found for folder in rel.parents[:-1]}  # the tree's folders are there too

    def give(rel: PurePosixPath, out: PurePosixPath) -> None:
        named[rel] = out
        taken.add(_folded(out))

    kept_names: set[PurePosixPath] = set()  # alike but for case among themselves too: the disk they are on tells
    for rel in found:
        kept = recorded.get(rel)
        if kept is not None and kept not in kept_names and _one_of_its_names(rel, kept, natural[rel]):
            give(rel, kept)
            kept_names.add(kept)
    claims: dict[str, list[PurePosixPath]] = {}
    for rel in found:
        if rel not in named:
            claims.setdefault(_folded(natural[rel]), []).append(rel)
    for key, rels in claims.items():
        if len(rels) == 1 and key not in taken:
            give(rels[0], natural[rels[0]])
    for rel in found:
        if rel not in named:
            give(rel, next(out for out in _own_names(rel, natural[rel].suffix) if _folded(out) not in taken))
    return named


def _own_names(rel: PurePosixPath, suffix: str) -> Iterator[PurePosixPath]:
    """a.tif -> a.tif.png, a.tif-2.png, a.tif-3.png, ...: names that say which input they came from."""
    yield rel.with_name(rel.name + suffix)
    for n in count(2):
        yield rel.with_name(f"{rel.name}-{n}{suffix}")


def _one_of_its_names(rel: PurePosixPath, out: PurePosixPath, natural: PurePosixPath) -> bool:
    """Whether `out` is a name `rel` could get now (not one in another container, say, after --codec ffv1)."""
    if out == natural:
        return True
    if out.parent != rel.parent or out.suffix != natural.suffix or not out.name.startswith(rel.name):
        return False
    return re.fullmatch(r"(-([2-9]|[1-9]\d+))?", out.name[len(rel.name):-len(out.suffix)]) is not None


def _folded(out: PurePosixPath) -> str:
    return str(out).casefold()


def survey(root: Path, skip: Path, options: ArchiveOptions, summary: Summary, warn: Callable[[str], None] = default_warn
           ) -> tuple[list[PurePosixPath], dict[PurePosixPath, PurePosixPath]]:
    """The photos and films under `root` (sorted, hidden files and `skip` left out, linked folders followed, each
    folder once) that the globs allow, and the hints files of those that have one beside them (FILE.hints.json:
    input -> its hints file). A folder that cannot be read is a failure in `summary`, the rest goes on.

    A hints file is not an input: it goes with its photo or film, whatever the globs say of its own name. One
    beside no photo or film is named in a warning and ignored."""
    found: list[PurePosixPath] = []
    sidecars: set[PurePosixPath] = set()
    skip, archive = skip.resolve(), root.resolve()
    walked = {archive}

    def unreadable(exc: OSError) -> None:  # a folder that cannot be listed: failed, unless excluded whole
        rel = PurePosixPath(Path(exc.filename).relative_to(root).as_posix())
        if _matches(rel / "*", options.exclude):
            summary.excluded += 1
        else:
            summary.fail(f"{rel}/", f"cannot be read ({exc.strerror or exc})")

    for folder, subfolders, names in os.walk(root, onerror=unreadable, followlinks=True):
        subfolders[:] = [d for d in sorted(subfolders) if not d.startswith(".")  # in order: the first link is followed
                         and _worth_walking(Path(folder, d), root, archive, skip, walked, warn)]
        media = {n for n in names if not n.startswith(".") and (is_image(Path(n)) or is_video(Path(n)))}
        for name in sorted(names):
            if name.startswith("."):
                continue
            rel = PurePosixPath(Path(folder, name).relative_to(root).as_posix())
            if name.endswith(HINTS_SUFFIX):
                if name[:-len(HINTS_SUFFIX)] in media:
                    sidecars.add(rel)
                else:
                    summary.ignored += 1
                    warn(f"{rel}: no photo or film {name[:-len(HINTS_SUFFIX)]} beside it: these hints are not used")
            elif name not in media:
                summary.ignored += 1
            elif (options.include and not _matches(rel, options.include)) or _matches(rel, options.exclude):
                summary.excluded += 1
            else:
                found.append(rel)
    hints = {rel: rel.with_name(rel.name + HINTS_SUFFIX) for rel in found}
    return sorted(found), {rel: h for rel, h in hints.items() if h in sidecars}


def _worth_walking(folder: Path, root: Path, archive: Path, skip: Path, walked: set[Path],
                   warn: Callable[[str], None]) -> bool:
    """Whether to go into `folder`: not this run's output folder, nor an earlier run's, nor one gone through
    already. A linked folder is followed, as a linked file is (an archive gathered from other disks), unless it
    links into the archive itself or above it: its files are coloured once, where they are, not twice or for ever.
    `archive` and `skip` are `root` and the output folder, resolved."""
    real = folder.resolve()
    if real == skip or skip in real.parents:
        return False
    inside = real == archive or archive in real.parents or real in archive.parents
    if real in walked or (inside and folder.is_symlink()):
        if folder.is_symlink():
            warn(f"{folder.relative_to(root).as_posix()}/: a link to a folder this run goes through already (its "
                 "files are coloured once, where they are); left out")
        return False
    walked.add(real)
    return not _earlier_output(folder, root, warn)


def _earlier_output(folder: Path, root: Path, warn: Callable[[str], None]) -> bool:
    """Whether `folder` is an earlier run's output (it holds a manifest): colouring it again would colour colour."""
    try:
        if not (folder / MANIFEST_NAME).is_file():
            return False
    except OSError:  # a folder that cannot be read: the walk names it
        return False
    warn(f"{folder.relative_to(root).as_posix()}/: an earlier vidcolor output (it holds {MANIFEST_NAME}); left out")
    return True


def _matches(rel: PurePosixPath, globs: tuple[str, ...]) -> bool:
    """Whether the path inside the archive matches a glob, ignoring case (`*.tif` takes SCAN.TIF too)."""
    return any(fnmatchcase(str(rel).lower(), g.lower()) for g in globs)
