"""Time and peak memory of `vidcolor run` on big photos, end to end (a process per photo, as a user runs it).

    python benchmarks/bench_photo.py --sizes 64x64 3000x2000 6000x4000

Each photo is scikit-image's astronaut, resized and made grey, written as JPEG into a temporary folder.
Peak memory is the child process's maximum resident set size (Linux and macOS).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
from skimage import data


def measure(width: int, height: int, folder: Path, model: str) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of colouring one grey width x height photo."""
    photo = folder / f"grey_{width}x{height}.jpg"
    grey = cv2.cvtColor(cv2.resize(data.astronaut(), (width, height), interpolation=cv2.INTER_CUBIC),
                        cv2.COLOR_RGB2GRAY)
    cv2.imwrite(str(photo), grey)
    cmd = [sys.executable, "-m", "vidcolor", "run", str(photo), "-o", str(folder / f"out_{width}x{height}.jpg"),
           "--model", model, "--quiet", "--overwrite"]
    # a fresh interpreter per photo, so ru_maxrss of the children is this photo's (the maximum so far otherwise)
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", probe, *cmd], check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    kilobytes = int(done.stdout.split()[-1])
    return seconds, kilobytes / (1024 if sys.platform != "darwin" else 1024 * 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["64x64", "3000x2000", "6000x4000"], help="WIDTHxHEIGHT")
    parser.add_argument("--model", default="fusion")
    args = parser.parse_args()
    print("| photo | megapixels | wall s | peak RSS MB |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            width, height = map(int, size.split("x"))
            seconds, megabytes = measure(width, height, Path(folder), args.model)
            print(f"| {width}x{height} | {width * height / 1e6:.1f} | {seconds:.1f} | {megabytes:.0f} |", flush=True)


if __name__ == "__main__":
    main()
