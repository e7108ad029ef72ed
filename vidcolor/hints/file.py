"""A hints file: a JSON list of `{"x": 120, "y": 44, "color": "#a03020"}`, pixel coordinates of the picture
upright (a photo after its EXIF turn, a film as a player shows it), the colour in sRGB hex of which only the
chroma is used. A film's hint may say `"frame": N` (0-based) or `"time": seconds`; without either it belongs
to frame 0.

Every mistake is one line naming the file and the entry, found before any work is done."""
from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..runtime.color import AB_SCALE, rgb_to_lab
from ..runtime.hints import POINT_FIELDS
from ..utils.choices import MAX_FRAME
from ..utils.errors import UserError, shown

_HEX = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")
_KEYS = {"x", "y", "color", "frame", "time"}
MAX_FILE_BYTES = 20_000_000  # ~200,000 hints: more than any hand gives


@dataclass(frozen=True)
class Hint:
    """A colour at a place: x, y in the picture's pixels, a/b scaled to the model's [-1, 1]; `frame` (or
    `time`, in seconds) says which frame of a film, None for both: the first."""

    x: float
    y: float
    a: float
    b: float
    frame: int | None = None
    time: float | None = None


def color_ab(color: str) -> tuple[float, float]:
    """'#a03020' (or 'a03020', '#a32') -> its a/b, scaled. Raises ValueError for anything else."""
    digits = _hex_digits(color)
    return _colors_ab([digits])[digits]


def _hex_digits(color: Any) -> str:
    """A colour's six hex digits, lower case. Raises ValueError for anything but an sRGB hex colour."""
    match = _HEX.fullmatch(color.strip()) if isinstance(color, str) else None
    if match is None:
        raise ValueError(f"color {shown(color)} is not an sRGB hex colour such as \"#a03020\"")
    digits = match.group(1).lower()
    return "".join(d * 2 for d in digits) if len(digits) == 3 else digits


def _colors_ab(colors: list[str]) -> dict[str, tuple[float, float]]:
    """Each colour's a/b, all converted at once: one at a time took a millisecond each, minutes for a large file."""
    unique = sorted(set(colors))
    rgb = torch.tensor([[int(d[i:i + 2], 16) / 255.0 for i in (0, 2, 4)] for d in unique]).reshape(-1, 3)
    lab = rgb_to_lab(rgb.T.reshape(3, -1, 1))
    ab = (lab[1:, :, 0].T / AB_SCALE).tolist()
    return {d: (a, b) for d, (a, b) in zip(unique, ab, strict=True)}


def _number(entry: dict[str, Any], key: str) -> float:
    value = entry[key]
    try:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise OverflowError
        return float(value)
    except OverflowError:  # also an integer of hundreds of digits
        raise ValueError(f"{key} {shown(value)} is not a number") from None


def _hint(entry: Any) -> tuple[Hint, str]:
    """The hint an entry gives, its colour as hex digits yet to be converted (all of a file's at once)."""
    if not isinstance(entry, dict):
        raise ValueError("is not an object such as {\"x\": 120, \"y\": 44, \"color\": \"#a03020\"}")
    missing = [k for k in ("x", "y", "color") if k not in entry]
    if missing:
        raise ValueError(f"has no {' or '.join(missing)}")
    if unknown := sorted(set(entry) - _KEYS):
        raise ValueError(f"has an unknown key {unknown[0]!r} (hints take x, y, color, and for films frame or time)")
    if "frame" in entry and "time" in entry:
        raise ValueError("gives both frame and time: give one")
    frame = entry.get("frame")
    if frame is not None and (isinstance(frame, bool) or not isinstance(frame, numbers.Integral)
                              or not 0 <= frame < MAX_FRAME):
        raise ValueError(f"frame {shown(frame)} is not a frame number (0 is the first)")
    time = _number(entry, "time") if "time" in entry else None
    if time is not None and time < 0:
        raise ValueError(f"time {time:g} is before the film starts")
    return (Hint(_number(entry, "x"), _number(entry, "y"), 0.0, 0.0, None if frame is None else int(frame), time),
            _hex_digits(entry["color"]))


def parse_hints(data: Any, name: str) -> list[Hint]:
    """The hints of a parsed hints file (`name` for messages). Raises UserError naming the entry at fault."""
    if not isinstance(data, list):
        raise UserError(f"{name}: a hints file is a JSON list of {{\"x\", \"y\", \"color\"}} entries")
    hints, colors = [], []
    for i, entry in enumerate(data):
        try:
            hint, color = _hint(entry)
        except ValueError as exc:
            raise UserError(f"{name}: entry {i}: {exc}") from None
        hints.append(hint)
        colors.append(color)
    ab = _colors_ab(colors) if colors else {}
    return [replace(hint, a=ab[color][0], b=ab[color][1]) for hint, color in zip(hints, colors, strict=True)]


def read_hints(path: Path) -> list[Hint]:
    """The hints in the file at `path`. Raises UserError for a missing, unreadable or malformed file."""
    try:
        with path.open("rb") as f:  # read, not sized: a pipe or a device has no size and may never end
            raw = f.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise UserError(f"{path}: more than {MAX_FILE_BYTES // 1_000_000} MB is not a hints file")
        text = raw.decode("utf-8-sig")  # a byte-order mark, as Windows Notepad writes, is no part of the JSON
    except FileNotFoundError:
        raise UserError(f"{path}: no such hints file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read the hints file ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except (ValueError, RecursionError):  # a number of thousands of digits, lists nested thousands deep
        raise UserError(f"{path}: not a hints file (JSON beyond what a hints file holds)") from None
    return parse_hints(data, str(path))


def points_of(hints: list[Hint]) -> np.ndarray:
    """Hints as the (N, 5) point rows the model is given (runtime.hints.Told), each a click."""
    return np.array([[h.x, h.y, h.a, h.b, 0.0] for h in hints], np.float32).reshape(-1, POINT_FIELDS)


def check_hints_fit(hints: list[Hint], width: int, height: int, name: str, film: bool = False) -> None:
    """Refuse a hint outside a `width` x `height` picture, or a photo's hint that names a frame."""
    for i, hint in enumerate(hints):
        if not (0 <= hint.x < width and 0 <= hint.y < height):
            raise UserError(f"{name}: entry {i}: ({hint.x:g}, {hint.y:g}) is outside the picture "
                            f"({width} x {height} pixels)")
        if not film and (hint.frame is not None or hint.time is not None):
            raise UserError(f"{name}: entry {i}: a photo has no frames or times")
