"""Seeded synthetic price generators: GBM, Ornstein-Uhlenbeck, Merton jump diffusion, regime switching.

This module owns the price models and the way a close path becomes OHLCV bars. Every generator takes
an ``rng: np.random.Generator`` (never a global seed), draws from it in a fixed order, and returns a
table of the same shape as :func:`market.data.loading.load_prices`: float64 ``open, high, low,
close, volume`` on a timezone-naive :class:`pandas.DatetimeIndex` named ``time``. The same generator
state gives the same table, bit for bit.

Drifts, volatilities and rates are annual; ``periods_per_year`` says how many bars make a year
(252 for daily business-day bars, the default).

Bars are built from the close path: a bar opens at the previous close moved by a small gap, and its
high and low enclose the open and the close by a small random wick, so every table passes
:func:`market.data.loading.check_prices`.

:func:`generate` picks a generator by name, for scenario files.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from numbers import Real
from types import MappingProxyType
from typing import Final

import numpy as np
import pandas as pd

from market import limits
from market.config import suggest
from market.data.loading import CLOSE, HIGH, LOW, OPEN, TIME, TIME_UNIT, VOLUME
from market.data.panel import Panel, panel_from_frames
from market.errors import ConfigError

__all__ = [
    "DEFAULT_START",
    "GENERATORS",
    "PriceGenerator",
    "generate",
    "gbm",
    "jump_diffusion",
    "ou",
    "regime_switching",
]

DEFAULT_START: Final = "2015-01-02"
"""First bar of every generator unless ``start`` is given."""

_GAP_SCALE: Final = 0.2
"""Standard deviation of the open's gap from the previous close, in units of the bar's volatility."""
_WICK_SCALE: Final = 0.5
"""Scale of the high's and low's distance beyond the open and close, in units of the bar's volatility."""
_VOLUME_SPREAD: Final = 0.3
"""Standard deviation of the log of the volume's random factor."""
_MEAN_ACTIVITY_FACTOR: Final = 0.5 + 0.5 * math.sqrt(2 / math.pi)
"""Mean of ``0.5 + 0.5 |Z|`` for a standard normal ``Z``: dividing by it makes ``volume`` the mean volume."""
_MAX_ABS_LOG_PRICE: Final = 600.0
"""Largest |log price| accepted, so that prices and wicks stay finite and positive in float64."""

Frequency = str | pd.offsets.BaseOffset
"""A pandas frequency: an alias such as ``"B"`` or ``"h"``, or an offset object."""


def gbm(
    rng: np.random.Generator,
    n: int,
    *,
    s0: float = 100.0,
    mu: float = 0.05,
    sigma: float = 0.2,
    start: str | pd.Timestamp = DEFAULT_START,
    freq: Frequency = "B",
    periods_per_year: float = 252.0,
    volume: float = 1e6,
) -> pd.DataFrame:
    """Geometric Brownian motion: log returns are normal with mean ``(mu - sigma**2/2) dt``.

    Args:
        rng: Source of every random draw.
        n: Number of bars (at least 2).
        s0: Price before the first bar; the first bar opens near it.
        mu: Annual drift of the price.
        sigma: Annual volatility (standard deviation of log returns over a year), ``>= 0``.
        start: Time of the first bar.
        freq: Spacing of bars, a pandas frequency (``"B"`` business days by default).
        periods_per_year: Bars per year, which sets ``dt = 1 / periods_per_year``.
        volume: Mean volume of a bar, ``>= 0`` (bars with larger moves trade more).

    Returns:
        An OHLCV price table of ``n`` bars.

    Raises:
        ConfigError: A parameter is out of range; the message names it and its value.
    """
    name = "gbm"
    n = _count(name, n)
    _positive(name, "s0", s0)
    _finite(name, "mu", mu)
    _non_negative(name, "sigma", sigma)
    dt = _dt(name, periods_per_year)
    index = _index(name, n, start, freq)
    _non_negative(name, "volume", volume)

    # Log returns of the close, then bars around the close path.
    bar_sigma = np.full(n, sigma * math.sqrt(dt))
    returns = (mu - sigma**2 / 2) * dt + bar_sigma * rng.standard_normal(n)
    log_close = math.log(s0) + np.cumsum(returns)
    return _bars(name, rng, index, math.log(s0), log_close, bar_sigma, volume)


