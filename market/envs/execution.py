"""The executor role of the market env: a parent order worked through child orders within a horizon.

An executor population's agents each get one parent order (:class:`ExecutionConfig`): buy or sell
``quantity`` lots within ``horizon`` steps from the start. Each step, within the horizon, its action
``[size, aggressiveness]`` in [-1, 1] becomes one child order:

* ``size`` sets the child's lots as a multiple of the *even pace* of what is left: with ``R`` lots to go
  and ``n`` steps left, the pace is ``R / n`` lots a step and the child is
  ``floor(max_pace ** size * R / n + 1/2)`` lots. ``size = 0`` keeps the straight-line pace (TWAP),
  ``size = 1`` trades ``max_pace`` times it (all of it at once with the default ``max_pace = horizon``),
  ``size = -1`` trades ``1 / max_pace`` of it (nothing, once the pace is below ``max_pace / 2`` lots).
* ``aggressiveness`` sets the limit price ``round(x * max_offset)`` ticks from the mid toward the other
  side (positive crosses the spread, negative rests passively), where ``x`` is the aggressiveness moved
  to the order's ``aggression_center`` ``c``: ``x = c + a (1 - c)`` for ``a >= 0`` and ``x = c + a (1 + c)``
  for ``a < 0`` (:func:`aggression_of`), so ``a = 0`` is ``c`` and the whole of [-1, 1] stays reachable.
  With the default ``c = 0`` it is the taker's mapping; with ``c`` at TWAP's aggressiveness the zero
  action is TWAP exactly, and a learner starts from it and learns deviations (residual learning).

Over-execution is impossible by construction: a child never exceeds the lots left less the lots still
resting from earlier children (which may yet fill before this step's turn cancels them). At the last
step of the horizon the env sends the whole remainder as a sweep, ``sweep_offset`` ticks through the mid;
whatever even that leaves unfilled is charged, in the reward and the shortfall, as if it had filled at
the sweep's limit price (and fill completion reports it as unfilled). After the horizon the executor
sends nothing.

The reward, per step, is the execution P&L against the arrival mid ``S0`` (the mid at the start), in
basis points of the parent order's value: ``(change in cash + S0 * change in inventory) / (quantity * S0)
* 1e4``. It counts fees and taxes (they are in the cash), and for a fully executed order its sum over
the episode is minus the implementation shortfall. Four features join the executor's observation
(:data:`EXECUTION_FEATURES`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from market.errors import ConfigError

__all__ = ["EXECUTION_FEATURES", "BPS", "ExecutionConfig", "ExecutionDesk", "ParentSide", "aggression_action", "aggression_of", "pace_lots"]

BPS = 1e4
"""Basis points per unit."""

EXECUTION_FEATURES = ("remaining", "horizon_left", "schedule_gap", "price_gap")
"""The features an executor's observation adds after the shared ones, by index:

