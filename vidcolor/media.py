"""Finding and reading the images and videos a user points us at."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np

from .errors import UserError

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_EXTS = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv"}


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTS


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTS


def find_media(root: Path, kinds: tuple[str, ...] = ("image", "video")) -> list[Path]:
    """All images and/or videos under `root` (recursively, sorted so runs are reproducible)."""
    wanted = [f for k, f in (("image", is_image), ("video", is_video)) if k in kinds]
    return sorted(p for p in root.rglob("*") if p.is_file() and any(f(p) for f in wanted))


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB; greyscale and alpha images are converted. Raises UserError if unreadable."""
    data = np.fromfile(str(path), dtype=np.uint8) if path.is_file() else None
    if data is None:
        raise UserError(f"{path}: no such file")
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise UserError(f"{path}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def write_image(path: Path, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image; the format follows the extension."""
    ok, buf = cv2.imencode(path.suffix or ".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise UserError(f"{path}: cannot encode an image with extension {path.suffix!r}")
    path.write_bytes(buf.tobytes())


def film_seconds(path: Path) -> float:
    """How long a film lasts, as its container says; 0.0 when it does not say."""
    with av.open(str(path)) as container:
        return container.duration / av.time_base if container.duration else 0.0


def video_frames(path: Path, every: int = 1) -> Iterator[np.ndarray]:
    """Every `every`-th decoded frame of the first video stream as RGB uint8."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise UserError(f"{path}: has no video stream")
            for i, frame in enumerate(container.decode(video=0)):
                if i % every == 0:
                    yield frame.to_ndarray(format="rgb24")
    except av.error.FFmpegError as exc:
        raise UserError(f"{path}: cannot decode video ({exc.strerror or exc})") from None
