"""Playing market episodes and recording them: the engine behind ``market simulate``.

Three parts, each usable alone:

* :func:`scripted_market` builds an all-scripted market (a :class:`MarketConfig` and the policy
  objects that drive it) from population counts: market makers, zero-intelligence takers, noise
  traders, momentum traders and value traders following a seeded synthetic fundamental. The
  default ecology (:data:`ECOLOGY`) is tuned so that the mid's per-step log returns show the
  stylized facts of real prices (fat tails, volatility clustering, no linear memory).
* :func:`run_market` plays one episode of any :class:`~market.envs.market_v0.MarketEnv` to its end,
  supplying the actions of the PettingZoo agents from policy objects, and streams every agent's
  state, every fill and the top of the book into a :class:`~market.records.io.RunWriter`.
* :func:`simulate` does both and writes a complete run record, metrics included.

Who drives whom. The env drives a population itself when its config names a policy; populations
with ``policy=None`` are PettingZoo agents, driven from outside. An env with no PettingZoo agent
has nothing to step (its episode is over at ``reset``), so :func:`scripted_market` makes every
population a PettingZoo agent and :func:`run_market` acts for them, each agent with its own random
stream. Mixed markets work the same way: populations the env drives are recorded from the env's
``last_actions``, the others are driven by the policies given to :func:`run_market`.

Randomness. One root ``seed`` gives everything: the env's own streams (arrival shuffling, the
policies it drives) come from ``reset(seed=seed)``; the fundamental and the runner's per-agent
streams come from two other branches of the same root, ``SeedSequence(seed, spawn_key=(k,))``
with keys (:data:`FUNDAMENTAL_STREAM`, :data:`POLICY_STREAM`) far beyond the children the env
spawns, so no two consumers ever share a stream.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa

from market.agents.policy import Policy
from market.agents.scripted import build_policy
from market.data import synthetic
from market.data.facts import stylized_facts
from market.data.loading import CLOSE
from market.envs.market_config import Clearing, ImpactConfig, MarketConfig, PopulationConfig, Role
from market.envs.market_v0 import MarketEnv
from market.errors import ConfigError, MarketError
from market.exchange.types import Side
from market.records import schema as s
from market.records.io import RunReader, RunWriter

__all__ = [
    "COUNT_FIELDS",
    "DEFAULT_STEPS",
    "ECOLOGY",
    "FUNDAMENTAL_STREAM",
    "POLICY_STREAM",
    "Archetype",
    "MarketRunSummary",
    "Progress",
    "SimulationResult",
    "SimulationSpec",
    "default_fundamental",
    "policy_streams",
    "run_market",
    "scripted_market",
    "simulate",
]

Progress = Callable[[int, int], None]
"""A progress callback: ``progress(steps_done, total_steps)``, called after every step."""

# ---------------------------------------------------------------------------- seeds
FUNDAMENTAL_STREAM = 0x5EED_F0
"""Spawn key of the root seed's branch that draws the default fundamental."""
POLICY_STREAM = 0x5EED_A6
"""Spawn key of the root seed's branch whose children are the runner's per-agent streams."""


def policy_streams(seed: int, agents: Sequence[str]) -> dict[str, np.random.Generator]:
    """One independent random stream per agent, from the root seed's policy branch.

    Args:
        seed: the run's root seed.
        agents: the agents, in a fixed order (the env's ``possible_agents``).

    Returns:
        A generator per agent; the i-th agent gets the i-th child of the branch.
    """
    branch = np.random.SeedSequence(seed, spawn_key=(POLICY_STREAM,))
    return {agent: np.random.Generator(np.random.PCG64(child)) for agent, child in zip(agents, branch.spawn(len(agents)))}


# ---------------------------------------------------------------------------- the default ecology
MAKERS, TAKERS, NOISE, MOMENTUM, VALUE = "maker", "taker", "noise", "momentum", "value"
"""Population names of the scripted market; agents are ``maker_0``, ``taker_0``, ..."""

