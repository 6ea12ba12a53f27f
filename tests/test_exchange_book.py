"""OrderBook: price-time matching, partial fills, cancels, and equality with a simple reference book."""

from __future__ import annotations

import numpy as np
import pytest
from reference_book import ReferenceBook

from market.errors import OrderRejected
from market.exchange import OrderBook, RejectReason, Side
from market.exchange.flow import FlowKind, random_order_flow
from market.exchange.invariants import check_book


def replay(book, flow, *, after_each=None):
    """Replay a flow through any book with the OrderBook call shapes; return every event's fills."""
    ids: list[int] = [0] * len(flow)
    events = []
    for i, order in enumerate(flow):
        if order.kind is FlowKind.CANCEL:
            events.append(("cancel", book.cancel(ids[order.target])))
        elif order.kind is FlowKind.MARKET:
            events.append(("fills", book.submit_market(order.agent, order.side, order.qty)))
        else:
            ids[i], fills = book.submit_limit(order.agent, order.side, order.price, order.qty, ioc=order.kind is FlowKind.IOC)
            events.append(("fills", fills))
        if after_each is not None:
            after_each(book)
    return events


def test_trade_happens_at_the_resting_price():
    book = OrderBook()
    book.submit_limit("a", Side.SELL, 101, 5)
    _, fills = book.submit_limit("b", Side.BUY, 105, 2)
    assert [(f.price, f.qty, f.maker, f.taker, f.taker_side) for f in fills] == [(101, 2, "a", "b", Side.BUY)]


def test_equal_price_orders_fill_in_arrival_order():
    book = OrderBook()
    first, _ = book.submit_limit("a", "buy", 100, 3)
    second, _ = book.submit_limit("b", "buy", 100, 3)
    third, _ = book.submit_limit("c", "buy", 100, 3)
    fills = book.submit_market("d", "sell", 7)
    assert [(f.maker_order_id, f.qty) for f in fills] == [(first, 3), (second, 3), (third, 1)]
    assert book.best_bid() == (100, 2)


def test_better_price_fills_before_earlier_arrival():
    book = OrderBook()
    early, _ = book.submit_limit("a", "sell", 102, 1)
    late, _ = book.submit_limit("b", "sell", 101, 1)
    fills = book.submit_market("c", "buy", 2)
    assert [(f.maker_order_id, f.price) for f in fills] == [(late, 101), (early, 102)]


def test_partial_fill_rests_the_remainder_at_the_limit():
    book = OrderBook()
    book.submit_limit("a", "sell", 100, 4)
    order_id, fills = book.submit_limit("b", "buy", 101, 10)
    assert sum(f.qty for f in fills) == 4
    assert book.best_bid() == (101, 6)
    assert book.order(order_id).remaining == 6
    assert book.best_ask() is None


def test_ioc_remainder_is_dropped():
    book = OrderBook()
    book.submit_limit("a", "sell", 100, 4)
    _, fills = book.submit_limit("b", "buy", 101, 10, ioc=True)
    assert sum(f.qty for f in fills) == 4
    assert book.best_bid() is None and len(book) == 0


def test_market_order_on_empty_side_fills_nothing():
    book = OrderBook()
    assert book.submit_market("a", "buy", 5) == []
    assert len(book) == 0


def test_cancel_removes_quantity_and_unknown_cancel_is_false():
    book = OrderBook()
    keep, _ = book.submit_limit("a", "buy", 100, 3)
    gone, _ = book.submit_limit("b", "buy", 100, 5)
    assert book.cancel(gone) is True
    assert book.cancel(gone) is False
    assert book.cancel(999) is False
    assert book.best_bid() == (100, 3)
    fills = book.submit_market("c", "sell", 10)
    assert [(f.maker_order_id, f.qty) for f in fills] == [(keep, 3)]
    assert book.best_bid() is None


def test_many_cancels_at_one_level_keep_the_level_consistent():
    book = OrderBook()
    anchor, _ = book.submit_limit("a", "sell", 100, 1)
    for _ in range(200):  # a quoting agent that replaces its order at the same price
        order_id, _ = book.submit_limit("q", "sell", 100, 2)
        book.cancel(order_id)
        check_book(book)
    assert book.best_ask() == (100, 1)
    assert book.level_orders(Side.SELL, 100)[0].order_id == anchor


def test_depth_aggregates_levels_best_first():
    book = OrderBook()
    for price, qty in [(99, 1), (98, 2), (99, 3), (97, 4)]:
        book.submit_limit("a", "buy", price, qty)
    for price, qty in [(101, 5), (103, 1), (101, 1)]:
        book.submit_limit("b", "sell", price, qty)
    depth = book.depth(2)
    assert depth.bids == [(99, 4), (98, 2)]
    assert depth.asks == [(101, 6), (103, 1)]
    assert book.depth(0) == ([], [])


def test_order_ids_are_per_book():
    assert OrderBook().submit_limit("a", "buy", 100, 1)[0] == 1
    assert OrderBook().submit_limit("a", "buy", 100, 1)[0] == 1


@pytest.mark.parametrize(
    ("side", "price", "qty", "reason"),
    [
        ("hold", 100, 1, RejectReason.BAD_SIDE),
        (None, 100, 1, RejectReason.BAD_SIDE),
        ("buy", 0, 1, RejectReason.BAD_PRICE),
        ("buy", -5, 1, RejectReason.BAD_PRICE),
        ("buy", 100.0, 1, RejectReason.BAD_PRICE),
        ("buy", True, 1, RejectReason.BAD_PRICE),
        ("buy", 100, 0, RejectReason.BAD_QTY),
        ("buy", 100, -3, RejectReason.BAD_QTY),
        ("buy", 100, 1.5, RejectReason.BAD_QTY),
        ("buy", 100, "2", RejectReason.BAD_QTY),
    ],
)
def test_bad_input_raises_a_typed_rejection_and_changes_nothing(side, price, qty, reason):
    book = OrderBook()
    book.submit_limit("a", "sell", 101, 1)
    with pytest.raises(OrderRejected) as info:
        book.submit_limit("b", side, price, qty)
    assert info.value.reject.reason is reason
    assert repr(side if reason is RejectReason.BAD_SIDE else price if reason is RejectReason.BAD_PRICE else qty) in str(info.value)
    assert book.best_ask() == (101, 1) and book.best_bid() is None and len(book) == 1


def test_numpy_integers_are_accepted_as_ticks_and_lots():
    book = OrderBook()
    order_id, _ = book.submit_limit("a", "buy", np.int64(100), np.int32(3))
    assert book.order(order_id).price == 100 and type(book.order(order_id).price) is int


@pytest.mark.parametrize("seed", range(40))
def test_fills_and_top_of_book_equal_the_reference_book(seed):
    rng = np.random.default_rng(seed)
    flow = random_order_flow(
        rng, 1_500, [f"a{i}" for i in range(6)], max_offset=8 + seed % 20, ioc_share=0.05, market_share=0.15
    )
    fast, ref = OrderBook(), ReferenceBook()
    tops_fast, tops_ref = [], []
    events_fast = replay(fast, flow, after_each=lambda b: tops_fast.append((b.best_bid(), b.best_ask())))
    events_ref = replay(ref, flow, after_each=lambda b: tops_ref.append((b.best_bid(), b.best_ask())))
    assert events_fast == events_ref
    assert tops_fast == tops_ref
    check_book(fast)