def ou(
    rng: np.random.Generator,
    n: int,
    *,
    s0: float = 100.0,
    mean: float = 100.0,
    theta: float = 5.0,
    sigma: float = 0.2,
    start: str | pd.Timestamp = DEFAULT_START,
    freq: Frequency = "B",
    periods_per_year: float = 252.0,
    volume: float = 1e6,
) -> pd.DataFrame:
    """Ornstein-Uhlenbeck in log price: the log price reverts to ``log(mean)`` at speed ``theta``.

    The path is simulated exactly (no discretisation error): with ``x = log(price)`` and
    ``m = log(mean)``, ``x[t] = m + (x[t-1] - m) exp(-theta dt) + sigma sqrt((1 - exp(-2 theta dt)) / (2 theta)) Z``.
    A deviation halves in ``log(2) / theta`` years; the stationary standard deviation of the log price
    is ``sigma / sqrt(2 theta)``.

    Args:
        rng: Source of every random draw.
        n: Number of bars (at least 2).
        s0: Price before the first bar; the first bar opens near it.
        mean: Price level the path reverts to, ``> 0``.
        theta: Annual speed of mean reversion, ``> 0``.
        sigma: Annual volatility of the log price's shocks, ``>= 0``.
        start: Time of the first bar.
        freq: Spacing of bars, a pandas frequency (``"B"`` business days by default).
        periods_per_year: Bars per year, which sets ``dt = 1 / periods_per_year``.
        volume: Mean volume of a bar, ``>= 0`` (bars with larger moves trade more).

    Returns:
        An OHLCV price table of ``n`` bars.

    Raises:
        ConfigError: A parameter is out of range; the message names it and its value.
    """
    name = "ou"
    n = _count(name, n)
    _positive(name, "s0", s0)
    _positive(name, "mean", mean)
    _positive(name, "theta", theta)
    _non_negative(name, "sigma", sigma)
    dt = _dt(name, periods_per_year)
    index = _index(name, n, start, freq)
    _non_negative(name, "volume", volume)

    # Exact AR(1) recursion of the log price around the log mean.
    decay = math.exp(-theta * dt)
    step_sigma = sigma * math.sqrt(-math.expm1(-2 * theta * dt) / (2 * theta))
    shocks = step_sigma * rng.standard_normal(n)
    log_mean = math.log(mean)
    deviation = math.log(s0) - log_mean
    log_close = np.empty(n)
    for t in range(n):
        deviation = deviation * decay + shocks[t]
        log_close[t] = log_mean + deviation
    bar_sigma = np.full(n, step_sigma)
    return _bars(name, rng, index, math.log(s0), log_close, bar_sigma, volume)


