"""Statistics of return series, level paths and fills: pure, vectorized numpy functions.

This module is the one home of every statistic the product reports about a trader or a price:
total and annualized return, volatility, Sharpe, Sortino, drawdown, Calmar, the position-based
figures (turnover, hit rate, exposure, costs paid), a maker's edge against the mid (spread
capture), and the rule that turns a bar spacing into an annualization factor
(:func:`periods_per_year`). The backtest's metric set (:mod:`market.backtest.metrics`), the market
run summary (:mod:`market.simulation`) and the dashboard all call these functions; none of them
does its own arithmetic. It imports nothing from the rest of the product but its error class, does
no I/O and keeps no state.

Conventions, shared by every function:

* ``returns[t]`` is the simple return of bar ``t`` (``0.01`` is +1 %); equity starts at 1 and
  compounds: ``equity[t] = prod(1 + returns[: t + 1])``. ``positions[t]`` is the position (a
  fraction of equity, signed) held over bar ``t``, the one that earned ``returns[t]``.
* Inputs are 1-D, finite, and every return is ``>= -1`` (``-1`` wipes equity out; below ``-1``
  equity would turn negative, which compounding cannot express). Anything else raises
  :class:`~market.errors.StatisticsError` (a ``ValueError`` and a ``MarketError``) naming the
  position (and the index label, for a ``pandas.Series``).
* **Drawdowns are negative fractions**, as in empyrical: ``-0.25`` is 25 % below the running peak,
  ``-1.0`` is equity at zero, ``0.0`` is at a peak. This holds for every drawdown in the product:
  the backtest's ``max_drawdown``, a market run's ``max_drawdown`` of the mid, and the dashboard's
  drawdown curves and leaderboard. From returns (:func:`drawdown_series`) the initial equity of 1
  counts as a peak; from a level path (:func:`path_drawdowns`) the path's first value is the
  first peak.
* **Spread capture** is a maker's edge against a reference mid (:func:`maker_edges`): for each
  fill, the distance of the fill price from the mid times the lots, positive when the maker sold
  above the mid or bought below it, in the units of the prices given (ticks x lots in the market).
* The risk-return functions agree with empyrical-reloaded (``cum_returns_final``,
  ``annual_return``, ``annual_volatility``, ``sharpe_ratio``, ``sortino_ratio``, ``max_drawdown``,
  ``calmar_ratio``) wherever empyrical gives a finite number. Where it is undefined we return
  ``nan``: an empty series gives ``nan`` everywhere (except :func:`costs_paid`, which is 0),
  volatility, Sharpe and Sortino need 2 bars, and **a ratio whose risk denominator is zero is
  nan** (Sharpe of a constant series, Sortino with no bar below the required return, Calmar
  with no drawdown). empyrical returns ``+-inf`` for the first two; we do not, so that a
  leaderboard never ranks a riskless fluke first and a manifest never holds an infinity.
* Annualized metrics take ``periods_per_year``. Left as ``None``, it is inferred from the
  ``DatetimeIndex`` of a ``pandas.Series`` of returns with :func:`periods_per_year`. A Sharpe ratio
  "per step" (not annualized) is ``sharpe_ratio(returns, periods_per_year=1)``.

Example:
    >>> import numpy as np
    >>> returns = np.array([0.10, -0.20, 0.05])
    >>> round(total_return(returns), 6)
    -0.076
    >>> round(max_drawdown(returns), 6)
    -0.2
    >>> round(path_max_drawdown(np.array([100.0, 110.0, 88.0, 92.4])), 6)
    -0.2
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd

from market.errors import StatisticsError

__all__ = [
    "annualized_return",
    "annualized_volatility",
    "calmar_ratio",
    "costs_paid",
    "drawdown_series",
    "exposure",
    "hit_rate",
    "maker_edges",
    "max_drawdown",
    "path_drawdowns",
    "path_max_drawdown",
    "path_sharpe_ratio",
    "periods_per_year",
    "resolve_periods_per_year",
    "sharpe_ratio",
    "simple_returns",
    "sortino_ratio",
    "total_return",
    "turnover",
    "validated_finite",
    "validated_returns",
]

# Annualization rule (see periods_per_year).
TRADING_DAYS_PER_YEAR = 252  # exchange trading days, the convention of empyrical's "daily"
CALENDAR_DAYS_PER_YEAR = 365  # markets that trade every day (crypto, 24/7 FX)
_DAYS_PER_YEAR = 365.25  # length of a year for bars two days apart or more
_LONG_BAR_DAYS = 2.0  # median spacing from which bars count as weekly-or-longer
_SATURDAY = 5  # pandas day_of_week of Saturday

_NAN = float("nan")


def periods_per_year(index: pd.DatetimeIndex) -> float:
    """Infer how many bars make a year from the timestamps of a series.

    The rule, in order:

    1. Bars two days apart or more (median spacing): weekly, monthly, quarterly or yearly bars
       give ``365.25 / spacing_in_days`` rounded to a whole number (52, 26, 12, 4, 1).
    2. Otherwise the market's trading days per year are 365 if any bar falls on a Saturday
       (the market trades every day: crypto, 24/7 FX) and 252 if none does (exchange days).
    3. Bars per trading day are the median number of bars per calendar date, leaving out the
       first and last dates (often partial) when there are at least three: 1 for daily bars,
       24 for 24/7 hourly bars, 7 for hourly equity bars stamped 9:30 to 15:30, 390 for US
       equity minute bars. Dates are taken in the index's own time zone.
    4. The answer is bars per trading day times trading days per year: daily business bars
       give 252, daily 24/7 bars 365, hourly 24/7 bars 8760, US equity minute bars 98280.

    Data shorter than a week may show no Saturday even if its market trades every day, and
    intraday data spanning one or two dates may show only partial days; pass an explicit
    ``periods_per_year`` to the metrics for such short samples.

    Args:
        index: The bar timestamps, strictly increasing, at least two of them.

    Returns:
        The number of bars in one year.

    Raises:
        TypeError: If ``index`` is not a ``pandas.DatetimeIndex``.
        StatisticsError: If it has fewer than two timestamps, a NaT, is not strictly increasing, or
            its bars are more than about two years apart.

    Example:
        >>> import pandas as pd
        >>> periods_per_year(pd.bdate_range("2024-01-01", periods=30))
        252.0
        >>> periods_per_year(pd.date_range("2024-01-01", periods=24 * 30, freq="h"))
        8760.0
    """
    # Check the index: timestamps, at least two, no NaT, strictly increasing.
    if not isinstance(index, pd.DatetimeIndex):
        raise TypeError(f"periods_per_year needs a pandas.DatetimeIndex, got {type(index).__name__}")
    if len(index) < 2:
        raise StatisticsError(
            f"periods_per_year needs at least 2 timestamps to see the bar spacing, got {len(index)};"
            " pass periods_per_year explicitly"
        )
    if index.hasnans:
        position = int(np.flatnonzero(index.isna())[0])
        raise StatisticsError(f"index has NaT at position {position}")
    spacing_days = np.asarray((index[1:] - index[:-1]) / pd.Timedelta(days=1), dtype=np.float64)
    if np.any(spacing_days <= 0):
        position = int(np.flatnonzero(spacing_days <= 0)[0]) + 1
        raise StatisticsError(
            f"index is not strictly increasing at position {position}:"
            f" {index[position - 1]} then {index[position]}"
        )
    median_spacing_days = float(np.median(spacing_days))

    # Weekly or longer bars: a whole number of bars per year.
    if median_spacing_days >= _LONG_BAR_DAYS:
        bars_per_year = round(_DAYS_PER_YEAR / median_spacing_days)
        if bars_per_year < 1:
            raise StatisticsError(
                f"bars are {median_spacing_days:.0f} days apart, too far apart to annualize;"
                " pass periods_per_year explicitly"
            )
        return float(bars_per_year)

    # Daily or intraday bars: the trading days per year of the market.
    trades_on_saturday = bool(np.any(index.day_of_week == _SATURDAY))
    trading_days = CALENDAR_DAYS_PER_YEAR if trades_on_saturday else TRADING_DAYS_PER_YEAR

    # Bars per trading day: run lengths of equal dates (the index is sorted), interior dates only.
    dates = index.normalize()
    date_starts = np.flatnonzero(np.r_[True, dates[1:] != dates[:-1]])
    bars_per_date = np.diff(np.r_[date_starts, len(index)])
    if bars_per_date.size >= 3:
        bars_per_date = bars_per_date[1:-1]
    bars_per_day = float(np.median(bars_per_date))

    return bars_per_day * trading_days


def total_return(returns: npt.ArrayLike) -> float:
    """Compounded return over the whole series: ``prod(1 + returns) - 1``.

    Args:
        returns: Simple per-bar returns.

    Returns:
        The total return as a fraction (``-1.0`` when equity hit zero); ``nan`` when empty.

    Raises:
        StatisticsError: If ``returns`` is not 1-D, holds a non-finite value or a return below -1.
    """
    # Validate, then compound.
    values = validated_returns(returns)
    if values.size == 0:
        return _NAN
    growth = np.prod(1.0 + values)
    return float(growth - 1.0)


def annualized_return(returns: npt.ArrayLike, *, periods_per_year: float | None = None) -> float:
    """Compound annual growth rate: ``prod(1 + returns) ** (periods_per_year / n) - 1``.

    A short series with a large gain can overflow to ``inf``: the CAGR of a few bars says little.

    Args:
        returns: Simple per-bar returns.
        periods_per_year: Bars per year; ``None`` infers it from the index of a Series.

    Returns:
        The CAGR as a fraction (``-1.0`` when equity hit zero); ``nan`` when empty.

    Raises:
        StatisticsError: On bad returns, or when ``periods_per_year`` is neither given nor inferable.
    """
    # Validate and settle the annualization.
    bars_per_year = resolve_periods_per_year(returns, periods_per_year)
    values = validated_returns(returns)
    if values.size == 0:
        return _NAN

    # Growth of one unit of equity, raised to one over the number of years.
    growth = np.prod(1.0 + values)
    years = values.size / bars_per_year
    with np.errstate(over="ignore"):
        return float(growth ** (1.0 / years) - 1.0)


def annualized_volatility(returns: npt.ArrayLike, *, periods_per_year: float | None = None) -> float:
    """Sample standard deviation of returns (``ddof=1``) times ``sqrt(periods_per_year)``.

    Args:
        returns: Simple per-bar returns.
        periods_per_year: Bars per year; ``None`` infers it from the index of a Series.

    Returns:
        The annualized volatility (exactly 0 for a constant series); ``nan`` under 2 bars.

    Raises:
        StatisticsError: On bad returns, or when ``periods_per_year`` is neither given nor inferable.
    """
    # Validate and settle the annualization.
    bars_per_year = resolve_periods_per_year(returns, periods_per_year)
    values = validated_returns(returns)
    if values.size < 2:
        return _NAN

    # Per-bar deviation, scaled by the square root of time.
    deviation = _sample_std(values)
    return float(deviation * np.sqrt(bars_per_year))


def sharpe_ratio(
    returns: npt.ArrayLike,
    *,
    risk_free: float = 0.0,
    periods_per_year: float | None = None,
) -> float:
    """Annualized Sharpe ratio: ``mean(excess) / std(excess, ddof=1) * sqrt(periods_per_year)``.

    ``excess = returns - risk_free``, with ``risk_free`` a per-bar rate, as in empyrical.

    Args:
        returns: Simple per-bar returns.
        risk_free: Risk-free return per bar.
        periods_per_year: Bars per year; ``None`` infers it from the index of a Series.

    Returns:
        The Sharpe ratio; ``nan`` under 2 bars or when excess returns are constant (zero risk).

    Raises:
        StatisticsError: On bad returns, or when ``periods_per_year`` is neither given nor inferable.
    """
    # Validate and settle the annualization.
    bars_per_year = resolve_periods_per_year(returns, periods_per_year)
    values = validated_returns(returns)
    if values.size < 2:
        return _NAN

    # Excess returns and their dispersion; no dispersion means no ratio.
    excess = values - risk_free
    deviation = _sample_std(excess)
    if deviation == 0.0:
        return _NAN

    # Mean excess per unit of risk, annualized.
    return float(np.mean(excess) / deviation * np.sqrt(bars_per_year))


def simple_returns(path: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Simple returns between consecutive points of a level path: ``path[1:] / path[:-1] - 1``.

    Args:
        path: Levels in time order (equity or prices), finite and positive.

    Returns:
        ``len(path) - 1`` returns (empty for a path of 0 or 1 points).

    Raises:
        StatisticsError: If ``path`` is not 1-D, holds a non-finite value, or a level that is not positive.
    """
    # Validate: a return needs a positive level to start from.
    levels = validated_finite(path, "path")
    not_positive = levels <= 0.0
    if np.any(not_positive):
        position = int(np.flatnonzero(not_positive)[0])
        raise StatisticsError(
            f"path has {float(levels[position])} at {_describe_position(path, position)};"
            " simple returns need positive levels"
        )
    return levels[1:] / levels[:-1] - 1.0


