"""A keyframe: a frame the user coloured by hand. Its chroma becomes dense hints on that frame, a point per
small cell, which are then carried through the shot like any click (hints.track)."""
from __future__ import annotations

import cv2
import numpy as np
import torch

from ..runtime.color import AB_SCALE, from_int_images, rgb_to_lab

CELLS = 64  # across the picture's short side: fine enough for a coat, coarse enough to follow cheaply
CLICK_ROOM = 1 / 12  # of the short side, each way around a click on a keyframe's frame: there the click is told


def keyframe_points(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 or uint16 painted frame -> (N, 5) points: each cell's mean a/b at its centre, covering it."""
    h, w = rgb.shape[:2]
    cell = max(1.0, min(h, w) / CELLS)
    rows, cols = max(1, round(h / cell)), max(1, round(w / cell))
    means = cv2.resize(np.ascontiguousarray(rgb[..., :3]), (cols, rows), interpolation=cv2.INTER_AREA)
    ab = rgb_to_lab(from_int_images(means[None]))[0, 1:] / AB_SCALE
    ys, xs = torch.meshgrid((torch.arange(rows) + 0.5) * (h / rows), (torch.arange(cols) + 0.5) * (w / cols),
                            indexing="ij")
    size = torch.full_like(xs, max(h / rows, w / cols))
    return torch.stack([xs, ys, ab[0], ab[1], size], dim=-1).reshape(-1, 5).numpy().astype(np.float32)


def give_way_to_clicks(points: np.ndarray, short_side: int) -> np.ndarray:
    """(N, 5) points told of one frame, a keyframe's cells (size > 0) and clicks (size 0) -> the same without the
    cells near a click. The model pools what it is told, so one click amid a dense painting would be drowned by
    it; the user who clicks on a painted frame means the click."""
    clicks, cells = points[points[:, 4] == 0], points[points[:, 4] > 0]
    if not len(clicks) or not len(cells):
        return points
    near = (np.abs(cells[:, None, :2] - clicks[None, :, :2]).max(axis=-1) <= short_side * CLICK_ROOM).any(axis=1)
    return np.concatenate([cells[~near], clicks])
