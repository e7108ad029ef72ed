"""vidcolor: colour black-and-white film and photos.

The public API is `colorize` (a photo, a film or a whole folder), `colorize_photo` and `colorize_video`; see
vidcolor.api. They are loaded on first use, so importing the package (as the command line does for --help)
does not pull in torch and PyAV. They raise `UserError` for anything wrong with a request (its message one line
on what to change), and return a path, a `FilmResult` or a `Summary`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .utils.choices import DEFAULT_MODEL
from .utils.errors import UserError

if TYPE_CHECKING:
    from .api import FilmResult, Summary, colorize, colorize_photo, colorize_video

__version__ = "0.1.0"  # the one place: pyproject.toml reads it, `vidcolor --version` prints it

__all__ = ["DEFAULT_MODEL", "FilmResult", "Summary", "UserError", "__version__", "colorize", "colorize_photo",
           "colorize_video"]
_API = ("FilmResult", "Summary", "colorize", "colorize_photo", "colorize_video")


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'vidcolor' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
