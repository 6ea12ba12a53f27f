"""The data side of the single-agent trading envs: prices, the observation layout, and the spaces.

:func:`load_market_data` reads the prices (checked once, by :mod:`market.data.loading`), precomputes
every bar's observation row (the features of :mod:`market.data.features` and zeroed account columns)
and finds the bars episodes may use, so that a step is an index lookup. The observation layout
(:data:`OBSERVATION_INDEX`, :func:`observation_index`, :func:`observation_names`) and the spaces
(:func:`build_spaces`) are defined here and shared by :class:`~market.envs.trading.TradingEnv` and
:class:`~market.envs.trading_vector.TradingVectorEnv`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import gymnasium as gym
import numpy as np
import pandas as pd

from market.data.features import (
    FEATURE_CLIP,
    TECHNICAL_FEATURES,
    compute_features,
    feature_bounds,
    return_feature_names,
    warmup_bars,
)
from market.data.loading import CLOSE, OPEN
from market.envs.trading_config import PriceSource, TradingEnvConfig, check_time
from market.errors import ConfigError, DataError

ACCOUNT_FEATURES: Final[tuple[str, ...]] = (
    "position_fraction",
    "equity_return",
    "drawdown",
    "time_left",
)
"""Account-state entries of the observation, right after the technical features."""

ACCOUNT_BOUNDS: Final = MappingProxyType(
    {
        "position_fraction": (-FEATURE_CLIP, FEATURE_CLIP),
        "equity_return": (-1.0, FEATURE_CLIP),
        "drawdown": (0.0, 1.0),
        "time_left": (0.0, 1.0),
    }
)
"""Closed bounds of the account-state entries; values are clipped to them."""

OBSERVATION_INDEX: Final = MappingProxyType(
    {name: i for i, name in enumerate(TECHNICAL_FEATURES + ACCOUNT_FEATURES)}
)
"""Index in the observation of every named feature; these indices do not depend on ``window``."""

FIRST_RETURN_INDEX: Final = len(TECHNICAL_FEATURES) + len(ACCOUNT_FEATURES)
"""Index of ``ret_0``; ``ret_k`` is at ``FIRST_RETURN_INDEX + k``."""
FIRST_ACCOUNT_INDEX: Final = len(TECHNICAL_FEATURES)
POSITION_COLUMN: Final = OBSERVATION_INDEX["position_fraction"]
EQUITY_RETURN_COLUMN: Final = OBSERVATION_INDEX["equity_return"]
DRAWDOWN_COLUMN: Final = OBSERVATION_INDEX["drawdown"]
TIME_LEFT_COLUMN: Final = OBSERVATION_INDEX["time_left"]
FRACTION_LOW, FRACTION_HIGH = ACCOUNT_BOUNDS["position_fraction"]
RETURN_LOW, RETURN_HIGH = ACCOUNT_BOUNDS["equity_return"]


def observation_names(window: int) -> tuple[str, ...]:
    """Names of the observation entries, in order, for a given return window.

    Args:
        window: Number of normalised returns in the observation.

    Returns:
        The technical features, the account features, then ``ret_0 .. ret_{window-1}``.
    """
    return TECHNICAL_FEATURES + ACCOUNT_FEATURES + return_feature_names(window)


def observation_index(name: str) -> int:
    """Index of a named entry in the observation.

    Args:
        name: A technical or account feature name (see :data:`OBSERVATION_INDEX`) or ``ret_k``.

    Returns:
        Its position in the observation vector. ``ret_k`` exists only for ``k < window``.

    Raises:
        KeyError: If the name is not a feature of the observation.
    """
    if name in OBSERVATION_INDEX:
        return OBSERVATION_INDEX[name]
    lag = name.removeprefix("ret_")
    if lag.isdigit() and name == f"ret_{int(lag)}":
        return FIRST_RETURN_INDEX + int(lag)
    raise KeyError(f"unknown observation feature {name!r}; known: {', '.join(OBSERVATION_INDEX)}, ret_<k>")


# ---------------------------------------------------------------------------------------------------
# Price data
# ---------------------------------------------------------------------------------------------------


def _read_prices(source: PriceSource) -> pd.DataFrame:
    """Resolve the ``data`` setting to a price frame, checked once, by :mod:`market.data.loading`.

    A file (or the bundled sample) is checked whole as it loads; a frame built in code is checked for
    what the env reads (:func:`market.data.check_bars`), so frames from elsewhere work.

    Raises:
        ConfigError: If a given frame lacks what the env reads (the ``data`` setting is wrong).
        DataError: If a file cannot be loaded (the message names the file, row and problem).
    """
    # The loaders are imported only when the env reads prices.
    from market.data import check_bars, load_prices, load_sample

    if isinstance(source, pd.DataFrame):
        try:
            check_bars(source, columns=(OPEN, CLOSE), source="data")
        except DataError as error:
            raise ConfigError(str(error)) from None
        return source
    return load_sample() if source is None else load_prices(source)


@dataclass(frozen=True, slots=True, eq=False)
class MarketData:
    """Price arrays, the observation template and the bars episodes may use, shared by all envs."""

    prices: pd.DataFrame
    open: np.ndarray
    close: np.ndarray
    rows: np.ndarray
    """Observation template, (bars, observation size) float32: features with zeroed account columns."""
    first_bar: int
    """First bar an episode may start at: after the warm-up and at or after ``start``."""
    last_bar: int
    """Last bar an episode may reach: the last bar at or before ``end``."""
    max_steps: int | None
    random_start: bool

    @property
    def last_start(self) -> int:
        """Last bar a random start is drawn from, leaving room for ``max_steps`` (or one step)."""
        return self.last_bar - (self.max_steps or 1)

    def end_bar(self, start: int) -> int:
        """Bar at which an episode that starts at ``start`` is truncated."""
        if self.max_steps is None:
            return self.last_bar
        return min(start + self.max_steps, self.last_bar)

    def draw_start(self, rng: np.random.Generator) -> int:
        """Start bar of a new episode: uniform over the allowed starts, or the first one."""
        if not self.random_start:
            return self.first_bar
        return int(rng.integers(self.first_bar, self.last_start + 1))

    def pinned_start(self, value: Any) -> int:
        """Start bar named by ``options["start"]``: a bar index, or the first bar at or after a time."""
        if isinstance(value, int | np.integer) and not isinstance(value, bool):
            bar = int(value)
        else:
            stamp = check_time("options['start']", value)
            bar = int(self.prices.index.searchsorted(_align_time(stamp, self.prices.index), side="left"))
        if not self.first_bar <= bar < self.last_bar:
            raise ConfigError(
                f"options['start'] must name a bar in [{self.first_bar}, {self.last_bar - 1}] "
                f"({self.prices.index[self.first_bar]} .. {self.prices.index[self.last_bar - 1]}), got {value!r}"
            )
        return bar


def _align_time(stamp: pd.Timestamp, index: pd.DatetimeIndex) -> pd.Timestamp:
    """Give a naive time the index's time zone, so that it can be compared with the index."""
    if index.tz is not None and stamp.tzinfo is None:
        return stamp.tz_localize(index.tz)
    if index.tz is None and stamp.tzinfo is not None:
        return stamp.tz_convert(None)
    return stamp


