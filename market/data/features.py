"""Precomputed feature matrices: the market half of a trading env's observation, computed once.

:func:`compute_features` turns a validated price frame into one float64 matrix with a row per bar, so
that an env step reads its observation with an index lookup instead of recomputing indicators. Every
value in row ``t`` is computed from bars ``0..t`` only (no look-ahead): rolling windows end at ``t``,
and returns are normalised by the volatility known at ``t - 1``.

Columns, in order (:func:`feature_names`):

=====================  =================================================================  ============
name                   meaning                                                            bounds
=====================  =================================================================  ============
sma_ratio_fast_slow    SMA(close, 10) / SMA(close, 30) - 1                                [-1, 10]
zscore_close_20        (close - SMA(close, 20)) / std(close, 20); 0 when the std is 0     [-10, 10]
volatility_20          std of the last 20 log returns, in percent per bar                [0, 10]
rsi_14                 (RSI(14) - 50) / 50 with simple 14-bar averages (Cutler's RSI)     [-1, 1]
ret_0 .. ret_{w-1}     log return of bar t-k divided by the 20-bar volatility at t-k-1   [-10, 10]
=====================  =================================================================  ============

Every column is clipped to its bounds. Rows before :func:`warmup_bars` (where a rolling window is not
yet full) are NaN, so a caller that starts too early fails loudly instead of training on zeros; every
later row is finite.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

import numpy as np
import pandas as pd

from market.data.loading import CLOSE

SMA_FAST: Final = 10
"""Bars in the fast simple moving average of ``sma_ratio_fast_slow``."""
SMA_SLOW: Final = 30
"""Bars in the slow simple moving average of ``sma_ratio_fast_slow``."""
ZSCORE_LOOKBACK: Final = 20
"""Bars in the mean and standard deviation of ``zscore_close_20``."""
VOLATILITY_LOOKBACK: Final = 20
"""Log returns in ``volatility_20`` and in the scale of the normalised returns ``ret_k``."""
RSI_LOOKBACK: Final = 14
"""Price changes averaged in ``rsi_14``."""

FEATURE_CLIP: Final = 10.0
"""Largest magnitude of any feature; unbounded indicators are clipped to it."""

TECHNICAL_FEATURES: Final[tuple[str, ...]] = (
    "sma_ratio_fast_slow",
    "zscore_close_20",
    "volatility_20",
    "rsi_14",
)
"""Names of the indicator columns, which come first in :func:`compute_features`'s matrix."""

FEATURE_BOUNDS: Final = MappingProxyType(
    {
        "sma_ratio_fast_slow": (-1.0, FEATURE_CLIP),
        "zscore_close_20": (-FEATURE_CLIP, FEATURE_CLIP),
        "volatility_20": (0.0, FEATURE_CLIP),
        "rsi_14": (-1.0, 1.0),
    }
)
"""Closed bounds of each indicator column; every normalised return ``ret_k`` lies in ``RETURN_BOUNDS``."""

RETURN_BOUNDS: Final = (-FEATURE_CLIP, FEATURE_CLIP)
"""Closed bounds of the normalised returns ``ret_0 .. ret_{window-1}``."""

_VOLATILITY_FLOOR: Final = 1e-12
"""Smallest volatility a return is divided by, so that a flat stretch of prices gives no inf."""


def return_feature_names(window: int) -> tuple[str, ...]:
    """Names of the normalised-return columns, newest first.

    Args:
        window: Number of returns in the window.

    Returns:
        ``("ret_0", "ret_1", ..., f"ret_{window - 1}")``; ``ret_0`` is the return into the current bar.
    """
    return tuple(f"ret_{lag}" for lag in range(window))


def feature_names(window: int) -> tuple[str, ...]:
    """Names of the columns of :func:`compute_features`'s matrix, in order.

    Args:
        window: Number of returns in the window.

    Returns:
        :data:`TECHNICAL_FEATURES` followed by :func:`return_feature_names`.
    """
    return TECHNICAL_FEATURES + return_feature_names(window)


