"""Where warnings go by default: one line each on stderr, without breaking a progress bar."""
from __future__ import annotations

import sys

from tqdm import tqdm


def default_warn(message: str) -> None:
    """Warnings go to stderr without breaking the progress bar."""
    tqdm.write(f"vidcolor: warning: {message}", file=sys.stderr)
