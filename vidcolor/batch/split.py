"""One long film on many workers (--split): the tasks that colour its pieces side by side (film.split cuts
and joins them), then the task that joins them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..film.options import VideoOptions, prepare_film
from ..film.probe import film_seconds
from ..film.split import CannotCut, Piece, color_piece, join_pieces, plan_pieces
from ..utils.atomic import make_folder, temporary_folder
from .workers import Outcome, Settings, colorizer


@dataclass(frozen=True)
class SplitFilm:
    """The tasks for a film done in pieces: the pieces side by side, then the join."""
    pieces: list[PieceTask]
    join: JoinTask
    folder: Path  # where the pieces wait to be joined (hidden, next to the output): remove it after

    @property
    def frames(self) -> int:
        """The film's frames, as its pieces will keep them (a run's bar counts them)."""
        return sum(task.piece.frames for task in self.pieces)


def split_film(name: str, src: Path, dst: Path, options: VideoOptions, pieces: int | None, workers: int,
               warn: Callable[[str], None]) -> SplitFilm | None:
    """The tasks that colour `src` in pieces and join them into `dst`; None if it is better done whole.

    The film is checked first, like any film; a film kept as it is (--skip-color) is not cut.
    """
    notes: list[str] = []  # said only if the film is cut: whole, its own task says them
    make_folder(dst.parent)
    if not prepare_film(src, dst, options, notes.append).needs_model:
        return None
    try:
        plan = plan_pieces(src, pieces, workers, options.temporal)
    except CannotCut as why:
        if pieces is not None:  # not for --split auto, which chose to
            warn(f"{name} is coloured whole, not in pieces ({why})")
        return None
    for note in notes:
        warn(note)
    # this run's own hidden folder beside the output (on the file system every worker sees): two runs
    # writing one output never share it; a killed run's is swept by the next run writing there
    folder = temporary_folder(dst)
    tasks = [PieceTask(f"{name} (piece {p.index + 1}/{len(plan)})", src, dst, folder / f"{p.index:05d}.packets", p)
             for p in plan]
    join = JoinTask(f"{name} (joining {len(plan)} pieces)", src, dst, tuple(t.part for t in tasks))
    return SplitFilm(tasks, join, folder)


@dataclass(frozen=True)
class PieceTask:
    """Colour one piece of a film and save its encoded packets."""
    name: str
    src: Path
    dst: Path  # the film's output: its container decides the encoder
    part: Path
    piece: Piece
    needs_model: bool = True

    def run(self, settings: Settings, warn: Callable[[str], None],
            on_frames: Callable[[int], None] | None = None) -> Outcome:
        return Outcome(frames=color_piece(self.src, self.dst, self.part, self.piece, settings.video,
                                           lambda: colorizer(settings), warn, on_frames))


@dataclass(frozen=True)
class JoinTask:
    """Mux the pieces' packets, in order and untouched, with the source's sound into the output."""
    name: str
    src: Path
    dst: Path
    parts: tuple[Path, ...]
    needs_model: bool = False

    def run(self, settings: Settings, warn: Callable[[str], None],
            on_frames: Callable[[int], None] | None = None) -> Outcome:
        join_pieces(self.src, self.dst, self.parts, settings.video, warn)
        return Outcome(duration=film_seconds(self.dst))  # its frames are counted with the pieces
