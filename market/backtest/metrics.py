"""The backtest's metric set: its keys, their display order, and :func:`compute_metrics`.

Every number comes from :mod:`market.stats`, the one home of the product's statistics and their
conventions (drawdowns are negative fractions, as in empyrical; a ratio with no risk is ``nan``);
this module only chooses which of them a backtest reports and under which keys. The functions of
:mod:`market.stats` are re-exported here, so ``metrics.sharpe_ratio`` and the like keep working.

Example:
    >>> import numpy as np
    >>> returns = np.array([0.10, -0.20, 0.05])
    >>> metrics = compute_metrics(returns, periods_per_year=252)
    >>> list(metrics) == list(METRIC_KEYS)
    True
    >>> round(metrics[MAX_DRAWDOWN], 6)
    -0.2
"""

from __future__ import annotations

import numpy.typing as npt

from market.stats import (
    annualized_return,
    annualized_volatility,
    calmar_ratio,
    costs_paid,
    drawdown_series,
    exposure,
    hit_rate,
    max_drawdown,
    periods_per_year,
    resolve_periods_per_year,
    sharpe_ratio,
    sortino_ratio,
    total_return,
    turnover,
    validated_finite,
    validated_returns,
)

__all__ = [
    "ANNUALIZED_RETURN",
    "ANNUALIZED_VOLATILITY",
    "CALMAR_RATIO",
    "COSTS_PAID",
    "EXPOSURE",
    "HIT_RATE",
    "MAX_DRAWDOWN",
    "METRIC_KEYS",
    "PERIODS_PER_YEAR",
    "SHARPE_RATIO",
    "SORTINO_RATIO",
    "TOTAL_RETURN",
    "TURNOVER",
    "annualized_return",
    "annualized_volatility",
    "calmar_ratio",
    "compute_metrics",
    "costs_paid",
    "drawdown_series",
    "exposure",
    "hit_rate",
    "max_drawdown",
    "periods_per_year",
    "sharpe_ratio",
    "sortino_ratio",
    "total_return",
    "turnover",
]

# Metric keys of compute_metrics, defined once; METRIC_KEYS is their display order.
TOTAL_RETURN = "total_return"
ANNUALIZED_RETURN = "annualized_return"
ANNUALIZED_VOLATILITY = "annualized_volatility"
SHARPE_RATIO = "sharpe_ratio"
SORTINO_RATIO = "sortino_ratio"
MAX_DRAWDOWN = "max_drawdown"
CALMAR_RATIO = "calmar_ratio"
TURNOVER = "turnover"
HIT_RATE = "hit_rate"
EXPOSURE = "exposure"
COSTS_PAID = "costs_paid"
PERIODS_PER_YEAR = "periods_per_year"
METRIC_KEYS: tuple[str, ...] = (
    TOTAL_RETURN,
    ANNUALIZED_RETURN,
    ANNUALIZED_VOLATILITY,
    SHARPE_RATIO,
    SORTINO_RATIO,
    MAX_DRAWDOWN,
    CALMAR_RATIO,
    TURNOVER,
    HIT_RATE,
    EXPOSURE,
    COSTS_PAID,
    PERIODS_PER_YEAR,
)

_NAN = float("nan")


def compute_metrics(
    returns: npt.ArrayLike,
    *,
    positions: npt.ArrayLike | None = None,
    costs: npt.ArrayLike | None = None,
    periods_per_year: float | None = None,
    risk_free: float = 0.0,
) -> dict[str, float]:
    """Every metric of a return series, keyed by the constants of this module.

    Args:
        returns: The strategy's simple per-bar returns.
        positions: Position held over each bar, as long as ``returns``; without it turnover,
            hit rate and exposure are ``nan``.
        costs: Cost paid at each bar, as long as ``returns``; without it costs paid is ``nan``.
        periods_per_year: Bars per year; ``None`` infers it from the index of a Series.
        risk_free: Per-bar risk-free return: Sharpe's benchmark and Sortino's required return.

    Returns:
        A dict of floats with exactly the keys of :data:`METRIC_KEYS`, in that order, the last
        one being the periods per year used.

    Raises:
        StatisticsError: On bad inputs, lengths that differ, or an annualization that is neither given
            nor inferable.
    """
    # Validate the inputs once and settle the annualization.
    bars_per_year = resolve_periods_per_year(returns, periods_per_year)
    values = validated_returns(returns)
    held = None if positions is None else validated_finite(positions, "positions", length=values.size)
    paid = None if costs is None else validated_finite(costs, "costs", length=values.size)

    # Return and risk, from the returns alone.
    metrics = {
        TOTAL_RETURN: total_return(values),
        ANNUALIZED_RETURN: annualized_return(values, periods_per_year=bars_per_year),
        ANNUALIZED_VOLATILITY: annualized_volatility(values, periods_per_year=bars_per_year),
        SHARPE_RATIO: sharpe_ratio(values, risk_free=risk_free, periods_per_year=bars_per_year),
        SORTINO_RATIO: sortino_ratio(values, required_return=risk_free, periods_per_year=bars_per_year),
        MAX_DRAWDOWN: max_drawdown(values),
        CALMAR_RATIO: calmar_ratio(values, periods_per_year=bars_per_year),
    }

    # Trading behaviour, from the positions and costs when given.
    metrics[TURNOVER] = _NAN if held is None else turnover(held)
    metrics[HIT_RATE] = _NAN if held is None else hit_rate(values, held)
    metrics[EXPOSURE] = _NAN if held is None else exposure(held)
    metrics[COSTS_PAID] = _NAN if paid is None else costs_paid(paid)

    # The annualization used, so a manifest can be read on its own.
    metrics[PERIODS_PER_YEAR] = bars_per_year
    return metrics
