"""The README's calibration figures: the bundled hourly sample's moments before and after ``market calibrate``.

Usage: ``.venv/bin/python scripts/calibration_figures.py [--budget N] [--seeds S] [--seed K] [--out DIR]``

Calibrates the background ecology to ``market/data/sample/sample_hourly.csv`` (5,000 hourly bars)
exactly as ``market calibrate --data market/data/sample/sample_hourly.csv`` does with the same
options (the defaults: ``--budget 20 --seeds 3 --seed 0``), writes the fitted ecology and the report
under ``--out`` (default ``runs/calibration_hourly``), and prints the moment and parameter tables
as Markdown, with the wall-clock time, for pasting into the README.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def markdown(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    import numpy as np

    from market.calibration import DEFAULT_BUDGET, DEFAULT_SEEDS, calibrate, format_ecology, write_atomically
    from market.data import SAMPLES, load_sample

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET)
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/calibration_hourly"))
    args = parser.parse_args()

    prices = load_sample("hourly")
    returns = np.diff(np.log(prices["close"].to_numpy(dtype=np.float64)))
    started = time.perf_counter()
    result = calibrate(returns, budget=args.budget, seeds=args.seeds, seed=args.seed, source=f"market/data/sample/{SAMPLES['hourly']}")
    seconds = time.perf_counter() - started
    write_atomically(args.out / "calibration.json", json.dumps({"data": f"market/data/sample/{SAMPLES['hourly']}", **result.report()}, indent=2, allow_nan=False) + "\n")
    write_atomically(args.out / "ecology.toml", format_ecology(result.ecology, f"Fitted to the bundled hourly sample by scripts/calibration_figures.py --budget {args.budget} --seeds {args.seeds} --seed {args.seed}."))

    print(f"bundled hourly sample ({result.bars:,} bars), budget {args.budget} candidates x {args.seeds} seeds, seed {args.seed}: "
          f"{seconds:.0f} s wall clock on {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at the end)\n")
    print(markdown(*result.moment_table()))
    print()
    print(markdown(*result.parameter_table()))
    print(f"\nfit: {result.fit_note}")
    print(f"loss on the fitting seeds: default {result.trials[0]['loss']:.1f}, best trial {result.loss_best_trial:.1f}")
    print(f"written: {args.out / 'ecology.toml'}, {args.out / 'calibration.json'}")


if __name__ == "__main__":
    main()
