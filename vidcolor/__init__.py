"""vidcolor: colour black-and-white film and photos."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import colorize_video

__version__ = "0.1.0"  # the one place: pyproject.toml reads it, `vidcolor --version` prints it
DEFAULT_MODEL = "fusion"  # the best shipped model by the validation table in models/README.md

__all__ = ["DEFAULT_MODEL", "__version__", "colorize_video"]


def __getattr__(name: str) -> Any:
    # `from vidcolor import colorize_video` works, but importing the package (as the command line
    # does for --help) does not pull in torch and PyAV.
    if name == "colorize_video":
        from .api import colorize_video
        return colorize_video
    raise AttributeError(f"module 'vidcolor' has no attribute {name!r}")
