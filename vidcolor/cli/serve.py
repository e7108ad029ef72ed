"""`vidcolor serve`: parse the options, then serve the web page (vidcolor.serve.app.run_server)."""
from __future__ import annotations

import click

from ..utils.choices import DEFAULT_MODEL, DEVICES
from .common import Number, friendly


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (others: a warning).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port of the web page (0: any free one).")
@click.option("--model", default=None, help="Shipped model name or a .safetensors file  [default: as for run]")
@click.option("--device", default="auto", type=click.Choice(DEVICES), show_default=True,
              help="Where the model runs (auto: a GPU if there is one).")
@click.option("--max-upload-mb", type=Number(min=0, min_open=True), default=200, show_default=True,
              help="Largest photo or film accepted.")
@click.option("--max-video-seconds", type=Number(min=0, min_open=True), default=600, show_default=True,
              help="Longest film accepted.")
@click.option("--retention-minutes", type=Number(min=0, min_open=True), default=60, show_default=True,
              help="How long a coloured film is kept for download, and a coloured photo (kept for hints, with a "
                   "hint model) while unused.")
@friendly
def serve_command(host: str, port: int, model: str | None, device: str, max_upload_mb: float,
                  max_video_seconds: float, retention_minutes: float) -> None:
    """Serve a web page on this computer for colouring photos and short films."""
    from ..serve.app import run_server
    from ..serve.limits import ServeLimits

    limits = ServeLimits(max(1, round(max_upload_mb * 1024 * 1024)), max_video_seconds, retention_minutes * 60)
    run_server(host, port, model or DEFAULT_MODEL, device, limits)
