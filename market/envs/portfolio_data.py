"""The portfolio envs' data: the panel's prices, the precomputed observation features, their layout and the spaces.

Everything an observation at bar ``t`` shows is computed from closes up to ``t`` only, once, when the
env is built, so a step is an index lookup. :func:`portfolio_observation_layout` names the slices of
the flat observation vector; policies find the returns block and the current weights with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import gymnasium as gym
import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from market.data.panel import Panel
from market.envs.portfolio_config import MAX_GROSS_LEVERAGE, PortfolioEnvConfig
from market.errors import ConfigError

PERCENT: Final = 100.0
"""Returns, volatilities and momenta are shown in percent (log return x 100), so a network's inputs are
of order 1; every baseline's weights are the same whatever the scale of the returns it reads."""
RETURN_BOUND: Final = 100.0
"""Per-bar log returns in the observation (percent) are clipped to [-100, 100] (a 63% fall or a 172% rise)."""
MOMENTUM_BOUND: Final = 500.0
"""The window's summed log return (percent) is clipped to [-500, 500]."""
VALUE_RETURN_BOUNDS: Final = (-1.0, 10.0)
"""The portfolio's return since the start of the episode, clipped."""

RETURNS: Final = "returns"
VOLATILITY: Final = "volatility"
MOMENTUM: Final = "momentum"
CORRELATION: Final = "correlation_to_mean"
MEAN_CORRELATION: Final = "mean_correlation"
WEIGHTS: Final = "weights"
DRAWDOWN: Final = "drawdown"
TIME_LEFT: Final = "time_left"
VALUE_RETURN: Final = "value_return"


def portfolio_observation_layout(n_assets: int, window: int) -> dict[str, slice]:
    """The slices of the flat observation, by name, for ``n_assets`` assets and a ``window`` of returns.

    ======================  ==================  ===============  ==============================================
    name                    size                bounds           meaning at decision bar t
    ======================  ==================  ===============  ==============================================
    ``returns``             window x N          [-100, 100]      log close-to-close returns of bars
                                                                 t - window + 1 .. t in percent, oldest
                                                                 row first, row-major (row k, asset i at
                                                                 k * N + i)
    ``volatility``          N                   [0, 100]         each asset's std of those returns
    ``momentum``            N                   [-500, 500]      each asset's sum of those returns
    ``correlation_to_mean`` N                   [-1, 1]          each asset's correlation with the assets'
                                                                 mean return over the window
    ``mean_correlation``    1                   [-1, 1]          mean pairwise correlation over the window
    ``weights``             N + 1               see below        held weights at t's close, cash last
    ``drawdown``            1                   [0, 1]           1 - value / running peak of the episode
    ``time_left``           1                   [0, 1]           steps left / episode length
    ``value_return``        1                   [-1, 10]         value / initial cash - 1
    ======================  ==================  ===============  ==============================================

    Weights lie in [0, 1] when long only; with shorts, assets in [-L, L] and cash in [1 - L, 1 + L]
    for ``L = gross_leverage`` (:data:`~market.envs.portfolio_config.MAX_GROSS_LEVERAGE` at most);
    costs are paid from cash, so a fully invested portfolio's cash weight dips just below 0.
    A correlation with a constant series is 0.
    """
    sizes = {
        RETURNS: window * n_assets,
        VOLATILITY: n_assets,
        MOMENTUM: n_assets,
        CORRELATION: n_assets,
        MEAN_CORRELATION: 1,
        WEIGHTS: n_assets + 1,
        DRAWDOWN: 1,
        TIME_LEFT: 1,
        VALUE_RETURN: 1,
    }
    layout, start = {}, 0
    for name, size in sizes.items():
        layout[name] = slice(start, start + size)
        start += size
    return layout


def observation_size(n_assets: int, window: int) -> int:
    """Length of the flat observation vector."""
    return portfolio_observation_layout(n_assets, window)[VALUE_RETURN].stop


