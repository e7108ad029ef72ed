"""What a folder run is asked (ArchiveOptions: the folder options of `vidcolor run`) and what it reports at
the end (Summary)."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

from tqdm import tqdm


@dataclass(frozen=True)
class ArchiveOptions:
    """How to go through an archive: the folder options of `vidcolor run`."""
    include: tuple[str, ...] = ()  # globs on the path inside the archive; none: everything
    exclude: tuple[str, ...] = ()
    force: bool = False  # do every file again
    overwrite: bool = False  # replace outputs that no earlier run wrote
    jobs: int | None = None  # worker processes (None: what the machine suits)
    ray: str | None = None  # a Ray address, or "local"
    split: int | str | None = None  # pieces per film, "auto", or None: every film whole
    verbose: bool = False
    quiet: bool = False


@dataclass
class Tally:
    files: int = 0
    frames: int = 0
    duration: float = 0.0  # seconds of film

    def add(self, frames: int, duration: float) -> None:
        self.files, self.frames, self.duration = self.files + 1, self.frames + frames, self.duration + duration


@dataclass
class Summary:
    """What a run did, for the table at its end."""
    done: Tally = field(default_factory=Tally)
    skipped: Tally = field(default_factory=Tally)
    failed: Tally = field(default_factory=Tally)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)
    ignored: int = 0  # files that are neither photos nor films
    excluded: int = 0  # left out by --include / --exclude
    wall: float = 0.0

    def fail(self, name: str, reason: str) -> None:
        """Count a file (or a folder of them) that could not be coloured, and say why at once, above any bar."""
        self.failed.add(0, 0.0)
        self.failures.append((name, reason))
        tqdm.write(f"vidcolor: failed {name}: {reason}", file=sys.stderr)

    def table(self) -> str:
        rows = ["|         | files | frames | hours of film |", "|---------|------:|-------:|--------------:|"]
        for name in ("done", "skipped", "failed"):
            t: Tally = getattr(self, name)
            rows.append(f"| {name:7} | {t.files:5} | {t.frames:6} | {t.duration / 3600:13.2f} |")
        left_out = f"{_count(self.ignored, 'other file')} ignored"
        if self.excluded:
            left_out += f", {self.excluded} excluded"
        return "\n".join([*rows, f"{left_out}; wall time {_clock(self.wall)}"])


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes else f"{seconds:.1f} s"
