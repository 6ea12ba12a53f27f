"""Benchmark: the market env at scale, 16 learners plus 100 to 10,000 scripted background traders.

Run as ``.venv/bin/python bench/scale.py [--sizes 100,1000,10000] [--steps N] [--paths per-agent,vectorized]``.

Each size is 16 learners (8 makers, 8 takers, random actions pre-drawn from a seeded generator, so
sampling is not measured) plus that many background traders driven inside the env: the default
ecology's mix (:data:`market.simulation.ecology.ECOLOGY`: 4 makers, 4 zero-intelligence takers, 8
noise, 4 momentum and 4 value traders in 24) scaled to the size, with the default market (prices,
cash, fundamental), book clearing by default.

Each size runs in its own child process for each path, so that the peak RSS (``ru_maxrss``) is that
size's alone:

* ``per-agent``: the reference path, one ``policy.act`` per background agent per step, on the Python
  exchange (``MarketEnv(..., vectorized=False, engine="python")``);
* ``vectorized``: one ``act_batch`` per background population per step, on the Python exchange
  (``engine="python"``);
* ``compiled``: one ``act_batch`` per population, the step's orders cleared by the compiled exchange
  in one call (``engine="compiled"``; what the env picks for book clearing from
  :data:`~market.envs.market_v0.COMPILED_FROM` agents on).

With ``--quiet`` each size also runs with a quiet background: that many zero-intelligence noise
traders (the ecology's ``noise`` archetype without the volatility feedback) whose activity is set so
that they send about :data:`QUIET_ORDERS` orders a step in all, whatever their number. Beside the
default mix it shows what a step costs: the orders sent, not the agents that sit idle.

A child builds the env, resets it, warms up for a few steps, then times ``--steps`` steps in CPU
time (``time.process_time``; the env runs on one thread). It then replays the same seeded steps
counting the orders the agents send (new limit orders; the cancels of replaced quotes are not
counted). Figures: env steps/s; agent-steps/s (learners and background agents); orders/s (orders
sent per step times steps/s); peak RSS; and, for each size, each path's steps/s over the
per-agent path's, measured in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

SEED = 11
LEARNERS = 16
WARMUP = 5
ACTION_BANK = 64
PATHS = ("per-agent", "vectorized", "compiled")
TARGET_STEPS = 100.0
TARGET_RSS_MIB = 2048.0
QUIET_ORDERS = 20
ROOT = Path(__file__).resolve().parents[1]


def background_counts(total: int) -> dict[str, int]:
    """The default ecology's counts scaled to ``total`` agents (largest remainders; the sum is exact)."""
    from market.simulation.ecology import SimulationSpec

    base = SimulationSpec().counts()
    weight = sum(base.values())
    exact = {name: total * count / weight for name, count in base.items()}
    counts = {name: int(value) for name, value in exact.items()}
    for name in sorted(exact, key=lambda n: counts[n] - exact[n])[: total - sum(counts.values())]:
        counts[name] += 1
    return counts


