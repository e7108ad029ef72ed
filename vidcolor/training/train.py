"""The training loop: one readable script for all three families, single process or DDP.

Modelled on torchvision's reference classification trainer: `train_step` and `evaluate` apart from
the loop, `--resume` continues exactly (model, optimiser, scheduler and step are checkpointed; every
random draw is seeded from the step and the rank, so the data stream after a resume is the one an
uninterrupted run sees), `--continue-from` picks a run up from its exported weights alone (a new
machine, the run folder gone) at the step they record, `torchrun --nproc-per-node N` gives DDP
(gloo on CPU, nccl on CUDA), and only rank 0 writes.
"""
from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..evaluation.metrics import colorfulness, psnr, ssim
from ..evaluation.report import sample_grid
from ..runtime.archs import BLOCKS8_PREFIX, FAMILIES, HINT_PREFIX, PatchDiscriminator, build_model, split_hint_branch
from ..runtime.archs.chroma_bins import valid_temperature
from ..runtime.color import AB_SCALE, l_ab_to_rgb, rgb_to_lab, to_int_images
from ..runtime.device import resolve_device
from ..runtime.hints import reference_histogram
from ..runtime.inference import working_shape
from ..runtime.weights import (
    BACKBONE_PREFIX,
    all_finite,
    check_finite,
    load_model,
    load_trainable_state,
    model_spec,
    read_metadata,
    read_weights,
    save_weights,
    trainable_state,
)
from ..utils.atomic import check_folder_makeable, make_folder, written_atomically
from ..utils.choices import BALANCES, MAX_TRAIN_BATCH, MIN_TEMPERATURE, PRECISIONS, SEEDS, TRAIN_SIZES
from ..utils.errors import UserError
from ..utils.folder_lock import LOCK_NAME, lock_folder
from ..utils.paths import hidden_below
from ..utils.stopping import stops_deferred
from ..utils.warn import default_warn
from .augment import make_batch
from .data import TrainingSet, ab_histogram, load_images
from .hints import points_from_truth, simulate_hints
from .losses import ColorLoss, rebalance_weights
from .report import append_csv, plot_curves, read_csv
from .speed import autocast, fast_layout

CHECKPOINT = "checkpoint.pt"


@dataclass
class TrainOptions:
    model: str
    data: list[Path]
    out: Path
    val: list[Path] = field(default_factory=list)  # each folder its own table (photos, film frames)
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
    balance: str = "none"  # sampling: "prefix" or "folder" groups drawn by the square root of their size
    group_weights: dict[str, float] = field(default_factory=dict)  # a group's draws multiplied (davis: 3.0)
    precision: str = "auto"  # bf16 autocast where the hardware has it, else fp32
    frame_stride: int = 10
    checkpoint_every: int = 250
    keep_weights: bool = False  # each checkpoint's weights also kept as weights-STEP.safetensors
    val_every: int | None = None  # steps; default once per epoch
    seed: int = 0
    width: int = 32
    backbones: str = "lite0"
    tune_backbone: int = 0  # fusion: fine-tune this many deepest backbone stages
    blocks8: int = 0  # fusion: residual blocks at stride 8; those --init's file lacks start as the identity
    light_decoder: bool = False  # fusion: LightUpBlocks; from a full decoder's file they start from its weights
    train_layers: str = ""  # comma list of top-level layers that learn; empty: all of them
    backbone_lr_scale: float = 0.1  # their learning rate relative to --lr
    init: Path | None = None  # start from these exported weights (e.g. the L1 U-Net for `gan`)
    continue_from: Path | None = None  # exported weights of a run, continued at the step they record
    teachers: list[Path] = field(default_factory=list)  # learn their averaged colours, not the photos' (distillation)
    teacher_mirror: bool = False  # each teacher also colours the mirror image, averaged in: a steadier teacher
    hints: bool = False  # fusion: a hint branch trained on top of the automatic model --init, which stays as it is
    adversarial: bool = False  # against a PatchGAN (always so for the `gan` family)
    gan_warmup: int = 0  # steps of the colour loss alone while the PatchGAN learns, before the adversarial phase
    lambda_l1: float = 100.0
    max_val_images: int = 200
    quiet: bool = False

    def arch(self) -> dict[str, Any]:
        if self.model == "fusion":
            binned = {"ab_bins": self.ab_bins, "temperature": self.temperature} if self.loss == "bins" else {}
            told = {"hints": True} if self.hints else {}
            larger = {"blocks8": self.blocks8} if self.blocks8 else {}  # a file readable by versions without them
            light = {"light_decoder": True} if self.light_decoder else {}
            return {"width": self.width, "backbones": self.backbones, "tune_backbone": self.tune_backbone, **binned,
                    **told, **larger, **light}
        return {"width": self.width}

    def gan(self) -> bool:
        return self.model == "gan" or self.adversarial


