"""Finding an archive's photos and films (the globs, hidden files left out) and their hints files, and naming
their outputs so that no two inputs write one file."""
from __future__ import annotations

import os
from collections.abc import Callable
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from ..utils.choices import CONTAINERS
from ..utils.paths import is_image, is_video
from ..utils.warn import default_warn
from .manifest import MANIFEST_NAME
from .options import ArchiveOptions, Summary

FALLBACK_CONTAINER = ".mkv"  # for films in containers vidcolor does not write (.avi, .mpg, ...)
HINTS_SUFFIX = ".hints.json"  # reel.mp4.hints.json beside reel.mp4: the film's hints (vidcolor.hints.file)


def output_name(rel: PurePosixPath, film_suffix: str | None = None) -> PurePosixPath:
    """Where an input's colour version goes, inside the output folder (films in `film_suffix` files when the
    codec asks for one container, as the lossless FFV1 asks for .mkv)."""
    if is_image(Path(rel)):
        return rel.with_suffix(".png")
    if film_suffix:
        return rel.with_suffix(film_suffix)
    return rel if rel.suffix.lower() in CONTAINERS else rel.with_suffix(FALLBACK_CONTAINER)


def output_names(found: list[PurePosixPath], recorded: dict[PurePosixPath, PurePosixPath],
                 film_suffix: str | None = None) -> dict[PurePosixPath, list[PurePosixPath]]:
    """Each output name and the inputs that would write it (more than one only in a clash nothing resolves).

    Inputs whose outputs would share a name (a master a.tif beside its access copy a.jpg) keep their
    whole name in front of the output's extension instead: a.tif.png and a.jpg.png; except one that an
    earlier run already wrote under the shared name (`recorded`: input -> output), which keeps it.
    """
    natural: dict[PurePosixPath, list[PurePosixPath]] = {}
    for rel in found:
        natural.setdefault(output_name(rel, film_suffix), []).append(rel)
    owners: dict[PurePosixPath, list[PurePosixPath]] = {}
    for out, rels in natural.items():
        keeper = next((r for r in rels if recorded.get(r) == out), rels[0] if len(rels) == 1 else None)
        for rel in rels:
            owners.setdefault(out if rel == keeper else rel.with_name(rel.name + out.suffix), []).append(rel)
    return owners


def survey(root: Path, skip: Path, options: ArchiveOptions, summary: Summary, warn: Callable[[str], None] = default_warn
           ) -> tuple[list[PurePosixPath], dict[PurePosixPath, PurePosixPath]]:
    """The photos and films under `root` (sorted, hidden files and `skip` left out) that the globs allow, and
    the hints files of those that have one beside them (FILE.hints.json: input -> its hints file).

    A hints file is not an input: it goes with its photo or film, whatever the globs say of its own name. One
    beside no photo or film is named in a warning and ignored."""
    found: list[PurePosixPath] = []
    sidecars: set[PurePosixPath] = set()
    skip = skip.resolve()
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and Path(folder, d).resolve() != skip
                               and not _earlier_output(Path(folder, d), root, warn))
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


def _earlier_output(folder: Path, root: Path, warn: Callable[[str], None]) -> bool:
    """Whether `folder` is an earlier run's output (it holds a manifest): colouring it again would colour colour."""
    if not (folder / MANIFEST_NAME).is_file():
        return False
    warn(f"{folder.relative_to(root).as_posix()}/: an earlier vidcolor output (it holds {MANIFEST_NAME}); left out")
    return True


def _matches(rel: PurePosixPath, globs: tuple[str, ...]) -> bool:
    """Whether the path inside the archive matches a glob, ignoring case (`*.tif` takes SCAN.TIF too)."""
    return any(fnmatchcase(str(rel).lower(), g.lower()) for g in globs)
