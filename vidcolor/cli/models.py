"""`vidcolor models`: list the shipped models as their files describe them."""
from __future__ import annotations

import click

from ..runtime.catalog import shipped_models
from ..utils.errors import UserError
from .common import friendly


@click.command()
@click.option("--json", "as_json", is_flag=True, help="The same as a JSON list, for scripts.")
@friendly
def models(as_json: bool) -> None:
    """List the shipped models: family, size, validation scores, the default, whether they take hints."""
    import json
    import shutil

    from ..runtime.catalog import describe, format_models
    from ..runtime.weights import read_metadata

    rows = [describe(name, path, read_metadata(path)) for name, path in shipped_models().items()]
    if not rows:
        raise UserError("no shipped models found (a broken install? reinstall vidcolor)")
    click.echo(json.dumps(rows, indent=2) if as_json else format_models(rows, shutil.get_terminal_size().columns))
