"""Exchange invariants over long random streams: uncrossed, conserved, never overfilled, price-time priority."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from market.exchange import EXCHANGE_ACCOUNT, AccountLimits, Exchange, FeeConfig, RejectReason, Side, check_invariants
from market.exchange.flow import FlowKind, random_order_flow

AGENTS = [f"agent_{i}" for i in range(6)]

# one operation: (kind, agent, side, price offset from 100, qty, which earlier order to cancel)
operation = st.tuples(
    st.sampled_from(["limit", "limit", "limit", "ioc", "market", "cancel"]),
    st.integers(0, len(AGENTS) - 1),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(-6, 6),
    st.integers(1, 40),
    st.integers(0, 10_000),
)


def make_exchange(fees: FeeConfig, scale: int = 1) -> Exchange:
    """Six agents with different cash, inventory and limits, so that limits bind now and then."""
    exchange = Exchange(fees=fees, check=True)
    for i, agent in enumerate(AGENTS):
        limits = AccountLimits(
            cash_floor=-500 if i == 0 else 0,
            max_long=None if i % 2 else 60 * scale,
            max_short=0 if i in (1, 2) else 50 * scale,
        )
        exchange.open_account(agent, cash=(5_000 + 3_000 * i) * scale, inventory=10 * i * scale, limits=limits)
    return exchange


class StreamChecker:
    """Replays operations and checks, after each, what the exchange's own invariants cannot see."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.size: dict[int, int] = {}
        self.filled: dict[int, int] = defaultdict(int)
        self.ids: list[int] = []
        self.accepted = 0
        self.rejected: Counter[RejectReason] = Counter()

    def submit(self, kind: str, agent: str, side: Side, price: int, qty: int, cancel_id: int | None) -> int | None:
        """Send one operation; return the order id it got, if any."""
        ex = self.exchange
        before = snapshot(ex)
        if kind == "cancel":
            if cancel_id is None:
                return None
            result = ex.cancel(agent, cancel_id)
        elif kind == "market":
            result = ex.submit_market(agent, side, qty)
        else:
            result = ex.submit_limit(agent, side, price, qty, ioc=kind == "ioc")
        if not result.ok:
            self.rejected[result.reject.reason] += 1
            assert snapshot(ex) == before, f"rejected {kind} changed the exchange: {result.reject}"
            return None
        self.accepted += 1
        if kind != "cancel":
            self.ids.append(result.order_id)
            self.size[result.order_id] = qty
        self.check_fills(side, price if kind != "market" else None, result.fills)
        return result.order_id

    def check_fills(self, side: Side, limit: int | None, fills) -> None:
        prices = [f.price for f in fills]
        # price first: a buy walks up the asks, a sell walks down the bids, never past its limit
        assert prices == sorted(prices, reverse=side is Side.SELL)
        if limit is not None:
            assert all(p <= limit for p in prices) if side is Side.BUY else all(p >= limit for p in prices)
        # then arrival: within one price, earlier orders (smaller ids) fill first
        for a, b in zip(fills, fills[1:], strict=False):
            if a.price == b.price:
                assert a.maker_order_id < b.maker_order_id
        for fill in fills:
            assert fill.maker != fill.taker, "self-trade"
            self.filled[fill.maker_order_id] += fill.qty
            self.filled[fill.taker_order_id] += fill.qty
            for order_id in (fill.maker_order_id, fill.taker_order_id):
                assert self.filled[order_id] <= self.size[order_id], f"order {order_id} overfilled"


def snapshot(exchange: Exchange):
    ledger = exchange.ledger
    accounts = {
        a: (acc.cash, acc.inventory, acc.open_buy_notional, acc.open_buy_qty, acc.open_sell_qty)
        for a in ledger.agents()
        if (acc := ledger.account(a)) is not None
    }
    return accounts, sorted(exchange.book.orders()), exchange.book.depth(50)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(operation, min_size=50, max_size=400),
    maker_bps=st.integers(0, 30),
    taker_bps=st.integers(0, 60),
)
def test_random_streams_keep_the_book_uncrossed_conserved_and_never_overfilled(ops, maker_bps, taker_bps):
    exchange = make_exchange(FeeConfig(maker_bps=maker_bps, taker_bps=taker_bps))
    checker = StreamChecker(exchange)
    for kind, agent_idx, side, offset, qty, pick in ops:
        cancel_id = checker.ids[pick % len(checker.ids)] if checker.ids else None
        checker.submit(kind, AGENTS[agent_idx], side, 100 + offset, qty, cancel_id)
    check_invariants(exchange.book, exchange.ledger)


def test_cash_and_shares_conserved_over_a_long_seeded_stream_with_fees():
    exchange = make_exchange(FeeConfig(maker_bps=5, taker_bps=25), scale=20)
    exchange.check = False  # checked every 250 events below: the full check is O(book)
    checker = StreamChecker(exchange)
    flow = random_order_flow(np.random.default_rng(11), 10_000, AGENTS, mid=100, max_offset=6, max_qty=30, ioc_share=0.1, market_share=0.15)
    kinds = {FlowKind.LIMIT: "limit", FlowKind.IOC: "ioc", FlowKind.MARKET: "market", FlowKind.CANCEL: "cancel"}
    order_ids: dict[int, int | None] = {}
    for i, order in enumerate(flow):
        cancel_id = order_ids.get(order.target) if order.kind is FlowKind.CANCEL else None
        order_ids[i] = checker.submit(kinds[order.kind], order.agent, order.side, order.price, order.qty, cancel_id)
        if i % 250 == 0:
            check_invariants(exchange.book, exchange.ledger)
    check_invariants(exchange.book, exchange.ledger)
    ledger = exchange.ledger
    assert ledger.total_cash() == ledger.deposited_cash
    assert ledger.total_inventory() == ledger.deposited_inventory
    assert ledger.cash(EXCHANGE_ACCOUNT) > 0, "fees were charged"
    assert checker.accepted > 5_000 and sum(checker.filled.values()) > 50_000, "orders flowed and traded"
    binding = {RejectReason.INVENTORY_LIMIT, RejectReason.INSUFFICIENT_CASH, RejectReason.SELF_TRADE}
    assert binding <= set(checker.rejected), f"every limit bound at least once: {checker.rejected}"
