"""Run the full (not quick) learning-against-baselines scenarios and print (or write into the README) their figures.

Usage: ``.venv/bin/python scripts/full_run_figures.py [--write README.md] [--only NAME ...]``

Each scenario runs exactly as a user runs it, ``market run NAME`` with its defaults, in a fresh process
(runs written to a temporary folder and deleted); the wall time of that command is measured. From each
run record the script reads the strategy comparison (:func:`market.comparison.comparison_rows`) and
prints one Markdown table per scenario; ``--write`` replaces the text between
``<!-- full-run-figures:begin -->`` and ``<!-- full-run-figures:end -->`` in the given file. Figures
are means with 95% intervals over the held-out episodes (or over the training seeds, where the
scenario trains several); nothing is picked: every seed a scenario trains is in its figures.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path



def markers(name: str) -> tuple[str, str]:
    """The README markers around one scenario's full-run table."""
    return f"<!-- full-run:{name}:begin -->", f"<!-- full-run:{name}:end -->"

SCENARIOS = ("execution", "market_makers", "historical_trading", "avellaneda_stoikov", "portfolio")


def cell(value: float, half: float = math.nan) -> str:
    """``1.234 ± 0.05`` (four significant digits), ``-`` for a missing figure."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "-"
    return f"{value:.4g}" + (f" ± {half:.2g}" if isinstance(half, int | float) and math.isfinite(half) and half > 0 else "")


def run(name: str, out: Path) -> tuple[Path, float]:
    """``market run NAME`` in a fresh process; the run's folder and the command's wall time in seconds."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "market.cli", "run", name, "--out", str(out)], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"error: market run {name} failed ({result.returncode}): {result.stderr.strip().splitlines()[-1:]}")
    [path] = [p for p in out.iterdir() if p.is_dir() and p.name.startswith(f"scenario_{name}_")]
    return path, seconds


def comparison_table(path: Path, seconds: float, name: str) -> list[str]:
    """The scenario's strategies side by side, read from its run record."""
    from market.comparison import VERSUS, columns_of, comparison_rows
    from market.records import RunReader

    reader = RunReader(path)
    metrics, ci95 = reader.metrics, reader.metrics.get("ci95", {})
    record = reader.manifest["config"]["evaluation"]
    lines = [f"**`{name}`** — `market run {name}`: {seconds / 60:.1f} min on this 2-core machine."]
    rows = comparison_rows(metrics, ci95, record)
    if reader.manifest["config"].get("kind") == "portfolio":
        return lines + portfolio_table(metrics, ci95, reader.manifest["config"]["evaluation"])
    if not rows:  # a trading scenario: its headline figures
        from market.scenario import load_scenario

        headline = load_scenario(name).scenario.headline
        lines += ["", "| figure | value |", "| --- | --- |"]
        lines += [f"| `{key}` | {cell(metrics.get(key, math.nan), ci95.get(key, math.nan))} |" for key in headline]
        return lines
    for role in dict.fromkeys(row.role for row in rows):
        columns = columns_of(role)
        label = record.get("label", "scenario")
        lines += ["", "| strategy | " + " | ".join(c.heading for c in columns) + f" | {label} − it ({VERSUS[role].replace('_', ' ')}) |"]
        lines.append("| --- " * (len(columns) + 2) + "|")
        for row in (r for r in rows if r.role == role):
            values = " | ".join(cell(*row.values[c.metric]) for c in columns)
            versus = cell(*row.versus) if row.versus is not None else ""
            lines.append(f"| `{row.strategy}` | {values} | {versus} |")
            if row.reference:
                published = " | ".join(cell(row.reference[c.metric]) if c.metric in row.reference else "" for c in columns)
                lines.append(f"| ↳ published | {published} | |")
    lines += per_seed_table(metrics, ci95, record)
    reference = record.get("reference")
    if reference:
        lines += ["", f"Published: {reference['source']}."]
    return lines


