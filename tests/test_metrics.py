"""Properties of market.backtest.metrics.

* every risk-return metric agrees with empyrical-reloaded wherever empyrical gives a finite value,
  on seeded random series and on Hypothesis-drawn ones;
* the vectorized drawdown, turnover, hit rate and exposure equal plain loops written here;
* the annualization factor inferred from timestamps matches the market's convention;
* the edge cases (empty, one bar, no volatility, losses only, a -100 % bar, bad values) give the
  documented answers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import empyrical
import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from market import stats
from market.backtest import metrics
from market.backtest.metrics import (
    ANNUALIZED_RETURN,
    ANNUALIZED_VOLATILITY,
    CALMAR_RATIO,
    COSTS_PAID,
    EXPOSURE,
    HIT_RATE,
    MAX_DRAWDOWN,
    METRIC_KEYS,
    PERIODS_PER_YEAR,
    SHARPE_RATIO,
    SORTINO_RATIO,
    TOTAL_RETURN,
    TURNOVER,
)

FloatArray = npt.NDArray[np.float64]

RTOL = 1e-9
# Drawdowns are differences of nearly equal equities, and empyrical anchors equity at 100 where
# we anchor it at 1: the two roundings differ by about one ulp of the equity, which is a large
# *relative* error only for drawdowns near zero. An absolute floor far below any reported digit.
DRAWDOWN_ATOL = 1e-12
# Calmar divides by the drawdown, so that ulp-sized difference becomes a relative error of about
# 3e-16 / |drawdown|. Below this drawdown it exceeds RTOL and the ratio compares two rounding
# residues: one bar of -2.2e-16 has Calmar exactly -1 here and -0.78 in empyrical.
CALMAR_MIN_DRAWDOWN = 1e-6
# empyrical sums with bottleneck (left to right), numpy pairwise: a per-bar mean or deviation
# agrees to a few hundred ulps of the largest return at most. This is that noise, per unit of
# the largest absolute return.
PER_BAR_NOISE = 1e-13
# Metrics whose infinite empyrical value we report as nan (zero risk denominator, documented).
RATIOS_WITH_NAN_FOR_INF = (SHARPE_RATIO, SORTINO_RATIO, CALMAR_RATIO)


# ---------------------------------------------------------------------------------------------
# Reference values and comparison
# ---------------------------------------------------------------------------------------------


def empyrical_metrics(returns: FloatArray, periods_per_year: float) -> dict[str, float]:
    """The same metrics from empyrical-reloaded, keyed by our constants."""
    with np.errstate(all="ignore"):  # empyrical divides by zero and overflows where we do too
        return {
            TOTAL_RETURN: float(empyrical.cum_returns_final(returns)),
            ANNUALIZED_RETURN: float(empyrical.annual_return(returns, annualization=periods_per_year)),
            ANNUALIZED_VOLATILITY: float(
                empyrical.annual_volatility(returns, annualization=periods_per_year)
            ),
            SHARPE_RATIO: float(empyrical.sharpe_ratio(returns, annualization=periods_per_year)),
            SORTINO_RATIO: float(empyrical.sortino_ratio(returns, annualization=periods_per_year)),
            MAX_DRAWDOWN: float(empyrical.max_drawdown(returns)),
            CALMAR_RATIO: float(empyrical.calmar_ratio(returns, annualization=periods_per_year)),
        }


def tolerances(returns: FloatArray, periods_per_year: float) -> dict[str, tuple[float, float]]:
    """(rtol, atol) per metric: RTOL, plus the per-bar rounding noise carried through its formula.

    The noise is negligible next to any reported digit, except where a near-constant series
    divides it by a deviation near zero: there Sharpe and Sortino are ill-conditioned and two
    correct implementations may differ in every digit.
    """
    noise = PER_BAR_NOISE * max(1.0, float(np.max(np.abs(returns), initial=0.0)))
    root_periods = math.sqrt(periods_per_year)
    deviation = float(np.std(returns, ddof=1)) if returns.size > 1 else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2))) if returns.size else 0.0
    # Sharpe: noise in the mean (absolute) and in the deviation it divides by (relative).
    sharpe_noise = noise / deviation if deviation > 0 else 0.0
    # Sortino: noise in the mean; the root mean square of shortfalls sums positive terms only.
    sortino_noise = noise / downside if downside > 0 else 0.0
    return {
        TOTAL_RETURN: (RTOL, 0.0),  # the same products in the same order: exact
        ANNUALIZED_RETURN: (RTOL, 0.0),
        ANNUALIZED_VOLATILITY: (RTOL, noise * root_periods),
        SHARPE_RATIO: (RTOL + sharpe_noise, sharpe_noise * root_periods),
        SORTINO_RATIO: (RTOL, sortino_noise * root_periods),
        MAX_DRAWDOWN: (RTOL, DRAWDOWN_ATOL),
        CALMAR_RATIO: (RTOL, 0.0),
    }


def assert_agrees_with_empyrical(returns: FloatArray, periods_per_year: float) -> None:
    """Ours equals empyrical where it is finite; nan where it is nan; documented where it is inf."""
    ours = metrics.compute_metrics(returns, periods_per_year=periods_per_year)
    tolerance = tolerances(returns, periods_per_year)
    for key, reference in empyrical_metrics(returns, periods_per_year).items():
        value = ours[key]
        if key == CALMAR_RATIO and abs(ours[MAX_DRAWDOWN]) < CALMAR_MIN_DRAWDOWN:
            continue
        if math.isfinite(reference):
            rtol, atol = tolerance[key]
            np.testing.assert_allclose(value, reference, rtol=rtol, atol=atol, err_msg=key)
        elif math.isnan(reference):
            assert math.isnan(value), f"{key}: empyrical nan, ours {value}"
        elif key in RATIOS_WITH_NAN_FOR_INF:
            assert math.isnan(value), f"{key}: empyrical {reference}, ours {value} (zero risk -> nan)"
        else:
            assert value == reference, f"{key}: empyrical {reference}, ours {value}"


def loop_drawdowns(returns: FloatArray) -> list[float]:
    """Drawdown per bar, one bar at a time, the initial equity of 1 being the first peak."""
    equity, peak, drawdowns = 1.0, 1.0, []
    for bar_return in returns:
        equity *= 1.0 + bar_return
        peak = max(peak, equity)
        drawdowns.append((equity - peak) / peak)
    return drawdowns


def loop_turnover(positions: FloatArray) -> float:
    """Mean absolute position change per bar, starting flat."""
    if len(positions) == 0:
        return math.nan
    previous, traded = 0.0, 0.0
    for position in positions:
        traded += abs(position - previous)
        previous = position
    return traded / len(positions)


def loop_hit_rate(returns: FloatArray, positions: FloatArray) -> float:
    """Winning bars over exposed bars."""
    exposed, wins = 0, 0
    for bar_return, position in zip(returns, positions, strict=True):
        if position != 0.0:
            exposed += 1
            wins += bar_return > 0.0
    return wins / exposed if exposed else math.nan


def loop_exposure(positions: FloatArray) -> float:
    """Exposed bars over all bars."""
    if len(positions) == 0:
        return math.nan
    return sum(1 for position in positions if position != 0.0) / len(positions)


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------

RETURN_VALUES = st.floats(
    min_value=-1.0, max_value=10.0, exclude_min=True, allow_nan=False, allow_subnormal=False
)
RETURN_ARRAYS = arrays(np.float64, st.integers(0, 200), elements=RETURN_VALUES)
# Positions mix exact zeros, repeated levels and arbitrary fractions, so every branch is drawn.
POSITION_VALUES = st.one_of(
    st.sampled_from([0.0, 0.0, 1.0, -1.0, 0.5]), st.floats(-3.0, 3.0, allow_subnormal=False)
)
PERIODS = st.sampled_from([1.0, 12.0, 52.0, 252.0, 365.0, 8760.0, 98280.0])


@st.composite
def returns_and_positions(draw: st.DrawFn) -> tuple[FloatArray, FloatArray]:
    """Equal-length returns and positions."""
    length = draw(st.integers(0, 150))
    returns = draw(arrays(np.float64, length, elements=RETURN_VALUES))
    positions = draw(arrays(np.float64, length, elements=POSITION_VALUES))
    return returns, positions


# ---------------------------------------------------------------------------------------------
# (1) Agreement with empyrical
# ---------------------------------------------------------------------------------------------

RANDOM_CASES = list(
    itertools.product(
        [2, 3, 5, 30, 252, 2520],  # lengths
        [(0.0, 1e-4), (5e-4, 0.01), (-1e-3, 0.02), (0.01, 0.15)],  # (mean, scale)
        [252.0, 8760.0, 52.0],  # periods per year
    )
)


@pytest.mark.parametrize(("length", "moments", "periods_per_year"), RANDOM_CASES)
def test_metrics_agree_with_empyrical_on_seeded_normal_returns(
    length: int, moments: tuple[float, float], periods_per_year: float
) -> None:
    mean, scale = moments
    rng = np.random.default_rng([length, int(scale * 1e6), int(periods_per_year)])
    returns = rng.normal(mean, scale, size=length)
    assert returns.min() > -1.0
    assert_agrees_with_empyrical(returns, periods_per_year)


@settings(max_examples=1000, deadline=None)
@given(returns=RETURN_ARRAYS, periods_per_year=PERIODS)
def test_metrics_agree_with_empyrical_on_any_finite_returns_above_minus_one(
    returns: FloatArray, periods_per_year: float
) -> None:
    assert_agrees_with_empyrical(returns, periods_per_year)


@settings(max_examples=500, deadline=None)
@given(returns=arrays(np.float64, st.integers(1, 200), elements=RETURN_VALUES))
def test_drawdown_series_agrees_with_empyrical(returns: FloatArray) -> None:
    # empyrical.stats.drawdown_series answers an empty series with a scalar nan; ours is empty
    reference = empyrical.stats.drawdown_series(returns)
    np.testing.assert_allclose(
        metrics.drawdown_series(returns), reference, rtol=RTOL, atol=DRAWDOWN_ATOL
    )


def test_sharpe_with_risk_free_and_sortino_with_required_return_agree_with_empyrical() -> None:
    rng = np.random.default_rng(7)
    returns = rng.normal(4e-4, 0.01, size=500)
    np.testing.assert_allclose(
        metrics.sharpe_ratio(returns, risk_free=1e-4, periods_per_year=252),
        empyrical.sharpe_ratio(returns, risk_free=1e-4, annualization=252),
        rtol=RTOL,
    )
    np.testing.assert_allclose(
        metrics.sortino_ratio(returns, required_return=2e-4, periods_per_year=252),
        empyrical.sortino_ratio(returns, required_return=2e-4, annualization=252),
        rtol=RTOL,
    )


# ---------------------------------------------------------------------------------------------
# (2) Vectorized equals a plain loop
# ---------------------------------------------------------------------------------------------


def assert_same_or_both_nan(value: float, expected: float) -> None:
    """Close floats, or both nan."""
    if math.isnan(expected):
        assert math.isnan(value)
    else:
        np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-15)


@settings(max_examples=500, deadline=None)
@given(returns=RETURN_ARRAYS)
def test_drawdown_series_equals_loop_and_max_drawdown_is_its_minimum(returns: FloatArray) -> None:
    drawdowns = metrics.drawdown_series(returns)
    np.testing.assert_allclose(drawdowns, loop_drawdowns(returns), rtol=1e-12, atol=1e-15)
    assert np.all(drawdowns <= 0.0) and np.all(drawdowns >= -1.0)
    expected_max = min(loop_drawdowns(returns), default=math.nan)
    assert_same_or_both_nan(metrics.max_drawdown(returns), expected_max)


@settings(max_examples=500, deadline=None)
@given(pair=returns_and_positions())
def test_position_metrics_equal_loops(pair: tuple[FloatArray, FloatArray]) -> None:
    returns, positions = pair
    assert_same_or_both_nan(metrics.turnover(positions), loop_turnover(positions))
    assert_same_or_both_nan(metrics.hit_rate(returns, positions), loop_hit_rate(returns, positions))
    assert_same_or_both_nan(metrics.exposure(positions), loop_exposure(positions))


@pytest.mark.parametrize("seed", range(5))
def test_position_metrics_equal_loops_on_long_seeded_series(seed: int) -> None:
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, 0.01, size=5000)
    positions = rng.choice([-1.0, -0.25, 0.0, 0.0, 0.5, 1.0], size=5000)
    np.testing.assert_allclose(metrics.drawdown_series(returns), loop_drawdowns(returns), rtol=1e-12)
    np.testing.assert_allclose(metrics.turnover(positions), loop_turnover(positions), rtol=1e-12)
    assert metrics.hit_rate(returns, positions) == loop_hit_rate(returns, positions)
    assert metrics.exposure(positions) == loop_exposure(positions)


def test_turnover_counts_the_opening_trade_and_each_change() -> None:
    # |0 - 0| + |1 - 0| + |1 - 1| + |-1 - 1| over 4 bars
    assert metrics.turnover(np.array([0.0, 1.0, 1.0, -1.0])) == 0.75


def test_hit_rate_counts_only_exposed_bars_with_strictly_positive_return() -> None:
    returns = np.array([0.02, -0.01, 0.0, 0.03, 0.05])
    positions = np.array([1.0, -1.0, 1.0, 0.0, 0.5])
    # exposed bars 0, 1, 2, 4; winners 0 and 4 (bar 2 returned exactly 0)
    assert metrics.hit_rate(returns, positions) == 0.5


def test_hit_rate_is_nan_without_exposure_and_exposure_counts_nonzero_bars() -> None:
    returns = np.array([0.01, -0.02, 0.03])
    assert math.isnan(metrics.hit_rate(returns, np.zeros(3)))
    assert metrics.exposure(np.array([0.0, -0.3, 0.0, 2.0])) == 0.5


def test_costs_paid_is_the_sum_and_zero_when_empty() -> None:
    assert metrics.costs_paid(np.array([0.5, 0.25, 0.0, -0.125])) == 0.625
    assert metrics.costs_paid(np.array([])) == 0.0


# ---------------------------------------------------------------------------------------------
# (3) Annualization inferred from timestamps
# ---------------------------------------------------------------------------------------------


def session_index(first_day: str, days: int, bars_per_day: int, step: str) -> pd.DatetimeIndex:
    """Equity-style bars: ``bars_per_day`` bars from 9:30 on each business day."""
    sessions = pd.bdate_range(first_day, periods=days) + pd.Timedelta(hours=9, minutes=30)
    offsets = pd.timedelta_range(start="0s", periods=bars_per_day, freq=step)
    return pd.DatetimeIndex([session + offset for session in sessions for offset in offsets])


INDEX_CASES: dict[str, tuple[Callable[[], pd.DatetimeIndex], float]] = {
    "daily_business": (lambda: pd.bdate_range("2021-01-04", periods=600), 252.0),
    "daily_business_short": (lambda: pd.bdate_range("2024-01-01", periods=10), 252.0),
    "daily_calendar_crypto": (lambda: pd.date_range("2021-01-01", periods=400, freq="D"), 365.0),
    "hourly_24_7": (lambda: pd.date_range("2024-01-01 13:00", periods=24 * 20, freq="h"), 8760.0),
    "hourly_24_7_across_dst": (
        lambda: pd.date_range("2024-10-20", periods=24 * 21, freq="h", tz="America/New_York"),
        8760.0,
    ),
    "hourly_equity_session": (lambda: session_index("2024-01-01", 30, 7, "h"), 7 * 252.0),
    "minute_24_7": (lambda: pd.date_range("2024-01-01", periods=1440 * 9, freq="min"), 525600.0),
    "minute_equity_session": (lambda: session_index("2024-01-01", 10, 390, "min"), 390 * 252.0),
    "weekly": (lambda: pd.date_range("2015-01-02", periods=300, freq="W-FRI"), 52.0),
    "monthly": (lambda: pd.date_range("2010-01-31", periods=60, freq="ME"), 12.0),
    "quarterly": (lambda: pd.date_range("2010-03-31", periods=20, freq="QE"), 4.0),
    "yearly": (lambda: pd.date_range("2000-12-31", periods=10, freq="YE"), 1.0),
}


@pytest.mark.parametrize("case", INDEX_CASES)
def test_periods_per_year_matches_market_convention(case: str) -> None:
    build_index, expected = INDEX_CASES[case]
    assert metrics.periods_per_year(build_index()) == expected


def test_annualized_metrics_infer_periods_from_series_index_unless_given() -> None:
    index = pd.date_range("2024-01-01", periods=24 * 14, freq="h")
    returns = pd.Series(np.random.default_rng(3).normal(0.0, 0.002, size=len(index)), index=index)
    inferred = metrics.compute_metrics(returns)
    assert inferred[PERIODS_PER_YEAR] == 8760.0
    assert inferred[SHARPE_RATIO] == metrics.sharpe_ratio(returns.to_numpy(), periods_per_year=8760)
    assert metrics.annualized_volatility(returns) == metrics.annualized_volatility(
        returns.to_numpy(), periods_per_year=8760
    )
    overridden = metrics.compute_metrics(returns, periods_per_year=252)
    assert overridden[PERIODS_PER_YEAR] == 252.0
    assert overridden[SHARPE_RATIO] == metrics.sharpe_ratio(returns.to_numpy(), periods_per_year=252)


def test_annualized_metric_without_periods_or_timestamps_raises() -> None:
    with pytest.raises(ValueError, match="periods_per_year"):
        metrics.sharpe_ratio(np.array([0.01, 0.02]))


@pytest.mark.parametrize("bad", [0.0, -252.0, math.nan, math.inf])
def test_non_positive_or_non_finite_periods_per_year_raises(bad: float) -> None:
    with pytest.raises(ValueError, match="periods_per_year must be a positive finite number"):
        metrics.annualized_return(np.array([0.01]), periods_per_year=bad)


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (pd.DatetimeIndex(["2024-01-01"]), "at least 2 timestamps"),
        (pd.DatetimeIndex(["2024-01-01", None, "2024-01-03"]), "NaT at position 1"),
        (pd.DatetimeIndex(["2024-01-02", "2024-01-01"]), "not strictly increasing at position 1"),
        (pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-02"]), "at position 2"),
        (pd.DatetimeIndex(["2000-01-01", "2004-01-01", "2008-01-01"]), "too far apart"),
    ],
)
def test_periods_per_year_rejects_unusable_index(index: pd.DatetimeIndex, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        metrics.periods_per_year(index)


def test_periods_per_year_rejects_non_datetime_index() -> None:
    with pytest.raises(TypeError, match="DatetimeIndex"):
        metrics.periods_per_year(pd.RangeIndex(10))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Edge cases and the result dict
# ---------------------------------------------------------------------------------------------


def test_empty_series_gives_nan_everywhere_but_costs() -> None:
    empty = np.array([], dtype=np.float64)
    result = metrics.compute_metrics(empty, positions=empty, costs=empty, periods_per_year=252)
    assert result[COSTS_PAID] == 0.0
    assert result[PERIODS_PER_YEAR] == 252.0
    others = [key for key in METRIC_KEYS if key not in (COSTS_PAID, PERIODS_PER_YEAR)]
    assert all(math.isnan(result[key]) for key in others)
    assert metrics.drawdown_series(empty).shape == (0,)


def test_single_bar_defines_returns_and_drawdown_but_not_dispersion() -> None:
    result = metrics.compute_metrics(np.array([-0.02]), periods_per_year=252)
    assert result[TOTAL_RETURN] == pytest.approx(-0.02, rel=1e-12)
    assert result[ANNUALIZED_RETURN] == pytest.approx(0.98**252 - 1.0, rel=1e-12)
    assert result[MAX_DRAWDOWN] == pytest.approx(-0.02, rel=1e-12)
    assert result[CALMAR_RATIO] == pytest.approx((0.98**252 - 1.0) / 0.02, rel=1e-12)
    for key in (ANNUALIZED_VOLATILITY, SHARPE_RATIO, SORTINO_RATIO):
        assert math.isnan(result[key]), key


@pytest.mark.parametrize("level", [0.0, 0.001, 0.1])
def test_constant_returns_have_zero_volatility_and_nan_sharpe(level: float) -> None:
    returns = np.full(50, level)
    result = metrics.compute_metrics(returns, periods_per_year=252)
    assert result[ANNUALIZED_VOLATILITY] == 0.0
    assert math.isnan(result[SHARPE_RATIO])
    assert math.isnan(result[SORTINO_RATIO])  # nothing below the required return of 0
    assert result[MAX_DRAWDOWN] == 0.0
    assert math.isnan(result[CALMAR_RATIO])
    assert_agrees_with_empyrical(returns, 252.0)


def test_constant_loss_has_nan_sharpe_but_defined_sortino() -> None:
    returns = np.full(50, -0.001)
    assert math.isnan(metrics.sharpe_ratio(returns, periods_per_year=252))
    assert metrics.sortino_ratio(returns, periods_per_year=252) == pytest.approx(-math.sqrt(252))
    assert_agrees_with_empyrical(returns, 252.0)


def test_all_negative_returns_draw_down_by_the_total_loss() -> None:
    returns = -np.abs(np.random.default_rng(11).normal(0.0, 0.01, size=100)) - 1e-4
    result = metrics.compute_metrics(returns, periods_per_year=252)
    # the first bar's starting equity is the only peak, so the deepest drawdown is the end
    assert result[MAX_DRAWDOWN] == pytest.approx(result[TOTAL_RETURN], rel=1e-12)
    assert result[SHARPE_RATIO] < 0.0 and result[SORTINO_RATIO] < 0.0 and result[CALMAR_RATIO] < 0.0
    assert np.all(np.diff(metrics.drawdown_series(returns)) < 0.0)
    assert_agrees_with_empyrical(returns, 252.0)


def test_minus_one_hundred_percent_wipes_equity_out_for_good() -> None:
    returns = np.array([0.1, -1.0, 0.2, 0.3])
    result = metrics.compute_metrics(returns, periods_per_year=252)
    assert result[TOTAL_RETURN] == -1.0
    assert result[ANNUALIZED_RETURN] == -1.0
    assert result[MAX_DRAWDOWN] == -1.0
    assert result[CALMAR_RATIO] == -1.0
    np.testing.assert_array_equal(metrics.drawdown_series(returns), [0.0, -1.0, -1.0, -1.0])
    assert_agrees_with_empyrical(returns, 252.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_return_raises_naming_its_index(bad: float) -> None:
    returns = np.array([0.01, 0.02, bad, 0.01])
    for metric in (metrics.total_return, metrics.max_drawdown, metrics.drawdown_series):
        with pytest.raises(ValueError, match=r"returns has .* at index 2;"):
            metric(returns)
    with pytest.raises(ValueError, match=r"returns has .* at index 2;"):
        metrics.compute_metrics(returns, periods_per_year=252)


def test_nan_in_series_names_its_timestamp() -> None:
    index = pd.bdate_range("2024-01-01", periods=4)
    returns = pd.Series([0.01, 0.02, math.nan, 0.01], index=index)
    with pytest.raises(ValueError, match=r"returns has nan at index 2024-01-03 00:00:00 \(position 2\)"):
        metrics.compute_metrics(returns)


def test_return_below_minus_one_raises_naming_its_index() -> None:
    with pytest.raises(ValueError, match="returns has -1.5 at index 1; a return below -1"):
        metrics.total_return(np.array([0.01, -1.5]))


def test_bad_positions_and_costs_raise_naming_the_series() -> None:
    returns = np.array([0.01, 0.02, 0.03])
    with pytest.raises(ValueError, match="positions has nan at index 1"):
        metrics.compute_metrics(returns, positions=[0.0, math.nan, 1.0], periods_per_year=252)
    with pytest.raises(ValueError, match="costs has inf at index 0"):
        metrics.compute_metrics(returns, costs=[math.inf, 0.0, 0.0], periods_per_year=252)
    with pytest.raises(ValueError, match="positions has 2 bars but returns has 3"):
        metrics.hit_rate(returns, np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="must be 1-D"):
        metrics.total_return(np.zeros((2, 2)))


def test_compute_metrics_returns_every_key_in_display_order_from_the_single_functions() -> None:
    rng = np.random.default_rng(5)
    returns = rng.normal(3e-4, 0.01, size=300)
    positions = rng.choice([-1.0, 0.0, 1.0], size=300)
    costs = rng.uniform(0.0, 1e-4, size=300)
    result = metrics.compute_metrics(
        returns, positions=positions, costs=costs, periods_per_year=252, risk_free=1e-5
    )
    assert tuple(result) == METRIC_KEYS
    assert all(isinstance(value, float) for value in result.values())
    expected = {
        TOTAL_RETURN: metrics.total_return(returns),
        ANNUALIZED_RETURN: metrics.annualized_return(returns, periods_per_year=252),
        ANNUALIZED_VOLATILITY: metrics.annualized_volatility(returns, periods_per_year=252),
        SHARPE_RATIO: metrics.sharpe_ratio(returns, risk_free=1e-5, periods_per_year=252),
        SORTINO_RATIO: metrics.sortino_ratio(returns, required_return=1e-5, periods_per_year=252),
        MAX_DRAWDOWN: metrics.max_drawdown(returns),
        CALMAR_RATIO: metrics.calmar_ratio(returns, periods_per_year=252),
        TURNOVER: metrics.turnover(positions),
        HIT_RATE: metrics.hit_rate(returns, positions),
        EXPOSURE: metrics.exposure(positions),
        COSTS_PAID: metrics.costs_paid(costs),
        PERIODS_PER_YEAR: 252.0,
    }
    assert result == expected


def test_compute_metrics_without_positions_or_costs_reports_them_as_nan() -> None:
    result = metrics.compute_metrics(np.array([0.01, -0.02, 0.03]), periods_per_year=252)
    for key in (TURNOVER, HIT_RATE, EXPOSURE, COSTS_PAID):
        assert math.isnan(result[key]), key


# ---------------------------------------------------------------------------- level paths and fills (market.stats)
def test_path_drawdowns_of_the_compounded_equity_are_the_return_drawdowns() -> None:
    returns = np.random.default_rng(5).normal(0.0, 0.02, size=300)
    equity = np.concatenate(([1.0], np.cumprod(1.0 + returns)))
    np.testing.assert_array_equal(stats.path_drawdowns(equity)[1:], metrics.drawdown_series(returns))
    assert stats.path_max_drawdown(equity) == metrics.max_drawdown(returns) < 0.0


def test_path_drawdown_is_negative_below_a_peak_and_nan_without_a_positive_peak() -> None:
    np.testing.assert_allclose(stats.path_drawdowns([100.0, 120.0, 90.0, 130.0, 117.0]), [0.0, 0.0, -0.25, 0.0, -0.1])
    assert stats.path_max_drawdown([100.0, 120.0, 90.0, 130.0, 117.0]) == pytest.approx(-0.25)
    assert math.isnan(stats.path_max_drawdown([-5.0, -3.0]))
    assert math.isnan(stats.path_max_drawdown([]))
    with pytest.raises(ValueError, match="path has nan at index 1"):
        stats.path_drawdowns([1.0, math.nan])


def test_path_sharpe_is_the_per_step_sharpe_of_its_simple_returns_and_nan_once_equity_is_gone() -> None:
    path = 100.0 * np.cumprod(1.0 + np.random.default_rng(6).normal(0.001, 0.01, size=200))
    returns = path[1:] / path[:-1] - 1.0
    assert stats.path_sharpe_ratio(path) == pytest.approx(np.mean(returns) / np.std(returns, ddof=1), rel=1e-12)
    assert stats.path_sharpe_ratio(path, periods_per_year=252) == pytest.approx(metrics.sharpe_ratio(returns, periods_per_year=252))
    assert math.isnan(stats.path_sharpe_ratio([100.0, 50.0, 0.0, 10.0]))
    assert math.isnan(stats.path_sharpe_ratio([100.0, 100.0, 100.0]))


def test_maker_edge_is_positive_for_selling_above_or_buying_below_the_mid() -> None:
    edges = stats.maker_edges([101.0, 99.0, 99.0, 101.0], [2, 3, 1, 1], [True, False, True, False], [100.0] * 4)
    np.testing.assert_array_equal(edges, [2.0, 3.0, -1.0, -1.0])
    assert stats.maker_edges([], [], [], []).shape == (0,)
    with pytest.raises(ValueError, match="qtys has 1 bars but prices has 2"):
        stats.maker_edges([1.0, 2.0], [1], [True, True], [1.0, 1.0])


def test_bad_input_to_a_statistic_is_a_market_error_naming_the_series() -> None:
    from market.errors import MarketError, StatisticsError

    with pytest.raises(StatisticsError, match="returns has -1.5 at index 1") as caught:
        metrics.total_return([0.1, -1.5])
    assert isinstance(caught.value, MarketError) and isinstance(caught.value, ValueError)


def test_mean_interval_is_students_t_interval():
    from scipy import stats as scipy_stats

    from market.stats import mean_interval

    values = np.array([0.3, -1.2, 2.5, 0.9, 1.1])
    mean, half = mean_interval(values)
    low, high = scipy_stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=scipy_stats.sem(values))
    assert mean == pytest.approx(values.mean()) and half == pytest.approx((high - low) / 2)
    assert math.isnan(mean_interval([4.0])[1]), "one sample has no interval"
    assert mean_interval([2.0, 2.0, 2.0]) == (2.0, 0.0)


def test_paired_difference_interval_matches_a_paired_t_test():
    from scipy import stats as scipy_stats

    from market.stats import paired_difference

    rng = np.random.default_rng(5)
    shared = rng.normal(0.0, 10.0, 30)  # what the seed's market does to both strategies
    a, b = shared + rng.normal(0.5, 1.0, 30), shared + rng.normal(0.0, 1.0, 30)
    mean, half = paired_difference(a, b)
    result = scipy_stats.ttest_rel(a, b)
    low, high = result.confidence_interval(0.95)
    assert mean == pytest.approx(np.mean(a - b)) and half == pytest.approx((high - low) / 2)
    assert half < mean_interval_half_unpaired(a, b), "pairing removes the shared market noise"


def mean_interval_half_unpaired(a, b) -> float:
    from market.stats import mean_interval

    return mean_interval(a)[1] + mean_interval(b)[1]


def test_intervals_refuse_non_finite_or_mismatched_samples():
    from market.errors import StatisticsError
    from market.stats import mean_interval, paired_difference

    with pytest.raises(StatisticsError):
        mean_interval([1.0, float("nan")])
    with pytest.raises(StatisticsError):
        paired_difference([1.0, 2.0], [1.0])


def test_portfolio_turnover_per_year_and_mean_holdings_by_hand():
    from market.errors import StatisticsError
    from market.stats import annual_turnover, mean_holdings

    # moving 10% of the value from one asset to another trades 0.2 of it; once every 4 bars of 252 a year
    assert annual_turnover([0.2, 0.0, 0.0, 0.0], periods_per_year=252) == pytest.approx(0.2 / 4 * 252)
    assert math.isnan(annual_turnover([], periods_per_year=252))
    with pytest.raises(StatisticsError, match="traded: fractions traded must be >= 0, got -0.1 at index 1"):
        annual_turnover([0.1, -0.1], periods_per_year=252)
    weights = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.3, 0.3, 0.3]])
    assert mean_holdings(weights) == pytest.approx((2 + 1 + 3) / 3)
    with pytest.raises(StatisticsError, match="2-D"):
        mean_holdings([0.5, 0.5])
