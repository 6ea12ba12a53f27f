"""TradingVectorEnv: N trading accounts stepped together in numpy, a Gymnasium VectorEnv.

It is the vector entry point of ``market/Trading-v0``: RLlib builds it directly
(``gym_env_vectorize_mode="vector_entry_point"``). Its dynamics are :func:`market.envs.trading_dynamics.advance`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from market.errors import ActionError, ResetNeeded
from market.envs.trading_config import TradingEnvConfig, make_config, reseed_sub_envs, vector_settings
from market.envs.trading_data import (
    DRAWDOWN_COLUMN,
    EQUITY_RETURN_COLUMN,
    POSITION_COLUMN,
    TIME_LEFT_COLUMN,
    build_spaces,
    load_market_data,
    observation_names,
    pinned_starts,
    target_levels,
)
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
    Accounts,
    advance,
    filled_constants,
    open_accounts,
    overwrite_accounts,
    overwrite_rows,
    rules_of,
)


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
        config, num_envs = vector_settings(config, num_envs, TradingEnvConfig)
        self.config = make_config(config, settings)
        self.num_envs = num_envs
        self._market = load_market_data(self.config)
        self._rules = rules_of(self.config)
        self._filled = filled_constants(self._rules, self.config, num_envs)
        self.single_action_space, self.single_observation_space = build_spaces(self.config)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._levels = target_levels(self.config)
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._accounts: Accounts | None = None
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
        reseed_sub_envs(self, self._rngs, seed)
        starts = pinned_starts(options, self.num_envs, self._market.pinned_start)
        if starts is None:
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
                bar=overwrite_rows(accounts.bar, restarting, fresh.bar),
                equity=overwrite_rows(accounts.equity, restarting, fresh.equity),
            )
        accounts, trade_units, traded_notional, step_cost, reward, terminated, truncated = advance(
            accounts, target, self._market.open, self._market.close, self._rules, self._filled
        )
        if restarting is not None:
            accounts = overwrite_accounts(accounts, restarting, fresh)
            for flow in (trade_units, traded_notional, step_cost, reward):
                flow[restarting] = 0.0
            terminated[restarting] = False
            truncated[restarting] = False
        self._accounts = accounts
        self._autoreset = terminated | truncated
        observations, infos = self._observe(accounts, trade_units, traded_notional, step_cost, terminated)
        return observations, reward, terminated, truncated, infos

    def _fresh_accounts(self, starts: np.ndarray) -> Accounts:
        """Fresh accounts starting at ``starts`` (int64, one per sub-env that starts an episode)."""
        end_bars = np.array([self._market.end_bar(int(start)) for start in starts], dtype=np.int64)
        return open_accounts(starts, end_bars, self._market.close[starts], self._rules.initial_cash)

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
        accounts: Accounts,
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
        observations[:, POSITION_COLUMN] = position
        observations[:, EQUITY_RETURN_COLUMN] = equity_return
        observations[:, DRAWDOWN_COLUMN] = drawdown
        observations[:, TIME_LEFT_COLUMN] = accounts.steps_left / accounts.length
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
