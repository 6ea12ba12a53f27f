"""Batch clearing of one interval's orders: a uniform-price call auction, or price impact.

Both settle through the same :class:`~market.exchange.exchange.Exchange` ledger as the continuous
book, with the same limit checks: each order is checked as if it rested (its reservation counts
against later orders of the same agent), the batch clears, and every reservation is released,
since unfilled orders of a batch expire.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from market.exchange.exchange import Exchange
from market.exchange.types import Fill, Reject, RejectReason, Side


class BatchOrder(NamedTuple):
    """A limit order in a batch, in arrival order."""

    agent: str
    side: Side
    price: int
    qty: int


class ClearingResult(NamedTuple):
    """What a batch produced: the clearing price (None when nothing could trade), fills, refusals."""

    price: int | None
    fills: list[Fill]
    rejects: list[tuple[str, Reject]]


class _Accepted(NamedTuple):
    order_id: int
    agent: str
    side: Side
    price: int
    qty: int


def _accept(exchange: Exchange, orders: list[BatchOrder]) -> tuple[list[_Accepted], list[tuple[str, Reject]]]:
    """Check each order against its account's limits, reserving as it goes."""
    accepted: list[_Accepted] = []
    rejects: list[tuple[str, Reject]] = []
    account_of, check_order, reserve, new_order_id = (
        exchange.ledger.account, exchange.check_order, exchange.reserve, exchange.book.new_order_id
    )
    for agent, side, price, qty in orders:
        account = account_of(agent)
        if account is None:
            rejects.append((agent, Reject(RejectReason.UNKNOWN_AGENT, f"no account for agent {agent!r}")))
            continue
        refusal = check_order(agent, account, side, price, qty)
        if refusal is not None:
            rejects.append((agent, refusal.reject))  # type: ignore[arg-type]
            continue
        reserve(account, side, price, qty)
        accepted.append(_Accepted(new_order_id(), agent, side, price, qty))
    return accepted, rejects


def _release_all(exchange: Exchange, accepted: list[_Accepted]) -> None:
    account_of, release = exchange.ledger.account, exchange.release
    for order in accepted:
        release(account_of(order.agent), order.side, order.price, order.qty)  # type: ignore[arg-type]


def _uniform_price(buys: list[_Accepted], sells: list[_Accepted], reference: int) -> tuple[int | None, int]:
    """The price that maximizes matched volume; ties: least imbalance, then nearest the reference.

    Every limit price is a candidate. Walking them upward, demand (bids at or above the price)
    falls and supply (asks at or below it) rises, so both come from running sums of the quantity
    bid and offered at each price.
    """
    bid_at: dict[int, int] = {}
    ask_at: dict[int, int] = {}
    for o in buys:
        bid_at[o.price] = bid_at.get(o.price, 0) + o.qty
    for o in sells:
        ask_at[o.price] = ask_at.get(o.price, 0) + o.qty
    demand = sum(bid_at.values())  # at the lowest price every bid is at or above it
    supply = 0
    best: tuple[int, int, int, int] | None = None  # (-volume, imbalance, distance, price)
    for price in sorted(bid_at.keys() | ask_at.keys()):
        supply += ask_at.get(price, 0)
        volume = min(demand, supply)
        if volume:
            key = (-volume, abs(demand - supply), abs(price - reference), price)
            if best is None or key < best:
                best = key
        demand -= bid_at.get(price, 0)  # bids at this price are below every higher price
    if best is None:
        return None, 0
    return best[3], -best[0]


def call_auction(exchange: Exchange, orders: list[BatchOrder], *, reference: int) -> ClearingResult:
    """Clear a batch at one uniform price; priority by price, then arrival.

    Args:
        exchange: the exchange whose ledger settles the trades.
        orders: the batch, in arrival order.
        reference: the price that breaks ties between equally good clearing prices (the last mid).

    Returns:
        The clearing price, the fills (the earlier-arriving side of each pair is the maker), and
        the orders refused by the limit checks.
    """
    accepted, rejects = _accept(exchange, orders)
    buys = [o for o in accepted if o.side is Side.BUY]
    sells = [o for o in accepted if o.side is Side.SELL]
    price, volume = _uniform_price(buys, sells, reference)
    fills: list[Fill] = []
    if price is not None:
        # executable orders in priority order: best price first, then arrival (order ids rise with arrival)
        bids = sorted((o for o in buys if o.price >= price), key=lambda o: (-o.price, o.order_id))
        asks = sorted((o for o in sells if o.price <= price), key=lambda o: (o.price, o.order_id))
        fills = _pair(exchange, bids, asks, price, volume)
    _release_all(exchange, accepted)
    return ClearingResult(price, fills, rejects)


def _pair(exchange: Exchange, bids: list[_Accepted], asks: list[_Accepted], price: int, volume: int) -> list[Fill]:
    """Match ``volume`` lots between the executable bids and asks at ``price`` and settle each pair."""
    fills: list[Fill] = []
    bid_left = [o.qty for o in bids]
    ask_left = [o.qty for o in asks]
    i = j = 0
    while volume:
        qty = min(bid_left[i], ask_left[j], volume)
        buy, sell = bids[i], asks[j]
        buyer_is_maker = buy.order_id < sell.order_id
        exchange.ledger.settle(buy.agent, sell.agent, price, qty, buyer_is_maker)
        maker, taker = (buy, sell) if buyer_is_maker else (sell, buy)
        fills.append(Fill(price, qty, maker.agent, taker.agent, maker.order_id, taker.order_id, taker.side))
        volume -= qty
        bid_left[i] -= qty
        ask_left[j] -= qty
        i += bid_left[i] == 0
        j += ask_left[j] == 0
    return fills


def impact_price(reference: int, net_flow: int, *, model: str, coefficient: float) -> int:
    """The price after a net signed flow of ``net_flow`` lots, at least one tick.

    ``model`` is ``"linear"`` (relative move ``coefficient * q``) or ``"sqrt"``
    (``coefficient * sign(q) * sqrt(|q|)``).
    """
    if model == "linear":
        move = coefficient * net_flow
    else:
        move = coefficient * math.copysign(math.sqrt(abs(net_flow)), net_flow)
    return max(1, round(reference * (1.0 + move)))


def impact_clearing(
    exchange: Exchange, orders: list[BatchOrder], *, reference: int, model: str, coefficient: float, dealer: str
) -> ClearingResult:
    """Clear a batch with no book: the net marketable flow moves the price; a dealer takes the other side.

    Marketable orders (a buy at or above the reference, a sell at or below) make up the net flow
    that moves the price from ``reference``. Every accepted order whose limit admits the new price
    then fills in full at that price against ``dealer``, which is the maker of every fill.
    """
    accepted, rejects = _accept(exchange, orders)
    net_flow = sum(
        o.qty if o.side is Side.BUY else -o.qty
        for o in accepted
        if (o.price >= reference if o.side is Side.BUY else o.price <= reference)
    )
    price = impact_price(reference, net_flow, model=model, coefficient=coefficient)
    fills: list[Fill] = []
    dealer_id = exchange.book.new_order_id()
    for order in accepted:
        if order.side is Side.BUY and order.price >= price:
            exchange.ledger.settle(order.agent, dealer, price, order.qty, buyer_is_maker=False)
        elif order.side is Side.SELL and order.price <= price:
            exchange.ledger.settle(dealer, order.agent, price, order.qty, buyer_is_maker=True)
        else:
            continue
        fills.append(Fill(price, order.qty, dealer, order.agent, dealer_id, order.order_id, order.side))
    _release_all(exchange, accepted)
    return ClearingResult(price, fills, rejects)
