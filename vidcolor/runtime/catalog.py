"""The models that ship inside the package, and what their own metadata says about them.

The weights are package data (`vidcolor/models/*.safetensors`), found through `importlib.resources`
so that a wheel installed anywhere finds them just as a clone does. Nothing here imports torch:
the command line lists the names in its help without loading a model.
"""
from __future__ import annotations

import math
import textwrap
from importlib.resources import files
from pathlib import Path
from typing import Any

from ..utils.choices import DEFAULT_MODEL
from ..utils.errors import UserError

SCORED_ON = "photos/val"  # the validation set whose full-path scores `vidcolor models` shows
FILM_SCORED_ON = "videos/color"  # the film frames', in --json (the table keeps to a terminal's width)


def models_dir() -> Path:
    """The package's folder of shipped weights (a real folder: wheels install as files, not zipped)."""
    folder = files("vidcolor") / "models"
    if not isinstance(folder, Path):  # a zipped install; torch could not load from one either
        raise UserError(f"vidcolor is installed where its model files are not files ({folder})")
    return folder


def shipped_models() -> dict[str, Path]:
    """Models that come with vidcolor, by name (the file's stem), the default first."""
    found = sorted(models_dir().glob("*.safetensors"), key=lambda p: (p.stem != DEFAULT_MODEL, p.stem))
    return {p.stem: p for p in found}


def _field(meta: Any, *keys: str) -> Any:
    """meta[k1][k2]..., or None where the file's metadata lacks the field or has something else than an object
    on the way: a model file is the user's, and what it holds is read, not trusted."""
    for key in keys:
        meta = meta.get(key) if isinstance(meta, dict) else None
    return meta


def _number(value: Any) -> float | None:
    """A finite number, or None (a score of NaN, infinity, True or text is no score)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    """Text to show on a terminal: a string's printable characters (no escape codes from a file), else ''."""
    return "".join(ch for ch in value if ch.isprintable()) if isinstance(value, str) else ""


def _run_said(meta: dict[str, Any]) -> str:
    """What an exported run's file says of its training, for a file no one has described: its steps and its
    run's own validation (at working size, so not the full-path scores of the columns)."""
    steps, val = meta.get("steps"), meta.get("val")
    if type(steps) is not int or steps < 0:
        return ""
    tables = [f"{_text(label)} {psnr:.2f} dB / {colour:.1f}"
              for label in (val if isinstance(val, dict) else ())
              if (psnr := _number(_field(val, label, "psnr"))) is not None
              and (colour := _number(_field(val, label, "colourfulness"))) is not None]
    at = meta.get("val_step")
    step = f" at step {at:,}" if type(at) is int and at != steps else ""  # a stop cut the last one short
    said = f"; its run's validation{step} at working size: {', '.join(tables)}" if tables else ""
    return f"trained {steps:,} steps{said}"


def _megabytes(size: int) -> float:
    """A file's size in MB to a tenth, and a small one's to two figures (a model of 30 KB is not 0.0)."""
    return round(size / 1e6, 1) if size >= 1e5 else float(f"{size / 1e6:.2g}")


def describe(name: str, path: Path, meta: dict[str, Any], default: Path | None) -> dict[str, Any]:
    """One model as `vidcolor models` reports it: only what its file says, never a guess, and a field the file
    gets wrong as if it were missing. It is the default when it is the `default` model's file, however it was
    named."""
    return {"name": name, "family": _text(meta.get("family")) or None,
            "description": _text(meta.get("description")) or _run_said(meta),
            "size_mb": _megabytes(path.stat().st_size),
            **{key: _number(_field(meta, "scores", SCORED_ON, key)) for key in ("psnr", "ssim", "colourfulness")},
            **{f"film_{key}": _number(_field(meta, "scores", FILM_SCORED_ON, key))
               for key in ("psnr", "colourfulness")},
            "default": default is not None and path.resolve() == default.resolve(),
            "hints": _field(meta, "arch", "hints") is True}


def _cell(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def format_models(rows: list[dict[str, Any]], width: int | None = None) -> str:
    """The models as an aligned text table, scores '-' where a file records none.

    Given a terminal `width`, the descriptions wrap under their own column instead of running past the
    screen's edge and breaking the table's alignment; where that column would be narrower than 30
    characters, each description goes on its own indented lines under its model's row.
    """
    header = ["name", "family", "size MB", f"PSNR dB ({SCORED_ON})", "colourfulness", "default", "hints"]
    lines = [[r["name"], r["family"] or "-", _cell(r["size_mb"], ".1f" if r["size_mb"] >= 0.1 else ".2g"),
              _cell(r["psnr"], ".2f"), _cell(r["colourfulness"], ".1f"), "yes" if r["default"] else "",
              "yes" if r["hints"] else "no"]
             for r in rows]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    column = sum(widths) + 2 * len(widths)
    beside = width is None or width - column >= 30
    indent = column if beside else 4
    out = []
    for cells, text in [(header, "description" if beside else ""),
                        *zip(lines, (r["description"] for r in rows), strict=True)]:
        wrapped = textwrap.wrap(text, max(width - indent, 20)) if width else [text]  # a terminal too narrow wraps
        first, rest = (wrapped[:1], wrapped[1:]) if beside else ([], wrapped)
        out.append("  ".join([*(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)), *first]).rstrip())
        out.extend(" " * indent + line for line in rest)
    return "\n".join(out)