def load_market_data(config: TradingEnvConfig) -> MarketData:
    """Read the prices, precompute the observation rows and find the bars episodes may use."""
    prices = _read_prices(config.data)
    n_bars = len(prices)
    index = prices.index
    warmup = warmup_bars(config.window)
    first_bar = warmup
    if config.start is not None:
        first_bar = max(first_bar, int(index.searchsorted(_align_time(config.start, index), side="left")))
    last_bar = n_bars - 1
    if config.end is not None:
        last_bar = int(index.searchsorted(_align_time(config.end, index), side="right")) - 1
    if last_bar - first_bar < 1:
        source = "the given price frame" if isinstance(config.data, pd.DataFrame) else "the bundled sample" if config.data is None else os.fspath(config.data)
        raise ConfigError(
            f"data ({source}) has {n_bars} bars from {index[0] if n_bars else None} to {index[-1] if n_bars else None}; "
            f"with window={config.window} (warm-up of {warmup} bars), start={config.start} and end={config.end} "
            f"no episode can take a single step: it needs at least {warmup + 2} bars between start and end"
        )
    if config.max_steps is not None and config.max_steps > last_bar - first_bar:
        raise ConfigError(
            f"max_steps must be at most the {last_bar - first_bar} steps between {index[first_bar]} and "
            f"{index[last_bar]}, got {config.max_steps}"
        )

    # Observation template: technical features, zeroed account columns, then the returns.
    features = compute_features(prices, config.window)
    n_technical = len(TECHNICAL_FEATURES)
    rows = np.zeros((n_bars, features.shape[1] + len(ACCOUNT_FEATURES)), dtype=np.float32)
    rows[:, :n_technical] = features[:, :n_technical]
    rows[:, FIRST_RETURN_INDEX:] = features[:, n_technical:]
    rows.flags.writeable = False
    open_ = prices[OPEN].to_numpy(dtype=np.float64, copy=True)
    close = prices[CLOSE].to_numpy(dtype=np.float64, copy=True)
    open_.flags.writeable = False
    close.flags.writeable = False
    return MarketData(
        prices=prices,
        open=open_,
        close=close,
        rows=rows,
        first_bar=first_bar,
        last_bar=last_bar,
        max_steps=config.max_steps,
        random_start=config.random_start,
    )


