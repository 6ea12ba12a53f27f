"""The machinery every scripted policy of the market env shares: parameter checks, actions, the base class.

Scripted traders (:mod:`market.agents.scripted`) and the textbook baselines
(:mod:`market.agents.baselines`) are built on it: a frozen parameter dataclass checked with
:func:`check_number` and :func:`check_integer` (a bad value is a :class:`ParamError` naming the key), a
:class:`ScriptedTrader` subclass that reads its features by name, and :func:`taker_action` or
:func:`maker_action` to encode what it decides in its role's action space.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar

import numpy as np

from market.envs.market_config import (
    MAKER_ACTION_DIM,
    MAKER_ASK_OFFSET,
    MAKER_BID_OFFSET,
    MAKER_SIZE,
    TAKER_ACTION_DIM,
    TAKER_AGGRESSION,
    TAKER_SIZE,
    Role,
    executor_observation_names,
    observation_index,
    observation_names,
)
from market.errors import ConfigError


class ParamError(ConfigError):
    """A bad parameter value, named relative to the params table (``params.activity``).

    :func:`build_policy` re-raises it as a :class:`ConfigError` under the population's full path.
    """

    def __init__(self, key: str, expected: str, value: Any) -> None:
        self.key, self.expected, self.value = key, expected, value
        super().__init__(self.message("params"))

    def message(self, path: str) -> str:
        """The one-line message with ``path`` as the params table's key path."""
        return f"{path}.{self.key}: expected {self.expected}, got {self.value!r}"


def check_number(params: Any, key: str, low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> None:
    """Check that ``params.<key>`` is a real number in the interval and store it as a ``float``.

    ``math.inf`` passes only as an upper bound of ``high = math.inf`` with ``high_open=False``.
    """
    value = getattr(params, key)
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)
    ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ParamError(key, f"a number in {interval}", value)
    object.__setattr__(params, key, float(value))


def check_integer(params: Any, key: str, low: int, high: int | None = None) -> None:
    """Check that ``params.<key>`` is an integer >= ``low`` (and <= ``high``) and store it as an ``int``."""
    value = getattr(params, key)
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low and (high is None or value <= high)
    if not ok:
        raise ParamError(key, f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]", value)
    object.__setattr__(params, key, int(value))


def check_window(window: Any) -> int:
    """The observation window, checked: a positive integer."""
    if not (isinstance(window, numbers.Integral) and not isinstance(window, bool) and window > 0):
        raise ConfigError(f"window: expected a positive integer, got {window!r}")
    return int(window)



def taker_action(size: float, aggression: float) -> np.ndarray:
    """A taker action ``[size, aggressiveness]``, clipped into [-1, 1], as ``float32``."""
    action = np.zeros(TAKER_ACTION_DIM, dtype=np.float32)
    action[TAKER_SIZE] = min(1.0, max(-1.0, size))
    action[TAKER_AGGRESSION] = min(1.0, max(-1.0, aggression))
    return action


def maker_action(bid_offset: float, ask_offset: float, size: float) -> np.ndarray:
    """A maker action from offsets and size in ``[0, 1]`` units, mapped onto [-1, 1], as ``float32``."""
    action = np.zeros(MAKER_ACTION_DIM, dtype=np.float32)
    for index, unit in ((MAKER_BID_OFFSET, bid_offset), (MAKER_ASK_OFFSET, ask_offset), (MAKER_SIZE, size)):
        action[index] = 2.0 * min(1.0, max(0.0, unit)) - 1.0
    return action


def quote_action(bid_depth: float | None, ask_depth: float | None, lots: int, *, max_qty: int, max_offset: int, min_offset: int = 1) -> np.ndarray:
    """A maker action quoting ``lots`` a side at depths in ticks from the mid, as ``float32``.

    Each depth is clipped into ``[min_offset, max_offset]`` ticks and encoded as the env decodes it,
    ``2 * (d - min_offset) / (max_offset - min_offset) - 1``; a side given as None (not quoted) goes to
    ``max_offset``, the farthest quote the encoding has (one size serves both sides).
    """
    action = np.empty(MAKER_ACTION_DIM, dtype=np.float32)
    low, high = float(min_offset), float(max_offset)
    for index, depth in ((MAKER_BID_OFFSET, bid_depth), (MAKER_ASK_OFFSET, ask_depth)):
        ticks = high if depth is None else min(max(depth, low), high)
        action[index] = 2.0 * (ticks - low) / (high - low) - 1.0
    action[MAKER_SIZE] = 2.0 * lots / max_qty - 1.0
    return action


def return_indices(window: int) -> np.ndarray:
    """Indices of ``ret_0 .. ret_{window-1}`` in the observation."""
    return np.array([observation_index(f"ret_{k}", window) for k in range(window)])


def volatility(obs: np.ndarray, returns: np.ndarray) -> float:
    """Standard deviation of the observation's mid returns at ``returns`` (percent per step)."""
    return float(np.std(obs[returns], dtype=np.float64))


def capped_size(signed_size: float, inventory: float, max_inventory: float) -> float:
    """Shrink a signed order size so that inventory (same units) stays within ``±max_inventory``.

    Adding to a position already at or beyond the cap gives 0; reducing it is never limited.
    """
    if signed_size > 0:
        return min(signed_size, max(0.0, max_inventory - inventory))
    return max(signed_size, min(0.0, -max_inventory - inventory))


class ScriptedTrader:
    """What every scripted trader shares: its params, its window and the observation's length."""

    role: ClassVar[Role]
    params_class: ClassVar[type]

    def __init__(self, params: Any, window: int) -> None:
        if not isinstance(params, self.params_class):
            raise TypeError(f"{type(self).__name__} needs {self.params_class.__name__}, got {type(params).__name__}")
        self.params = params
        self.window = check_window(window)
        names = executor_observation_names if self.role is Role.EXECUTOR else observation_names
        self._n_features = len(names(self.window))

    def _check(self, obs: np.ndarray) -> None:
        """Refuse an observation from an env with another window (it would be read wrongly)."""
        if obs.shape != (self._n_features,):
            raise ValueError(
                f"{type(self).__name__}: expected an observation of shape ({self._n_features},) for window "
                f"{self.window}, got shape {obs.shape}"
            )

    def _check_batch(self, obs: np.ndarray, uniforms: np.ndarray, k: int) -> None:
        """Refuse a population's observation rows from an env with another window, or uniforms of the wrong shape."""
        if obs.ndim != 2 or obs.shape[1] != self._n_features:
            raise ValueError(
                f"{type(self).__name__}: expected observations of shape (N, {self._n_features}) for window "
                f"{self.window}, got shape {obs.shape}"
            )
        if uniforms.shape != (obs.shape[0], k):
            raise ValueError(f"{type(self).__name__}: expected uniforms of shape ({obs.shape[0]}, {k}), got shape {uniforms.shape}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r}, window={self.window})"