@dataclass
class Run:
    """What a checkpoint holds: the nets, their optimisers, the schedule and the step."""

    model: nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LambdaLR
    disc: nn.Module | None = None
    opt_d: torch.optim.Optimizer | None = None
    step: int = 0
    start: int = 0  # the step a --continue-from run began at, warming up again from there (kept for --resume)
    seen: int = 0  # photos drawn so far, for the epoch a resume with another --batch-size carries on
    clock: float = field(default_factory=time.time)  # when it would have started, trained without a stop: its
    # `seconds` go on from the checkpoint's across a resume
    losses: tuple[float, int] = (0.0, 0)  # the training loss summed over the steps since the last validation, and
    # their count: metrics.csv's train_loss, the same whether or not the run was stopped and resumed in between


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _schedule(total: int, start: int) -> Callable[[int], float]:
    """The learning rate's factor at each step of a run of `total` steps that started at `start`."""
    return _lr_lambda(total, min(200, total // 10 + 1), start)


def _lr_lambda(total: int, warmup: int, start: int = 0) -> Callable[[int], float]:
    """Warm-up, then cosine decay to `total`; a run continued at `start` without its optimiser's moments
    warms up again over as many steps, so fresh Adam statistics do not jolt the weights."""
    def f(step: int) -> float:
        rewarm = min(1.0, (step - start + 1) / warmup) if start else 1.0
        if step < warmup:
            return rewarm * (step + 1) / warmup
        return rewarm * 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))
    return f


FUSION_ONLY = ("backbones", "tune_backbone", "blocks8", "light_decoder", "backbone_lr_scale")  # TrainOptions' names
GAN_ONLY = ("gan_warmup", "lambda_l1")
# options whose flag, given once per value, is spelt otherwise
_FLAGS = {"teachers": "teacher", "group_weights": "group_weight"}


def _flag(name: str) -> str:
    """The command line's flag of a TrainOptions field, as messages name it: tune_backbone -> --tune-backbone."""
    return "--" + _FLAGS.get(name, name).replace("_", "-")


def check_options(opts: TrainOptions) -> None:
    """Mistakes that would waste a night's training, refused before any data is read."""
    if opts.model not in FAMILIES:
        raise UserError(f"unknown model family {opts.model!r} (choose {', '.join(FAMILIES)})")
    for flag, value, (low, high) in (("--size", opts.size, TRAIN_SIZES), ("--batch-size", opts.batch_size,
                                     (1, MAX_TRAIN_BATCH)), ("--seed", opts.seed, SEEDS)):
        if not low <= value <= high:  # the command line's own ranges, for a script's TrainOptions
            raise UserError(f"{flag} {value}: give a whole number from {low} to {high}")
    if opts.loss == "bins" and opts.model != "fusion":
        raise UserError("--loss bins needs --model fusion (its binned chroma head)")
    if opts.loss != "bins" and (opts.ab_bins, opts.temperature) != (TrainOptions.ab_bins, TrainOptions.temperature):
        raise UserError("--ab-bins and --temperature apply only to --loss bins")
    if opts.loss == "bins" and (opts.ab_bins < 2 or not valid_temperature(opts.temperature)):
        raise UserError(f"--loss bins needs --ab-bins of at least 2 and a --temperature of at least {MIN_TEMPERATURE}")
    if opts.hints and (opts.model != "fusion" or opts.loss != "l1"):
        raise UserError("--hints trains a fusion model with --loss l1")
    if opts.hints and opts.train_layers:
        raise UserError("--hints trains the hint branch alone already: no --train-layers")
    if opts.teachers and (opts.hints or opts.gan() or opts.loss == "bins"):
        raise UserError("--teacher gives the colours to learn with --loss l1, mse or rgb (no --hints, gan or bins)")
    if opts.teacher_mirror and not opts.teachers:
        raise UserError("--teacher-mirror needs a --teacher")
    for teacher in opts.teachers:
        _check_weights_file(teacher, "--teacher")
    given = [_flag(n) for n in FUSION_ONLY if getattr(opts, n) != getattr(TrainOptions, n)]
    if given and opts.model != "fusion":  # else silently left out of a U-Net
        raise UserError(f"{' '.join(given)}: {'options' if len(given) > 1 else 'an option'} of --model fusion")
    given = [_flag(n) for n in GAN_ONLY if getattr(opts, n) != getattr(TrainOptions, n)]
    if given and not opts.gan():  # else silently without effect
        raise UserError(f"{' '.join(given)}: {'options' if len(given) > 1 else 'an option'} of --model gan or "
                        "--adversarial")
    if opts.gan() and opts.steps and opts.gan_warmup >= opts.steps:  # a stage of its own, maybe: said, not refused
        default_warn(f"--gan-warmup {opts.gan_warmup} covers all {opts.steps} steps: none of this run is adversarial "
                     "(resume it with more --steps for that)")
    if opts.val_every is not None and not opts.val:
        raise UserError("--val-every needs a --val folder to validate on")
    if opts.balance not in BALANCES:
        raise UserError(f"--balance must be one of {', '.join(BALANCES)}")
    for group, weight in opts.group_weights.items():
        if not (math.isfinite(weight) and weight > 0):
            raise UserError(f"--group-weight {group}={weight}: a group's weight is a positive number")
    if opts.precision not in PRECISIONS:
        raise UserError(f"--precision must be one of {', '.join(PRECISIONS)}")
    if sum(map(bool, (opts.resume, opts.init, opts.continue_from))) > 1:
        raise UserError("--resume, --init and --continue-from each say where to start: give one")
    check_folder_makeable(opts.out)  # found now, not after the data has been read
    _warn_of_scores_on_training_data(opts)
    out = opts.out.resolve()
    for folder in (*opts.data, *opts.val):  # its pictures would be read as photos by the next run (a hidden one not)
        if folder.is_dir() and out.is_relative_to(root := folder.resolve()) and not hidden_below(out, root):
            raise UserError(f"{opts.out}: the run's folder must not be inside a folder it learns or is scored from "
                            f"({folder})")
    ckpt = opts.out / CHECKPOINT
    if opts.resume and not ckpt.is_file():
        raise UserError(f"{ckpt}: nothing to resume")
    if not opts.resume:
        _check_nothing_written_over(opts.out)
    if opts.hints and not (opts.init or opts.continue_from or opts.resume):
        raise UserError("--hints trains a hint branch on top of an automatic model: give it with --init")
    if opts.train_layers and not (opts.init or opts.continue_from or opts.resume):
        raise UserError("--train-layers leaves the other layers as they are: give the model they come from with --init")
    if opts.continue_from and opts.steps:  # before the data is read (a minute for 20,000 photos), not after
        _check_weights_file(opts.continue_from, "--continue-from")
        _continued_from(opts.continue_from, opts.steps)


