"""`vidcolor run` on films: a streaming decode -> colour -> encode pipeline.

Three stages joined by small bounded queues, so memory stays flat however long the film is:
a thread demuxes and decodes, the main thread colours batches of frames (the model itself runs
in worker threads, a few batches at once), and a thread encodes and muxes. Nothing touches the
disk but the output, which is written under a hidden temporary name and renamed only once complete.
"""
from __future__ import annotations

import contextlib
import ctypes
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import av
import numpy as np
import torch
from av.stream import Stream
from tqdm import tqdm

from ..runtime.inference import Colorizer, FilmChroma
from ..runtime.temporal import TemporalSmoother, make_smoother
from ..utils.atomic import check_writable, written_atomically
from ..utils.choices import CONTAINERS, CRF_MAX, DEFAULT_WINDOW, FILM_BITS, MAX_WINDOW, PRESETS, TEMPORAL_MODES
from ..utils.errors import UserError
from ..utils.in_colour import already_in_colour
from ..utils.paths import is_image
from ..utils.warn import default_warn
from .streams import (
    EncoderSettings,
    Incidents,
    OutputWriter,
    Payload,
    Route,
    Source,
    SourceReader,
    check_encoder,
    open_input,
    open_output,
    plan_routes,
    probe,
)
from .yuv import assemble, format_bits, normalise, planes

if TYPE_CHECKING:
    from typing_extensions import Self


CPU_BATCH, GPU_BATCH = 8, 16  # film frames coloured at once unless asked otherwise


@dataclass(frozen=True)
class VideoOptions:
    """How to colour and write a film (the `vidcolor run` options)."""
    batch_size: int | None = None  # None: the device's default (`batch_for`)
    temporal: str = "flow"  # see vidcolor.runtime.temporal
    window: int = DEFAULT_WINDOW  # frames of temporal look-ahead
    crf: int = 18
    preset: str = "medium"
    codec: str | None = None  # None: the container's usual one (H.264, or VP9 for .webm)
    skip_color: bool = False
    overwrite: bool = False
    quiet: bool = False
    max_bits: int = FILM_BITS[-1]  # 8: 8-bit video whatever the film's depth, for players without 10-bit H.264

    def encoder_for(self, suffix: str) -> EncoderSettings:
        """How a film with this output extension is encoded."""
        return EncoderSettings(self.codec or CONTAINERS[suffix][1], self.crf, self.preset, self.max_bits)

    def batch_for(self, device: torch.device | None) -> int:
        """Frames coloured at once on `device`: the size asked for, else a GPU's bigger default."""
        return self.batch_size or (GPU_BATCH if device is not None and device.type != "cpu" else CPU_BATCH)


@dataclass(frozen=True)
class FilmResult:
    """What a finished run did, for the closing line."""
    output: Path
    frames: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps) -> {self.output}"


@dataclass(frozen=True)
class FilmJob:
    """A checked request: the source has been probed and the output may be written."""
    source: Source
    dst: Path
    options: VideoOptions

    @property
    def needs_model(self) -> bool:
        return not (self.source.colour and self.options.skip_color)


def prepare_film(src: Path, dst: Path, options: VideoOptions, warn: Callable[[str], None] = default_warn) -> FilmJob:
    """Check everything that can be checked before any work: paths, options, the source itself."""
    if is_image(src):  # FFmpeg would read it as a film of one frame
        raise UserError(f"{src}: a photo, not a film (`vidcolor run` colours photos into photos)")
    if dst.suffix.lower() not in CONTAINERS:
        raise UserError(f"{dst}: the output must end in {', '.join(CONTAINERS)}")
    if src.exists() and (src.resolve() == dst.resolve() or (dst.exists() and dst.samefile(src))):
        raise UserError(f"{dst}: output would overwrite the input")
    if options.temporal not in TEMPORAL_MODES:
        raise UserError(f"unknown temporal mode {options.temporal!r} (choose from {', '.join(TEMPORAL_MODES)})")
    if options.batch_size is not None and options.batch_size < 1:
        raise UserError("the batch size must be at least 1")
    if not 0 <= options.window <= MAX_WINDOW:
        raise UserError(f"the look-ahead window must be 0 to {MAX_WINDOW} frames")
    if options.max_bits not in FILM_BITS:
        raise UserError(f"the film bit depth must be one of {', '.join(map(str, FILM_BITS))}")
    codec = options.encoder_for(dst.suffix.lower()).codec
    if codec not in CRF_MAX:
        raise UserError(f"unknown video codec {codec!r} (choose from {', '.join(CRF_MAX)})")
    crf_max = CRF_MAX[codec]
    if crf_max is None and dst.suffix.lower() != ".mkv":
        raise UserError(f"{codec} (lossless) goes into .mkv files")
    if crf_max is not None and not 0 <= options.crf <= crf_max:
        raise UserError(f"--crf for {codec} must be between 0 and {crf_max}")
    if options.preset not in PRESETS:
        raise UserError(f"unknown preset {options.preset!r} (choose from {', '.join(PRESETS)})")
    check_encoder(dst.suffix.lower(), codec)
    check_writable(dst, options.overwrite)
    source = probe(src)
    if source.colour:
        warn(already_in_colour("film", options.skip_color))
    return FilmJob(source, dst, options)


