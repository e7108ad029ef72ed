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

from collections import deque
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import cv2
import numpy as np
import torch

from ..utils.choices import TEMPORAL_MODES
from ..utils.flow import dis_fits


class TemporalSmoother(Protocol):
    window: int  # frames of look-ahead: a frame's chroma is final up to frames_ahead(window) frames later

    def __call__(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """(B, 1, h, w) L in [0, 100] and (B, 2, h, w) predicted a/b of the next frames -> the smoothed a/b
        of the oldest frames that are now final, in film order (B of them when there is no look-ahead)."""

    def flush(self) -> torch.Tensor:
        """The smoothed a/b of the frames still held back: the film has ended."""


def _luma_signature(L: np.ndarray) -> np.ndarray | None:
    """Histogram of contrast-normalised L: unchanged by fades, changed by cuts. None for flat frames."""
    std = float(L.std())
    if std < 2.0:
        return None
    bins = np.floor((L - L.mean()) * (32 / 6.0 / std) + 16.0).astype(np.int64).ravel()  # z in [-3, 3) -> 0..31
    hist = np.bincount(bins[(bins >= 0) & (bins < 32)], minlength=32)  # np.histogram's result, several times faster
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


class NoSmoothing:
    """Frame-by-frame colour, exactly as the model predicts it."""

    window = 0

    def __call__(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        return ab

    def flush(self) -> torch.Tensor:
        return torch.empty(0, 2, 0, 0)


class Link(NamedTuple):
    """Where each pixel of a frame is found in a neighbouring frame, and how far to trust that."""
    where: np.ndarray | None  # (h, w, 2) sample positions in the neighbour; None: the same pixel
    conf: np.ndarray  # (h, w) in [0, 1]

    def pull(self, ab: np.ndarray) -> np.ndarray:
        """The neighbour's (h, w, 2) chroma brought onto this frame."""
        if self.where is None:
            return ab
        return cv2.remap(ab, self.where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class StillMotion:
    """No motion compensation: a pixel is linked to the same pixel while its luma stays."""

    def links(self, prev: np.ndarray, cur: np.ndarray, ahead: bool) -> tuple[Link, Link | None] | None:
        link = Link(None, np.exp(-((cur - prev) ** 2) / (2 * 6.0 ** 2)).astype(np.float32))
        return link, link if ahead else None


class FlowMotion:
    """Links along DIS optical flow on L, trusted where forward and backward flow agree and luma matches.

    Two standards: a generous one weights the blend (`flow_sigma` pixels of forward-backward
    disagreement at working size, `luma_sigma` L units of luma difference, each where trust falls
    to e^-0.5), and a strict one (1 px, 5 L units) decides whether the flow worked at all, so a
    cut between two similar-looking shots still starts afresh.
    """

    def __init__(self, min_reliable: float = 0.2, flow_sigma: float = 2.0, luma_sigma: float = 8.0) -> None:
        self.min_reliable, self.flow_sigma, self.luma_sigma = min_reliable, flow_sigma, luma_sigma
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self.grid = np.zeros((0, 0, 2), np.float32)

    def links(self, prev: np.ndarray, cur: np.ndarray, ahead: bool) -> tuple[Link, Link | None] | None:
        """(cur -> prev link, prev -> cur link if `ahead`), or None where the flow failed (start afresh)."""
        if not dis_fits(*cur.shape):
            return StillMotion().links(prev, cur, ahead)
        a, b = (np.clip(x * 2.55, 0, 255).astype(np.uint8) for x in (prev, cur))
        bw = self.dis.calc(b, a, None)  # pixel p of cur was at p + bw[p] in prev
        fw = self.dis.calc(a, b, None)
        if self.grid.shape[:2] != cur.shape:
            h, w = cur.shape
            self.grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), -1)
        back, reliable = self._link(bw, fw, cur, prev)
        if reliable < self.min_reliable:
            return None  # a cut the histogram missed, or chaos
        return back, self._link(fw, bw, prev, cur)[0] if ahead else None

    def _link(self, flow: np.ndarray, reverse: np.ndarray, L: np.ndarray, other: np.ndarray) -> tuple[Link, float]:
        """The link along `flow`, and the share of pixels that pass the strict standard."""
        h, w = L.shape
        where = self.grid + flow
        miss = flow + cv2.remap(reverse, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        round_trip = miss[..., 0] ** 2 + miss[..., 1] ** 2
        seen = cv2.remap(other.astype(np.float32), where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        luma = (L - seen) ** 2
        inside = (where[..., 0] >= 0) & (where[..., 0] <= w - 1) & (where[..., 1] >= 0) & (where[..., 1] <= h - 1)
        trust = np.exp(-round_trip / (2 * self.flow_sigma ** 2) - luma / (2 * self.luma_sigma ** 2)) * inside
        strict = (round_trip / 2.0 + luma / (2 * 5.0 ** 2) < np.log(2.0)) & inside  # exp(-...) > 0.5
        return Link(where, trust.astype(np.float32)), float(strict.mean())


@dataclass
class _Held:
    """A frame waiting for its look-ahead: its forward result, and its link to the next frame once that came."""
    forward: np.ndarray
    ahead: Link | None = None


class RecurrentSmoothing:
    """Each frame's prediction is blended with the previous output carried along a motion link.

    With a look-ahead window of K frames it is a forward-backward smoother: a frame's output is
    settled by a second, backward pass over the forward results of at least K frames after it, so
    colour is pulled towards the future as well as the past (no trailing after motion, and the
    first frames of a shot are as steady as the rest). Memory: at most 2K small frames.
    """

    def __init__(self, motion: StillMotion | FlowMotion, strength: float, window: int = 0) -> None:
        if window < 0:
            raise ValueError("the look-ahead window cannot be negative")
        self.motion, self.strength, self.window = motion, strength, window
        self.cuts = SceneCutDetector()
        self.prev_L: np.ndarray | None = None
        self.prev_out: np.ndarray | None = None
        self.held: deque[_Held] = deque()
        self.empty = torch.empty(0, 2, 0, 0)

    def __call__(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        self.empty = ab[:0]
        settled = []
        for lum, pred in zip(L[:, 0].float().cpu().numpy(), ab.float().cpu().numpy().transpose(0, 2, 3, 1)):
            found = None
            if not self.cuts(lum) and self.prev_out is not None:
                found = self.motion.links(self.prev_L, lum, ahead=self.window > 0)
            if found is not None:
                back, ahead = found
                pred = self._blend(pred, back, self.prev_out)
                if self.held:
                    self.held[-1].ahead = ahead
            self.held.append(_Held(pred))
            self.prev_L, self.prev_out = lum, pred
            if len(self.held) >= max(1, 2 * self.window):
                settled += self._settle(max(1, self.window))
        return self._tensor(settled)

    def flush(self) -> torch.Tensor:
        return self._tensor(self._settle(len(self.held)))

    def _blend(self, own: np.ndarray, link: Link, neighbour: np.ndarray) -> np.ndarray:
        out = link.pull(neighbour) - own
        out *= (self.strength * link.conf)[..., None]
        out += own
        return out

    def _settle(self, n: int) -> list[np.ndarray]:
        """The final chroma of the `n` oldest held frames: one backward pass from the newest down to them.

        Passes run once per `window` frames over the 2·window held, so each frame gets between
        window and 2·window - 1 frames of look-ahead for two blends' work, not window blends.
        """
        if not self.held:
            return []
        frames = list(self.held)
        out = frames[-1].forward
        settled = [out] if len(frames) <= n else []
        for i in range(len(frames) - 2, -1, -1):
            frame = frames[i]
            out = frame.forward if frame.ahead is None else self._blend(frame.forward, frame.ahead, out)
            if i < n:
                settled.append(out)
        for _ in range(n):
            self.held.popleft()
        return settled[::-1]

    def _tensor(self, frames: list[np.ndarray]) -> torch.Tensor:
        if not frames:
            return self.empty
        return torch.from_numpy(np.stack(frames).transpose(0, 3, 1, 2).copy()).to(self.empty)


def frames_ahead(window: int) -> int:
    """The most frames after a frame that can still change its colour, with a look-ahead `window`."""
    return max(0, 2 * window - 1)


def make_smoother(mode: str, window: int = 0) -> TemporalSmoother:
    """`flow` (default of `vidcolor run`), `ema` or `none`; `window` frames of look-ahead."""
    if mode == "flow":
        return RecurrentSmoothing(FlowMotion(), strength=0.85, window=window)
    if mode == "ema":  # no motion compensation: cheap, but trails on motion
        return RecurrentSmoothing(StillMotion(), strength=0.6, window=window)
    if mode == "none":
        return NoSmoothing()
    raise ValueError(f"unknown temporal mode {mode!r} (choose {', '.join(TEMPORAL_MODES)})")
