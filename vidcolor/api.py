"""The Python API: colour a film in one call, with the same checks and behaviour as `vidcolor run`."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .film.pipeline import FilmResult, VideoOptions, colour_film, prepare_film
from .runtime.inference import Colorizer
from .utils.choices import DEFAULT_MODEL, DEFAULT_WINDOW, FILM_BITS
from .utils.warn import default_warn


def colorize_video(src: str | Path, dst: str | Path, *, model: str | Colorizer = DEFAULT_MODEL,
                   device: str = "auto", working_size: int | None = None, saturation: float = 1.0,
                   batch_size: int | None = None,
                   temporal: str = "flow", window: int = DEFAULT_WINDOW, crf: int = 18, preset: str = "medium",
                   codec: str | None = None, max_bits: int = FILM_BITS[-1], skip_color: bool = False,
                   overwrite: bool = False, quiet: bool = False,
                   warn: Callable[[str], None] = default_warn,
                   on_frames: Callable[[int], None] | None = None) -> FilmResult:
    """Colour the black-and-white film `src` into `dst` (.mp4, .mkv, .mov or .webm).

    Luma, size, frame timing, sound and metadata are kept. `model` is a shipped model name, a
    .safetensors file, or a ready Colorizer (which `device`, `working_size` and `saturation` then
    leave alone). `saturation` scales the predicted colour: 1 the model's own, 0 grey, 1.3 livelier.
    `batch_size` None: 8 frames at once on CPU, 16 on a GPU. `max_bits` 8 writes a 10-bit film in 8 bits,
    for players (browsers, phones) that cannot play 10-bit H.264.
    The source is checked before the model is loaded, so mistakes are reported at once.
    Raises UserError for anything wrong with the request; the output appears only when complete.
    Warnings (damage skipped, sound re-encoded, a film already in colour) go to `warn`, by
    default to stderr; `quiet` only hides the progress bar. `on_frames(n)` is told of every n frames
    done (progress for a caller with its own display).
    """
    options = VideoOptions(batch_size=batch_size, temporal=temporal, window=window, crf=crf, preset=preset,
                           codec=codec, max_bits=max_bits, skip_color=skip_color, overwrite=overwrite, quiet=quiet)
    job = prepare_film(Path(src), Path(dst), options, warn)
    colorizer = _colorizer(model, device, working_size, saturation) if job.needs_model else None
    return colour_film(job, colorizer, warn, on_frames)


def _colorizer(model: str | Colorizer, device: str, working_size: int | None, saturation: float) -> Colorizer:
    return model if isinstance(model, Colorizer) else Colorizer.load(model, device, working_size, saturation)