def path_sharpe_ratio(path: npt.ArrayLike, *, periods_per_year: float = 1.0) -> float:
    """Sharpe ratio of a level path's simple returns; per step unless ``periods_per_year`` is given.

    ``sharpe_ratio(simple_returns(path), periods_per_year=periods_per_year)``, except that a path
    which is not positive throughout (an equity that went to zero or below) has no simple returns
    from that point on and gives ``nan`` instead of an error.

    Args:
        path: Levels in time order (equity or prices), finite.
        periods_per_year: Steps per year; the default of 1 leaves the ratio per step.

    Returns:
        The Sharpe ratio; ``nan`` under 3 points, for a constant path, or a path not positive throughout.

    Raises:
        StatisticsError: If ``path`` is not 1-D or holds a non-finite value.
    """
    # A path that touches zero or below has no returns to measure.
    levels = validated_finite(path, "path")
    if np.any(levels <= 0.0):
        return _NAN
    return sharpe_ratio(simple_returns(levels), periods_per_year=periods_per_year)


def sortino_ratio(
    returns: npt.ArrayLike,
    *,
    required_return: float = 0.0,
    periods_per_year: float | None = None,
) -> float:
    """Annualized Sortino ratio, empyrical's definition.

    With ``adjusted = returns - required_return`` (per bar), the ratio is
    ``mean(adjusted) * periods_per_year / downside_risk``, where
    ``downside_risk = sqrt(mean(min(adjusted, 0) ** 2)) * sqrt(periods_per_year)`` and the mean
    runs over all bars, not only the losing ones.

    Args:
        returns: Simple per-bar returns.
        required_return: Minimum acceptable return per bar.
        periods_per_year: Bars per year; ``None`` infers it from the index of a Series.

    Returns:
        The Sortino ratio; ``nan`` under 2 bars or when no bar is below ``required_return``.

    Raises:
        StatisticsError: On bad returns, or when ``periods_per_year`` is neither given nor inferable.
    """
    # Validate and settle the annualization.
    bars_per_year = resolve_periods_per_year(returns, periods_per_year)
    values = validated_returns(returns)
    if values.size < 2:
        return _NAN

    # Downside risk: root mean square of the shortfalls below the required return.
    adjusted = values - required_return
    shortfall = np.minimum(adjusted, 0.0)
    downside_risk = np.sqrt(np.mean(np.square(shortfall))) * np.sqrt(bars_per_year)
    if downside_risk == 0.0:
        return _NAN

    # Annualized mean adjusted return per unit of downside risk.
    annual_mean = np.mean(adjusted) * bars_per_year
    return float(annual_mean / downside_risk)


