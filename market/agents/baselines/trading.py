"""Baseline policies for the single-agent TradingEnv: buy and hold, SMA crossover, mean reversion, random.

Each reads named features out of the TradingEnv observation (by index, looked up once) and returns
a target position in [-1, 1] as a float32 array of shape (1,). ``make_baseline`` builds one by name.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from market.config import suggest
from market.envs.trading import observation_index
from market.errors import ConfigError

BUY_AND_HOLD = "buy_and_hold"
SMA_CROSSOVER = "sma_crossover"
MEAN_REVERSION = "mean_reversion"
RANDOM = "random"


def _target(value: float) -> np.ndarray:
    return np.array([value], dtype=np.float32)


class BuyAndHold:
    """Fully long on every bar."""

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _target(1.0)


class SMACrossover:
    """Long while the fast moving average (10 bars) is above the slow one (30 bars), else flat.

    Args:
        short: go short instead of flat when the fast average is below.
    """

    def __init__(self, *, short: bool = False) -> None:
        self._ratio = observation_index("sma_ratio_fast_slow")
        self._below = -1.0 if short else 0.0

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _target(1.0 if obs[self._ratio] > 0.0 else self._below)


class MeanReversion:
    """Leans against the close's z-score versus its 20-bar mean: target ``-z / threshold``, clipped.

    Args:
        threshold: the z-score at which the position is full size.
    """

    def __init__(self, *, threshold: float = 2.0) -> None:
        if not threshold > 0:
            raise ConfigError(f"mean_reversion.threshold: expected a number > 0, got {threshold!r}")
        self._zscore = observation_index("zscore_close_20")
        self._threshold = threshold

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _target(float(np.clip(-obs[self._zscore] / self._threshold, -1.0, 1.0)))


class RandomPolicy:
    """A uniformly random target in [-1, 1] on every bar, drawn from ``rng``."""

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _target(float(rng.uniform(-1.0, 1.0)))


BASELINES: dict[str, Callable[[], object]] = {
    BUY_AND_HOLD: BuyAndHold,
    SMA_CROSSOVER: SMACrossover,
    MEAN_REVERSION: MeanReversion,
    RANDOM: RandomPolicy,
}
"""Built-in baselines by name, as ``market backtest --policy NAME`` knows them."""


def make_baseline(name: str) -> object:
    """The baseline policy called ``name``.

    Raises:
        ConfigError: for an unknown name, with the known ones and a near match.
    """
    if name not in BASELINES:
        known = ", ".join(BASELINES)
        raise ConfigError(f"policy: unknown policy {name!r}{suggest(name, list(BASELINES))}; built-in: {known}")
    return BASELINES[name]()
