"""Training images from photo folders and colour videos, held in memory as uint8 RGB."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from ..color import AB_SCALE, rgb_to_lab
from ..errors import UserError
from ..media import find_media, is_video, read_image, video_frames

GREY_CHROMA = 3.0  # mean Lab chroma below which an image is treated as black-and-white


def mean_chroma(rgb: np.ndarray) -> float:
    """Mean sqrt(a^2 + b^2) in Lab units, on a thumbnail (cheap; only used to spot grey images)."""
    small = cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA)
    lab = rgb_to_lab(torch.from_numpy(small).permute(2, 0, 1).float() / 255.0)
    return float(lab[1:].pow(2).sum(0).sqrt().mean())


def _fit(rgb: np.ndarray, max_short: int) -> np.ndarray:
    """Shrink so the short side is at most `max_short` (bounds memory for big photos and video)."""
    h, w = rgb.shape[:2]
    scale = max_short / min(h, w)
    if scale >= 1.0:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def load_images(dirs: list[Path], frame_stride: int, max_short: int, quiet: bool = False) -> list[np.ndarray]:
    """Every colour image under `dirs`, and every `frame_stride`-th frame of every video.

    Grey images are skipped (they would teach the model that "no colour" is an answer), and so,
    each named, are files that cannot be read: one broken file should not stop a night's training.
    Raises UserError for a missing folder or no usable image at all.
    """
    images: list[np.ndarray] = []
    skipped = 0
    for d in {d.resolve(): d for d in dirs}.values():  # `--data x --data x/` reads x once
        if not d.is_dir():
            raise UserError(f"{d}: " + ("not a folder" if d.exists() else "no such folder"))
        files = find_media(d)
        if not files:
            raise UserError(f"{d}: no images or videos found")
        for path in files:
            try:
                for rgb in video_frames(path, frame_stride) if is_video(path) else [read_image(path)]:
                    if mean_chroma(rgb) < GREY_CHROMA:
                        skipped += 1
                    else:
                        images.append(_fit(rgb, max_short))
            except UserError as exc:  # a damaged film keeps the frames read before the damage
                print(f"vidcolor: warning: skipped {path.name}: {str(exc).removeprefix(f'{path}: ')}",
                      file=sys.stderr)  # a warning, not progress: said with --quiet too
    if not images:
        raise UserError(f"no colour images in {', '.join(map(str, dirs))} ({skipped} grey ones skipped)")
    if skipped and not quiet:
        print(f"skipped {skipped} black-and-white image{'s' * (skipped != 1)}", file=sys.stderr)
    return images


def ab_histogram(images: list[np.ndarray], bins: int = 64) -> torch.Tensor:
    """Empirical distribution of scaled a/b over the training set, (bins, bins), sums to 1."""
    hist = torch.zeros(bins, bins, dtype=torch.float64)
    for rgb in images:
        small = cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA)
        lab = rgb_to_lab(torch.from_numpy(small).permute(2, 0, 1).float() / 255.0)
        idx = ((lab[1:] / AB_SCALE).clamp(-1, 1 - 1e-6) + 1) / 2 * bins
        idx = idx.long().flatten(1)
        hist.view(-1).index_add_(0, idx[0] * bins + idx[1], torch.ones(idx.shape[1], dtype=torch.float64))
    return (hist / hist.sum()).float()