DEFAULT_STEPS = 10_000
"""Steps of a default ``market simulate`` run."""
INITIAL_PRICE = 100_000
"""Starting price in ticks: one tick is 0.1 basis point, fine enough that the mid moves smoothly."""
INITIAL_CASH = 100_000_000
"""Each agent's starting cash in ticks x lots: about 1,000 lots at the starting price."""
INITIAL_INVENTORY = 100
"""Each agent's starting inventory in lots."""
WINDOW = 10
"""Mid returns in every agent's observation; also the horizon of the traders' volatility estimate."""
IMPACT_COEFFICIENT = 0.00002
"""Square-root impact in ``impact`` clearing: a net flow of 100 lots moves the price by 2 bp."""

FUNDAMENTAL_MODEL = "ou"
FUNDAMENTAL_PARAMS: Mapping[str, float] = MappingProxyType(
    {"theta": 10.0, "sigma": 0.03, "periods_per_year": 98_280.0}
)
"""The default fundamental: an Ornstein-Uhlenbeck log price around the starting price, one step
being one minute of a 252-day, 390-minute trading year. Its stationary spread is about 0.7% and a
gap halves in about 6,800 steps, so value traders see slow, moderate mispricings."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Archetype:
    """One kind of scripted trader in the ecology: role, policy, order limits and parameters.

    Attributes:
        role: maker or taker.
        policy: the scripted policy's name (a key of ``market.agents.scripted.SCRIPTED_POLICIES``).
        max_qty: the population's largest order or quote size in lots.
        max_offset: the population's largest price offset from the mid in ticks.
        params: the policy's parameters, as (key, value) pairs.
    """

    role: Role
    policy: str
    max_qty: int
    max_offset: int
    params: tuple[tuple[str, Any], ...]


ECOLOGY: Mapping[str, Archetype] = MappingProxyType(
    {
        # Makers quote a few ticks around the mid with dispersed offsets; in volatile periods they
        # widen (vol_widen) and thin (vol_thin), so shocks feed on themselves for a while.
        MAKERS: Archetype(
            role=Role.MAKER,
            policy="market_maker",
            max_qty=20,
            max_offset=300,
            params=(
                ("half_spread", 0.015),
                ("size", 0.5),
                ("inventory_skew", 0.001),
                ("vol_widen", 2.0),
                ("vol_thin", 30.0),
                ("jitter", 0.1),
            ),
        ),
        # Zero-intelligence takers: an order every step, Pareto sizes (tail exponent 2), half of
        # them crossing the spread by up to 10 bp, half resting up to 10 bp behind the mid.
        TAKERS: Archetype(
            role=Role.TAKER,
            policy="noise",
            max_qty=100,
            max_offset=200,
            params=(("activity", 1.0), ("min_size", 0.02), ("max_size", 1.0), ("max_aggression", 0.5), ("size_tail", 2.0)),
        ),
        # Noise traders: the same orders, less often, and more often when the market is volatile.
        NOISE: Archetype(
            role=Role.TAKER,
            policy="noise",
            max_qty=100,
            max_offset=200,
            params=(
                ("activity", 0.2),
                ("min_size", 0.02),
                ("max_size", 1.0),
                ("max_aggression", 0.5),
                ("size_tail", 2.0),
                ("vol_activity", 100.0),
            ),
        ),
        # Trend followers that act only on strong five-step moves, with small orders.
        MOMENTUM: Archetype(
            role=Role.TAKER,
            policy="momentum",
            max_qty=10,
            max_offset=100,
            params=(
                ("lookback", 5),
                ("threshold", 0.02),
                ("size_scale", 5.0),
                ("max_size", 0.5),
                ("aggression", 0.3),
                ("max_inventory", 5.0),
            ),
        ),
        # Fundamentalists that lean against gaps beyond 0.3% from the fundamental.
        VALUE: Archetype(
            role=Role.TAKER,
            policy="value",
            max_qty=50,
            max_offset=100,
            params=(("threshold", 0.3), ("size_scale", 0.3), ("max_size", 0.5), ("aggression", 0.3), ("max_inventory", 8.0)),
        ),
    }
)
"""The default ecology, by population name, in the order the populations appear in the market.

