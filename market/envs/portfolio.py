"""The portfolio env: :class:`PortfolioEnv` (``market/Portfolio-v0``), target weights over many assets and cash.

The parts live by concern: settings in :mod:`market.envs.portfolio_config`, prices, features, layout
and spaces in :mod:`market.envs.portfolio_data`, the dynamics of B portfolios in
:mod:`market.envs.portfolio_dynamics`, and the vector env in :mod:`market.envs.portfolio_vector`.
The single env is the dynamics with B = 1, so the two are one implementation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import gymnasium as gym
import numpy as np

from market.envs.portfolio_config import PortfolioEnvConfig, make_portfolio_config
from market.envs.portfolio_data import build_portfolio_spaces, load_portfolio_data, portfolio_observation_layout
from market.envs.portfolio_dynamics import Book, advance, info_of, infos, observations, open_books
from market.envs.trading_data import start_option
from market.errors import ActionError, ResetNeeded

PORTFOLIO_ENV_ID: Final = "market/Portfolio-v0"
"""Registered id of the portfolio env."""


class PortfolioEnv(gym.Env[np.ndarray, np.ndarray]):
    """Allocate a portfolio over the assets of a panel and cash by choosing target weights.

    ## Description

    One portfolio holds units of N assets and cash. At each decision bar ``t`` the agent sees data up
    to ``t``'s close and picks target weights, which become units at ``t``'s close prices (so keeping
    the weights held keeps the units and trades nothing). The trades fill at bar ``t + 1``'s open with
    commission and slippage charged per asset on the traded notional (paid from cash, which also
    takes up the gap between ``t``'s close and the open); the portfolio is then marked at ``t + 1``'s
    close, the next decision bar. An asset whose bar ``t + 1``
    was filled forward by the panel's alignment does not trade (its units are kept). There is no
    look-ahead: nothing shown or done up to ``t`` depends on bars after ``t``. No interest or borrow
    fee is charged.

    ## Action Space

    Long only (default): ``Box(-1, 1, (N + 1,), float32)``, the last entry for cash;
    ``x = (a + 1) / 2``, weights ``x / sum(x)`` (all cash when every ``x`` is 0). Every point of the
    simplex is reachable, one asset alone and all cash included (see
    :func:`~market.envs.portfolio_dynamics.weights_from_action`; its inverse is
    :func:`~market.envs.portfolio_dynamics.action_from_weights`). With ``long_only=False``:
    ``Box(-1, 1, (N,), float32)``, weights ``L a / max(1, sum |a|)`` for ``L = gross_leverage``, cash
    the rest. Values outside [-1, 1] are clipped; NaN raises.

    ## Observation Space

    ``Box(low, high, (window * N + 3 N + 1 + N + 1 + 3,), float32)``, every entry clipped to its
    bounds: per-asset raw log returns of the window, volatility, momentum, correlation with the
    assets' mean return, the mean pairwise correlation, the held weights (cash last), drawdown, time
    left and the return since the start. :func:`~market.envs.portfolio_data.portfolio_observation_layout`
    names the slices and gives the bounds.

    ## Rewards

    Per ``reward``: ``"log_return"`` (default), ``log(value_t+1 / value_t)`` from close to close (the
    ratio floored at 1e-6); ``"differential_sharpe"``, Moody and Saffell's differential Sharpe ratio of
    the simple returns. ``turnover_penalty`` times the value traded (buys and sells, as a fraction of
    the value at the open) and ``drawdown_penalty`` times each increase of the drawdown are subtracted.

    ## Starting State

    All cash (``initial_cash``) at a start bar with a full window of returns behind it and at or after
    ``start``: uniform over the allowed starts (drawn from ``np_random``) when ``random_start``, else
    the first. ``reset(options={"start": bar_or_time})`` pins it.

    ## Episode End

    Terminated when the value falls to 1e-9 of the initial cash or below; truncated after
    ``max_steps`` steps or at the last bar (or ``end``).

    ## Arguments

    ``PortfolioEnv(config=None, **settings)``: a :class:`~market.envs.portfolio_config.PortfolioEnvConfig`,
    a mapping, or keyword settings (``gymnasium.make("market/Portfolio-v0", window=30)``).

    ## Version History

    * v0: first version.

    Example:
        >>> env = PortfolioEnv(window=10, random_start=False)
        >>> obs, info = env.reset(seed=0)
        >>> action = np.full(env.action_space.shape, -1.0, dtype=np.float32); action[0] = 1.0  # all in the first asset
        >>> obs, reward, terminated, truncated, info = env.step(action)
        >>> round(float(info["weights"][0]), 2), len(env.assets)
        (1.0, 12)
    """

    metadata: Mapping[str, Any] = {"render_modes": []}

    def __init__(self, config: PortfolioEnvConfig | Mapping[str, Any] | None = None, **settings: Any) -> None:
        self.config = make_portfolio_config(config, settings)
        self.data = load_portfolio_data(self.config)
        self.assets = self.data.assets
        self._costs = self.config.costs_bps(len(self.assets))
        self.action_space, self.observation_space = build_portfolio_spaces(self.config, len(self.assets))
        self.layout = portfolio_observation_layout(len(self.assets), self.config.window)
        self._book: Book | None = None
        self._done = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if options:
            start = self.data.pinned_start(start_option(options))
        elif self.config.random_start:
            start = self.data.draw_start(self.np_random)
        else:
            start = self.data.first_start
        end = self.data.end_bar(start, self.config.max_steps)
        self._book = open_books(np.array([start]), np.array([end]), len(self.assets), self.config.initial_cash)
        self._done = False
        return self._observation(), info_of(infos(self._book, self.data, None), 0)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._book is None or self._done:
            raise ResetNeeded("call reset() before step(), and again after an episode ends")
        array = np.asarray(action)
        if array.shape != self.action_space.shape or array.dtype.kind not in "iuf":
            raise ActionError(f"PortfolioEnv action: expected numbers of shape {self.action_space.shape}, got shape {array.shape} of {array.dtype}")
        self._book, step = advance(self._book, array[None, :], self.data, self.config, self._costs)
        terminated, truncated = bool(step.terminated[0]), bool(step.truncated[0])
        self._done = terminated or truncated
        return self._observation(), float(step.reward[0]), terminated, truncated, info_of(infos(self._book, self.data, step), 0)

    def _observation(self) -> np.ndarray:
        assert self._book is not None
        space = self.observation_space
        return observations(self._book, self.data, self.config, space.low, space.high)[0]
