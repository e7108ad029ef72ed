"""Validation tables for the shipped models: PSNR (RGB), SSIM, colourfulness on unseen photos and film frames.

Each picture's L is coloured through the same path `vidcolor run` uses for a photo (working size,
guided upsampling to full resolution) and compared with the original in colour. Rows for "grey"
(a = b = 0, the floor) and "truth" (the pictures themselves) frame the numbers. Each folder is a
table of its own; a folder of colour films is scored on every `--frame-stride`-th frame, frame by
frame (no temporal smoothing), so a model that gains on photos but loses on film shows it.

    python benchmarks/eval_photos.py ../shared/data/photos/val ../shared/data/videos/color --fp32 --record

(every shipped model by default). `--fp32` turns bf16 off, so the numbers are those of a CPU without native bf16
(the precision the shipped files' scores are recorded in; on a CPU with it, inference runs in bf16, within a few
hundredths of a dB). `--record` writes each model's scores into its file's metadata, a
table under its folder's last two names (`photos/val`, `videos/color`), where `vidcolor models` shows
them; the tensors are kept bit for bit.

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

from vidcolor.evaluation.evaluate import desaturate
from vidcolor.evaluation.metrics import colorfulness, psnr, ssim
from vidcolor.evaluation.report import sample_grid
from vidcolor.film.frames import video_frames
from vidcolor.photo.read import read_image
from vidcolor.runtime import device
from vidcolor.runtime.inference import Colorizer
from vidcolor.runtime.weights import read_metadata, resolve_model_path, shipped_models, update_metadata
from vidcolor.training.data import looks_grey
from vidcolor.utils.paths import find_media, is_video


def score(outputs: list[np.ndarray], truths: list[np.ndarray]) -> dict[str, float]:
    return {"psnr": float(np.mean([psnr(o, t) for o, t in zip(outputs, truths)])),
            "ssim": float(np.mean([ssim(o, t) for o, t in zip(outputs, truths)])),
            "colourfulness": float(np.mean([colorfulness(o) for o in outputs]))}


def pictures(folder: Path, frame_stride: int) -> list[np.ndarray]:
    """The folder's photos, all of them, and every `frame_stride`-th frame of its films that is in colour: a
    black or grey frame (a fade, a title) has no colour to guess, and its PSNR is infinite for any model."""
    found = []
    for path in find_media(folder):
        if is_video(path):
            found += [rgb for rgb in video_frames(path, frame_stride) if not looks_grey(rgb)]
        else:
            found.append(read_image(path))
    return found


def record(model: str, name: str, scores: dict[str, float]) -> None:
    """Keep a model's full-path scores in its own file, rounded as the model card prints them."""
    path = resolve_model_path(model)
    kept = {"psnr": round(scores["psnr"], 2), "ssim": round(scores["ssim"], 3),
            "colourfulness": round(scores["colourfulness"], 1)}
    update_metadata(path, {"scores": read_metadata(path).get("scores", {}) | {name: kept}})


def table(truths: list[np.ndarray], models: list[str], temperatures: list[float] | None,
          shown: list[list[np.ndarray]]) -> dict[str, dict]:
    """The table's rows; `shown` gets each model's outputs for the sample grid, beside grey and truth."""
    greys = [desaturate(t[None])[0] for t in truths]
    rows = {"grey": score(greys, truths)}
    shown += [greys]
    for name in models:
        colorizer = Colorizer.load(name)
        binned = getattr(colorizer.model, "ab_bins", 0)
        for t in (temperatures if binned and temperatures else [None]):
            label = name if t is None else f"{name} T={t:g}"
            if t is not None:
                colorizer.model.head.temperature = t
            start = time.perf_counter()
            outputs = [colorizer.colorize_rgb(x) for x in tqdm(truths, desc=label, leave=False)]
            ms = 1000 * (time.perf_counter() - start) / len(truths)
            rows[label] = {**score(outputs, truths), "ms_per_photo": ms}
            shown.append(outputs)
    shown.append(truths)
    rows["truth"] = score(truths, truths) | {"psnr": float("inf")}
    return rows


def print_table(title: str, rows: dict[str, dict]) -> None:
    print(title)
    width = max(8, *map(len, rows))
    print(f"| {'model':{width}} | PSNR dB | SSIM  | colourfulness | ms/picture |")
    print(f"|{'-' * (width + 2)}|---------|-------|---------------|------------|")
    for name, r in rows.items():
        ms = f"{r['ms_per_photo']:.0f}" if "ms_per_photo" in r else "-"
        print(f"| {name:{width}} | {r['psnr']:7.2f} | {r['ssim']:.3f} | {r['colourfulness']:13.1f} | {ms:>10} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+", help="Folders of colour photos and/or films: a table each.")
    parser.add_argument("--models", nargs="+", default=sorted(shipped_models()))
    parser.add_argument("--frame-stride", type=int, default=10, help="Films: score every N-th frame.")
    parser.add_argument("--temperatures", type=float, nargs="+", help="Binned models: score each temperature.")
    parser.add_argument("--json", type=Path, help="Also write the tables as JSON here.")
    parser.add_argument("--record", action="store_true", help="Write the scores into each model file's metadata.")
    parser.add_argument("--fp32", action="store_true", help="bf16 off, as on CPUs without it (as scores are recorded).")
    parser.add_argument("--grid", type=Path, help="Write a sample grid (grey | each model | truth) per table here.")
    parser.add_argument("--grid-rows", type=int, nargs="+", default=list(range(8)),
                        help="Which pictures of each table the grid shows.")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.fp32:  # what reduced_precision asks before it turns bf16 on
        device.bf16_native = lambda _device: False
    if args.grid:
        args.grid.mkdir(parents=True, exist_ok=True)

    tables = {}
    for folder in args.folders:
        truths = pictures(folder, args.frame_stride)
        shown: list[list[np.ndarray]] = []
        tables[folder.name] = table(truths, args.models, args.temperatures, shown)
        if args.grid:
            rows = [i for i in args.grid_rows if i < len(truths)]
            sample_grid([tuple(column[i] for column in shown) for i in rows], args.grid / f"grid-{folder.name}.png")
        print_table(f"{len(truths)} pictures from {folder}", tables[folder.name])
        for model in args.models if args.record else []:
            record(model, f"{folder.resolve().parent.name}/{folder.resolve().name}", tables[folder.name][model])
    if args.json:
        args.json.write_text(json.dumps(tables, indent=2))


if __name__ == "__main__":
    main()