With the default counts (4 makers, 4 takers, 8 noise, 4 momentum, 4 value traders) and book
clearing, the mid's per-step log returns measured over seeds 0-5 at 20,000 steps show a Hill tail
index of 2.75-3.30, excess kurtosis of 12.3-14.8, mean absolute-return autocorrelation over lags
1..10 of 0.083-0.106, largest linear autocorrelation over lags 2..20 of 0.018-0.026 and a lag-1
autocorrelation of -0.016 to -0.026 (a little bid-ask bounce). Real daily stock returns: a tail
index near 3, kurtosis 12-21, absolute-return autocorrelation 0.045-0.063 and linear
autocorrelation under 0.06. The tails come from Pareto order sizes meeting a finite book; the
clustering from makers that widen and thin, and noise traders that trade more, when volatility
rises."""


COUNT_FIELDS: Mapping[str, str] = MappingProxyType(
    {"makers": MAKERS, "takers": TAKERS, "noise": NOISE, "momentum": MOMENTUM, "value": VALUE}
)
"""The count fields of :class:`SimulationSpec` (and options of ``market simulate``) and the population each sizes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationSpec:
    """What ``market simulate`` runs: population counts, length, clearing and seed.

    Attributes:
        makers: scripted market makers.
        takers: zero-intelligence takers that trade every step.
        noise: noise traders, less active, more so in volatile periods.
        momentum: trend followers.
        value: fundamental traders following the default (or a given) fundamental.
        steps: steps in the episode.
        clearing: ``book``, ``call`` or ``impact``.
        seed: the root seed of everything random in the run.
    """

    makers: int = 4
    takers: int = 4
    noise: int = 8
    momentum: int = 4
    value: int = 4
    steps: int = DEFAULT_STEPS
    clearing: Clearing = Clearing.BOOK
    seed: int = 0

    def __post_init__(self) -> None:
        for key in COUNT_FIELDS:
            value = getattr(self, key)
            if type(value) is not int or value < 0:
                raise ConfigError(f"{key}: expected a non-negative integer, got {value!r}")
        if self.total_agents == 0:
            raise ConfigError(f"populations: expected at least one trader, got counts {self.counts()}")
        if type(self.steps) is not int or self.steps < 1:
            raise ConfigError(f"steps: expected a positive integer, got {self.steps!r}")
        if self.clearing not in tuple(Clearing):
            raise ConfigError(f"clearing: expected one of {[c.value for c in Clearing]}, got {self.clearing!r}")
        object.__setattr__(self, "clearing", Clearing(self.clearing))
        if type(self.seed) is not int:
            raise ConfigError(f"seed: expected an integer, got {self.seed!r}")

    def counts(self) -> dict[str, int]:
        """Agents per population name, zero counts included, in :data:`ECOLOGY` order."""
        return {population: getattr(self, key) for key, population in COUNT_FIELDS.items()}

    @property
    def total_agents(self) -> int:
        """Agents over all populations."""
        return sum(self.counts().values())

    def market(self, fundamental: Sequence[float] | np.ndarray | None = None) -> tuple[MarketConfig, dict[str, Policy]]:
        """The market and policies of this spec (see :func:`scripted_market`)."""
        return scripted_market(
            makers=self.makers,
            takers=self.takers,
            noise=self.noise,
            momentum=self.momentum,
            value=self.value,
            steps=self.steps,
            clearing=self.clearing,
            seed=self.seed,
            fundamental=fundamental,
        )


def default_fundamental(seed: int, steps: int, initial_price: int = INITIAL_PRICE) -> np.ndarray:
    """The default fundamental: a seeded Ornstein-Uhlenbeck path around the starting price, in ticks.

    Args:
        seed: the run's root seed (the path comes from its :data:`FUNDAMENTAL_STREAM` branch).
        steps: steps in the episode; the path has ``steps + 1`` values, one per observation.
        initial_price: the starting price and the level the path reverts to, in ticks.

    Returns:
        ``steps + 1`` positive prices in ticks, as float64.
    """
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(FUNDAMENTAL_STREAM,))))
    path = synthetic.generate(
        FUNDAMENTAL_MODEL, rng, steps + 1, s0=float(initial_price), mean=float(initial_price), **FUNDAMENTAL_PARAMS
    )
    return path[CLOSE].to_numpy(dtype=np.float64)


