"""Put a trained hint branch beside the shipped automatic model, as the default `fusion` ships it.

    python models/training/ship_hint_branch.py runs/hints4/last.safetensors 2100

A `vidcolor train --hints` run learns only the `hint_*` tensors; its file carries the run's metadata. The
shipped file keeps its own (scores, working size, the automatic model's training) and takes the run's branch,
its total steps and its working-size validation under `hint_branch` (and drops the note `ship_trunk.py` left there,
that the branch still has to learn on this trunk). Refused if the run's trunk is not the
shipped trunk bit for bit: told nothing, the default must stay exactly the automatic model.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from vidcolor.runtime.archs.fusion import split_hint_branch
from vidcolor.runtime.weights import read_metadata, read_weights, write_weights_file

SHIPPED = Path(__file__).resolve().parents[2] / "vidcolor" / "models" / "fusion.safetensors"


def ship(run: Path, steps: int, shipped: Path = SHIPPED) -> dict[str, float]:
    """Write the shipped file with `run`'s hint branch; returns the branch's scalar weights, to note."""
    ours, meta = read_weights(shipped), read_metadata(shipped)
    trained, run_meta = read_weights(run), read_metadata(run)
    (trunk, shipped_branch), (trained_trunk, branch) = split_hint_branch(ours), split_hint_branch(trained)
    if trunk.keys() != trained_trunk.keys() or not all(torch.equal(v, trained_trunk[k]) for k, v in trunk.items()):
        raise SystemExit(f"{run}: its trunk is not the shipped model's; train the branch with --init {shipped}")
    if branch.keys() != shipped_branch.keys():
        raise SystemExit(f"{run}: its hint branch has other layers than the shipped one's")
    if "val" not in run_meta:
        raise SystemExit(f"{run}: no validation recorded (train with --val, or take a file written after one)")
    val = {table: {k: round(v, 4) for k, v in scores.items()} for table, scores in run_meta["val"].items()}
    earlier = {k: v for k, v in meta.get("hint_branch", {}).items() if k != "trunk"}  # ship_trunk's note
    meta["hint_branch"] = {**earlier, "steps": steps, "val": val}
    write_weights_file(shipped, {**trunk, **branch}, meta)
    return {k: v.tolist() for k, v in branch.items() if v.numel() <= 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the run's last.safetensors (or a kept weights-STEP file)")
    parser.add_argument("steps", type=int, help="the branch's steps in all, over every run it continued")
    args = parser.parse_args()
    print(ship(args.run, args.steps))


if __name__ == "__main__":
    main()
