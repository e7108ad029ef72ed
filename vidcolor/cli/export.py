"""`vidcolor export`: a training run's weights and metadata into one .safetensors file."""
from __future__ import annotations

from pathlib import Path

import click

from ..utils.choices import MIN_TEMPERATURE
from ..utils.errors import UserError
from .common import GivenPath, Number, friendly


@click.command()
@click.argument("run_dir", type=GivenPath())
@click.option("-o", "--output", "dst", required=True, type=GivenPath(),
              help="The .safetensors file to write.")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
@click.option("--temperature", type=Number(min=MIN_TEMPERATURE),
              help="Binned models (--loss bins): decode at this annealed-mean temperature (lower: more vivid).")
@friendly
def export(run_dir: Path, dst: Path, overwrite: bool, temperature: float | None) -> None:
    """Write a run's trained weights and metadata to a .safetensors file."""
    src = run_dir / "last.safetensors"
    if run_dir.is_file() and run_dir.name == src.name:  # the run's file named for its folder
        raise UserError(f"{run_dir}: give the run's folder, {run_dir.parent}, not its file")
    if not src.is_file():
        raise UserError(f"{run_dir}: not a training run folder (no last.safetensors)")
    if dst.suffix != ".safetensors":
        raise UserError(f"{dst}: the exported file must end in .safetensors")
    from ..runtime.weights import check_finite, model_spec, read_metadata, read_weights, write_weights_file
    from ..utils.atomic import check_not_the_input, check_writable

    check_not_the_input(src, dst)
    check_writable(dst, overwrite)  # before the weights are read: a big model takes a while
    meta = read_metadata(src)
    _, arch = model_spec(src, meta)
    if temperature is not None:
        if not arch.get("ab_bins"):
            raise UserError(f"{run_dir}: --temperature applies only to models trained with --loss bins")
        meta["arch"] = arch | {"temperature": temperature}
    state = read_weights(src)
    check_finite(src, state)
    write_weights_file(dst, state, meta, replace=overwrite)
    click.echo(f"exported {dst}", err=True)
