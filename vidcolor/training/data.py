"""Training images from photo folders and colour videos, held in memory as uint8 RGB, with their groups.

A data set of ~20,000 photos is held small (the short side at most twice the crop size; the extra
photos are smaller still), about 3 GB, so sampling stays random access without a loader process.
Each image belongs to a group, so a sampler can keep 6,000 scenes from drowning 600 faces.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from ..film.frames import video_frames
from ..photo.read import read_image
from ..runtime.color import AB_SCALE, rgb_to_lab
from ..utils.errors import UserError
from ..utils.paths import find_media, is_video
from ..utils.warn import default_warn

GREY_CHROMA = 3.0  # mean Lab chroma below which an image is treated as black-and-white
_READERS = 2  # decoding threads: OpenCV and PyAV release the GIL, so two cores read at twice the speed


@dataclass
class TrainingSet:
    """Images (uint8 RGB, short side bounded) and the group each one belongs to."""

    images: list[np.ndarray] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)

    def sampling_weights(self, balance: str, group_weights: dict[str, float] | None = None) -> torch.Tensor:
        """Per-image draw weights: uniform, or each group drawn in proportion to the square root of its size
        (600 faces beside 6,000 scenes get a third of the scenes' draws rather than a tenth, without 18
        sample photos being drawn as often as 6,000 scenes and learnt by heart); `group_weights` then
        multiplies a group's draws (frames of video clips drawn 3x as often, for a model that colours films).
        Raises UserError for a group the data does not have: a misspelt name would change nothing."""
        sizes, scale = Counter(self.groups), group_weights or {}
        unknown = sorted(set(scale) - set(sizes))
        if unknown:
            raise UserError(f"--group-weight {unknown[0]}: no such group in the data (its groups: "
                            f"{', '.join(sorted(sizes))})")
        per_group = {g: (1.0 if balance == "none" else n ** -0.5) * scale.get(g, 1.0) for g, n in sizes.items()}
        return torch.tensor([per_group[g] for g in self.groups], dtype=torch.float64)

    def group_sizes(self) -> dict[str, int]:
        return dict(sorted(Counter(self.groups).items()))


def group_of(path: Path, balance: str) -> str:
    """The group a file belongs to: its name's prefix up to the first `_` (`portrait_3f2a.webp` is a
    portrait; a name without one is its folder's) for `prefix`, its folder for `folder`."""
    prefix = path.name.split("_", 1)[0] if "_" in path.name else ""
    if balance == "prefix" and prefix:
        return prefix
    return path.parent.name


def mean_chroma(rgb: np.ndarray) -> float:
    """Mean sqrt(a^2 + b^2) in Lab units, on a thumbnail (cheap; only used to spot grey images)."""
    small = cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA)
    lab = rgb_to_lab(torch.from_numpy(small).permute(2, 0, 1).float() / 255.0)
    return float(lab[1:].pow(2).sum(0).sqrt().mean())


def looks_grey(rgb: np.ndarray) -> bool:
    """Whether a picture is black and white to training, which skips it: it teaches no colour."""
    return mean_chroma(rgb) < GREY_CHROMA


def _fit(rgb: np.ndarray, max_short: int) -> np.ndarray:
    """Shrink so the short side is at most `max_short` (bounds memory for big photos and video)."""
    h, w = rgb.shape[:2]
    scale = max_short / min(h, w)
    if scale >= 1.0:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _pictures(path: Path, frame_stride: int) -> Iterator[np.ndarray]:
    return video_frames(path, frame_stride) if is_video(path) else iter([read_image(path)])


def _read(path: Path, frame_stride: int, max_short: int) -> tuple[list[np.ndarray], int]:
    """A file's colour pictures, fitted, and how many grey ones it held. One broken file should not stop a
    night's training: it is named in a warning (said with --quiet too) and keeps what was read before."""
    kept, grey = [], 0
    try:
        for rgb in _pictures(path, frame_stride):
            if looks_grey(rgb):
                grey += 1
            else:
                kept.append(_fit(rgb, max_short))
    except UserError as exc:
        default_warn(f"skipped {path.name}: {str(exc).removeprefix(f'{path}: ')}")
    return kept, grey


def _files(dirs: list[Path]) -> list[Path]:
    """The media under `dirs`, each file once: `--data x --data x/`, or a folder and one inside it, would have
    read (and drawn) some twice."""
    files: dict[Path, Path] = {}
    for d in dirs:
        if not d.is_dir():
            raise UserError(f"{d}: " + ("not a folder" if d.exists() else "no such folder"))
        found = find_media(d)
        if not found:
            raise UserError(f"{d}: no images or videos found")
        for path in found:
            files.setdefault(path.resolve(), path)
    return list(files.values())


def load_images(dirs: list[Path], frame_stride: int, max_short: int, quiet: bool = False,
                balance: str = "none") -> TrainingSet:
    """Every colour image under `dirs`, and every `frame_stride`-th frame of every video.

    Grey images are skipped (they would teach the model that "no colour" is an answer), and so,
    each named, are files that cannot be read. Raises UserError for a missing folder or no usable image.
    """
    files = _files(dirs)
    data, skipped = TrainingSet(), 0
    with ThreadPoolExecutor(_READERS) as pool:
        read = pool.map(lambda p: _read(p, frame_stride, max_short), files)
        for path, (kept, grey) in tqdm(zip(files, read), total=len(files), disable=quiet, unit="file",
                                       desc="reading", leave=False, delay=2):
            data.images += kept
            data.groups += [group_of(path, balance)] * len(kept)
            skipped += grey
    if not data.images:
        raise UserError(f"no colour images in {', '.join(map(str, dirs))} ({skipped} grey ones skipped)")
    if skipped and not quiet:
        default_warn(f"skipped {skipped} black-and-white image{'s' * (skipped != 1)} (no colour to learn from)")
    return data


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