@dataclass
class ValSet:
    """A validation table: photos, or frames of colour films, scored apart so a model that gains on
    one and loses on the other is seen."""

    name: str
    images: list[np.ndarray]


def load_val_sets(opts: TrainOptions) -> list[ValSet]:
    """Each --val folder, at most `max_val_images` spread evenly over it (films' frames in order); a folder named
    twice (`--val v --val v/`) is scored once."""
    sets: list[ValSet] = []
    folders: dict[Path, Path] = {}
    for folder in opts.val:
        folders.setdefault(folder.resolve(), folder)
    for folder in folders.values():
        images = load_images([folder], opts.frame_stride, max_short=4 * opts.size, quiet=True).images
        if len(images) > opts.max_val_images:
            images = [images[i] for i in np.linspace(0, len(images) - 1, opts.max_val_images).round().astype(int)]
        name = folder.resolve().name or "val"
        sets.append(ValSet(name if name not in {s.name for s in sets} else f"{name}{len(sets) + 1}", images))
    return sets


HINTS_SCORED = (1, 10)  # a hint model is also scored told this many points of the truth, and its palette


@torch.no_grad()
def evaluate(model: nn.Module, images: list[np.ndarray], size: int, device: torch.device,
             precision: str = "fp32") -> tuple[dict[str, float], list[tuple[np.ndarray, ...]]]:
    """Colour each val image at the training scale; PSNR/SSIM/colourfulness/ab MSE vs the truth. A hint model
    is scored as well told HINTS_SCORED points of the truth (`psnr_hintsN`) and the truth's palette
    (`psnr_reference`), the same points for every model."""
    modes = [(m, m.training) for m in model.modules()]  # restored after: layers kept frozen stay in eval mode
    model.eval()
    sums: dict[str, float] = {}
    samples = []
    for i, rgb in enumerate(images):
        h, w = working_shape(*rgb.shape[:2], size)
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0
        lab = rgb_to_lab(F.interpolate(x, size=(h, w), mode="area"))
        L, ab = lab[:, :1], lab[:, 1:] / AB_SCALE

        def color(**told: torch.Tensor) -> torch.Tensor:
            with autocast(device, precision):
                return model(L.to(device), **{k: v.to(device) for k, v in told.items()}).float().cpu()

        pred = color()
        out, truth, grey = to_int_images(torch.cat([l_ab_to_rgb(L, c) for c in (pred, ab, torch.zeros_like(ab))]))
        scores = {"psnr": psnr(out, truth), "grey_psnr": psnr(grey, truth),  # grey: the floor PSNR must beat
                  "ssim": ssim(out, truth), "colourfulness": colorfulness(out),
                  "ab_mse": float(((pred - ab) ** 2).mean())}
        if getattr(model, "takes_hints", False):
            gen = torch.Generator().manual_seed(i)
            told = {f"hints{n}": {"hints": points_from_truth(ab[0], n, gen)[None]} for n in HINTS_SCORED}
            told["reference"] = {"reference": reference_histogram(ab)}
            for name, inputs in told.items():
                scores[f"psnr_{name}"] = psnr(to_int_images(l_ab_to_rgb(L, color(**inputs)))[0], truth)
        for k, v in scores.items():
            sums[k] = sums.get(k, 0.0) + v
        if i < 8:
            samples.append((grey, out, truth))
    for module, mode in modes:
        module.training = mode
    return {k: v / len(images) for k, v in sums.items()}, samples


