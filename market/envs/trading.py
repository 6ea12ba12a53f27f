"""The single-agent trading envs: :class:`TradingEnv` (Gymnasium) and :class:`TradingVectorEnv`.

One account trades one instrument over a price frame. The agent picks a target position as a fraction
of equity; the order fills at the next bar's open with commission and slippage, and the account is
marked at that bar's close. The module owns the env settings (:class:`TradingEnvConfig`), the
observation layout (:data:`OBSERVATION_INDEX`, :func:`observation_index`, :func:`observation_names`)
and the dynamics.

The dynamics are written twice, for speed: :class:`TradingEnv` steps one account held in Python
floats (numpy is several times slower than float arithmetic on one element), and
:class:`TradingVectorEnv` steps N accounts held in numpy arrays of shape ``(N,)`` (:func:`_advance`).
Both evaluate the same IEEE operations in the same order, and the tests hold them together: sub-env
``i`` of the vector env gives bitwise-equal observations, states and flags to a single env, with
rewards equal to 1e-12 (``math`` and numpy may round ``log`` and ``**`` differently in the last bit).
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, NamedTuple

import gymnasium as gym
import numpy as np
import pandas as pd
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from market.data.features import (
    FEATURE_CLIP,
    TECHNICAL_FEATURES,
    compute_features,
    feature_bounds,
    return_feature_names,
    warmup_bars,
)
from market.data.loading import CLOSE, OPEN
from market.envs import rewards
from market.envs.rewards import ARRAY_MATH, DifferentialSharpeState
from market.config import from_mapping
from market import limits
from market.errors import ActionError, ConfigError, ResetNeeded

ENV_ID: Final = "market/Trading-v0"
"""Registered id of the continuous-action env."""
DISCRETE_ENV_ID: Final = "market/TradingDiscrete-v0"
"""Registered id of the discrete-action env (short, flat, long by default)."""

MAX_LEVERAGE: Final = 10.0
"""Largest accepted ``leverage``: the bound of the ``position_fraction`` observation."""

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
_FIRST_ACCOUNT_INDEX: Final = len(TECHNICAL_FEATURES)
_POSITION_COLUMN: Final = OBSERVATION_INDEX["position_fraction"]
_EQUITY_RETURN_COLUMN: Final = OBSERVATION_INDEX["equity_return"]
_DRAWDOWN_COLUMN: Final = OBSERVATION_INDEX["drawdown"]
_TIME_LEFT_COLUMN: Final = OBSERVATION_INDEX["time_left"]
_FRACTION_LOW, _FRACTION_HIGH = ACCOUNT_BOUNDS["position_fraction"]
_RETURN_LOW, _RETURN_HIGH = ACCOUNT_BOUNDS["equity_return"]

INFO_EQUITY: Final = "equity"
INFO_CASH: Final = "cash"
INFO_POSITION_UNITS: Final = "position_units"
INFO_POSITION_FRACTION: Final = "position_fraction"
INFO_PRICE: Final = "price"
INFO_TRADE_UNITS: Final = "trade_units"
INFO_TRADED_NOTIONAL: Final = "traded_notional"
INFO_STEP_COST: Final = "step_cost"
INFO_TOTAL_COST: Final = "total_cost"
INFO_BAR: Final = "bar"
INFO_KEYS: Final = (
    INFO_EQUITY,
    INFO_CASH,
    INFO_POSITION_UNITS,
    INFO_POSITION_FRACTION,
    INFO_PRICE,
    INFO_TRADE_UNITS,
    INFO_TRADED_NOTIONAL,
    INFO_STEP_COST,
    INFO_TOTAL_COST,
    INFO_BAR,
)
"""Keys of every ``info`` the envs return, after ``reset`` and after ``step``."""

_MIN_EQUITY: Final = 1e-12
"""Denominator floor of the position fraction; only reached on a bankrupt account's last step."""

_BASIS_POINT: Final = 1e-4

_LOG_EQUITY_RATIO_FLOOR: Final = math.log(rewards.EQUITY_RATIO_FLOOR)
"""The log return of a bankruptcy, :func:`rewards.log_return` at the floor."""


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
        _check_int("window", self.window, minimum=1)
        limits.check_size("window", self.window, limits.MAX_WINDOW)
        _set(self, "commission_bps", _check_number("commission_bps", self.commission_bps, low=0.0, high=10_000.0))
        _set(self, "slippage_bps", _check_number("slippage_bps", self.slippage_bps, low=0.0, high=10_000.0))
        _check_bool("allow_short", self.allow_short)
        _set(self, "leverage", _check_number("leverage", self.leverage, low=0.0, high=MAX_LEVERAGE, open_low=True))
        if self.reward not in rewards.REWARD_KINDS:
            raise ConfigError(f"reward must be one of {', '.join(rewards.REWARD_KINDS)}, got {self.reward!r}")
        _set(self, "drawdown_penalty", _check_number("drawdown_penalty", self.drawdown_penalty, low=0.0))
        _set(
            self,
            "sharpe_eta",
            _check_number("sharpe_eta", self.sharpe_eta, low=0.0, high=1.0, open_low=True, open_high=True),
        )
        if self.max_steps is not None:
            _check_int("max_steps", self.max_steps, minimum=1)
            limits.check_size("max_steps", self.max_steps, limits.MAX_STEPS)
        _check_bool("random_start", self.random_start)
        _set(self, "start", _check_time("start", self.start))
        _set(self, "end", _check_time("end", self.end))
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ConfigError(f"start must be before end, got start={self.start} and end={self.end}")
        _set(
            self,
            "initial_cash",
            _check_number("initial_cash", self.initial_cash, low=0.0, high=1e15, open_low=True),
        )
        _check_bool("discrete", self.discrete)
        _check_int("n_levels", self.n_levels, minimum=2)

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


