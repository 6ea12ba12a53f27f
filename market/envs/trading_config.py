"""Settings of the single-agent trading envs: :class:`TradingEnvConfig` and its checks.

The config is the one home of the envs' defaults (``window=30``, ``commission_bps=1.0``,
``slippage_bps=2.0`` ...): the backtest engine, the runner and the CLI take a config whole instead of
repeating them. Every value is checked once, here, with a :class:`~market.errors.ConfigError` naming
the key and the value.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
from gymnasium.utils import seeding
from gymnasium.vector import VectorEnv

from market import limits
from market.config import from_mapping, with_overrides
from market.envs import rewards
from market.errors import ConfigError

MAX_LEVERAGE: Final = 10.0
"""Largest accepted ``leverage``: the bound of the ``position_fraction`` observation."""


# ---------------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------------

PriceSource = pd.DataFrame | str | os.PathLike[str] | None
TimeBound = str | datetime.date | pd.Timestamp | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TradingEnvConfig:
    """Settings of :class:`TradingEnv` and :class:`TradingVectorEnv`, validated on construction.

    Attributes:
        data: Price frame (DatetimeIndex, float ``open`` and ``close`` columns), a CSV or Parquet
            path that :func:`market.data.load_prices` reads, or None for the bundled daily sample
            (:func:`market.data.load_sample`). Excluded from ``==`` and ``repr``.
        window: Number of normalised log returns in the observation.
        commission_bps: Commission in basis points of the traded notional.
        slippage_bps: Slippage in basis points: buys fill that much above the open, sells below.
        allow_short: If False, negative targets are treated as flat.
        leverage: Largest absolute position as a multiple of equity; the action is scaled by it.
        reward: ``"log_return"``, ``"pnl"`` or ``"differential_sharpe"``.
        drawdown_penalty: Weight of the penalty on each increase of the drawdown, at least 0.
        sharpe_eta: Adaptation rate of the differential Sharpe ratio's moving moments, in (0, 1).
        max_steps: Steps after which an episode is truncated; None runs to the end of the data.
        random_start: Start episodes at a random bar (training) or at the first bar (evaluation).
        start: First time an episode may start at (data before it still feeds the features).
        end: Last time an episode may reach.
        initial_cash: Equity at the start of every episode.
        discrete: Use a discrete action space of ``n_levels`` evenly spaced targets in [-1, 1].
        n_levels: Number of discrete targets (3: short, flat, long; 5: -1, -0.5, 0, 0.5, 1).
    """

    data: PriceSource = field(default=None, compare=False, repr=False)
    window: int = 30
    commission_bps: float = 1.0
    slippage_bps: float = 2.0
    allow_short: bool = True
    leverage: float = 1.0
    reward: str = rewards.LOG_RETURN
    drawdown_penalty: float = 0.0
    sharpe_eta: float = 0.01
    max_steps: int | None = None
    random_start: bool = True
    start: TimeBound = None
    end: TimeBound = None
    initial_cash: float = 100_000.0
    discrete: bool = False
    n_levels: int = 3

    def __post_init__(self) -> None:
        if not isinstance(self.data, pd.DataFrame | str | os.PathLike | None):
            raise ConfigError(
                f"data must be a pandas DataFrame, a path or None, got {type(self.data).__name__}: {self.data!r}"
            )
        check_int("window", self.window, minimum=1)
        limits.check_size("window", self.window, limits.MAX_WINDOW)
        _set(self, "commission_bps", check_number("commission_bps", self.commission_bps, low=0.0, high=10_000.0))
        _set(self, "slippage_bps", check_number("slippage_bps", self.slippage_bps, low=0.0, high=10_000.0))
        check_bool("allow_short", self.allow_short)
        _set(self, "leverage", check_number("leverage", self.leverage, low=0.0, high=MAX_LEVERAGE, open_low=True))
        if self.reward not in rewards.REWARD_KINDS:
            raise ConfigError(f"reward must be one of {', '.join(rewards.REWARD_KINDS)}, got {self.reward!r}")
        _set(self, "drawdown_penalty", check_number("drawdown_penalty", self.drawdown_penalty, low=0.0))
        _set(
            self,
            "sharpe_eta",
            check_number("sharpe_eta", self.sharpe_eta, low=0.0, high=1.0, open_low=True, open_high=True),
        )
        if self.max_steps is not None:
            check_int("max_steps", self.max_steps, minimum=1)
            limits.check_size("max_steps", self.max_steps, limits.MAX_STEPS)
        check_bool("random_start", self.random_start)
        _set(self, "start", check_time("start", self.start))
        _set(self, "end", check_time("end", self.end))
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ConfigError(f"start must be before end, got start={self.start} and end={self.end}")
        _set(
            self,
            "initial_cash",
            check_number("initial_cash", self.initial_cash, low=0.0, high=1e15, open_low=True),
        )
        check_bool("discrete", self.discrete)
        check_int("n_levels", self.n_levels, minimum=2)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TradingEnvConfig:
        """Build a config from a mapping such as RLlib's ``env_config``.

        Args:
            values: Setting names and values; missing settings keep their defaults.

        Returns:
            The validated config.

        Raises:
            ConfigError: If a key is not a setting or a value is invalid.
        """
        return from_mapping(cls, values)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (``data`` included as is), for RLlib's ``env_config``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _set(config: TradingEnvConfig, name: str, value: Any) -> None:
    """Store a normalised value on a frozen config during validation."""
    object.__setattr__(config, name, value)


def check_number(
    key: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    open_low: bool = False,
    open_high: bool = False,
) -> float:
    """Return ``value`` as a float if it is a finite real number within the bounds, else raise."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    number = float(value)
    if not np.isfinite(number):
        raise ConfigError(f"{key} must be finite, got {value!r}")
    if low is not None and (number < low or (open_low and number == low)):
        raise ConfigError(f"{key} must be {'>' if open_low else '>='} {low:g}, got {value!r}")
    if high is not None and (number > high or (open_high and number == high)):
        raise ConfigError(f"{key} must be {'<' if open_high else '<='} {high:g}, got {value!r}")
    return number


