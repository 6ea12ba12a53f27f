"""The portfolio envs' dynamics, once for B portfolios held in numpy arrays: the single env is B = 1.

* :func:`weights_from_action` and :func:`action_from_weights`: the documented map between actions and
  target weights, and its inverse on the reachable set.
* :class:`Book`: B portfolios' units per asset, cash, value, peak, costs and reward state.
* :func:`advance`: one decision for each portfolio: trade to the target at the next bar's open with
  costs, then mark at that bar's close.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import numpy as np

from market.envs import rewards
from market.envs.portfolio_config import PortfolioEnvConfig
from market.envs.portfolio_data import PortfolioData
from market.errors import ActionError

MIN_VALUE: Final = 1e-9
"""A portfolio whose value at a close is at or below this fraction of its initial cash is bankrupt."""

INFO_BAR: Final = "bar"
INFO_VALUE: Final = "value"
INFO_CASH: Final = "cash"
INFO_WEIGHTS: Final = "weights"
INFO_TURNOVER: Final = "turnover"
INFO_STEP_COST: Final = "step_cost"
INFO_TOTAL_COST: Final = "total_cost"
INFO_KEYS: Final = (INFO_BAR, INFO_VALUE, INFO_CASH, INFO_WEIGHTS, INFO_TURNOVER, INFO_STEP_COST, INFO_TOTAL_COST)
"""What ``info`` holds after every reset and step (simulation values only)."""


def weights_from_action(action: np.ndarray, *, long_only: bool = True, gross_leverage: float = 1.0) -> np.ndarray:
    """Target weights (assets then cash, summing to 1) for actions of shape ``(..., A)``.

    Long only (``A = N + 1``, the last entry is cash): each entry is clipped to [-1, 1] and mapped to
    ``x = (a + 1) / 2`` in [0, 1]; the weights are ``x / sum(x)``, and all cash when every ``x`` is 0.
    Every point of the simplex is reached: ``w`` by ``a = 2 w / max(w) - 1``, so one asset, all cash
    and equal weight are all actions (``(1, -1, ..., -1)``, ``(-1, ..., -1, 1)`` and all ones).

    Long/short (``A = N``): ``w = L a / max(1, sum |a|)`` for ``L = gross_leverage``, cash ``1 - sum(w)``:
    the image is exactly ``{w : sum |w| <= L}``, reached by ``a = w / L``.

    Raises:
        ActionError: An action is NaN.
    """
    values = np.asarray(action, dtype=np.float64)
    if np.isnan(values).any():
        raise ActionError(f"action: NaN in {np.asarray(action).tolist()!r}")
    clipped = np.clip(values, -1.0, 1.0)
    if long_only:
        x = (clipped + 1.0) / 2.0
        total = x.sum(axis=-1, keepdims=True)
        cash_only = np.zeros_like(x)
        cash_only[..., -1] = 1.0
        return np.where(total > 0.0, x / np.where(total > 0.0, total, 1.0), cash_only)
    gross = np.abs(clipped).sum(axis=-1, keepdims=True)
    assets = gross_leverage * clipped / np.maximum(1.0, gross)
    return np.concatenate([assets, 1.0 - assets.sum(axis=-1, keepdims=True)], axis=-1)


def action_from_weights(weights: np.ndarray, *, long_only: bool = True, gross_leverage: float = 1.0) -> np.ndarray:
    """The action whose :func:`weights_from_action` is ``weights`` (assets then cash, summing to 1), as float32.

    Raises:
        ActionError: The weights are not reachable: negative or not summing to 1 (long only), or
            with a gross exposure above ``gross_leverage``.
    """
    w = np.asarray(weights, dtype=np.float64)
    if not np.isfinite(w).all() or abs(float(w.sum()) - 1.0) > 1e-9:
        raise ActionError(f"weights must be finite and sum to 1 (cash last), got {w.tolist()!r}")
    if long_only:
        if (w < -1e-12).any():
            raise ActionError(f"long-only weights must be >= 0, got {w.tolist()!r}")
        w = np.clip(w, 0.0, None)
        return (2.0 * w / w.max() - 1.0).astype(np.float32)
    assets = w[:-1]
    if np.abs(assets).sum() > gross_leverage + 1e-9:
        raise ActionError(f"weights' gross exposure {np.abs(assets).sum():g} is above gross_leverage {gross_leverage:g}")
    return (assets / gross_leverage).astype(np.float32)


class Book(NamedTuple):
    """B portfolios, each row one.

    Attributes:
        bar: The bar each portfolio was last marked at (its decision bar).
        end: The bar its episode is truncated at.
        start: The bar its episode started at.
        units: Units held of each asset, ``(B, N)`` (negative is short).
        cash: Cash, ``(B,)``.
        value: Value at the last close, ``(B,)``.
        peak: Highest value of the episode, ``(B,)``.
        total_cost: Costs paid in the episode, ``(B,)``.
        sharpe: The differential Sharpe ratio's moving moments.
    """

    bar: np.ndarray
    end: np.ndarray
    start: np.ndarray
    units: np.ndarray
    cash: np.ndarray
    value: np.ndarray
    peak: np.ndarray
    total_cost: np.ndarray
    sharpe: rewards.DifferentialSharpeState


def open_books(start: np.ndarray, end: np.ndarray, n_assets: int, initial_cash: float) -> Book:
    """Fresh portfolios, all cash, at their start bars."""
    count = start.shape[0]
    cash = np.full(count, float(initial_cash))
    return Book(
        bar=start.astype(np.int64).copy(),
        end=end.astype(np.int64).copy(),
        start=start.astype(np.int64).copy(),
        units=np.zeros((count, n_assets)),
        cash=cash,
        value=cash.copy(),
        peak=cash.copy(),
        total_cost=np.zeros(count),
        sharpe=rewards.DifferentialSharpeState(np.zeros(count), np.zeros(count)),
    )


def held_weights(book: Book, data: PortfolioData) -> np.ndarray:
    """Weights held at each portfolio's last close, ``(B, N + 1)``, cash last."""
    prices = data.closes[book.bar]
    value = book.value[:, None]
    return np.concatenate([book.units * prices / value, book.cash[:, None] / value], axis=1)


