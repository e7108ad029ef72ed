"""Average the weights of two automatic models trained one from the other (a "model soup").

    python models/training/average_trunks.py models/training/fusion-extra-tuned.safetensors \
        models/training/fusion-extra-mse.safetensors --weight 0.5 -o runs/soup.safetensors

Why: a run continued from another moves along a trade-off (here: more colour for a little photo PSNR);
the average of the two ends often keeps most of both, and costs no training. `second` may be a model
that did not tune backbone stages `first` tuned: its side of those stages is the backbone package's.
The result has `first`'s architecture and training metadata, and says what it averaged; scores and
validation are not carried over: measure them.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from vidcolor.runtime.weights import load_model, save_weights

# What `first`'s file says of `first` alone (its run, its scores), not of the average: dropped.
FACTS_OF_ONE_RUN = ("val", "scores", "steps", "init", "chroma_gain")


def average(first: Path, second: Path, weight: float, out: Path) -> None:
    """Write `weight`·first + (1 − weight)·second, in `first`'s architecture (counters such as
    BatchNorm's `num_batches_tracked`, not weights, keep `first`'s value)."""
    model, meta = load_model(str(first))
    other = load_model(str(second))[0].state_dict()
    state = model.state_dict()
    if state.keys() != other.keys() or any(v.shape != other[k].shape for k, v in state.items()):
        raise SystemExit(f"{second}: not the same network as {first}")
    model.load_state_dict({k: weight * v + (1 - weight) * other[k] if v.is_floating_point() else v
                           for k, v in state.items()})
    meta = {k: v for k, v in meta.items() if k not in FACTS_OF_ONE_RUN}
    meta["averaged"] = {"first": first.name, "second": second.name, "weight": weight}
    meta["description"] = f"{weight:g} x {first.name} + {1 - weight:g} x {second.name}"
    save_weights(out, model, meta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path, help="the later model (its architecture is kept)")
    parser.add_argument("second", type=Path, help="the model it was trained from")
    parser.add_argument("--weight", type=float, required=True, help="the first model's share, 0 to 1")
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args()
    if not 0 <= args.weight <= 1:
        parser.error("--weight must be between 0 and 1")
    average(args.first, args.second, args.weight, args.out)


if __name__ == "__main__":
    main()