def _world() -> int:
    """The processes training together (torchrun's WORLD_SIZE; 1 alone)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def _setup_distributed(device_name: str) -> tuple[int, int, torch.device]:
    world = _world()
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return rank, world, device


def _continued_from(path: Path, total: int) -> int:
    """The step the exported weights at `path` were trained to, for a run of `total` steps to go on from."""
    start = read_metadata(path).get("steps") or 0
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise UserError(f"{path}: its metadata gives no usable step count ({start!r})")
    if start >= total:
        raise UserError(f"{path}: was trained {start} steps already; give --steps above that")
    return start


def _check_weights_file(path: Path, flag: str) -> None:
    """The weights file an option names; a run's folder, the likely slip, is told as such, as `--model` tells it."""
    if path.is_dir():
        raise UserError(f"{path}: a folder, not a weights file for {flag} (a training run's is its last.safetensors)")
    if not path.is_file():
        raise UserError(f"{path}: no such weights file for {flag}")


def _load_init(model: nn.Module, path: Path, flag: str, opts: TrainOptions) -> None:
    """Start from exported weights; a binned head the file does not have (same grid) starts fresh, stride-8 blocks
    it does not have start as the identity, a full decoder becomes a light one (LightUpBlock starts from it), and an
    automatic model started from a hint model (the shipped one) takes its trunk and leaves the branch. What the
    file has that the options would drop (tuned backbone stages, blocks, its light decoder) is refused, naming the
    options that keep it."""
    _check_weights_file(path, flag)
    family, arch = model_spec(path, read_metadata(path))
    if FAMILIES.get(family) is not FAMILIES[opts.model]:  # unet and gan share a network: one starts the other
        raise UserError(f"{path}: a {family} model; start from it with --model {family}")
    if arch.get("width", opts.width) != opts.width:
        raise UserError(f"{path}: was trained with --width {arch['width']}; give the same to start from it")
    kept = [f"--tune-backbone {arch.get('tune_backbone')}" if arch.get("tune_backbone", 0) > opts.tune_backbone
            else "", f"--blocks8 {arch.get('blocks8')}" if arch.get("blocks8", 0) > opts.blocks8 else "",
            "--light-decoder" if arch.get("light_decoder") and not opts.light_decoder else ""]
    if any(kept):
        raise UserError(f"{path}: was trained with {' '.join(k for k in kept if k)}; give the same to start from it")
    ab_bins = opts.ab_bins if opts.loss == "bins" else 0
    new_head = ab_bins and arch.get("ab_bins") != ab_bins
    state = read_weights(path)
    check_finite(path, state)  # else the run "diverges" at its first step, blamed on the learning rate
    state = state if opts.hints else split_hint_branch(state)[0]
    if not load_trainable_state(model, state, untuned=True, fresh="head." if new_head else None,
                                optional=(HINT_PREFIX, BLOCKS8_PREFIX)):
        raise UserError(f"{path}: weights do not fit this architecture")


_THE_MODELS_OWN = ("model", "loss", "ab_bins", "width", "backbones", "tune_backbone", "hints", "blocks8",
                   "light_decoder", "train_layers")  # the layers learning: what the optimiser's state is of
_NOT_OF_THE_RUN = ("out", "resume", "init", "continue_from", "quiet")  # where it starts, whether it shows progress


def _check_same_run(saved: dict[str, str], opts: TrainOptions, path: Path) -> None:
    """A resumed run must build the model it checkpointed; other options may change."""
    for key in _THE_MODELS_OWN:
        if key in saved and saved[key] != str(getattr(opts, key)):
            raise UserError(f"{path}: this run was started with {_flag(key)} {saved[key]}; resume it with the same")


def _changed_on_resume(saved: dict[str, str], opts: TrainOptions) -> list[str]:
    """Options a resumed run takes differently from the run it continues: allowed (more steps, another
    learning rate), but never silently, as a forgotten --val or --size would be, or another --seed (other
    batches from there on: no longer the run it continues)."""
    changes = []
    for key in (f.name for f in fields(TrainOptions)):
        if key in _THE_MODELS_OWN + _NOT_OF_THE_RUN or (key == "epochs" and opts.steps):  # --steps: its length
            continue
        if key in saved and saved[key] != str(getattr(opts, key)):
            changes.append(f"{_flag(key)} {_shown(getattr(opts, key))} "
                           f"(its checkpoint was made with {_shown_saved(saved[key])})")
    return changes


def _shown(value: object) -> str:
    """An option as it was typed: folders one after another, none as none."""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "none"
    return "none" if value is None else str(value)


def _shown_saved(saved: str) -> str:
    """An option as a checkpoint keeps it (its str), as it was typed: `[PosixPath('val')]` is `val`,
    `{'davis': 3.0}` is `davis=3.0`."""
    if saved.startswith("{") and saved.endswith("}"):
        return _shown(dict(re.findall(r"'(.*?)': ([^,}]+)", saved)))
    if not (saved.startswith("[") and saved.endswith("]")):
        return "none" if saved == "None" else saved
    return re.sub(r"""\w*Path\((['"])(.*?)\1\)""", r"\2", saved[1:-1]) or "none"


