"""The `vidcolor` command line: a thin layer over the Python API."""
from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import DEFAULT_MODEL, __version__
from .catalog import shipped_models
from .errors import UserError
from .guard import give_up, on_hang
from .stopping import Stopped, stop_cleanly_on_signals
from .video_formats import (
    DEFAULT_WINDOW,
    DEVICES,
    FILM_BITS,
    MAX_SATURATION,
    MAX_WINDOW,
    PRESETS,
    TEMPORAL_MODES,
    VIDEO_CODECS,
    WORKING_SIZES,
)


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn UserError into one line on stderr and exit code 1, never a traceback; so too any file-system
    error not met more precisely on the way (a name too long for the disk, say). Ctrl-C, SIGTERM and SIGHUP
    clean up, say so in a line, and exit 128 + the signal's number; so does a decoder that hangs, with exit
    code 1 (see vidcolor.guard)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        stop_cleanly_on_signals()
        before = on_hang(give_up())
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            click.echo(f"vidcolor: {exc}", err=True)
            sys.exit(1)
        except OSError as exc:
            click.echo(f"vidcolor: {exc.filename}: {exc.strerror}" if exc.filename and exc.strerror
                       else f"vidcolor: {exc}", err=True)
            sys.exit(1)
        except Stopped as exc:
            click.echo(f"vidcolor: stopped by {exc}", err=True)
            sys.exit(128 + exc.signal_number)
        except KeyboardInterrupt:
            click.echo("vidcolor: interrupted", err=True)
            sys.exit(130)
        finally:
            on_hang(before)  # called from Python, the caller's process is its own again
    return wrapper


