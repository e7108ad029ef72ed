"""Painting batches of film frames: the model in worker threads, a few batches at once, each frame's own Y
plane kept and only U/V from the model."""
from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import av
import numpy as np
import torch

from ..runtime.inference import Colorizer, FilmChroma
from ..runtime.temporal import TemporalSmoother
from .encoder import EncoderSettings
from .probe import Source
from .told import FilmTold
from .yuv import assemble, format_bits, normalise, planes

if TYPE_CHECKING:
    from typing_extensions import Self

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
                 encoder: EncoderSettings, told: FilmTold | None = None) -> None:
        self.colorizer = colorizer
        self.told, self.frames_in = told, 0  # what the user says of each frame, by its number
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
        told = [self.told.at(self.frames_in + i) for i in range(len(frames))] if self.told else None
        self.frames_in += len(frames)
        self._running.append((self._pool.submit(self.colorizer.predict_low, L, told), frames, y, L))
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
