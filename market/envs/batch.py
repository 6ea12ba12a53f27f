"""The market env's batch path: a driven population decides, and its actions become orders, in a few numpy calls.

A population driven inside the env whose policy is a :class:`~market.envs.policy.BatchPolicy` is a
:class:`BatchPopulation`: each step the env hands the policy the observation rows of its live agents
and their uniforms (:class:`UniformBlocks`), takes back one action matrix, and turns it into orders
with :func:`decode_takers`, :func:`decode_makers` or, for executors, :func:`decode_executors` (the
desk's :meth:`~market.envs.execution.ExecutionDesk.children`). Idle agents cost no Python work: only the agents
that send an order get a Python list of orders, and the step's records of what every agent did
(``last_actions``, ``last_orders``) are :class:`StepRecord` views that look actions up on demand.

Everything here reproduces the per-agent path exactly (same streams, same orders, same arrival):

* an agent's uniforms are drawn ahead from its own generator in blocks of :data:`BLOCK` steps
  (``rng.random(k * BLOCK)`` gives the same numbers as ``BLOCK`` calls of ``rng.random(k)``);
* the decoders do the float64 arithmetic of :meth:`MarketEnv._decode <market.envs.market_v0.MarketEnv._decode>`
  in the same order, with ``np.rint`` for Python's ``round`` (both round half to even).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from market.envs.execution import ExecutionDesk
from market.envs.market_config import (
    EXECUTOR_ACTION_DIM,
    EXECUTOR_AGGRESSION,
    EXECUTOR_SIZE,
    MAKER_ACTION_DIM,
    MAKER_ASK_OFFSET,
    MAKER_BID_OFFSET,
    MAKER_SIZE,
    TAKER_ACTION_DIM,
    TAKER_AGGRESSION,
    TAKER_SIZE,
    Role,
)
from market.envs.policy import BatchPolicy
from market.errors import ActionError
from market.exchange.types import Side

__all__ = ["BATCH_MIN", "BLOCK", "BatchPopulation", "OrderArrays", "StepRecord", "UniformBlocks", "decode_executors", "decode_makers", "decode_takers"]

BLOCK = 64
"""Steps of uniforms drawn ahead from each agent's stream at a time."""

BATCH_MIN = 16
"""The smallest population that decides in one call by default. A batch call costs 40 to 100 us
whatever its size (a few dozen numpy operations on tiny arrays) where ``act`` costs 3 to 25 us an
agent, so smaller populations are faster agent by agent; both ways give the same orders."""

Order = tuple[Side, int, int]
_ACTION_DIMS = {Role.TAKER: TAKER_ACTION_DIM, Role.MAKER: MAKER_ACTION_DIM, Role.EXECUTOR: EXECUTOR_ACTION_DIM}


class UniformBlocks:
    """The uniforms each agent of a population draws per step, drawn ahead from each agent's own stream.

    Row ``i`` of :meth:`take` is what ``rngs[i].random(k)`` would return at this step. Every agent of
    the population draws every step (the per-agent path calls ``act`` for every live agent), so one
    position serves them all; an agent that left keeps being drawn for, harmlessly (its stream is used
    by no one else). A refill costs one generator call per agent every :data:`BLOCK` steps.
    """

    def __init__(self, rngs: Sequence[np.random.Generator], k: int) -> None:
        self._rngs, self._k = list(rngs), k
        self._buffer = np.empty((len(self._rngs), BLOCK, k))
        self._next = BLOCK

    def take(self, rows: np.ndarray) -> np.ndarray:
        """This step's ``(len(rows), k)`` uniforms of the agents at positions ``rows`` of the population."""
        if self._k == 0:
            return np.empty((len(rows), 0))
        if self._next == BLOCK:
            buffer, size = self._buffer, BLOCK * self._k
            for i, rng in enumerate(self._rngs):
                buffer[i] = rng.random(size).reshape(BLOCK, self._k)
            self._next = 0
        step = self._buffer[rows, self._next]
        self._next += 1
        return step


def _check(actions: Any, n: int, dim: int, names: Sequence[str]) -> np.ndarray:
    """The population's actions as float32 ``(n, dim)`` in [-1, 1], or an ActionError naming the first bad agent."""
    a = np.asarray(actions, dtype=np.float32) if not (type(actions) is np.ndarray and actions.dtype == np.float32) else actions
    if a.shape != (n, dim):
        raise ActionError(f"batch actions of {names[0] if names else '?'}..: expected shape ({n}, {dim}), got {a.shape}")
    ok = (a >= -1.0) & (a <= 1.0)
    if not ok.all():
        row = int(np.flatnonzero(~ok.all(axis=1))[0])
        raise ActionError(f"action for {names[row]}: expected {dim} numbers in [-1, 1], got {a[row]!r} (an action is an array of shape ({dim},))")
    return a


