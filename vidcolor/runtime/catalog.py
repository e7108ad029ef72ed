"""The models that ship inside the package, and what their own metadata says about them.

The weights are package data (`vidcolor/models/*.safetensors`), found through `importlib.resources`
so that a wheel installed anywhere finds them just as a clone does. Nothing here imports torch:
the command line lists the names in its help without loading a model.
"""
from __future__ import annotations

import textwrap
from importlib.resources import files
from pathlib import Path
from typing import Any

from ..utils.choices import DEFAULT_MODEL
from ..utils.errors import UserError

SCORED_ON = "photos/val"  # the validation set whose full-path scores `vidcolor models` shows


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


def _score(meta: dict[str, Any], key: str) -> float | None:
    """A full-path score on SCORED_ON from the metadata, or None where the file records none."""
    value = meta.get("scores", {}).get(SCORED_ON, {}).get(key)
    return float(value) if isinstance(value, (int, float)) else None


def _run_said(meta: dict[str, Any]) -> str:
    """What an exported run's file says of its training, for a file no one has described: its steps and its
    run's own validation (at working size, so not the full-path scores of the columns)."""
    steps, val = meta.get("steps"), meta.get("val")
    if not isinstance(steps, int):
        return ""
    tables = [f"{label} {t['psnr']:.2f} dB / {t['colourfulness']:.1f}"
              for label, t in (val.items() if isinstance(val, dict) else ())
              if isinstance(t, dict) and all(isinstance(t.get(k), (int, float)) for k in ("psnr", "colourfulness"))]
    said = f"; its run's validation at working size: {', '.join(tables)}" if tables else ""
    return f"trained {steps:,} steps{said}"


def describe(name: str, path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """One model as `vidcolor models` reports it: only what its file says, never a guess. It is the default
    when it is the default's file, however it was named."""
    default = shipped_models().get(DEFAULT_MODEL)
    return {"name": name, "family": meta.get("family"), "description": meta.get("description") or _run_said(meta),
            "size_mb": round(path.stat().st_size / 1e6, 1), "psnr": _score(meta, "psnr"),
            "ssim": _score(meta, "ssim"), "colourfulness": _score(meta, "colourfulness"),
            "default": default is not None and path.resolve() == default.resolve(),
            "hints": bool(meta.get("arch", {}).get("hints"))}


def _cell(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def format_models(rows: list[dict[str, Any]], width: int | None = None) -> str:
    """The models as an aligned text table, scores '-' where a file records none.

    Given a terminal `width`, the descriptions wrap under their own column instead of running past the
    screen's edge and breaking the table's alignment; where that column would be narrower than 30
    characters, each description goes on its own indented lines under its model's row.
    """
    header = ["name", "family", "size MB", f"PSNR dB ({SCORED_ON})", "colourfulness", "default", "hints"]
    lines = [[r["name"], str(r["family"]), _cell(r["size_mb"], ".1f"), _cell(r["psnr"], ".2f"),
              _cell(r["colourfulness"], ".1f"), "yes" if r["default"] else "", "yes" if r["hints"] else "no"]
             for r in rows]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    column = sum(widths) + 2 * len(widths)
    beside = width is None or width - column >= 30
    indent = column if beside else 4
    out = []
    for cells, text in [(header, "description" if beside else ""),
                        *zip(lines, (r["description"] for r in rows), strict=True)]:
        wrapped = textwrap.wrap(text, width - indent) if width else [text]
        first, rest = (wrapped[:1], wrapped[1:]) if beside else ([], wrapped)
        out.append("  ".join([*(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)), *first]).rstrip())
        out.extend(" " * indent + line for line in rest)
    return "\n".join(out)