def jump_diffusion(
    rng: np.random.Generator,
    n: int,
    *,
    s0: float = 100.0,
    mu: float = 0.05,
    sigma: float = 0.15,
    jump_rate: float = 4.0,
    jump_mean: float = -0.03,
    jump_std: float = 0.06,
    start: str | pd.Timestamp = DEFAULT_START,
    freq: Frequency = "B",
    periods_per_year: float = 252.0,
    volume: float = 1e6,
) -> pd.DataFrame:
    """Merton jump diffusion: GBM plus Poisson jumps with normal log sizes.

    The drift is compensated so that the expected price grows at ``mu`` whatever the jumps:
    log returns are ``(mu - sigma**2/2 - jump_rate k) dt + sigma sqrt(dt) Z + sum of N jumps``, with
    ``N ~ Poisson(jump_rate dt)``, each jump ``~ Normal(jump_mean, jump_std)`` and
    ``k = exp(jump_mean + jump_std**2/2) - 1``.

    Args:
        rng: Source of every random draw.
        n: Number of bars (at least 2).
        s0: Price before the first bar; the first bar opens near it.
        mu: Annual drift of the price.
        sigma: Annual volatility of the diffusion part, ``>= 0``.
        jump_rate: Expected number of jumps per year, ``>= 0``.
        jump_mean: Mean log size of a jump.
        jump_std: Standard deviation of a jump's log size, ``>= 0``.
        start: Time of the first bar.
        freq: Spacing of bars, a pandas frequency (``"B"`` business days by default).
        periods_per_year: Bars per year, which sets ``dt = 1 / periods_per_year``.
        volume: Mean volume of a bar, ``>= 0`` (bars with larger moves trade more).

    Returns:
        An OHLCV price table of ``n`` bars.

    Raises:
        ConfigError: A parameter is out of range; the message names it and its value.
    """
    name = "jump_diffusion"
    n = _count(name, n)
    _positive(name, "s0", s0)
    _finite(name, "mu", mu)
    _non_negative(name, "sigma", sigma)
    _non_negative(name, "jump_rate", jump_rate)
    _finite(name, "jump_mean", jump_mean)
    _non_negative(name, "jump_std", jump_std)
    dt = _dt(name, periods_per_year)
    index = _index(name, n, start, freq)
    _non_negative(name, "volume", volume)

    # Diffusion, then the number of jumps in each bar and their summed log size.
    bar_sigma = np.full(n, sigma * math.sqrt(dt))
    diffusion = bar_sigma * rng.standard_normal(n)
    jumps = rng.poisson(jump_rate * dt, size=n)
    jump_sizes = jump_mean * jumps + jump_std * np.sqrt(jumps) * rng.standard_normal(n)
    compensator = jump_rate * math.expm1(jump_mean + jump_std**2 / 2)
    returns = (mu - sigma**2 / 2 - compensator) * dt + diffusion + jump_sizes
    log_close = math.log(s0) + np.cumsum(returns)
    return _bars(name, rng, index, math.log(s0), log_close, bar_sigma, volume)


def regime_switching(
    rng: np.random.Generator,
    n: int,
    *,
    s0: float = 100.0,
    mu: Sequence[float] = (0.15, -0.25),
    sigma: Sequence[float] = (0.12, 0.35),
    transition: Sequence[Sequence[float]] = ((0.99, 0.01), (0.04, 0.96)),
    initial_regime: int = 0,
    start: str | pd.Timestamp = DEFAULT_START,
    freq: Frequency = "B",
    periods_per_year: float = 252.0,
    volume: float = 1e6,
) -> pd.DataFrame:
    """Markov regime switching GBM: each bar's drift and volatility are those of the current regime.

    The regime follows a Markov chain over bars: ``transition[i][j]`` is the chance that a bar in
    regime ``i`` is followed by one in regime ``j``. The defaults are a calm bull market and a
    volatile bear market whose spells last about 100 and 25 bars.

    Args:
        rng: Source of every random draw.
        n: Number of bars (at least 2).
        s0: Price before the first bar; the first bar opens near it.
        mu: Annual drift of the price in each regime.
        sigma: Annual volatility in each regime, each ``>= 0``; as many as ``mu``.
        transition: Square matrix of per-bar switching probabilities, one row per regime, rows
            summing to 1.
        initial_regime: Regime of the first bar.
        start: Time of the first bar.
        freq: Spacing of bars, a pandas frequency (``"B"`` business days by default).
        periods_per_year: Bars per year, which sets ``dt = 1 / periods_per_year``.
        volume: Mean volume of a bar, ``>= 0`` (bars with larger moves trade more).

    Returns:
        An OHLCV price table of ``n`` bars.

    Raises:
        ConfigError: A parameter is out of range; the message names it and its value.
    """
    name = "regime_switching"
    n = _count(name, n)
    _positive(name, "s0", s0)
    drifts = _vector(name, "mu", mu)
    vols = _vector(name, "sigma", sigma)
    if vols.size != drifts.size:
        raise ConfigError(f"{name}: sigma has {vols.size} regimes but mu has {drifts.size}")
    for i, vol in enumerate(vols):
        _non_negative(name, f"sigma[{i}]", float(vol))
    matrix = _transition(name, transition, drifts.size)
    regime_ok = isinstance(initial_regime, int | np.integer) and not isinstance(initial_regime, bool)
    if not regime_ok or not 0 <= initial_regime < drifts.size:
        raise ConfigError(f"{name}: initial_regime must be an int in [0, {drifts.size - 1}], got {initial_regime!r}")
    dt = _dt(name, periods_per_year)
    index = _index(name, n, start, freq)
    _non_negative(name, "volume", volume)

    # Regime path, then GBM returns with each bar's regime parameters.
    regimes = _markov_chain(rng, n, matrix, int(initial_regime))
    bar_sigma = vols[regimes] * math.sqrt(dt)
    returns = (drifts[regimes] - vols[regimes] ** 2 / 2) * dt + bar_sigma * rng.standard_normal(n)
    log_close = math.log(s0) + np.cumsum(returns)
    return _bars(name, rng, index, math.log(s0), log_close, bar_sigma, volume)