class Step(NamedTuple):
    """What one :func:`advance` produced besides the new book."""

    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    turnover: np.ndarray
    cost: np.ndarray


def advance(book: Book, actions: np.ndarray, data: PortfolioData, config: PortfolioEnvConfig, costs_bps: np.ndarray) -> tuple[Book, Step]:
    """Trade every portfolio to its target at the next bar's open, then mark it at that bar's close.

    1. The action's target weights (:func:`weights_from_action`) become units at the decision bar's
       close (``w_i * value / close_i``): holding the weights just held is holding the units, and
       trades nothing. Those units are bought or sold at the next bar's open; cash takes up the
       difference between the close the weights were priced at and the open they fill at.
    2. An asset whose next bar is filled forward (not tradable) keeps its units.
    3. Costs (commission and slippage, bps of traded notional per asset) are paid from cash.
    4. The reward is the log (or differential Sharpe) return of the value from close to close, less
       ``turnover_penalty`` per unit of value traded and ``drawdown_penalty`` per unit of added drawdown.
    """
    target = weights_from_action(actions, long_only=config.long_only, gross_leverage=config.gross_leverage)
    bar = book.bar + 1
    opens, closes, tradable = data.opens[bar], data.closes[bar], data.tradable[bar]
    # 1-2. units wanted, priced at the decision close, and what actually trades at the open
    last_closes = data.closes[book.bar]
    wanted = target[:, :-1] * book.value[:, None] / last_closes
    units = np.where(tradable, wanted, book.units)
    value_at_open = book.cash + np.sum(book.units * opens, axis=1)
    traded = np.abs(units - book.units) * opens
    # 3. costs from cash
    cost = np.sum(traded * costs_bps, axis=1) / 10_000.0
    cash = book.cash - np.sum((units - book.units) * opens, axis=1) - cost
    # 4. mark at the close, and the reward
    value = cash + np.sum(units * closes, axis=1)
    peak = np.maximum(book.peak, value)
    turnover = np.sum(traded, axis=1) / value_at_open
    if config.reward == rewards.DIFFERENTIAL_SHARPE:
        reward, sharpe = rewards.differential_sharpe(value / book.value - 1.0, book.sharpe, config.sharpe_eta)
    else:
        reward, sharpe = rewards.log_return(book.value, value), book.sharpe
    reward = reward - config.turnover_penalty * turnover
    if config.drawdown_penalty > 0:
        before = rewards.drawdown(book.value, book.peak)
        reward = reward - rewards.drawdown_penalty(before, rewards.drawdown(value, peak), config.drawdown_penalty)
    terminated = value <= MIN_VALUE * config.initial_cash
    truncated = (bar >= book.end) & ~terminated
    moved = Book(bar, book.end, book.start, units, cash, value, peak, book.total_cost + cost, sharpe)
    return moved, Step(np.asarray(reward, dtype=np.float64), terminated, truncated, turnover, cost)


def observations(book: Book, data: PortfolioData, config: PortfolioEnvConfig, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The float32 observations of every portfolio at its last close, clipped to the space's bounds."""
    market = data.market[book.bar].astype(np.float64)
    weights = held_weights(book, data)
    drawdown = rewards.drawdown(book.value, book.peak)
    length = np.maximum(book.end - book.start, 1)
    time_left = (book.end - book.bar) / length
    value_return = book.value / config.initial_cash - 1.0
    account = np.concatenate([weights, drawdown[:, None], time_left[:, None], value_return[:, None]], axis=1)
    return np.clip(np.concatenate([market, account], axis=1), low, high).astype(np.float32)


def infos(book: Book, data: PortfolioData, step: Step | None) -> dict[str, np.ndarray]:
    """``info`` of every portfolio as arrays over the portfolios (simulation values only)."""
    zeros = np.zeros(book.bar.shape[0])
    return {
        INFO_BAR: book.bar.copy(),
        INFO_VALUE: book.value.copy(),
        INFO_CASH: book.cash.copy(),
        INFO_WEIGHTS: held_weights(book, data),
        INFO_TURNOVER: zeros if step is None else step.turnover.copy(),
        INFO_STEP_COST: zeros.copy() if step is None else step.cost.copy(),
        INFO_TOTAL_COST: book.total_cost.copy(),
    }


def info_of(batched: dict[str, np.ndarray], row: int) -> dict:
    """One portfolio's ``info`` (Python numbers, its weights an array) out of :func:`infos`."""
    return {key: (values[row].copy() if values.ndim > 1 else values[row].item()) for key, values in batched.items()}