def build_env(n_background: int, clearing: str, steps: int, *, vectorized: bool, engine: str = "python", quiet: bool = False) -> Any:
    """The market: learners plus the scaled ecology (or the quiet background) driven inside the env."""
    from market.agents.scripted import build_policy, population_limits
    from market.envs.market_config import PopulationConfig, Role
    from market.envs.market_v0 import MarketEnv
    from market.simulation.ecology import ECOLOGY, MAKERS, NOISE, TAKERS, SimulationSpec

    if quiet:
        counts = {NOISE: n_background}
        params = {NOISE: (*dict(ECOLOGY[NOISE].params, vol_activity=0.0, activity=min(1.0, QUIET_ORDERS / n_background)).items(),)}
    else:
        counts = {name: count for name, count in background_counts(n_background).items() if count > 0}
        params = {name: ECOLOGY[name].params for name in counts}
    spec = SimulationSpec(**{key: 1 for key in ("makers", "takers", "noise", "momentum", "value")}, steps=steps, clearing=clearing, seed=SEED)
    config, _ = spec.market()
    background = tuple(
        PopulationConfig(
            name=f"bg_{name}",
            role=ECOLOGY[name].role,
            count=count,
            policy=ECOLOGY[name].policy,
            params=params[name],
            max_qty=ECOLOGY[name].max_qty,
            max_offset=ECOLOGY[name].max_offset,
        )
        for name, count in counts.items()
    )
    learners = (
        PopulationConfig(name="maker", role=Role.MAKER, count=LEARNERS // 2, max_qty=ECOLOGY[MAKERS].max_qty, max_offset=ECOLOGY[MAKERS].max_offset),
        PopulationConfig(name="taker", role=Role.TAKER, count=LEARNERS - LEARNERS // 2, max_qty=ECOLOGY[TAKERS].max_qty, max_offset=ECOLOGY[TAKERS].max_offset),
    )
    config = dataclasses.replace(config, populations=learners + background)
    policies = {
        p.name: build_policy(p.policy, p.param_dict, window=config.window, population=p.name, **population_limits(p))
        for p in background
    }
    return MarketEnv(config, policies, vectorized=vectorized, engine=engine)


def action_bank(env: Any) -> list[dict[str, np.ndarray]]:
    """Pre-drawn random actions of every learner, cycled through the run."""
    rng = np.random.default_rng(SEED)
    bank: list[dict[str, np.ndarray]] = [{} for _ in range(ACTION_BANK)]
    for agent in env.possible_agents:
        draws = rng.uniform(-1.0, 1.0, (ACTION_BANK, *env.action_space(agent).shape)).astype(np.float32)
        for k in range(ACTION_BANK):
            bank[k][agent] = draws[k]
    return bank


def play(env: Any, bank: list[dict[str, np.ndarray]], steps: int) -> int:
    """Reset, warm up, then play ``steps`` steps; returns the orders sent in them."""
    env.reset(seed=SEED)
    orders = 0
    for step in range(WARMUP + steps):
        actions = bank[step % ACTION_BANK]
        if len(env.agents) != len(env.possible_agents):
            actions = {a: actions[a] for a in env.agents}
        env.step(actions)
        if step >= WARMUP:
            orders += int(env.orders_sent().sum())
    return orders


def child(n_background: int, path: str, steps: int, clearing: str, quiet: bool) -> dict[str, Any]:
    """One size on one path, in this process: the timed run, the counting run, the peak RSS."""
    engine = "compiled" if path == "compiled" else "python"
    env = build_env(n_background, clearing, WARMUP + steps, vectorized=path != "per-agent", engine=engine, quiet=quiet)
    bank = action_bank(env)
    gc.collect()
    started = time.process_time()
    env.reset(seed=SEED)
    reset_seconds = time.process_time() - started
    for step in range(WARMUP):
        env.step(bank[step])
    started = time.process_time()
    for step in range(WARMUP, WARMUP + steps):
        actions = bank[step % ACTION_BANK]
        if len(env.agents) != len(env.possible_agents):
            actions = {a: actions[a] for a in env.agents}
        env.step(actions)
    seconds = time.process_time() - started
    orders = play(env, bank, steps)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "background": n_background,
        "path": path,
        "steps": steps,
        "seconds": seconds,
        "reset_seconds": reset_seconds,
        "orders": orders,
        "peak_rss_mib": peak_kib / 1024.0,
        "agents": len(env.all_agents),
    }


def measure(n_background: int, path: str, steps: int, clearing: str, quiet: bool = False) -> dict[str, Any]:
    """Run :func:`child` in a fresh process and read its figures."""
    command = [sys.executable, __file__, "--child", str(n_background), path, str(steps), clearing, "quiet" if quiet else "mix"]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> None:
    """Measure every size on every path and print the table and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="background agents per run, comma separated (default 100,1000,10000)")
    parser.add_argument("--steps", type=int, default=100, help="timed env steps per run (default 100)")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma separated, of {', '.join(PATHS)} (default all)")
    parser.add_argument("--clearing", default="book", help="clearing mode (default book)")
    parser.add_argument("--quiet", action="store_true", help=f"also run each size with a quiet background (about {QUIET_ORDERS} orders a step)")
    parser.add_argument("--child", nargs=5, metavar=("SIZE", "PATH", "STEPS", "CLEARING", "BACKGROUND"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        size, path, steps, clearing, background = args.child
        print(json.dumps(child(int(size), path, int(steps), clearing, background == "quiet")))
        return

    sizes = [int(value) for value in args.sizes.split(",")]
    paths = [value.strip() for value in args.paths.split(",")]
    unknown = set(paths) - set(PATHS)
    if unknown:
        parser.error(f"--paths: unknown {sorted(unknown)}; known: {', '.join(PATHS)}")
    backgrounds = ("mix", "quiet") if args.quiet else ("mix",)
    results = {
        (background, size, path): measure(size, path, args.steps, args.clearing, background == "quiet")
        for background in backgrounds
        for size in sizes
        for path in paths
    }

    print(f"MarketEnv at scale: {LEARNERS} random learners + background, {args.clearing} clearing, "
          f"{args.steps:,} timed steps, CPU time, one core, one process per row")
    header = (
        f"{'background':<22}{'path':<11}{'env steps/s':>12}{'agent-steps/s':>15}{'orders/step':>12}{'orders/s':>11}"
        f"{'peak RSS MiB':>14}{'reset s':>9}{'x per-agent':>13}"
    )
    print(header)
    print("-" * len(header))
    for (background, size, path), r in results.items():
        rate = r["steps"] / r["seconds"]
        reference = results.get((background, size, "per-agent"))
        ratio = f"{rate / (reference['steps'] / reference['seconds']):>12.2f}x" if reference else f"{'':>13}"
        label = f"{size:,} {'ecology mix' if background == 'mix' else 'quiet noise'}"
        print(
            f"{label:<22}{path:<11}{rate:>12,.1f}{rate * r['agents']:>15,.0f}{r['orders'] / r['steps']:>12,.1f}"
            f"{r['orders'] / r['seconds']:>11,.0f}{r['peak_rss_mib']:>14,.0f}{r['reset_seconds']:>9.2f}{ratio}"
        )
    print("(agent-steps/s counts learners and background agents; orders: new limit orders sent, cancels not counted;")
    print(f" ecology mix: the default ecology scaled; quiet noise: noise traders sending about {QUIET_ORDERS} orders a step in all,")
    print(f" beside the {LEARNERS} learners' random orders)")
    largest = max(sizes)
    if ("mix", largest, "compiled") in results:
        r = results[("mix", largest, "compiled")]
        rate = r["steps"] / r["seconds"]
        print(
            f"{largest:,} background, compiled: {rate:,.1f} env steps/s (target >= {TARGET_STEPS:.0f}: {'met' if rate >= TARGET_STEPS else 'missed'}), "
            f"peak RSS {r['peak_rss_mib']:,.0f} MiB (target <= {TARGET_RSS_MIB:,.0f}: {'met' if r['peak_rss_mib'] <= TARGET_RSS_MIB else 'missed'})"
        )


if __name__ == "__main__":
    main()
