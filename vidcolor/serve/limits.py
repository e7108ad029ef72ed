"""What one visitor may ask of the server: set by `vidcolor serve`'s options, held to by the app and its service.
Only the standard library here, so the command line reads it without the web stack."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServeLimits:
    """What one visitor may ask of the server."""
    max_upload_bytes: int = 200 * 1024 * 1024
    max_video_seconds: float = 10 * 60
    retention_seconds: float = 60 * 60  # finished films are deleted this long after they finish
