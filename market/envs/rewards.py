"""Reward functions of the envs: small, pure, and the definition of every reward kind.

The single-agent trading envs' rewards come first; the market env's, one function per
``MarketConfig.reward`` (:data:`MARKET_REWARDS`), at the end.

Each function takes equity values (or returns) and gives a reward, with no state of its own; the one
reward with memory, the differential Sharpe ratio, takes its state in and gives the next state back.

The functions are written against a tiny math namespace, ``xp``: :data:`ARRAY_MATH` (or :mod:`numpy`
itself) for a batch of accounts held in arrays of shape ``(N,)``, or :data:`SCALAR_MATH` for one
account held in Python floats. Only ``+ - * / **``, comparisons and the functions of
:class:`MathBackend` are used, so both evaluate the same IEEE operations in the same order and give
the same numbers (``log`` and ``**`` may differ in the last bit).

:class:`~market.envs.trading_vector.TradingVectorEnv` calls these functions on arrays and the
single-account step of :class:`~market.envs.trading.TradingEnv` on floats: every reward is defined
once, here; the tests hold the two envs to equal rewards.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, NamedTuple, Protocol

import numpy as np

LOG_RETURN: Final = "log_return"
"""Reward kind: log of the equity ratio between consecutive closes."""
PNL: Final = "pnl"
"""Reward kind: change in equity between consecutive closes, divided by the initial cash."""
DIFFERENTIAL_SHARPE: Final = "differential_sharpe"
"""Reward kind: Moody and Saffell's differential Sharpe ratio of the simple equity returns."""
REWARD_KINDS: Final = (LOG_RETURN, PNL, DIFFERENTIAL_SHARPE)
"""Every accepted value of the ``reward`` setting."""

EQUITY_RATIO_FLOOR: Final = 1e-6
"""Smallest equity ratio the log return sees, so bankruptcy costs log(1e-6) ~ -13.8, not -inf."""

VARIANCE_FLOOR: Final = 1e-16
"""Return variance at or below which the differential Sharpe ratio is 0 (it is undefined there)."""


class MathBackend(Protocol):
    """The math functions the dynamics use besides arithmetic; :mod:`numpy` satisfies it."""

    def clip(self, x: Any, low: float, high: float, /) -> Any:
        """``x`` limited to ``[low, high]``."""

    def log(self, x: Any, /) -> Any:
        """Natural logarithm of positive values."""

    def maximum(self, x: Any, y: Any, /) -> Any:
        """Elementwise maximum."""

    def minimum(self, x: Any, y: Any, /) -> Any:
        """Elementwise minimum."""

    def where(self, condition: Any, if_true: Any, if_false: Any, /) -> Any:
        """``if_true`` where ``condition`` holds, else ``if_false``; both are evaluated."""


class _ScalarMath:
    """:class:`MathBackend` for plain Python floats and bools."""

    log = staticmethod(math.log)
    maximum = staticmethod(max)
    minimum = staticmethod(min)

    @staticmethod
    def where(condition: Any, if_true: Any, if_false: Any, /) -> Any:
        """``if_true`` if ``condition`` else ``if_false``."""
        return if_true if condition else if_false

    @staticmethod
    def clip(x: Any, low: float, high: float, /) -> Any:
        """``x`` limited to ``[low, high]``."""
        return low if x < low else high if x > high else x


class _ArrayMath:
    """:class:`MathBackend` for numpy arrays: numpy's functions, with a faster ``clip`` on small arrays."""

    log = staticmethod(np.log)
    maximum = staticmethod(np.maximum)
    minimum = staticmethod(np.minimum)
    where = staticmethod(np.where)

    @staticmethod
    def clip(x: Any, low: float, high: float, /) -> Any:
        """``x`` limited to ``[low, high]``."""
        return np.minimum(np.maximum(x, low), high)


SCALAR_MATH: Final[MathBackend] = _ScalarMath()
"""The math namespace for one account held in Python floats."""
ARRAY_MATH: Final[MathBackend] = _ArrayMath()
"""The math namespace for N accounts held in numpy arrays of shape (N,)."""


class DifferentialSharpeState(NamedTuple):
    """Exponential moving estimates of the first and second moments of returns (A and B)."""

    mean: Any
    second_moment: Any


def log_return(equity_before: Any, equity_after: Any, xp: MathBackend = ARRAY_MATH) -> Any:
    """Log return of equity, with the ratio floored at :data:`EQUITY_RATIO_FLOOR`.

    Args:
        equity_before: Equity at the previous close, positive.
        equity_after: Equity at this close; zero or negative after a bankruptcy.
        xp: Math namespace (:data:`ARRAY_MATH` or :data:`SCALAR_MATH`).

    Returns:
        ``log(max(equity_after / equity_before, EQUITY_RATIO_FLOOR))``, always finite.
    """
    return xp.log(xp.maximum(equity_after / equity_before, EQUITY_RATIO_FLOOR))


