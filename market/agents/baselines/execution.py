"""Execution baselines: TWAP, passive, all-at-once and Almgren-Chriss executors for the market env.

Each is a scripted policy of the executor role (:mod:`market.envs.execution`): it reads its parent
order's progress from the executor features of its observation and answers with
``[size, aggressiveness]``, where ``size`` is the child as a multiple ``max_pace ** size`` of the even
pace of what is left. :func:`executor_action` encodes a wanted multiple.

* ``twap``: the even pace of what is left each step (equal slices; a step that fell short is made up
  over the steps after it), sent ``aggression`` through the mid.
* ``passive``: the even pace resting at the touch (half the spread below the mid for a buy), so it
  earns the spread when filled; whatever has not filled by the last step is swept by the env.
* ``all_at_once``: everything at the first step, ``aggression`` through the mid (a market order).
* ``almgren_chriss``: the closed-form trajectory of Almgren and Chriss (2000), "Optimal execution of
  portfolio transactions", J. Risk 3(2), for risk aversion ``risk_aversion``, temporary impact ``eta``,
  permanent impact ``gamma`` and volatility ``sigma``: holdings after step ``j`` of ``T`` are
  ``X * sinh(kappa * (T - j)) / sinh(kappa * T)``, with ``kappa`` from
  ``2 * (cosh(kappa) - 1) = risk_aversion * sigma**2 / (eta - gamma / 2)`` (one step of model time; their
  eq. 18, with ``tau = 1``). As the risk aversion goes to 0 it tends to the straight line (TWAP); a
  larger one trades more at the start. Units: ticks, lots and steps (``eta`` ticks of price concession
  per lot traded in a step, ``gamma`` ticks of permanent move per lot, ``sigma`` ticks per square root
  of a step, ``risk_aversion`` per tick x lot). :func:`market.execution_impact.estimate_impact` measures
  ``eta``, ``gamma`` and ``sigma`` in a scenario's market.

>>> [round(x, 3) for x in almgren_chriss_holdings(10, 4, risk_aversion=0.0, sigma=1.0, eta=1.0, gamma=0.0)]
[10.0, 7.5, 5.0, 2.5, 0.0]
>>> h = almgren_chriss_holdings(10, 4, risk_aversion=1.0, sigma=1.0, eta=1.0, gamma=0.0)
>>> h[0], h[-1], h[1] < 7.5
(10.0, 0.0, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from market.agents.scripting import ParamError, ScriptedTrader, check_integer, check_number
from market.envs.execution import aggression_action
from market.envs.market_config import EXECUTOR_ACTION_DIM, EXECUTOR_AGGRESSION, EXECUTOR_SIZE, OBS_BOUND, Role, observation_index

__all__ = [
    "AllAtOnceExecutor",
    "AlmgrenChrissExecutor",
    "ExecutorParams",
    "AlmgrenChrissParams",
    "PassiveExecutor",
    "TWAPExecutor",
    "almgren_chriss_holdings",
    "almgren_chriss_kappa",
    "executor_action",
    "executor_actions",
]


def executor_actions(pace_multiple: np.ndarray, aggression: np.ndarray, max_pace: float, center: float = 0.0) -> np.ndarray:
    """The ``(N, 2)`` float32 executor actions that ask for ``pace_multiple`` times the even pace at ``aggression``, row by row.

    A multiple of 0 (or below ``1 / max_pace``) gives ``size = -1``, the smallest child (nothing once
    the pace is below ``max_pace / 2`` lots); one above ``max_pace`` gives ``size = 1``. ``center`` is the
    parent order's ``aggression_center`` (the aggressiveness the action's zero asks for).
    """
    multiple = np.ascontiguousarray(pace_multiple, dtype=np.float64)  # numpy's own log loop for every row, one or many
    trading = multiple > 0.0
    size = np.divide(np.log(multiple, out=np.zeros_like(multiple), where=trading), math.log(max_pace), out=np.full_like(multiple, -1.0), where=trading)
    actions = np.empty((len(multiple), EXECUTOR_ACTION_DIM), dtype=np.float32)
    actions[:, EXECUTOR_SIZE] = np.minimum(1.0, np.maximum(-1.0, size))
    actions[:, EXECUTOR_AGGRESSION] = aggression_action(np.asarray(aggression, dtype=np.float64), center)
    return actions


def executor_action(pace_multiple: float, aggression: float, max_pace: float, center: float = 0.0) -> np.ndarray:
    """The executor action that asks for ``pace_multiple`` times the even pace at ``aggression``: one row of :func:`executor_actions`."""
    return executor_actions(np.array([pace_multiple], dtype=np.float64), np.array([aggression], dtype=np.float64), max_pace, center)[0]


def almgren_chriss_kappa(*, risk_aversion: float, sigma: float, eta: float, gamma: float) -> float:
    """The trajectory's urgency ``kappa`` per step: ``2 (cosh(kappa) - 1) = risk_aversion sigma**2 / (eta - gamma / 2)``.

    Raises:
        ValueError: when ``eta <= gamma / 2`` (the problem is not convex: their condition on eta tilde).
    """
    eta_tilde = eta - gamma / 2.0
    if eta_tilde <= 0.0:
        raise ValueError(f"eta ({eta}) must exceed gamma / 2 ({gamma / 2.0}): Almgren-Chriss needs eta tilde > 0")
    kappa_tilde_sq = risk_aversion * sigma * sigma / eta_tilde
    return math.acosh(1.0 + kappa_tilde_sq / 2.0)


def almgren_chriss_holdings(quantity: float, horizon: int, *, risk_aversion: float, sigma: float, eta: float, gamma: float) -> list[float]:
    """Holdings left after each of ``0..horizon`` steps on the Almgren-Chriss trajectory (starting at ``quantity``, ending at 0)."""
    kappa = almgren_chriss_kappa(risk_aversion=risk_aversion, sigma=sigma, eta=eta, gamma=gamma)
    if kappa * horizon < 1e-9:  # no risk aversion: the straight line
        return [quantity * (1.0 - j / horizon) for j in range(horizon + 1)]
    if kappa * horizon > 700.0:  # sinh overflows: all at once
        return [quantity] + [0.0] * horizon
    scale = math.sinh(kappa * horizon)
    return [quantity * math.sinh(kappa * (horizon - j)) / scale for j in range(horizon + 1)]


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorParams:
    """What every execution baseline takes.

    Attributes:
        aggression: the child's limit price offset from the mid, as the executor action's
            aggressiveness in [-1, 1] (positive crosses the spread; ``passive`` ignores it).
        pace: the multiple of the even pace sent each step (``twap`` and ``passive``).
        max_pace: the population's ``execution.max_pace`` (filled from the population).
        quantity, horizon: the population's parent order (filled from the population).
        max_offset: the population's ``max_offset`` (filled from the population).
        aggression_center: the parent order's ``aggression_center`` (filled from the population).
    """

    aggression: float = 0.5
    pace: float = 1.0
    max_pace: float
    quantity: int
    horizon: int
    max_offset: int
    aggression_center: float = 0.0

    def __post_init__(self) -> None:
        check_number(self, "aggression", -1.0, 1.0)
        check_number(self, "pace", 0.0, math.inf, high_open=True)
        check_number(self, "max_pace", 1.0, math.inf, low_open=True, high_open=True)
        check_integer(self, "quantity", 1)
        check_integer(self, "horizon", 1)
        check_integer(self, "max_offset", 1)
        check_number(self, "aggression_center", -1.0, 1.0, low_open=True, high_open=True)


class _Executor(ScriptedTrader):
    """Reads the executor features shared by every baseline; decides for one agent (``decide``) or many (``decide_batch``)."""

    role: ClassVar[Role] = Role.EXECUTOR
    params_class: ClassVar[type] = ExecutorParams
    uniforms_per_step: ClassVar[int] = 0

    def __init__(self, params: ExecutorParams, window: int) -> None:
        super().__init__(params, window)
        self._remaining = observation_index("remaining", self.window)
        self._horizon_left = observation_index("horizon_left", self.window)
        self._spread = observation_index("spread", self.window)

    def progress(self, obs: np.ndarray) -> tuple[float, int]:
        """Lots left and the step about to be played, from the observation."""
        p = self.params
        return float(obs[self._remaining]) * p.quantity, p.horizon - round(float(obs[self._horizon_left]) * p.horizon)

    def progress_batch(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`progress` of every row: lots left and the step about to be played."""
        p = self.params
        return obs[:, self._remaining].astype(np.float64) * p.quantity, p.horizon - np.rint(obs[:, self._horizon_left].astype(np.float64) * p.horizon)

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The executor action ``[size, aggressiveness]`` for this observation (``rng`` unused: deterministic)."""
        self._check(obs)
        multiple, aggression = self.decide(obs)
        return executor_action(multiple, aggression, self.params.max_pace, self.params.aggression_center)

    def act_batch(self, obs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """:meth:`act` for a population at once (``uniforms`` has no columns: the executors draw nothing)."""
        self._check_batch(obs, uniforms, self.uniforms_per_step)
        multiple, aggression = self.decide_batch(obs)
        n = len(obs)
        return executor_actions(np.broadcast_to(multiple, n), np.broadcast_to(aggression, n), self.params.max_pace, self.params.aggression_center)

    def decide(self, obs: np.ndarray) -> tuple[float, float]:
        """The pace multiple and the aggressiveness."""
        raise NotImplementedError

    def decide_batch(self, obs: np.ndarray) -> tuple[float | np.ndarray, float | np.ndarray]:
        """:meth:`decide` of every row of ``obs`` (a number where every row gets the same)."""
        raise NotImplementedError


class TWAPExecutor(_Executor):
    """Equal slices: the even pace of what is left, ``aggression`` through the mid (catching up when behind)."""

    def decide(self, obs: np.ndarray) -> tuple[float, float]:
        return self.params.pace, self.params.aggression

    def decide_batch(self, obs: np.ndarray) -> tuple[float, float]:
        return self.params.pace, self.params.aggression


class PassiveExecutor(_Executor):
    """The even pace resting at the touch (half the book's spread from the mid); the env sweeps what is left at the end."""

    def decide(self, obs: np.ndarray) -> tuple[float, float]:
        spread = float(obs[self._spread])  # ticks over max_offset; OBS_BOUND when a side is empty
        half = spread / 2.0 if spread < OBS_BOUND else 1.0 / self.params.max_offset
        return self.params.pace, -half

    def decide_batch(self, obs: np.ndarray) -> tuple[float, np.ndarray]:
        spread = obs[:, self._spread].astype(np.float64)
        half = np.where(spread < OBS_BOUND, spread / 2.0, 1.0 / self.params.max_offset)
        return self.params.pace, -half


class AllAtOnceExecutor(_Executor):
    """Everything at once, ``aggression`` through the mid: a market order at the first step (and again while any is left)."""

    def decide(self, obs: np.ndarray) -> tuple[float, float]:
        return math.inf, self.params.aggression

    def decide_batch(self, obs: np.ndarray) -> tuple[float, float]:
        return math.inf, self.params.aggression


@dataclass(frozen=True, slots=True, kw_only=True)
class AlmgrenChrissParams(ExecutorParams):
    """The Almgren-Chriss executor's parameters (see the module's units).

    Attributes:
        risk_aversion: lambda, per tick x lot (0: the straight line).
        eta: temporary impact, ticks of concession per lot traded in one step.
        gamma: permanent impact, ticks of lasting move per lot.
        sigma: the mid's volatility, ticks per square root of a step.
    """

    risk_aversion: float = 0.0
    eta: float = 1.0
    gamma: float = 0.0
    sigma: float = 1.0

    def __post_init__(self) -> None:
        ExecutorParams.__post_init__(self)
        check_number(self, "risk_aversion", 0.0, math.inf, high_open=True)
        check_number(self, "eta", 0.0, math.inf, low_open=True, high_open=True)
        check_number(self, "gamma", 0.0, math.inf, high_open=True)
        check_number(self, "sigma", 0.0, math.inf, high_open=True)
        if self.eta <= self.gamma / 2.0:
            raise ParamError("eta", f"a temporary impact above gamma / 2 ({self.gamma / 2.0})", self.eta)


class AlmgrenChrissExecutor(_Executor):
    """Trades to the Almgren-Chriss trajectory (:func:`almgren_chriss_holdings`): each step, the lots that bring
    its holdings down to the trajectory's next point, ``aggression`` through the mid."""

    params_class: ClassVar[type] = AlmgrenChrissParams

    def __init__(self, params: AlmgrenChrissParams, window: int) -> None:
        super().__init__(params, window)
        self.holdings = almgren_chriss_holdings(
            params.quantity, params.horizon, risk_aversion=params.risk_aversion, sigma=params.sigma, eta=params.eta, gamma=params.gamma
        )
        self._holdings = np.array(self.holdings, dtype=np.float64)

    def decide(self, obs: np.ndarray) -> tuple[float, float]:
        left, step = self.progress(obs)
        p = self.params
        steps_left = p.horizon - step
        if steps_left <= 0 or left <= 0:
            return 0.0, p.aggression
        child = left - self.holdings[min(step + 1, p.horizon)]  # down to the trajectory's next point
        return max(0.0, child) / (left / steps_left), p.aggression

    def decide_batch(self, obs: np.ndarray) -> tuple[np.ndarray, float]:
        left, step = self.progress_batch(obs)
        p = self.params
        steps_left = p.horizon - step
        working = (steps_left > 0) & (left > 0)
        target = self._holdings[np.minimum(step + 1, p.horizon).astype(np.intp)]  # the trajectory's next point
        child = np.maximum(0.0, left - target)
        return np.divide(child, left / np.maximum(steps_left, 1), out=np.zeros_like(left), where=working), p.aggression
