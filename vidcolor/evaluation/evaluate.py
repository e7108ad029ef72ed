"""`vidcolor eval`: score colourization against the truth, or without one on real black-and-white film.

With a reference, each colour photo or video is reduced to its L, coloured, and compared with
the original (PSNR, SSIM, colourfulness, and for video the temporal metrics CDC and warping
error, also measured on the real footage for comparison). Without one (`--no-reference`), the
reference-free metrics of the output alone. Everything streams: a film of any length fits.
"""
from __future__ import annotations

import csv
import json
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..film.frames import video_frames
from ..film.reader import film_stream, open_input
from ..photo.read import read_image
from ..runtime.color import fit_to_gamut, from_int_images, rgb_to_l
from ..runtime.inference import Colorizer, FilmChroma, l_ab_to_image
from ..runtime.temporal import make_smoother
from ..utils.atomic import (
    check_folder_makeable,
    make_folder,
    remove_folder,
    take_back,
    temporary_folder,
    written_atomically,
)
from ..utils.choices import DEFAULT_WINDOW
from ..utils.errors import UserError
from ..utils.paths import bar_label, distinct_stems, find_media, is_image, not_there
from ..utils.warn import default_warn
from .metrics import CdcMeter, WarpErrorMeter, colorfulness, psnr, ssim
from .report import sample_grid

STRIP_FRAMES = 6
BATCH_FRAMES = 8  # frames colored at once
REPORT_NAME = "report.json"  # with report.csv and the pictures, in the report folder
GREY_TRUTH = 2.0  # mean colourfulness of a truth below which it is black and white (colour film: 10-60)


def desaturate(rgb: np.ndarray) -> np.ndarray:
    """Keep only the luma (Lab L with a = b = 0): what a black-and-white print of it would show."""
    L = rgb_to_l(from_int_images(rgb))
    return l_ab_to_image(L, torch.zeros_like(L).expand(-1, 2, -1, -1))


@dataclass
class Meters:
    """Running means and temporal meters for one item."""

    reference: bool
    sums: dict[str, float] = field(default_factory=dict)
    n: int = 0
    cdc_out: CdcMeter = field(default_factory=CdcMeter)
    cdc_truth: CdcMeter = field(default_factory=CdcMeter)
    warp_out: WarpErrorMeter = field(default_factory=WarpErrorMeter)
    warp_truth: WarpErrorMeter = field(default_factory=WarpErrorMeter)

    def add(self, out: np.ndarray, truth: np.ndarray, grey: np.ndarray, temporal: bool) -> None:
        scores = {"colourfulness": colorfulness(out)}
        if self.reference:
            scores.update({"psnr": psnr(out, truth), "ssim": ssim(out, truth),
                           "truth_colourfulness": colorfulness(truth)})
        for k, v in scores.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.n += 1
        if temporal:
            self.cdc_out.add(out)
            self.warp_out.add(out, grey)
            if self.reference:
                self.cdc_truth.add(truth)
                self.warp_truth.add(truth, grey)

    def result(self, temporal: bool) -> dict[str, float]:
        row = {k: v / self.n for k, v in self.sums.items()}
        if temporal:
            row.update(cdc=self.cdc_out.value(), warp_error=self.warp_out.value())
            if self.reference:
                row.update(truth_cdc=self.cdc_truth.value(), truth_warp_error=self.warp_truth.value())
        return {k: v for k, v in row.items() if not math.isnan(v)} | {"frames": self.n}  # NaN: not measurable


def _batches(frames: Iterator[np.ndarray], size: int) -> Iterator[np.ndarray]:
    batch: list[np.ndarray] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield np.stack(batch)
            batch = []
    if batch:
        yield np.stack(batch)


def _frame_count(path: Path) -> int:
    try:
        with open_input(path) as c:
            return film_stream(c, path).frames
    except UserError:
        return 0


