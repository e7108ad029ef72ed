"""The training loop: one readable script for all three families, single process or DDP.

Modelled on torchvision's reference classification trainer: `--resume` continues exactly
(model, optimiser, scheduler and step are checkpointed; every random draw is seeded from the
step and the rank, so the data stream after a resume is the one an uninterrupted run sees),
`torchrun --nproc-per-node N` gives DDP (gloo on CPU, nccl on CUDA), and only rank 0 writes.
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..archs import FAMILIES, PatchDiscriminator, build_model
from ..archs.chroma_bins import valid_temperature
from ..atomic import written_atomically
from ..color import AB_SCALE, l_ab_to_rgb, rgb_to_lab, to_int_images
from ..errors import UserError
from ..inference import resolve_device, working_shape
from ..metrics import colourfulness, psnr, ssim
from ..weights import (
    BACKBONE_PREFIX,
    load_trainable_state,
    read_metadata,
    read_weights,
    save_weights,
    trainable_state,
)
from .augment import make_batch
from .data import ab_histogram, load_images
from .losses import ColorLoss, rebalance_weights
from .report import append_csv, plot_curves, read_csv, sample_grid

CHECKPOINT = "checkpoint.pt"


@dataclass
class TrainOptions:
    model: str
    data: list[Path]
    out: Path
    val: Path | None = None
    steps: int | None = None
    epochs: int | None = None
    size: int = 176
    batch_size: int = 16
    lr: float = 5e-4
    resume: bool = False
    device: str = "auto"
    loss: str = "l1"
    ab_bins: int = 17  # loss "bins": grid colours per a/b axis
    temperature: float = 1.0  # loss "bins": annealed-mean temperature used to decode (and validate)
    rebalance: float | None = None  # λ of the uniform mix; None = plain loss
    frame_stride: int = 10
    checkpoint_every: int = 250
    val_every: int | None = None  # steps; default once per epoch
    seed: int = 0
    width: int = 32
    backbones: str = "lite0"
    tune_backbone: int = 0  # fusion: fine-tune this many deepest backbone stages
    backbone_lr_scale: float = 0.1  # their learning rate relative to --lr
    init: Path | None = None  # start from these exported weights (e.g. the L1 U-Net for `gan`)
    gan_warmup: int = 0  # steps of pure L1 before the adversarial phase
    lambda_l1: float = 100.0
    max_val_images: int = 117
    quiet: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def arch(self) -> dict[str, Any]:
        if self.model == "fusion":
            binned = {"ab_bins": self.ab_bins, "temperature": self.temperature} if self.loss == "bins" else {}
            return {"width": self.width, "backbones": self.backbones, "tune_backbone": self.tune_backbone, **binned}
        return {"width": self.width}


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _lr_lambda(total: int, warmup: int):
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))
    return f


@torch.no_grad()
def validate(model: nn.Module, images: list[np.ndarray], size: int,
             device: torch.device) -> tuple[dict[str, float], list[tuple[np.ndarray, ...]]]:
    """Colour each val image at the training scale; PSNR/SSIM/colourfulness/ab MSE vs the truth."""
    model.eval()
    sums = {"psnr": 0.0, "grey_psnr": 0.0, "ssim": 0.0, "colourfulness": 0.0, "ab_mse": 0.0}
    samples = []
    for i, rgb in enumerate(images):
        h, w = working_shape(*rgb.shape[:2], size)
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0
        lab = rgb_to_lab(F.interpolate(x, size=(h, w), mode="area"))
        L, ab = lab[:, :1], lab[:, 1:] / AB_SCALE
        pred = model(L.to(device)).float().cpu()
        out, truth, grey = to_int_images(torch.cat([l_ab_to_rgb(L, c) for c in (pred, ab, torch.zeros_like(ab))]))
        sums["psnr"] += psnr(out, truth)
        sums["grey_psnr"] += psnr(grey, truth)  # the floor: PSNR must beat this, not an absolute number
        sums["ssim"] += ssim(out, truth)
        sums["colourfulness"] += colourfulness(out)
        sums["ab_mse"] += float(((pred - ab) ** 2).mean())
        if i < 8:
            samples.append((grey, out, truth))
    model.train()
    return {k: v / len(images) for k, v in sums.items()}, samples


def _setup_distributed(device_name: str) -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return rank, world, device


def _load_init(model: nn.Module, path: Path, ab_bins: int) -> None:
    """Start from exported weights; a binned head the file does not have (same grid) starts fresh."""
    if not path.is_file():
        raise UserError(f"{path}: no such weights file for --init")
    new_head = ab_bins and read_metadata(path).get("arch", {}).get("ab_bins") != ab_bins
    if not load_trainable_state(model, read_weights(path), untuned=True, fresh="head." if new_head else None):
        raise UserError(f"{path}: weights do not fit this architecture")


def _check_same_run(saved: dict[str, str], opts: TrainOptions, path: Path) -> None:
    """A resumed run must build the model it checkpointed; other options may change."""
    for key in ("model", "loss", "ab_bins", "width", "backbones", "tune_backbone"):
        if key in saved and saved[key] != str(getattr(opts, key)):
            flag = "--" + key.replace("_", "-")
            raise UserError(f"{path}: this run was started with {flag} {saved[key]}; resume it with the same")


_CHANGES_TO_NOTE = ("data", "val", "steps", "epochs", "size", "batch_size", "lr", "rebalance", "frame_stride",
                    "val_every", "backbone_lr_scale", "gan_warmup", "lambda_l1")


def _changed_on_resume(saved: dict[str, str], opts: TrainOptions) -> list[str]:
    """Options a resumed run takes differently from the run it continues: allowed (more steps, another
    learning rate), but never silently, as a forgotten --val or --size would be."""
    changes = []
    for key in _CHANGES_TO_NOTE:
        if key in saved and saved[key] != str(getattr(opts, key)):
            changes.append(f"--{key.replace('_', '-')} {getattr(opts, key)} (the run was started with {saved[key]})")
    return changes


def train(opts: TrainOptions) -> dict[str, float]:
    """Train a colourizer into `opts.out`; returns the last validation metrics (rank 0)."""
    if opts.model not in FAMILIES:
        raise UserError(f"unknown model family {opts.model!r} (choose {', '.join(FAMILIES)})")
    if opts.loss == "bins" and opts.model != "fusion":
        raise UserError("--loss bins needs --model fusion (its binned chroma head)")
    if opts.loss != "bins" and (opts.ab_bins, opts.temperature) != (TrainOptions.ab_bins, TrainOptions.temperature):
        raise UserError("--ab-bins and --temperature apply only to --loss bins")
    if opts.loss == "bins" and (opts.ab_bins < 2 or not valid_temperature(opts.temperature)):
        raise UserError("--loss bins needs --ab-bins of at least 2 and a positive --temperature")
    rank, world, device = _setup_distributed(opts.device)
    master = rank == 0
    out = opts.out
    ckpt_path = out / CHECKPOINT
    if opts.resume and not ckpt_path.is_file():
        raise UserError(f"{ckpt_path}: nothing to resume")
    if not opts.resume and any((out / name).exists() for name in (CHECKPOINT, "last.safetensors")):
        raise UserError(f"{out}: holds a training run already (continue it with --resume, or give another --out)")
    if master:
        out.mkdir(parents=True, exist_ok=True)

    images = load_images(opts.data, opts.frame_stride, max_short=2 * opts.size, quiet=opts.quiet or not master)
    val_images = load_images([opts.val], opts.frame_stride, max_short=4 * opts.size, quiet=True)[
        :opts.max_val_images] if (opts.val and master) else []

    torch.manual_seed(opts.seed)
    try:
        model = build_model(opts.model, **opts.arch()).to(device)
    except ValueError as exc:  # options the architecture refuses, as --backbones lite9
        raise UserError(str(exc)) from None
    if opts.init:
        _load_init(model, opts.init, opts.ab_bins if opts.loss == "bins" else 0)
    weights = rebalance_weights(ab_histogram(images), opts.rebalance) if opts.rebalance is not None else None
    loss_fn = ColorLoss(opts.loss, weights).to(device)

    gan = opts.model == "gan"
    betas = (0.5, 0.999) if gan else (0.9, 0.999)
    steps_per_epoch = max(1, math.ceil(len(images) / (opts.batch_size * world)))
    total = opts.steps or (opts.epochs or 1) * steps_per_epoch
    val_every = opts.val_every or steps_per_epoch
    tuned = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith(BACKBONE_PREFIX)]
    own = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith(BACKBONE_PREFIX)]
    groups = [{"params": own}] + ([{"params": tuned, "lr": opts.lr * opts.backbone_lr_scale}] if tuned else [])
    opt = torch.optim.AdamW(groups, opts.lr, betas=betas, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(total, min(200, total // 10 + 1)))
    disc = opt_d = None
    if gan:
        disc = PatchDiscriminator().to(device)
        opt_d = torch.optim.Adam(disc.parameters(), opts.lr, betas=betas)

    step = 0
    if opts.resume:
        try:  # weights_only: a checkpoint is never unpickled beyond tensors and plain values
            ckpt = torch.load(ckpt_path, map_location=device, weights_only=True)
        except Exception:  # noqa: BLE001 -- whatever a damaged file makes the reader raise; its message
            # advises unpickling the file, which must never be done, so it is not passed on
            raise UserError(f"{ckpt_path}: damaged, or not a vidcolor checkpoint") from None
        if not isinstance(ckpt, dict):
            raise UserError(f"{ckpt_path}: damaged, or not a vidcolor checkpoint")
        _check_same_run(ckpt.get("options", {}), opts, ckpt_path)
        if master:
            for change in _changed_on_resume(ckpt.get("options", {}), opts):
                print(f"vidcolor: warning: resumed with {change}", file=sys.stderr)
        try:
            model.load_state_dict(ckpt["model"], strict=False)
            opt.load_state_dict(ckpt["optimizer"])
            sched.load_state_dict(ckpt["scheduler"])
            if gan:
                disc.load_state_dict(ckpt["disc"])
                opt_d.load_state_dict(ckpt["opt_disc"])
            step = int(ckpt["step"])
        except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:  # torch's are many lines
            raise UserError(f"{ckpt_path}: does not fit this run, or is damaged ({str(exc).splitlines()[0]})") \
                from None

    if world > 1:
        model = nn.parallel.DistributedDataParallel(model)
        if disc is not None:
            disc = nn.parallel.DistributedDataParallel(disc)

    meta = {"family": opts.model, "arch": opts.arch(), "working_size": opts.size,
            "data": [str(d) for d in opts.data], "val_data": str(opts.val) if opts.val else None,
            "loss": opts.loss, "rebalance": opts.rebalance, "batch_size": opts.batch_size * world,
            "images": len(images), "init": str(opts.init) if opts.init else None}

    def save_checkpoint() -> None:
        if not master:
            return
        state = {"model": trainable_state(_unwrap(model)),
                 "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "step": torch.tensor(step),
                 "options": {k: str(v) for k, v in asdict(opts).items()}}
        if gan:
            state["disc"] = _unwrap(disc).state_dict()
            state["opt_disc"] = opt_d.state_dict()
        with written_atomically(ckpt_path) as tmp:
            torch.save(state, tmp)
        meta["steps"] = step
        save_weights(out / "last.safetensors", _unwrap(model), meta)

    gen = torch.Generator()
    bce = nn.BCEWithLogitsLoss()
    bar = tqdm(total=total, initial=step, disable=opts.quiet or not master, unit="step", dynamic_ncols=True)
    running, count, t0, metrics = 0.0, 0, time.time(), {}
    model.train()
    while step < total:
        gen.manual_seed(opts.seed * 1_000_003 + step * 7919 + rank)
        idx = torch.randint(len(images), (opts.batch_size,), generator=gen).tolist()
        L_in, _, ab = (t.to(device) for t in make_batch(images, idx, opts.size, gen))
        pred = model(L_in, logits=True) if opts.loss == "bins" else model(L_in)
        if gan and step >= opts.gan_warmup:
            d_real, d_fake = disc(L_in, ab), disc(L_in, pred.detach())
            loss_d = 0.5 * (bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake)))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            d_gen = disc(L_in, pred)
            loss = bce(d_gen, torch.ones_like(d_gen)) + opts.lambda_l1 * loss_fn(pred, ab)
        else:
            loss = loss_fn(pred, ab)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        running, count = running + loss.item(), count + 1
        bar.update(1)
        bar.set_postfix(loss=f"{running / count:.4f}")
        if master and val_images and (step % val_every == 0 or step == total):
            metrics, samples = validate(_unwrap(model), val_images, opts.size, device)
            row = {"step": step, "epoch": step / steps_per_epoch, "train_loss": running / count, **metrics,
                   "seconds": time.time() - t0}
            append_csv(out / "metrics.csv", row)
            plot_curves(read_csv(out / "metrics.csv"), out / "curves.png")
            sample_grid(samples, out / "samples.png")
            meta["val"] = {k: round(v, 4) for k, v in metrics.items()}
            running, count = 0.0, 0
            if not opts.quiet:
                bar.write(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        if step % opts.checkpoint_every == 0 or step == total:
            save_checkpoint()
    bar.close()
    if world > 1:
        dist.barrier()
    return metrics