_SIDES = (Side.BUY, Side.SELL)


@dataclass(frozen=True)
class OrderArrays:
    """The orders of the agents that send: row ``i`` of ``(n, k)`` int64 ``sides`` (0 buy, 1 sell),
    ``prices`` (ticks) and ``qtys`` (lots) is one agent's ``k`` orders, in the order it sends them."""

    sides: np.ndarray
    prices: np.ndarray
    qtys: np.ndarray

    def lists(self) -> list[list[Order]]:
        """Each agent's orders as the per-agent path's list of ``(Side, price, qty)``."""
        rows = zip(self.sides.tolist(), self.prices.tolist(), self.qtys.tolist())
        return [[(_SIDES[side], price, qty) for side, price, qty in zip(*row)] for row in rows]


_NONE = OrderArrays(*(np.empty((0, 1), dtype=np.int64) for _ in range(3)))


def decode_takers(actions: np.ndarray, *, max_qty: int, max_offset: int, reference: int, tick: int) -> tuple[np.ndarray, OrderArrays]:
    """Taker actions ``(N, 2)`` to orders: the rows that send one, and their orders (one each).

    Row by row :meth:`MarketEnv._decode`: ``round(size * max_qty)`` lots (none when 0) at
    ``round(aggressiveness * max_offset)`` ticks from ``reference`` toward the other side, on the tick grid.
    """
    a = actions.astype(np.float64)
    size = np.rint(a[:, TAKER_SIZE] * max_qty).astype(np.int64)
    rows = np.flatnonzero(size)
    if not rows.size:
        return rows, _NONE
    size = size[rows]
    offset = np.rint(a[rows, TAKER_AGGRESSION] * max_offset).astype(np.int64)
    buy = size > 0
    price = np.where(buy, np.maximum(tick, (reference + offset) // tick * tick), np.maximum(tick, -(-(reference - offset) // tick) * tick))
    return rows, OrderArrays((~buy).astype(np.int64)[:, None], price[:, None], np.abs(size)[:, None])


def decode_makers(
    actions: np.ndarray, *, max_qty: int, max_offset: int, min_offset: int, reference: int, tick: int
) -> tuple[np.ndarray, OrderArrays]:
    """Maker actions ``(N, 3)`` to orders: the rows that quote, and their bid and ask.

    Row by row :meth:`MarketEnv._decode`: ``(size + 1) / 2 * max_qty`` lots a side (none when 0), the
    offsets mapped from [-1, 1] onto ``[min_offset, max_offset]`` ticks, bids rounded down and asks up
    to the tick grid.
    """
    a = actions.astype(np.float64)
    qty = np.rint((a[:, MAKER_SIZE] + 1.0) / 2.0 * max_qty).astype(np.int64)
    rows = np.flatnonzero(qty)
    if not rows.size:
        return rows, _NONE
    qty = qty[rows]
    span = max_offset - min_offset
    bid_offset = min_offset + np.rint((a[rows, MAKER_BID_OFFSET] + 1.0) / 2.0 * span).astype(np.int64)
    ask_offset = min_offset + np.rint((a[rows, MAKER_ASK_OFFSET] + 1.0) / 2.0 * span).astype(np.int64)
    bid = np.maximum(tick, (reference - bid_offset) // tick * tick)
    ask = -(-(reference + ask_offset) // tick) * tick
    sides = np.empty((len(rows), 2), dtype=np.int64)
    sides[:, 0], sides[:, 1] = 0, 1
    return rows, OrderArrays(sides, np.stack((bid, ask), axis=1), np.stack((qty, qty), axis=1))


def decode_executors(
    actions: np.ndarray, desk: ExecutionDesk, rows: np.ndarray, *, reference: int, step: int, inventory: np.ndarray, resting: np.ndarray, tick: int
) -> tuple[np.ndarray, OrderArrays]:
    """Executor actions ``(N, 2)`` to child orders: the positions in ``rows`` that send one, and their orders (one each).

    Row by row :meth:`MarketEnv._decode` (:meth:`ExecutionDesk.child`), through the desk's
    :meth:`~market.envs.execution.ExecutionDesk.children`; ``rows`` are the executors' rows in the env,
    ``inventory`` and ``resting`` their inventories and lots still resting.
    """
    a = actions.astype(np.float64)
    sending, sign, price, qty = desk.children(
        rows, a[:, EXECUTOR_SIZE], a[:, EXECUTOR_AGGRESSION], reference=reference, step=step, inventory=inventory, resting=resting, tick=tick
    )
    if not len(sending):
        return sending, _NONE
    return sending, OrderArrays((np.asarray(sign) < 0).astype(np.int64)[:, None], np.asarray(price, dtype=np.int64)[:, None], np.asarray(qty, dtype=np.int64)[:, None])


@dataclass(eq=False)
class BatchPopulation:
    """A driven population that decides in one call: its agents' rows in the env, its policy, its streams.

    Attributes:
        names: the agents' names, in the env's order.
        rows: their rows in the env's arrays (ascending).
        policy: the population's batch policy.
        role: maker, taker or executor.
        max_qty, max_offset, min_offset: the population's order limits.
        live: positions (in ``rows``) of the agents still live.
        uniforms: their streams' uniforms, set at each reset.
        acted_rows: the env rows that acted in the last step, and ``actions`` what they did.
    """

    names: list[str]
    rows: np.ndarray
    policy: BatchPolicy
    role: Role
    max_qty: int
    max_offset: int
    min_offset: int
    live: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    uniforms: UniformBlocks | None = None
    acted_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    actions: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=np.float32))

    def start(self, rngs: Sequence[np.random.Generator]) -> None:
        """A new episode: every agent live, fresh streams, nothing acted yet."""
        self.live = np.arange(len(self.rows))
        self.uniforms = UniformBlocks(rngs, self.policy.uniforms_per_step)
        self.acted_rows = np.empty(0, dtype=np.int64)

    def decide(self, obs: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Decide for the live agents in one call, from the first ``width`` columns of their observation rows:
        their env rows and their checked actions (kept as what they did this step)."""
        assert self.uniforms is not None
        live = self.live
        rows = self.rows[live]
        names = self.names
        actions = _check(self.policy.act_batch(obs[rows, :width], self.uniforms.take(live)), len(rows), _ACTION_DIMS[self.role], [names[k] for k in live[:1].tolist()])
        self.acted_rows, self.actions = rows, actions
        return rows, actions

    def act(self, obs: np.ndarray, width: int, reference: int, tick: int) -> tuple[np.ndarray, OrderArrays]:
        """Decide for the live makers or takers in one call and decode: the env rows that send orders, and their orders.
        (An executor population only decides, with :meth:`decide`: the env decodes its actions, knowing the parent orders' progress.)"""
        rows, actions = self.decide(obs, width)
        if self.role is Role.MAKER:
            sending, orders = decode_makers(actions, max_qty=self.max_qty, max_offset=self.max_offset, min_offset=self.min_offset, reference=reference, tick=tick)
        else:
            sending, orders = decode_takers(actions, max_qty=self.max_qty, max_offset=self.max_offset, reference=reference, tick=tick)
        return rows[sending], orders


class StepRecord(Mapping[str, Any]):
    """What every agent that acted in a step did, by name, without a dict entry per idle agent.

    Keys are the agents that acted, in the order the per-agent path records them (learners, then the
    driven agents in the env's order). A key in ``explicit`` maps to its value there; any other agent
    that acted maps to ``fallback(row)``.
    """

    def __init__(self, names: Sequence[str], index: Mapping[str, int], acted: np.ndarray, explicit: dict[str, Any], fallback: Callable[[int], Any]) -> None:
        self._names, self._index, self._acted, self._explicit, self._fallback = names, index, acted, explicit, fallback
        self._acting: np.ndarray | None = None

    def _mask(self) -> np.ndarray:
        if self._acting is None:
            self._acting = np.zeros(len(self._names), dtype=bool)
            self._acting[self._acted] = True
        return self._acting

    def __getitem__(self, agent: str) -> Any:
        value = self._explicit.get(agent, self)
        if value is not self:
            return value
        row = self._index.get(agent)
        if row is None or not self._mask()[row]:
            raise KeyError(agent)
        return self._fallback(row)

    def __contains__(self, agent: object) -> bool:
        if agent in self._explicit:
            return True
        row = self._index.get(agent)  # type: ignore[call-overload]
        return row is not None and bool(self._mask()[row])

    def __iter__(self) -> Iterator[str]:
        names = self._names
        return (names[row] for row in self._acted.tolist())

    def __len__(self) -> int:
        return len(self._acted)