class _OneLineErrors(click.Group):
    """Usage mistakes (a missing -o, a number out of range) in one line on stderr, as every other mistake
    is, instead of click's usage block; exit code 2 as click gives them."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:  # plain `vidcolor`: the help is what was wanted
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            command = " ".join(["vidcolor", *(exc.ctx.command_path.split()[1:] if exc.ctx else [])])
            click.echo(f"vidcolor: {exc.format_message()} (see {command} --help)", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"vidcolor: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("vidcolor: interrupted", err=True)
            sys.exit(130)
        if isinstance(code, int) and code:  # click's own exits (ctx.exit(n))
            sys.exit(code)
        return code


@click.group(cls=_OneLineErrors)
@click.version_option(__version__, prog_name="vidcolor")
def main() -> None:
    """Colour black-and-white film and photos."""


MODEL_HELP = f"Shipped model ({', '.join(shipped_models()) or 'none installed'}; see `vidcolor models`) " \
             "or a .safetensors file."


def _count_or_auto(minimum: int) -> Callable[[click.Context, click.Parameter, str | None], int | str | None]:
    """A click callback for options that take a number (at least `minimum`) or `auto`."""
    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
        if value is None or value == "auto":
            return value
        if not value.isdigit() or int(value) < minimum:
            raise click.BadParameter(f"give a whole number from {minimum} up, or auto")
        return int(value)
    return convert


@main.command()
@click.option("--json", "as_json", is_flag=True, help="The same as a JSON list, for scripts.")
@friendly
def models(as_json: bool) -> None:
    """List the shipped models: family, size, validation scores, the default, whether they take hints."""
    import json

    from .catalog import describe, format_models
    from .weights import read_metadata

    rows = [describe(name, path, read_metadata(path)) for name, path in shipped_models().items()]
    if not rows:
        raise UserError("no shipped models found (a broken install? reinstall vidcolor)")
    click.echo(json.dumps(rows, indent=2) if as_json else format_models(rows))


@main.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.option("-o", "--output", "dst", required=True, type=click.Path(path_type=Path), help="Output file or folder.")
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help=MODEL_HELP)
@click.option("--device", default="auto", type=click.Choice(DEVICES), show_default=True)
@click.option("--working-size", type=click.IntRange(*WORKING_SIZES), default=None,
              help="Short side the model works at (default: the model's).")
@click.option("--saturation", type=click.FloatRange(0.0, MAX_SATURATION), default=1.0, show_default=True,
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
@click.option("--jobs", default="auto", show_default=True, callback=_count_or_auto(1), metavar="N|auto",
              help="Worker processes (auto: one per GPU, else one per 4 CPU cores).")
@click.option("--ray", "ray_address", metavar="ADDRESS",
              help="Run the work on a Ray cluster (e.g. auto, or HOST:6379), or on a local Ray runtime (local).")
@click.option("--split", default=None, callback=_count_or_auto(2), metavar="auto|N",
              help="Cut long films at keyframes into N pieces coloured side by side (auto: by length and workers).")
@click.option("--verbose", is_flag=True, help="A line for every file as workers start and finish it.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@friendly
def run(src: Path, dst: Path, model: str, device: str, working_size: int | None, saturation: float,
        batch_size: int | None,
        temporal: str, window: int, crf: int, preset: str, codec: str | None, max_bits: str, skip_color: bool,
        overwrite: bool,
        include: tuple[str, ...], exclude: tuple[str, ...], force: bool, jobs: int | str, ray_address: str | None,
        split: int | str | None, verbose: bool, quiet: bool) -> None:
    """Colour a film, a photo, or a whole folder (recursively: photos and films) into OUTPUT."""
    from .media import is_image

    if not src.exists():
        raise UserError(f"{src}: no such file or folder")
    if src.is_file() and (include or exclude or force):
        raise UserError("--include, --exclude and --force are for folders")
    if src.is_file() and is_image(src) and (split is not None or ray_address is not None):
        raise UserError("--split and --ray are for films and folders")
    if src.is_dir() or (not is_image(src) and (split is not None or ray_address is not None)):
        from .archive import ArchiveOptions, colorize_archive, colorize_film_in_parallel, worker_settings
        from .video import VideoOptions

        settings = worker_settings(model, device, working_size,
                                   VideoOptions(batch_size=batch_size, temporal=temporal, window=window, crf=crf,
                                                preset=preset, codec=codec, max_bits=int(max_bits),
                                                skip_color=skip_color, overwrite=True,
                                                quiet=True), saturation)
        options = ArchiveOptions(include, exclude, force, overwrite, None if jobs == "auto" else int(jobs),
                                 ray_address, split, verbose, quiet)
        if src.is_dir():
            summary = colorize_archive(src, dst, settings, options)
            if not quiet:
                click.echo(summary.table(), err=True)
        else:
            summary = colorize_film_in_parallel(src, dst, settings, options)
            if not quiet and not summary.failures:
                click.echo(f"{summary.done.frames} frames in {summary.wall:.1f} s -> {dst}", err=True)
        if summary.failures:
            sys.exit(1)
    elif not is_image(src):
        from .api import colorize_video

        result = colorize_video(src, dst, model=model, device=device, working_size=working_size, saturation=saturation,
                                batch_size=batch_size, temporal=temporal, window=window, crf=crf, preset=preset,
                                codec=codec, max_bits=int(max_bits), skip_color=skip_color, overwrite=overwrite,
                                quiet=quiet)
        if not quiet:
            click.echo(result.summary(), err=True)
    else:
        from .inference import Colorizer
        from .photos import check_photo_job, colorize_photo
        from .video import default_warn

        check_photo_job(src, dst, overwrite)
        colorize_photo(Colorizer.load(model, device, working_size, saturation), src, dst, overwrite, skip_color,
                       default_warn)


@main.command()
@click.option("--model", "family", required=True, type=click.Choice(["unet", "gan", "fusion"]))
@click.option("--data", multiple=True, required=True, type=click.Path(path_type=Path),
              help="Folder of colour photos and/or videos (repeatable).")
@click.option("--val", multiple=True, type=click.Path(path_type=Path),
              help="Folder of validation photos or colour films (repeatable: a table each).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder (checkpoints, logs).")
@click.option("--steps", type=click.IntRange(min=1), help="Training steps (overrides --epochs).")
@click.option("--epochs", type=click.IntRange(min=1), help="Passes over the data.")
@click.option("--size", type=click.IntRange(min=32), default=176, show_default=True, help="Training crop size.")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True, help="Per process.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=5e-4, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from the run folder's checkpoint.")
@click.option("--device", default="auto", type=click.Choice(DEVICES), show_default=True)
@click.option("--loss", default="l1", type=click.Choice(["l1", "mse", "bins"]), show_default=True,
              help="bins (fusion): predict a distribution over a grid of colours.")
@click.option("--ab-bins", type=click.IntRange(min=2), default=17, show_default=True,
              help="--loss bins: grid colours per a/b axis.")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="--loss bins: annealed-mean temperature (lower: more vivid).")
@click.option("--rebalance", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Colour rebalancing with this λ (e.g. 0.5).")
@click.option("--balance", default="none", type=click.Choice(["none", "prefix", "folder"]), show_default=True,
              help="Draw groups (file-name prefix before '_', or folder) by the square root of their size.")
@click.option("--precision", default="auto", type=click.Choice(["auto", "bf16", "fp32"]), show_default=True,
              help="auto: bf16 autocast where the hardware has it (about 3x faster on such CPUs).")
@click.option("--frame-stride", type=click.IntRange(min=1), default=10, show_default=True,
              help="Use every N-th video frame.")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=250, show_default=True)
@click.option("--keep-weights", is_flag=True, help="Keep each checkpoint's weights as weights-STEP.safetensors.")
@click.option("--val-every", type=click.IntRange(min=1), help="Validate every N steps (default: each epoch).")
@click.option("--width", type=click.IntRange(min=1), default=32, show_default=True,
              help="Channel width of the trainable net.")
@click.option("--backbones", default="lite0", show_default=True, help="fusion: e.g. lite0,lite1,lite2.")
@click.option("--tune-backbone", type=click.IntRange(min=0), default=0, show_default=True,
              help="fusion: fine-tune this many deepest backbone stages (1: stride 32 and head).")
@click.option("--backbone-lr-scale", type=click.FloatRange(min=0), default=0.1, show_default=True,
              help="fusion: learning rate of the tuned backbone stages relative to --lr.")
@click.option("--init", type=click.Path(path_type=Path), help="Start from exported weights (gan: the L1 U-Net).")
@click.option("--continue-from", type=click.Path(path_type=Path),
              help="A run's exported weights: continue at the step they record (the run folder gone).")
@click.option("--adversarial", is_flag=True, help="Train against a PatchGAN too (adversarial + λ·L1).")
@click.option("--gan-warmup", type=click.IntRange(min=0), default=0, show_default=True,
              help="gan, --adversarial: colour-loss-only steps first.")
@click.option("--lambda-l1", type=click.FloatRange(min=0), default=100.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads for torch.")
@click.option("--quiet", is_flag=True)
@friendly
def train(family: str, data: tuple[Path, ...], val: tuple[Path, ...], out: Path, threads: int | None,
          **kwargs: Any) -> None:
    """Train a colourizer on folders of colour photos and videos."""
    import torch

    from .training.train import TrainOptions
    from .training.train import train as run_training

    if threads:
        torch.set_num_threads(threads)
    run_training(TrainOptions(model=family, data=list(data), val=list(val), out=out, **kwargs))


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("-o", "--output", "dst", required=True, type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True)
@click.option("--temperature", type=float,
              help="Binned models (--loss bins): decode at this annealed-mean temperature (lower: more vivid).")
@friendly
def export(run_dir: Path, dst: Path, overwrite: bool, temperature: float | None) -> None:
    """Write a run's trained weights and metadata to a .safetensors file."""
    src = run_dir / "last.safetensors"
    if not src.is_file():
        raise UserError(f"{run_dir}: not a training run folder (no last.safetensors)")
    if dst.suffix != ".safetensors":
        raise UserError(f"{dst}: the exported file must end in .safetensors")
    from .archs.chroma_bins import valid_temperature
    from .atomic import check_writable
    from .weights import read_metadata, read_weights, write_weights_file

    meta = read_metadata(src)
    if temperature is not None:
        if not meta.get("arch", {}).get("ab_bins"):
            raise UserError(f"{run_dir}: --temperature applies only to models trained with --loss bins")
        if not valid_temperature(temperature):
            raise UserError("--temperature must be a positive number")
        meta["arch"]["temperature"] = temperature
    check_writable(dst, overwrite)
    write_weights_file(dst, read_weights(src), meta, replace=overwrite)
    click.echo(f"exported {dst}", err=True)