def _parameter_groups(model: nn.Module, opts: TrainOptions) -> list[dict[str, Any]]:
    """The trainable net at --lr and tuned backbone stages slower; of a hint model, only its hint branch."""
    if opts.hints:
        return [{"params": [p for n, p in model.named_parameters() if n.startswith(HINT_PREFIX)]}]
    tuned = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith(BACKBONE_PREFIX)]
    own = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith(BACKBONE_PREFIX)]
    return [{"params": own}] + ([{"params": tuned, "lr": opts.lr * opts.backbone_lr_scale}] if tuned else [])


def _layers_to_train(model: nn.Module, opts: TrainOptions) -> set[str]:
    """The top-level layers --train-layers names (all of them when it names none), checked against the model's."""
    names = {n.strip() for n in opts.train_layers.split(",") if n.strip()}
    children = [name for name, _ in model.named_children()]
    if names - set(children):
        raise UserError(f"--train-layers: this model has no layer {', '.join(sorted(names - set(children)))} "
                        f"(its layers: {', '.join(children)})")
    return names or set(children)


def _freeze_others(model: nn.Module, opts: TrainOptions) -> None:
    """Only the layers --train-layers names learn (a new decoder on a trained model's features): the others keep
    their weights as --init has them."""
    learning = _layers_to_train(model, opts)
    for name, child in model.named_children():
        if name not in learning:
            child.requires_grad_(False)
    if not any(p.requires_grad for p in model.parameters()):
        raise UserError(f"--train-layers {opts.train_layers}: nothing in these layers learns in this model")


def _train_mode(model: nn.Module) -> None:
    """Train mode for the layers that learn; those `_freeze_others` froze keep their BatchNorm statistics as they
    are."""
    model.train()
    for child in _unwrap(model).children():
        if not any(p.requires_grad for p in child.parameters()):
            child.eval()


def _warn_of_scores_on_training_data(opts: TrainOptions) -> None:
    """A validation folder that is (or is inside, or holds) a training folder scores the model on photos it learnt:
    said, since its scores then say nothing of how it colours others (refused, a quick check would be too)."""
    for val in opts.val:
        for data in opts.data:
            v, d = val.resolve(), data.resolve()
            if v == d or v.is_relative_to(d) or d.is_relative_to(v):
                default_warn(f"--val {val} and --data {data} share photos: the run is scored on photos it learns "
                             "from, which says little of how it colours others")


RUN_FILES = (CHECKPOINT, "last.safetensors", "metrics.csv", "curves.png", "samples-*.png", "weights-*.safetensors")


def _check_nothing_written_over(out: Path) -> None:
    """A fresh run's folder holds no file the run would write: an earlier run's (said how to go on from it), or the
    user's own (a metrics.csv, a curves.png in a folder named as --out by mistake) were written over. A run stopped
    before its first checkpoint leaves only its report, in a folder its lock file marks as a run's: started afresh."""
    if (out / CHECKPOINT).is_file():
        raise UserError(f"{out}: holds a training run already (continue it with --resume, or give another --out)")
    if (out / "last.safetensors").is_file():
        raise UserError(f"{out}: holds a run's weights but no checkpoint to resume (start from them with "
                        f"--continue-from {out / 'last.safetensors'}, and another --out)")
    there = sorted(p for pattern in RUN_FILES for p in out.glob(pattern)) if out.is_dir() else []
    if there and not (out / LOCK_NAME).exists():
        raise UserError(f"{there[0]}: a training run would write over it (give another --out)")


def build_run(opts: TrainOptions, device: torch.device, total: int) -> Run:
    """The nets, optimisers and schedule, started as the options say (fresh, --init or --continue-from)."""
    torch.manual_seed(opts.seed)
    try:
        model = build_model(opts.model, **opts.arch()).to(device)
    except ValueError as exc:  # options the architecture refuses, as --backbones lite9
        raise UserError(str(exc)) from None
    start = 0
    for flag, path in (("--init", opts.init), ("--continue-from", opts.continue_from)):
        if path:
            _load_init(model, path, flag, opts)
    _freeze_others(model, opts)
    if opts.continue_from:
        start = _continued_from(opts.continue_from, total)
    betas = (0.5, 0.999) if opts.gan() else (0.9, 0.999)
    groups = _parameter_groups(model, opts)
    opt = torch.optim.AdamW(groups, opts.lr, betas=betas, weight_decay=1e-4)
    for group in opt.param_groups:
        group["initial_lr"] = group["lr"]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(total, start), last_epoch=start - 1)
    run = Run(fast_layout(model), opt, sched, step=start, start=start,
              seen=start * opts.batch_size * _world())  # the photos of its steps, as if of this batch size
    if opts.gan():
        run.disc = fast_layout(PatchDiscriminator().to(device))
        run.opt_d = torch.optim.Adam(run.disc.parameters(), opts.lr, betas=betas)
    return run


