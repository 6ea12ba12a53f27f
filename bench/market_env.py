"""Benchmark: steps per second of the market env (PettingZoo) beside tradefloor's multi-agent World.

Run as ``.venv/bin/python bench/market_env.py [--steps N] [--repeats R]``. Measured, on one core:

* ``MarketEnv`` with 4, 16 and 64 learner agents (half makers, half takers) plus 16 background
  traders driven inside the env by the scripted policies of ``market.agents.scripted`` (4 market
  makers, 8 noise, 2 momentum, 2 value traders; the value traders follow a seeded synthetic
  Ornstein-Uhlenbeck fundamental), under each clearing mode (book, call, impact), and 16 learners
  alone under book clearing. Learner actions are pre-drawn from a seeded generator, so sampling
  cost is not measured; an episode is 1,000 steps and the env resets at each end. Each figure is
  the median of ``--repeats`` timed runs of ``--steps`` steps.
* the orders that flow through the exchange per second (submitted orders plus cancels), counted in
  one more run of the same seed and steps with a counting exchange, then divided by the median
  time of the timed runs (the runs are seeded, so the counts are the same);
* tradefloor's ``World`` (the nearest peer on PyPI: a Rust limit order book under a Python
  multi-agent loop) with 8 ``RandomTrader`` agents and ``Population.standard()`` background
  traders, on a one-name universe (one instrument, as in our env) and on a four-name one;
* memory: RSS of this process before and after a long run (16 learners + 16 background, book
  clearing), at 10k, 50k and 100k steps.

Times are CPU seconds of this process (``time.process_time``): every engine here runs on one
thread, and CPU time keeps other load on the machine out of the figures. Agent-steps count
learner agents only (the peer's population is not counted either); the ratio column divides our
learner agent-steps/s by the peer's on the one-name universe.

``--digest`` instead prints a SHA-256 digest of seeded runs (observations, rewards, terminations,
truncations, infos, fills, background actions, the book and every account) in each clearing mode, in
a bankruptcy scenario and under tight limits (rejections): speed work on the env or the exchange
must leave it unchanged.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import market.envs.market_v0 as market_v0
import market.exchange.clearing as clearing_module
from market.agents.scripted import build_policy, policy_role
from market.data.synthetic import ou
from market.envs.market_config import Clearing, MarketConfig, PopulationConfig, Role
from market.envs.market_v0 import MarketEnv
from market.exchange import Exchange, FeeConfig

SEED = 7
WINDOW = 10
MAX_STEPS = 1_000
LEARNER_COUNTS = (4, 16, 64)
BACKGROUND = (  # population name, scripted policy, count
    ("bg_maker", "market_maker", 4),
    ("bg_noise", "noise", 8),
    ("bg_momentum", "momentum", 2),
    ("bg_value", "value", 2),
)
ACTION_BANK = 256  # pre-drawn action dicts, cycled
MEMORY_MARKS = (10_000, 50_000, 100_000)
PEER_AGENTS = 8
PEER_NAMES = (1, 4)
TARGET_STEPS_16_16_BOOK = 2_000.0
DIGEST_STEPS = 2_000


# ---------------------------------------------------------------------------- our env
def fundamental_path(n_steps: int, initial_price: int, seed: int) -> tuple[float, ...]:
    """A seeded Ornstein-Uhlenbeck fundamental around the initial price, in ticks, one value per step."""
    frame = ou(np.random.default_rng(seed), n_steps, s0=initial_price, mean=initial_price, theta=5.0, sigma=0.2)
    return tuple(float(v) for v in frame["close"])


def market_config(n_learners: int, clearing: Clearing, *, background: bool = True, **overrides: Any) -> MarketConfig:
    """Half maker, half taker learners, plus the background populations when ``background``."""
    populations = [
        PopulationConfig(name="maker", role=Role.MAKER, count=n_learners // 2),
        PopulationConfig(name="taker", role=Role.TAKER, count=n_learners - n_learners // 2),
    ]
    if background:
        populations += [
            PopulationConfig(name=name, role=policy_role(policy), count=count, policy=policy)
            for name, policy, count in BACKGROUND
        ]
    initial_price = overrides.pop("initial_price", 10_000)
    return MarketConfig(
        populations=tuple(populations),
        clearing=clearing,
        initial_price=initial_price,
        window=WINDOW,
        max_steps=overrides.pop("max_steps", MAX_STEPS),
        fundamental=fundamental_path(MAX_STEPS, initial_price, SEED) if background else (),
        seed=SEED,
        **overrides,
    )


def make_env(config: MarketConfig) -> MarketEnv:
    """The env with one scripted policy object per background population."""
    policies = {
        p.name: build_policy(p.policy, p.param_dict, window=config.window, population=p.name)
        for p in config.populations
        if not p.learner
    }
    return MarketEnv(config, policies)


def action_bank(env: MarketEnv, n: int, seed: int) -> list[dict[str, np.ndarray]]:
    """``n`` pre-drawn action dicts for every learner, uniform in each role's action space."""
    rng = np.random.default_rng(seed)
    bank: list[dict[str, np.ndarray]] = [{} for _ in range(n)]
    for agent in env.possible_agents:
        space = env.action_space(agent)
        draws = rng.uniform(-1.0, 1.0, (n, *space.shape)).astype(np.float32)
        for k in range(n):
            bank[k][agent] = draws[k]
    return bank