def drawdown_series(returns: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Drawdown at each bar: ``(equity - peak) / peak``, a fraction <= 0.

    ``peak[t]`` is the highest equity up to and including bar ``t``, counting the initial
    equity of 1, so a first losing bar is already a drawdown.

    Args:
        returns: Simple per-bar returns.

    Returns:
        One drawdown per bar (empty for an empty input); ``-1.0`` from the bar equity hits zero.

    Raises:
        StatisticsError: If ``returns`` is not 1-D, holds a non-finite value or a return below -1.
    """
    # Validate, then compound equity from 1.
    values = validated_returns(returns)
    equity = np.cumprod(1.0 + values)

    # The equity path from the starting 1 (the first peak); its drawdowns after the start.
    return _drawdowns(np.concatenate(([1.0], equity)))[1:]


def max_drawdown(returns: npt.ArrayLike) -> float:
    """Deepest drawdown of the series: ``min(drawdown_series(returns))``, a fraction <= 0.

    Args:
        returns: Simple per-bar returns.

    Returns:
        The maximum drawdown (``-0.3`` is a 30 % fall from a peak, ``0.0`` none); ``nan`` when empty.

    Raises:
        StatisticsError: If ``returns`` is not 1-D, holds a non-finite value or a return below -1.
    """
    # The lowest point of the drawdown series.
    drawdowns = drawdown_series(returns)
    if drawdowns.size == 0:
        return _NAN
    return float(np.min(drawdowns))


def path_drawdowns(path: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Drawdown at each point of a level path (equity or a price): ``(level - peak) / peak``, <= 0.

    ``peak[t]`` is the highest level up to and including point ``t``; the first point is the
    first peak, so the first drawdown is 0. Where the running peak is not positive (an equity that
    never rose above zero) no fall can be measured and the drawdown is ``nan``.

    Args:
        path: Levels in time order (equity in money, or prices), finite.

    Returns:
        One drawdown per point, as negative fractions (empty for an empty path).

    Raises:
        StatisticsError: If ``path`` is not 1-D or holds a non-finite value.

    Example:
        >>> path_drawdowns(np.array([100.0, 120.0, 90.0, 130.0])).tolist()
        [0.0, 0.0, -0.25, 0.0]
    """
    # Validate, then measure each level against its running peak.
    levels = validated_finite(path, "path")
    return _drawdowns(levels)


def path_max_drawdown(path: npt.ArrayLike) -> float:
    """Deepest drawdown of a level path: ``min(path_drawdowns(path))``, a fraction <= 0.

    Args:
        path: Levels in time order (equity in money, or prices), finite.

    Returns:
        The maximum drawdown (``-0.3`` is a 30 % fall from a peak, ``0.0`` none); ``nan`` when the
        path is empty or no point has a positive peak.

    Raises:
        StatisticsError: If ``path`` is not 1-D or holds a non-finite value.
    """
    # The lowest measurable point of the drawdown path.
    drawdowns = path_drawdowns(path)
    if drawdowns.size == 0 or np.all(np.isnan(drawdowns)):
        return _NAN
    return float(np.nanmin(drawdowns))


def calmar_ratio(returns: npt.ArrayLike, *, periods_per_year: float | None = None) -> float:
    """Calmar ratio: ``annualized_return / abs(max_drawdown)``.

    Args:
        returns: Simple per-bar returns.
        periods_per_year: Bars per year; ``None`` infers it from the index of a Series.

    Returns:
        The Calmar ratio; ``nan`` when empty, when there is no drawdown, or when the CAGR
        overflowed to ``inf`` (all as in empyrical).

    Raises:
        StatisticsError: On bad returns, or when ``periods_per_year`` is neither given nor inferable.
    """
    # Deepest drawdown; without one there is no ratio.
    deepest = max_drawdown(returns)
    if not deepest < 0.0:
        return _NAN

    # Growth per unit of drawdown, kept finite.
    growth = annualized_return(returns, periods_per_year=periods_per_year)
    ratio = growth / abs(deepest)
    return ratio if math.isfinite(ratio) else _NAN


def turnover(positions: npt.ArrayLike) -> float:
    """Mean absolute change in position per bar, starting flat; not annualized.

    ``turnover = mean(|positions[t] - positions[t - 1]|)`` with ``positions[-1] = 0``, so opening
    the first position counts and the final position is not closed. With positions as fractions
    of equity, 0.1 means a tenth of equity traded per bar on average.

    Args:
        positions: Position held over each bar.

    Returns:
        The mean absolute position change per bar; ``nan`` when empty.

    Raises:
        StatisticsError: If ``positions`` is not 1-D or holds a non-finite value.
    """
    # Validate, then average the size of each trade, the first one from flat.
    held = validated_finite(positions, "positions")
    if held.size == 0:
        return _NAN
    changes = np.abs(np.diff(held, prepend=0.0))
    return float(np.mean(changes))


def annual_turnover(traded: npt.ArrayLike, *, periods_per_year: float) -> float:
    """A portfolio's turnover per year: the mean fraction of its value traded per bar, times bars per year.

    ``traded[t]`` is the notional traded at bar ``t`` over the portfolio's value before the trade,
    buys and sells both counted (``sum_i |w_after[i] - w_before[i]|`` over the assets), so moving 10%
    of the value from one asset to another is 0.2, and a turnover of 12 a year trades the portfolio's
    value twelve times.

    Args:
        traded: The fraction of value traded at each bar.
        periods_per_year: Bars per year.

    Returns:
        ``mean(traded) * periods_per_year``; ``nan`` when empty.

    Raises:
        StatisticsError: If ``traded`` is not 1-D or holds a non-finite or negative value.
    """
    values = validated_finite(traded, "traded")
    if values.size == 0:
        return _NAN
    if np.any(values < 0):
        raise StatisticsError(f"traded: fractions traded must be >= 0, got {float(values.min())!r} at {_describe_position(values, int(np.argmin(values)))}")
    return float(np.mean(values) * periods_per_year)


def mean_holdings(weights: npt.ArrayLike, *, threshold: float = 1e-6) -> float:
    """The average number of assets held: ``mean over bars of count(|w[t, i]| > threshold)``.

    Args:
        weights: Asset weights held over each bar, shape (bars, assets), cash excluded.
        threshold: The smallest weight that counts as a holding.

    Returns:
        The mean count; ``nan`` with no bars.

    Raises:
        StatisticsError: If ``weights`` is not 2-D or holds a non-finite value.
    """
    held = np.asarray(weights, dtype=np.float64)
    if held.ndim != 2:
        raise StatisticsError(f"weights: expected a 2-D array (bars, assets), got {held.ndim} dimensions")
    if not np.isfinite(held).all():
        raise StatisticsError("weights: every weight must be a finite number")
    if held.shape[0] == 0:
        return _NAN
    return float(np.mean(np.sum(np.abs(held) > threshold, axis=1)))


def hit_rate(returns: npt.ArrayLike, positions: npt.ArrayLike) -> float:
    """Share of exposed bars that made money.

    A bar is exposed when its position is nonzero, and a hit when its return (the strategy's
    return, after costs) is strictly positive: ``mean(returns[positions != 0] > 0)``.

    Args:
        returns: The strategy's simple per-bar returns.
        positions: Position held over each bar, as long as ``returns``.

    Returns:
        The hit rate in [0, 1]; ``nan`` when no bar is exposed.

    Raises:
        StatisticsError: On bad inputs or lengths that differ.
    """
    # Validate both series together.
    values = validated_returns(returns)
    held = validated_finite(positions, "positions", length=values.size)

    # Winning bars among the exposed ones.
    exposed = held != 0.0
    if not np.any(exposed):
        return _NAN
    return float(np.mean(values[exposed] > 0.0))


def exposure(positions: npt.ArrayLike) -> float:
    """Share of bars with a nonzero position: ``mean(positions != 0)``.

    Args:
        positions: Position held over each bar.

    Returns:
        The exposure in [0, 1]; ``nan`` when empty.

    Raises:
        StatisticsError: If ``positions`` is not 1-D or holds a non-finite value.
    """
    # Validate, then count the exposed bars.
    held = validated_finite(positions, "positions")
    if held.size == 0:
        return _NAN
    return float(np.mean(held != 0.0))


def costs_paid(costs: npt.ArrayLike) -> float:
    """Total of a per-bar costs series, in the units it is given in.

    Costs are positive amounts paid (commissions, slippage, fees); rebates are negative.

    Args:
        costs: Cost paid at each bar.

    Returns:
        The sum of the costs; 0.0 when empty.

    Raises:
        StatisticsError: If ``costs`` is not 1-D or holds a non-finite value.
    """
    # Validate, then add up.
    paid = validated_finite(costs, "costs")
    return float(np.sum(paid))


def maker_edges(
    prices: npt.ArrayLike, qtys: npt.ArrayLike, taker_buys: npt.ArrayLike, mids: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Each fill's edge for its maker against a reference mid: the spread it captured (or lost).

    ``(price - mid) * qty`` when the taker bought (the maker sold), ``(mid - price) * qty`` when the
    taker sold (the maker bought): positive when the maker sold above the mid or bought below it.
    With the mid before the fill's step it is the maker's gross edge (spread capture); with a later
    mid it is a markout.

    Args:
        prices: Fill prices.
        qtys: Lots filled.
        taker_buys: True where the taker was the buyer.
        mids: The reference mid of each fill, in the units of ``prices``.

    Returns:
        One edge per fill, in price units times lots (ticks x lots in the market env).

    Raises:
        StatisticsError: If the inputs are not 1-D, not finite, or of different lengths.

    Example:
        >>> maker_edges([101.0, 99.0], [2, 3], [True, False], [100.0, 100.0]).tolist()
        [2.0, 3.0]
    """
    # Validate the four columns together.
    price = validated_finite(prices, "prices")
    qty = validated_finite(qtys, "qtys", length=price.size, against="prices")
    mid = validated_finite(mids, "mids", length=price.size, against="prices")
    buys = np.asarray(taker_buys, dtype=bool)
    if buys.shape != price.shape:
        raise StatisticsError(f"taker_buys has shape {buys.shape} but prices has {price.shape}")

    # Distance from the mid in the maker's favour, times the lots.
    return np.where(buys, price - mid, mid - price) * qty


def mean_interval(values: npt.ArrayLike, *, confidence: float = 0.95) -> tuple[float, float]:
    """The mean of independent samples and the half-width of its confidence interval.

    The interval is Student's t with ``n - 1`` degrees of freedom, ``t * s / sqrt(n)``: exact for
    normal samples and honest for the few episodes or seeds an evaluation has (with 3 samples the
    95% factor is 4.30, not 1.96).

    Args:
        values: One figure per independent sample (an episode, a seed, a training run).
        confidence: The interval's coverage, in (0, 1).

    Returns:
        ``(mean, half_width)``; the half-width is NaN with fewer than two samples (no spread to
        measure) and 0.0 when every sample is equal.

    Raises:
        StatisticsError: If ``values`` is empty, not 1-D or not finite, or ``confidence`` is not in (0, 1).

    Example:
        >>> mean, half = mean_interval([1.0, 2.0, 3.0])
        >>> round(mean, 6), round(half, 4)
        (2.0, 2.4841)
    """
    from scipy.stats import t as student_t

    # Validate the samples and the coverage.
    samples = validated_finite(values, "values")
    if samples.size == 0:
        raise StatisticsError("values is empty: an interval needs at least one sample")
    if not 0.0 < confidence < 1.0:
        raise StatisticsError(f"confidence must be in (0, 1), got {confidence!r}")

    # The mean, and t times the standard error.
    mean = float(np.mean(samples))
    if samples.size < 2:
        return mean, math.nan
    factor = float(student_t.ppf(0.5 + confidence / 2.0, samples.size - 1))
    return mean, factor * _sample_std(samples) / math.sqrt(samples.size)


def paired_difference(a: npt.ArrayLike, b: npt.ArrayLike, *, confidence: float = 0.95) -> tuple[float, float]:
    """The mean of ``a - b`` over paired samples (the same seeds) and its confidence half-width.

    Pairing removes what the two share (the seed's market), so a small edge shows where two
    independent intervals would overlap.

    Raises:
        StatisticsError: If the two are not finite 1-D arrays of one length.

    Example:
        >>> paired_difference([3.0, 5.0, 4.0], [1.0, 2.0, 2.0])[0]
        2.3333333333333335
    """
    first = validated_finite(a, "a")
    second = validated_finite(b, "b", length=first.size, against="a")
    return mean_interval(first - second, confidence=confidence)


def _drawdowns(levels: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``(level - running peak) / running peak`` of a validated path; ``nan`` where the peak is not positive."""
    peak = np.maximum.accumulate(levels) if levels.size else levels
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdowns = (levels - peak) / peak
    return np.where(peak > 0.0, drawdowns, np.nan)


def resolve_periods_per_year(returns: npt.ArrayLike, explicit: float | None) -> float:
    """Return the explicit bars per year if given, else infer them from a Series' DatetimeIndex.

    Raises:
        StatisticsError: If the explicit value is not a positive finite number, or none is given and
            ``returns`` is not a Series with a DatetimeIndex.
    """
    # An explicit value wins, provided it is a positive finite number.
    if explicit is not None:
        if not (math.isfinite(explicit) and explicit > 0):
            raise StatisticsError(f"periods_per_year must be a positive finite number, got {explicit}")
        return float(explicit)

    # Otherwise the returns must carry their timestamps.
    index = returns.index if isinstance(returns, pd.Series) else None
    if not isinstance(index, pd.DatetimeIndex):
        raise StatisticsError(
            "pass periods_per_year, or returns as a pandas.Series with a DatetimeIndex to infer it"
        )
    return periods_per_year(index)


def validated_returns(returns: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Return ``returns`` as a finite float64 array with no return below -1, or raise StatisticsError."""
    # Finite and 1-D first.
    values = validated_finite(returns, "returns")

    # A return below -1 would take equity below zero.
    below = values < -1.0
    if np.any(below):
        position = int(np.flatnonzero(below)[0])
        raise StatisticsError(
            f"returns has {float(values[position])} at {_describe_position(returns, position)};"
            " a return below -1 takes equity below zero"
        )
    return values


def validated_finite(
    series: npt.ArrayLike, name: str, *, length: int | None = None, against: str = "returns"
) -> npt.NDArray[np.float64]:
    """Return ``series`` as a 1-D finite float64 array (as long as ``against`` if ``length`` is given), or raise StatisticsError."""
    # Convert and check the shape.
    values = np.asarray(series, dtype=np.float64)
    if values.ndim != 1:
        raise StatisticsError(f"{name} must be 1-D, got shape {values.shape}")
    if length is not None and values.size != length:
        raise StatisticsError(f"{name} has {values.size} bars but {against} has {length}")

    # Name the first NaN or infinity.
    not_finite = ~np.isfinite(values)
    if np.any(not_finite):
        position = int(np.flatnonzero(not_finite)[0])
        raise StatisticsError(
            f"{name} has {float(values[position])} at {_describe_position(series, position)};"
            " metrics need finite values"
        )
    return values


def _describe_position(series: npt.ArrayLike, position: int) -> str:
    """Name a bar by its position, and by its index label when ``series`` is a pandas Series."""
    if isinstance(series, pd.Series):
        return f"index {series.index[position]} (position {position})"
    return f"index {position}"


def _sample_std(values: npt.NDArray[np.float64]) -> float:
    """Sample standard deviation (``ddof=1``), exactly 0 when every value is equal.

    The mean of identical values can differ from them in the last bit, leaving a residue near
    1e-18 instead of 0; a ratio divided by that residue would be an arbitrary huge number.
    """
    if values.max() == values.min():
        return 0.0
    return float(np.std(values, ddof=1))
