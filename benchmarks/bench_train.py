"""Samples per second of a training step at the shipped recipe (fusion, Lite0, width 32, 160 px crops,
batch 16, L1), data preparation included, on synthetic photos (no data set needed).

    python benchmarks/bench_train.py                                   # as `vidcolor train` runs
    python benchmarks/bench_train.py --precision fp32 --layout contiguous   # the recipe before speed-ups

Each configuration runs `--warmup` steps, then times `--steps`, `--repeats` times; the fastest is
reported (as `timeit` advises: the slower ones measure whatever else the machine was doing).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from vidcolor.training.augment import make_batch
from vidcolor.training.losses import ColorLoss
from vidcolor.training.train import TrainOptions, build_run, train_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fusion")
    parser.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    parser.add_argument("--layout", default="channels_last", choices=["channels_last", "contiguous"])
    parser.add_argument("--adversarial", action="store_true")
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    opts = TrainOptions(model=args.model, data=[], out=Path("."), size=args.size, batch_size=args.batch_size,
                        precision=args.precision, adversarial=args.adversarial, lr=1e-4)
    device = torch.device("cpu")
    run = build_run(opts, device, total=10_000)
    if args.layout == "contiguous":
        run.model.to(memory_format=torch.contiguous_format)  # build_run gave it channels-last
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 256, (2 * args.size, 3 * args.size, 3), np.uint8) for _ in range(64)]
    gen = torch.Generator().manual_seed(0)
    loss_fn = ColorLoss("l1")
    memory = torch.channels_last if args.layout == "channels_last" else torch.contiguous_format

    def one_step() -> None:
        L, _, ab = make_batch(photos, rng.integers(0, len(photos), args.batch_size).tolist(), args.size, gen)
        train_step(run, L.contiguous(memory_format=memory), ab, opts, loss_fn, device)

    for _ in range(args.warmup):
        one_step()
    rates = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(args.steps):
            one_step()
        rates.append(args.steps * args.batch_size / (time.perf_counter() - start))
    rate = max(rates)
    print(f"{args.model} {args.precision} {args.layout}{' adversarial' if args.adversarial else ''}: "
          f"{rate:.1f} samples/s ({args.batch_size / rate:.3f} s a step; runs {', '.join(f'{r:.1f}' for r in rates)})")


if __name__ == "__main__":
    main()
