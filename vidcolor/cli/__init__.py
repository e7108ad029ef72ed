"""The `vidcolor` command line: a module per command, each a thin layer that parses its options, calls the
Python API and reports. Importing it loads click and light modules (no torch, no PyAV), so --help is fast."""
from __future__ import annotations

import click

from .. import __version__
from .common import OneLineErrors
from .eval import evaluate_cmd
from .export import export
from .frames import frames
from .models import models
from .run import run
from .serve import serve_command
from .train import train


@click.group(cls=OneLineErrors)
@click.version_option(__version__, prog_name="vidcolor")
def main() -> None:
    """Colour black-and-white film and photos."""


for _command, _name in ((models, "models"), (run, "run"), (train, "train"), (export, "export"),
                        (frames, "frames"), (evaluate_cmd, "eval"), (serve_command, "serve")):
    main.add_command(_command, _name)