PriceGenerator = Callable[..., pd.DataFrame]
"""A price generator: ``(rng, n, **params) -> price table``."""

GENERATORS: Final[Mapping[str, PriceGenerator]] = MappingProxyType(
    {"gbm": gbm, "ou": ou, "jump_diffusion": jump_diffusion, "regime_switching": regime_switching}
)
"""The generators :func:`generate` knows, by name."""


def generate(name: str, rng: np.random.Generator, n: int, **params: object) -> pd.DataFrame:
    """Run the generator called ``name``: the entry point for scenario files.

    Args:
        name: A key of :data:`GENERATORS`.
        rng: Source of every random draw.
        n: Number of bars (at least 2).
        **params: Keyword parameters of that generator.

    Returns:
        An OHLCV price table of ``n`` bars.

    Raises:
        ConfigError: The name is unknown, a parameter is unknown, or a value is out of range.
    """
    generator = GENERATORS.get(name) if isinstance(name, str) else None
    if generator is None:
        raise ConfigError(f"unknown generator {name!r}, expected one of {', '.join(GENERATORS)}")
    accepted = [p.name for p in inspect.signature(generator).parameters.values() if p.kind is p.KEYWORD_ONLY]
    for key in params:
        if key not in accepted:
            raise ConfigError(f"{name}: unknown parameter {key!r}, expected one of {', '.join(accepted)}{suggest(key, list(accepted))}")
    return generator(rng, n, **params)


def _bars(
    name: str,
    rng: np.random.Generator,
    index: pd.DatetimeIndex,
    log_s0: float,
    log_close: np.ndarray,
    bar_sigma: np.ndarray,
    volume: float,
) -> pd.DataFrame:
    """Turn a log close path into OHLCV bars whose high and low enclose the open and the close."""
    n = log_close.size
    extreme = float(np.max(np.abs(log_close)))
    if not extreme <= _MAX_ABS_LOG_PRICE:
        raise ConfigError(
            f"{name}: the price path leaves float64 range (|log price| reached {extreme:.4g}); lower sigma, mu or n"
        )
    # Open: the previous close moved by a small gap (the first bar opens near s0).
    log_previous = np.concatenate(([log_s0], log_close[:-1]))
    log_open = log_previous + _GAP_SCALE * bar_sigma * rng.standard_normal(n)
    # High and low: beyond the larger and the smaller of open and close by a half-normal wick.
    up = _WICK_SCALE * bar_sigma * np.abs(rng.standard_normal(n))
    down = _WICK_SCALE * bar_sigma * np.abs(rng.standard_normal(n))
    close = np.exp(log_close)
    open_ = np.exp(log_open)
    high = np.maximum(open_, close) * np.exp(up)
    low = np.minimum(open_, close) * np.exp(-down)
    # Volume: a lognormal level that rises with the size of the bar's move.
    activity = np.divide(np.abs(log_close - log_previous), bar_sigma, out=np.zeros(n), where=bar_sigma > 0)
    noise = np.exp(_VOLUME_SPREAD * rng.standard_normal(n) - _VOLUME_SPREAD**2 / 2)
    volumes = np.round(volume * noise * (0.5 + 0.5 * np.minimum(activity, 10.0)) / _MEAN_ACTIVITY_FACTOR)
    return pd.DataFrame({OPEN: open_, HIGH: high, LOW: low, CLOSE: close, VOLUME: volumes}, index=index)


def _markov_chain(rng: np.random.Generator, n: int, transition: np.ndarray, initial: int) -> np.ndarray:
    """A path of ``n`` regimes starting in ``initial``, each drawn from the previous one's row."""
    cumulative = np.cumsum(transition, axis=1)
    draws = rng.random(n)
    regimes = np.empty(n, dtype=np.intp)
    state = initial
    regimes[0] = state
    for t in range(1, n):
        state = min(int(np.searchsorted(cumulative[state], draws[t], side="right")), transition.shape[0] - 1)
        regimes[t] = state
    return regimes