def _check_number(
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


def _check_int(key: str, value: Any, *, minimum: int) -> None:
    """Raise unless ``value`` is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key} must be an integer >= {minimum}, got {value!r}")


def _check_bool(key: str, value: Any) -> None:
    """Raise unless ``value`` is a bool."""
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be True or False, got {value!r}")


def _check_time(key: str, value: Any) -> pd.Timestamp | None:
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


def _make_config(
    config: TradingEnvConfig | Mapping[str, Any] | None, overrides: Mapping[str, Any]
) -> TradingEnvConfig:
    """Merge an env's ``config`` argument and keyword arguments into one validated config."""
    if config is None:
        return TradingEnvConfig.from_mapping(overrides)
    if isinstance(config, TradingEnvConfig):
        return TradingEnvConfig.from_mapping({**config.to_dict(), **overrides}) if overrides else config
    if isinstance(config, Mapping):
        return TradingEnvConfig.from_mapping({**config, **overrides})
    raise ConfigError(
        f"config must be a TradingEnvConfig, a mapping or None, got {type(config).__name__}: {config!r}"
    )


# ---------------------------------------------------------------------------------------------------
# Price data
# ---------------------------------------------------------------------------------------------------


def _read_prices(source: PriceSource) -> pd.DataFrame:
    """Resolve the ``data`` setting to a checked price frame.

    Raises:
        ConfigError: If a given frame lacks what the env reads.
        DataError: If a file cannot be loaded (the message names the file, row and problem).
    """
    if isinstance(source, pd.DataFrame):
        _check_prices(source)
        return source
    # The loaders are imported only when the env reads a file.
    from market.data import load_prices, load_sample

    frame = load_sample() if source is None else load_prices(source)
    _check_prices(frame)
    return frame


def _check_prices(frame: pd.DataFrame) -> None:
    """Raise a ConfigError naming ``data`` unless the frame has what the env reads.

    Only what the env relies on is required (a sorted DatetimeIndex and positive finite opens and
    closes), so frames from elsewhere work; :func:`market.data.check_prices` checks the full shape.
    """
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise ConfigError(f"data must have a DatetimeIndex, got {type(frame.index).__name__}")
    if not frame.index.is_monotonic_increasing or not frame.index.is_unique:
        raise ConfigError("data index must be strictly increasing (sorted, no duplicate times)")
    for column in (OPEN, CLOSE):
        if column not in frame.columns:
            raise ConfigError(f"data must have columns {OPEN!r} and {CLOSE!r}, got {list(frame.columns)}")
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise ConfigError(f"data column {column!r} must be numeric, got dtype {frame[column].dtype}")
        values = frame[column].to_numpy(dtype=np.float64)
        bad = ~(np.isfinite(values) & (values > 0.0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ConfigError(
                f"data column {column!r} must hold positive finite prices, got {values[row]!r} at {frame.index[row]}"
            )


@dataclass(frozen=True, slots=True, eq=False)
class _Market:
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
            stamp = _check_time("options['start']", value)
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


def _load_market(config: TradingEnvConfig) -> _Market:
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
    return _Market(
        prices=prices,
        open=open_,
        close=close,
        rows=rows,
        first_bar=first_bar,
        last_bar=last_bar,
        max_steps=config.max_steps,
        random_start=config.random_start,
    )


def _spaces(config: TradingEnvConfig) -> tuple[gym.spaces.Space[Any], gym.spaces.Box]:
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


def _target_levels(config: TradingEnvConfig) -> np.ndarray:
    """Target position (fraction of equity) of every discrete action, after leverage and short rules."""
    levels = np.linspace(-1.0, 1.0, config.n_levels) * config.leverage
    return np.maximum(levels, 0.0) if not config.allow_short else levels


# ---------------------------------------------------------------------------------------------------
# Dynamics: the settings they read, and N accounts in (N,) arrays (one account is in TradingEnv.step)
# ---------------------------------------------------------------------------------------------------


class _Rules(NamedTuple):
    """The settings the dynamics read, with costs as rates."""

    cost_rate: float
    """Commission plus slippage, as a fraction of the traded notional."""
    reward: str
    drawdown_penalty: float
    sharpe_eta: float
    initial_cash: float


def _rules(config: TradingEnvConfig) -> _Rules:
    """Extract the dynamics' settings from a config."""
    return _Rules(
        cost_rate=(config.commission_bps + config.slippage_bps) * _BASIS_POINT,
        reward=config.reward,
        drawdown_penalty=config.drawdown_penalty,
        sharpe_eta=config.sharpe_eta,
        initial_cash=config.initial_cash,
    )


class _Accounts(NamedTuple):
    """State of N accounts, each field an array of shape (N,).

    Every step builds new arrays, and arrays held here are never written in place, so the values
    handed out in ``infos`` stay valid.
    """

    bar: np.ndarray
    """Decision bar t (int64): the agent has seen data up to t's close."""
    steps_left: np.ndarray
    """Steps from t to the bar at which the episode is truncated, as float64 (exact integers)."""
    length: np.ndarray
    """Steps from the start bar to the truncation bar, as float64: the denominator of ``time_left``."""
    price: np.ndarray
    """Close of the decision bar, the mark price."""
    cash: np.ndarray
    units: np.ndarray
    equity: np.ndarray
    peak: np.ndarray
    total_cost: np.ndarray
    sharpe_mean: np.ndarray
    sharpe_second_moment: np.ndarray


class _Filled(NamedTuple):
    """Constants of the dynamics as (N,) arrays.

    On a few hundred elements numpy's call overhead dominates, and ``array op python_float`` takes
    about 1.7 times as long as ``array op array``; so every constant operand of the array dynamics
    is broadcast once, here.
    """

    zero: np.ndarray
    one: np.ndarray
    one_bar: np.ndarray
    """int64 ones: the step from bar t to t + 1."""
    cost_rate: np.ndarray
    min_equity: np.ndarray
    initial_cash: np.ndarray
    action_low: np.ndarray
    leverage: np.ndarray
    fraction_low: np.ndarray
    fraction_high: np.ndarray
    return_low: np.ndarray
    return_high: np.ndarray


def _filled(rules: _Rules, config: TradingEnvConfig, num_envs: int) -> _Filled:
    """The constants of N accounts' dynamics, as read-only (N,) arrays."""
    values = _Filled(
        zero=0.0,
        one=1.0,
        one_bar=1,
        cost_rate=rules.cost_rate,
        min_equity=_MIN_EQUITY,
        initial_cash=rules.initial_cash,
        action_low=-1.0 if config.allow_short else 0.0,
        leverage=config.leverage,
        fraction_low=ACCOUNT_BOUNDS["position_fraction"][0],
        fraction_high=ACCOUNT_BOUNDS["position_fraction"][1],
        return_low=ACCOUNT_BOUNDS["equity_return"][0],
        return_high=ACCOUNT_BOUNDS["equity_return"][1],
    )
    arrays = []
    for value in values:
        array = np.full(num_envs, value, dtype=np.int64 if isinstance(value, int) else np.float64)
        array.flags.writeable = False
        arrays.append(array)
    return _Filled(*arrays)


def _open_accounts(start_bar: np.ndarray, end_bar: np.ndarray, price: np.ndarray, initial_cash: float) -> _Accounts:
    """Fresh accounts holding only cash at their start bars (int64 arrays; ``price`` their closes)."""
    zero = np.zeros(len(start_bar))
    cash = zero + initial_cash
    length = (end_bar - start_bar).astype(np.float64)
    return _Accounts(
        bar=start_bar,
        steps_left=length,
        length=length,
        price=price,
        cash=cash,
        units=zero,
        equity=cash,
        peak=cash,
        total_cost=zero,
        sharpe_mean=zero,
        sharpe_second_moment=zero,
    )


def _advance(
    accounts: _Accounts,
    target: np.ndarray,
    open_prices: np.ndarray,
    close_prices: np.ndarray,
    rules: _Rules,
    filled: _Filled,
) -> tuple[_Accounts, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Move N accounts from decision bar t to t + 1.

    The same arithmetic, in the same order, as :meth:`TradingEnv.step` on one account's floats, so
    the states are bitwise equal (the tests hold the two together). Augmented assignments and
    ``out=`` write only into arrays made earlier in this step, never into one already handed out.

    Args:
        accounts: State at t's close.
        target: Target positions as signed fractions of equity, leverage and short rules applied.
        open_prices: Opens of every bar.
        close_prices: Closes of every bar.
        rules: Costs and reward settings.
        filled: The constants, as (N,) arrays.

    Returns:
        The state at t + 1's close, then (N,) arrays of the traded units, the traded notional, the
        cost, the reward, ``terminated`` (bankrupt) and ``truncated``.
    """
    bar = accounts.bar + filled.one_bar
    steps_left = accounts.steps_left - filled.one
    open_ = open_prices[bar]
    close = close_prices[bar]

    # 1. The order fills at the next open: rebalance to target x equity valued at that open. An
    #    account bankrupt at the open (a gap through zero) is closed out instead (target x 0).
    units = accounts.units * open_
    units += accounts.cash  # equity at the open
    np.maximum(units, filled.zero, out=units)
    units *= target
    units /= open_
    trade_units = units - accounts.units
    # Signed value of the trade at the open; its magnitude equals |trade_units| x open exactly.
    trade_value = trade_units * open_
    traded_notional = np.abs(trade_value)
    # Slippage moves the fill price against the trader (open x (1 +- slippage)); commission is charged
    # on the notional at the open. Both are reported together as the step's cost.
    step_cost = traded_notional * filled.cost_rate
    cash = accounts.cash - trade_value
    cash -= step_cost

    # 2. Mark to market at the next close.
    equity = units * close
    equity += cash
    peak = np.maximum(accounts.peak, equity)

    # 3. Reward from the equity at the two closes.
    sharpe_mean, sharpe_second_moment = accounts.sharpe_mean, accounts.sharpe_second_moment
    if rules.reward == rewards.LOG_RETURN:
        reward = rewards.log_return(accounts.equity, equity, ARRAY_MATH)
    elif rules.reward == rewards.PNL:
        reward = rewards.pnl(accounts.equity, equity, rules.initial_cash)
    else:
        simple_return = equity / accounts.equity
        simple_return -= filled.one
        state = DifferentialSharpeState(sharpe_mean, sharpe_second_moment)
        reward, state = rewards.differential_sharpe(simple_return, state, rules.sharpe_eta, ARRAY_MATH)
        sharpe_mean, sharpe_second_moment = state
    if rules.drawdown_penalty > 0.0:
        drawdown_before = rewards.drawdown(accounts.equity, accounts.peak)
        reward = reward - rewards.drawdown_penalty(
            drawdown_before, rewards.drawdown(equity, peak), rules.drawdown_penalty, ARRAY_MATH
        )

    # 4. Bankruptcy ends the episode; the end of the data or of max_steps cuts it.
    terminated = equity <= filled.zero
    truncated = steps_left <= filled.zero
    if np.count_nonzero(terminated):
        truncated &= ~terminated
    next_accounts = _Accounts(
        bar,  # bar
        steps_left,  # steps_left
        accounts.length,  # length
        close,  # price
        cash,  # cash
        units,  # units
        equity,  # equity
        peak,  # peak
        accounts.total_cost + step_cost,  # total_cost
        sharpe_mean,  # sharpe_mean
        sharpe_second_moment,  # sharpe_second_moment
    )
    return next_accounts, trade_units, traded_notional, step_cost, reward, terminated, truncated


def _overwrite_rows(current: np.ndarray, which: np.ndarray, replacement: np.ndarray) -> np.ndarray:
    """A copy of ``current`` with the rows ``which`` replaced by ``replacement``."""
    merged = current.copy()
    merged[which] = replacement
    return merged


def _overwrite(accounts: _Accounts, which: np.ndarray, fresh: _Accounts) -> _Accounts:
    """Copies of the state arrays with the rows ``which`` replaced by ``fresh``'s."""
    return _Accounts(*map(_overwrite_rows, accounts, [which] * len(accounts), fresh))


# ---------------------------------------------------------------------------------------------------
# The envs
# ---------------------------------------------------------------------------------------------------


class TradingEnv(gym.Env[np.ndarray, np.ndarray | np.int64]):
    """Trade one instrument over historical or synthetic bars by choosing a target position.

    ## Description

    One account trades one instrument. At each decision bar ``t`` the agent sees data up to ``t``'s
    close and picks a target position as a fraction of its equity. The order that reaches the target
    fills at bar ``t + 1``'s open: slippage moves the fill price against the trader and a commission
    is charged on the traded notional; the account is then marked at ``t + 1``'s close, which is the
    next decision bar. There is no look-ahead: nothing the env shows or does up to ``t`` depends on
    bars after ``t``. Features are precomputed once, so a step is an index lookup. Cash may go
    negative (leverage) and short-sale proceeds stay in cash; no interest or borrow fee is charged.

    ## Action Space

    ``market/Trading-v0``: ``Box(-1, 1, (1,), float32)``, the target position as a fraction of the
    largest allowed one: ``target = action * leverage`` of equity (negative is short). Values outside
    [-1, 1] are clipped; NaN raises. ``market/TradingDiscrete-v0``: ``Discrete(n_levels)``, action ``i``
    targets ``linspace(-1, 1, n_levels)[i] * leverage`` (3 levels: short, flat, long). Without
    ``allow_short`` negative targets mean flat. A target is rebalanced at every fill, so a held
    target still trades the drift of the position's weight.

    ## Observation Space

    ``Box(low, high, (8 + window,), float32)``; every entry is clipped to its bounds and finite:

    ======  ======================  ==========  =====================================================
    index   name                    bounds      meaning
    ======  ======================  ==========  =====================================================
    0       sma_ratio_fast_slow     [-1, 10]    SMA(close, 10) / SMA(close, 30) - 1
    1       zscore_close_20         [-10, 10]   (close - SMA(close, 20)) / std(close, 20)
    2       volatility_20           [0, 10]     std of the last 20 log returns, percent per bar
    3       rsi_14                  [-1, 1]     (RSI(14) - 50) / 50
    4       position_fraction       [-10, 10]   position value / equity at the close
    5       equity_return           [-1, 10]    equity / initial_cash - 1
    6       drawdown                [0, 1]      1 - equity / running peak of the episode
    7       time_left               [0, 1]      steps left / episode length
    8 + k   ret_k, k < window       [-10, 10]   log return into bar t - k over the 20-bar
                                                volatility known at t - k - 1
    ======  ======================  ==========  =====================================================

    :data:`OBSERVATION_INDEX` and :func:`observation_index` give these indices by name.

    ## Rewards

    From the equity at consecutive closes, per ``reward``: ``"log_return"`` (default),
    ``log(equity_t+1 / equity_t)`` with the ratio floored at 1e-6 so bankruptcy is finite;
    ``"pnl"``, the equity change over ``initial_cash``; ``"differential_sharpe"``, Moody and Saffell's
    differential Sharpe ratio of the simple returns (adaptation rate ``sharpe_eta``). With
    ``drawdown_penalty > 0``, ``drawdown_penalty x`` each increase of the drawdown is subtracted.

    ## Starting State

    All cash (``initial_cash``), no position, at a start bar after the features' warm-up and at or
    after ``start``: uniform over the allowed starts (drawn from ``np_random``) when ``random_start``,
    else the first allowed bar. ``reset(options={"start": bar_index_or_time})`` pins the start.

    ## Episode End

    Terminated when the equity at a close is at most 0 (bankruptcy). Truncated when the episode
    reaches the last bar at or before ``end`` (or of the data), or after ``max_steps`` steps.

    ## Arguments

    ``TradingEnv(config=None, **settings)``: a :class:`TradingEnvConfig`, a mapping of its settings
    (RLlib's ``env_config``) or None, and keyword settings that override it: ``data``, ``window``,
    ``commission_bps``, ``slippage_bps``, ``allow_short``, ``leverage``, ``reward``,
    ``drawdown_penalty``, ``sharpe_eta``, ``max_steps``, ``random_start``, ``start``, ``end``,
    ``initial_cash``, ``discrete``, ``n_levels`` (see :class:`TradingEnvConfig`); ``render_mode``
    must be None. ``info`` holds :data:`INFO_KEYS`: equity, cash,
    position_units, position_fraction, price (close of the decision bar), trade_units,
    traded_notional, step_cost (commission and slippage of this step), total_cost and bar (row of
    the decision bar in ``env.unwrapped.prices``).

    ## Version History

    * v0: Initial version.

    Example:
        >>> import gymnasium as gym
        >>> import numpy as np
        >>> import market.envs
        >>> env = gym.make("market/Trading-v0", random_start=False, max_steps=3)
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, obs[observation_index("time_left")], info["equity"]
        ((38,), np.float32(1.0), 100000.0)
        >>> for _ in range(3):
        ...     obs, reward, terminated, truncated, info = env.step(np.array([1.0], dtype=np.float32))
        >>> truncated, terminated, round(info["position_fraction"], 6)
        (True, False, 1.0)
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        config: TradingEnvConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        **settings: Any,
    ) -> None:
        """Build the env.

        Args:
            config: Settings as a :class:`TradingEnvConfig`, a mapping of them, or None.
            render_mode: Must be None: the env does not render.
            **settings: Settings that override ``config``.

        Raises:
            ConfigError: If a setting is unknown or invalid, or the data leaves no room for a step.
        """
        if render_mode is not None:
            raise ConfigError(f"render_mode must be None (TradingEnv does not render), got {render_mode!r}")
        self.config = _make_config(config, settings)
        self._market = _load_market(self.config)
        self.action_space, self.observation_space = _spaces(self.config)
        # Settings the step reads, as plain Python values.
        rules = _rules(self.config)
        self._cost_rate = rules.cost_rate
        self._reward_kind = rules.reward
        self._drawdown_weight = rules.drawdown_penalty
        self._sharpe_eta = rules.sharpe_eta
        self._initial_cash = rules.initial_cash
        self._discrete = self.config.discrete
        self._levels = _target_levels(self.config).tolist()
        self._action_low = -1.0 if self.config.allow_short else 0.0
        self._leverage = self.config.leverage
        # Python lists make the step run on floats, not numpy scalars.
        self._opens: list[float] = self._market.open.tolist()
        self._closes: list[float] = self._market.close.tolist()
        self._rows = self._market.rows
        # The account, in Python floats (ints for bars); set by reset.
        self._bar = self._end_bar = self._length = 0
        self._price = self._cash = self._units = self._equity = self._peak = self._total_cost = 0.0
        self._sharpe_mean = self._sharpe_second_moment = 0.0
        self._finished = True

    @property
    def prices(self) -> pd.DataFrame:
        """The price frame the env trades over; ``info["bar"]`` indexes its rows."""
        return self._market.prices

    @property
    def observation_names(self) -> tuple[str, ...]:
        """Names of the observation entries, in order."""
        return observation_names(self.config.window)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode with all cash at a (random or pinned) start bar.

        Args:
            seed: Seed of ``np_random``, which draws the random start.
            options: ``{"start": bar}`` pins the start to a bar index or to the first bar at or after
                a time.

        Returns:
            The first observation and the info.

        Raises:
            ConfigError: If ``options`` has another key or names a start outside the allowed bars.
        """
        super().reset(seed=seed)
        if options:
            start = self._market.pinned_start(_start_option(options))
        else:
            start = self._market.draw_start(self.np_random)
        end = self._market.end_bar(start)
        self._bar, self._end_bar, self._length = start, end, end - start
        self._price = self._closes[start]
        self._cash = self._equity = self._peak = self._initial_cash
        self._units = self._total_cost = self._sharpe_mean = self._sharpe_second_moment = 0.0
        self._finished = False
        observation, fraction = self._observe(start, self._price, self._cash, 0.0, self._cash, self._cash)
        info = {
            INFO_EQUITY: self._equity,
            INFO_CASH: self._cash,
            INFO_POSITION_UNITS: self._units,
            INFO_POSITION_FRACTION: fraction,
            INFO_PRICE: self._price,
            INFO_TRADE_UNITS: 0.0,
            INFO_TRADED_NOTIONAL: 0.0,
            INFO_STEP_COST: 0.0,
            INFO_TOTAL_COST: self._total_cost,
            INFO_BAR: start,
        }
        return observation, info

    def step(
        self, action: np.ndarray | np.int64 | int | float
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Fill the order that reaches the target at the next open and mark at the next close.

        The account is held in Python floats, and this is :func:`_advance` (the N-account dynamics)
        for one account: the same arithmetic in the same order, with the formulas of
        :mod:`market.envs.rewards` written out, so a step is a few dozen float operations.

        Args:
            action: Target position: a (1,) array in [-1, 1] (clipped), or a discrete level index.

        Returns:
            Observation, reward, terminated (bankrupt), truncated (end of data or max_steps), info.

        Raises:
            RuntimeError: If called before ``reset`` or after the episode ended.
            ValueError: If the action is NaN or not a valid level.
        """
        if self._finished:
            raise ResetNeeded("TradingEnv.step called before reset() or after the episode ended; call reset()")
        target = self._target(action)
        bar = self._bar + 1
        open_ = self._opens[bar]
        close = self._closes[bar]

        # 1. The order fills at the next open: rebalance to target x equity valued at that open. An
        #    account bankrupt at the open (a gap through zero) is closed out instead (target x 0).
        units_before, cash_before = self._units, self._cash
        equity_at_open = units_before * open_ + cash_before
        units = (equity_at_open if equity_at_open > 0.0 else 0.0) * target / open_
        trade_units = units - units_before
        # Signed value of the trade at the open; its magnitude equals |trade_units| x open exactly.
        trade_value = trade_units * open_
        traded_notional = abs(trade_value)
        # Slippage and commission, both on the notional at the open: the step's cost.
        step_cost = traded_notional * self._cost_rate
        cash = cash_before - trade_value - step_cost

        # 2. Mark to market at the next close.
        equity = units * close + cash
        equity_before, peak_before = self._equity, self._peak
        peak = equity if equity > peak_before else peak_before

        # 3. Reward from the equity at the two closes (market.envs.rewards, in floats).
        reward_kind = self._reward_kind
        if reward_kind == rewards.LOG_RETURN:
            ratio = equity / equity_before
            reward = math.log(ratio) if ratio > rewards.EQUITY_RATIO_FLOOR else _LOG_EQUITY_RATIO_FLOOR
        elif reward_kind == rewards.PNL:
            reward = (equity - equity_before) / self._initial_cash
        else:
            reward = self._differential_sharpe(equity / equity_before - 1.0)
        if self._drawdown_weight > 0.0:
            deepening = (1.0 - equity / peak) - (1.0 - equity_before / peak_before)
            if deepening > 0.0:
                reward = reward - self._drawdown_weight * deepening

        # 4. Bankruptcy ends the episode; the end of the data or of max_steps cuts it.
        terminated = equity <= 0.0
        truncated = bar >= self._end_bar and not terminated
        self._finished = terminated or truncated
        total_cost = self._total_cost + step_cost
        self._bar, self._price, self._cash, self._units = bar, close, cash, units
        self._equity, self._peak, self._total_cost = equity, peak, total_cost

        # 5. What the agent sees at the new decision bar's close.
        observation, fraction = self._observe(bar, close, cash, units, equity, peak)
        info = {
            INFO_EQUITY: equity,
            INFO_CASH: cash,
            INFO_POSITION_UNITS: units,
            INFO_POSITION_FRACTION: fraction,
            INFO_PRICE: close,
            INFO_TRADE_UNITS: trade_units,
            INFO_TRADED_NOTIONAL: traded_notional,
            INFO_STEP_COST: step_cost,
            INFO_TOTAL_COST: total_cost,
            INFO_BAR: bar,
        }
        return observation, reward, terminated, truncated, info

    def _target(self, action: np.ndarray | np.int64 | int | float) -> float:
        """Target position (signed fraction of equity) of an action, after checking its shape and type.

        Continuous: a ``(1,)`` array of a real number, clipped to the action's range; discrete: an
        integer level (a Python or numpy integer, or a one-element integer array).

        Raises:
            ActionError: an action of another shape or type, a NaN, or a level out of range.
        """
        if self._discrete:
            return self._levels[_level_of(action, len(self._levels))]
        if type(action) is np.ndarray and action.shape == _ACTION_SHAPE and action.dtype.kind == "f":
            value = float(action[0])  # the common case: what RLlib and the policies send
        else:
            array = None if isinstance(action, str | bytes) else np.asarray(action)
            if array is None or array.shape != _ACTION_SHAPE or array.dtype.kind not in "iuf":
                raise ActionError(f"TradingEnv action: expected an array of shape (1,) holding one number in [-1, 1] (clipped), got {action!r}")
            value = float(array[0])
        if value != value:
            raise ActionError(f"action must not be NaN, got {action!r}")
        low = self._action_low
        return (low if value < low else 1.0 if value > 1.0 else value) * self._leverage

    def _differential_sharpe(self, simple_return: float) -> float:
        """:func:`rewards.differential_sharpe` in floats; moves the episode's moment estimates."""
        mean, second_moment = self._sharpe_mean, self._sharpe_second_moment
        delta_mean = simple_return - mean
        delta_second = simple_return * simple_return - second_moment
        variance = second_moment - mean * mean
        self._sharpe_mean = mean + self._sharpe_eta * delta_mean
        self._sharpe_second_moment = second_moment + self._sharpe_eta * delta_second
        if variance > rewards.VARIANCE_FLOOR:
            return (second_moment * delta_mean - 0.5 * mean * delta_second) / variance**1.5
        return 0.0

    def _observe(
        self, bar: int, price: float, cash: float, units: float, equity: float, peak: float
    ) -> tuple[np.ndarray, float]:
        """Observation and position fraction of the account at a decision bar's close.

        :meth:`TradingVectorEnv._observe` for one account: the precomputed row with the account
        entries filled in, clipped to their bounds. The position fraction (position value over
        equity) is 0 once the equity is gone. The drawdown is never negative (peak >= equity) and
        ``time_left`` is in [0, 1] by construction, so they need no lower clip.
        """
        if equity > 0.0:
            fraction = units * price / (equity if equity > _MIN_EQUITY else _MIN_EQUITY)
        else:
            fraction = 0.0
        equity_return = equity / self._initial_cash - 1.0
        drawdown = 1.0 - equity / peak
        observation = self._rows[bar].copy()
        observation[_POSITION_COLUMN] = (
            _FRACTION_LOW if fraction < _FRACTION_LOW else _FRACTION_HIGH if fraction > _FRACTION_HIGH else fraction
        )
        observation[_EQUITY_RETURN_COLUMN] = (
            _RETURN_LOW
            if equity_return < _RETURN_LOW
            else _RETURN_HIGH if equity_return > _RETURN_HIGH else equity_return
        )
        observation[_DRAWDOWN_COLUMN] = drawdown if drawdown < 1.0 else 1.0
        observation[_TIME_LEFT_COLUMN] = (self._end_bar - bar) / self._length
        return observation, fraction


_ACTION_SHAPE = (1,)
"""The continuous action's shape: one target position."""


def _level_of(action: Any, levels: int) -> int:
    """The level index of a discrete action: an integer in ``[0, levels)``, as a Python int.

    Raises:
        ActionError: a float (1.5 is no level), a bool, a string, an array of more than one value, or
            an index out of range.
    """
    if type(action) is int or isinstance(action, np.integer):
        level = int(action)
    else:
        array = None if isinstance(action, str | bytes) else np.asarray(action)
        if array is None or array.dtype.kind not in "iu" or array.size != 1 or array.ndim > 1:
            raise ActionError(f"TradingDiscrete action: expected an integer level in [0, {levels - 1}], got {action!r}")
        level = int(array.reshape(1)[0])
    if not 0 <= level < levels:
        raise ActionError(f"action must be a level in [0, {levels - 1}], got {action!r}")
    return level


def _start_option(options: Mapping[str, Any]) -> Any:
    """The ``start`` entry of reset options, rejecting any other key."""
    for key in options:
        if key != "start":
            raise ConfigError(f"unknown reset option {key!r} (value {options[key]!r}); the only option is 'start'")
    return options["start"]


class TradingVectorEnv(VectorEnv[np.ndarray, np.ndarray, np.ndarray]):
    """N independent :class:`TradingEnv` accounts stepped together with numpy, one array op per quantity.

    The dynamics are :class:`TradingEnv`'s arithmetic on arrays of shape ``(N,)``, so sub-env ``i`` of
    ``TradingVectorEnv(num_envs=N, ...)`` reset with ``seed`` behaves exactly like a ``TradingEnv``
    reset with ``seed + i`` and then reset without a seed at each episode end. Episodes
    end independently and reset on the next step (``AutoresetMode.NEXT_STEP``, which RLlib assumes):
    that step ignores the sub-env's action and returns its first observation with reward 0. The only
    per-env Python work is drawing the start bar of a sub-env that resets, from its own generator.

    Observations are ``(N, 8 + window)`` float32 (layout in :class:`TradingEnv`); rewards float64,
    terminations and truncations bool, each ``(N,)``; ``infos`` maps every key of :data:`INFO_KEYS` to
    an ``(N,)`` array, with the usual ``"_key"`` masks (all True).

    Example:
        >>> import gymnasium as gym
        >>> import market.envs
        >>> envs = gym.make_vec("market/Trading-v0", num_envs=4, vectorization_mode="vector_entry_point")
        >>> obs, infos = envs.reset(seed=0)
        >>> obs.shape, infos["equity"].shape, envs.metadata["autoreset_mode"]
        ((4, 38), (4,), <AutoresetMode.NEXT_STEP: 'NextStep'>)
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        config: TradingEnvConfig | Mapping[str, Any] | None = None,
        *,
        num_envs: int | None = None,
        **settings: Any,
    ) -> None:
        """Build N accounts over one shared price frame.

        Args:
            config: Settings as a :class:`TradingEnvConfig`, a mapping of them (which may also hold
                ``num_envs``, as RLlib passes it), or None.
            num_envs: Number of sub-envs, at least 1 (default 1).
            **settings: Settings that override ``config``.

        Raises:
            ConfigError: If ``num_envs`` or a setting is invalid.
        """
        if isinstance(config, Mapping) and not isinstance(config, TradingEnvConfig) and "num_envs" in config:
            config = dict(config)
            from_config = config.pop("num_envs")
            if num_envs is not None and num_envs != from_config:
                raise ConfigError(f"num_envs given twice with different values: {num_envs!r} and {from_config!r}")
            num_envs = from_config
        num_envs = 1 if num_envs is None else num_envs
        _check_int("num_envs", num_envs, minimum=1)
        self.config = _make_config(config, settings)
        self.num_envs = num_envs
        self._market = _load_market(self.config)
        self._rules = _rules(self.config)
        self._filled = _filled(self._rules, self.config, num_envs)
        self.single_action_space, self.single_observation_space = _spaces(self.config)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._levels = _target_levels(self.config)
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._accounts: _Accounts | None = None
        self._autoreset = np.zeros(num_envs, dtype=np.bool_)
        self._zeros = np.zeros(num_envs)
        self._zeros.flags.writeable = False
        every_env = np.ones(num_envs, dtype=np.bool_)
        every_env.flags.writeable = False
        self._info_masks = {f"_{key}": every_env for key in INFO_KEYS}

    @property
    def prices(self) -> pd.DataFrame:
        """The price frame all sub-envs trade over; ``infos["bar"]`` indexes its rows."""
        return self._market.prices

    @property
    def observation_names(self) -> tuple[str, ...]:
        """Names of the entries of one sub-env's observation, in order."""
        return observation_names(self.config.window)

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-env.

        Args:
            seed: None (keep each sub-env's generator, or seed it from entropy), an int (sub-env ``i``
                gets ``seed + i``), or one seed (or None) per sub-env.
            options: ``{"start": bar}`` pins every sub-env's start (one value, or one per sub-env).

        Returns:
            Observations ``(N, 8 + window)`` and infos.

        Raises:
            ConfigError: If the seeds or options are malformed.
        """
        seeds = self._seeds(seed)
        if isinstance(seed, int):
            super().reset(seed=seed)
        for i, sub_seed in enumerate(seeds):
            if sub_seed is not None or self._rngs[i] is None:
                self._rngs[i] = seeding.np_random(sub_seed)[0]
        if options:
            starts = self._pinned_starts(_start_option(options))
        else:
            starts = np.array([self._market.draw_start(rng) for rng in self._rngs], dtype=np.int64)
        self._accounts = self._fresh_accounts(starts)
        self._autoreset = np.zeros(self.num_envs, dtype=np.bool_)
        zeros = self._zeros
        return self._observe(self._accounts, zeros, zeros, zeros, self._autoreset)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-env; sub-envs whose episode ended on the last step reset instead.

        Args:
            actions: ``(N, 1)`` (or ``(N,)``) targets in [-1, 1], or ``(N,)`` level indices.

        Returns:
            Observations, rewards, terminations, truncations and infos, batched over sub-envs.

        Raises:
            RuntimeError: If called before ``reset``.
            ValueError: If an action is NaN or not a valid level.
        """
        if self._accounts is None:
            raise ResetNeeded("TradingVectorEnv.step called before reset()")
        target = self._targets(actions)
        accounts = self._accounts
        restarting = np.flatnonzero(self._autoreset) if np.count_nonzero(self._autoreset) else None
        if restarting is not None:
            # Next-step autoreset: those sub-envs start a new episode and skip this step's action.
            # The step below runs on all rows; for these it only needs a valid bar to read and a
            # positive equity to divide by, and its results there are replaced by the fresh state.
            starts = np.array([self._market.draw_start(self._rngs[i]) for i in restarting], dtype=np.int64)
            fresh = self._fresh_accounts(starts)
            accounts = accounts._replace(
                bar=_overwrite_rows(accounts.bar, restarting, fresh.bar),
                equity=_overwrite_rows(accounts.equity, restarting, fresh.equity),
            )
        accounts, trade_units, traded_notional, step_cost, reward, terminated, truncated = _advance(
            accounts, target, self._market.open, self._market.close, self._rules, self._filled
        )
        if restarting is not None:
            accounts = _overwrite(accounts, restarting, fresh)
            for flow in (trade_units, traded_notional, step_cost, reward):
                flow[restarting] = 0.0
            terminated[restarting] = False
            truncated[restarting] = False
        self._accounts = accounts
        self._autoreset = terminated | truncated
        observations, infos = self._observe(accounts, trade_units, traded_notional, step_cost, terminated)
        return observations, reward, terminated, truncated, infos

    def _seeds(self, seed: int | Sequence[int | None] | None) -> list[int | None]:
        """One seed (or None) per sub-env, following SyncVectorEnv's convention."""
        if seed is None:
            return [None] * self.num_envs
        if isinstance(seed, int) and not isinstance(seed, bool):
            return [seed + i for i in range(self.num_envs)]
        if isinstance(seed, Sequence) and len(seed) == self.num_envs:
            return list(seed)
        raise ConfigError(f"seed must be None, an int or {self.num_envs} seeds, got {seed!r}")

    def _pinned_starts(self, value: Any) -> np.ndarray:
        """Start bars from ``options["start"]``: one value for all sub-envs, or one per sub-env."""
        if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str):
            if len(value) != self.num_envs:
                raise ConfigError(f"options['start'] must hold {self.num_envs} starts, got {value!r}")
            return np.array([self._market.pinned_start(item) for item in value], dtype=np.int64)
        return np.full(self.num_envs, self._market.pinned_start(value), dtype=np.int64)

    def _fresh_accounts(self, starts: np.ndarray) -> _Accounts:
        """Fresh accounts starting at ``starts`` (int64, one per sub-env that starts an episode)."""
        end_bars = np.array([self._market.end_bar(int(start)) for start in starts], dtype=np.int64)
        return _open_accounts(starts, end_bars, self._market.close[starts], self._rules.initial_cash)

    def _targets(self, actions: np.ndarray) -> np.ndarray:
        """Target positions (signed fractions of equity) of a batch of actions."""
        array = np.asarray(actions)
        n = self.num_envs
        if self.config.discrete:
            if array.shape not in ((n,), (n, 1)) or array.dtype.kind not in "iu":
                raise ActionError(f"TradingVectorEnv actions: expected integer levels of shape ({n},), got shape {array.shape} of {array.dtype}")
            levels = array.reshape(n)
            if np.count_nonzero((levels < 0) | (levels >= len(self._levels))):
                raise ActionError(f"actions must be levels in [0, {len(self._levels) - 1}], got {actions!r}")
            return self._levels[levels]
        if array.shape not in ((n, 1), (n,)) or array.dtype.kind not in "iuf":
            raise ActionError(f"TradingVectorEnv actions: expected numbers of shape ({n}, 1), got shape {array.shape} of {array.dtype}")
        filled = self._filled
        # float32 (or any real) actions; the first operation gives float64.
        target = np.maximum(array.reshape(n), filled.action_low)
        if np.count_nonzero(np.isnan(target)):
            raise ActionError(f"actions must not be NaN, got {actions!r}")
        np.minimum(target, filled.one, out=target)
        if self.config.leverage != 1.0:
            target *= filled.leverage
        return target

    def _observe(
        self,
        accounts: _Accounts,
        trade_units: np.ndarray,
        traded_notional: np.ndarray,
        step_cost: np.ndarray,
        bankrupt: np.ndarray,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Observations (precomputed rows with the account entries filled in) and infos.

        :meth:`TradingEnv._observe` for N accounts. ``bankrupt`` marks the accounts whose equity is
        gone (the step's terminations). Infos are in Gymnasium's vector form: an (N,) array and an
        all-True ``_key`` mask per key.
        """
        filled, equity = self._filled, accounts.equity
        # The account features, clipped to their bounds. With positive equity the equity return is
        # above -1 and the drawdown below 1, so those clips (and zeroing the position fraction)
        # apply only when an account is bankrupt. The drawdown is never negative (peak >= equity)
        # and time_left is in [0, 1] by construction: they need no lower clip.
        fraction = accounts.units * accounts.price
        fraction /= np.maximum(equity, filled.min_equity)
        position = np.maximum(fraction, filled.fraction_low)
        np.minimum(position, filled.fraction_high, out=position)
        equity_return = equity / filled.initial_cash
        equity_return -= filled.one
        np.minimum(equity_return, filled.return_high, out=equity_return)
        drawdown = equity / accounts.peak
        np.subtract(filled.one, drawdown, out=drawdown)
        if np.count_nonzero(bankrupt):
            # Position value over equity is 0 once the equity is gone (the account resets next step).
            fraction[bankrupt] = position[bankrupt] = 0.0
            np.maximum(equity_return, filled.return_low, out=equity_return)
            np.minimum(drawdown, filled.one, out=drawdown)
        # One gather of the precomputed rows, then the four account columns.
        observations = self._market.rows.take(accounts.bar, axis=0)
        observations[:, _POSITION_COLUMN] = position
        observations[:, _EQUITY_RETURN_COLUMN] = equity_return
        observations[:, _DRAWDOWN_COLUMN] = drawdown
        observations[:, _TIME_LEFT_COLUMN] = accounts.steps_left / accounts.length
        infos = {
            INFO_EQUITY: accounts.equity,
            INFO_CASH: accounts.cash,
            INFO_POSITION_UNITS: accounts.units,
            INFO_POSITION_FRACTION: fraction,
            INFO_PRICE: accounts.price,
            INFO_TRADE_UNITS: trade_units,
            INFO_TRADED_NOTIONAL: traded_notional,
            INFO_STEP_COST: step_cost,
            INFO_TOTAL_COST: accounts.total_cost,
            INFO_BAR: accounts.bar,
            **self._info_masks,
        }
        return observations, infos