def fundamental_from_prices(prices: Any, initial_price: int = INITIAL_PRICE) -> np.ndarray:
    """A fundamental from real (or generated) prices: their closes, scaled so the first is ``initial_price`` ticks.

    One bar per step, so historical data drives a live market; after the last bar the last value holds.
    """
    closes = prices[CLOSE].to_numpy(dtype=np.float64)
    return closes / closes[0] * float(initial_price)


def scripted_market(
    *,
    makers: int,
    takers: int,
    noise: int,
    momentum: int,
    value: int,
    steps: int,
    clearing: str | Clearing,
    seed: int,
    fundamental: Sequence[float] | np.ndarray | None = None,
) -> tuple[MarketConfig, dict[str, Policy]]:
    """Build an all-scripted market from population counts, with the default ecology's traders.

    Every population is a PettingZoo agent population (``policy=None``); the returned policies,
    by population name, are meant for :func:`run_market`, which acts for them. Populations with a
    count of 0 are left out.

    Args:
        makers: market makers.
        takers: zero-intelligence takers that trade every step.
        noise: noise traders.
        momentum: momentum traders.
        value: value traders.
        steps: the episode's length (``max_steps``).
        clearing: ``book``, ``call`` or ``impact``.
        seed: the root seed (the config's ``seed``, and the default fundamental's).
        fundamental: per-step fundamental prices in ticks (the last value holds), or ``None`` for
            :func:`default_fundamental`.

    Returns:
        The market config and the policy of each population.

    Raises:
        ConfigError: a bad count, length, clearing, seed or fundamental, naming the key.
    """
    spec = SimulationSpec(
        makers=makers, takers=takers, noise=noise, momentum=momentum, value=value, steps=steps, clearing=clearing, seed=seed
    )
    if fundamental is None:
        path = default_fundamental(seed, steps)
    else:
        path = np.asarray(fundamental, dtype=np.float64)
        if path.ndim != 1 or path.size == 0:
            raise ConfigError(f"fundamental: expected a non-empty sequence of prices in ticks, got shape {path.shape}")
    populations = tuple(
        PopulationConfig(
            name=name,
            role=ECOLOGY[name].role,
            count=count,
            max_qty=ECOLOGY[name].max_qty,
            max_offset=ECOLOGY[name].max_offset,
        )
        for name, count in spec.counts().items()
        if count > 0
    )
    config = MarketConfig(
        populations=populations,
        clearing=spec.clearing,
        initial_price=INITIAL_PRICE,
        initial_cash=INITIAL_CASH,
        initial_inventory=INITIAL_INVENTORY,
        impact=ImpactConfig(coefficient=IMPACT_COEFFICIENT),
        window=WINDOW,
        max_steps=steps,
        fundamental=tuple(float(v) for v in path),
        seed=seed,
    )
    policies = {
        p.name: build_policy(ECOLOGY[p.name].policy, dict(ECOLOGY[p.name].params), window=WINDOW, population=p.name)
        for p in populations
    }
    return config, policies


# ---------------------------------------------------------------------------- the runner
M_STEPS = "steps"
M_TRADES = "trades"
M_VOLUME = "volume"
M_INITIAL_MID = "initial_mid"
M_FINAL_MID = "final_mid"
M_MEAN_RETURN = "mean_return"
"""Metric keys of a market run; the stylized facts use :data:`market.data.facts.FACT_KEYS`."""

FLUSH_STEPS = 1_000
"""Steps buffered in plain lists before the rows go to the writer."""


