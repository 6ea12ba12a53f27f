"""The summary of a market episode: what it did, in figures, and the observer that gathers them.

:class:`SummaryCollector` is an :class:`~market.simulation.episode.EpisodeObserver`: during the
episode it keeps only what the figures need (the mid path, volumes, spreads, depths, the makers'
fills); at the end :meth:`SummaryCollector.summary` turns them into a :class:`MarketRunSummary`.
Every statistic comes from :mod:`market.stats` (drawdown, spread capture) or
:mod:`market.data.facts` (stylized facts), with their conventions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from market import stats
from market.analysis.flows import FlowObserver, FlowResult
from market.data.facts import MIN_RETURNS, stylized_facts
from market.envs.market_config import Role
from market.envs.market_v0 import MarketEnv
from market.exchange.types import Side

__all__ = [
    "DEPTH_LEVELS",
    "M_FINAL_MID",
    "M_INITIAL_MID",
    "M_MEAN_RETURN",
    "M_STEPS",
    "M_TRADES",
    "M_VOLUME",
    "MarketRunSummary",
    "SummaryCollector",
    "mid_facts",
]

M_STEPS = "steps"
M_TRADES = "trades"
M_VOLUME = "volume"
M_INITIAL_MID = "initial_mid"
M_FINAL_MID = "final_mid"
M_MEAN_RETURN = "mean_return"
"""Metric keys of a market run; the stylized facts use :data:`market.data.facts.FACT_KEYS`."""

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
            volume (:func:`market.data.facts.stylized_facts`); empty when the episode has fewer
            than :data:`market.data.facts.MIN_RETURNS` steps, too few to measure them.
        mean_spread: the mean best-ask minus best-bid after each step, in ticks, over the steps
            with both sides quoted (NaN when there was none: call and impact clearing).
        spread_capture: per population, the mean over its agents of what they earned as makers
            against the mid: for each fill in which the agent's resting order traded, the fill
            price's distance from the mid before that step, times the lots, signed so that selling
            above the mid or buying below it counts positive. In ticks times lots; zero for an agent
            that never made. This is the maker's gross edge before inventory gains or losses
            (:func:`market.stats.maker_edges`).
        halted_steps: steps in which the circuit breaker halted trading.
        mean_depth, min_depth: lots resting within :data:`DEPTH_LEVELS` price levels of each side of
            the book after each step, both sides together: the mean and the least over the episode.
        max_drawdown: the mid's deepest fall from its running peak, as a negative fraction (-0.05
            is 5% below the peak; :func:`market.stats.path_max_drawdown`).
        fundamental_gaps: after each step, ``|log(mid / fundamental)|`` (empty without a fundamental):
            how far trading has pushed the price from value.
        pnl: per population, the mean over its agents of final equity minus starting equity, in
            ticks x lots (marked as the env marks it).
        mean_abs_inventory: per population, the mean over its agents and the steps of
            ``|inventory - starting inventory|`` after each step, in lots: how much risk it carried.
        final_inventory: per population, the mean over its agents of the inventory left at the end
            minus the starting inventory, in lots.
        quoted_spread: per maker population, the mean over its agents of their own quoted spread (ask
            minus bid, in ticks) over the steps they quoted both sides; NaN for one that never did.
            Unlike ``mean_spread`` it needs no book: it is what the makers asked.
        execution: per executor population, the means over its agents of: ``shortfall_bps``, the
            implementation shortfall against the arrival mid in basis points of the parent order
            (minus the sum of its rewards: fees and the charge for lots left unfilled included);
            ``fill_completion``, the share of the parent order filled by the end of the horizon;
            ``impact_bps``, the mid's move from arrival to the end of the horizon, in the order's
            direction, in bps of the arrival mid; ``reversion_bps``, how much of that move the mid
            gave back by the end of the episode, in the same units (positive: it came back).
        schedules: per executor population, the share of its parent orders still to execute after
            each step (the mean over its agents): its schedule, 1 at the start.
        flows: who profits from whom (:class:`market.analysis.FlowResult`): fill markouts, fees and
            taxes as integer transfers between accounts, and each population's P&L parts; ``None``
            when the episode was not analyzed.
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
    pnl: Mapping[str, float] = field(default_factory=dict)
    mean_abs_inventory: Mapping[str, float] = field(default_factory=dict)
    final_inventory: Mapping[str, float] = field(default_factory=dict)
    quoted_spread: Mapping[str, float] = field(default_factory=dict)
    execution: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    schedules: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    flows: FlowResult | None = None

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


class SummaryCollector:
    """Gathers what a :class:`MarketRunSummary` needs while an episode plays, and computes it at the end.

    Its flows (who profits from whom) come from a :class:`market.analysis.FlowObserver` it tells of
    every event; :attr:`flows` holds them after ``finish``.
    """

    def __init__(self) -> None:
        self._flows = FlowObserver()

    @property
    def flows(self) -> FlowResult | None:
        """The episode's flows, once it has finished."""
        return self._flows.result

    def start(self, env: MarketEnv) -> None:
        """Start from the mid at reset; count the first step as halted if the env begins halted."""
        self._flows.start(env)
        self._mids = [env.mid]
        self._volumes: list[int] = []
        self._spreads: list[int] = []
        self._depths: list[int] = []
        self._trades = 0
        self._halted_steps = int(env.halted)
        # the fills whose resting order was an agent's (not the dealer's), for spread capture
        self._maker_index = {agent: i for i, agent in enumerate(env.all_agents)}
        self._makers: list[int] = []
        self._prices: list[float] = []
        self._qtys: list[int] = []
        self._taker_buys: list[bool] = []
        self._mids_before: list[float] = []
        # every agent's |inventory - start|, summed over the steps
        self._inventory_start = env.starting_inventory
        self._abs_inventory = np.zeros(len(env.all_agents))
        # each agent's quoted spread (ask - bid) summed over the steps it quoted both sides, and those steps
        self._quoted = np.zeros(len(env.all_agents))
        self._quoting_steps = np.zeros(len(env.all_agents))
        self._reward_sum = np.zeros(len(env.all_agents))
        self._executors = {
            p.name: (np.array([self._maker_index[a] for a in p.agent_names()]), p.execution) for p in env.config.populations if p.execution is not None
        }
        self._schedules: dict[str, list[float]] = {name: [] for name in self._executors}

    def observe(self, step: int, env: MarketEnv) -> None:
        """Keep the step's mid, volume, spread and depth, and the makers' fills against the mid before it."""
        self._flows.observe(step, env)
        fills = env.last_fills
        mid_before = self._mids[-1]
        for fill in fills:
            maker = self._maker_index.get(fill.maker)
            if maker is not None:
                self._makers.append(maker)
                self._prices.append(fill.price)
                self._qtys.append(fill.qty)
                self._taker_buys.append(fill.taker_side is Side.BUY)
                self._mids_before.append(mid_before)
        self._mids.append(env.mid)
        self._volumes.append(sum(fill.qty for fill in fills))
        book = env.exchange.book
        depth = book.depth(DEPTH_LEVELS)
        self._depths.append(sum(qty for _, qty in depth.bids) + sum(qty for _, qty in depth.asks))
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None:
            self._spreads.append(ask[0] - bid[0])
        self._trades += len(fills)
        agents, last_orders = env.all_agents, env.last_orders
        for i in np.flatnonzero(env.orders_sent() == 2).tolist():  # the senders of two orders only, not every agent
            orders = last_orders[agents[i]]
            if orders[0][0] is not orders[1][0]:  # a two-sided quote
                self._quoted[i] += abs(orders[1][1] - orders[0][1])
                self._quoting_steps[i] += 1
        _, inventory, _, rewards = env.account_arrays()
        self._abs_inventory += np.abs(inventory - self._inventory_start)
        self._reward_sum += rewards
        for name, (rows, order) in self._executors.items():
            executed = (inventory[rows] - self._inventory_start[rows]) * order.sign
            self._schedules[name].append(float(np.mean(1.0 - executed / order.quantity)))
        if env.agents:  # a step is halted when the env was halted as it began
            self._halted_steps += env.halted

    def finish(self, env: MarketEnv) -> None:
        """Keep the final equity and inventory of every agent; analyze the flows."""
        self._flows.finish(env)
        _, self._inventory, self._equity, _ = env.account_arrays()
        self._env = env

    def summary(self) -> MarketRunSummary:
        """The episode's figures: returns by population, spread capture, the mid's drawdown and facts."""
        env, config = self._env, self._env.config
        agents = env.all_agents
        index = self._maker_index

        def by_population(values: np.ndarray) -> dict[str, float]:
            return {p.name: float(np.mean([values[index[a]] for a in p.agent_names()])) for p in config.populations}

        # 1. returns by population, marked at the final mid, against each agent's own starting equity
        start = env.starting_equity
        mean_return = by_population(self._equity / start - 1.0)
        # 2. spread capture: each maker's edge against the mid before its fills, summed in fill order
        captured = np.zeros(len(agents))
        edges = stats.maker_edges(self._prices, self._qtys, self._taker_buys, self._mids_before)
        np.add.at(captured, np.asarray(self._makers, dtype=np.intp), edges)
        spread_capture = {
            p.name: float(np.mean([captured[self._maker_index[a]] for a in p.agent_names()])) for p in config.populations
        }
        # 3. money and inventory by population: P&L, the inventory carried and the inventory left
        steps = max(1, len(self._volumes))
        pnl = by_population(self._equity - start)
        mean_abs_inventory = by_population(self._abs_inventory / steps)
        final_inventory = by_population(self._inventory - self._inventory_start)
        quoting = self._quoting_steps
        quoted = np.divide(self._quoted, quoting, out=np.full(len(quoting), np.nan), where=quoting > 0)
        quoted_spread = {  # makers, over the agents that quoted both sides at least once
            p.name: float(np.nanmean(values)) if np.isfinite(values := quoted[[index[a] for a in p.agent_names()]]).any() else float("nan")
            for p in config.populations
            if p.role is Role.MAKER
        }
        # 4. the mid: its distance from the fundamental, its drawdown, and its returns' stylized facts
        path = np.asarray(self._mids)
        fundamental = np.asarray(config.fundamental[1 : len(path)], dtype=np.float64)  # the value after each step
        gaps = tuple(np.abs(np.log(path[1 : 1 + len(fundamental)] / fundamental)).tolist())
        volumes = self._volumes
        facts = mid_facts(path, np.asarray(volumes, dtype=np.float64))
        execution = {p.name: self._execution(p, path) for p in config.populations if p.execution is not None}
        return MarketRunSummary(
            steps=len(volumes),
            trades=self._trades,
            volume=int(sum(volumes)),
            initial_mid=float(path[0]),
            mean_spread=float(np.mean(self._spreads)) if self._spreads else float("nan"),
            final_mid=float(path[-1]),
            mean_return=mean_return,
            facts=facts,
            spread_capture=spread_capture,
            halted_steps=self._halted_steps,
            mean_depth=float(np.mean(self._depths)) if self._depths else 0.0,
            min_depth=min(self._depths, default=0),
            max_drawdown=stats.path_max_drawdown(path),
            fundamental_gaps=gaps,
            pnl=pnl,
            mean_abs_inventory=mean_abs_inventory,
            final_inventory=final_inventory,
            quoted_spread=quoted_spread,
            execution=execution,
            schedules={name: tuple(values) for name, values in self._schedules.items()},
            flows=self._flows.result,
        )

    def _execution(self, population: Any, path: np.ndarray) -> dict[str, float]:
        """An executor population's shortfall, fill completion, impact and reversion (see :class:`MarketRunSummary`)."""
        order = population.execution
        rows = [self._maker_index[a] for a in population.agent_names()]
        executed = (self._inventory[rows] - self._inventory_start[rows]) * order.sign
        arrival = float(path[0])
        at_horizon = float(path[min(order.horizon, len(path) - 1)])
        bps = 1e4 / arrival * order.sign
        return {
            "shortfall_bps": float(-np.mean(self._reward_sum[rows])),
            "fill_completion": float(np.mean(np.minimum(executed / order.quantity, 1.0))),
            "impact_bps": (at_horizon - arrival) * bps,
            "reversion_bps": (at_horizon - float(path[-1])) * bps,
        }


def mid_facts(mids: np.ndarray, volumes: np.ndarray | None, steps_per_bar: int = 1) -> dict[str, float]:
    """Stylized facts of a mid path's log returns per bar, with the volume traded in each bar.

    Args:
        mids: the mid at the start and after every step.
        volumes: the lots traded in each step (one fewer than ``mids``), or ``None`` for facts without volume.
        steps_per_bar: steps in a bar: the mid is taken every ``steps_per_bar`` steps from the first,
            and a bar's volume is its steps' sum (a last, incomplete bar is left out).

    Returns:
        :func:`market.data.facts.stylized_facts` of the bars, or nothing with fewer than
        :data:`market.data.facts.MIN_RETURNS` bars.
    """
    sampled = np.asarray(mids, dtype=np.float64)[::steps_per_bar]
    bars = len(sampled) - 1
    if bars < MIN_RETURNS:
        return {}
    per_bar = None if volumes is None else np.asarray(volumes, dtype=np.float64)[: bars * steps_per_bar].reshape(bars, steps_per_bar).sum(axis=1)
    return stylized_facts(np.diff(np.log(sampled)), per_bar)