@dataclass(frozen=True, slots=True, eq=False)
class PortfolioData:
    """The panel's prices and the precomputed market part of every observation, shared by all envs.

    Attributes:
        assets: The asset names, in column order.
        times: The bars' times.
        opens: Opens, ``(bars, N)``: a decision at bar t trades at ``opens[t + 1]``.
        closes: Closes, ``(bars, N)``: the portfolio is marked at them.
        tradable: ``(bars, N)``: False where an asset's bar was filled forward (it does not trade).
        market: ``(bars, M)`` float32, the market part of the observation at each bar (rows before
            ``first_start`` are unused).
        first_start: The first bar with a full window of returns behind it.
        last_start: The last bar an episode may start at (one bar must follow it).
        last_bar: The last bar an episode may reach.
    """

    assets: tuple[str, ...]
    times: pd.DatetimeIndex
    opens: np.ndarray
    closes: np.ndarray
    tradable: np.ndarray
    market: np.ndarray
    first_start: int
    last_start: int
    last_bar: int

    def end_bar(self, start: int, max_steps: int | None) -> int:
        """The bar an episode starting at ``start`` is truncated at."""
        return self.last_bar if max_steps is None else min(self.last_bar, start + max_steps)

    def draw_start(self, rng: np.random.Generator) -> int:
        """A uniformly drawn start bar."""
        return int(rng.integers(self.first_start, self.last_start + 1))

    def pinned_start(self, value: Any) -> int:
        """The start bar ``reset(options={"start": ...})`` asks for: a bar index or a time."""
        if isinstance(value, int | np.integer) and not isinstance(value, bool):
            bar = int(value)
        else:
            try:
                stamp = pd.Timestamp(value)
            except (TypeError, ValueError) as error:
                raise ConfigError(f"options['start'] must be a bar index or a time, got {value!r}") from error
            bar = int(self.times.searchsorted(stamp))
        if not self.first_start <= bar <= self.last_start:
            raise ConfigError(f"options['start'] must be a bar in [{self.first_start}, {self.last_start}], got {value!r}")
        return bar


def _read_panel(source: Any) -> Panel:
    """Resolve the ``data`` setting to a panel."""
    from market.data import load_sample_panel
    from market.data.panel import load_panel

    if isinstance(source, Panel):
        return source
    if source is None:
        return load_sample_panel()
    from pathlib import Path

    return load_panel(source, wide=not Path(source).is_dir())


