"""`vidcolor run` on films: a streaming decode -> colour -> encode pipeline.

Three stages joined by small bounded queues, so memory stays flat however long the film is:
a thread demuxes and decodes, the main thread colours batches of frames (the model itself runs
in worker threads, a few batches at once), and a thread encodes and muxes. Nothing touches the
disk but the output, which is written under a hidden temporary name and renamed only once complete.
The parts: film.options (the request and its checks), film.painter (the model's threads), film.stages (the
threads and queues), film.memory (keeping freed memory for the next batch).
"""
from __future__ import annotations

import time
from collections.abc import Callable

import av

from ..runtime.inference import Colorizer
from ..runtime.temporal import make_smoother
from ..utils.atomic import check_writable, written_atomically
from ..utils.errors import UserError
from ..utils.warn import default_warn
from .options import FilmJob, FilmResult
from .painter import Painter
from .reader import Incidents, nothing_decoded, open_input, reason, warn_if_cut_short
from .stages import run_stages
from .streams import plan_routes, route_reader
from .writer import OutputWriter, cannot_write, open_output


def color_film(job: FilmJob, colorizer: Colorizer | None, warn: Callable[[str], None] = default_warn,
                on_frames: Callable[[int], None] | None = None) -> FilmResult:
    """Run the pipeline for a prepared job; the output appears only if everything went through.

    `on_frames(n)` hears of every n film frames done, for progress shown elsewhere than the bar.
    """
    source, options = job.source, job.options
    suffix = job.dst.suffix.lower()
    encoder = options.encoder_for(suffix)
    if job.needs_model and colorizer is None:
        raise ValueError("this film needs a colorizer to colour it")
    paint = (Painter(colorizer, make_smoother(options.temporal, options.window), source, encoder, job.told)
             if job.needs_model else None)
    incidents = Incidents(warn)
    check_writable(job.dst, options.overwrite)
    started = time.perf_counter()
    try:
        with written_atomically(job.dst, replace=options.overwrite) as tmp:
            with open_input(source.path) as inp, open_output(tmp, suffix) as out:
                routes = plan_routes(inp, out, source, suffix, encoder, keep_colors=paint is None,
                                     incidents=incidents)
                reader = route_reader(inp, routes, incidents)
                frames = run_stages(reader, OutputWriter(out, routes, incidents), routes, paint, source, options,
                                    on_frames)
            if frames == 0:
                raise nothing_decoded(source.path)
    except OSError as exc:  # disk full, folder gone, ...
        raise cannot_write(job.dst, exc) from None
    except av.error.FFmpegError as exc:  # damage no stage reads past (a frame no scaler takes, say): a line, no file
        raise UserError(f"{source.path}: the film is damaged past what could be coloured ({reason(exc)})") from None
    incidents.summarise()
    warn_if_cut_short(reader.film_seconds, reader.file_seconds, (source.seconds, source.seconds_span_streams), warn)
    return FilmResult(job.dst, frames, time.perf_counter() - started, kept=not job.needs_model)