DEPTH_LEVELS = 5
"""Price levels per side counted in a market summary's book depth."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketRunSummary:
    """What one market episode did.

    Attributes:
        steps: steps played.
        trades: fills.
        volume: lots traded.
        initial_mid: the mid at reset, in ticks.
        final_mid: the mid after the last step, in ticks.
        mean_return: per population, the mean over its agents of final equity over starting
            equity minus 1 (marked at the final mid).
        facts: the stylized facts of the mid's per-step log returns, with the per-step traded
            volume (:func:`market.data.facts.stylized_facts`).
        mean_spread: the mean best-ask minus best-bid after each step, in ticks, over the steps
            with both sides quoted (NaN when there was none: call and impact clearing).
        spread_capture: per population, the mean over its agents of what they earned as makers
            against the mid: for each fill in which the agent's resting order traded, the fill
            price's distance from the mid before that step, times the lots, signed so that selling
            above the mid or buying below it counts positive. In ticks times lots; zero for an agent
            that never made. This is the maker's gross edge before inventory gains or losses.
        halted_steps: steps in which the circuit breaker halted trading.
        mean_depth, min_depth: lots resting within :data:`DEPTH_LEVELS` price levels of each side of
            the book after each step, both sides together: the mean and the least over the episode.
        max_drawdown: the mid's largest fall from its running peak, as a fraction (0.05 is 5%).
        fundamental_gaps: after each step, ``|log(mid / fundamental)|`` (empty without a fundamental):
            how far trading has pushed the price from value.
    """

    steps: int
    trades: int
    volume: int
    initial_mid: float
    final_mid: float
    mean_return: Mapping[str, float]
    facts: Mapping[str, float] = field(default_factory=dict)
    mean_spread: float = float("nan")
    spread_capture: Mapping[str, float] = field(default_factory=dict)
    halted_steps: int = 0
    mean_depth: float = 0.0
    min_depth: int = 0
    max_drawdown: float = 0.0
    fundamental_gaps: tuple[float, ...] = ()

    def metrics(self) -> dict[str, Any]:
        """The summary as manifest metrics: headline numbers and facts at the top, returns nested."""
        return {
            M_STEPS: self.steps,
            M_TRADES: self.trades,
            M_VOLUME: self.volume,
            M_INITIAL_MID: self.initial_mid,
            M_FINAL_MID: self.final_mid,
            **self.facts,
            M_MEAN_RETURN: dict(self.mean_return),
        }


class _Recorder:
    """Per-step rows of a market run, buffered in plain lists and handed to a writer in batches."""

    def __init__(self, env: MarketEnv, writer: RunWriter, book_levels: int) -> None:
        self._writer = writer
        self._levels = book_levels
        self._agents = env.all_agents
        self._dims = [env.action_space(a).shape[0] for a in self._agents]
        self._blank = {a: np.full(d, np.nan) for a, d in zip(self._agents, self._dims)}
        self._offsets = np.concatenate(([0], np.cumsum(self._dims)))
        self._clear()

    def _clear(self) -> None:
        self._steps: list[int] = []
        self._mids: list[float] = []
        self._cash: list[np.ndarray] = []
        self._position: list[np.ndarray] = []
        self._equity: list[np.ndarray] = []
        self._reward: list[np.ndarray] = []
        self._actions: list[np.ndarray] = []
        self._trades: dict[str, list[Any]] = {
            name: [] for name in (s.STEP, s.PRICE, s.QTY, s.MAKER, s.TAKER, s.MAKER_ORDER_ID, s.TAKER_ORDER_ID, s.TAKER_SIDE)
        }
        self._book: dict[str, list[Any]] = {name: [] for name in (s.STEP, s.SIDE, s.LEVEL, s.PRICE, s.QTY)}

    def record(self, step: int, env: MarketEnv) -> None:
        """Buffer the state after one step: every agent, every fill, the top of the book."""
        cash, position, equity, reward = env.account_arrays()
        actions = env.last_actions
        self._steps.append(step)
        self._mids.append(env.mid)
        self._cash.append(cash)
        self._position.append(position)
        self._equity.append(equity)
        self._reward.append(reward)
        self._actions.append(
            np.concatenate([np.asarray(actions.get(a, self._blank[a]), dtype=np.float64) for a in self._agents])
        )
        trades = self._trades
        for fill in env.last_fills:
            trades[s.STEP].append(step)
            trades[s.PRICE].append(float(fill.price))
            trades[s.QTY].append(fill.qty)
            trades[s.MAKER].append(fill.maker)
            trades[s.TAKER].append(fill.taker)
            trades[s.MAKER_ORDER_ID].append(fill.maker_order_id)
            trades[s.TAKER_ORDER_ID].append(fill.taker_order_id)
            trades[s.TAKER_SIDE].append(str(fill.taker_side))
        if self._levels > 0:
            depth = env.exchange.book.depth(self._levels)
            book = self._book
            for side, levels in ((s.BID, depth.bids), (s.ASK, depth.asks)):
                for level, (price, qty) in enumerate(levels):
                    book[s.STEP].append(step)
                    book[s.SIDE].append(side)
                    book[s.LEVEL].append(level)
                    book[s.PRICE].append(float(price))
                    book[s.QTY].append(qty)
        if len(self._steps) >= FLUSH_STEPS:
            self.flush()

    def flush(self) -> None:
        """Hand the buffered rows to the writer (every table gets its file, even with no rows)."""
        count, n = len(self._steps), len(self._agents)
        flat = np.concatenate(self._actions) if self._actions else np.empty(0)
        width = int(self._offsets[-1])
        offsets = (np.arange(count)[:, None] * width + self._offsets[None, :-1]).ravel()
        offsets = np.append(offsets, count * width).astype(np.int32)
        self._writer.append(
            s.STEPS,
            {
                s.STEP: np.repeat(np.asarray(self._steps, dtype=np.int64), n),
                s.AGENT: self._agents * count,
                s.PRICE: np.repeat(np.asarray(self._mids, dtype=np.float64), n),
                s.CASH: np.concatenate(self._cash) if count else np.empty(0),
                s.POSITION: np.concatenate(self._position) if count else np.empty(0),
                s.EQUITY: np.concatenate(self._equity) if count else np.empty(0),
                s.ACTION: pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=pa.float64())),
                s.REWARD: np.concatenate(self._reward) if count else np.empty(0),
            },
        )
        self._writer.append(s.TRADES, self._trades)
        self._writer.append(s.BOOK, self._book)
        self._clear()


def run_market(
    env: MarketEnv,
    policies: Mapping[str, Policy],
    *,
    seed: int,
    writer: RunWriter | None = None,
    book_levels: int = 5,
    progress: Progress | None = None,
) -> MarketRunSummary:
    """Play one episode of a market env to its end, acting for its PettingZoo agents.

    Each step, every live PettingZoo agent acts through the policy of its population, with its
    own random stream (:func:`policy_streams`); the env drives its other populations itself. The
    episode ends when no PettingZoo agent is left: at ``max_steps`` (truncation), or earlier if
    they all went bankrupt.

    With a writer, every step is recorded: a ``steps`` row for every agent (PettingZoo and
    env-driven, bankrupt ones included with their last values; ``step`` counts from 0, ``price``
    is the mid after the step, ``action`` the agent's action, all NaN for an agent that did not
    act), a ``trades`` row per fill, and ``book`` rows for the top ``book_levels`` levels of each
    side after the step (none in call and impact clearing, where nothing rests). Rows are
    buffered and appended every :data:`FLUSH_STEPS` steps.

    Args:
        env: the market.
        policies: a policy per PettingZoo population (``policy=None`` in the config), by name, or
            one per agent, by agent name.
        seed: the root seed: the env is reset with it, and the agents' streams come from it.
        writer: an open run writer, or ``None`` to only summarize.
        book_levels: price levels per side in each book snapshot (0 for none).
        progress: called as ``progress(steps_done, max_steps)`` after every step.

    Returns:
        The run's summary.

    Raises:
        ConfigError: a PettingZoo population without a policy, no PettingZoo agent at all, or a
            negative ``book_levels``.
    """
    config = env.config
    learners = [p for p in config.populations if p.learner]
    missing = [p.name for p in learners if p.name not in policies and not all(a in policies for a in p.agent_names())]
    if missing:
        raise ConfigError(f"policies: no policy for the population(s) {missing} driven from outside the env")
    if not env.possible_agents:
        raise ConfigError("populations: every population is driven inside the env; run_market needs at least one PettingZoo agent")
    if type(book_levels) is not int or book_levels < 0:
        raise ConfigError(f"book_levels: expected a non-negative integer, got {book_levels!r}")

    observations, _ = env.reset(seed=seed)
    streams = policy_streams(seed, env.possible_agents)
    policy_of = {agent: policies.get(agent) or policies[env.population_of[agent].name] for agent in env.possible_agents}
    recorder = _Recorder(env, writer, book_levels) if writer is not None else None
    mids = [env.mid]
    volumes: list[int] = []
    spreads: list[int] = []
    trades = 0
    total = config.max_steps
    captured = dict.fromkeys(env.all_agents, 0.0)
    halted_steps = 0
    depths: list[int] = []

    while env.agents:
        halted_steps += env.halted
        # 1. every live PettingZoo agent acts on its own observation with its own stream
        actions = {agent: policy_of[agent].act(observations[agent], streams[agent]) for agent in env.agents}
        observations, _, _, _, _ = env.step(actions)
        # 2. what happened: the mid, the fills, and (with a writer) every row
        step = env.step_count - 1
        for fill in env.last_fills:
            if fill.maker in captured:  # an agent's resting order, not the dealer's
                edge = fill.price - mids[-1] if fill.taker_side is Side.BUY else mids[-1] - fill.price
                captured[fill.maker] += edge * fill.qty
        mids.append(env.mid)
        volumes.append(sum(fill.qty for fill in env.last_fills))
        depth = env.exchange.book.depth(DEPTH_LEVELS)
        depths.append(sum(qty for _, qty in depth.bids) + sum(qty for _, qty in depth.asks))
        bid, ask = env.exchange.book.best_bid(), env.exchange.book.best_ask()
        if bid is not None and ask is not None:
            spreads.append(ask[0] - bid[0])
        trades += len(env.last_fills)
        if recorder is not None:
            recorder.record(step, env)
        if progress is not None:
            progress(step + 1, total)
    if recorder is not None:
        recorder.flush()

    # 3. the summary: returns by population, and the stylized facts of the mid
    _, _, equity, _ = env.account_arrays()
    start = float(config.starting_equity)
    mean_return = {
        p.name: float(np.mean([equity[env.all_agents.index(a)] / start - 1.0 for a in p.agent_names()]))
        for p in config.populations
    }
    spread_capture = {p.name: float(np.mean([captured[a] for a in p.agent_names()])) for p in config.populations}
    path = np.asarray(mids)
    fundamental = np.asarray(config.fundamental[1 : len(path)], dtype=np.float64)  # the value after each step
    gaps = tuple(np.abs(np.log(path[1 : 1 + len(fundamental)] / fundamental)).tolist())
    returns = np.diff(np.log(path))
    facts = stylized_facts(returns, np.asarray(volumes, dtype=np.float64)) if len(returns) > 1 else {}
    return MarketRunSummary(
        steps=len(volumes),
        trades=trades,
        volume=int(sum(volumes)),
        initial_mid=float(mids[0]),
        mean_spread=float(np.mean(spreads)) if spreads else float("nan"),
        final_mid=float(mids[-1]),
        mean_return=mean_return,
        facts=facts,
        spread_capture=spread_capture,
        halted_steps=halted_steps,
        mean_depth=float(np.mean(depths)) if depths else 0.0,
        min_depth=min(depths, default=0),
        max_drawdown=float(np.max(1.0 - path / np.maximum.accumulate(path))),
        fundamental_gaps=gaps,
    )


# ---------------------------------------------------------------------------- simulate
@dataclass(frozen=True, slots=True)
class SimulationResult:
    """A finished ``simulate`` run: where its record is, and its summary."""

    path: Path
    summary: MarketRunSummary


def run_name(spec: SimulationSpec, now: datetime | None = None) -> str:
    """The default run name: kind, seed and UTC time, ``simulate-seed0-20250101T120000.000000Z``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{s.KIND_SIMULATE}-seed{spec.seed}-{moment.strftime('%Y%m%dT%H%M%S.%fZ')}"