@main.command()
@click.argument("videos", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "dst", required=True, type=click.Path(path_type=Path), help="Folder for the frames.")
@click.option("--every", type=click.IntRange(min=1), default=10, show_default=True, help="Keep every N-th frame.")
@click.option("--overwrite", is_flag=True, help="Replace frames an earlier extraction wrote.")
@friendly
def frames(videos: tuple[Path, ...], dst: Path, every: int, overwrite: bool) -> None:
    """Extract a training set of frames from colour videos."""
    from .atomic import check_writable, written_atomically
    from .media import distinct_stems, is_image, video_frames, write_image

    videos = tuple({video.resolve(): video for video in videos}.values())  # each film once, however named
    for video in videos:
        if not video.is_file():
            raise UserError(f"{video}: " + ("not a film file" if video.exists() else "no such file"))
        if is_image(video):
            raise UserError(f"{video}: a photo, not a film (training takes photo folders as they are)")
    dst.mkdir(parents=True, exist_ok=True)
    total = 0
    for video, stem in zip(videos, distinct_stems(videos), strict=True):
        for i, rgb in enumerate(video_frames(video, every)):
            target = dst / f"{stem}_{i * every:06d}.png"
            check_writable(target, overwrite)
            with written_atomically(target, replace=overwrite) as tmp:
                write_image(tmp, rgb)
            total += 1
    click.echo(f"{total} frame{'s' * (total != 1)} written to {dst}", err=True)