def pnl(equity_before: Any, equity_after: Any, scale: float) -> Any:
    """Profit and loss between two closes, in units of ``scale``.

    Args:
        equity_before: Equity at the previous close.
        equity_after: Equity at this close.
        scale: Money unit of the reward, such as the initial cash; positive.

    Returns:
        ``(equity_after - equity_before) / scale``.
    """
    return (equity_after - equity_before) / scale


def differential_sharpe(
    simple_return: Any, state: DifferentialSharpeState, eta: float, xp: MathBackend = ARRAY_MATH
) -> tuple[Any, DifferentialSharpeState]:
    """Differential Sharpe ratio of one more return, and the updated moment estimates.

    Moody and Saffell (2001), "Learning to trade via direct reinforcement": with ``A`` and ``B`` the
    moving first and second moments before this return ``R``, ``dA = R - A`` and ``dB = R**2 - B``,
    the reward is ``(B * dA - A * dB / 2) / (B - A**2) ** 1.5`` and the moments move by ``eta * dA``
    and ``eta * dB``. While the variance ``B - A**2`` is at most :data:`VARIANCE_FLOOR` (the start of
    an episode, or a flat account) the ratio is undefined and the reward is 0.

    Args:
        simple_return: This step's simple equity return ``R``.
        state: Moments before this return; start an episode at ``(0, 0)``.
        eta: Adaptation rate of the moving moments, in (0, 1).
        xp: Math namespace (:data:`ARRAY_MATH` or :data:`SCALAR_MATH`).

    Returns:
        The reward and the moments after this return.
    """
    mean, second_moment = state
    delta_mean = simple_return - mean
    delta_second = simple_return * simple_return - second_moment
    variance = second_moment - mean * mean
    safe_variance = xp.maximum(variance, VARIANCE_FLOOR)
    ratio = (second_moment * delta_mean - 0.5 * mean * delta_second) / safe_variance**1.5
    reward = xp.where(variance > VARIANCE_FLOOR, ratio, 0.0)
    next_state = DifferentialSharpeState(mean + eta * delta_mean, second_moment + eta * delta_second)
    return reward, next_state


def drawdown(equity: Any, peak: Any) -> Any:
    """Fraction of the running peak that has been lost.

    Args:
        equity: Current equity.
        peak: Highest equity so far in the episode, positive.

    Returns:
        ``1 - equity / peak``: 0 at a new high, 1 when the equity is gone.
    """
    return 1.0 - equity / peak


def drawdown_penalty(drawdown_before: Any, drawdown_after: Any, weight: float, xp: MathBackend = ARRAY_MATH) -> Any:
    """Penalty for deepening a drawdown (recoveries are not rewarded).

    Summed over an episode the penalty is at least ``weight`` times the maximum drawdown.

    Args:
        drawdown_before: :func:`drawdown` at the previous close.
        drawdown_after: :func:`drawdown` at this close.
        weight: Penalty per unit of added drawdown, at least 0.
        xp: Math namespace (:data:`ARRAY_MATH` or :data:`SCALAR_MATH`).

    Returns:
        ``weight * max(drawdown_after - drawdown_before, 0)``, to subtract from the reward.
    """
    return weight * xp.maximum(drawdown_after - drawdown_before, 0.0)


# ---------------------------------------------------------------------------- the market env
MarketReward = Callable[[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray, np.ndarray], np.ndarray]
"""A market reward: ``(equity_before, equity_after, inventory_change, mid, starting_equity, inventory_penalty)``,
each array with one entry per agent (in the env's agent order), to every agent's reward."""

_PERCENT: Final = 100.0


def equity_change(
    equity_before: np.ndarray,
    equity_after: np.ndarray,
    inventory_change: np.ndarray,
    mid: float,
    starting_equity: np.ndarray,
    inventory_penalty: np.ndarray,
) -> np.ndarray:
    """The change in marked-to-market equity over the starting equity, in percent, less an inventory penalty.

    The penalty is ``inventory_penalty`` (per agent, 0 for most) times the value at the mid of the
    inventory taken on since the start over the starting equity, in percent: a maker pays for the risk
    it added, not for what it was given.

    Args:
        equity_before: every agent's equity after the previous step.
        equity_after: every agent's equity after this step.
        inventory_change: every agent's inventory minus its starting inventory, in lots.
        mid: the mid after this step, in ticks.
        starting_equity: every agent's equity at the start, in ticks x lots.
        inventory_penalty: each agent's penalty weight.

    Returns:
        Every agent's reward.
    """
    reward = (equity_after - equity_before) / starting_equity * _PERCENT
    reward -= inventory_penalty * np.abs(inventory_change * mid) / starting_equity * _PERCENT
    return reward


MARKET_REWARDS: Final[Mapping[str, MarketReward]] = MappingProxyType({"equity_change": equity_change})
"""The market env's rewards by the name ``MarketConfig.reward`` gives: a new reward is one function here
and its entry."""
