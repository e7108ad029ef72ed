"""Temporal chroma smoothing: the same coat keeps its colour from frame to frame.

A frame-by-frame colourizer makes independent guesses, so uncertain regions flicker. We
carry the previous frame's output chroma forward along optical flow computed on L (the
original luma, which is reliable) and blend it with the new prediction per pixel, trusting
the carried colour only where forward and backward flow agree and the luma matches (so
occlusions and flow failures fall back to the new prediction). Scene cuts reset the state;
fades do not, because the cut test compares contrast-normalised luma histograms.

Smoothers work at the model's working resolution, between the model and the guided upsampling,
so they cost little even on HD film. They are stateful: feed frames in display order.
"""
from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np
import torch

from .video_formats import TEMPORAL_MODES



class TemporalSmoother(Protocol):
    def __call__(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """(B, 1, h, w) L in [0, 100] and (B, 2, h, w) predicted a/b, consecutive frames -> smoothed a/b."""

    def reset(self) -> None:
        """Forget the past (a new film or a seek)."""


def _luma_signature(L: np.ndarray) -> np.ndarray | None:
    """Histogram of contrast-normalised L: unchanged by fades, changed by cuts. None for flat frames."""
    std = float(L.std())
    if std < 2.0:
        return None
    z = (L - L.mean()) / std
    hist, _ = np.histogram(z, bins=32, range=(-3.0, 3.0))
    return hist / max(1, hist.sum())


class SceneCutDetector:
    """Flags a frame whose normalised luma histogram differs from the previous one by > `threshold` (TV distance)."""

    def __init__(self, threshold: float = 0.35) -> None:
        self.threshold = threshold
        self.previous: np.ndarray | None = None

    def __call__(self, L: np.ndarray) -> bool:
        sig = _luma_signature(L)
        cut = sig is not None and self.previous is not None and 0.5 * np.abs(sig - self.previous).sum() > self.threshold
        if sig is not None:
            self.previous = sig
        return bool(cut)

    def reset(self) -> None:
        self.previous = None


class NoSmoothing:
    """Frame-by-frame colour, exactly as the model predicts it."""

    def __call__(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        return ab

    def reset(self) -> None:
        pass


class _Recurrent:
    """Shared frame loop: each frame's output is blended with what the previous output predicts for it."""

    def __init__(self, strength: float) -> None:
        self.strength = strength
        self.cuts = SceneCutDetector()
        self.prev_L: np.ndarray | None = None
        self.prev_ab: np.ndarray | None = None

    def reset(self) -> None:
        self.cuts.reset()
        self.prev_L = self.prev_ab = None

    def carried(self, L: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(previous chroma aligned to this frame (h, w, 2), per-pixel confidence (h, w)), or None to restart."""
        raise NotImplementedError

    def __call__(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        out = ab.clone()
        Ls = L[:, 0].float().cpu().numpy()
        preds = ab.float().cpu().numpy().transpose(0, 2, 3, 1)
        for i, (l, pred) in enumerate(zip(Ls, preds)):
            cut = self.cuts(l)
            found = None if (cut or self.prev_ab is None) else self.carried(l)
            if found is not None:
                prev, conf = found
                w = (self.strength * conf)[..., None]
                pred = pred + w * (prev - pred)
                out[i] = torch.from_numpy(pred.transpose(2, 0, 1).copy()).to(ab)
            self.prev_L, self.prev_ab = l, pred
        return out


class EmaSmoothing(_Recurrent):
    """Exponential moving average per pixel, no motion compensation: cheap, but trails on motion."""

    def __init__(self, strength: float = 0.6) -> None:
        super().__init__(strength)

    def carried(self, L: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        conf = np.exp(-((L - self.prev_L) ** 2) / (2 * 6.0 ** 2))
        return self.prev_ab, conf.astype(np.float32)


class FlowSmoothing(_Recurrent):
    """Motion-compensated recurrence along DIS optical flow with forward-backward confidence."""

    def __init__(self, strength: float = 0.85, min_reliable: float = 0.2) -> None:
        super().__init__(strength)
        self.min_reliable = min_reliable
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)

    def carried(self, L: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        cur = np.clip(L * 2.55, 0, 255).astype(np.uint8)
        prev = np.clip(self.prev_L * 2.55, 0, 255).astype(np.uint8)
        bw = self.dis.calc(cur, prev, None)  # pixel p of this frame was at p + bw[p] in the previous one
        fw = self.dis.calc(prev, cur, None)
        h, w = L.shape
        grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), axis=-1)
        where = grid + bw
        fw_back = cv2.remap(fw, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        round_trip = np.sum((bw + fw_back) ** 2, axis=-1)
        prev_L = cv2.remap(self.prev_L.astype(np.float32), where, None, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        inside = ((where[..., 0] >= 0) & (where[..., 0] <= w - 1) & (where[..., 1] >= 0) & (where[..., 1] <= h - 1))
        conf = np.exp(-round_trip / 2.0) * np.exp(-((L - prev_L) ** 2) / (2 * 5.0 ** 2)) * inside
        if float((conf > 0.5).mean()) < self.min_reliable:
            return None  # flow failed (a cut the histogram missed, or chaos): start afresh
        warped = cv2.remap(self.prev_ab, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return warped, conf.astype(np.float32)


def make_smoother(mode: str) -> TemporalSmoother:
    """`flow` (default of `vidcolor run`), `ema` or `none`."""
    if mode == "flow":
        return FlowSmoothing()
    if mode == "ema":
        return EmaSmoothing()
    if mode == "none":
        return NoSmoothing()
    raise ValueError(f"unknown temporal mode {mode!r} (choose {', '.join(TEMPORAL_MODES)})")