def check_int(key: str, value: Any, *, minimum: int) -> None:
    """Raise unless ``value`` is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key} must be an integer >= {minimum}, got {value!r}")


def check_bool(key: str, value: Any) -> None:
    """Raise unless ``value`` is a bool."""
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be True or False, got {value!r}")


def check_time(key: str, value: Any) -> pd.Timestamp | None:
    """Return ``value`` as a timestamp (or None), raising if it does not name a time."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | datetime.date | pd.Timestamp | np.datetime64):
        raise ConfigError(f"{key} must be a date or time such as '2020-01-31', got {value!r}")
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{key} must be a date or time such as '2020-01-31', got {value!r}") from error
    if pd.isna(stamp):
        raise ConfigError(f"{key} must be a date or time such as '2020-01-31', got {value!r}")
    return stamp


def make_config(config: TradingEnvConfig | Mapping[str, Any] | None, overrides: Mapping[str, Any]) -> TradingEnvConfig:
    """Merge an env's ``config`` argument and keyword arguments into one validated config."""
    return with_overrides(TradingEnvConfig, config, overrides)


def vector_settings(config: Any, num_envs: int | None, config_class: type) -> tuple[Any, int]:
    """A vector env's ``config`` and ``num_envs``: a mapping config may carry ``num_envs`` (as RLlib passes it).

    Raises:
        ConfigError: ``num_envs`` given twice with different values, or below 1.
    """
    if isinstance(config, Mapping) and not isinstance(config, config_class) and "num_envs" in config:
        config = dict(config)
        from_config = config.pop("num_envs")
        if num_envs is not None and num_envs != from_config:
            raise ConfigError(f"num_envs given twice with different values: {num_envs!r} and {from_config!r}")
        num_envs = from_config
    num_envs = 1 if num_envs is None else num_envs
    check_int("num_envs", num_envs, minimum=1)
    return config, num_envs


def sub_env_seeds(seed: Any, num_envs: int) -> list[int | None]:
    """One seed (or None) per sub-env, following SyncVectorEnv's convention (an int gives ``seed + i``)."""
    if seed is None:
        return [None] * num_envs
    if isinstance(seed, int) and not isinstance(seed, bool):
        return [seed + i for i in range(num_envs)]
    if isinstance(seed, Sequence) and not isinstance(seed, str) and len(seed) == num_envs:
        return list(seed)
    raise ConfigError(f"seed must be None, an int or {num_envs} seeds, got {seed!r}")


def reseed_sub_envs(env: VectorEnv, rngs: list[np.random.Generator | None], seed: Any) -> None:
    """Seed a vector env's generators for ``reset(seed=...)``, in place.

    An int seed also seeds the env's own ``np_random``. Each sub-env gets its seed from
    :func:`sub_env_seeds`; one whose seed is None keeps its generator (seeded from entropy the first time).
    """
    seeds = sub_env_seeds(seed, env.num_envs)
    if isinstance(seed, int):
        VectorEnv.reset(env, seed=seed)
    for i, sub_seed in enumerate(seeds):
        if sub_seed is not None or rngs[i] is None:
            rngs[i] = seeding.np_random(sub_seed)[0]