def load_checkpoint(run: Run, opts: TrainOptions, path: Path, device: torch.device, total: int) -> list[str]:
    """Continue exactly where the checkpoint stopped; a damaged or foreign file is one line. Returns the options
    changed since the run was checkpointed (each `--flag value`), for the caller to name once it goes on."""
    try:  # weights_only: a checkpoint is never unpickled beyond tensors and plain values
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except Exception:  # noqa: BLE001 -- whatever a damaged file makes the reader raise; its message
        # advises unpickling the file, which must never be done, so it is not passed on
        raise UserError(f"{path}: damaged, or not a vidcolor checkpoint") from None
    if not isinstance(ckpt, dict):
        raise UserError(f"{path}: damaged, or not a vidcolor checkpoint")
    _check_same_run(ckpt.get("options", {}), opts, path)
    peaks = list(run.sched.base_lrs)  # as this run's options set them: a resume may change --lr
    try:
        run.model.load_state_dict(ckpt["model"], strict=False)
        run.opt.load_state_dict(ckpt["optimizer"])
        run.sched.load_state_dict(ckpt["scheduler"])
        if run.disc is not None:
            run.disc.load_state_dict(ckpt["disc"])
            run.opt_d.load_state_dict(ckpt["opt_disc"])
        run.step = int(ckpt["step"])
        # a checkpoint from before these were kept: its photos at its own batch size; not started within the run
        batch = int(ckpt.get("options", {}).get("batch_size", opts.batch_size))
        run.seen = int(ckpt.get("seen", run.step * batch * _world()))
        run.start = int(ckpt.get("start", 0))
        run.losses = (float(ckpt.get("loss_sum", 0.0)), int(ckpt.get("loss_count", 0)))
        run.clock = time.time() - float(ckpt.get("seconds", _seconds_so_far(opts, run.step)))
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:  # torch's are many lines
        raise UserError(f"{path}: does not fit this run, or is damaged ({str(exc).splitlines()[0]})") from None
    run.sched.lr_lambdas = [_schedule(total, run.start)] * len(run.sched.lr_lambdas)  # a continued run's warm-up too
    _learn_at(run, peaks, opts.lr)
    return _changed_on_resume(ckpt.get("options", {}), opts)


def _learn_at(run: Run, peaks: list[float], lr: float) -> None:
    """The learning rates of the options given now, at the schedule's step: the optimiser's state loaded from a
    checkpoint brings its own, and a resume told another --lr (after a run diverged, say) went on at the old."""
    run.sched.base_lrs = peaks
    for group, peak, factor in zip(run.opt.param_groups, peaks, run.sched.lr_lambdas, strict=True):
        group["initial_lr"], group["lr"] = peak, peak * factor(run.sched.last_epoch)
    for group in run.opt_d.param_groups if run.opt_d is not None else ():
        group["lr"] = lr


def save_checkpoint(run: Run, opts: TrainOptions, meta: dict[str, Any]) -> None:
    """The checkpoint for --resume, and the weights (with the step) for --continue-from and export."""
    state = {"model": trainable_state(_unwrap(run.model)), "optimizer": run.opt.state_dict(),
             "scheduler": run.sched.state_dict(), "step": torch.tensor(run.step),
             "seen": torch.tensor(run.seen), "start": torch.tensor(run.start),
             "loss_sum": torch.tensor(run.losses[0], dtype=torch.float64), "loss_count": torch.tensor(run.losses[1]),
             "seconds": torch.tensor(time.time() - run.clock, dtype=torch.float64),
             "options": {k: str(v) for k, v in asdict(opts).items()}}
    if run.disc is not None:
        state["disc"] = _unwrap(run.disc).state_dict()
        state["opt_disc"] = run.opt_d.state_dict()
    with written_atomically(opts.out / CHECKPOINT) as tmp:
        torch.save(state, tmp)
    save_weights(opts.out / "last.safetensors", _unwrap(run.model), {**meta, "steps": run.step})
    if opts.keep_weights:  # to choose a point of the run by its validation afterwards, or average several
        save_weights(opts.out / f"weights-{run.step}.safetensors", _unwrap(run.model), {**meta, "steps": run.step})


_bce = nn.BCEWithLogitsLoss()


def _real(logits: torch.Tensor, real: bool) -> torch.Tensor:
    return _bce(logits.float(), torch.full_like(logits, float(real), dtype=torch.float32))


@dataclass
class HintBatch:
    """What a hint model's batch is told (training.hints.simulate_hints)."""

    hints: torch.Tensor
    reference: torch.Tensor

    def to(self, device: torch.device) -> HintBatch:
        return HintBatch(self.hints.to(device), self.reference.to(device))


