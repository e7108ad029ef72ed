"""The long fuzzing run: thousands of damaged films and photos through every door vidcolor has.

What is made, how it is damaged and what counts as a failure is in tests/helpers/fuzzing.py, which the test
suite runs a fast slice of. Each case follows from (seed, number) alone, so a failure reruns by itself.
The model is a tiny untrained U-Net unless --model says otherwise: the doors are under test, not colours.

    python benchmarks/fuzz.py --seed 21 --count 2000           # results in benchmarks/README.md
    python benchmarks/fuzz.py --seed 21 --case 1234 --case 77  # rerun those, every door's outcome shown
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers.fuzzing import DOORS, Case, Outcome, fuzz, summary
from helpers.models import write_tiny_model  # the tests' own builders, so both fuzz the same inputs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--count", type=int, default=2000, help="cases (inputs), numbered from --start")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--case", type=int, action="append", help="only this case number (repeatable)")
    parser.add_argument("--workers", type=int, default=2, help="processes taking the doors side by side")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a door may take before it hangs")
    parser.add_argument("--model", type=Path, help="a .safetensors model (default: a tiny untrained U-Net)")
    parser.add_argument("--work", type=Path, help="folder for the inputs and outputs, kept (default: a temporary one)")
    args = parser.parse_args()

    numbers = args.case or range(args.start, args.start + args.count)
    cases = [Case(args.seed, n) for n in numbers]
    work = args.work or Path(tempfile.mkdtemp(prefix="vidcolor-fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        model = args.model or write_tiny_model(work / "tiny.safetensors")
        failures: list[Outcome] = []
        started = time.perf_counter()
        with tqdm(total=len(cases) * len(DOORS), unit="door", dynamic_ncols=True) as bar:
            def heard(outcome: Outcome) -> None:
                if outcome.failed:
                    failures.append(outcome)
                    bar.write(str(outcome))
                elif args.case:
                    bar.write(str(outcome))
                bar.update(1)
                bar.set_postfix(failed=len(failures), refresh=False)

            outcomes = fuzz(cases, work, model, workers=args.workers, timeout=args.timeout, on_outcome=heard)
        wall = time.perf_counter() - started
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(summary(outcomes))
    print(f"\n{len(cases)} inputs, {len(outcomes)} doors taken, {len(failures)} failed, seed {args.seed}, "
          f"{wall:.0f} s with {args.workers} workers")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
