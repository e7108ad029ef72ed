"""Carrying hints through a film's shot: a hint on one frame is moved along the optical flow of the luma
(OpenCV's DIS, dense, so points on a flat sky or wall move with their surroundings), forwards and backwards,
until a scene cut or until the flow loses it: it leaves the picture, or the picture around it no longer looks
as it did where it was given (something passed in front of it, or it drifted onto something else, as a point
on a bus does onto the tree the bus passes: the dissimilarity check of Shi and Tomasi's tracker). A
forward-backward check of the flow was used before; on grainy, foggy or fast footage the flow is noisy enough
that it lost every click within a second, where their looks still held. One click on a coat in one frame so
colours that coat for the whole shot; hints never cross a cut: where the luma's histogram changes
(runtime.temporal) and the frames no longer correlate along the flow, or where they correlate too little
whatever the histogram says.

Memory: the frames of a shot are held (small, at the tracking size) only between its start and its last
hinted frame, for the backward carry; once the last hint is past and lost, the film is read no further.
A hint is carried at most MAX_CARRY frames each way, which bounds both.
"""
from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable

import cv2
import numpy as np

from ..runtime.hints import no_points
from ..runtime.temporal import SceneCutDetector
from ..utils.flow import dis_fits

TRACK_SIZE = 240  # the short side, in pixels, at which hints are followed
LOOK = 3  # a point's look: the (2 LOOK + 1)² luma around it at the tracking size, in units of its frame's spread
BLUR = 1.5  # pixels at the tracking size: film grain smoothed away before looks are compared
UNLIKE = 0.5  # a point whose look differs from where it was given by more than this (mean) is lost
_AROUND = np.stack(np.meshgrid(*[np.arange(-LOOK, LOOK + 1, dtype=np.float32)] * 2), axis=-1).reshape(-1, 2)
NUDGE = 2  # pixels at the tracking size, each way, that a click's place may be set right on each frame (_nudged)
_NUDGES = np.array(sorted(((x, y) for x in range(-NUDGE, NUDGE + 1) for y in range(-NUDGE, NUDGE + 1)),
                          key=lambda step: step[0] ** 2 + step[1] ** 2), np.float32)  # none first, then the nearest
CLEARLY = 0.05  # less look difference (mean, in units of the frame's spread) that makes a nudge worth it
DRIFTING = 0.2  # look difference from where it was given past which a click is nudged (UNLIKE: lost)
MAX_CARRY = 3000  # frames: two minutes at 25 fps, longer than all but a few shots
_MAP_ROWS = 32_000  # OpenCV remaps with maps of fewer than 32,767 rows (SHRT_MAX)
# Two frames are of one shot when their luma, one moved along the flow onto the other, correlates (unchanged by
# fades, flashes and fog) at least this much: after a histogram cut (a low-contrast shot's histogram jumps with
# noise), and on every frame (a cut the histogram missed: two shots alike in tone)
AFTER_HISTOGRAM_CUT, ALWAYS = 0.9, 0.5


class Flow:
    """DIS flow from one grey frame to another of its shot; None where they are too small to follow, or are not
    of one shot (their luma correlates less than `least` along the flow)."""

    def __init__(self) -> None:
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self.grid = np.zeros((0, 0, 2), np.float32)

    def __call__(self, frame: np.ndarray, to: np.ndarray, least: float = ALWAYS) -> np.ndarray | None:
        h, w = to.shape
        if not dis_fits(h, w):
            return None
        forward = self.dis.calc(frame, to, None)
        if self.grid.shape[:2] != (h, w):
            self.grid = np.dstack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
        seen = cv2.remap(to, self.grid + forward, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if _correlation(seen, frame) < least:
            return None
        return forward


def _correlation(one: np.ndarray, other: np.ndarray) -> float:
    """Pearson correlation of two pictures' values; 0 where one is flat (nothing there to follow)."""
    a, b = (p.astype(np.float32).ravel() for p in (one, other))
    a, b = a - a.mean(), b - b.mean()
    norm = float(np.sqrt((a @ a) * (b @ b)))
    return float(a @ b) / norm if norm > 0 else 0.0


def follow(points: np.ndarray, looks: np.ndarray, flow: np.ndarray | None, seen: np.ndarray,
           scale: float) -> tuple[np.ndarray, np.ndarray]:
    """`points` (N, 5 rows of x, y in the film's pixels, then colour) moved along `flow` (at `scale` times the
    film's size) onto the frame `seen` (its `_look_map`), with their `looks` where given; those that leave the
    picture, or no longer look as they did, are left out."""
    if flow is None or not len(points):
        return points[:0], looks[:0]
    start = points[:, :2] * scale
    there = start + _sample(flow, start)
    clicks = points[:, 4] == 0
    there[clicks] = _nudged(seen, there[clicks], looks[clicks])
    h, w = flow.shape[:2]
    kept = (there[:, 0] >= 0) & (there[:, 0] < w) & (there[:, 1] >= 0) & (there[:, 1] < h)
    kept[kept] = np.abs(_look_at(seen, there[kept]) - looks[kept]).mean(axis=1) < UNLIKE
    moved = points[kept].copy()
    moved[:, :2] = there[kept] / scale
    return moved, looks[kept]


def _nudged(seen: np.ndarray, at: np.ndarray, looks: np.ndarray) -> np.ndarray:
    """(N, 2) places the flow brought clicks to, moved up to NUDGE pixels to where their look (as given) matches
    best, once it has drifted from its look and where that is clearly better: DIS runs a little slow on a moving
    object (a tenth of its speed), which over a shot adds up to losing the click; on a flat place no look is
    better, and the click stays."""
    costs = np.stack([np.abs(_look_at(seen, at + step) - looks).mean(axis=1) for step in _NUDGES], axis=1)
    best = costs.argmin(axis=1)
    better = (costs[:, 0] > DRIFTING) & (costs[np.arange(len(at)), best] < costs[:, 0] - CLEARLY)
    return at + _NUDGES[np.where(better, best, 0)]


def _look_map(grey: np.ndarray) -> np.ndarray:
    """A grey frame as looks are compared on it: smoothed (film grain does not count), less its mean, over its
    spread (so a fade, a flash or fog changes no look; a flat frame's noise is not magnified past 1 grey level).
    Made once per frame, whatever number of hints is carried onto it."""
    luma = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), BLUR)
    return (luma - luma.mean()) / max(float(luma.std()), 1.0)


