"""Settings of the portfolio envs: :class:`PortfolioEnvConfig` and its checks.

The config is the one home of the portfolio envs' defaults; every value is checked once, here, with a
:class:`~market.errors.ConfigError` naming the key and the value.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from market import limits
from market.config import from_mapping, with_overrides
from market.data.panel import Panel
from market.envs import rewards
from market.envs.trading_config import TimeBound, check_bool, check_int, check_number, check_time
from market.errors import ConfigError

MAX_GROSS_LEVERAGE: Final = 10.0
"""Largest accepted ``gross_leverage``: the bound of the weights in the observation."""

PORTFOLIO_REWARDS: Final = (rewards.LOG_RETURN, rewards.DIFFERENTIAL_SHARPE)
"""The ``reward`` settings the portfolio envs accept."""

PanelSource = Panel | str | os.PathLike[str] | None
"""A panel, a folder of per-asset files (or one wide CSV of closes) that ``load_panel`` reads, or None."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioEnvConfig:
    """Settings of :class:`~market.envs.portfolio.PortfolioEnv` and its vector env, validated on construction.

    Attributes:
        data: A :class:`~market.data.panel.Panel`, a folder of per-asset price files or a wide CSV of
            closes (read with :func:`~market.data.panel.load_panel`, inner alignment), or None for
            the bundled 12-asset panel (:func:`~market.data.load_sample_panel`). Excluded from
            ``==`` and ``repr``.
        window: Bars of per-asset log returns in the observation (and in the correlation summary).
        commission_bps: Commission in basis points of traded notional: one number, or one per asset.
        slippage_bps: Slippage in basis points of traded notional, charged like the commission:
            one number, or one per asset.
        long_only: Weights on the simplex (the default); False allows shorts within ``gross_leverage``.
        gross_leverage: With ``long_only=False``, the largest sum of absolute asset weights, in [1, 10].
        reward: ``"log_return"`` or ``"differential_sharpe"``.
        turnover_penalty: Subtracted from the reward per unit of value traded (buys and sells), >= 0.
        drawdown_penalty: Subtracted per unit of added drawdown, >= 0.
        sharpe_eta: Adaptation rate of the differential Sharpe ratio's moving moments, in (0, 1).
        max_steps: Steps after which an episode is truncated; None runs to the end of the data.
        random_start: Start episodes at a random bar (training) or at the first allowed one (evaluation).
        start: First time an episode may start at (earlier bars still feed the observation).
        end: Last time an episode may reach.
        initial_cash: Portfolio value at the start of every episode, all in cash.
    """

    data: PanelSource = field(default=None, compare=False, repr=False)
    window: int = 20
    commission_bps: float | tuple[float, ...] = 1.0
    slippage_bps: float | tuple[float, ...] = 2.0
    long_only: bool = True
    gross_leverage: float = 1.0
    reward: str = rewards.LOG_RETURN
    turnover_penalty: float = 0.0
    drawdown_penalty: float = 0.0
    sharpe_eta: float = 0.01
    max_steps: int | None = None
    random_start: bool = True
    start: TimeBound = None
    end: TimeBound = None
    initial_cash: float = 1_000_000.0

    def __post_init__(self) -> None:
        if not isinstance(self.data, Panel | str | os.PathLike | None):
            raise ConfigError(f"data must be a Panel, a path or None, got {type(self.data).__name__}: {self.data!r}")
        check_int("window", self.window, minimum=2)
        limits.check_size("window", self.window, limits.MAX_WINDOW)
        for key in ("commission_bps", "slippage_bps"):
            _set(self, key, _costs(key, getattr(self, key)))
        check_bool("long_only", self.long_only)
        _set(self, "gross_leverage", check_number("gross_leverage", self.gross_leverage, low=1.0, high=MAX_GROSS_LEVERAGE))
        if self.reward not in PORTFOLIO_REWARDS:
            raise ConfigError(f"reward must be one of {', '.join(PORTFOLIO_REWARDS)}, got {self.reward!r}")
        _set(self, "turnover_penalty", check_number("turnover_penalty", self.turnover_penalty, low=0.0))
        _set(self, "drawdown_penalty", check_number("drawdown_penalty", self.drawdown_penalty, low=0.0))
        _set(self, "sharpe_eta", check_number("sharpe_eta", self.sharpe_eta, low=0.0, high=1.0, open_low=True, open_high=True))
        if self.max_steps is not None:
            check_int("max_steps", self.max_steps, minimum=1)
            limits.check_size("max_steps", self.max_steps, limits.MAX_STEPS)
        check_bool("random_start", self.random_start)
        _set(self, "start", check_time("start", self.start))
        _set(self, "end", check_time("end", self.end))
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ConfigError(f"start must be before end, got start={self.start} and end={self.end}")
        _set(self, "initial_cash", check_number("initial_cash", self.initial_cash, low=0.0, high=1e15, open_low=True))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> PortfolioEnvConfig:
        """Build a config from a mapping such as RLlib's ``env_config``; missing settings keep their defaults."""
        return from_mapping(cls, values)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (``data`` included as is), for RLlib's ``env_config``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def costs_bps(self, n_assets: int) -> np.ndarray:
        """Commission plus slippage per asset, in bps, checked against the panel's number of assets."""
        total = np.zeros(n_assets)
        for key in ("commission_bps", "slippage_bps"):
            value = getattr(self, key)
            if isinstance(value, tuple):
                if len(value) != n_assets:
                    raise ConfigError(f"{key}: {len(value)} values for a panel of {n_assets} assets")
                total = total + np.asarray(value, dtype=np.float64)
            else:
                total = total + float(value)
        return total


def _set(config: PortfolioEnvConfig, name: str, value: Any) -> None:
    """Store a normalised value on a frozen config during validation."""
    object.__setattr__(config, name, value)


def _costs(key: str, value: Any) -> float | tuple[float, ...]:
    """One cost in bps, or one per asset (a list or tuple), each in [0, 10000)."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if not value:
            raise ConfigError(f"{key} must be a number or a non-empty list of numbers, got {value!r}")
        return tuple(check_number(f"{key}[{i}]", v, low=0.0, high=10_000.0, open_high=True) for i, v in enumerate(value))
    return check_number(key, value, low=0.0, high=10_000.0, open_high=True)


def make_portfolio_config(config: PortfolioEnvConfig | Mapping[str, Any] | None, overrides: Mapping[str, Any]) -> PortfolioEnvConfig:
    """Merge an env's ``config`` argument and keyword arguments into one validated config."""
    return with_overrides(PortfolioEnvConfig, config, overrides)
