"""Exchange.submit_batch equals the per-order calls it stands for, on long seeded random streams."""

from __future__ import annotations

import numpy as np
import pytest

from market.exchange import AccountLimits, Exchange, FeeConfig, Side
from market.exchange.exchange import Turn
from market.exchange.types import RejectReason

AGENTS = ["a", "b", "c", "d"]


def _exchange(check: bool) -> Exchange:
    exchange = Exchange(fees=FeeConfig(maker_bps=3, taker_bps=7), check=check)
    for i, agent in enumerate(AGENTS):
        exchange.open_account(agent, cash=40_000 + 20_000 * i, inventory=5 * i, limits=AccountLimits(max_short=4 * i, max_long=60 if i == 3 else None))
    return exchange


def _random_turn(rng: np.random.Generator, resting: dict[str, list[int]], all_ids: list[int]) -> Turn:
    agent = AGENTS[int(rng.integers(len(AGENTS)))] if rng.random() > 0.02 else "nobody"
    cancel = list(resting.get(agent, []))
    if all_ids and rng.random() < 0.1:
        cancel.append(all_ids[int(rng.integers(len(all_ids)))])  # maybe another agent's, maybe gone
    orders = []
    for _ in range(int(rng.integers(0, 4))):
        side: object = Side.BUY if rng.random() < 0.5 else Side.SELL
        price: object = int(rng.integers(95, 106))
        qty: object = int(rng.integers(1, 8))
        odd = rng.random()
        if odd < 0.03:
            side = "sell" if side is Side.SELL else "buy"
        elif odd < 0.05:
            price = np.int64(price)
        elif odd < 0.06:
            price = -3
        elif odd < 0.07:
            qty = 0
        elif odd < 0.08:
            side = "hold"
        orders.append((side, price, qty))
    return Turn(agent, cancel, orders)


def _per_order(exchange: Exchange, turn: Turn):
    """The reference: the per-order API, one call per cancel and per order."""
    fills, resting, rejects = [], [], []
    for order_id in turn.cancel:
        result = exchange.cancel(turn.agent, order_id)
        if result.reject is not None and result.reject.reason is not RejectReason.UNKNOWN_ORDER:
            rejects.append(result.reject)
    for side, price, qty in turn.orders:
        result = exchange.submit_limit(turn.agent, side, price, qty)
        if result.reject is not None:
            rejects.append(result.reject)
            continue
        fills += result.fills
        if exchange.book.order(result.order_id) is not None:
            resting.append(result.order_id)
    return fills, resting, rejects


def _state(exchange: Exchange):
    ledger = exchange.ledger
    accounts = [ledger.account(a) for a in ledger.agents()]
    return (
        sorted(exchange.book.orders()),
        exchange.book.depth(20),
        [(a.cash, a.inventory, a.open_buy_notional, a.open_buy_qty, a.open_sell_qty) for a in accounts],
    )


@pytest.mark.parametrize("check", [False, True])
def test_submit_batch_equals_per_order_calls_over_random_turns(check):
    rng = np.random.default_rng(11)
    fast, slow = _exchange(check), _exchange(check)
    resting: dict[str, list[int]] = {}
    all_ids: list[int] = []
    for _ in range(400 if check else 4000):
        turns = [_random_turn(rng, resting, all_ids) for _ in range(int(rng.integers(1, 6)))]
        batch = fast.submit_batch(turns)
        expected_fills = []
        for turn, result in zip(turns, batch.turns):
            fills, open_ids, rejects = _per_order(slow, turn)
            expected_fills += fills
            assert result.resting == open_ids
            assert result.rejects == rejects
            resting[turn.agent] = open_ids
            all_ids += open_ids
        assert batch.fills == expected_fills
        assert _state(fast) == _state(slow)