MAX_MODEL_WORKERS = 4  # batches the model runs at once on CPU, each with an equal share of torch's threads


def model_workers(device: torch.device) -> tuple[int, int]:
    """(batches run at once, torch threads for each) on `device`.

    On CPU, batches side by side with one thread each beat one batch on all threads: ~15% faster
    alone, and far better when decoding and encoding want a core too, since single-threaded work
    never has torch's spin-waiting OpenMP threads fighting over cores. Past 4 threads, 4 batches
    (or fewer: the count must divide the threads) share them out. A GPU takes one batch at a time
    (the CPU prepares and finishes the others meanwhile).
    """
    threads = torch.get_num_threads()
    if device.type != "cpu":
        return 1, threads
    workers = next(n for n in range(min(threads, MAX_MODEL_WORKERS), 0, -1) if threads % n == 0)
    return workers, threads // workers


@contextlib.contextmanager
def model_pool(device: torch.device) -> Iterator[tuple[ThreadPoolExecutor, int]]:
    """Worker threads to run the model in, and how many (`model_workers`). torch's thread count is each
    worker's share meanwhile, in every thread (torch has one count for the process); the caller's is
    put back afterwards."""
    workers, threads = model_workers(device)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    pool = ThreadPoolExecutor(workers, thread_name_prefix="vidcolor-model",
                              initializer=torch.set_num_threads, initargs=(threads,))
    try:
        yield pool, workers
    finally:
        try:
            pool.shutdown(cancel_futures=True)
        finally:
            torch.set_num_threads(before)


