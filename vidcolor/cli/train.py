"""`vidcolor train`: parse the options, then vidcolor.training.train."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from ..utils.choices import (
    BALANCES,
    DEVICES,
    FAMILIES,
    LOSSES,
    MAX_AB_BINS,
    MAX_BLOCKS8,
    MAX_TRAIN_BATCH,
    MAX_WIDTH,
    MIN_TEMPERATURE,
    PRECISIONS,
    SEEDS,
    TRAIN_SIZES,
)
from ..utils.warn import default_warn
from .common import GivenPath, ModelFile, Number, friendly


class GroupWeight(click.ParamType):
    """`--group-weight davis=3`: a group's name and how many times as often it is drawn."""

    name = "GROUP=W"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        group, sep, weight = str(value).partition("=")
        if not (group and sep):
            self.fail(f"{value!r} is not GROUP=W (e.g. davis=3)", param, ctx)
        return group, Number(min=0, min_open=True).convert(weight, param, ctx)


def one_weight_a_group(ctx: click.Context, param: click.Parameter, values: tuple[tuple[str, float], ...]
                       ) -> tuple[tuple[str, float], ...]:
    """A group weighted twice is a slip (only the last weight counted): a usage mistake, as a frame given two
    keyframes is."""
    groups = [group for group, _ in values]
    if twice := sorted({group for group in groups if groups.count(group) > 1}):
        raise click.BadParameter(f"{', '.join(twice)} given two weights")
    return values


@click.command()
@click.option("--model", "family", required=True, type=click.Choice(FAMILIES),
              help="Architecture (models/README.md): fusion is the default model's.")
@click.option("--data", multiple=True, required=True, type=GivenPath(),
              help="Folder of colour photos and/or videos (repeatable).")
@click.option("--val", multiple=True, type=GivenPath(),
              help="Folder of validation photos or colour films (repeatable: a table each).")
@click.option("--out", required=True, type=GivenPath(), help="Run folder (checkpoints, logs).")
@click.option("--steps", type=click.IntRange(min=1), help="Training steps (overrides --epochs).")
@click.option("--epochs", type=click.IntRange(min=1), help="Passes over the data.")
@click.option("--size", type=click.IntRange(*TRAIN_SIZES), default=176, show_default=True, help="Training crop size.")
@click.option("--batch-size", type=click.IntRange(1, MAX_TRAIN_BATCH), default=16, show_default=True,
              help="Per process.")
@click.option("--lr", type=Number(min=0, min_open=True), default=5e-4, show_default=True,
              help="Peak learning rate (after warm-up; cosine decay to the last step).")
@click.option("--resume", is_flag=True, help="Continue from the run folder's checkpoint.")
@click.option("--device", default="auto", type=click.Choice(DEVICES), show_default=True,
              help="Where to train (auto: a GPU if there is one).")
@click.option("--loss", default="l1", type=click.Choice(LOSSES), show_default=True,
              help="rgb: MSE of the RGB colours a/b make with the picture's L (what PSNR measures); "
                   "bins (fusion): predict a distribution over a grid of colours.")
@click.option("--ab-bins", type=click.IntRange(2, MAX_AB_BINS), default=17, show_default=True,
              help="--loss bins: grid colours per a/b axis.")
@click.option("--temperature", type=Number(min=MIN_TEMPERATURE), default=1.0, show_default=True,
              help="--loss bins: annealed-mean temperature (lower: more vivid).")
@click.option("--rebalance", type=Number(0, 1, min_open=True), default=None,
              help="Colour rebalancing with this λ (e.g. 0.5).")
@click.option("--balance", default="none", type=click.Choice(BALANCES), show_default=True,
              help="Draw groups (file-name prefix before '_', or folder) by the square root of their size.")
@click.option("--group-weight", "group_weights", multiple=True, type=GroupWeight(), metavar="GROUP=W",
              callback=one_weight_a_group,
              help="Draw this group W times as often (repeatable; e.g. davis=3 for frames of video clips).")
@click.option("--precision", default="auto", type=click.Choice(PRECISIONS), show_default=True,
              help="auto: bf16 autocast where the hardware has it (about 3x faster on such CPUs).")