def evaluate_item(colorizer: Colorizer, path: Path, reference: bool, temporal: str,
                  max_frames: int | None, report_dir: Path | None, window: int = DEFAULT_WINDOW,
                  picture: str | None = None, quiet: bool = False) -> dict[str, float]:
    """Score one photo or video; writes its side-by-side PNG (or frame strip) into `report_dir`, named
    `picture` (default: after the file's stem)."""
    video = not is_image(path)  # a file named outside the usual endings is tried as a film, as `run` does
    frames: Iterator[np.ndarray] = islice(video_frames(path), max_frames) if video else iter([read_image(path)])
    chroma: FilmChroma[tuple[np.ndarray, np.ndarray]] = FilmChroma(
        colorizer, make_smoother(temporal if video else "none", window))
    meters = Meters(reference)
    total = _frame_count(path) if video else 1
    limit = min(total, max_frames) if (max_frames and total) else (max_frames or total)
    every = max(1, (limit or STRIP_FRAMES * 10) // STRIP_FRAMES)
    shown: list[tuple[np.ndarray, ...]] = []
    bar = tqdm(total=limit or None, desc=bar_label(path), unit="frame", leave=False, disable=quiet or not video,
               delay=1)  # drawn once a film takes a while: one that is no film leaves its one line alone

    def score(tags: list[tuple[np.ndarray, np.ndarray]], L: torch.Tensor, ab: torch.Tensor) -> None:
        fitted = ab if video else fit_to_gamut(L, ab)  # as `vidcolor run` writes a photo (a film goes as YUV)
        for out, (truth, grey) in zip(l_ab_to_image(L, fitted), tags):
            if meters.n % every == 0 and len(shown) < STRIP_FRAMES:
                shown.append((grey, out, truth) if reference else (grey, out))
            meters.add(out, truth, grey, temporal=video)
        bar.update(len(tags))

    with bar:  # closed, and its line cleared, also when the film turns out not to be one
        for batch in _batches(frames, BATCH_FRAMES):
            greys = desaturate(batch)
            L = rgb_to_l(from_int_images(greys))
            score(*chroma.push(L, list(zip(batch, greys))))
        score(*chroma.flush())
    if not meters.n:
        raise UserError(f"{path}: no frames could be decoded")
    if report_dir is not None:
        # a photo: one row grey | ours | truth; a video: a row of frames each for grey, ours, truth
        sample_grid([tuple(row) for row in zip(*shown)] if video else shown,
                    report_dir / (picture or _picture_names([path])[0]))
    return meters.result(temporal=video)


def evaluate(load: Callable[[], Colorizer], inputs: list[Path], reference: bool = True, temporal: str = "flow",
             max_frames: int | None = None, report_dir: Path | None = None,
             window: int = DEFAULT_WINDOW, quiet: bool = False, overwrite: bool = False, *, model: str
             ) -> tuple[dict[str, dict[str, float]], int]:
    """Score every photo and video in `inputs` (files or folders); optionally write a report folder, replacing
    files already there only with `overwrite`, each row naming `model` (the name or file it was loaded from), so
    that reports of two models kept side by side say which is which. The model is loaded (`load`) only once the
    inputs and the report folder are found fit, so that a slip is told at once. Returns the scores and how many
    files could not be scored (each named in a warning)."""
    if report_dir is not None:
        check_folder_makeable(report_dir)
    items = _items(inputs, report_dir)
    pictures = _picture_names(items)
    if report_dir is not None:
        _check_nothing_in_the_way(report_dir, pictures, overwrite)
    colorizer = load()
    made = make_folder(report_dir) if report_dir is not None else None
    # the pictures wait in a hidden folder until the report is written: a stop (Ctrl-C) leaves the folder as it was
    staging = temporary_folder(report_dir / REPORT_NAME) if report_dir is not None else None
    try:
        results, failed = _score_all(colorizer, items, pictures, reference, temporal, max_frames, staging, window,
                                     quiet)
        if report_dir is not None and staging is not None and results:
            _publish(report_dir, staging, results, [pic for p, pic in zip(items, pictures, strict=True)
                                                    if str(p) in results], model)
    finally:
        if staging is not None:
            remove_folder(staging)
            if not (report_dir / REPORT_NAME).exists():  # nothing written: a retry finds nothing in the way
                take_back(report_dir, made)
    return results, failed


def _publish(report_dir: Path, staging: Path, results: dict[str, dict[str, float]], shown: list[str],
             model: str) -> None:
    """The report (each item's row naming the model), then its pictures moved in from `staging`; an earlier
    report's pictures this one has not are removed (a file no longer scored, or not scored this time), so none is
    left beside a report that does not name it."""
    earlier = _earlier_pictures(report_dir)
    with written_atomically(report_dir / REPORT_NAME) as tmp:  # strict JSON: a perfect score's PSNR is null
        tmp.write_text(json.dumps({k: {"model": model, **{m: v if math.isfinite(v) else None for m, v in r.items()}}
                                   for k, r in results.items()}, indent=2, allow_nan=False))
    keys = sorted({k for r in results.values() for k in r})
    with written_atomically(report_dir / "report.csv") as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["item", "model", *keys])
        writer.writeheader()
        for item, row in results.items():
            writer.writerow({"item": item, "model": model, **row})
    for picture in shown:
        os.replace(staging / picture, report_dir / picture)
    for stale in earlier - {report_dir / picture for picture in shown}:
        stale.unlink(missing_ok=True)


