"""The call auction's running-sum price search equals a naive scan over every candidate price."""

from __future__ import annotations

import numpy as np

from market.exchange import Side
from market.exchange.clearing import _Accepted, _uniform_price


def naive_uniform_price(buys, sells, reference):
    best = None
    for price in sorted({o.price for o in buys} | {o.price for o in sells}):
        demand = sum(o.qty for o in buys if o.price >= price)
        supply = sum(o.qty for o in sells if o.price <= price)
        volume = min(demand, supply)
        if volume:
            key = (-volume, abs(demand - supply), abs(price - reference), price)
            best = key if best is None or key < best else best
    return (None, 0) if best is None else (best[3], -best[0])


def test_uniform_price_equals_a_naive_scan_over_random_batches():
    rng = np.random.default_rng(5)
    for _ in range(20_000):
        top = 95 + int(rng.integers(0, 12))
        orders = [
            _Accepted(i, "x", Side.BUY if rng.random() < 0.5 else Side.SELL, int(rng.integers(95, top + 1)), int(rng.integers(1, 6)))
            for i in range(int(rng.integers(0, 16)))
        ]
        buys = [o for o in orders if o.side is Side.BUY]
        sells = [o for o in orders if o.side is Side.SELL]
        reference = int(rng.integers(92, top + 4))
        assert _uniform_price(buys, sells, reference) == naive_uniform_price(buys, sells, reference)
