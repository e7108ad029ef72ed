"""What the user's colours buy, through the full path `vidcolor run` takes: issue 18's bars.

Photos (each folder given): PSNR and colourfulness of every photo coloured told nothing, told 1 and 10 points
of the truth (random places, each the truth's mean colour over the square a click covers; the same places
for every model), and told the truth's own palette as reference; `--automatic FILE` scores another model
told nothing beside it (a hint model told nothing is its automatic model, so this is for comparisons).

Films (`--films FOLDER` of colour clips): each clip turned black and white, coloured told nothing, told
`--film-hints` points of the truth on its first frame only (carried along the motion as `vidcolor run
--hints` does), and given its first frame's truth as a keyframe (`vidcolor run --keyframe 0:PICTURE`); PSNR of
frames 0-59 (the keyframe's own frame among them) and 30-59 against the clip's own colours. Clips cut before
frame 60 are left out: the bar is about carrying hints within a shot.

    python benchmarks/eval_hints.py ../shared/data/photos/val --films ../shared/data/videos/color \\
        --model fusion --json hints.json
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import av
import numpy as np
from tqdm import tqdm

from vidcolor import colorize_video
from vidcolor.evaluation.evaluate import desaturate
from vidcolor.evaluation.metrics import colorfulness, psnr
from vidcolor.film.frames import video_frames
from vidcolor.photo.read import read_image
from vidcolor.photo.reference import picture_ab
from vidcolor.photo.write import write_image
from vidcolor.runtime.color import from_int_images, rgb_to_lab
from vidcolor.runtime.hints import HINT_SQUARE, Told, reference_histogram
from vidcolor.runtime.inference import Colorizer, working_shape
from vidcolor.runtime.temporal import SceneCutDetector
from vidcolor.utils.paths import find_media, is_image, is_video

POINTS = (1, 10)
FILM_FRAMES = range(30, 60)


def truth_points(rgb: np.ndarray, n: int, seed: int, working_size: int) -> np.ndarray:
    """`n` points of the truth at random places: (N, 5) rows of x, y, a, b, 0 (a click), each the mean colour
    over the square a click covers at the working size."""
    h, w = rgb.shape[:2]
    side = max(1, round(HINT_SQUARE * h / working_shape(h, w, working_size)[0]))
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        x, y = int(rng.integers(w)), int(rng.integers(h))
        patch = rgb[max(0, y - side // 2):y - side // 2 + side, max(0, x - side // 2):x - side // 2 + side]
        ab = picture_ab(patch)[0].mean(dim=(1, 2))
        rows.append([x, y, float(ab[0]), float(ab[1]), 0.0])
    return np.array(rows, np.float32).reshape(-1, 5)


def photo_table(folder: Path, model: Colorizer, automatic: Colorizer | None) -> dict[str, dict[str, float]]:
    """Mean PSNR / colourfulness per way of telling, over the folder's photos."""
    sums: dict[str, list[tuple[float, float]]] = {}
    photos = [p for p in find_media(folder) if is_image(p)]
    for i, path in enumerate(tqdm(photos, desc=folder.name, leave=False)):
        truth = read_image(path)
        grey = desaturate(truth[None])[0]
        ways: dict[str, tuple[Colorizer, Told | None]] = {"told nothing": (model, None)}
        ways |= {f"told {n} point{'s' * (n > 1)}": (model, Told(truth_points(truth, n, i, model.working_size)))
                 for n in POINTS}
        ways["told the truth's palette"] = (model, Told(reference=reference_histogram(picture_ab(truth))[0]))
        if automatic is not None:
            ways["automatic model"] = (automatic, None)
        for way, (colorizer, told) in ways.items():
            out = colorizer.colorize_rgb(grey, told)
            sums.setdefault(way, []).append((psnr(out, truth), colorfulness(out)))
    return {way: {"psnr": float(np.mean([s[0] for s in v])), "colourfulness": float(np.mean([s[1] for s in v])),
                  "photos": len(v)} for way, v in sums.items()}


def _one_shot_to_60(frames: list[np.ndarray]) -> bool:
    cuts = SceneCutDetector()
    lumas = [rgb_to_lab(from_int_images(f[None]))[0, 0].numpy() for f in frames]
    return not any(cuts(L) for L in lumas)


