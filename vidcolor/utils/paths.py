"""Which files are photos and which are films, by their names; finding them under a folder; stems for outputs
that do not collide; names short enough for a progress bar. Standard library only."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

IMAGE_EXTS = {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pbm", ".pgm", ".ppm",
              ".pnm"}


VIDEO_EXTS = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv",
              ".ts", ".mts", ".m2ts", ".vob", ".m2v", ".mxf", ".dv", ".3gp", ".3g2",  # camcorder, DVD, broadcast, tape
              ".gif",  # coloured as a film (a still one too), as `vidcolor run` colours a GIF alone
              ".asf", ".qt", ".f4v", ".divx", ".rm", ".rmvb", ".mod", ".tod", ".y4m",  # older and rarer containers
              ".h264", ".264", ".hevc", ".h265", ".265", ".m1v"}  # bare video streams

BAR_NAME = 32  # characters of a file's name a progress bar shows: room left for the bar on an 80-column terminal


def bar_label(path: str | Path) -> str:
    """The file's name as a progress bar shows it: a long one (an archive's `1923_newsreel_reel_04_...`) cut in
    its middle, its start and its extension kept, so that it leaves room for the bar and the time left."""
    name = Path(path).name
    if len(name) <= BAR_NAME:
        return name
    tail = min(len(Path(path).suffix) + 6, BAR_NAME // 2)
    return f"{name[:BAR_NAME - tail - 3]}...{name[-tail:]}"


def distinct_stems(paths: Sequence[Path]) -> list[str]:
    """Each path's stem, numbered where two or more share one (clip.mp4, clip.mkv -> clip-1, clip-2), so the
    outputs named after them do not overwrite each other, on file systems that ignore case too."""
    counts = Counter(p.stem.casefold() for p in paths)
    taken = {p.stem.casefold() for p in paths if counts[p.stem.casefold()] == 1}  # unique stems keep theirs
    stems = []
    for path in paths:
        stem = path.stem
        if counts[stem.casefold()] > 1:
            n = 1
            while f"{path.stem}-{n}".casefold() in taken:
                n += 1
            stem = f"{path.stem}-{n}"
        taken.add(stem.casefold())
        stems.append(stem)
    return stems


def not_there(path: Path, kind: str = "file") -> str:
    """Why a path named cannot be found: nothing by that name, or a link to nothing or round a loop of links (which
    look like nothing to `exists()`, and are not to be told "no such file" while `ls` lists them)."""
    return f"a link that leads to no {kind} (its target is missing, or the links go round in a loop)" \
        if path.is_symlink() else f"no such {kind}"


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTS


def for_ffmpeg(path: Path) -> str:
    """The name to give FFmpeg for a file: whole, since it reads a relative name with a colon before any slash
    (`12:00:00.mp4`, `take:2.mkv`) as a protocol, not a file."""
    return str(path.absolute())  # not os.path.abspath: it drops `link/..` by the name alone, past a symlink


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTS


def find_media(root: Path) -> list[Path]:
    """All images and videos under `root` (recursively, sorted so runs are reproducible), hidden files and
    folders left out as a folder run leaves them (macOS's `._` twins, a run's temporary files). A link to a file
    that is gone is one of them, for its reader to name, not to pass over in silence."""
    return sorted(p for p in root.rglob("*") if (p.is_file() or (p.is_symlink() and not p.exists()))
                  and (is_image(p) or is_video(p)) and not hidden_below(p, root))


def hidden_below(path: Path, root: Path) -> bool:
    """Whether `path`, under `root`, is hidden there or lies in a hidden folder: what `find_media` leaves out."""
    return any(part.startswith(".") for part in path.relative_to(root).parts)