@click.option("--frame-stride", type=click.IntRange(min=1), default=10, show_default=True,
              help="Use every N-th video frame.")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=250, show_default=True,
              help="Steps between checkpoints (what --resume continues from).")
@click.option("--keep-weights", is_flag=True, help="Keep each checkpoint's weights as weights-STEP.safetensors.")
@click.option("--val-every", type=click.IntRange(min=1), help="Validate every N steps (default: each epoch).")
@click.option("--width", type=click.IntRange(1, MAX_WIDTH), default=32, show_default=True,
              help="Channel width of the trainable net.")
@click.option("--backbones", default="lite0", show_default=True, help="fusion: e.g. lite0,lite1,lite2.")
@click.option("--tune-backbone", type=click.IntRange(min=0), default=0, show_default=True,
              help="fusion: fine-tune this many deepest backbone stages (1: stride 32 and head).")
@click.option("--blocks8", type=click.IntRange(0, MAX_BLOCKS8), default=0, show_default=True,
              help="fusion: residual blocks at stride 8 (a larger model, cheap per frame); new ones start as identity.")
@click.option("--light-decoder", is_flag=True,
              help="fusion: a decoder at about a third of the cost (a faster model); from a full one's file it starts "
                   "from that decoder.")
@click.option("--train-layers", default="", help="Only these top-level layers learn (e.g. up4,up2,head); the rest "
                                                 "stay as --init has them.")
@click.option("--backbone-lr-scale", type=Number(min=0), default=0.1, show_default=True,
              help="fusion: learning rate of the tuned backbone stages relative to --lr.")
@click.option("--init", type=ModelFile(),
              help="Start from exported weights or a shipped model's name (gan: the L1 U-Net).")
@click.option("--continue-from", type=ModelFile(),
              help="A run's exported weights (or a shipped model's name): continue at the step they record (the run "
                   "folder gone).")
@click.option("--teacher", "teachers", type=ModelFile(), multiple=True,
              help="Learn this model's colours (a .safetensors file or a shipped model's name) instead of the photos' "
                   "(distil a faster model of the same look); given more than once, their colours averaged.")
@click.option("--teacher-mirror", is_flag=True,
              help="Each --teacher also colours the mirror image, the two averaged (a steadier teacher, twice "
                   "its time).")
@click.option("--hints", is_flag=True,
              help="fusion: train a hint branch (colour points, reference palette) on the automatic model --init.")
@click.option("--adversarial", is_flag=True, help="Train against a PatchGAN too (adversarial + λ·L1).")
@click.option("--gan-warmup", type=click.IntRange(min=0), default=0, show_default=True,
              help="gan, --adversarial: colour-loss-only steps first, while the PatchGAN learns.")
@click.option("--lambda-l1", type=Number(min=0), default=100.0, show_default=True,
              help="--adversarial, gan: weight of the colour loss beside the adversarial one.")
@click.option("--seed", type=click.IntRange(*SEEDS), default=0, show_default=True,
              help="Seed of the crops drawn and the initial weights.")
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads for torch.")
@click.option("--quiet", is_flag=True,
              help="No progress bar, no line per validation, no count of black-and-white images left out.")
@friendly
def train(family: str, data: tuple[Path, ...], val: tuple[Path, ...], out: Path, teachers: tuple[Path, ...],
          group_weights: tuple[tuple[str, float], ...], threads: int | None, **kwargs: Any) -> None:
    """Train a colourizer on folders of colour photos and videos."""
    import torch

    from ..training.train import TrainOptions
    from ..training.train import train as run_training

    if threads:  # more than the cores only fight over them; 100,000 could not even be started
        cores = os.cpu_count() or 1
        if threads > cores:
            default_warn(f"--threads {threads}: this machine has {cores} CPU cores; using {cores}")
        torch.set_num_threads(min(threads, cores))
    run_training(TrainOptions(model=family, data=list(data), val=list(val), out=out, teachers=list(teachers),
                              group_weights=dict(group_weights), **kwargs))
