"""The dynamics of the single-agent trading envs, on N accounts held in ``(N,)`` arrays.

:func:`advance` moves N accounts from decision bar t to t + 1: the order that reaches each target fills
at the next open with commission and slippage (the cost rate of :func:`rules_of`), the account is
marked at the next close, and the reward comes from :mod:`market.envs.rewards`. The vector env steps
with it; :meth:`TradingEnv.step <market.envs.trading.TradingEnv.step>` does the same arithmetic on one
account's Python floats, in the same order, for speed, and the tests hold the two bitwise together.
The ``info`` keys both envs return are defined here.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import numpy as np

from market.envs import rewards
from market.envs.rewards import ARRAY_MATH, DifferentialSharpeState
from market.envs.trading_config import TradingEnvConfig
from market.envs.trading_data import ACCOUNT_BOUNDS

INFO_EQUITY: Final = "equity"
INFO_CASH: Final = "cash"
INFO_POSITION_UNITS: Final = "position_units"
INFO_POSITION_FRACTION: Final = "position_fraction"
INFO_PRICE: Final = "price"
INFO_TRADE_UNITS: Final = "trade_units"
INFO_TRADED_NOTIONAL: Final = "traded_notional"
INFO_STEP_COST: Final = "step_cost"
INFO_TOTAL_COST: Final = "total_cost"
INFO_BAR: Final = "bar"
INFO_KEYS: Final = (
    INFO_EQUITY,
    INFO_CASH,
    INFO_POSITION_UNITS,
    INFO_POSITION_FRACTION,
    INFO_PRICE,
    INFO_TRADE_UNITS,
    INFO_TRADED_NOTIONAL,
    INFO_STEP_COST,
    INFO_TOTAL_COST,
    INFO_BAR,
)
"""Keys of every ``info`` the envs return, after ``reset`` and after ``step``."""

MIN_EQUITY: Final = 1e-12
"""Denominator floor of the position fraction; only reached on a bankrupt account's last step."""

_BASIS_POINT: Final = 1e-4


# ---------------------------------------------------------------------------------------------------
# Dynamics: the settings they read, and N accounts in (N,) arrays (one account is in TradingEnv.step)
# ---------------------------------------------------------------------------------------------------


class Rules(NamedTuple):
    """The settings the dynamics read, with costs as rates."""

    cost_rate: float
    """Commission plus slippage, as a fraction of the traded notional."""
    reward: str
    drawdown_penalty: float
    sharpe_eta: float
    initial_cash: float


def rules_of(config: TradingEnvConfig) -> Rules:
    """Extract the dynamics' settings from a config."""
    return Rules(
        cost_rate=(config.commission_bps + config.slippage_bps) * _BASIS_POINT,
        reward=config.reward,
        drawdown_penalty=config.drawdown_penalty,
        sharpe_eta=config.sharpe_eta,
        initial_cash=config.initial_cash,
    )


class Accounts(NamedTuple):
    """State of N accounts, each field an array of shape (N,).

    Every step builds new arrays, and arrays held here are never written in place, so the values
    handed out in ``infos`` stay valid.
    """

    bar: np.ndarray
    """Decision bar t (int64): the agent has seen data up to t's close."""
    steps_left: np.ndarray
    """Steps from t to the bar at which the episode is truncated, as float64 (exact integers)."""
    length: np.ndarray
    """Steps from the start bar to the truncation bar, as float64: the denominator of ``time_left``."""
    price: np.ndarray
    """Close of the decision bar, the mark price."""
    cash: np.ndarray
    units: np.ndarray
    equity: np.ndarray
    peak: np.ndarray
    total_cost: np.ndarray
    sharpe_mean: np.ndarray
    sharpe_second_moment: np.ndarray


class Filled(NamedTuple):
    """Constants of the dynamics as (N,) arrays.

    On a few hundred elements numpy's call overhead dominates, and ``array op python_float`` takes
    about 1.7 times as long as ``array op array``; so every constant operand of the array dynamics
    is broadcast once, here.
    """

    zero: np.ndarray
    one: np.ndarray
    one_bar: np.ndarray
    """int64 ones: the step from bar t to t + 1."""
    cost_rate: np.ndarray
    min_equity: np.ndarray
    initial_cash: np.ndarray
    action_low: np.ndarray
    leverage: np.ndarray
    fraction_low: np.ndarray
    fraction_high: np.ndarray
    return_low: np.ndarray
    return_high: np.ndarray


def filled_constants(rules: Rules, config: TradingEnvConfig, num_envs: int) -> Filled:
    """The constants of N accounts' dynamics, as read-only (N,) arrays."""
    values = Filled(
        zero=0.0,
        one=1.0,
        one_bar=1,
        cost_rate=rules.cost_rate,
        min_equity=MIN_EQUITY,
        initial_cash=rules.initial_cash,
        action_low=-1.0 if config.allow_short else 0.0,
        leverage=config.leverage,
        fraction_low=ACCOUNT_BOUNDS["position_fraction"][0],
        fraction_high=ACCOUNT_BOUNDS["position_fraction"][1],
        return_low=ACCOUNT_BOUNDS["equity_return"][0],
        return_high=ACCOUNT_BOUNDS["equity_return"][1],
    )
    arrays = []
    for value in values:
        array = np.full(num_envs, value, dtype=np.int64 if isinstance(value, int) else np.float64)
        array.flags.writeable = False
        arrays.append(array)
    return Filled(*arrays)