def train_step(run: Run, L_in: torch.Tensor, ab: torch.Tensor, opts: TrainOptions, loss_fn: nn.Module,
               device: torch.device, told: HintBatch | None = None, L: torch.Tensor | None = None) -> float:
    """One optimiser step: the colour loss, and past the warm-up the PatchGAN's verdict on top of λ times it;
    the PatchGAN learns during the warm-up too, so the generator is first judged by a critic that already
    tells its colours from real ones (DeOldify's "NoGAN" pretraining).
    A hint model is given what its batch is `told`; `L`, the clean L (L_in is degraded), is what the rgb loss
    joins the colours to."""
    with autocast(device, opts.precision):
        if told is not None:
            pred = run.model(L_in, hints=told.hints, reference=told.reference)
        else:
            pred = run.model(L_in, logits=True) if opts.loss == "bins" else run.model(L_in)
    if run.disc is not None:  # the critic learns from the first step, so the warm-up pretrains it
        with autocast(device, opts.precision):
            loss_d = 0.5 * (_real(run.disc(L_in, ab), True) + _real(run.disc(L_in, pred.detach()), False))
        run.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        run.opt_d.step()
    if run.disc is not None and run.step >= opts.gan_warmup:
        with autocast(device, opts.precision):
            fooled = _real(run.disc(L_in, pred), True)
        loss = fooled + opts.lambda_l1 * loss_fn(pred.float(), ab, L)
    else:
        loss = loss_fn(pred.float(), ab, L)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    run.opt.step()
    run.sched.step()
    run.step += 1
    return loss.item()


def _seconds_so_far(opts: TrainOptions, step: int) -> float:
    """The training time of a checkpoint from before it was kept: its run's by its last validation up to the
    checkpoint's `step` (a row past it, from a run killed before its next checkpoint, is the time of steps done
    again)."""
    rows = read_csv(opts.out / "metrics.csv") if opts.resume and (opts.out / "metrics.csv").exists() else []
    return next((row.get("seconds", 0.0) for row in reversed(rows) if row["step"] <= step), 0.0)


def _diverged(step: int, what: str, out: Path) -> NoReturn:
    """Stop a run that diverged: it only gets worse. Its checkpoints are kept as they are, none of them NaN."""
    again = ("resume it with a lower --lr (or start again, if its last checkpoint was already on the way there)"
             if (out / CHECKPOINT).exists() else "start again with a lower --lr")
    raise UserError(f"the run diverged at step {step} ({what}; a learning rate too high for it?): {again}")


def _weights_finite(run: Run) -> bool:
    """Whether the model (and the critic) hold only finite numbers: every process's copy is the same."""
    nets = [run.model] + ([run.disc] if run.disc is not None else [])
    return all_finite(p for net in nets for p in net.parameters())


def _validate_all(run: Run, sets: list[ValSet], opts: TrainOptions, device: torch.device,
                  meta: dict[str, Any]) -> dict[str, float]:
    """Score every validation table, write the report (metrics.csv, curves.png, a sample grid per table)."""
    row: dict[str, float] = {}
    scores: dict[str, dict[str, float]] = {}
    for val in sets:
        metrics, samples = evaluate(_unwrap(run.model), val.images, opts.size, device, opts.precision)
        row |= {f"{val.name}/{k}": v for k, v in metrics.items()}
        sample_grid(samples, opts.out / f"samples-{val.name}.png")
        scores[val.name] = {k: round(v, 4) for k, v in metrics.items()}
    meta |= {"val": scores, "val_step": run.step}  # whole, and of which step: a stop may cut the next one short
    return row


