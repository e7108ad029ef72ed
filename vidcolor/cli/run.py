"""`vidcolor run`: parse the options, colour through vidcolor.api.colorize, report."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from ..utils.choices import (
    CONTAINERS,
    CRF_MAX,
    DEFAULT_MODEL,
    DEFAULT_WINDOW,
    DEVICES,
    FILM_BITS,
    FILM_OPTIONS,
    MAX_SATURATION,
    MAX_WINDOW,
    PRESETS,
    TEMPORAL_MODES,
    VIDEO_CODECS,
    WORKING_SIZES,
)
from ..utils.errors import UserError
from ..utils.paths import is_image
from .common import (
    MODEL_HELP,
    GivenPath,
    Number,
    check_window_looks_ahead,
    count_or_auto,
    frame_and_picture,
    friendly,
)


@click.command()
@click.argument("src", type=GivenPath())
@click.option("-o", "--output", "dst", required=True, type=GivenPath(), help="Output file or folder.")
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help=MODEL_HELP)
@click.option("--device", default="auto", type=click.Choice(DEVICES), show_default=True,
              help="Where the model runs (auto: a GPU if there is one).")
@click.option("--working-size", type=click.IntRange(*WORKING_SIZES), default=None,
              help="Short side the model works at (default: the model's).")
@click.option("--saturation", type=Number(0.0, MAX_SATURATION), default=1.0, show_default=True,
              help="Scale the predicted colour: 1 the model's own, 0 grey, 1.3 livelier.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Film frames coloured at once  [default: 8 on CPU, 16 on a GPU]")
@click.option("--temporal", default="flow", type=click.Choice(TEMPORAL_MODES), show_default=True,
              help="Keep colours steady over time: along motion (flow), by averaging (ema), or not.")
@click.option("--window", type=click.IntRange(0, MAX_WINDOW), default=DEFAULT_WINDOW, show_default=True,
              help="Frames of look-ahead for the temporal smoothing (0: only the past).")
@click.option("--crf", type=click.IntRange(0, 63), default=18, show_default=True,
              help="Film quality (lower is better and bigger; 0: lossless).")
@click.option("--preset", default="medium", type=click.Choice(PRESETS), show_default=True,
              help="Encoder speed/size trade-off (x264/x265).")
@click.option("--codec", type=click.Choice(VIDEO_CODECS), default=None,
              help="Film video codec (ffv1: lossless, for .mkv masters)  [default: libx264, libvpx-vp9 for .webm]")
@click.option("--max-bits", type=click.Choice([str(b) for b in FILM_BITS]), default=str(FILM_BITS[-1]),
              show_default=True,
              help="Film bit depth: 10 keeps a 10-bit film's depth; 8 for players that cannot play 10-bit H.264.")
@click.option("--skip-color", is_flag=True, help="Leave films and photos that are already in colour as they are.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (in a folder: ones no earlier run wrote).")
@click.option("--include", multiple=True, metavar="GLOB",
              help="Folder: only files whose path inside it matches (repeatable, case ignored), e.g. 'reels/*.mp4'.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Folder: leave out files that match (repeatable).")
@click.option("--force", is_flag=True, help="Folder: colour every file again, even those done before "
              "(files no run of this archive wrote still need --overwrite).")
@click.option("--jobs", default="auto", show_default=True, callback=count_or_auto(1), metavar="N|auto",
              help="Worker processes (auto: one per GPU, else one per 4 CPU cores; at most one per core). With "
                   "--ray: the local runtime's CPUs; a cluster's resources set its own.")
@click.option("--ray", "ray_address", metavar="ADDRESS",
              help="Run the work on a Ray cluster (e.g. auto, or HOST:6379), or on a local Ray runtime (local).")
@click.option("--split", default=None, callback=count_or_auto(2), metavar="auto|N",
              help="Cut long films at keyframes into N pieces coloured side by side (auto: by length and workers).")
@click.option("--hints", type=GivenPath(), metavar="FILE",
              help='Colours you know: a JSON list of {"x": 120, "y": 44, "color": "#a03020"} (films: a "frame" or '
                   '"time" each), carried through the shot. One file only: in a folder, each file\'s hints go in '
                   'FILE.hints.json beside it.')
@click.option("--keyframe", "keyframes", multiple=True, callback=frame_and_picture, metavar="N:PICTURE",
              help="Film: frame N coloured by hand (same size), carried through its shot (repeatable).")
@click.option("--reference", type=GivenPath(), metavar="PHOTO",
              help="A colour photo whose palette to follow.")
@click.option("--verbose", is_flag=True, help="A line for every file as workers start and finish it.")
@click.option("--quiet", is_flag=True, help="No progress bar, and no closing summary or table.")
@click.pass_context
@friendly
def run(ctx: click.Context, src: Path, dst: Path, model: str, device: str, working_size: int | None, saturation: float,
        batch_size: int | None,
        temporal: str, window: int, crf: int, preset: str, codec: str | None, max_bits: str, skip_color: bool,
        overwrite: bool,
        include: tuple[str, ...], exclude: tuple[str, ...], force: bool, jobs: int | str, ray_address: str | None,
        split: int | str | None, hints: Path | None, keyframes: tuple[tuple[int, Path], ...], reference: Path | None,
        verbose: bool, quiet: bool) -> None:
    """Colour a film, a photo, or a whole folder (recursively: photos and films) into OUTPUT."""
    from ..api import FilmResult, Summary, colorize

    _check_options_that_would_do_nothing(ctx, src, dst, codec)
    started = time.perf_counter()
    result = colorize(src, dst, model=model, device=device, working_size=working_size, saturation=saturation,
                      batch_size=batch_size, temporal=temporal, window=window, crf=crf, preset=preset, codec=codec,
                      max_bits=int(max_bits), skip_color=skip_color, overwrite=overwrite, include=include,
                      exclude=exclude, force=force, jobs=None if jobs == "auto" else int(jobs), ray=ray_address,
                      split=split, verbose=verbose, quiet=quiet, hints=hints, keyframes=dict(keyframes) or None,
                      reference=reference)
    if isinstance(result, Summary):
        if not quiet and src.is_dir():
            click.echo(result.table(), err=True)
        elif not quiet and not result.failures:
            click.echo(f"{result.done.frames} frames in {result.wall:.1f} s -> {dst}", err=True)
        if result.failures:
            sys.exit(1)
    elif isinstance(result, FilmResult) and not quiet:
        click.echo(result.summary(), err=True)
    elif not quiet:  # a photo: what a film's closing line says, but frames
        click.echo(f"1 photo in {time.perf_counter() - started:.1f} s -> {result}", err=True)


PRESET_CODECS = ("libx264", "libx265")  # the encoders with a --preset


def _check_options_that_would_do_nothing(ctx: click.Context, src: Path, dst: Path, codec: str | None) -> None:
    """Options the user gave that this run would ignore: a --preset for an encoder without presets, a quality for a
    lossless one, or a look-ahead for no smoothing, is refused in one line before any work (film options given
    with a photo are named in the API's warning)."""
    if src.is_file() and is_image(src):
        return
    given = [name for name in FILM_OPTIONS if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE]
    encoder = codec if codec or src.is_dir() else CONTAINERS.get(dst.suffix.lower(), ("", ""))[1]
    if "preset" in given and encoder and encoder not in PRESET_CODECS:
        raise UserError(f"--preset is for {' and '.join(PRESET_CODECS)}; {encoder} has none")
    check_window_looks_ahead(ctx)
    if "crf" in given and encoder and CRF_MAX[encoder] is None and ctx.params["crf"] != 0:
        raise UserError(f"--crf: {encoder} is lossless, with no quality to choose (--crf 0 or none)")
