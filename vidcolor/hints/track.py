"""Carrying hints through a film's shot: a hint on one frame is followed along the optical flow (pyramidal
Lucas-Kanade on the luma), forwards and backwards, until a scene cut or until the flow loses it (the forward
and backward tracks disagree: an occlusion; or it leaves the picture). A cut is what changes the luma's
histogram (runtime.temporal), or what loses most of a keyframe's points at once. One click on a coat in one frame so
colours that coat for the whole shot; hints never cross a cut.

Memory: the frames of a shot are held (small, at the tracking size) only between its start and its last
hinted frame, for the backward carry; once the last hint is past and lost, the film is read no further.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import cv2
import numpy as np

from ..runtime.hints import no_points
from ..runtime.temporal import SceneCutDetector

TRACK_SIZE = 240  # the short side, in pixels, at which hints are followed
MISMATCH = 1.0  # pixels at the tracking size: a point whose backward track ends farther from its start is lost
CROWD, MOSTLY_LOST = 16, 0.6  # a keyframe's crowd of points mostly lost in one step: a cut the histogram missed
_LK = {"winSize": (21, 21), "maxLevel": 3, "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}


def follow(frame: np.ndarray, to: np.ndarray, points: np.ndarray, scale: float) -> np.ndarray:
    """`points` (N, 5 rows of x, y in the film's pixels, then colour) of grey `frame` -> where they are in the
    grey frame `to`; those the flow loses are left out. `scale`: the grey frames' size over the film's."""
    if not len(points):
        return points
    start = (points[:, :2] * scale).astype(np.float32).reshape(-1, 1, 2)
    there, found, _ = cv2.calcOpticalFlowPyrLK(frame, to, start, None, **_LK)
    back, found_back, _ = cv2.calcOpticalFlowPyrLK(to, frame, there, None, **_LK)
    there, start, back = there.reshape(-1, 2), start.reshape(-1, 2), back.reshape(-1, 2)
    h, w = to.shape
    kept = (found[:, 0].astype(bool) & found_back[:, 0].astype(bool)
            & (np.abs(start - back).max(axis=1) < MISMATCH)
            & (there[:, 0] >= 0) & (there[:, 0] < w) & (there[:, 1] >= 0) & (there[:, 1] < h))
    if len(points) >= CROWD and kept.mean() < 1.0 - MOSTLY_LOST:
        kept[:] = False
    moved = points[kept].copy()
    moved[:, :2] = there[kept] / scale
    return moved


def carry(frames: Iterable[np.ndarray], seeds: dict[int, np.ndarray], scale: float) -> tuple[dict[int, np.ndarray],
                                                                                             int]:
    """The film's grey frames at the tracking size (in order) and the hints given on some of them
    (frame -> points) -> the points on every frame they reach, and how many frames were read. A frame's own
    hints come last, so they win over carried ones where they meet."""
    carried: dict[int, list[np.ndarray]] = defaultdict(list)
    cuts = SceneCutDetector()
    shot: list[np.ndarray] = []  # the shot's frames so far, while a hint may still come in it
    moving: list[np.ndarray] = []  # points carried forwards, where they were on the previous frame
    last_seed, previous, read = max(seeds, default=-1), None, 0
    for index, grey in enumerate(frames):
        read = index + 1
        if cuts(grey.astype(np.float32) * (100 / 255)):
            shot, moving = [], []
        elif previous is not None:
            moving = [p for p in (follow(previous, grey, m, scale) for m in moving) if len(p)]
            carried[index] += moving
        if index in seeds:
            _carry_back(grey, shot, index, seeds[index], scale, carried)
            moving.append(seeds[index])
        if index < last_seed:
            shot.append(grey)
        else:
            shot = []
        previous = grey
        if index >= last_seed and not moving:
            break
    points = {i: np.concatenate(p) for i, p in carried.items() if p}
    for index, own in seeds.items():
        points[index] = np.concatenate([points.get(index, no_points()), own])
    return points, read


def _carry_back(grey: np.ndarray, shot: list[np.ndarray], index: int, points: np.ndarray, scale: float,
                carried: dict[int, list[np.ndarray]]) -> None:
    """Follow `points` of frame `index` backwards through the shot's earlier frames, until the flow loses them."""
    later = grey
    for back, earlier in enumerate(reversed(shot), start=1):
        points = follow(later, earlier, points, scale)
        if not len(points):
            return
        carried[index - back].append(points)
        later = earlier
