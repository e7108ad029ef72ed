"""Colouring one file, photo or film: the one place that tells which (by its name), with the same checks and
options whoever asks: vidcolor.api (and so the command line), the batch workers and Ray tasks, the web server."""
from __future__ import annotations

import multiprocessing
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from .film.options import FilmResult, VideoOptions, prepare_film
from .film.pipeline import color_film
from .film.told import Keyframe, film_told
from .hints.file import Hint, parse_hints, read_hints
from .photo.colorize import PhotoTold, check_photo_job, color_photo
from .photo.read import read_image
from .photo.reference import has_color, reference_palette
from .runtime.inference import Colorizer
from .utils.atomic import check_not_the_input
from .utils.choices import DEFAULT_MODEL, DEFAULT_WINDOW, FILM_BITS, MAX_FRAME
from .utils.errors import UserError, shown
from .utils.paths import is_image
from .utils.warn import default_warn

WORKER_NAME = "vidcolor-worker"  # the start of a worker process's name (vidcolor.batch.workers)
UNGUARDED = 4  # the exit code of a worker whose script, imported again, called the API (guard.HUNG is 3)
UNGUARDED_SCRIPT = ("a script that colours a folder, or a film with split or ray, must keep that work under "
                    "`if __name__ == \"__main__\":` (each worker imports the script, and without it ran it again)")
Model = str | Path | Colorizer | Callable[[], Colorizer]  # a name or file, a loaded one, or a loader called if needed
Hints = str | Path | list[dict[str, Any]]  # a hints file, or its entries


@dataclass(frozen=True)
class Guidance:
    """What the user says of a file's colours, as given: `hints` (a hints file or its entries), `keyframes`
    (frame number, a hand-coloured picture of it) and a `reference` photo whose palette steers the colours."""

    hints: Hints | None = None
    keyframes: tuple[tuple[int, Path], ...] = ()
    reference: Path | None = None

    @staticmethod
    def check_types(hints: object, keyframes: object, reference: object) -> None:
        """Guidance of the wrong kind from a script, in one line (a dict of hints failed deep down, in a
        traceback)."""
        if hints is not None and not isinstance(hints, (str, Path, list)):
            raise UserError("hints: give a hints file, or a list of its entries ({'x': ..., 'y': ..., 'color': ...})")
        if keyframes is not None and not isinstance(keyframes, Mapping):
            raise UserError("keyframes: give frame numbers and their pictures ({0: 'frame0.png', ...})")
        if reference is not None and not _is_path(reference):
            raise UserError("reference: give a colour photo's file")

    def __bool__(self) -> bool:
        return self.hints is not None or bool(self.keyframes) or self.reference is not None

    def read_hints(self) -> tuple[list[Hint], str]:
        """The hints and the name their messages give. Raises UserError for a malformed file or entry."""
        if self.hints is None:
            return [], "hints"
        if isinstance(self.hints, list):
            return parse_hints(self.hints, "hints"), "hints"
        return read_hints(Path(self.hints)), str(self.hints)

    def palette(self) -> torch.Tensor | None:
        return reference_palette(Path(self.reference)) if self.reference is not None else None

    def check_not_overwritten(self, dst: Path) -> None:
        """Refuse an output that is one of the files telling the colours: they are inputs too."""
        hints = [("hints file", Path(self.hints))] if isinstance(self.hints, (str, Path)) else []
        keyframes = [("keyframe", path) for _, path in self.keyframes]
        reference = [("reference photo", self.reference)] if self.reference is not None else []
        for what, path in (*hints, *keyframes, *reference):
            check_not_the_input(path, dst, what)


def colorize_file(src: Path, dst: Path, options: VideoOptions, model: Callable[[], Colorizer],
                  warn: Callable[[str], None] = default_warn, guidance: Guidance = Guidance(),
                  on_frames: Callable[[int], None] | None = None) -> FilmResult | Path:
    """Colour the photo or film `src` into `dst`: a photo by its extension, anything else as a film. Everything
    is checked before `model()` is called, and it is called only if the file needs it (not for a colour film
    kept with `skip_color`); `guidance` needs a hint model; `on_frames(n)` hears of a film's frames as they are
    done. Returns the film's FilmResult, or the photo's path."""
    if is_image(src):
        check_photo_job(src, dst, options.overwrite)
        guidance.check_not_overwritten(dst)
        told = PhotoTold(*guidance.read_hints(), guidance.palette()) if guidance else None
        color_photo(lambda: _guided(model(), guidance), src, dst, options.overwrite, options.skip_color, warn, told,
                    options.quiet)
        return dst
    return _color_film(src, dst, options, model, warn, on_frames, guidance)