def _index(name: str, n: int, start: str | pd.Timestamp, freq: Frequency) -> pd.DatetimeIndex:
    """``n`` bar times from ``start`` at ``freq``, shaped like a loaded index (no ``freq`` attribute)."""
    try:
        first = pd.Timestamp(start)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{name}: start must be a date or time, got {start!r}") from error
    if first is pd.NaT or first.tz is not None:
        raise ConfigError(f"{name}: start must be a timezone-naive date or time, got {start!r}")
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
        if offset is None:
            raise TypeError("no frequency")
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{name}: freq must be a pandas frequency such as 'B' or 'h', got {freq!r}") from error
    try:
        times = pd.date_range(first, periods=n, freq=offset, unit=TIME_UNIT)
    except (ValueError, OverflowError) as error:
        problem = f"{n} bars from start {start!r} at freq {freq!r} leave the supported time range"
        raise ConfigError(f"{name}: {problem}") from error
    return pd.DatetimeIndex(times, freq=None, name=TIME)


def _count(name: str, n: object) -> int:
    """Check the number of bars."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise ConfigError(f"{name}: n must be an int >= 2, got {n!r}")
    if n > limits.MAX_BARS:
        raise ConfigError(f"{name}: n = {int(n):,} bars is over the limit of {limits.MAX_BARS:,}")
    return int(n)


def _finite(name: str, key: str, value: object) -> float:
    """Check that a parameter is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ConfigError(f"{name}: {key} must be a finite number, got {value!r}")
    return float(value)