def portfolio_table(metrics: dict, ci95: dict, record: dict) -> list[str]:
    """A portfolio scenario: the learned allocator, equal weight and each baseline on the held-out bars;
    the learned figures are means over the training seeds with their intervals, then learned - baseline."""
    from market.training.runner import PORTFOLIO_COMPARED

    rules = [key.split("/")[1] for key in metrics if key.startswith("strategy/") and key.endswith("/sharpe_ratio")]
    lines = ["", "| strategy | " + " | ".join(PORTFOLIO_COMPARED) + " | learned − it (Sharpe) |", "| --- " * (len(PORTFOLIO_COMPARED) + 2) + "|"]
    learned = " | ".join(cell(metrics.get(k, math.nan), ci95.get(k, math.nan)) for k in PORTFOLIO_COMPARED)
    lines.append(f"| `learned` | {learned} | |")
    equal = " | ".join(cell(metrics.get(f"equal_weight_{k}", math.nan)) for k in PORTFOLIO_COMPARED)
    versus = cell(metrics["sharpe_ratio"] - metrics["equal_weight_sharpe_ratio"]) if "equal_weight_sharpe_ratio" in metrics else ""
    lines.append(f"| `equal_weight` | {equal} | {versus} |")
    for rule in rules:
        values = " | ".join(cell(metrics.get(f"strategy/{rule}/{k}", math.nan)) for k in PORTFOLIO_COMPARED)
        key = f"vs/{rule}/sharpe_ratio"
        lines.append(f"| `{rule}` | {values} | {cell(metrics.get(key, math.nan), ci95.get(key, math.nan))} |")
    return lines


def per_seed_table(metrics: dict, ci95: dict, record: dict) -> list[str]:
    """For a run that trained several seeds: each seed's own figure and its paired differences with every
    baseline, with 95% intervals over the held-out episodes (the table above has intervals over the seeds)."""
    from market.comparison import VERSUS, comparison_rows
    from market.scenario_run import SEED_PREFIX

    seeds = sorted({int(key[len(SEED_PREFIX) :].split("/", 1)[0]) for key in metrics if key.startswith(SEED_PREFIX)})
    if not seeds:
        return []
    label = record.get("label", "scenario")
    lines: list[str] = []
    for k in seeds:
        prefix = f"{SEED_PREFIX}{k}/"
        rows = comparison_rows({key[len(prefix) :]: v for key, v in metrics.items() if key.startswith(prefix)}, {key[len(prefix) :]: v for key, v in ci95.items() if key.startswith(prefix)}, record)
        own, baselines = rows[0], [r for r in rows[1:] if r.role == rows[0].role]
        metric = VERSUS[own.role]
        if not lines:
            lines += ["", f"Each training seed on the same held-out episodes ({metric.replace('_', ' ')}; intervals over the episodes):", ""]
            lines += ["| training seed | " + f"`{label}` | " + " | ".join(f"{label} − `{b.strategy}`" for b in baselines) + " |"]
            lines.append("| --- " * (len(baselines) + 2) + "|")
        lines.append(f"| {k} | {cell(*own.values[metric])} | " + " | ".join(cell(*b.versus) if b.versus is not None else "-" for b in baselines) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="replace the table between the markers in this file")
    parser.add_argument("--only", nargs="*", default=list(SCENARIOS), choices=SCENARIOS)
    args = parser.parse_args()
    if args.write is not None:  # every marker is there before an hour of runs, not after
        missing = [m for name in args.only for m in markers(name) if m not in args.write.read_text()]
        if missing:
            raise SystemExit(f"error: {args.write}: the markers {missing} are missing")
    with tempfile.TemporaryDirectory(prefix="full-run-figures-") as folder:
        for name in args.only:
            out = Path(folder) / name
            out.mkdir()
            path, seconds = run(name, out)
            print(f"{name}: {seconds:.0f} s", file=sys.stderr)
            text = "\n".join(comparison_table(path, seconds, name))
            print(text + "\n")
            if args.write is not None:  # written as each finishes: a later failure loses nothing
                begin, end = markers(name)
                head, rest = args.write.read_text().split(begin, 1)
                _, tail = rest.split(end, 1)
                args.write.write_text(f"{head}{begin}\n{text}\n{end}{tail}")


if __name__ == "__main__":
    main()
