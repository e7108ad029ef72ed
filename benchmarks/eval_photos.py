"""Validation table for the shipped models: PSNR (RGB), SSIM, colourfulness on unseen photos.

Each photo's L is coloured through the same path `vidcolor run` uses (working size, guided
upsampling to full resolution) and compared with the original colour photo. Rows for
"grey" (a = b = 0, the floor) and "truth" (the photos themselves) frame the numbers.

    python benchmarks/eval_photos.py ../shared/data/photos/val --record photos/val

(every shipped model by default). `--record photos/val` writes each model's scores into its file's
metadata under that name, where `vidcolor models` shows them; the tensors are kept bit for bit.

`--temperatures 1 0.6 0.4` scores models with a binned chroma head (`--loss bins`) once per
annealed-mean temperature, the knob between faithful and vivid.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vidcolor.evaluate import desaturate
from vidcolor.inference import Colorizer
from vidcolor.media import find_media, read_image
from vidcolor.metrics import colourfulness, psnr, ssim
from vidcolor.weights import read_metadata, resolve_model_path, shipped_models, update_metadata


def score(outputs: list[np.ndarray], truths: list[np.ndarray]) -> dict[str, float]:
    return {"psnr": float(np.mean([psnr(o, t) for o, t in zip(outputs, truths)])),
            "ssim": float(np.mean([ssim(o, t) for o, t in zip(outputs, truths)])),
            "colourfulness": float(np.mean([colourfulness(o) for o in outputs]))}


def record(model: str, name: str, scores: dict[str, float]) -> None:
    """Keep a model's full-path scores in its own file, rounded as the model card prints them."""
    path = resolve_model_path(model)
    kept = {"psnr": round(scores["psnr"], 2), "ssim": round(scores["ssim"], 3),
            "colourfulness": round(scores["colourfulness"], 1)}
    update_metadata(path, {"scores": read_metadata(path).get("scores", {}) | {name: kept}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("--models", nargs="+", default=sorted(shipped_models()))
    parser.add_argument("--temperatures", type=float, nargs="+", help="Binned models: score each temperature.")
    parser.add_argument("--json", type=Path, help="Also write the table as JSON here.")
    parser.add_argument("--record", metavar="NAME", help="Write the scores into each model file's metadata.")
    args = parser.parse_args()
    torch.set_num_threads(2)

    truths = [read_image(p) for p in find_media(args.photos, kinds=("image",))]
    rows = {"grey": score([desaturate(t[None])[0] for t in truths], truths)}
    for name in args.models:
        colorizer = Colorizer.load(name)
        binned = getattr(colorizer.model, "ab_bins", 0)
        for t in (args.temperatures if binned and args.temperatures else [None]):
            label = name if t is None else f"{name} T={t:g}"
            if t is not None:
                colorizer.model.head.temperature = t
            start = time.perf_counter()
            outputs = [colorizer.colorize_rgb(x) for x in tqdm(truths, desc=label, leave=False)]
            ms = 1000 * (time.perf_counter() - start) / len(truths)
            rows[label] = {**score(outputs, truths), "ms_per_photo": ms}
            if args.record and t is None:
                record(name, args.record, rows[label])
    rows["truth"] = score(truths, truths) | {"psnr": float("inf")}

    print(f"{len(truths)} photos from {args.photos}")
    width = max(8, *map(len, rows))
    print(f"| {'model':{width}} | PSNR dB | SSIM  | colourfulness | ms/photo |")
    print(f"|{'-' * (width + 2)}|---------|-------|---------------|----------|")
    for name, r in rows.items():
        ms = f"{r['ms_per_photo']:.0f}" if "ms_per_photo" in r else "-"
        print(f"| {name:{width}} | {r['psnr']:7.2f} | {r['ssim']:.3f} | {r['colourfulness']:13.1f} | {ms:>8} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