def _positive(name: str, key: str, value: object) -> float:
    """Check that a parameter is a finite number above 0."""
    if _finite(name, key, value) <= 0:
        raise ConfigError(f"{name}: {key} must be > 0, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _non_negative(name: str, key: str, value: object) -> float:
    """Check that a parameter is a finite number of at least 0."""
    if _finite(name, key, value) < 0:
        raise ConfigError(f"{name}: {key} must be >= 0, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _dt(name: str, periods_per_year: object) -> float:
    """The bar length in years."""
    return 1.0 / _positive(name, "periods_per_year", periods_per_year)


def _vector(name: str, key: str, values: object) -> np.ndarray:
    """Check a non-empty sequence of finite numbers, one per regime."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence) or len(values) == 0:
        raise ConfigError(f"{name}: {key} must be a non-empty list of numbers, got {values!r}")
    return np.array([_finite(name, f"{key}[{i}]", value) for i, value in enumerate(values)])


def _transition(name: str, transition: object, regimes: int) -> np.ndarray:
    """Check a square row-stochastic matrix with one row per regime."""
    if isinstance(transition, str | bytes) or not isinstance(transition, Sequence) or len(transition) != regimes:
        raise ConfigError(f"{name}: transition must have {regimes} rows (one per regime), got {transition!r}")
    rows = []
    for i, row in enumerate(transition):
        if isinstance(row, str | bytes) or not isinstance(row, Sequence) or len(row) != regimes:
            raise ConfigError(f"{name}: transition[{i}] must have {regimes} entries, got {row!r}")
        rows.append([_non_negative(name, f"transition[{i}][{j}]", p) for j, p in enumerate(row)])
        if not math.isclose(sum(rows[-1]), 1.0, abs_tol=1e-9):
            raise ConfigError(f"{name}: transition[{i}] must sum to 1, got {sum(rows[-1])!r}")
    return np.array(rows)


def factor_panel(
    rng: np.random.Generator,
    n: int,
    *,
    sectors: Sequence[int] = (4, 4, 4),
    start: str = "2015-01-02",
    vol_market: float = 0.01,
    vol_sector: float = 0.008,
    vol_idio: float = 0.012,
    calm_to_stress: float = 0.01,
    stress_to_calm: float = 0.05,
    stress_scale: float = 2.5,
) -> pd.DataFrame:
    """Daily closes of many assets driven by a market factor, sector factors and a volatility regime.

    Each asset's log return is ``beta * market + sector + idiosyncratic``; a two-state Markov
    regime (calm, stress) multiplies the market and sector volatility by ``stress_scale`` in stress,
    so correlations rise in stress. Assets are named ``S{sector}_{k}`` and start at 100.

    Args:
        rng: The random stream.
        n: Business days.
        sectors: How many assets each sector has.
        start: The first business day.
        vol_market: Daily volatility of the market factor in calm.
        vol_sector: Daily volatility of each sector factor in calm.
        vol_idio: Daily idiosyncratic volatility.
        calm_to_stress: Daily probability of moving from calm to stress.
        stress_to_calm: Daily probability of moving from stress to calm.
        stress_scale: Volatility multiplier of the factors in stress.

    Returns:
        A DataFrame of closes (time x asset) on a business-day DatetimeIndex named ``time``.
    """
    n_assets = int(sum(sectors))
    regime = np.empty(n, dtype=np.int8)
    state = 0
    switches = rng.random(n)
    for t in range(n):
        regime[t] = state
        state = 1 - state if switches[t] < (calm_to_stress if state == 0 else stress_to_calm) else state
    scale = np.where(regime == 1, stress_scale, 1.0)
    market = rng.standard_normal(n) * vol_market * scale
    sector_moves = rng.standard_normal((n, len(sectors))) * vol_sector * scale[:, None]
    betas = rng.uniform(0.6, 1.4, n_assets)
    sector_of = np.repeat(np.arange(len(sectors)), sectors)
    idio = rng.standard_normal((n, n_assets)) * vol_idio
    returns = market[:, None] * betas[None, :] + sector_moves[:, sector_of] + idio
    closes = 100.0 * np.exp(np.cumsum(returns, axis=0))
    names = [f"S{s}_{k}" for s, count in enumerate(sectors) for k in range(count)]
    times = pd.bdate_range(start, periods=n, name="time", unit="us")
    return pd.DataFrame(closes, index=times, columns=names)


def pair_panel(
    rng: np.random.Generator,
    n: int,
    *,
    phi: float = 0.8,
    spread_vol: float = 0.01,
    market_vol: float = 0.01,
    start: str = "2015-01-02",
) -> Panel:
    """Two assets whose log-price spread mean-reverts: a planted signal for portfolio learning tests.

    Log prices are ``m_t + s_t / 2`` (``A``) and ``m_t - s_t / 2`` (``B``): ``m`` a random walk with
    daily volatility ``market_vol``, ``s`` an AR(1) with coefficient ``phi`` and innovation volatility
    ``spread_vol``, so ``E[r_A - r_B at t+1] = -(1 - phi) s_t``: the asset that is cheap against the
    other tends to outperform it. Each bar opens at the previous close (no gaps), so an order decided
    at one bar's close fills at that close's price on the next bar.

    Args:
        rng: The random stream.
        n: Business days.
        phi: The spread's AR(1) coefficient, in [0, 1).
        spread_vol: The spread's daily innovation volatility.
        market_vol: The common random walk's daily volatility.
        start: The first business day.

    Returns:
        A :class:`~market.data.panel.Panel` of assets ``A`` and ``B`` starting at 100.
    """
    if not 0 <= phi < 1:
        raise ConfigError(f"pair_panel: phi must be in [0, 1), got {phi!r}")
    _positive("pair_panel", "spread_vol", spread_vol)
    _positive("pair_panel", "market_vol", market_vol)
    count = _count("pair_panel", n)
    spread = np.empty(count)
    innovations = rng.standard_normal(count) * spread_vol
    spread[0] = innovations[0] / math.sqrt(1 - phi * phi)  # start in the stationary distribution
    for t in range(1, count):
        spread[t] = phi * spread[t - 1] + innovations[t]
    common = np.cumsum(rng.standard_normal(count) * market_vol)
    times = pd.bdate_range(start, periods=count, name="time", unit="us")
    tables = {}
    for name, sign in (("A", 0.5), ("B", -0.5)):
        close = 100.0 * np.exp(common + sign * spread)
        open_ = np.concatenate([[100.0], close[:-1]])
        tables[name] = pd.DataFrame(
            {"open": open_, "high": np.maximum(open_, close), "low": np.minimum(open_, close), "close": close}, index=times
        )
    return panel_from_frames(tables)