def _look_at(seen: np.ndarray, at: np.ndarray) -> np.ndarray:
    """(N, (2 LOOK + 1)²): the `_look_map` `seen` around (N, 2) places."""
    if not len(at):
        return np.zeros((0, len(_AROUND)), np.float32)
    where = at.astype(np.float32)[:, None, :] + _AROUND[None]  # a row of the map per point, as _sample's
    return _remap_rows(seen, where[..., 0], where[..., 1])



def _sample(flow: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The flow (h, w, 2) at (N, 2) fractional places, bilinearly."""
    xs, ys = (at[:, i].astype(np.float32).reshape(-1, 1) for i in (0, 1))
    return _remap_rows(flow, xs, ys).reshape(-1, 2)


def _remap_rows(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """`image` bilinearly at the places (xs, ys), a row a point, in slices of as many rows as OpenCV's maps may
    have (fewer than 32,767: a hints file may give more points)."""
    return np.concatenate([cv2.remap(image, xs[i:i + _MAP_ROWS], ys[i:i + _MAP_ROWS], cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE) for i in range(0, len(xs), _MAP_ROWS)])


def carry(frames: Iterable[np.ndarray], seeds: dict[int, np.ndarray], scale: float) -> tuple[dict[int, np.ndarray],
                                                                                             int]:
    """The film's grey frames at the tracking size (in order) and the hints given on some of them
    (frame -> points) -> the points on every frame they reach, and how many frames were read. A frame's own
    hints come last, so they win over carried ones where they meet, and of carried ones those given on the nearest
    frame (two keyframes of one shot: each rules its own side of it)."""
    carried: dict[int, list[tuple[int, np.ndarray]]] = defaultdict(list)  # (the frame they were given on, points)
    cuts, flow = SceneCutDetector(), Flow()
    shot: deque[np.ndarray] = deque(maxlen=MAX_CARRY)  # the shot's frames so far, while a hint may still come
    moving: list[tuple[np.ndarray, np.ndarray, int]] = []  # points carried forwards: where on the previous frame,
    # how they looked where given, and on which frame
    last_seed, previous, read = max(seeds, default=-1), None, 0
    for index, grey in enumerate(frames):
        read = index + 1
        histogram_cut = cuts(grey.astype(np.float32) * (100 / 255))
        forward = None  # stays None where another shot begins: everything is lost
        if previous is not None and (moving or histogram_cut):
            forward = flow(previous, grey, AFTER_HISTOGRAM_CUT if histogram_cut else ALWAYS)
        if histogram_cut and forward is None:
            shot.clear()
            moving = []
        seen = _look_map(grey) if moving or index in seeds else None
        if moving:
            moving = [(*follow(p, looks, forward, seen, scale), given) for p, looks, given in moving
                      if index - given <= MAX_CARRY]
            moving = [m for m in moving if len(m[0])]
            carried[index] += [(given, p) for p, _, given in moving]
        if index in seeds:
            looks = _look_at(seen, seeds[index][:, :2] * scale)
            _carry_back(grey, shot, index, seeds[index], looks, scale, flow, carried)
            moving.append((seeds[index], looks, index))
        if index < last_seed:
            shot.append(grey)
        else:
            shot.clear()
        previous = grey
        if index >= last_seed and not moving:
            break
    points = {i: np.concatenate([p for _, p in sorted(came, key=lambda c: -abs(i - c[0]))])  # the nearest last
              for i, came in carried.items() if came}
    for index, own in seeds.items():
        points[index] = np.concatenate([points.get(index, no_points()), own])
    return points, read


def _carry_back(grey: np.ndarray, shot: deque[np.ndarray], index: int, points: np.ndarray, looks: np.ndarray,
                scale: float, flow: Flow, carried: dict[int, list[tuple[int, np.ndarray]]]) -> None:
    """Follow `points` of frame `index` backwards through the shot's earlier frames, until they leave the picture
    or no longer look as they did."""
    later = grey
    for back, earlier in enumerate(reversed(shot), start=1):
        points, looks = follow(points, looks, flow(later, earlier), _look_map(earlier), scale)
        if not len(points):
            return
        carried[index - back].append((index, points))
        later = earlier
