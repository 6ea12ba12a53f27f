"""Recording a market episode into a run record: every agent's state, every fill, the top of the book.

:class:`StepRecorder` is an :class:`~market.simulation.episode.EpisodeObserver`: it buffers the rows
of each step in plain lists and hands them to a :class:`~market.records.io.RunWriter` every
:data:`FLUSH_STEPS` steps and at the end, so memory stays bounded however long the episode.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from market.envs.market_v0 import MarketEnv
from market.errors import ConfigError
from market.records import schema as s
from market.records.io import RunWriter

__all__ = [
    "AGENTS_RECORDED_UP_TO",
    "FLUSH_STEPS",
    "RECORD_AGENTS",
    "RECORD_MODES",
    "RECORD_POPULATIONS",
    "StepRecorder",
    "check_record",
    "driven_count",
    "record_mode",
]

FLUSH_STEPS = 1_000
"""Steps buffered in plain lists before the rows go to the writer."""

RECORD_AGENTS = "agents"
"""Record a ``steps`` row for every agent, driven ones included."""
RECORD_POPULATIONS = "populations"
"""Record ``steps`` rows for the PettingZoo agents only, and the populations driven inside the env in
aggregate (the ``populations`` table): a row per population per step, however many agents it has."""
RECORD_MODES = (RECORD_AGENTS, RECORD_POPULATIONS)
AGENTS_RECORDED_UP_TO = 1_000
"""Market records keep every agent's rows up to this many agents and populations in aggregate above:
``market simulate`` counts all its agents (unless ``--record`` says which), a scenario's or a
training evaluation's record the agents driven inside the env (its background)."""


def check_record(record: Any, key: str = "record") -> str:
    """``record`` if it is one of :data:`RECORD_MODES`.

    Raises:
        ConfigError: naming ``key`` (``"--record"`` on the command line) and the value.
    """
    if record not in RECORD_MODES:
        raise ConfigError(f"{key}: expected one of {', '.join(RECORD_MODES)}, got {record!r}")
    return record


def record_mode(record: str | None, agents: int, key: str = "record") -> str:
    """The record mode of a market of ``agents`` counted agents: ``record`` checked, or by default
    populations above :data:`AGENTS_RECORDED_UP_TO` agents and agents otherwise."""
    if record is None:
        return RECORD_POPULATIONS if agents > AGENTS_RECORDED_UP_TO else RECORD_AGENTS
    return check_record(record, key)


def driven_count(config: Any) -> int:
    """The agents a :class:`~market.envs.market_config.MarketConfig` has the env drive (its background):
    what a scenario's or an evaluation's default record mode counts."""
    return sum(p.count for p in config.populations if not p.learner)


class StepRecorder:
    """Per-step rows of a market run, buffered and appended to a writer's ``steps``, ``trades`` and ``book`` tables.

    Rows: a ``steps`` row for every agent after every step (PettingZoo and env-driven, bankrupt ones
    included with their last values; ``step`` counts from 0, ``price`` is the mid after the step,
    ``action`` the agent's action, all NaN for an agent that did not act), a ``trades`` row per
    fill, and ``book`` rows for the top ``book_levels`` levels of each side after the step (none
    in call and impact clearing, where nothing rests).

    With ``record="populations"`` (:data:`RECORD_POPULATIONS`) only the PettingZoo agents get
    ``steps`` rows; each population driven inside the env gets one ``populations`` row per step
    instead (agents still in the market, sums of cash, position and equity, orders sent, fills taken
    part in), so that a run with 10,000 background agents writes a few rows a step, not 10,000.

    Args:
        writer: an open run writer.
        book_levels: price levels per side in each book snapshot (0 for none).
        record: :data:`RECORD_AGENTS` (every agent's rows) or :data:`RECORD_POPULATIONS`.

    Raises:
        ConfigError: a negative ``book_levels`` or an unknown ``record``.
    """

    def __init__(self, writer: RunWriter, book_levels: int = 5, record: str = RECORD_AGENTS) -> None:
        if type(book_levels) is not int or book_levels < 0:
            raise ConfigError(f"book_levels: expected a non-negative integer, got {book_levels!r}")
        self._writer = writer
        self._levels = book_levels
        self._record = check_record(record)
        self._agents: list[str] = []
        self._groups: list[tuple[str, int, int]] = []

    def start(self, env: MarketEnv) -> None:
        """Learn the env's agents and action widths, note the market's tick value; start with empty buffers."""
        self._writer.set_field(s.M_TICK_VALUE, env.config.tick_value)
        everyone = env.all_agents
        if self._record == RECORD_POPULATIONS:
            # the PettingZoo agents row by row (they are the first rows); each driven population as one block of rows
            self._agents = list(env.possible_agents)
            self._groups = []
            for population in env.config.populations:
                if not population.learner:
                    first = everyone.index(population.agent_names()[0])
                    self._groups.append((population.name, first, first + population.count))
            self._group_of = {agent: k for k, (_, first, stop) in enumerate(self._groups) for agent in everyone[first:stop]}
        else:
            self._agents = everyone
        self._rows = slice(0, len(self._agents))
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
        self._populations: dict[str, list[Any]] = {
            name: [] for name in (s.STEP, s.POPULATION, s.COUNT, s.PRICE, s.CASH, s.POSITION, s.EQUITY, s.ORDERS, s.FILLS)
        }

    def observe(self, step: int, env: MarketEnv) -> None:
        """Buffer the state after one step: every agent, every fill, the top of the book."""
        cash, position, equity, reward = env.account_arrays()
        actions = env.last_actions
        rows = self._rows
        self._steps.append(step)
        self._mids.append(env.mid)
        self._cash.append(cash[rows])
        self._position.append(position[rows])
        self._equity.append(equity[rows])
        self._reward.append(reward[rows])
        if self._groups:
            self._observe_populations(step, env, cash, position, equity)
        self._actions.append(
            np.concatenate([np.asarray(actions.get(a, self._blank[a]), dtype=np.float64) for a in self._agents])
            if self._agents
            else np.empty(0)
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

    def _observe_populations(self, step: int, env: MarketEnv, cash: np.ndarray, position: np.ndarray, equity: np.ndarray) -> None:
        """Buffer one aggregate row per driven population: read from arrays, the senders and the fills only."""
        live, orders = env.driven_live(), env.orders_sent()
        fills = [0] * len(self._groups)
        group_of = self._group_of
        for fill in env.last_fills:
            maker, taker = group_of.get(fill.maker), group_of.get(fill.taker)
            for k in {maker, taker} - {None}:
                fills[k] += 1  # type: ignore[index]
        table, mid = self._populations, env.mid
        for k, (name, first, stop) in enumerate(self._groups):
            table[s.STEP].append(step)
            table[s.POPULATION].append(name)
            table[s.COUNT].append(int(np.count_nonzero(live[first:stop])))
            table[s.PRICE].append(mid)
            table[s.CASH].append(float(cash[first:stop].sum()))
            table[s.POSITION].append(float(position[first:stop].sum()))
            table[s.EQUITY].append(float(equity[first:stop].sum()))
            table[s.ORDERS].append(int(orders[first:stop].sum()))
            table[s.FILLS].append(fills[k])

    def finish(self, env: MarketEnv) -> None:
        """Hand the last buffered rows to the writer."""
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
        if self._record == RECORD_POPULATIONS:
            self._writer.append(s.POPULATIONS, self._populations)
        self._clear()