def _manifest_config(spec: SimulationSpec, config: MarketConfig, fundamental_given: bool) -> dict[str, Any]:
    """What the manifest records: the spec, the ecology and the market, with the fundamental's source."""
    source: dict[str, Any]
    if fundamental_given:
        values = config.fundamental
        source = {"source": "given", "length": len(values), "first": values[0], "last": values[-1]}
    else:
        source = {"source": FUNDAMENTAL_MODEL, "params": dict(FUNDAMENTAL_PARAMS), "spawn_key": FUNDAMENTAL_STREAM}
    return {
        "simulation": spec,
        "ecology": {name: ECOLOGY[name] for name, count in spec.counts().items() if count > 0},
        "market": replace(config, fundamental=()),
        "fundamental": source,
    }


def simulate(
    *,
    makers: int = 4,
    takers: int = 4,
    noise: int = 8,
    momentum: int = 4,
    value: int = 4,
    steps: int = DEFAULT_STEPS,
    clearing: str | Clearing = Clearing.BOOK,
    seed: int = 0,
    out: Path | str = Path("runs"),
    name: str | None = None,
    fundamental: Sequence[float] | np.ndarray | None = None,
    book_levels: int = 5,
    progress: Progress | None = None,
) -> SimulationResult:
    """Run an all-scripted market for one episode and write it as a run record at ``out/<name>``.

    The record's manifest holds the spec, the ecology and the market config (kind ``simulate``,
    the seed), and as metrics the run's summary and the stylized facts of the mid
    (:meth:`MarketRunSummary.metrics`). Tables: ``steps``, ``trades``, ``book``.

    Args:
        makers: market makers.
        takers: zero-intelligence takers that trade every step.
        noise: noise traders.
        momentum: momentum traders.
        value: value traders.
        steps: steps in the episode.
        clearing: ``book``, ``call`` or ``impact``.
        seed: the root seed.
        out: the runs folder.
        name: the run's folder name; by default from kind, seed and UTC time (:func:`run_name`).
        fundamental: per-step fundamental prices in ticks, or ``None`` for the seeded default.
        book_levels: price levels per side in each book snapshot.
        progress: called as ``progress(steps_done, steps)`` after every step.

    Returns:
        The run's path and summary.

    Raises:
        ConfigError: bad counts, length, clearing, seed or fundamental.
        RecordError: the run cannot be written (for example, the name is taken).
    """
    spec = SimulationSpec(
        makers=makers, takers=takers, noise=noise, momentum=momentum, value=value, steps=steps, clearing=clearing, seed=seed
    )
    config, policies = spec.market(fundamental)
    env = MarketEnv(config)
    writer = RunWriter(
        out,
        name or run_name(spec),
        kind=s.KIND_SIMULATE,
        config=_manifest_config(spec, config, fundamental is not None),
        seed=spec.seed,
    )
    with writer:
        summary = run_market(env, policies, seed=spec.seed, writer=writer, book_levels=book_levels, progress=progress)
        writer.set_metrics(summary.metrics())
    return SimulationResult(writer.path, summary)


def run_facts(path: str | Path) -> dict[str, float]:
    """Stylized facts of a recorded market run: the mid's per-step log returns and traded volume.

    Raises:
        RecordError: when the run cannot be read; MarketError when it has no mid path to measure.
    """
    reader = RunReader(path)
    steps = reader.read(s.STEPS, columns=[s.STEP, s.PRICE])
    mids = steps.groupby(s.STEP, sort=True)[s.PRICE].first().to_numpy(dtype=np.float64)
    if len(mids) < 60:
        raise MarketError(f"{path}: only {len(mids)} steps recorded; stylized facts need at least 60")
    returns = np.diff(np.log(mids))
    volume = None
    if s.TRADES in reader.tables:
        trades = reader.read(s.TRADES, columns=[s.STEP, s.QTY])
        per_step = trades.groupby(s.STEP)[s.QTY].sum()
        volume = per_step.reindex(range(len(mids)), fill_value=0).to_numpy(dtype=np.float64)[1:]
    return stylized_facts(returns, volume)
