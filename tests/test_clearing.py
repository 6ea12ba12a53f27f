"""Batch clearing: the call auction's uniform price maximizes volume; impact moves the price; both conserve."""

from __future__ import annotations

import numpy as np
import pytest

from market.exchange import Exchange, FeeConfig, Side, check_invariants
from market.exchange.clearing import BatchOrder, call_auction, impact_clearing, impact_price

AGENTS = [f"a{i}" for i in range(6)]


def fresh_exchange() -> Exchange:
    exchange = Exchange(fees=FeeConfig(maker_bps=3, taker_bps=7))
    for agent in AGENTS:
        exchange.open_account(agent, cash=10**8, inventory=1_000)
    exchange.open_account("dealer", cash=10**12, inventory=10**7)
    return exchange


def random_batch(rng: np.random.Generator, n: int) -> list[BatchOrder]:
    return [
        BatchOrder(str(rng.choice(AGENTS)), Side.BUY if rng.random() < 0.5 else Side.SELL, int(rng.integers(90, 111)), int(rng.integers(1, 30)))
        for _ in range(n)
    ]


def volume_at(batch: list[BatchOrder], price: int) -> int:
    demand = sum(o.qty for o in batch if o.side is Side.BUY and o.price >= price)
    supply = sum(o.qty for o in batch if o.side is Side.SELL and o.price <= price)
    return min(demand, supply)


@pytest.mark.parametrize("seed", range(30))
def test_call_auction_clears_at_a_volume_maximizing_uniform_price(seed):
    rng = np.random.default_rng(seed)
    exchange = fresh_exchange()
    batch = random_batch(rng, 25)
    result = call_auction(exchange, batch, reference=100)
    best_volume = max(volume_at(batch, p) for p in range(80, 121))
    traded = sum(f.qty for f in result.fills)
    assert traded == best_volume
    if best_volume:
        assert volume_at(batch, result.price) == best_volume
        assert all(f.price == result.price for f in result.fills)
    check_invariants(exchange.book, exchange.ledger)
    assert all(exchange.ledger.account(a).open_buy_qty == 0 == exchange.ledger.account(a).open_sell_qty for a in AGENTS)


def test_call_auction_fills_better_prices_first():
    exchange = fresh_exchange()
    batch = [BatchOrder("a0", Side.BUY, 105, 5), BatchOrder("a1", Side.BUY, 101, 5), BatchOrder("a2", Side.SELL, 100, 6)]
    result = call_auction(exchange, batch, reference=100)
    by_buyer = {}
    for fill in result.fills:
        buyer = fill.taker if fill.taker_side is Side.BUY else fill.maker
        by_buyer[buyer] = by_buyer.get(buyer, 0) + fill.qty
    assert by_buyer == {"a0": 5, "a1": 1}


@pytest.mark.parametrize(("model", "flow", "expected"), [("linear", 100, 10_500), ("linear", -100, 9_500), ("sqrt", 100, 10_500), ("sqrt", -25, 9_750), ("sqrt", 0, 10_000)])
def test_impact_price_follows_the_model(model, flow, expected):
    coefficient = 0.0005 if model == "linear" else 0.005
    assert impact_price(10_000, flow, model=model, coefficient=coefficient) == expected


@pytest.mark.parametrize("seed", range(10))
def test_impact_clearing_fills_admitting_orders_against_the_dealer_and_conserves(seed):
    rng = np.random.default_rng(seed)
    exchange = fresh_exchange()
    batch = random_batch(rng, 20)
    result = impact_clearing(exchange, batch, reference=100, model="sqrt", coefficient=0.002, dealer="dealer")
    filled_ids = {f.taker_order_id for f in result.fills}
    assert all(f.maker == "dealer" and f.price == result.price for f in result.fills)
    admitted = [o for o in batch if (o.price >= result.price if o.side is Side.BUY else o.price <= result.price)]
    assert len(filled_ids) == len(admitted)
    check_invariants(exchange.book, exchange.ledger)
