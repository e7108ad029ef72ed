"""The web server's photos kept for hints: each coloured photo's picture, made small, so the page's clicks are
answered by re-colouring that at once rather than uploading and decoding the photo again. Held in memory, a
bounded number, each dropped a while after it was last used."""
from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..photo.read import shrunk, to_depth

PREVIEW_LONG_SIDE = 1024  # a preview's longer side at most, in pixels: about what the page shows
MAX_KEPT_PHOTOS = 32  # each holds up to PREVIEW_LONG_SIDE² RGB bytes (3 MB)


@dataclass
class KeptPhoto:
    """A photo's upright pixel size, and its picture made small (uint8 RGB) to colour previews of."""
    width: int
    height: int
    small: np.ndarray

    @property
    def scale(self) -> tuple[float, float]:
        """The small picture's pixels per photo pixel, across and down."""
        return self.small.shape[1] / self.width, self.small.shape[0] / self.height


def small_picture(rgb: np.ndarray) -> np.ndarray:
    """(H, W, C) RGB(A), uint8 or uint16 -> uint8 RGB whose longer side is at most PREVIEW_LONG_SIDE."""
    return np.ascontiguousarray(to_depth(shrunk(rgb[..., :3], PREVIEW_LONG_SIDE), np.uint8))


class KeptPhotos:
    """Photos by id (names we made up): at most MAX_KEPT_PHOTOS, the least recently used dropped first, and any
    unused for `retention` seconds."""

    def __init__(self, retention: float, max_count: int = MAX_KEPT_PHOTOS) -> None:
        self._retention, self._max_count = retention, max_count
        self._photos: OrderedDict[str, tuple[KeptPhoto, float]] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, photo: KeptPhoto) -> str:
        photo_id = uuid.uuid4().hex
        with self._lock:
            self._drop_old()
            self._photos[photo_id] = (photo, time.monotonic())
            while len(self._photos) > self._max_count:
                self._photos.popitem(last=False)
        return photo_id

    def get(self, photo_id: str) -> KeptPhoto | None:
        with self._lock:
            self._drop_old()
            found = self._photos.pop(photo_id, None)
            if found is None:
                return None
            self._photos[photo_id] = (found[0], time.monotonic())  # used now: last to go
            return found[0]

    def clear(self) -> None:
        with self._lock:
            self._photos.clear()

    def _drop_old(self) -> None:
        now = time.monotonic()
        while self._photos:
            photo_id, (_, used) = next(iter(self._photos.items()))
            if now - used < self._retention:
                break
            del self._photos[photo_id]