def feature_bounds(window: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of every column of :func:`compute_features`'s matrix.

    Args:
        window: Number of returns in the window.

    Returns:
        Two float64 arrays of length ``len(feature_names(window))``.
    """
    low = [FEATURE_BOUNDS[name][0] for name in TECHNICAL_FEATURES] + [RETURN_BOUNDS[0]] * window
    high = [FEATURE_BOUNDS[name][1] for name in TECHNICAL_FEATURES] + [RETURN_BOUNDS[1]] * window
    return np.array(low, dtype=np.float64), np.array(high, dtype=np.float64)


def warmup_bars(window: int) -> int:
    """Index of the first row whose features are all defined.

    The slow moving average needs ``SMA_SLOW`` closes; the oldest normalised return in the window,
    ``ret_{window-1}``, needs a full volatility window of ``VOLATILITY_LOOKBACK`` returns before it.

    Args:
        window: Number of returns in the window.

    Returns:
        The first bar index at which an observation can be read.
    """
    return max(SMA_SLOW - 1, VOLATILITY_LOOKBACK + window)


def compute_features(prices: pd.DataFrame, window: int) -> np.ndarray:
    """Compute the feature matrix of a price frame.

    Args:
        prices: Frame with a float ``close`` column of positive, finite prices in time order.
        window: Number of normalised returns per row, at least 1.

    Returns:
        A float64 array of shape ``(len(prices), len(feature_names(window)))``. Row ``t`` depends on
        ``close[0..t]`` only. Rows before ``warmup_bars(window)`` are NaN; all later values are finite
        and inside :func:`feature_bounds`.

    Raises:
        ValueError: If ``window`` is not a positive integer or ``prices`` has no ``close`` column.
    """
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window!r}")
    if CLOSE not in prices.columns:
        raise ValueError(f"prices must have a {CLOSE!r} column, got columns {list(prices.columns)}")
    close = pd.Series(prices[CLOSE].to_numpy(dtype=np.float64, copy=True))
    n_bars = len(close)

    # Trend: fast over slow simple moving average.
    sma_ratio = close.rolling(SMA_FAST).mean() / close.rolling(SMA_SLOW).mean() - 1.0

    # Mean reversion: distance of the close from its 20-bar mean, in standard deviations.
    mean = close.rolling(ZSCORE_LOOKBACK).mean()
    std = close.rolling(ZSCORE_LOOKBACK).std(ddof=0)
    spread = close - mean
    has_spread = std > 1e-12 * mean
    zscore = (spread / std.where(has_spread, 1.0)).where(has_spread | mean.isna(), 0.0)

    # Volatility of log returns, per bar.
    log_return = np.log(close).diff()
    volatility = log_return.rolling(VOLATILITY_LOOKBACK).std(ddof=0)

    # Momentum oscillator: average gain against average loss of close-to-close changes.
    change = close.diff()
    gain = change.clip(lower=0.0).rolling(RSI_LOOKBACK).mean()
    loss = (-change).clip(lower=0.0).rolling(RSI_LOOKBACK).mean()
    total = gain + loss
    has_moves = total > 0.0
    rsi = ((gain - loss) / total.where(has_moves, 1.0)).where(has_moves | total.isna(), 0.0)

    # Returns scaled by the volatility known one bar earlier, so a shock stands out.
    scale = np.maximum(volatility.shift(1).to_numpy(), _VOLATILITY_FLOOR)
    normalised = log_return.to_numpy() / scale

    matrix = np.empty((n_bars, len(TECHNICAL_FEATURES) + window), dtype=np.float64)
    matrix[:, 0] = sma_ratio.to_numpy()
    matrix[:, 1] = zscore.to_numpy()
    matrix[:, 2] = 100.0 * volatility.to_numpy()
    matrix[:, 3] = rsi.to_numpy()
    first_return_column = len(TECHNICAL_FEATURES)
    for lag in range(window):
        column = matrix[:, first_return_column + lag]
        column[:lag] = np.nan
        column[lag:] = normalised[: n_bars - lag]

    low, high = feature_bounds(window)
    np.clip(matrix, low, high, out=matrix)
    matrix[: warmup_bars(window)] = np.nan
    return matrix