@main.command("eval")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help=MODEL_HELP)
@click.option("--temporal", default="flow", type=click.Choice(TEMPORAL_MODES), show_default=True)
@click.option("--window", type=click.IntRange(0, MAX_WINDOW), default=DEFAULT_WINDOW, show_default=True,
              help="Frames of look-ahead for the temporal smoothing.")
@click.option("--no-reference", is_flag=True, help="Inputs are real black-and-white film: reference-free metrics.")
@click.option("--max-frames", type=click.IntRange(min=1), help="Score at most this many frames per video.")
@click.option("-o", "--output", "report_dir", type=click.Path(path_type=Path), help="Report folder (JSON, CSV, PNGs).")
@click.option("--overwrite", is_flag=True, help="Replace the report an earlier eval wrote into that folder.")
@click.option("--device", default="auto", type=click.Choice(DEVICES), show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@friendly
def evaluate_cmd(inputs: tuple[Path, ...], model: str, temporal: str, window: int, no_reference: bool,
                 max_frames: int | None, report_dir: Path | None, overwrite: bool, device: str, quiet: bool) -> None:
    """Score colourization of colour photos/videos against the truth (or B&W film without one)."""
    from .evaluate import REPORT_NAME, evaluate, format_table
    from .inference import Colorizer

    if report_dir is not None and (report_dir / REPORT_NAME).exists() and not overwrite:
        raise UserError(f"{report_dir}: holds a report already (use --overwrite to replace it)")
    results, failed = evaluate(Colorizer.load(model, device), list(inputs), not no_reference, temporal, max_frames,
                               report_dir, window, quiet)
    if results:
        click.echo(format_table(results))
    if failed:
        raise UserError(f"{failed} of {failed + len(results)} could not be scored")


from .serve import serve_command  # last: serve imports nothing from here at import time

main.add_command(serve_command, "serve")
