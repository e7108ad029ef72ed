"""Validation outputs a person can look at: metrics CSV, a PNG plot of the curves, a sample grid."""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from ..evaluation.report import write_png
from ..utils.atomic import written_atomically

PLOTTED = ("psnr", "colourfulness", "ab_mse")  # of each validation table, beside the training loss


def append_csv(path: Path, row: dict[str, float]) -> None:
    """Add a row, rewriting the (small) file atomically. Rows from this step on are dropped first: they were
    logged after the checkpoint a resumed run goes on from. Columns are the union, so a resumed run of a newer
    vidcolor that logs more metrics keeps the old rows."""
    rows = [*(r for r in (read_csv(path) if path.exists() else []) if r.get("step", 0) < row["step"]), row]
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with written_atomically(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: Path) -> list[dict[str, float]]:
    """The rows of a metrics.csv; steps stay whole numbers, so rows written again still read `200`, not `200.0`."""
    with path.open() as f:
        return [{k: int(float(v)) if k == "step" else float(v) for k, v in row.items() if k and v}
                for row in csv.DictReader(f)]


def plot_curves(rows: list[dict[str, float]], path: Path) -> None:
    """One small panel per metric against step (the training loss, then each table's metrics), drawn with
    OpenCV (no plotting library needed)."""
    pw, ph, pad = 320, 200, 36
    tables = dict.fromkeys(k.split("/")[0] for r in rows for k in r if "/" in k)
    names = ["train_loss", *(f"{t}/{m}" for t in tables for m in PLOTTED)]
    canvas = np.full((ph, pw * len(names), 3), 255, np.uint8)
    steps = np.array([r["step"] for r in rows], dtype=float)
    for i, name in enumerate(names):
        x0 = i * pw
        vals = np.array([r.get(name, np.nan) for r in rows], dtype=float)
        steps_known = steps[~np.isnan(vals)]
        vals = vals[~np.isnan(vals)]
        if not len(vals):
            continue
        cv2.putText(canvas, f"{name}: {vals[-1]:.4g}", (x0 + 8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
        cv2.rectangle(canvas, (x0 + pad, pad), (x0 + pw - 8, ph - 20), (180, 180, 180), 1)
        lo, hi = vals.min(), vals.max()
        span_s, span_v = steps_known[-1] - steps_known[0], hi - lo
        # one value (a run's first validation) is a dot in the middle, not an empty box
        middle = np.full(len(vals), 0.5)
        xs = x0 + pad + ((steps_known - steps_known[0]) / span_s if span_s else middle) * (pw - pad - 8)
        ys = ph - 20 - ((vals - lo) / span_v if span_v else middle) * (ph - 20 - pad)
        pts = np.stack([xs, ys], 1).round().astype(np.int32)
        cv2.polylines(canvas, [pts], False, (200, 80, 20), 2)
        for point in pts:  # the validations are few: each is marked
            cv2.circle(canvas, (int(point[0]), int(point[1])), 3, (200, 80, 20), -1)
        cv2.putText(canvas, f"{hi:.3g}", (x0 + 2, pad + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (90, 90, 90), 1)
        cv2.putText(canvas, f"{lo:.3g}", (x0 + 2, ph - 20), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (90, 90, 90), 1)
    write_png(path, canvas)