def open_accounts(start_bar: np.ndarray, end_bar: np.ndarray, price: np.ndarray, initial_cash: float) -> Accounts:
    """Fresh accounts holding only cash at their start bars (int64 arrays; ``price`` their closes)."""
    zero = np.zeros(len(start_bar))
    cash = zero + initial_cash
    length = (end_bar - start_bar).astype(np.float64)
    return Accounts(
        bar=start_bar,
        steps_left=length,
        length=length,
        price=price,
        cash=cash,
        units=zero,
        equity=cash,
        peak=cash,
        total_cost=zero,
        sharpe_mean=zero,
        sharpe_second_moment=zero,
    )


def advance(
    accounts: Accounts,
    target: np.ndarray,
    open_prices: np.ndarray,
    close_prices: np.ndarray,
    rules: Rules,
    filled: Filled,
) -> tuple[Accounts, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Move N accounts from decision bar t to t + 1.

    The same arithmetic, in the same order, as :meth:`TradingEnv.step` on one account's floats, so
    the states are bitwise equal (the tests hold the two together). Augmented assignments and
    ``out=`` write only into arrays made earlier in this step, never into one already handed out.

    Args:
        accounts: State at t's close.
        target: Target positions as signed fractions of equity, leverage and short rules applied.
        open_prices: Opens of every bar.
        close_prices: Closes of every bar.
        rules: Costs and reward settings.
        filled: The constants, as (N,) arrays.

    Returns:
        The state at t + 1's close, then (N,) arrays of the traded units, the traded notional, the
        cost, the reward, ``terminated`` (bankrupt) and ``truncated``.
    """
    bar = accounts.bar + filled.one_bar
    steps_left = accounts.steps_left - filled.one
    open_ = open_prices[bar]
    close = close_prices[bar]

    # 1. The order fills at the next open: rebalance to target x equity valued at that open. An
    #    account bankrupt at the open (a gap through zero) is closed out instead (target x 0).
    units = accounts.units * open_
    units += accounts.cash  # equity at the open
    np.maximum(units, filled.zero, out=units)
    units *= target
    units /= open_
    trade_units = units - accounts.units
    # Signed value of the trade at the open; its magnitude equals |trade_units| x open exactly.
    trade_value = trade_units * open_
    traded_notional = np.abs(trade_value)
    # Slippage moves the fill price against the trader (open x (1 +- slippage)); commission is charged
    # on the notional at the open. Both are reported together as the step's cost.
    step_cost = traded_notional * filled.cost_rate
    cash = accounts.cash - trade_value
    cash -= step_cost

    # 2. Mark to market at the next close.
    equity = units * close
    equity += cash
    peak = np.maximum(accounts.peak, equity)

    # 3. Reward from the equity at the two closes.
    sharpe_mean, sharpe_second_moment = accounts.sharpe_mean, accounts.sharpe_second_moment
    if rules.reward == rewards.LOG_RETURN:
        reward = rewards.log_return(accounts.equity, equity, ARRAY_MATH)
    elif rules.reward == rewards.PNL:
        reward = rewards.pnl(accounts.equity, equity, rules.initial_cash)
    else:
        simple_return = equity / accounts.equity
        simple_return -= filled.one
        state = DifferentialSharpeState(sharpe_mean, sharpe_second_moment)
        reward, state = rewards.differential_sharpe(simple_return, state, rules.sharpe_eta, ARRAY_MATH)
        sharpe_mean, sharpe_second_moment = state
    if rules.drawdown_penalty > 0.0:
        drawdown_before = rewards.drawdown(accounts.equity, accounts.peak)
        reward = reward - rewards.drawdown_penalty(
            drawdown_before, rewards.drawdown(equity, peak), rules.drawdown_penalty, ARRAY_MATH
        )

    # 4. Bankruptcy ends the episode; the end of the data or of max_steps cuts it.
    terminated = equity <= filled.zero
    truncated = steps_left <= filled.zero
    if np.count_nonzero(terminated):
        truncated &= ~terminated
    next_accounts = Accounts(
        bar,  # bar
        steps_left,  # steps_left
        accounts.length,  # length
        close,  # price
        cash,  # cash
        units,  # units
        equity,  # equity
        peak,  # peak
        accounts.total_cost + step_cost,  # total_cost
        sharpe_mean,  # sharpe_mean
        sharpe_second_moment,  # sharpe_second_moment
    )
    return next_accounts, trade_units, traded_notional, step_cost, reward, terminated, truncated


def overwrite_rows(current: np.ndarray, which: np.ndarray, replacement: np.ndarray) -> np.ndarray:
    """A copy of ``current`` with the rows ``which`` replaced by ``replacement``."""
    merged = current.copy()
    merged[which] = replacement
    return merged


def overwrite_accounts(accounts: Accounts, which: np.ndarray, fresh: Accounts) -> Accounts:
    """Copies of the state arrays with the rows ``which`` replaced by ``fresh``'s."""
    return Accounts(*map(overwrite_rows, accounts, [which] * len(accounts), fresh))
