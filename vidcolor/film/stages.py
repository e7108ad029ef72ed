"""The pipeline's threads: decode and encode stages joined to the colouring main thread by small bounded
queues; a failure anywhere stops them all and is raised once."""
from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import av
from av.stream import Stream
from tqdm import tqdm

from ..utils.paths import bar_label
from .memory import keep_freed_memory
from .options import VideoOptions
from .painter import Painter
from .probe import Source
from .reader import Payload
from .streams import Route


class _Aborted(Exception):
    """Another stage failed (or the user pressed Ctrl-C): stop quietly, the cause is raised elsewhere."""


class _Pipe:
    """A bounded queue between two stages; every wait gives up as soon as the run is aborted."""

    _END = object()

    def __init__(self, size: int, abort: threading.Event) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=size)
        self._abort = abort

    def put(self, item: object) -> None:
        while not self._abort.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                pass
        raise _Aborted

    def close(self) -> None:
        self.put(self._END)

    def __iter__(self) -> Iterator[tuple[Route, Payload]]:
        while not self._abort.is_set():
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is self._END:
                return
            yield item  # type: ignore[misc]
        raise _Aborted


class _Stage(threading.Thread):
    """Runs one end of the pipeline; its error aborts the run and is re-raised by the main thread."""

    def __init__(self, name: str, work: Callable[[], None], abort: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self._work, self._abort = work, abort
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except _Aborted:
            pass
        except BaseException as exc:  # handed to the main thread, which raises it
            self.error = exc
            self._abort.set()


class FrameWriter(Protocol):
    """Where the encode stage sends frames and packets: the output file, or a piece's packet file."""

    def write(self, items: Iterable[tuple[Route, Payload]]) -> None: ...


def run_stages(reader: Iterable[tuple[Stream, Payload]], writer: FrameWriter, routes: list[Route],
               paint: Painter | None, source: Source, options: VideoOptions,
               on_frames: Callable[[int], None] | None = None) -> int:
    """Decode, colour and encode: the three threaded stages over whatever `reader` yields (a whole film,
    or a piece of one) into `writer`; returns how many video frames went through."""
    abort = threading.Event()
    batch_size = options.batch_for(paint.colorizer.device if paint is not None else None)
    size = max(16, 2 * batch_size)
    decoded, colored = _Pipe(size, abort), _Pipe(size, abort)
    by_index = {r.source.index: r for r in routes}

    def read() -> None:
        for stream, item in reader:
            decoded.put((by_index[stream.index], item))
        decoded.close()

    stages = [_Stage("vidcolor-decode", read, abort), _Stage("vidcolor-encode", lambda: writer.write(colored), abort)]
    frames = 0
    with keep_freed_memory:
        for stage in stages:
            stage.start()
        try:
            frames = _color(decoded, colored, routes[0], paint, source, batch_size, options.quiet, on_frames)
            colored.close()
            for stage in stages:
                while stage.is_alive():  # short joins, so Ctrl-C still gets through
                    stage.join(0.1)
        except _Aborted:
            pass  # a stage failed; its error is raised below
        finally:
            abort.set()
            for stage in stages:
                stage.join()
    for stage in stages:
        if stage.error is not None:
            raise stage.error
    return frames


def _color(decoded: _Pipe, colored: _Pipe, film: Route, paint: Painter | None, source: Source,
            batch_size: int, quiet: bool, on_frames: Callable[[int], None] | None) -> int:
    """The main thread's stage: film frames go through the model in batches, the rest passes on."""
    batch: list[av.VideoFrame] = []
    count = 0
    with (tqdm(total=source.frames, disable=quiet, unit="frame", desc=bar_label(source.path.name),
               dynamic_ncols=True, leave=False) as progress,
          paint if paint is not None else contextlib.nullcontext()):
        def deliver(route: Route, items: list[Payload]) -> None:
            nonlocal count
            for item in items:
                colored.put((route, item))
            if route is film and items:
                count += len(items)
                progress.update(len(items))
                if on_frames is not None:
                    on_frames(len(items))

        for route, item in decoded:
            if route is film and paint is not None:
                batch.append(item)  # type: ignore[arg-type]
                if len(batch) == batch_size:
                    deliver(film, paint(batch))
                    batch = []
            else:
                deliver(route, [item])
        if paint is not None:
            deliver(film, (paint(batch) if batch else []) + paint.flush())
    return count
