"""Archive throughput: `vidcolor run FOLDER` with --jobs 1 against more workers, and --split on a long film.

Generates an archive of short black-and-white clips (and, with --long, one long film with a keyframe
every half second), colours it through the same API `vidcolor run` uses, and prints a markdown table.
Without --model it uses an untrained U-Net of the shipped width, which costs what a real one costs.

    python benchmarks/bench_archive.py --clips 6 --seconds 10 --jobs 1 2 --long 120 --split 2
    python benchmarks/bench_archive.py --clips 2 --seconds 1 --size 160x90 --long 3 --split 2   # a quick check
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers.films import make_clip  # the tests' clip generator, so both make the same films

from vidcolor.batch.archive import colorize_archive, worker_settings
from vidcolor.batch.options import ArchiveOptions, Summary
from vidcolor.film.options import VideoOptions
from vidcolor.runtime.archs import build_model
from vidcolor.runtime.weights import save_weights

FPS = 24


def timed(folder: Path, out: Path, model: str, jobs: int, split: int | None) -> Summary:
    settings = worker_settings(model, "auto", None, VideoOptions(quiet=True, overwrite=True))
    return colorize_archive(folder, out, settings, ArchiveOptions(jobs=jobs, split=split, quiet=True))


def row(label: str, summary: Summary, baseline: float) -> str:
    fps = summary.done.frames / summary.wall
    return (f"| {label:32} | {summary.done.files:5} | {summary.done.frames:6} | {summary.wall:7.1f} | {fps:8.1f} "
            f"| {baseline / summary.wall:8.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="Shipped model name or .safetensors file (default: an untrained U-Net).")
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=10.0, help="Length of each clip.")
    parser.add_argument("--size", default="640x360", help="WIDTHxHEIGHT of the films.")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="Worker counts to compare.")
    parser.add_argument("--long", type=float, default=0.0, help="Also time a film this many seconds long (0: no).")
    parser.add_argument("--split", type=int, default=2, help="Pieces (and workers) for the long film.")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))

    with tempfile.TemporaryDirectory(prefix="bench_archive_") as tmp:
        root = Path(tmp)
        model = args.model
        if model is None:
            model = str(root / "unet.safetensors")
            save_weights(Path(model), build_model("unet", width=32), {"family": "unet", "arch": {"width": 32}})
        archive = root / "archive"
        for n in range(args.clips):
            (archive / f"reel{n // 3}").mkdir(parents=True, exist_ok=True)
            make_clip(archive / f"reel{n // 3}" / f"clip{n}.mp4", width=width, height=height,
                      frames=round(args.seconds * FPS), fps=FPS)

        print(f"{args.clips} clips of {args.seconds:g} s at {width}x{height}; {torch.get_num_threads()} CPU threads")
        print("| run                              | files | frames | wall s  | frames/s | speed-up |")
        print("|----------------------------------|------:|-------:|--------:|---------:|---------:|")
        baseline = None
        for jobs in args.jobs:
            summary = timed(archive, root / f"out-jobs{jobs}", model, jobs, None)
            baseline = baseline or summary.wall
            print(row(f"archive, --jobs {jobs}", summary, baseline), flush=True)
        if args.long:
            film = root / "long"
            film.mkdir()
            # MPEG-4 part 2 puts a keyframe every 12 frames, so the film can be cut anywhere
            make_clip(film / "feature.mp4", width=width, height=height, frames=round(args.long * FPS), fps=FPS,
                      video_codec="mpeg4")
            whole = timed(film, root / "out-whole", model, 1, None)
            print(row(f"{args.long:g} s film, whole, --jobs 1", whole, whole.wall))
            split = timed(film, root / "out-split", model, args.split, args.split)
            print(row(f"same, --split {args.split} --jobs {args.split}", split, whole.wall))


if __name__ == "__main__":
    main()
