"""Samples per second of a training step at the shipped recipe (fusion, Lite0, width 32, 160 px crops,
batch 16, L1), data preparation included, on synthetic photos (no data set needed).

    python benchmarks/bench_train.py                                   # as `vidcolor train` runs
    python benchmarks/bench_train.py --precision fp32 --layout contiguous   # the recipe before speed-ups
    python benchmarks/bench_train.py --loss mse --tune-backbone 3 --blocks8 4 --light-decoder  # the default's net
    python benchmarks/bench_train.py --loss mse --tune-backbone 3 --blocks8 4 --light-decoder --backbones lite2
    python benchmarks/bench_train.py --loss mse --tune-backbone 2 --blocks8 4 --light-decoder \
        --train-layers up4,up2,head --teacher models/training/fusion-full.safetensors   # its distillation

Each configuration runs `--warmup` steps, then times `--steps`, `--repeats` times; the fastest is
reported (as `timeit` advises: the slower ones measure whatever else the machine was doing).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from vidcolor.runtime.weights import load_model
from vidcolor.training.augment import make_batch
from vidcolor.training.losses import ColorLoss
from vidcolor.training.train import TrainOptions, build_run, teacher_colors, train_step
from vidcolor.utils.choices import PRECISIONS

RECIPE_FLAGS = ("backbones", "loss", "tune_backbone", "blocks8", "light_decoder", "train_layers", "teacher",
                "teacher_mirror")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fusion")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    parser.add_argument("--layout", default="channels_last", choices=["channels_last", "contiguous"])
    parser.add_argument("--adversarial", action="store_true")
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--loss", default="l1", choices=["l1", "mse"])
    parser.add_argument("--backbones", default="lite0", help="fusion: e.g. lite2 (what a stronger backbone costs).")
    parser.add_argument("--tune-backbone", type=int, default=0)
    parser.add_argument("--blocks8", type=int, default=0)
    parser.add_argument("--light-decoder", action="store_true")
    parser.add_argument("--train-layers", default="", help="Only these layers learn (the others frozen).")
    parser.add_argument("--teacher", type=Path, action="append", default=[],
                        help="Distil: the step also runs this model for its colours (again: several, averaged).")
    parser.add_argument("--teacher-mirror", action="store_true", help="Each teacher also on the mirror image.")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    opts = TrainOptions(model=args.model, data=[], out=Path("."), size=args.size, batch_size=args.batch_size,
                        precision=args.precision, adversarial=args.adversarial, lr=1e-4, loss=args.loss,
                        backbones=args.backbones,
                        tune_backbone=args.tune_backbone, blocks8=args.blocks8, light_decoder=args.light_decoder,
                        train_layers=args.train_layers)
    device = torch.device("cpu")
    run = build_run(opts, device, total=10_000)
    if args.layout == "contiguous":
        run.model.to(memory_format=torch.contiguous_format)  # build_run gave it channels-last
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 256, (2 * args.size, 3 * args.size, 3), np.uint8) for _ in range(64)]
    gen = torch.Generator().manual_seed(0)
    loss_fn = ColorLoss(args.loss)
    memory = torch.channels_last if args.layout == "channels_last" else torch.contiguous_format
    teachers = [load_model(str(t), device)[0].to(memory_format=memory) for t in args.teacher]

    def one_step() -> None:
        L, _, ab = make_batch(photos, rng.integers(0, len(photos), args.batch_size).tolist(), args.size, gen)
        L = L.contiguous(memory_format=memory)
        if teachers:
            ab = teacher_colors(teachers, L, device, opts.precision, args.teacher_mirror)
        train_step(run, L, ab, opts, loss_fn, device)

    for _ in range(args.warmup):
        one_step()
    rates = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(args.steps):
            one_step()
        rates.append(args.steps * args.batch_size / (time.perf_counter() - start))
    rate = max(rates)
    recipe = " ".join(f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}")
                      for k, vs in vars(args).items() if k in RECIPE_FLAGS
                      for v in (vs if isinstance(vs, list) else [vs]) if v)
    print(f"{args.model} {args.precision} {args.layout}{' adversarial' if args.adversarial else ''} {recipe}: "
          f"{rate:.1f} samples/s ({args.batch_size / rate:.3f} s a step; runs {', '.join(f'{r:.1f}' for r in rates)})")


if __name__ == "__main__":
    main()
