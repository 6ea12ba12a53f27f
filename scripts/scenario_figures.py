"""Run every bundled scenario in quick mode and print (or write into the README) its headline figures.

Usage: ``.venv/bin/python scripts/scenario_figures.py [--write README.md]``

Each scenario runs as ``market run NAME --quick`` does (in this process, one local Ray session, runs
written to a temporary folder and deleted). The table has one row per scenario: its description, the
metrics named by its ``[scenario] headline`` as mean +/- 95% interval over the quick run's evaluation
episodes, and the run's wall time. ``--write`` replaces the table between the markers
``<!-- scenario-figures:begin -->`` and ``<!-- scenario-figures:end -->`` in the given file.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

BEGIN = "<!-- scenario-figures:begin -->"
END = "<!-- scenario-figures:end -->"


def figure(value: float, ci: float) -> str:
    """``1.234 +/- 0.05`` with four significant digits, or just the value when the interval is 0."""
    text = f"{value:.4g}"
    return text if not ci > 0 else f"{text} ± {ci:.2g}"  # no interval: one sample (NaN) or no spread


def table() -> str:
    """Run every bundled scenario quickly; the Markdown table of their headline figures."""
    import ray
    import torch

    from market.scenario import bundled_scenarios, load_scenario
    from market.scenario_run import run_scenario

    torch.set_num_threads(1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    logging.getLogger("ray.rllib").setLevel(logging.ERROR)
    rows = ["| scenario | what it shows | headline figures of the quick run (mean ± 95% interval) | run time |", "| --- | --- | --- | --- |"]
    try:
        with tempfile.TemporaryDirectory(prefix="scenario-figures-") as out:
            for name in bundled_scenarios():
                scenario = load_scenario(name, quick=True)
                started = time.perf_counter()
                result = run_scenario(scenario, out=Path(out), name=name)
                seconds = time.perf_counter() - started
                missing = [key for key in scenario.scenario.headline if key not in result.metrics]
                if missing:
                    raise SystemExit(f"error: scenario {name}: headline metric(s) {missing} not in its run's metrics")
                figures = "; ".join(f"`{key}` {figure(*result.metrics[key])}" for key in scenario.scenario.headline)
                rows.append(f"| `{name}` | {scenario.scenario.description} | {figures} | {seconds:.0f} s |")
                print(f"{name}: {seconds:.0f} s", file=sys.stderr)
    finally:
        ray.shutdown()
    return "\n".join(rows)


def write(path: Path, text: str) -> None:
    """Replace the table between the markers in ``path``."""
    content = path.read_text()
    if BEGIN not in content or END not in content:
        raise SystemExit(f"error: {path}: no {BEGIN} ... {END} markers")
    head, rest = content.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="replace the table between the markers in this file (README.md)")
    args = parser.parse_args()
    text = table()
    if args.write is not None:
        write(args.write, text)
    print(text)


if __name__ == "__main__":
    main()
