"""Exchange: every refused order comes back typed, with a reason naming the problem, and changes nothing."""

from __future__ import annotations

import pytest
from test_exchange_properties import snapshot

from market.exchange import EXCHANGE_ACCOUNT, AccountLimits, Exchange, FeeConfig, RejectReason, Side


@pytest.fixture
def exchange() -> Exchange:
    ex = Exchange(fees=FeeConfig(maker_bps=10, taker_bps=20), check=True)
    ex.open_account("alice", cash=10_000, inventory=20, limits=AccountLimits(max_long=30))
    ex.open_account("bob", cash=10_000, inventory=0, limits=AccountLimits(max_short=5))
    ex.submit_limit("alice", Side.SELL, 110, 5)
    ex.submit_limit("bob", Side.BUY, 90, 5)
    return ex


@pytest.mark.parametrize(
    ("call", "reason", "named"),
    [
        (lambda ex: ex.submit_limit("alice", "buy", 100, -1), RejectReason.BAD_QTY, "-1"),
        (lambda ex: ex.submit_limit("alice", "buy", 100, 0), RejectReason.BAD_QTY, "0"),
        (lambda ex: ex.submit_limit("alice", "buy", 100, 2.5), RejectReason.BAD_QTY, "2.5"),
        (lambda ex: ex.submit_limit("alice", "buy", 0, 1), RejectReason.BAD_PRICE, "0"),
        (lambda ex: ex.submit_limit("alice", "buy", -100, 1), RejectReason.BAD_PRICE, "-100"),
        (lambda ex: ex.submit_limit("alice", "buy", 100.5, 1), RejectReason.BAD_PRICE, "100.5"),
        (lambda ex: ex.submit_limit("alice", "short", 100, 1), RejectReason.BAD_SIDE, "'short'"),
        (lambda ex: ex.submit_market("alice", 1, 1), RejectReason.BAD_SIDE, "1"),
        (lambda ex: ex.submit_market("alice", "sell", -2), RejectReason.BAD_QTY, "-2"),
        (lambda ex: ex.cancel("alice", 12345), RejectReason.UNKNOWN_ORDER, "12345"),
        (lambda ex: ex.cancel("alice", 2), RejectReason.NOT_OWNER, "'bob'"),
        (lambda ex: ex.submit_limit("carol", "buy", 100, 1), RejectReason.UNKNOWN_AGENT, "'carol'"),
        (lambda ex: ex.submit_limit("bob", "buy", 100, 500), RejectReason.INSUFFICIENT_CASH, "free"),
        (lambda ex: ex.submit_limit("alice", "buy", 100, 11), RejectReason.INVENTORY_LIMIT, "max_long 30"),
        (lambda ex: ex.submit_limit("alice", "sell", 100, 16), RejectReason.INVENTORY_LIMIT, "not allowed"),
        (lambda ex: ex.submit_limit("bob", "sell", 120, 6), RejectReason.INVENTORY_LIMIT, "max_short is 5"),
        (lambda ex: ex.submit_limit("alice", "buy", 115, 1), RejectReason.SELF_TRADE, "own resting order"),
        (lambda ex: ex.submit_market("bob", "sell", 1), RejectReason.SELF_TRADE, "own resting order"),
    ],
)
def test_refused_orders_name_the_reason_and_leave_the_exchange_unchanged(exchange, call, reason, named):
    before = snapshot(exchange)
    result = call(exchange)
    assert not result.ok
    assert result.reject.reason is reason
    assert named in result.reject.detail
    assert result.order_id is None and result.fills == []
    assert snapshot(exchange) == before


def test_fees_go_to_the_exchange_account(exchange):
    result = exchange.submit_limit("bob", "buy", 110, 2)  # takes 2 of alice's ask at 110
    assert [(f.price, f.qty, f.maker) for f in result.fills] == [(110, 2, "alice")]
    notional = 220
    taker_fee, maker_fee = notional * 20 // 10_000, notional * 10 // 10_000
    assert exchange.ledger.cash("bob") == 10_000 - notional - taker_fee
    assert exchange.ledger.cash("alice") == 10_000 + notional - maker_fee
    assert exchange.ledger.cash(EXCHANGE_ACCOUNT) == taker_fee + maker_fee


def test_resting_buys_reserve_cash_so_limits_hold_if_all_fill():
    ex = Exchange(check=True)
    ex.open_account("a", cash=1_000)
    assert ex.submit_limit("a", "buy", 100, 6).ok
    refused = ex.submit_limit("a", "buy", 100, 5)
    assert refused.reject.reason is RejectReason.INSUFFICIENT_CASH
    assert ex.cancel("a", 1).ok
    assert ex.submit_limit("a", "buy", 100, 10).ok


def test_credit_line_lets_cash_go_negative_down_to_the_floor():
    ex = Exchange(check=True)
    ex.open_account("a", cash=100, limits=AccountLimits(cash_floor=-900))
    ex.open_account("b", cash=0, inventory=100)
    ex.submit_limit("b", "sell", 100, 20)
    assert ex.submit_market("a", "buy", 10).ok
    assert ex.ledger.cash("a") == -900
    assert ex.submit_market("a", "buy", 1).reject.reason is RejectReason.INSUFFICIENT_CASH