def _color_film(src: Path, dst: Path, options: VideoOptions, model: Callable[[], Colorizer],
                 warn: Callable[[str], None], on_frames: Callable[[int], None] | None,
                 guidance: Guidance) -> FilmResult:
    job = prepare_film(src, dst, options, warn)  # a photo is refused here
    guidance.check_not_overwritten(dst)
    if not guidance:
        return color_film(job, model() if job.needs_model else None, warn, on_frames)
    (hints, name), palette = guidance.read_hints(), guidance.palette()  # checked even when not used
    keyframes = [Keyframe(n, read_image(Path(path)), str(path)) for n, path in guidance.keyframes]
    if not job.needs_model:
        warn(f"{src.name} is kept as it is: the colours it was told are not used")
        return color_film(job, None, warn, on_frames)
    colorizer = _guided(model(), guidance)  # before the first pass over the film, which may take a while
    told = film_told(job.source, hints, name, keyframes, palette)
    for key in keyframes:  # taken, yet telling nothing a user would want
        if not has_color(key.rgb):
            warn(f"{key.name}: the keyframe holds no colour, so the shot it is in comes out black and white "
                 "(paint it, or leave it out)")
    return color_film(replace(job, told=told), colorizer, warn, on_frames)


def _guided(colorizer: Colorizer, guidance: Guidance) -> Colorizer:
    return colorizer.require_hints() if guidance else colorizer


def colorize_photo(src: str | Path, dst: str | Path, *, model: Model = DEFAULT_MODEL, device: str = "auto",
                   working_size: int | None = None, saturation: float = 1.0, skip_color: bool = False,
                   overwrite: bool = False, quiet: bool = False, hints: Hints | None = None,
                   reference: str | Path | None = None, warn: Callable[[str], None] = default_warn) -> Path:
    """Colour the photo `src` into `dst` (.png, .jpg, .tif, .webp or .bmp), as `vidcolor run` does.

    Pixel size, bit depth (16-bit stays 16-bit where the format holds it), transparency and EXIF/ICC are kept;
    the picture is turned upright by its EXIF orientation. `model` as for `colorize_video`. A photo already in
    colour is coloured again from its lightness, or with `skip_color` left as it is. Raises UserError for
    anything wrong with the request; the output appears only when complete. Returns the output's path. `quiet`
    hides the progress bar a large photo shows.

    `hints`: a hints file or its entries (`[{"x": 120, "y": 44, "color": "#a03020"}]`, pixels of the upright
    photo) and `reference`: a colour photo whose palette to follow. Either takes a hint model (the default
    `fusion` is one).
    """
    check_not_in_a_worker()
    check_arguments(locals())
    Guidance.check_types(hints, None, reference)
    src, dst = Path(src), Path(dst)
    if not is_image(src):
        raise UserError(f"{src}: not a photo (colorize_video colours films)")
    options = VideoOptions(skip_color=skip_color, overwrite=overwrite, quiet=quiet)
    guidance = Guidance(hints, reference=Path(reference) if reference is not None else None)
    result = colorize_file(src, dst, options, _loader(model, device, working_size, saturation), warn,
                           guidance=guidance)
    assert isinstance(result, Path)
    return result