def _report(run: Run, sets: list[ValSet], opts: TrainOptions, device: torch.device, meta: dict[str, Any],
            images: int, bar: tqdm) -> dict[str, float]:
    """Validate, and add the step's row to metrics.csv and curves.png (and a line under the bar), with the training
    loss of the steps since the last validation."""
    metrics = _validate_all(run, sets, opts, device, meta)
    total, steps = run.losses
    train_loss, run.losses = (total / steps if steps else math.nan), (0.0, 0)
    append_csv(opts.out / "metrics.csv", {"step": run.step, "epoch": run.seen / images,
                                          "train_loss": train_loss, **metrics, "seconds": time.time() - run.clock})
    plot_curves(read_csv(opts.out / "metrics.csv"), opts.out / "curves.png")
    if not opts.quiet:
        bar.write(f"step {run.step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    return metrics


def _validation_owed(opts: TrainOptions, step: int, val_every: int, total: int) -> bool:
    """Whether a stop cut short the validation of the checkpoint's own step: resumed, the run does it first (at the
    run's last step, it was all there was left to do, and the weights were kept with an earlier step's scores)."""
    if not opts.val or not (step % val_every == 0 or step == total):
        return False
    rows = read_csv(opts.out / "metrics.csv") if (opts.out / "metrics.csv").exists() else []
    return not rows or int(rows[-1]["step"]) < step


def _data_meta(opts: TrainOptions, data: TrainingSet, world: int) -> dict[str, Any]:
    return {"family": opts.model, "arch": opts.arch(), "working_size": opts.size,
            "data": [str(d) for d in opts.data], "val_data": [str(v) for v in opts.val], "loss": opts.loss,
            "rebalance": opts.rebalance, "balance": opts.balance, "groups": data.group_sizes(),
            "group_weights": opts.group_weights or None,
            "adversarial": opts.gan(), "batch_size": opts.batch_size * world, "images": len(data),
            "init": str(opts.init or opts.continue_from or "") or None,
            "trained_layers": opts.train_layers or None, "teachers": [str(t) for t in opts.teachers] or None,
            "teacher_mirror": opts.teacher_mirror}


@torch.no_grad()
def teacher_colors(teachers: list[nn.Module], L_in: torch.Tensor, device: torch.device, precision: str,
                    mirror: bool = False) -> torch.Tensor:
    """The teachers' colours for a batch, averaged: what a distilled model learns, so a faster model keeps a slower
    one's look rather than drifting along the accuracy-for-colour trade a restarted training makes; several
    models (and each on the mirror image) average out what each gets wrong alone, a teacher none of them is."""
    with autocast(device, precision):
        colors = [t(L_in).float() for t in teachers]
        if mirror:
            colors += [t(L_in.flip(-1)).float().flip(-1) for t in teachers]
    return torch.stack(colors).mean(0)


def train(opts: TrainOptions) -> dict[str, float]:
    """Train a colourizer into `opts.out`; returns the last validation metrics (rank 0)."""
    check_options(opts)
    rank, world, device = _setup_distributed(opts.device)
    master = rank == 0
    data = load_images(opts.data, opts.frame_stride, max_short=2 * opts.size, quiet=opts.quiet or not master,
                       balance=opts.balance)
    val_sets = load_val_sets(opts) if master else []
    weights = rebalance_weights(ab_histogram(data.images), opts.rebalance) if opts.rebalance is not None else None
    loss_fn = ColorLoss(opts.loss, weights).to(device)
    draws = data.sampling_weights(opts.balance, opts.group_weights)

    steps_per_epoch = max(1, math.ceil(len(data) / (opts.batch_size * world)))
    total = opts.steps or (opts.epochs or 1) * steps_per_epoch
    val_every = opts.val_every or steps_per_epoch
    run = build_run(opts, device, total)
    teachers = [fast_layout(load_model(t, device)[0]) for t in opts.teachers]
    if master:  # after the data and --init are read: a run refused for them leaves no empty folder behind
        make_folder(opts.out)
    owed = False
    if opts.resume:
        changes = load_checkpoint(run, opts, opts.out / CHECKPOINT, device, total)
        owed = master and _validation_owed(opts, run.step, val_every, total)
        if run.step >= total and not owed:
            raise UserError(f"{opts.out}: the run has done {run.step} steps already; give more --steps to continue it")
        for change in changes if master else []:
            default_warn(f"resumed with {change}")
    if world > 1:
        run.model = nn.parallel.DistributedDataParallel(run.model)
        if run.disc is not None:
            run.disc = nn.parallel.DistributedDataParallel(run.disc)
    meta = _data_meta(opts, data, world)

    gen = torch.Generator()
    lock = None
    bar = tqdm(total=total, initial=run.step, disable=opts.quiet or not master, unit="step", dynamic_ncols=True)
    metrics: dict[str, float] = {}
    _train_mode(run.model)
    saved = run.step  # the step of the last checkpoint (or the run's start: nothing to keep)
    try:
        lock = lock_folder(opts.out) if master else None  # two runs into one folder would write over each other
        if owed:
            metrics = _report(run, val_sets, opts, device, meta, len(data), bar)
            save_checkpoint(run, opts, meta)
        while run.step < total:
            gen.manual_seed(opts.seed * 1_000_003 + run.step * 7919 + rank)
            idx = torch.multinomial(draws, opts.batch_size, replacement=True, generator=gen).tolist()
            L_in, L, ab = (t.to(device) for t in make_batch(data.images, idx, opts.size, gen))
            told = HintBatch(*simulate_hints(ab, gen)).to(device) if opts.hints else None
            L_in = L_in.contiguous(memory_format=torch.channels_last)
            if teachers:
                ab = teacher_colors(teachers, L_in, device, opts.precision, opts.teacher_mirror)
            with stops_deferred():  # a stop comes once the step is done, and counted
                loss = train_step(run, L_in, ab, opts, loss_fn, device, told, L)
                run.seen += opts.batch_size * world
                run.losses = (run.losses[0] + loss, run.losses[1] + 1)
                bar.update(1)
            if world == 1 and not math.isfinite(loss):  # across processes the weights below tell every one at once
                _diverged(run.step, f"the loss became {loss}", opts.out)
            bar.set_postfix(loss=f"{run.losses[0] / run.losses[1]:.4f}")
            validate = bool(opts.val) and (run.step % val_every == 0 or run.step == total)
            keep = run.step % opts.checkpoint_every == 0 or run.step == total
            if (validate or keep) and not _weights_finite(run):  # checked by every process, the weights being one
                _diverged(run.step, "its weights hold NaN or infinite values", opts.out)
            if master and validate:
                metrics = _report(run, val_sets, opts, device, meta, len(data), bar)
            if master and keep:
                save_checkpoint(run, opts, meta)
                saved = run.step
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM: the steps since the last checkpoint are kept too (a checkpoint's
        # own step among them, when the stop cut short the validation before it)
        if master and run.step != saved and _weights_finite(run):
            save_checkpoint(run, opts, meta)
            default_warn(f"stopped at step {run.step}: its checkpoint is kept, and --resume continues from it")
        raise
    finally:
        bar.close()  # before the line that says why it stopped, so that line is the last
        if lock is not None:
            lock.close()
    if world > 1:
        dist.barrier()
    return metrics