def _score_all(colorizer: Colorizer, items: list[Path], pictures: list[str], reference: bool, temporal: str,
               max_frames: int | None, pictures_dir: Path | None, window: int, quiet: bool
               ) -> tuple[dict[str, dict[str, float]], int]:
    """The items' scores, each one's picture written into `pictures_dir`, and how many could not be scored. A damaged
    file among several is named in a warning, and the others scored; alone, its error is raised."""
    results, failed = {}, 0
    for p, picture in tqdm(list(zip(items, pictures, strict=True)), desc="eval", unit="item",
                           disable=quiet or len(items) == 1):
        try:
            results[str(p)] = evaluate_item(colorizer, p, reference, temporal, max_frames, pictures_dir, window,
                                            picture, quiet=quiet)
        except UserError as exc:
            if len(items) == 1:  # the one thing asked: its reason is the command's one line
                raise
            default_warn(f"not scored: {exc}")
            failed += 1
            continue
        if reference and results[str(p)].get("truth_colourfulness", GREY_TRUTH) < GREY_TRUTH:
            default_warn(f"{p.name} is black and white, so its scores compare the colours with grey "
                         "(black-and-white film is scored with --no-reference)")
    return results, failed


def _picture_names(items: list[Path]) -> list[str]:
    """The report's picture of each item, a photo's row (`harbour.png`) or a film's strip of frames
    (`reel_strip.png`), numbered where two would share a name: two of one stem, or a film `x.mp4` beside a
    photo `x_strip.png`."""
    return [f"{stem}.png" for stem in distinct_stems([_own_picture(p) for p in items])]


def _own_picture(item: Path) -> Path:
    """An item's picture before numbering: a photo's row (`harbour.png`), a film's strip (`reel_strip.png`)."""
    return Path(f"{item.stem}.png" if is_image(item) else f"{item.stem}_strip.png")


def _check_nothing_in_the_way(report_dir: Path, pictures: list[str], overwrite: bool) -> None:
    """Refuse, before any work, a report folder holding a file the report would write (an earlier report, or a
    file of the user's that happens to bear a picture's name) unless `overwrite`, and a folder there always: no
    file can replace it, and the report would be left half written."""
    folder = next((report_dir / f for f in (REPORT_NAME, "report.csv", *pictures) if (report_dir / f).is_dir()), None)
    if folder is not None:
        raise UserError(f"{folder}: is a folder, where the report would write a file (give another -o)")
    if overwrite:
        return
    if (report_dir / REPORT_NAME).exists():
        raise UserError(f"{report_dir}: holds a report already (use --overwrite to replace it)")
    there = next((report_dir / f for f in ("report.csv", *pictures) if (report_dir / f).exists()), None)
    if there is not None:
        raise UserError(f"{there}: is where the report would write (use --overwrite to replace it, or another -o)")


def _earlier_pictures(report_dir: Path) -> set[Path]:
    """The pictures of the report a new one replaces (--overwrite), so that none is left beside a report that does
    not list it."""
    try:
        items = [Path(item) for item in json.loads((report_dir / REPORT_NAME).read_text())]
    except (OSError, ValueError, TypeError):  # no report there, or not one we wrote
        return set()
    # numbered as that eval numbered them, which counted the files it could not score too (x-2.png for one x)
    own = {_own_picture(item).stem for item in items}
    return {p for p in report_dir.glob("*.png") if p.stem in own or re.sub(r"-\d+$", "", p.stem) in own}


def _items(inputs: list[Path], report_dir: Path | None) -> list[Path]:
    """The photos and films to score, each once. Refuses a report folder among them or holding one of them: a
    second eval would score the first one's pictures as truths, and a picture named like a photo would replace it."""
    items: list[Path] = []
    for p in inputs:
        if p.is_dir():
            if report_dir is not None and report_dir.resolve().is_relative_to(p.resolve()):
                raise UserError(f"{report_dir}: the report folder must not be inside a folder being scored ({p})")
            items += find_media(p)
        elif p.is_file():
            items.append(p)
        else:
            why = "not a photo, video or folder" if p.exists() else not_there(p, "file or folder")
            raise UserError(f"{p}: {why}")
    if not items:
        raise UserError("nothing to evaluate: no photos or videos found")
    held = next((p for p in items if report_dir is not None and p.resolve().is_relative_to(report_dir.resolve())),
                None)
    if held is not None:
        raise UserError(f"{report_dir}: the report folder must not hold what is scored ({held})")
    return list({p.resolve(): p for p in items}.values())


def format_table(results: dict[str, dict[str, float]]) -> str:
    keys = [k for k in ("psnr", "ssim", "colourfulness", "truth_colourfulness", "cdc", "truth_cdc",
                        "warp_error", "truth_warp_error", "frames") if any(k in r for r in results.values())]
    lines = ["| item | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    names = Counter(Path(item).name for item in results)
    for item, row in results.items():
        cells = [f"{row[k]:.4g}" if k in row else "-" for k in keys]
        shown = Path(item).name if names[Path(item).name] == 1 else item  # two files of one name: their paths
        lines.append(f"| {shown} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