def colorize_video(src: str | Path, dst: str | Path, *, model: Model = DEFAULT_MODEL,
                   device: str = "auto", working_size: int | None = None, saturation: float = 1.0,
                   batch_size: int | None = None,
                   temporal: str = "flow", window: int = DEFAULT_WINDOW, crf: int = 18, preset: str = "medium",
                   codec: str | None = None, max_bits: int = FILM_BITS[-1], skip_color: bool = False,
                   overwrite: bool = False, quiet: bool = False, hints: Hints | None = None,
                   keyframes: Mapping[int, str | Path] | None = None, reference: str | Path | None = None,
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
    default to stderr; `quiet` only hides the progress bar. `on_frames(n)` is called as each batch of
    frames is done, `n` the frames of that batch, not a running total (progress for a caller with its own display).
    `hints` (a hints file or its entries, each on a `frame` or at a `time`), `keyframes` (frame number ->
    a picture of that frame coloured by hand) and `reference` (a colour photo whose palette to follow) tell the
    colours: hints and keyframes are carried along the motion through their shot. They take a hint model
    (the default `fusion` is one).
    """
    check_not_in_a_worker()
    check_arguments(locals())
    Guidance.check_types(hints, keyframes, reference)
    src, dst = Path(src), Path(dst)
    options = VideoOptions(batch_size=batch_size, temporal=temporal, window=window, crf=crf, preset=preset,
                           codec=codec, max_bits=max_bits, skip_color=skip_color, overwrite=overwrite, quiet=quiet)
    guidance = Guidance(hints, _frames_and_pictures(keyframes or {}),
                        Path(reference) if reference is not None else None)
    return _color_film(src, dst, options, _loader(model, device, working_size, saturation), warn, on_frames,
                        guidance)


def _frames_and_pictures(keyframes: Mapping[int, str | Path]) -> tuple[tuple[int, Path], ...]:
    for n, picture in keyframes.items():
        if not is_whole(n) or not 0 <= n < MAX_FRAME:
            raise UserError(f"keyframes: {shown(n)} is not a frame number (0 is the first)")
        if not _is_path(picture):
            raise UserError(f"keyframes: {n}: {shown(picture)} is not a picture's file")
    return tuple((int(n), Path(p)) for n, p in sorted(keyframes.items()))


def _loader(model: Model, device: str, working_size: int | None, saturation: float) -> Callable[[], Colorizer]:
    if isinstance(model, Colorizer):
        return lambda: model
    if callable(model):
        return lambda: _loaded(model())
    return lambda: Colorizer.load(model, device, working_size, saturation)


def _loaded(colorizer: object) -> Colorizer:
    """What a script's loader gave, if a Colorizer (None coloured nothing and wrote the photo back grey)."""
    if not isinstance(colorizer, Colorizer):
        raise UserError(f"model: its loader gave {shown(colorizer)}, not a Colorizer")
    return colorizer


def check_not_in_a_worker() -> None:
    """A script calling the API from a worker process is the calling script, imported again by the worker it
    started: it lacks the `__main__` guard. The worker ends at once, and its driver says why, once (each worker
    failed on the output folder's lock, in a traceback that blamed "another vidcolor run")."""
    if multiprocessing.current_process().name.startswith(WORKER_NAME):
        raise SystemExit(UNGUARDED)


def is_whole(value: object) -> bool:
    """An integer of any kind but bool (True is 1 to Python, never a count a user meant)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)  # numpy's integers too


Kind = tuple[Callable[[object], bool], str]  # a test of an argument, and what it says the argument must be


def _kind(test: Callable[[object], bool], said: str, none: bool = False) -> Kind:
    """An argument's kind; with `none`, None is one too (an option left to vidcolor)."""
    return (lambda value: (none and value is None) or test(value)), said + (", or None" if none else "")


def _is_path(value: object) -> bool:
    return isinstance(value, (str, Path))


def _is_globs(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, (list, tuple, set, frozenset))
                                      and all(isinstance(glob, str) for glob in value))


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_model(value: object) -> bool:
    return _is_path(value) or isinstance(value, Colorizer) or (callable(value) and not isinstance(value, type))


_PATH = _kind(_is_path, "a file or folder's path")
_WHOLE = _kind(is_whole, "a whole number")
_FLAG = _kind(lambda value: isinstance(value, bool), "True or False")
_KINDS: dict[str, Kind | None] = {  # each argument of the API's functions, by name; None: checked on its own
    "src": _PATH, "dst": _PATH, "model": _kind(_is_model, "a model's name or file, or a Colorizer"),
    "device": _kind(_is_text, "a string"), "temporal": _kind(_is_text, "a string"),
    "preset": _kind(_is_text, "a string"), "codec": _kind(_is_text, "a string", none=True),
    "ray": _kind(_is_text, "a string", none=True), "working_size": _kind(is_whole, "a whole number", none=True),
    "batch_size": _kind(is_whole, "a whole number", none=True), "window": _WHOLE, "crf": _WHOLE, "max_bits": _WHOLE,
    "saturation": _kind(_is_number, "a number"), "skip_color": _FLAG, "overwrite": _FLAG, "force": _FLAG,
    "verbose": _FLAG, "quiet": _FLAG, "include": _kind(_is_globs, "a glob, or a list of globs"),
    "exclude": _kind(_is_globs, "a glob, or a list of globs"), "warn": _kind(callable, "a function"),
    "on_frames": _kind(callable, "a function", none=True),
    "hints": None, "keyframes": None, "reference": None, "jobs": None, "split": None,  # messages of their own
}


def check_arguments(given: dict[str, object]) -> None:
    """Arguments of the wrong kind from a script (`given`: a function's arguments by name), in one line as the
    command line's parser says it: deeper down they failed in a traceback (`saturation="1.3"`, `src=None`), or
    meant something else (`overwrite="no"` is true, and replaced the output)."""
    for name, value in given.items():
        kind = _KINDS[name]  # an argument missing from the table is a KeyError: every one is in it
        if kind is not None and not kind[0](value):
            raise UserError(f"{name}: {shown(value)} is not {kind[1]}")
