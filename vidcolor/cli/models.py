"""`vidcolor models`: list the shipped models, or model files, as their files describe them."""
from __future__ import annotations

from pathlib import Path

import click

from ..runtime.catalog import shipped_models
from ..utils.choices import DEFAULT_MODEL
from ..utils.errors import UserError
from .common import friendly


@click.command()
@click.argument("names", metavar="[MODEL]...", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="The same as a JSON list, for scripts.")
@friendly
def models(names: tuple[str, ...], as_json: bool) -> None:
    """List the shipped models, or the MODELs named (a shipped name, or a .safetensors file: a model you trained,
    one kept in models/training/), so a model of your own is read beside ours: family, size, validation scores,
    the default, whether they take hints."""
    import json
    import shutil

    from ..runtime.catalog import describe, format_models
    from ..runtime.weights import read_metadata, resolve_model_path

    shipped = shipped_models()
    chosen = {name: resolve_model_path(name) for name in names} if names else shipped
    once: dict[Path, tuple[str, Path]] = {}  # one file named two ways is one row, under the first name
    for name, path in chosen.items():
        once.setdefault(path.resolve(), (name, path))
    rows = [describe(name, path, read_metadata(path), shipped.get(DEFAULT_MODEL)) for name, path in once.values()]
    if not rows:
        raise UserError("no shipped models found (a broken install? reinstall vidcolor)")
    click.echo(json.dumps(rows, indent=2) if as_json else format_models(rows, shutil.get_terminal_size().columns))