def _write_grey(frames: list[np.ndarray], path: Path, fps: int = 25) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"crf": "12"})
        stream.height, stream.width = (d - d % 2 for d in frames[0].shape[:2])
        stream.pix_fmt = "yuv420p"
        for i, rgb in enumerate(frames):
            grey = desaturate(rgb[None])[0][:stream.height, :stream.width]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(grey), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def film_table(folder: Path, model: str, clicks: int) -> dict[str, Any]:
    """PSNR of frames 30-59 (and 0-59) told nothing, told `clicks` points of frame 0's truth and given frame 0's
    truth as a keyframe, per clip and overall."""
    rows: dict[str, dict[str, float]] = {}
    for path in (p for p in find_media(folder) if is_video(p)):
        frames = [f for _, f in zip(range(FILM_FRAMES.stop), video_frames(path))]
        if len(frames) < FILM_FRAMES.stop or not _one_shot_to_60(frames):
            print(f"{path.name}: left out (shorter than {FILM_FRAMES.stop} frames, or a cut before)", file=sys.stderr)
            continue
        frames = [f[:f.shape[0] - f.shape[0] % 2, :f.shape[1] - f.shape[1] % 2] for f in frames]
        hints = clicks_of_truth(frames[0], clicks, seed=0)
        scores = {}
        with tempfile.TemporaryDirectory() as tmp:
            grey = Path(tmp) / "grey.mp4"
            _write_grey(frames, grey)
            write_image(Path(tmp) / "keyframe.png", frames[0])
            ways = (("told nothing", None, None), (f"told {clicks} points on frame 0", hints, None),
                    ("frame 0 as a keyframe", None, {0: Path(tmp) / "keyframe.png"}))
            for way, told, keyframes in ways:
                out = Path(tmp) / "out.mp4"
                colorize_video(grey, out, model=model, hints=told, keyframes=keyframes, overwrite=True, quiet=True,
                               crf=12)
                colored = list(video_frames(out))
                for shown in (FILM_FRAMES, range(FILM_FRAMES.stop)):
                    scores[f"{way}, frames {shown.start}-{shown.stop - 1}"] = float(
                        np.mean([psnr(colored[i], frames[i]) for i in shown]))
        rows[path.name] = scores
        print(f"{path.name}: {scores}", file=sys.stderr)
    overall = {way: float(np.mean([r[way] for r in rows.values()])) for way in next(iter(rows.values()), {})}
    return {"clips": rows, "mean": overall}


def clicks_of_truth(rgb: np.ndarray, n: int, seed: int) -> list[dict[str, Any]]:
    """`n` clicks at random places, each the truth's colour there as hex: what a user picking colours from the
    original would write in a hints file."""
    rng = np.random.default_rng(seed)
    places = [(int(rng.integers(rgb.shape[1])), int(rng.integers(rgb.shape[0]))) for _ in range(n)]
    return [{"x": x, "y": y, "color": "#" + "".join(f"{int(c):02x}" for c in rgb[y, x])} for x, y in places]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="Folders of colour photos.")
    parser.add_argument("--model", default="fusion", help="The hint model (name or file).")
    parser.add_argument("--automatic", help="The automatic model it grew from, scored told nothing beside it.")
    parser.add_argument("--films", type=Path, help="A folder of colour clips.")
    parser.add_argument("--film-hints", type=int, default=10, help="Points of the truth on each clip's frame 0.")
    parser.add_argument("--json", type=Path, help="Also write the tables here.")
    args = parser.parse_args()
    model = Colorizer.load(args.model)
    automatic = Colorizer.load(args.automatic) if args.automatic else None
    tables: dict[str, Any] = {}
    for folder in args.folders:
        tables[str(folder)] = photo_table(folder, model, automatic)
        print(f"\n{folder}\n| told | PSNR dB | colourfulness |\n|---|---|---|", file=sys.stderr)
        for way, row in tables[str(folder)].items():
            print(f"| {way} | {row['psnr']:.2f} | {row['colourfulness']:.1f} |", file=sys.stderr)
    if args.films:
        tables["films"] = film_table(args.films, args.model, args.film_hints)
        print(f"\nfilms, frames {FILM_FRAMES.start}-{FILM_FRAMES.stop - 1}: {tables['films']['mean']}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(tables, indent=2))


if __name__ == "__main__":
    main()
