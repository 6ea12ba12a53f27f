"""Matching-engine benchmark: orders/s of our book beside a simple reference and lightmatchingengine.

Replays one fixed seeded stream of 200,000 orders (70% limit, some marketable; 20% market;
10% cancel) through each engine in the same run and prints orders/s and the ratios. Each figure is
the best of several repeats. The reference book sorts the book for every order, so it replays only
the first 10,000 orders, and our book is timed on that same prefix for its ratio.

Run: ``.venv/bin/python bench/exchange.py`` (or ``make bench``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from reference_book import ReferenceBook  # noqa: E402

from market.exchange import AccountLimits, Exchange, OrderBook  # noqa: E402
from market.exchange.flow import FlowKind, FlowOrder, random_order_flow  # noqa: E402

N_ORDERS = 200_000
REFERENCE_PREFIX = 10_000
REPEATS = 3
AGENTS = [f"agent_{i}" for i in range(8)]


def replay_book(flow: list[FlowOrder], book: OrderBook | ReferenceBook) -> int:
    """Replay through anything with the OrderBook call shapes; return the number of fills."""
    ids = [0] * len(flow)
    n_fills = 0
    submit_limit, submit_market, cancel = book.submit_limit, book.submit_market, book.cancel
    for i, order in enumerate(flow):
        kind = order.kind
        if kind is FlowKind.LIMIT:
            ids[i], fills = submit_limit(order.agent, order.side, order.price, order.qty)
            n_fills += len(fills)
        elif kind is FlowKind.MARKET:
            n_fills += len(submit_market(order.agent, order.side, order.qty))
        else:
            cancel(ids[order.target])
    return n_fills


def replay_exchange(flow: list[FlowOrder]) -> int:
    """Replay through the Exchange: the book plus ledger, fees, limits and self-trade checks."""
    exchange = Exchange()
    for agent in AGENTS:
        exchange.open_account(agent, cash=10**15, inventory=10**9, limits=AccountLimits(max_short=10**9))
    ids = [0] * len(flow)
    n_fills = 0
    for i, order in enumerate(flow):
        kind = order.kind
        if kind is FlowKind.LIMIT:
            result = exchange.submit_limit(order.agent, order.side, order.price, order.qty)
            ids[i] = result.order_id or 0
        elif kind is FlowKind.MARKET:
            result = exchange.submit_market(order.agent, order.side, order.qty)
        else:
            result = exchange.cancel(order.agent, ids[order.target])
        n_fills += len(result.fills)
    return n_fills


def replay_lightmatchingengine(flow: list[FlowOrder]) -> int:
    """Replay through lightmatchingengine (PyPI). It reports a trade per side, so fills are halved.

    Its cancel asserts on an order that has already filled (the order stays in its id map), so the
    driver skips cancels of filled orders, which our book answers with False.
    """
    from lightmatchingengine.lightmatchingengine import LightMatchingEngine
    from lightmatchingengine.lightmatchingengine import Side as LSide

    engine = LightMatchingEngine()
    orders: list = [None] * len(flow)
    n_trades = 0
    for i, order in enumerate(flow):
        kind = order.kind
        side = LSide.BUY if order.side == "buy" else LSide.SELL
        if kind is FlowKind.LIMIT:
            orders[i], trades = engine.add_order("X", order.price, order.qty, side)
            n_trades += len(trades)
        elif kind is FlowKind.MARKET:
            n_trades += len(engine.add_order("X", 0, order.qty, side)[1])
        else:
            target = orders[order.target]
            if target.leaves_qty:
                engine.cancel_order(target.order_id, "X")
    return n_trades


def best_rate(run: Callable[[], int], n_orders: int) -> tuple[float, int]:
    """Orders per second, best of REPEATS, and the fill count of the last run."""
    best = float("inf")
    fills = 0
    for _ in range(REPEATS):
        start = time.perf_counter()
        fills = run()
        best = min(best, time.perf_counter() - start)
    return n_orders / best, fills


def main() -> None:
    flow = random_order_flow(np.random.default_rng(20_260_101), N_ORDERS, AGENTS)
    prefix = flow[:REFERENCE_PREFIX]
    ours, ours_fills = best_rate(lambda: replay_book(flow, OrderBook()), N_ORDERS)
    exchange, _ = best_rate(lambda: replay_exchange(flow), N_ORDERS)
    lme, _ = best_rate(lambda: replay_lightmatchingengine(flow), N_ORDERS)
    ours_prefix, _ = best_rate(lambda: replay_book(prefix, OrderBook()), REFERENCE_PREFIX)
    reference, _ = best_rate(lambda: replay_book(prefix, ReferenceBook()), REFERENCE_PREFIX)

    print(f"stream: {N_ORDERS:,} orders (70% limit, 20% market, 10% cancel), {ours_fills:,} fills in our book")
    print(f"{'engine':<44}{'orders/s':>14}")
    print(f"{'market.exchange.OrderBook':<44}{ours:>14,.0f}")
    print(f"{'market.exchange.Exchange (ledger, limits)':<44}{exchange:>14,.0f}")
    print(f"{'lightmatchingengine 2019.1.4':<44}{lme:>14,.0f}")
    print(f"{'OrderBook, first 10k orders':<44}{ours_prefix:>14,.0f}")
    print(f"{'reference book (tests), first 10k orders':<44}{reference:>14,.0f}")
    print(f"ratio OrderBook / lightmatchingengine: {ours / lme:.2f}x (target >= 2x)")
    print(f"ratio Exchange / lightmatchingengine:  {exchange / lme:.2f}x")
    print(f"ratio OrderBook / reference:           {ours_prefix / reference:.1f}x (on the first 10k orders)")


if __name__ == "__main__":
    main()
