"""Speed and memory of `vidcolor run` on films, against issue 3's targets.

For each film (generated black-and-white pans over photos, ~10 s at 25 fps with an AAC track,
at 640x360, 854x480 and 1280x720; or `--film`) it measures, after a warm-up run:

* fps: frames / wall time of `vidcolor run` end to end (the Python API: probe, decode, colour, encode),
  and the CPU time all its threads used (about wall time x cores it had: less than the machine's
  cores means it was shared, and every timing is pessimistic);
* the split: each stage alone, one after another, with the whole machine to itself: decode,
  temporal (the smoother), convert (Y -> L, resizing, guided upsampling, Lab -> U/V, new frames)
  and encode (x264 and muxing); and the model alone on the film's working-size frames, the faster
  of one batch at a time on all of torch's threads and the pipeline's worker threads;
* ratio: our wall time / (a plain decode + re-encode with the same codec settings + the model
  alone on the same frames). The pipeline overlaps its stages in threads, so the target is <= 1.0;
* floor: the ratio a pipeline with no work of its own would reach if it kept every core busy
  (CPU time of the model alone and of the transcode / cores / their wall times): about the best
  overlap can do;
* disk: the frames-on-disk design (every frame to a PNG, each coloured by the same model,
  reassembled with PyAV) on the same film, and its time over ours;
* memory: peak RSS of fresh processes colouring a 640x360 film and one 8x longer
  (target: the longer film costs < 150 MB more);
* with `--hints N` (a hint model): fps told N clicks on the first frame of every shot, carried through it,
  against the same model told nothing (target: hints cost < 15% of the speed).

    python benchmarks/bench_run.py --json bench.json              # the default model (fusion)
    python benchmarks/bench_run.py --film ../shared/data/videos/bw/chaplin.mp4 --no-memory
    python benchmarks/bench_run.py --hints 10 --sizes 640x360 --no-disk --no-memory
    python benchmarks/bench_run.py --fp32 --sizes 640x360 --no-disk   # as on a CPU without native bf16
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import skimage.data
import torch
from torch import nn

from vidcolor import DEFAULT_MODEL, colorize_video
from vidcolor.film.memory import keep_freed_memory
from vidcolor.film.options import VideoOptions
from vidcolor.film.painter import Painter, model_pool
from vidcolor.film.probe import probe
from vidcolor.film.reader import Incidents, open_input
from vidcolor.film.streams import plan_routes, route_reader
from vidcolor.film.writer import OutputWriter, open_output
from vidcolor.film.yuv import planes
from vidcolor.runtime import device
from vidcolor.runtime.color import from_int_images, rgb_to_l
from vidcolor.runtime.inference import Colorizer, FilmChroma, l_ab_to_image
from vidcolor.runtime.temporal import make_smoother
from vidcolor.utils.choices import PRESETS, TEMPORAL_MODES

SIZES = ("640x360", "854x480", "1280x720")
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "stereo_motorcycle")
SCENE_SECONDS = 2.5  # a cut every 2.5 s, so the smoother's scene-cut path is exercised too
PAN = 1.25  # each photo covers 1.25x the frame and the camera pans across the excess
GRAIN = 3.0  # film grain (std of Y noise), so the encoder has real texture to code
SOURCE_CODEC = {"crf": "20", "preset": "fast"}  # how the test films themselves are encoded
TARGET_FPS, TARGET_RATIO, TARGET_RSS_MB, TARGET_HINTS_COST = 24.0, 1.0, 150.0, 0.15
Row = dict[str, Any]


# --- test films ---------------------------------------------------------------------------------

def _grey_photo(name: str, width: int, height: int) -> np.ndarray:
    """A sample photo in grey, scaled to cover PAN times the frame."""
    img = getattr(skimage.data, name)()
    img = img[0] if isinstance(img, tuple) else img
    grey = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    scale = max(PAN * width / grey.shape[1], PAN * height / grey.shape[0])
    size = (max(width, round(grey.shape[1] * scale)), max(height, round(grey.shape[0] * scale)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_CUBIC)


def make_film(path: Path, width: int, height: int, seconds: float, fps: int = 25) -> Path:
    """A black-and-white film panning over sample photos, with grain, a cut every few seconds and sound.

    Kept in `path` and reused while it exists; written under a temporary name, so never half made.
    """
    if path.exists():
        return path
    scenes = [_grey_photo(name, width, height) for name in PHOTOS]
    per_scene, total = round(SCENE_SECONDS * fps), round(seconds * fps)
    rng = np.random.default_rng(0)
    tmp = path.with_name(f".{path.name}.tmp")
    with av.open(str(tmp), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps, options=SOURCE_CODEC)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("aac", rate=44100, layout="stereo")
        samples = 0
        for i in range(total):
            scene, step = divmod(i, per_scene)
            photo, t = scenes[scene % len(scenes)], step / max(1, per_scene - 1)
            x, y = round(t * (photo.shape[1] - width)), round(t * (photo.shape[0] - height))
            luma = photo[y:y + height, x:x + width].astype(np.float32) * (219 / 255) + 16
            luma += rng.standard_normal(luma.shape, dtype=np.float32) * GRAIN
            frame = av.VideoFrame(width, height, "yuv420p")
            y_plane, u_plane, v_plane = planes(frame)
            y_plane[...] = np.clip(luma, 16, 235).astype(np.uint8)
            u_plane[...] = v_plane[...] = 128
            frame.pts = i
            out.mux(video.encode(frame))
            while samples < (i + 1) * 44100 / fps:  # a quiet 220 Hz hum, kept in step with the picture
                tone = 0.05 * np.sin(2 * np.pi * 220 * (samples + np.arange(1024)) / 44100, dtype=np.float32)
                sound = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
                sound.sample_rate, sound.pts = 44100, samples
                out.mux(audio.encode(sound))
                samples += 1024
        out.mux(video.encode())
        out.mux(audio.encode())
    tmp.replace(path)
    return path


def sample_film(folder: Path, size: str, seconds: float) -> Path:
    """The generated film of that size ("640x360") and length, made on first use."""
    width, height = map(int, size.split("x"))
    return make_film(folder / f"pan-{size}-{seconds:g}s.mp4", width, height, seconds)


# --- measurements -------------------------------------------------------------------------------

class Stopwatch(nn.Module):
    """Passes calls on to `inner` (the model, the smoother) and adds up the time they take.

    An nn.Module, so that a model inside still moves, changes layout and switches to eval with it.
    """

    def __init__(self, inner: Callable[..., Any]) -> None:
        super().__init__()
        self.inner = inner
        self.seconds = 0.0

    def forward(self, *args: Any) -> Any:
        return self._timed(self.inner, *args)

    def flush(self) -> Any:
        """The smoother's held-back frames, timed too."""
        return self._timed(self.inner.flush)  # type: ignore[union-attr]

    def _timed(self, call: Callable[..., Any], *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return call(*args)
        finally:
            self.seconds += time.perf_counter() - start


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cores() -> int:
    """The cores this process may run on (its affinity; all of the machine's where that is unknown)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_ours(film: Path, colorizer: Colorizer, options: VideoOptions, out: Path,
             hints: list[dict[str, Any]] | None = None) -> tuple[int, float, float]:
    """`vidcolor run` end to end through the Python API: (frames, wall seconds, CPU seconds of all threads)."""
    start, cpu = time.perf_counter(), _cpu_seconds()
    result = colorize_video(film, out, model=colorizer, batch_size=options.batch_size, temporal=options.temporal,
                            window=options.window, crf=options.crf, preset=options.preset, overwrite=True, quiet=True,
                            hints=hints)
    return result.frames, time.perf_counter() - start, _cpu_seconds() - cpu


def split(film: Path, colorizer: Colorizer, options: VideoOptions, out: Path) -> tuple[dict[str, float],
                                                                                   list[torch.Tensor]]:
    """Seconds each stage of our pipeline but the model takes alone: the whole film is decoded, then
    coloured batch after batch (model timed apart), then encoded. Also the batches' working-size L, for
    `model_alone`."""
    source, incidents = probe(film), Incidents(lambda message: None)
    model, smoother = Stopwatch(colorizer.model), Stopwatch(make_smoother(options.temporal, options.window))
    timed = Colorizer(model, colorizer.meta, colorizer.device, colorizer.working_size)
    paint = Painter(timed, smoother, source, options.encoder_for(".mp4"))
    with open_input(film) as inp, open_output(out, ".mp4") as output:
        routes = plan_routes(inp, output, source, ".mp4", options.encoder_for(".mp4"), keep_colors=False,
                             incidents=incidents)
        by_index = {r.source.index: r for r in routes}
        start = time.perf_counter()
        items = [(by_index[stream.index], item) for stream, item in route_reader(inp, routes, incidents)]
        decode = time.perf_counter() - start

        start = time.perf_counter()
        frames = [item for route, item in items if route is routes[0]]
        colored, lows = [], []
        for i in range(0, len(frames), options.batch_size):
            batch = frames[i:i + options.batch_size]
            y, L = paint.prepare(batch)
            prediction = timed.predict_low(L)
            colored += paint.finish(batch, y, L, prediction)
            lows.append(prediction[0])
        colored += paint.flush()
        painting = time.perf_counter() - start
        done = iter(colored)
        items = [(route, next(done) if route is routes[0] else item) for route, item in items]

        start = time.perf_counter()
        OutputWriter(output, routes, incidents).write(items)
        encode = time.perf_counter() - start
    return {"decode": decode, "temporal": smoother.seconds,
            "convert": painting - model.seconds - smoother.seconds, "encode": encode}, lows


def model_alone(colorizer: Colorizer, lows: list[torch.Tensor]) -> Row:
    """The model alone on the film's working-size L: the faster of one batch at a time on all of torch's
    threads and the pipeline's worker threads (vidcolor.film.painter.model_pool); its seconds and CPU seconds."""
    colorizer.predict_ab(lows[0])  # warm
    start, cpu = time.perf_counter(), _cpu_seconds()
    for low in lows:
        colorizer.predict_ab(low)
    serial = {"model_s": time.perf_counter() - start, "model_cpu_s": _cpu_seconds() - cpu,
              "model_how": f"1 x {torch.get_num_threads()}"}
    with model_pool(colorizer.device) as (pool, workers):
        list(pool.map(colorizer.predict_ab, lows[:2 * workers]))  # warm the workers
        start, cpu = time.perf_counter(), _cpu_seconds()
        list(pool.map(colorizer.predict_ab, lows))
        pooled = {"model_s": time.perf_counter() - start, "model_cpu_s": _cpu_seconds() - cpu,
                  "model_how": f"{workers} x {torch.get_num_threads()}"}
    return min(serial, pooled, key=lambda row: row["model_s"])


def transcode(film: Path, options: VideoOptions, out: Path) -> tuple[float, float]:
    """Seconds and CPU seconds for a plain decode + re-encode of the film (sound copied), with our codec settings."""
    start, cpu = time.perf_counter(), _cpu_seconds()
    source, incidents = probe(film), Incidents(lambda message: None)
    with open_input(film) as inp, open_output(out, ".mp4") as output:
        routes = plan_routes(inp, output, source, ".mp4", options.encoder_for(".mp4"), keep_colors=False,
                             incidents=incidents)
        by_index = {r.source.index: r for r in routes}
        OutputWriter(output, routes, incidents).write(
            (by_index[stream.index], item) for stream, item in route_reader(inp, routes, incidents))
    return time.perf_counter() - start, _cpu_seconds() - cpu


def frames_on_disk(film: Path, colorizer: Colorizer, options: VideoOptions, folder: Path) -> float:
    """Seconds for the design vidcolor avoids: every frame to a PNG, coloured one by one, then reassembled."""
    start = time.perf_counter()
    frames = folder / "frames"
    frames.mkdir()
    with av.open(str(film)) as inp:
        for i, frame in enumerate(inp.decode(inp.streams.video[0])):
            cv2.imwrite(str(frames / f"{i:06d}.png"), frame.to_ndarray(format="bgr24"))
    pngs = sorted(frames.glob("*.png"))
    chroma: FilmChroma[Path] = FilmChroma(colorizer, make_smoother(options.temporal, options.window))

    def save(pngs: list[Path], L: torch.Tensor, ab: torch.Tensor) -> None:
        for png, rgb in zip(pngs, l_ab_to_image(L, ab)):
            cv2.imwrite(str(png), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    for png in pngs:
        rgb = cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB)
        save(*chroma.push(rgb_to_l(from_int_images(rgb[None])), [png]))
    save(*chroma.flush())
    with av.open(str(film)) as inp, av.open(str(folder / "disk.mp4"), "w") as out:
        rate = inp.streams.video[0].average_rate
        encoder = options.encoder_for(".mp4")
        video = out.add_stream(encoder.codec, rate=rate, options=encoder.options())
        first = cv2.imread(str(pngs[0]))
        video.width, video.height, video.pix_fmt = first.shape[1], first.shape[0], "yuv420p"
        sounds = {s.index: out.add_stream_from_template(s) for s in inp.streams.audio}
        for i, png in enumerate(pngs):
            frame = av.VideoFrame.from_ndarray(cv2.imread(str(png)), format="bgr24")
            frame.pts, frame.time_base = i, 1 / rate
            out.mux(video.encode(frame))
        out.mux(video.encode())
        for packet in inp.demux(inp.streams.audio):
            if packet.size:
                packet.stream = sounds[packet.stream.index]
                out.mux(packet)
    return time.perf_counter() - start


def baselines(film: Path, colorizer: Colorizer, options: VideoOptions, folder: Path, disk: bool) -> Row:
    """The stages alone, the model alone, the plain transcode and (if `disk`) the frames-on-disk design.

    They get the pipeline's allocator settings, and the model alone its faster way of running, so
    that no ratio is flattered by a slow baseline.
    """
    with keep_freed_memory:
        stages, lows = split(film, colorizer, options, folder / "split.mp4")
        row: Row = {f"{k}_s": v for k, v in stages.items()}
        row.update(model_alone(colorizer, lows))
        row["transcode_s"], row["transcode_cpu_s"] = transcode(film, options, folder / "plain.mp4")
        if disk:
            row["disk_s"] = frames_on_disk(film, colorizer, options, folder)
    return row


def shot_hints(film: Path, clicks: int, fps: int = 25) -> list[dict[str, Any]]:
    """`clicks` random colour points on the first frame of every shot of a generated film (a cut every
    SCENE_SECONDS), as a user who told each shot a few colours would give."""
    source, rng = probe(film), np.random.default_rng(0)
    shots = range(0, source.frames or 0, round(SCENE_SECONDS * fps))
    return [{"x": int(rng.integers(source.width)), "y": int(rng.integers(source.height)),
             "color": "#%02x%02x%02x" % tuple(rng.integers(40, 216, 3)), "frame": shot}
            for shot in shots for _ in range(clicks)]


def measure(film: Path, warmup: Path, colorizer: Colorizer, options: VideoOptions, disk: bool,
            hints: int = 0) -> Row:
    """Every speed figure for one film; the warm-up film (same size) runs first, untimed.

    floor: the ratio a pipeline would reach that did no work of its own (no conversion, no smoothing)
    and kept every core busy: the CPU time of the model alone and of the transcode, spread over the
    cores, over their wall times. Overlap cannot get far below it (only by the CPU time those two
    spend waiting on each other's cores when alone, e.g. in spin-waits).
    """
    source = probe(film)
    with tempfile.TemporaryDirectory(prefix="vidcolor-bench-") as tmp:
        folder = Path(tmp)
        run_ours(warmup, colorizer, options, folder / "warmup.mp4")
        frames, wall, cpu = run_ours(film, colorizer, options, folder / "ours.mp4")
        row: Row = {"film": film.name, "size": f"{source.width}x{source.height}", "frames": frames,
                    "wall_s": wall, "fps": frames / wall, "cpu_s": cpu,
                    **baselines(film, colorizer, options, folder, disk)}
        if hints:
            told = shot_hints(film, hints)
            told_wall = run_ours(film, colorizer, options, folder / "told.mp4", told)[1]
            row |= {"hints": len(told), "fps_told": frames / told_wall, "hints_cost": 1 - wall / told_wall}
    reference = row["transcode_s"] + row["model_s"]
    row["ratio"] = wall / reference
    row["floor"] = (row["model_cpu_s"] + row["transcode_cpu_s"]) / _cores() / reference
    if disk:
        row["disk_over_ours"] = row["disk_s"] / wall
    return row


def peak_rss(film: Path, model: str, options: VideoOptions, fp32: bool) -> Row:
    """Peak RSS of a fresh process that loads the model and colours `film`."""
    args = [sys.executable, __file__, "--rss-of", str(film), "--model", model, "--batch-size", str(options.batch_size),
            "--temporal", options.temporal, "--window", str(options.window), "--crf", str(options.crf),
            "--preset", options.preset, *(["--fp32"] if fp32 else [])]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"the memory run on {film} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def _rss_child(film: Path, model: str, options: VideoOptions) -> None:
    """The inside of peak_rss: colour the film, print frames and peak RSS (MB) as JSON."""
    with tempfile.TemporaryDirectory(prefix="vidcolor-bench-") as tmp:
        result = colorize_video(film, Path(tmp) / "out.mp4", model=model, device="cpu",
                                batch_size=options.batch_size, temporal=options.temporal, window=options.window,
                                crf=options.crf, preset=options.preset, quiet=True)
    print(json.dumps({"film": film.name, "frames": result.frames, "peak_rss_mb": _peak_rss_kb() / 1024}))


def _peak_rss_kb() -> int:
    """This process's peak RSS. Linux's ru_maxrss also counts the parent's peak from before exec, so
    VmHWM (this program's own high-water mark) is read where /proc has it."""
    try:
        status = Path("/proc/self/status").read_text()
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak // 1024 if sys.platform == "darwin" else peak  # bytes there, kilobytes elsewhere


# --- report -------------------------------------------------------------------------------------

def _table(rows: list[Row]) -> str:
    head = ("| film | size | frames | fps | wall s | CPU s | decode s | model s (workers x threads) | temporal s "
            "| convert s | encode s | transcode s | wall / (transcode + model) | floor | on disk s | disk / ours |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        disk = f"{r['disk_s']:.1f} | {r['disk_over_ours']:.2f}" if "disk_s" in r else "- | -"
        lines.append(f"| {r['film']} | {r['size']} | {r['frames']} | {r['fps']:.1f} | {r['wall_s']:.1f} "
                     f"| {r['cpu_s']:.1f} | {r['decode_s']:.1f} | {r['model_s']:.1f} ({r['model_how']}) "
                     f"| {r['temporal_s']:.1f} | {r['convert_s']:.1f} | {r['encode_s']:.1f} | {r['transcode_s']:.1f} "
                     f"| {r['ratio']:.2f} | {r['floor']:.2f} | {disk} |")
    return "\n".join(lines)


def _verdicts(rows: list[Row], memory: Row | None) -> list[str]:
    lines = [f"- {r['size']} ({r['film']}): {r['fps']:.1f} fps"
             + (f" (target >= {TARGET_FPS:.0f})" if r["size"] == SIZES[0] else "")
             + f", wall / (transcode + model) {r['ratio']:.2f} (target <= {TARGET_RATIO:.1f})"
             + (f"; told {r['hints']} hints {r['fps_told']:.1f} fps, {100 * r['hints_cost']:.0f}% slower "
                f"(target < {100 * TARGET_HINTS_COST:.0f}%)" if "hints" in r else "") for r in rows]
    if memory:
        short, long = memory["short"], memory["long"]
        lines.append(f"- peak RSS: {short['peak_rss_mb']:.0f} MB for {short['frames']} frames, "
                     f"{long['peak_rss_mb']:.0f} MB for {long['frames']} frames: {memory['delta_mb']:+.0f} MB "
                     f"(target < {TARGET_RSS_MB:.0f})")
    return lines


def _report(settings: dict[str, Any], rows: list[Row], memory: Row | None) -> None:
    options = settings["options"]
    print(f"model {settings['model']}; {settings['cpus']} CPUs, torch {settings['torch']} with "
          f"{settings['torch_threads']} threads; batch {options['batch_size']}, temporal {options['temporal']}, "
          f"crf {options['crf']}, preset {options['preset']}; load average {settings['load_before'][0]:.1f} "
          f"before, {settings['load_after'][0]:.1f} after\n")
    print(_table(rows))
    print("\nCPU s: CPU time of all our threads. decode ... encode: each stage alone, one after another. "
          "model: the model alone, the faster of one batch at a time on "
          "all threads and the pipeline's worker threads. transcode: plain decode + re-encode with the same "
          "settings. floor: the ratio of a pipeline with no work of its own and every core busy.\n")
    print("\n".join(_verdicts(rows, memory)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="Shipped model name or .safetensors file.")
    parser.add_argument("--film", type=Path, action="append", default=[],
                        help="Measure this film too (repeatable; then only the --sizes asked for are generated). "
                             "Its stages-alone pass holds all its frames in memory: keep it short.")
    parser.add_argument("--sizes", nargs="*", help=f"Generated films to measure (default: {' '.join(SIZES)}).")
    parser.add_argument("--seconds", type=float, default=10.0, help="Length of the generated films.")
    defaults = VideoOptions()
    parser.add_argument("--batch-size", type=int, help="Default: vidcolor run's for the device.")
    parser.add_argument("--temporal", choices=TEMPORAL_MODES, default=defaults.temporal)
    parser.add_argument("--window", type=int, default=defaults.window)
    parser.add_argument("--crf", type=int, default=defaults.crf)
    parser.add_argument("--preset", choices=PRESETS, default=defaults.preset)
    parser.add_argument("--no-disk", action="store_true", help="Skip the frames-on-disk comparison.")
    parser.add_argument("--no-memory", action="store_true", help="Skip the peak-memory runs.")
    parser.add_argument("--memory-seconds", type=float, default=10.0,
                        help="Length of the shorter film of the memory runs (the other is 8x longer).")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "vidcolor-bench",
                        help="Where generated films are kept between runs.")
    parser.add_argument("--json", type=Path, help="Also write the results as JSON here.")
    parser.add_argument("--hints", type=int, default=0, metavar="N",
                        help="Also time the film told N clicks per shot (a model that takes hints).")
    parser.add_argument("--fp32", action="store_true", help="bf16 off: the speed of a CPU without native bf16.")
    parser.add_argument("--rss-of", type=Path, help=argparse.SUPPRESS)  # the child of a memory run
    args = parser.parse_args()
    if args.fp32:  # what reduced_precision asks before it turns bf16 on
        device.bf16_native = lambda _device: False
    options = VideoOptions(batch_size=args.batch_size, temporal=args.temporal, window=args.window, crf=args.crf,
                           preset=args.preset)
    if args.rss_of:
        _rss_child(args.rss_of, args.model, options)
        return

    args.workdir.mkdir(parents=True, exist_ok=True)
    sizes = args.sizes if args.sizes is not None else ([] if args.film else list(SIZES))
    films = [sample_film(args.workdir, size, args.seconds) for size in sizes] + args.film
    colorizer = Colorizer.load(args.model)
    options = replace(options, batch_size=options.batch_for(colorizer.device))
    settings = {"model": args.model, "fp32": args.fp32, "cpus": _cores(), "torch_threads": torch.get_num_threads(),
                "torch": torch.__version__, "pyav": av.__version__,
                "options": {"batch_size": options.batch_size, "temporal": options.temporal, "window": options.window,
                            "crf": options.crf, "preset": options.preset},
                "load_before": os.getloadavg()}
    rows = []
    for film in films:
        source = probe(film)
        warmup = sample_film(args.workdir, f"{source.width}x{source.height}", 1.0)
        rows.append(measure(film, warmup, colorizer, options, disk=not args.no_disk, hints=args.hints))
        told = f", told {rows[-1]['hints']} hints: {rows[-1]['fps_told']:.1f} fps" if args.hints else ""
        print(f"{film.name}: {rows[-1]['fps']:.1f} fps{told}", file=sys.stderr)
    memory = None
    if not args.no_memory:
        short, long = (sample_film(args.workdir, SIZES[0], s) for s in (args.memory_seconds, 8 * args.memory_seconds))
        memory = {"short": peak_rss(short, args.model, options, args.fp32),
                  "long": peak_rss(long, args.model, options, args.fp32)}
        memory["delta_mb"] = memory["long"]["peak_rss_mb"] - memory["short"]["peak_rss_mb"]
    settings["load_after"] = os.getloadavg()
    _report(settings, rows, memory)
    if args.json:
        args.json.write_text(json.dumps({"settings": settings, "films": rows, "memory": memory}, indent=2))


if __name__ == "__main__":
    main()
