"""A film job: the options of `vidcolor run` for films, every check made before any work, and what a
finished run reports."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..utils.atomic import check_not_a_folder, check_not_the_input, check_writable
from ..utils.choices import CONTAINERS, CRF_MAX, DEFAULT_WINDOW, FILM_BITS, MAX_WINDOW, PRESETS, TEMPORAL_MODES
from ..utils.errors import UserError
from ..utils.in_color import already_in_color
from ..utils.paths import is_image
from ..utils.warn import default_warn
from .encoder import EncoderSettings, check_encoder
from .probe import Source, probe
from .told import FilmTold

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
    kept: bool = False  # already in colour and --skip-color: its frames were copied, not coloured

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        if self.kept:
            return f"{self.frames} frames kept as they were (already in colour) -> {self.output}"
        return f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps) -> {self.output}"


@dataclass(frozen=True)
class FilmJob:
    """A checked request: the source has been probed and the output may be written."""
    source: Source
    dst: Path
    options: VideoOptions
    told: FilmTold | None = None  # hints, keyframes and reference (film.told), made ready

    @property
    def needs_model(self) -> bool:
        return not (self.source.color and self.options.skip_color)


def prepare_film(src: Path, dst: Path, options: VideoOptions, warn: Callable[[str], None] = default_warn) -> FilmJob:
    """Check everything that can be checked before any work: paths, options, the source itself."""
    if is_image(src):  # FFmpeg would read it as a film of one frame
        raise UserError(f"{src}: a photo, not a film (`vidcolor run` colours photos into photos)")
    if is_image(dst):  # the input is what is wrong: its name does not say photo
        raise UserError(f"{src}: not a photo by its name (.jpg, .png, .tif, .webp, ...): it cannot become {dst.name}")
    check_not_a_folder(dst, "the film's output file name", f"{src.stem}_color.mp4")  # said before its missing extension
    if dst.suffix.lower() not in CONTAINERS:
        raise UserError(f"{dst}: the output must end in {', '.join(CONTAINERS)}")
    check_not_the_input(src, dst)
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
    if source.color:
        warn(already_in_color("film", options.skip_color))
    return FilmJob(source, dst, options)