def _correlations(window_returns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per window (axis 0): each asset's correlation with the mean return, and the mean pairwise correlation."""
    centered = window_returns - window_returns.mean(axis=1, keepdims=True)  # (bars, window, N)
    scale = np.sqrt(np.sum(centered * centered, axis=1))  # (bars, N)
    mean = window_returns.mean(axis=2, keepdims=True)  # (bars, window, 1)
    mean_centered = mean - mean.mean(axis=1, keepdims=True)
    mean_scale = np.sqrt(np.sum(mean_centered * mean_centered, axis=1))  # (bars, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        to_mean = np.sum(centered * mean_centered, axis=1) / (scale * mean_scale)
        pair = np.einsum("bti,btj->bij", centered, centered) / (scale[:, :, None] * scale[:, None, :])
    to_mean = np.where(np.isfinite(to_mean), to_mean, 0.0)
    pair = np.where(np.isfinite(pair), pair, 0.0)
    n = window_returns.shape[2]
    off_diagonal = (pair.sum(axis=(1, 2)) - np.trace(pair, axis1=1, axis2=2)) / (n * (n - 1))
    return np.clip(to_mean, -1.0, 1.0), np.clip(off_diagonal, -1.0, 1.0)


def load_portfolio_data(config: PortfolioEnvConfig) -> PortfolioData:
    """Read the panel and precompute the market part of every observation.

    Raises:
        ConfigError: The panel is too short for the window (and one step), or ``start``/``end``
            leave no room for an episode.
        DataError: A file cannot be read (the message names it).
    """
    panel = _read_panel(config.data)
    n_assets = len(panel.assets)
    opens = np.asarray(panel.fields["open"], dtype=np.float64)
    closes = np.asarray(panel.fields["close"], dtype=np.float64)
    bars = closes.shape[0]
    window = config.window
    if bars < window + 2:
        raise ConfigError(f"window: {window} bars of returns need a panel of at least {window + 2} bars, got {bars}")
    config.costs_bps(n_assets)  # per-asset costs must match the panel
    # log returns into each bar (none into bar 0)
    returns = np.zeros_like(closes)
    returns[1:] = np.log(closes[1:] / closes[:-1])
    # windows of returns ending at each bar t >= window (bars 1..t hold the returns)
    windows = sliding_window_view(returns[1:], window, axis=0).transpose(0, 2, 1)  # (bars - window, window, N)
    first_start = window
    to_mean, mean_corr = _correlations(windows)
    market = np.zeros((bars, observation_size(n_assets, window) - (n_assets + 4)), dtype=np.float32)
    layout = portfolio_observation_layout(n_assets, window)
    rows = slice(first_start, bars)
    market[rows, layout[RETURNS]] = np.clip(PERCENT * windows, -RETURN_BOUND, RETURN_BOUND).reshape(windows.shape[0], -1)
    market[rows, layout[VOLATILITY]] = np.clip(PERCENT * windows.std(axis=1), 0.0, RETURN_BOUND)
    market[rows, layout[MOMENTUM]] = np.clip(PERCENT * windows.sum(axis=1), -MOMENTUM_BOUND, MOMENTUM_BOUND)
    market[rows, layout[CORRELATION]] = to_mean
    market[rows, layout[MEAN_CORRELATION]] = mean_corr[:, None]
    # the bars episodes may use
    times = panel.times
    first = first_start if config.start is None else max(first_start, int(times.searchsorted(config.start)))
    last_bar = bars - 1 if config.end is None else int(times.searchsorted(config.end, side="right")) - 1
    if last_bar - first < 1:
        raise ConfigError(f"start/end: no room for an episode between {times[min(first, bars - 1)]} and {times[max(last_bar, 0)]} after a window of {window} bars")
    return PortfolioData(
        assets=panel.assets,
        times=times,
        opens=opens,
        closes=closes,
        tradable=np.asarray(panel.available, dtype=bool),
        market=market,
        first_start=first,
        last_start=last_bar - 1,
        last_bar=last_bar,
    )


def build_portfolio_spaces(config: PortfolioEnvConfig, n_assets: int) -> tuple[gym.spaces.Box, gym.spaces.Box]:
    """The action and observation spaces for ``n_assets`` assets."""
    action_size = n_assets + 1 if config.long_only else n_assets
    action_space = gym.spaces.Box(-1.0, 1.0, (action_size,), np.float32)
    layout = portfolio_observation_layout(n_assets, config.window)
    size = observation_size(n_assets, config.window)
    low = np.zeros(size, dtype=np.float32)
    high = np.zeros(size, dtype=np.float32)
    bounds: Mapping[str, tuple[float, float]] = {
        RETURNS: (-RETURN_BOUND, RETURN_BOUND),
        VOLATILITY: (0.0, RETURN_BOUND),
        MOMENTUM: (-MOMENTUM_BOUND, MOMENTUM_BOUND),
        CORRELATION: (-1.0, 1.0),
        MEAN_CORRELATION: (-1.0, 1.0),
        DRAWDOWN: (0.0, 1.0),
        TIME_LEFT: (0.0, 1.0),
        VALUE_RETURN: VALUE_RETURN_BOUNDS,
    }
    for name, (lo, hi) in bounds.items():
        low[layout[name]], high[layout[name]] = lo, hi
    weights = layout[WEIGHTS]
    leverage = MAX_GROSS_LEVERAGE if not config.long_only else 1.0
    low[weights], high[weights] = -leverage, leverage
    low[weights.stop - 1], high[weights.stop - 1] = 1.0 - leverage - 1.0, 1.0 + leverage
    return action_space, gym.spaces.Box(low, high, (size,), np.float32)
