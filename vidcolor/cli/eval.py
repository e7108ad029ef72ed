"""`vidcolor eval`: parse the options, score with vidcolor.evaluation.evaluate, print the table."""
from __future__ import annotations

from pathlib import Path

import click

from ..utils.choices import DEFAULT_MODEL, DEFAULT_WINDOW, DEVICES, MAX_WINDOW, TEMPORAL_MODES
from ..utils.errors import UserError
from .common import MODEL_HELP, GivenPath, check_window_looks_ahead, friendly


@click.command("eval")
@click.argument("inputs", nargs=-1, required=True, type=GivenPath())
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help=MODEL_HELP)
@click.option("--temporal", default="flow", type=click.Choice(TEMPORAL_MODES), show_default=True,
              help="Films: keep colours steady along motion (flow), by averaging (ema), or not, as `run` does.")
@click.option("--window", type=click.IntRange(0, MAX_WINDOW), default=DEFAULT_WINDOW, show_default=True,
              help="Frames of look-ahead for the temporal smoothing.")
@click.option("--no-reference", is_flag=True, help="Inputs are real black-and-white film: reference-free metrics.")
@click.option("--max-frames", type=click.IntRange(min=1), help="Score at most this many frames per video.")
@click.option("-o", "--output", "report_dir", type=GivenPath(), help="Report folder (JSON, CSV, PNGs).")
@click.option("--overwrite", is_flag=True, help="Replace the report an earlier eval wrote into that folder.")
@click.option("--device", default="auto", type=click.Choice(DEVICES), show_default=True,
              help="Where the model runs (auto: a GPU if there is one).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
@friendly
def evaluate_cmd(ctx: click.Context, inputs: tuple[Path, ...], model: str, temporal: str, window: int,
                 no_reference: bool, max_frames: int | None, report_dir: Path | None, overwrite: bool, device: str,
                 quiet: bool) -> None:
    """Score colourization of colour photos/videos against the truth (or B&W film without one)."""
    from ..evaluation.evaluate import evaluate, format_table
    from ..runtime.inference import Colorizer

    check_window_looks_ahead(ctx)
    results, failed = evaluate(lambda: Colorizer.load(model, device), list(inputs), not no_reference, temporal,
                               max_frames, report_dir, window, quiet, overwrite, model=model)
    if results:
        click.echo(f"Scored with {model}:\n{format_table(results)}")
    if failed:
        raise UserError(f"{failed} of {failed + len(results)} could not be scored")
