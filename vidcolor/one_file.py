"""Colouring one file, photo or film: the one place that tells which (by its name), with the same checks and
options whoever asks: vidcolor.api (and so the command line), the batch workers and Ray tasks, the web server."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .film.options import FilmResult, VideoOptions, prepare_film
from .film.pipeline import colour_film
from .photo.colorize import check_photo_job, colour_photo
from .runtime.inference import Colorizer
from .utils.choices import DEFAULT_MODEL, DEFAULT_WINDOW, FILM_BITS
from .utils.errors import UserError
from .utils.paths import is_image
from .utils.warn import default_warn

Model = str | Colorizer | Callable[[], Colorizer]  # a name or file, a loaded one, or a loader called only if needed


def colorize_file(src: Path, dst: Path, options: VideoOptions, model: Callable[[], Colorizer],
                  warn: Callable[[str], None] = default_warn,
                  on_frames: Callable[[int], None] | None = None) -> FilmResult | Path:
    """Colour the photo or film `src` into `dst`: a photo by its extension, anything else as a film. Everything
    is checked before `model()` is called, and it is called only if the file needs it (not for a colour film
    kept with `skip_color`). Returns the film's FilmResult, or the photo's output path."""
    if is_image(src):
        check_photo_job(src, dst, options.overwrite)
        colour_photo(model(), src, dst, options.overwrite, options.skip_color, warn)
        return dst
    job = prepare_film(src, dst, options, warn)
    return colour_film(job, model() if job.needs_model else None, warn, on_frames)


def colorize_photo(src: str | Path, dst: str | Path, *, model: Model = DEFAULT_MODEL, device: str = "auto",
                   working_size: int | None = None, saturation: float = 1.0, skip_color: bool = False,
                   overwrite: bool = False, warn: Callable[[str], None] = default_warn) -> Path:
    """Colour the photo `src` into `dst` (.png, .jpg, .tif, .webp or .bmp), as `vidcolor run` does.

    Pixel size, bit depth (16-bit stays 16-bit where the format holds it), transparency and EXIF/ICC are kept;
    the picture is turned upright by its EXIF orientation. `model` as for `colorize_video`. A photo already in
    colour is coloured again from its lightness, or with `skip_color` left as it is. Raises UserError for
    anything wrong with the request; the output appears only when complete. Returns the output's path.
    """
    src, dst = Path(src), Path(dst)
    if not is_image(src):
        raise UserError(f"{src}: not a photo (colorize_video colours films)")
    options = VideoOptions(skip_color=skip_color, overwrite=overwrite, quiet=True)
    result = colorize_file(src, dst, options, _loader(model, device, working_size, saturation), warn)
    assert isinstance(result, Path)
    return result


def colorize_video(src: str | Path, dst: str | Path, *, model: Model = DEFAULT_MODEL,
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
    src, dst = Path(src), Path(dst)
    options = VideoOptions(batch_size=batch_size, temporal=temporal, window=window, crf=crf, preset=preset,
                           codec=codec, max_bits=max_bits, skip_color=skip_color, overwrite=overwrite, quiet=quiet)
    job = prepare_film(src, dst, options, warn)  # a photo is refused here, before colorize_file would take it
    return colour_film(job, _loader(model, device, working_size, saturation)() if job.needs_model else None, warn,
                       on_frames)


def _loader(model: Model, device: str, working_size: int | None, saturation: float) -> Callable[[], Colorizer]:
    if isinstance(model, Colorizer):
        return lambda: model
    if callable(model):
        return model
    return lambda: Colorizer.load(model, device, working_size, saturation)