class Painter:
    """Colours batches of decoded frames: each frame's Y plane is kept, only U/V come from the model.

    Batches must come in film order: the temporal smoother carries colour from frame to frame.
    The model runs in worker threads (`model_pool`), so a call returns the frames of the batches
    that are done, in film order: fewer than it was given at first (and while the smoother's
    look-ahead holds frames back); `flush` returns the rest once the film has ended. Use it in a
    `with` block, which starts and stops the workers. Only the workers touch the model's device:
    frames are prepared and finished on the CPU.
    """

    def __init__(self, colorizer: Colorizer, smoother: TemporalSmoother, source: Source,
                 encoder: EncoderSettings) -> None:
        self.colorizer = colorizer
        self.width, self.height = source.width, source.height
        self.colorimetry = source.colorimetry
        self.fmt = source.coded_format(encoder)  # what the encoder is given: the Y plane goes through untouched
        self.bits = format_bits(self.fmt)
        self.chroma: FilmChroma[tuple[av.VideoFrame, np.ndarray]] = FilmChroma(
            colorizer, smoother, subsample=2 if self.fmt.startswith("yuv420p") else 1)
        self.workers = 0  # batches in the model at once, set by `with`
        self._running: deque[tuple[Future[tuple[torch.Tensor, torch.Tensor]], list[av.VideoFrame], np.ndarray,
                                   torch.Tensor]] = deque()
        self._stack = contextlib.ExitStack()
        self._pool: ThreadPoolExecutor | None = None
        # oneDNN's own layout, ~15% faster convolutions on CPU (in place; the weights' values are unchanged)
        colorizer.model.to(memory_format=torch.channels_last)

    def __enter__(self) -> Self:
        self._pool, self.workers = self._stack.enter_context(model_pool(self.colorizer.device))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        self._running.clear()
        self._pool = None

    def __call__(self, frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
        assert self._pool is not None, "use the Painter in a with block"
        y, L = self.prepare(frames)
        self._running.append((self._pool.submit(self.colorizer.predict_low, L), frames, y, L))
        return self._finish_running(keep=self.workers)  # the workers stay busy while the oldest is finished

    def flush(self) -> list[av.VideoFrame]:
        return self._finish_running(keep=0) + self._assemble(*self.chroma.flush())

    def _finish_running(self, keep: int) -> list[av.VideoFrame]:
        """Finish the oldest batches in the model, waiting for it where needed, until `keep` are left."""
        done: list[av.VideoFrame] = []
        while len(self._running) > keep:
            prediction, *batch = self._running.popleft()
            done += self.finish(*batch, prediction.result())
        return done

    def prepare(self, frames: list[av.VideoFrame]) -> tuple[np.ndarray, torch.Tensor]:
        """A batch's (B, H, W) Y planes, kept as they are, and the (B, 1, H, W) L the model sees."""
        y = np.stack([planes(normalise(f, self.fmt, self.width, self.height))[0] for f in frames])
        return y, self.colorimetry.luma_to_l(y)

    def finish(self, frames: list[av.VideoFrame], y: np.ndarray, L: torch.Tensor,
               prediction: tuple[torch.Tensor, torch.Tensor]) -> list[av.VideoFrame]:
        """The model's `prediction` (`Colorizer.predict_low(L)`) for the next batch -> the frames now done."""
        return self._assemble(*self.chroma.push_predicted(L, *prediction, list(zip(frames, y))))

    def _assemble(self, tags: list[tuple[av.VideoFrame, np.ndarray]], L: torch.Tensor,
                  ab: torch.Tensor) -> list[av.VideoFrame]:
        lum, ab = L[:, 0].cpu().numpy(), ab.cpu().numpy()
        out = []
        for i, (frame, y) in enumerate(tags):
            uv = self.colorimetry.chroma(lum[i], ab[i], self.bits)
            out.append(assemble(y, uv[..., 0], uv[..., 1], frame, self.fmt, self.colorimetry))
        return out


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


def colour_film(job: FilmJob, colorizer: Colorizer | None, warn: Callable[[str], None] = default_warn,
                on_frames: Callable[[int], None] | None = None) -> FilmResult:
    """Run the pipeline for a prepared job; the output appears only if everything went through.

    `on_frames(n)` hears of every n film frames done, for progress shown elsewhere than the bar.
    """
    source, options = job.source, job.options
    suffix = job.dst.suffix.lower()
    encoder = options.encoder_for(suffix)
    if job.needs_model and colorizer is None:
        raise ValueError("this film needs a colorizer to colour it")
    paint = (Painter(colorizer, make_smoother(options.temporal, options.window), source, encoder)
             if job.needs_model else None)
    incidents = Incidents(warn)
    check_writable(job.dst, options.overwrite)
    started = time.perf_counter()
    try:
        with written_atomically(job.dst, replace=options.overwrite) as tmp:
            with open_input(source.path) as inp, open_output(tmp, suffix) as out:
                routes = plan_routes(inp, out, source, suffix, encoder, keep_colours=paint is None,
                                     incidents=incidents)
                reader = SourceReader.for_routes(inp, routes, incidents)
                frames = run_stages(reader, OutputWriter(out, routes, incidents), routes, paint, source, options,
                                    on_frames)
            if frames == 0:
                raise UserError(f"{source.path}: no video frame could be decoded")
    except OSError as exc:  # disk full, folder gone, ...
        raise UserError(f"{job.dst}: could not write the film ({exc.strerror or exc})") from None
    incidents.summarise()
    if reader.film_seconds < 0.9 * source.seconds:  # by time, not frame count: variable frame rates differ
        warn(f"only {reader.film_seconds:.1f} s of the {source.seconds:.1f} s the file announces could be read: "
             "it is probably damaged or cut short")
    return FilmResult(job.dst, frames, time.perf_counter() - started)


class _KeepFreedMemory:
    """While films are coloured, glibc keeps the big blocks each batch frees, for the next batch to reuse.

    By default it hands every block over 128 KiB back to the OS on free, so each batch's tensors
    fault their pages in afresh: on CPU that is ~20% of the model's time. When no film is being
    coloured any more the defaults are put back and the memory returned. Elsewhere than glibc: nothing.
    """

    _M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
    _DEFAULT, _KEEP = 128 * 1024, 1 << 30

    def __init__(self) -> None:
        libc = ctypes.CDLL(None) if sys.platform.startswith("linux") else None
        self._mallopt = getattr(libc, "mallopt", None)
        self._malloc_trim = getattr(libc, "malloc_trim", None)
        self._lock = threading.Lock()
        self._films = 0

    def __enter__(self) -> None:
        with self._lock:
            if self._films == 0:
                self._thresholds(self._KEEP)
            self._films += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._films -= 1
            if self._films == 0:
                self._thresholds(self._DEFAULT)
                if self._malloc_trim is not None:
                    self._malloc_trim(0)

    def _thresholds(self, size: int) -> None:
        if self._mallopt is not None:
            self._mallopt(self._M_MMAP_THRESHOLD, size)
            self._mallopt(self._M_TRIM_THRESHOLD, size)


keep_freed_memory = _KeepFreedMemory()  # one for the process: films coloured in several threads share it


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
    decoded, coloured = _Pipe(size, abort), _Pipe(size, abort)
    by_index = {r.source.index: r for r in routes}

    def read() -> None:
        for stream, item in reader:
            decoded.put((by_index[stream.index], item))
        decoded.close()

    stages = [_Stage("vidcolor-decode", read, abort), _Stage("vidcolor-encode", lambda: writer.write(coloured), abort)]
    frames = 0
    with keep_freed_memory:
        for stage in stages:
            stage.start()
        try:
            frames = _colour(decoded, coloured, routes[0], paint, source, batch_size, options.quiet, on_frames)
            coloured.close()
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


def _colour(decoded: _Pipe, coloured: _Pipe, film: Route, paint: Painter | None, source: Source,
            batch_size: int, quiet: bool, on_frames: Callable[[int], None] | None) -> int:
    """The main thread's stage: film frames go through the model in batches, the rest passes on."""
    batch: list[av.VideoFrame] = []
    count = 0
    with (tqdm(total=source.frames, disable=quiet, unit="frame", desc=source.path.name,
               dynamic_ncols=True, leave=False) as progress,
          paint if paint is not None else contextlib.nullcontext()):
        def deliver(route: Route, items: list[Payload]) -> None:
            nonlocal count
            for item in items:
                coloured.put((route, item))
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