def run_steps(env: MarketEnv, bank: list[dict[str, np.ndarray]], n_steps: int, seed: int) -> Iterator[tuple]:
    """Reset with ``seed`` and step ``n_steps`` times, resetting at episode ends; yields each step's outputs."""
    env.reset(seed=seed)
    full = len(env.possible_agents)
    for step in range(n_steps):
        actions = bank[step % len(bank)]
        if len(env.agents) != full:  # someone left: act for the live agents only
            actions = {a: actions[a] for a in env.agents}
        yield env.step(actions)
        if not env.agents:
            env.reset()


def time_run(env: MarketEnv, bank: list[dict[str, np.ndarray]], n_steps: int) -> float:
    """CPU time of ``n_steps`` steps (resets included)."""
    gc.collect()
    start = time.process_time()
    for _ in run_steps(env, bank, n_steps, SEED):
        pass
    return time.process_time() - start


def count_flow(env: MarketEnv, bank: list[dict[str, np.ndarray]], n_steps: int) -> tuple[int, int]:
    """Orders submitted and cancels sent in the seeded run that :func:`time_run` times.

    The env builds its exchange at every reset, so for this run it builds a counting subclass, and
    the batch clearing functions it calls are wrapped to count their orders.
    """
    counts = {"orders": 0, "cancels": 0}

    class CountingExchange(Exchange):
        def submit_limit(self, agent, side, price, qty, *, ioc=False):  # type: ignore[no-untyped-def]
            counts["orders"] += 1
            return super().submit_limit(agent, side, price, qty, ioc=ioc)

        def submit_market(self, agent, side, qty):  # type: ignore[no-untyped-def]
            counts["orders"] += 1
            return super().submit_market(agent, side, qty)

        def cancel(self, agent, order_id):  # type: ignore[no-untyped-def]
            counts["cancels"] += 1
            return super().cancel(agent, order_id)

        def submit_batch(self, turns):  # type: ignore[no-untyped-def]
            turns = list(turns)
            counts["orders"] += sum(len(turn.orders) for turn in turns)
            counts["cancels"] += sum(len(turn.cancel) for turn in turns)
            return super().submit_batch(turns)

    def counting(clear: Callable[..., Any]) -> Callable[..., Any]:
        def counted(exchange: Exchange, orders: list, **kwargs: Any) -> Any:
            counts["orders"] += len(orders)
            return clear(exchange, orders, **kwargs)

        return counted

    saved = market_v0.Exchange, clearing_module.call_auction, clearing_module.impact_clearing
    market_v0.Exchange = CountingExchange
    clearing_module.call_auction, clearing_module.impact_clearing = counting(saved[1]), counting(saved[2])
    try:
        for _ in run_steps(env, bank, n_steps, SEED):
            pass
    finally:
        market_v0.Exchange, clearing_module.call_auction, clearing_module.impact_clearing = saved
    return counts["orders"], counts["cancels"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvResult:
    """One configuration's figures: medians over the repeats."""

    label: str
    clearing: Clearing
    learners: int
    background: int
    steps_per_s: float
    orders_per_s: float

    @property
    def agent_steps_per_s(self) -> float:
        """Learner agent-steps per second."""
        return self.steps_per_s * self.learners


def measure_env(n_learners: int, clearing: Clearing, *, background: bool, n_steps: int, repeats: int) -> EnvResult:
    """Steps/s (median of ``repeats``) and exchange orders/s of one configuration."""
    config = market_config(n_learners, clearing, background=background)
    env = make_env(config)
    bank = action_bank(env, ACTION_BANK, SEED)
    time_run(env, bank, min(n_steps, 200))  # warm-up
    seconds = statistics.median(time_run(env, bank, n_steps) for _ in range(repeats))
    orders, cancels = count_flow(env, bank, n_steps)
    n_background = len(env.driven_agents)
    label = f"{n_learners} learners + {n_background} background" if background else f"{n_learners} learners alone"
    return EnvResult(
        label=label,
        clearing=clearing,
        learners=n_learners,
        background=n_background,
        steps_per_s=n_steps / seconds,
        orders_per_s=(orders + cancels) / seconds,
    )


# ---------------------------------------------------------------------------- memory
def rss_mib(field: str = "VmRSS") -> float:
    """Resident set size of this process in MiB from /proc/self/status: now (VmRSS) or at its peak (VmHWM)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} line in /proc/self/status")


def measure_memory(marks: Sequence[int]) -> tuple[float, list[tuple[int, float]], float]:
    """RSS before a long 16 + 16 book-clearing run, at each mark, and the peak RSS (all MiB)."""
    env = make_env(market_config(16, Clearing.BOOK))
    bank = action_bank(env, ACTION_BANK, SEED)
    gc.collect()
    before = rss_mib()
    at: list[tuple[int, float]] = []
    wanted = iter(marks)
    mark = next(wanted)
    for step, _ in enumerate(run_steps(env, bank, marks[-1], SEED), start=1):
        if step == mark:
            gc.collect()
            at.append((step, rss_mib()))
            mark = next(wanted, 0)
    return before, at, rss_mib("VmHWM")


# ---------------------------------------------------------------------------- the peer
def measure_peer(n_names: int, days: int, repeats: int) -> tuple[float, int]:
    """tradefloor World agent-steps/s (median of ``repeats``) and the steps per run.

    8 RandomTrader agents and the standard population on ``Universe.random(n_names, seed=1)``; a
    run is ``days`` whole days (6 steps of 65 ticks each, the World's defaults) after a warm-up day.
    """
    import tradefloor as tf
    from tradefloor.baselines import RandomTrader

    rates = []
    steps = 0
    for _ in range(repeats):
        agents = {f"random_{i}": RandomTrader(seed=i) for i in range(PEER_AGENTS)}
        world = tf.World(
            seed=SEED, universe=tf.Universe.random(n_names, seed=1), agents=agents, population=tf.Population.standard()
        )
        world.run(days=1)  # warm-up
        first = world.step
        gc.collect()
        start = time.process_time()
        world.run(days=days)
        seconds = time.process_time() - start
        steps = world.step - first
        rates.append(steps * PEER_AGENTS / seconds)
    return statistics.median(rates), steps


# ---------------------------------------------------------------------------- digest
def _digest_run(hasher: Any, env: MarketEnv, bank: list[dict[str, np.ndarray]], n_steps: int, seed: int) -> None:
    """Feed every output of a seeded run into ``hasher``."""
    update = hasher.update
    observations, infos = env.reset(seed=seed)
    update(repr(sorted(infos)).encode())
    for agent, obs in observations.items():
        update(agent.encode() + obs.tobytes())
    for out in run_steps(env, bank, n_steps, seed):
        observations, rewards, terminations, truncations, infos = out
        for agent, obs in observations.items():
            update(agent.encode() + obs.dtype.str.encode() + obs.tobytes())
        update(repr(list(rewards.items())).encode())
        update(repr(list(terminations.items())).encode())
        update(repr(list(truncations.items())).encode())
        update(repr(list(infos.items())).encode())
        update(repr([tuple(f) for f in env.last_fills]).encode())
        for agent in env.driven_agents:
            if agent in env.last_actions:
                update(agent.encode() + np.asarray(env.last_actions[agent]).tobytes())
        book, ledger = env.exchange.book, env.exchange.ledger
        update(repr((env.mid, env.step_count, book.depth(5), sorted(book.orders()))).encode())
        accounts = [ledger.account(a) for a in ledger.agents()]
        update(repr([(a.cash, a.inventory, a.open_buy_notional, a.open_buy_qty, a.open_sell_qty) for a in accounts]).encode())
        for array in env.account_arrays():
            update(array.tobytes())


def digest(n_steps: int) -> dict[str, str]:
    """SHA-256 of seeded runs in each clearing mode: 16 + 16 agents, bankruptcies, and tight limits (rejections)."""
    runs: dict[str, MarketConfig] = {
        f"16+16 {clearing.value}": market_config(16, clearing, fees=FeeConfig(maker_bps=1, taker_bps=4))
        for clearing in Clearing
    }
    for clearing in Clearing:
        runs[f"bankrupt {clearing.value}"] = market_config(
            8, clearing, max_steps=150, initial_cash=20_000, initial_inventory=0, credit=10**9,
            fees=FeeConfig(taker_bps=3000),
        )
    for clearing in Clearing:
        runs[f"limits {clearing.value}"] = market_config(
            16, clearing, max_steps=300, initial_cash=300_000, initial_inventory=5, max_short=0
        )
    out = {}
    for name, config in runs.items():
        hasher = hashlib.sha256()
        env = make_env(config)
        _digest_run(hasher, env, action_bank(env, ACTION_BANK, SEED), n_steps, SEED)
        out[name] = hasher.hexdigest()
    return out


# ---------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> None:
    """Run every measurement and print the tables and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3_000, help="env steps per timed run (default 3000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure; the median is shown (default 3)")
    parser.add_argument("--peer-days", type=int, default=20, help="days per timed peer run (default 20)")
    parser.add_argument("--no-memory", action="store_true", help="skip the 100,000-step memory run")
    parser.add_argument("--digest", action="store_true", help="print the digest of seeded runs and exit")
    args = parser.parse_args(argv)

    if args.digest:
        for name, value in digest(DIGEST_STEPS).items():
            print(f"{name:<16}{value}")
        return

    results = [
        measure_env(n, clearing, background=True, n_steps=args.steps, repeats=args.repeats)
        for clearing in Clearing
        for n in LEARNER_COUNTS
    ]
    results.append(measure_env(16, Clearing.BOOK, background=False, n_steps=args.steps, repeats=args.repeats))
    peer = {n: measure_peer(n, args.peer_days, args.repeats) for n in PEER_NAMES}
    peer_rate = peer[PEER_NAMES[0]][0]

    print(f"MarketEnv, {args.steps:,} steps per run, median of {args.repeats}, episodes of {MAX_STEPS:,} steps, CPU time, one core")
    header = f"{'agents':<32}{'clearing':<10}{'env steps/s':>13}{'agent-steps/s':>15}{'orders/s':>12}{'x peer':>9}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.label:<32}{r.clearing.value:<10}{r.steps_per_s:>13,.0f}{r.agent_steps_per_s:>15,.0f}"
            f"{r.orders_per_s:>12,.0f}{r.agent_steps_per_s / peer_rate:>8.1f}x"
        )
    for n_names, (rate, steps) in peer.items():
        label = f"tradefloor World, {PEER_AGENTS} random"
        print(f"{label:<32}{f'{n_names} name' + 's' * (n_names > 1):<10}{rate / PEER_AGENTS:>13,.0f}{rate:>15,.0f}{'':>12}{rate / peer_rate:>8.1f}x")
    print("(orders/s: orders submitted plus cancels sent to the exchange; agent-steps/s: learners only)")
    print(f"(peer: {steps} steps of 65 ticks per run, Population.standard() as background, not counted as agents)")
    print()

    headline = next(r for r in results if r.learners == 16 and r.background and r.clearing is Clearing.BOOK)
    verdict = "met" if headline.steps_per_s >= TARGET_STEPS_16_16_BOOK else "missed"
    print(f"16 + 16 book: {headline.steps_per_s:,.0f} env steps/s (target >= {TARGET_STEPS_16_16_BOOK:,.0f}: {verdict})")
    for n_names, (rate, _) in peer.items():
        print(f"16 + 16 book agent-steps/s / tradefloor World ({n_names} name{'s' * (n_names > 1)}): {headline.agent_steps_per_s / rate:.1f}x")

    if not args.no_memory:
        before, at, peak = measure_memory(MEMORY_MARKS)
        print()
        print(f"memory, 16 + 16 book, {MEMORY_MARKS[-1]:,} steps: RSS before {before:.1f} MiB", end="")
        for step, rss in at:
            print(f"; {step // 1000}k steps {rss:.1f} MiB", end="")
        print(f"; growth 10k->100k {at[-1][1] - at[0][1]:+.1f} MiB; peak {peak:.1f} MiB")


if __name__ == "__main__":
    main()
