"""Make a newly trained automatic model the default `fusion`, keeping the one it replaces by another name.

    python models/training/ship_trunk.py runs/mse/last.safetensors --keep-as fusion-v1 \
        --description "..." --lineage "1,300 L1 steps on photos/train; 1,500 L1 and 1,800 MSE on train + extra"

The new file takes the run's tensors and training metadata, and the shipped file's hint branch, so it takes
hints from the start; that branch learnt on the old trunk, so train it on the new one next
(`vidcolor train --model fusion --hints --init vidcolor/models/fusion.safetensors ...`, then
`ship_hint_branch.py`; give the same `--tune-backbone`, `--blocks8` and `--light-decoder` as the trunk's run).
Scores are not carried over: measure them (`benchmarks/eval_photos.py --record`).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from vidcolor.runtime.archs import build_model
from vidcolor.runtime.archs.fusion import split_hint_branch
from vidcolor.runtime.weights import load_trainable_state, read_metadata, read_weights, write_weights_file

MODELS = Path(__file__).resolve().parents[2] / "vidcolor" / "models"
RUN_ONLY = ("scores", "chroma_gain")  # facts of the old file that do not hold for the new one


def _shared_name(path: str) -> str:
    """`/anywhere/shared/data/photos/train` -> `photos/train`: where the data was, not this machine's path."""
    return "/".join(Path(path).parts[-2:])


def _branch_fits(arch: dict[str, object], tensors: dict[str, torch.Tensor]) -> bool:
    """Whether the trunk and the shipped hint branch make a hint model: the branch reads the trunk's features at
    strides 8 and 2, whatever layers (grown at stride 8, a lighter decoder) made them."""
    try:
        model = build_model("fusion", **{**arch, "hints": True})
    except (TypeError, ValueError):
        return False
    return load_trainable_state(model, tensors)


def ship(run: Path, keep_as: str, description: str, lineage: str, models: Path = MODELS) -> Path:
    """Write `models/fusion.safetensors`: `run`'s trunk, the shipped hint branch. Returns the kept copy's path."""
    shipped, kept = models / "fusion.safetensors", models / f"{keep_as}.safetensors"
    if kept.exists():
        raise SystemExit(f"{kept} exists already: keep the old model under a new name")
    trunk, meta = read_weights(run), read_metadata(run)
    if meta.get("family") != "fusion" or split_hint_branch(trunk)[1]:
        raise SystemExit(f"{run}: not an automatic fusion model (train one without --hints)")
    old = read_metadata(shipped)
    ours = read_weights(shipped)
    branch = split_hint_branch(ours)[1]
    if not _branch_fits(meta["arch"], {**trunk, **branch}):
        raise SystemExit(f"{run}: the shipped hint branch does not fit this trunk (another width?)")
    retired = f"{old['description']} (the default until a newer model replaced it)"
    write_weights_file(kept, ours, old | {"description": retired}, replace=False)
    new = {k: v for k, v in meta.items() if k not in RUN_ONLY}
    new["data"] = [_shared_name(p) for p in meta.get("data", [])]
    new["val_data"] = [_shared_name(p) for p in meta.get("val_data", [])]
    new["arch"] = {**meta["arch"], "hints": True}
    new["lineage"], new["description"] = lineage, description
    new["hint_branch"] = {**old.get("hint_branch", {}), "trunk": f"{keep_as} (train it on this trunk)"}
    write_weights_file(shipped, {**trunk, **branch}, new)
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the automatic model's weights (a run's last.safetensors)")
    parser.add_argument("--keep-as", required=True, help="the name the replaced default keeps, e.g. fusion-v1")
    parser.add_argument("--description", required=True, help="what `vidcolor models` says of the new default")
    parser.add_argument("--lineage", required=True, help="how the new model was reached, run by run")
    args = parser.parse_args()
    print(ship(args.run, args.keep_as, args.description, args.lineage))


if __name__ == "__main__":
    main()