``remaining``: lots left over the parent quantity, in [0, 1]. ``horizon_left``: steps left in the
horizon over the horizon, in [0, 1] (0 after it). ``schedule_gap``: the share executed minus the share
a straight line would have executed by now (positive: ahead of schedule). ``price_gap``: the average
execution price against the arrival mid, in percent, signed so that positive is worse (paid more when
buying, received less when selling); 0 before the first fill."""


def aggression_of(action: float | np.ndarray, center: float | np.ndarray) -> float | np.ndarray:
    """The aggressiveness in [-1, 1] that the action's ``action`` in [-1, 1] asks for, around ``center``
    (elementwise over arrays): ``center + action * (1 - center)`` for ``action >= 0``, ``center + action * (1 + center)`` below.

    >>> aggression_of(np.array([0.0, 1.0, -1.0, -0.5]), 0.5).tolist()
    [0.5, 1.0, -1.0, -0.25]
    """
    return center + action * (1.0 - center * np.sign(action))  # the sign of a zero action makes no difference


def pace_lots(log_pace: float | np.ndarray, size: float | np.ndarray, left: float | np.ndarray, steps_left: float | np.ndarray) -> float | np.ndarray:
    """A child's lots before any cap, ``floor(max_pace ** size * left / steps_left + 1/2)`` (elementwise over arrays),
    from ``log_pace = log(max_pace)``; numpy's ``exp`` for one number and for many, so both give the same lots.

    >>> float(pace_lots(math.log(30.0), 0.0, 120.0, 30))
    4.0
    """
    return np.floor(np.exp(log_pace * size) * left / steps_left + 0.5)


def aggression_action(aggression: np.ndarray, center: float) -> np.ndarray:
    """The actions that ask for ``aggression`` around ``center``: the inverse of :func:`aggression_of`.

    >>> aggression_action(np.array([0.5, -0.25]), 0.5).tolist(), aggression_action(np.array([0.3]), 0.0).tolist()
    ([0.0, -0.5], [0.3])
    """
    a = np.minimum(1.0, np.maximum(-1.0, aggression))
    return (a - center) / np.where(a >= center, 1.0 - center, 1.0 + center)


class ParentSide(StrEnum):
    """Which way the parent order trades."""

    BUY = "buy"
    SELL = "sell"


def _require(condition: bool, key: str, expected: str, value: Any) -> None:
    if not condition:
        raise ConfigError(f"{key}: expected {expected}, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionConfig:
    """The parent order of each agent of an executor population.

    Attributes:
        side: ``buy`` or ``sell``.
        quantity: lots to trade, at least 1.
        horizon: steps to trade them in, from the start of the episode, at least 1 (and at most the
            market's ``max_steps``).
        max_pace: the largest child as a multiple of the even pace (the ``size`` action's range);
            None for ``horizon`` (``size = 1`` then sends everything left).
        sweep_offset: how far through the mid, in ticks, the last step's sweep of the remainder may go;
            None for ten times the population's ``max_offset``.
        aggression_center: the aggressiveness the action's zero asks for, in (-1, 1) (see the module).
    """

    side: ParentSide
    quantity: int
    horizon: int
    max_pace: float | None = None
    sweep_offset: int | None = None
    aggression_center: float = 0.0

    def __post_init__(self) -> None:
        _require(self.side in tuple(ParentSide), "execution.side", f"one of {[s.value for s in ParentSide]}", self.side)
        object.__setattr__(self, "side", ParentSide(self.side))
        _require(type(self.quantity) is int and self.quantity >= 1, "execution.quantity", "a positive integer number of lots", self.quantity)
        _require(type(self.horizon) is int and self.horizon >= 1, "execution.horizon", "a positive integer number of steps (T >= 1)", self.horizon)
        pace = self.max_pace
        _require(pace is None or (type(pace) in (int, float) and math.isfinite(pace) and pace > 1), "execution.max_pace", "a number above 1", pace)
        sweep = self.sweep_offset
        _require(sweep is None or (type(sweep) is int and sweep >= 1), "execution.sweep_offset", "a positive integer number of ticks", sweep)
        center = self.aggression_center
        _require(type(center) in (int, float) and -1.0 < center < 1.0, "execution.aggression_center", "a number in (-1, 1)", center)
        object.__setattr__(self, "aggression_center", float(center))

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self.side is ParentSide.BUY else -1

    @property
    def pace_range(self) -> float:
        """``max_pace``, or the horizon when it is not set."""
        return float(self.max_pace) if self.max_pace is not None else float(max(self.horizon, 2))


class ExecutionDesk:
    """The parent orders of every executor in one market env: child orders, rewards and features.

    The env holds one desk; :meth:`start` opens each episode. Rows are the executors' indices among all
    the env's agents; arrays are indexed by executor (in the order given).

    Args:
        rows: each executor's row in the env's agent order.
        configs: each executor's parent order.
        max_offsets: each executor's population ``max_offset``.
        start_inventory: each executor's starting inventory.
    """

    def __init__(self, rows: list[int], configs: list[ExecutionConfig], max_offsets: list[int], start_inventory: list[float]) -> None:
        self.rows = np.asarray(rows, dtype=np.intp)
        self.configs = configs
        self.slot = {row: k for k, row in enumerate(rows)}
        self._slot_of_row = np.full(max(rows, default=-1) + 1, -1, dtype=np.intp)
        self._slot_of_row[self.rows] = np.arange(len(rows))
        self.quantity = np.array([c.quantity for c in configs], dtype=np.float64)
        self.horizon = np.array([c.horizon for c in configs], dtype=np.int64)
        self.sign = np.array([c.sign for c in configs], dtype=np.float64)
        self._side = np.array([c.sign for c in configs], dtype=np.int64)
        self.log_pace = np.array([math.log(c.pace_range) for c in configs], dtype=np.float64)
        self.max_offset = np.array(max_offsets, dtype=np.int64)
        self.sweep = np.array([c.sweep_offset if c.sweep_offset is not None else 10 * m for c, m in zip(configs, max_offsets)], dtype=np.int64)
        self.start_inventory = np.asarray(start_inventory, dtype=np.float64)
        self.center = np.array([c.aggression_center for c in configs], dtype=np.float64)

    def start(self, arrival_mid: float) -> None:
        """A new episode: every parent order arrives now, at ``arrival_mid``; nothing is charged yet."""
        self.arrival = float(arrival_mid)
        self.charged = np.zeros(len(self.rows))  # lots the last sweep left unfilled, charged at its limit
        self.charge_price = np.zeros(len(self.rows))

    def executed(self, inventory: np.ndarray) -> np.ndarray:
        """Lots executed so far by each executor (its inventory moved its own way), from all agents' inventories."""
        return (inventory[self.rows] - self.start_inventory) * self.sign

    def child(self, row: int, size: float, aggression: float, *, reference: int, step: int, inventory: float, resting: int, tick: int) -> tuple[int, int, int] | None:
        """The child order of one executor this step, as ``(sign, limit price, lots)``, or None.

        Args:
            row: the executor's row among the env's agents.
            size, aggression: its action.
            reference: the mid in ticks, rounded.
            step: the step about to be played (0 first).
            inventory: its inventory now.
            resting: lots of its earlier children still resting in the book.
            tick: the market's tick size.
        """
        k = self.slot[row]
        steps_left = int(self.horizon[k]) - step
        if steps_left <= 0:
            return None
        sign = int(self._side[k])
        left = self.quantity[k] - (inventory - self.start_inventory[k]) * sign
        room = int(left) - resting
        if room <= 0:
            return None
        if steps_left == 1:  # the last step: sweep the remainder through the mid
            qty, offset = room, int(self.sweep[k])
        else:
            qty = min(room, int(pace_lots(self.log_pace[k], size, left, steps_left)))
            offset = round(float(aggression_of(aggression, self.center[k])) * int(self.max_offset[k]))
        if qty <= 0:
            return None
        if sign > 0:
            return sign, max(tick, (reference + offset) // tick * tick), qty
        return sign, max(tick, -(-(reference - offset) // tick) * tick), qty

    def children(
        self, rows: np.ndarray, size: np.ndarray, aggression: np.ndarray, *, reference: int, step: int, inventory: np.ndarray, resting: np.ndarray, tick: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`child` of many executors at once, row by row the same orders.

        Args:
            rows: the executors' rows among the env's agents.
            size, aggression: their actions' two components, as float64.
            reference, step, tick: as for :meth:`child`.
            inventory: their inventories now.
            resting: lots of their earlier children still resting in the book.

        Returns:
            The positions in ``rows`` of the executors that send a child, and each child's sign (+1 to buy,
            -1 to sell), limit price in ticks and lots.
        """
        k = self._slot_of_row[rows]
        # 1. what is left: the steps, the lots of the parent order, and those lots less the ones still resting
        steps_left = self.horizon[k] - step
        left = self.quantity[k] - (inventory - self.start_inventory[k]) * self.sign[k]
        room = left.astype(np.int64) - resting
        # 2. the child's lots and distance through the mid: the pace's multiple, capped by the room, at the
        # action's aggressiveness; at the last step the whole room at the sweep's distance
        last = steps_left == 1
        qty = np.where(last, room, np.minimum(room, pace_lots(self.log_pace[k], size, left, np.maximum(steps_left, 1)))).astype(np.int64)
        offset = np.where(last, self.sweep[k], np.rint(aggression_of(aggression, self.center[k]) * self.max_offset[k])).astype(np.int64)
        # 3. who sends one (nothing after the horizon, nothing without lots), at a limit price on the tick grid
        sending = np.flatnonzero((steps_left > 0) & (qty > 0))
        sign, offset = self._side[k[sending]], offset[sending]
        buy_price = np.maximum(tick, (reference + offset) // tick * tick)
        sell_price = np.maximum(tick, -(-(reference - offset) // tick) * tick)
        return sending, sign, np.where(sign > 0, buy_price, sell_price), qty[sending]

    def close_horizon(self, step: int, inventory: np.ndarray, reference: float) -> None:
        """After step ``step``: an executor whose horizon ended with lots unfilled is charged for them at its sweep's limit."""
        ending = np.flatnonzero(self.horizon - 1 == step)
        if not ending.size:
            return
        left = self.quantity[ending] - (inventory[self.rows[ending]] - self.start_inventory[ending]) * self.sign[ending]
        short = left > 0
        ending = ending[short]
        self.charged[ending] = left[short]
        self.charge_price[ending] = reference + self.sign[ending] * self.sweep[ending]

    def rewards(self, cash_change: np.ndarray, inventory_change: np.ndarray, step: int) -> np.ndarray:
        """Each executor's reward for the step just played: its execution P&L against the arrival mid in bps
        of its parent order, less, at the end of its horizon, the charge for lots left unfilled."""
        s0 = self.arrival
        saving = cash_change[self.rows] + s0 * inventory_change[self.rows]
        ended = self.horizon - 1 == step
        saving -= np.where(ended, self.charged * (self.charge_price - s0) * self.sign, 0.0)
        return saving / (self.quantity * s0) * BPS

    def features(self, step: int, inventory: np.ndarray, cash: np.ndarray, start_cash: float) -> np.ndarray:
        """The executors' extra observation features (:data:`EXECUTION_FEATURES`), shape ``(executors, 4)``."""
        executed = self.executed(inventory)
        share = executed / self.quantity
        elapsed = np.minimum(step, self.horizon) / self.horizon
        spent = (start_cash - cash[self.rows]) * self.sign  # cash paid for a buy, received (negative) for a sell
        average = np.divide(spent, executed, out=np.full(len(self.rows), self.arrival), where=executed > 0)
        price_gap = (average / self.arrival - 1.0) * self.sign * 100.0
        return np.column_stack((1.0 - share, 1.0 - elapsed, share - elapsed, price_gap))