def build_spaces(config: TradingEnvConfig) -> tuple[gym.spaces.Space[Any], gym.spaces.Box]:
    """Action and observation space of one env."""
    if config.discrete:
        action_space: gym.spaces.Space[Any] = gym.spaces.Discrete(config.n_levels)
    else:
        action_space = gym.spaces.Box(low=-1.0, high=1.0, shape=(1,), dtype=np.float32)
    feature_low, feature_high = feature_bounds(config.window)
    n_technical = len(TECHNICAL_FEATURES)
    account_low = [ACCOUNT_BOUNDS[name][0] for name in ACCOUNT_FEATURES]
    account_high = [ACCOUNT_BOUNDS[name][1] for name in ACCOUNT_FEATURES]
    low = np.concatenate((feature_low[:n_technical], account_low, feature_low[n_technical:])).astype(np.float32)
    high = np.concatenate((feature_high[:n_technical], account_high, feature_high[n_technical:])).astype(np.float32)
    return action_space, gym.spaces.Box(low=low, high=high, dtype=np.float32)


def target_levels(config: TradingEnvConfig) -> np.ndarray:
    """Target position (fraction of equity) of every discrete action, after leverage and short rules."""
    levels = np.linspace(-1.0, 1.0, config.n_levels) * config.leverage
    return np.maximum(levels, 0.0) if not config.allow_short else levels


def start_option(options: Mapping[str, Any]) -> Any:
    """The ``start`` entry of reset options, rejecting any other key."""
    for key in options:
        if key != "start":
            raise ConfigError(f"unknown reset option {key!r} (value {options[key]!r}); the only option is 'start'")
    return options["start"]


def pinned_starts(options: Mapping[str, Any] | None, num_envs: int, pinned_start: Callable[[Any], int]) -> np.ndarray | None:
    """The start bars that reset ``options`` pin for ``num_envs`` sub-envs, or None when they pin none.

    ``options["start"]`` is one bar index or time for every sub-env, or one per sub-env; ``pinned_start``
    turns each into a bar.

    Raises:
        ConfigError: If ``options`` has another key or the wrong number of starts.
    """
    if not options:
        return None
    value = start_option(options)
    if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str):
        if len(value) != num_envs:
            raise ConfigError(f"options['start'] must hold {num_envs} starts, got {value!r}")
        return np.array([pinned_start(item) for item in value], dtype=np.int64)
    return np.full(num_envs, pinned_start(value), dtype=np.int64)
