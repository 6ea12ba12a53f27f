"""The single-agent trading env: :class:`TradingEnv` (Gymnasium), and the public names of the trading envs.

One account trades one instrument over a price frame. The agent picks a target position as a fraction
of equity; the order fills at the next bar's open with commission and slippage, and the account is
marked at that bar's close. The parts live by concern: the settings in
:mod:`market.envs.trading_config`, prices, observation layout and spaces in
:mod:`market.envs.trading_data`, the N-account dynamics in :mod:`market.envs.trading_dynamics`, and
the vector env in :mod:`market.envs.trading_vector`; this module re-exports their public names.

The dynamics are written twice, for speed: :class:`TradingEnv` steps one account held in Python
floats (numpy is several times slower than float arithmetic on one element), and
:class:`~market.envs.trading_vector.TradingVectorEnv` steps N accounts held in numpy arrays of shape
``(N,)`` (:func:`~market.envs.trading_dynamics.advance`). Both evaluate the same IEEE operations in
the same order, and the tests hold them together: sub-env ``i`` of the vector env gives bitwise-equal
observations, states and flags to a single env, with rewards equal to 1e-12 (``math`` and numpy may
round ``log`` and ``**`` differently in the last bit).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import gymnasium as gym
import numpy as np
import pandas as pd

from market.envs import rewards
from market.envs.rewards import SCALAR_MATH, DifferentialSharpeState
from market.envs.trading_config import MAX_LEVERAGE, PriceSource, TimeBound, TradingEnvConfig, make_config
from market.envs.trading_data import (
    ACCOUNT_BOUNDS,
    ACCOUNT_FEATURES,
    DRAWDOWN_COLUMN,
    EQUITY_RETURN_COLUMN,
    FIRST_RETURN_INDEX,
    FRACTION_HIGH,
    FRACTION_LOW,
    OBSERVATION_INDEX,
    POSITION_COLUMN,
    RETURN_HIGH,
    RETURN_LOW,
    TIME_LEFT_COLUMN,
    build_spaces,
    load_market_data,
    observation_index,
    observation_names,
    start_option,
    target_levels,
)
from market.envs.trading_vector import TradingVectorEnv
from market.errors import ActionError, ConfigError, ResetNeeded
from market.envs.trading_dynamics import (
    INFO_BAR,
    INFO_CASH,
    INFO_EQUITY,
    INFO_KEYS,
    INFO_POSITION_FRACTION,
    INFO_POSITION_UNITS,
    INFO_PRICE,
    INFO_STEP_COST,
    INFO_TOTAL_COST,
    INFO_TRADE_UNITS,
    INFO_TRADED_NOTIONAL,
    MIN_EQUITY,
    rules_of,
)

_NO_MOMENTS: Final = DifferentialSharpeState(0.0, 0.0)
"""The differential Sharpe ratio's moments at the start of an episode."""

ENV_ID: Final = "market/Trading-v0"
"""Registered id of the continuous-action env."""
DISCRETE_ENV_ID: Final = "market/TradingDiscrete-v0"
"""Registered id of the discrete-action env (short, flat, long by default)."""


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
        self.config = make_config(config, settings)
        self._market = load_market_data(self.config)
        self.action_space, self.observation_space = build_spaces(self.config)
        # Settings the step reads, as plain Python values.
        rules = rules_of(self.config)
        self._cost_rate = rules.cost_rate
        self._reward_kind = rules.reward
        self._drawdown_weight = rules.drawdown_penalty
        self._sharpe_eta = rules.sharpe_eta
        self._initial_cash = rules.initial_cash
        self._discrete = self.config.discrete
        self._levels = target_levels(self.config).tolist()
        self._action_low = -1.0 if self.config.allow_short else 0.0
        self._leverage = self.config.leverage
        # Python lists make the step run on floats, not numpy scalars.
        self._opens: list[float] = self._market.open.tolist()
        self._closes: list[float] = self._market.close.tolist()
        self._rows = self._market.rows
        # The account, in Python floats (ints for bars); set by reset.
        self._bar = self._end_bar = self._length = 0
        self._price = self._cash = self._units = self._equity = self._peak = self._total_cost = 0.0
        self._sharpe = _NO_MOMENTS  # the differential Sharpe ratio's moment estimates
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
            start = self._market.pinned_start(start_option(options))
        else:
            start = self._market.draw_start(self.np_random)
        end = self._market.end_bar(start)
        self._bar, self._end_bar, self._length = start, end, end - start
        self._price = self._closes[start]
        self._cash = self._equity = self._peak = self._initial_cash
        self._units = self._total_cost = 0.0
        self._sharpe = _NO_MOMENTS
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

        The account is held in Python floats, and this is :func:`advance` (the N-account dynamics)
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

        # 3. Reward from the equity at the two closes: the functions of market.envs.rewards, on floats.
        reward_kind = self._reward_kind
        if reward_kind == rewards.LOG_RETURN:
            reward = rewards.log_return(equity_before, equity, SCALAR_MATH)
        elif reward_kind == rewards.PNL:
            reward = rewards.pnl(equity_before, equity, self._initial_cash)
        else:
            reward, self._sharpe = rewards.differential_sharpe(equity / equity_before - 1.0, self._sharpe, self._sharpe_eta, SCALAR_MATH)
        if self._drawdown_weight > 0.0:
            reward = reward - rewards.drawdown_penalty(
                rewards.drawdown(equity_before, peak_before), rewards.drawdown(equity, peak), self._drawdown_weight, SCALAR_MATH
            )

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
            fraction = units * price / (equity if equity > MIN_EQUITY else MIN_EQUITY)
        else:
            fraction = 0.0
        equity_return = equity / self._initial_cash - 1.0
        drawdown = 1.0 - equity / peak
        observation = self._rows[bar].copy()
        observation[POSITION_COLUMN] = (
            FRACTION_LOW if fraction < FRACTION_LOW else FRACTION_HIGH if fraction > FRACTION_HIGH else fraction
        )
        observation[EQUITY_RETURN_COLUMN] = (
            RETURN_LOW
            if equity_return < RETURN_LOW
            else RETURN_HIGH if equity_return > RETURN_HIGH else equity_return
        )
        observation[DRAWDOWN_COLUMN] = drawdown if drawdown < 1.0 else 1.0
        observation[TIME_LEFT_COLUMN] = (self._end_bar - bar) / self._length
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



__all__ = [
    "ACCOUNT_BOUNDS",
    "ACCOUNT_FEATURES",
    "DISCRETE_ENV_ID",
    "ENV_ID",
    "FIRST_RETURN_INDEX",
    "INFO_BAR",
    "INFO_CASH",
    "INFO_EQUITY",
    "INFO_KEYS",
    "INFO_POSITION_FRACTION",
    "INFO_POSITION_UNITS",
    "INFO_PRICE",
    "INFO_STEP_COST",
    "INFO_TOTAL_COST",
    "INFO_TRADE_UNITS",
    "INFO_TRADED_NOTIONAL",
    "MAX_LEVERAGE",
    "OBSERVATION_INDEX",
    "PriceSource",
    "TimeBound",
    "TradingEnv",
    "TradingEnvConfig",
    "TradingVectorEnv",
    "observation_index",
    "observation_names",
]
