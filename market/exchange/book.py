"""OrderBook: price-time priority matching over integer ticks and lots. No ledger, no I/O.

Layout, chosen for speed in pure Python:

* each side is a dict ``price -> _Level``; a level holds a FIFO deque of resting orders and the
  level's live quantity;
* each side also keeps a sorted list of *keys* whose last element is the best price: bid keys are
  prices, ask keys are negated prices. Taking liquidity then reads and pops the end of a list on
  both sides, and one matching loop serves buys and sells;
* a cancel marks the order dead (``remaining = 0``) and removes it from the order index at once;
  the deque entry is dropped lazily when matching reaches it, or when dead entries pile up.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from market.errors import OrderRejected
from market.exchange.types import Fill, OrderView, Reject, RejectReason, Side

_NO_LIMIT = -(1 << 62)  # a key bound every price passes: market orders take any price
_COMPACT_AT = 32  # dead entries a level tolerates before it is rebuilt


class Depth(NamedTuple):
    """Aggregated book depth, best price first on each side: ``[(price, qty), ...]``."""

    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]


class _Order:
    __slots__ = ("order_id", "agent", "side", "price", "qty", "remaining")

    def __init__(self, order_id: int, agent: str, side: Side, price: int, qty: int) -> None:
        self.order_id = order_id
        self.agent = agent
        self.side = side
        self.price = price
        self.qty = qty
        self.remaining = qty


class _Level:
    __slots__ = ("qty", "orders", "dead")

    def __init__(self) -> None:
        self.qty = 0
        self.orders: deque[_Order] = deque()
        self.dead = 0


def _is_int(value: object) -> bool:
    return (type(value) is int) or (isinstance(value, (int, np.integer)) and not isinstance(value, bool))


def check_side(side: object) -> Side | Reject:
    """Return ``side`` as a :class:`Side`, or a rejection naming the bad value."""
    if side is Side.BUY or side is Side.SELL:
        return side
    if isinstance(side, str) and side in ("buy", "sell"):
        return Side(side)
    return Reject(RejectReason.BAD_SIDE, f"side must be 'buy' or 'sell', got {side!r}")


def check_price(price: object) -> int | Reject:
    """Return ``price`` as a positive ``int`` tick count, or a rejection naming the bad value."""
    if type(price) is int and price > 0:
        return price
    if not _is_int(price):
        return Reject(RejectReason.BAD_PRICE, f"price must be a positive integer tick count, got {price!r}")
    if price <= 0:  # type: ignore[operator]
        return Reject(RejectReason.BAD_PRICE, f"price must be > 0 ticks, got {price!r}")
    return int(price)  # type: ignore[call-overload]


def check_qty(qty: object) -> int | Reject:
    """Return ``qty`` as a positive ``int`` lot count, or a rejection naming the bad value."""
    if type(qty) is int and qty > 0:
        return qty
    if not _is_int(qty):
        return Reject(RejectReason.BAD_QTY, f"qty must be a positive integer lot count, got {qty!r}")
    if qty <= 0:  # type: ignore[operator]
        return Reject(RejectReason.BAD_QTY, f"qty must be > 0 lots, got {qty!r}")
    return int(qty)  # type: ignore[call-overload]


def _raise_if_reject(value: object) -> None:
    if type(value) is Reject:
        raise OrderRejected(value)


class OrderBook:
    """A limit order book for one instrument with price-time priority.

    Trades happen at the resting order's price; an incoming order may fill partially against
    several levels; within a price, orders fill in arrival order. Order ids are assigned by the
    book, starting at 1. Invalid input raises :class:`market.errors.OrderRejected` carrying a
    :class:`Reject` and leaves the book unchanged.

    >>> book = OrderBook()
    >>> ask_id, _ = book.submit_limit("alice", Side.SELL, 101, 5)
    >>> _, fills = book.submit_limit("bob", "buy", 102, 3)
    >>> [(f.price, f.qty, f.maker, f.taker) for f in fills]
    [(101, 3, 'alice', 'bob')]
    >>> book.best_ask(), book.best_bid()
    ((101, 2), None)
    """

    __slots__ = ("_next_id", "_bids", "_asks", "_bid_keys", "_ask_keys", "_orders")

    def __init__(self) -> None:
        self._next_id = 1
        self._bids: dict[int, _Level] = {}
        self._asks: dict[int, _Level] = {}
        self._bid_keys: list[int] = []  # ascending prices: best bid last
        self._ask_keys: list[int] = []  # ascending negated prices: best ask last
        self._orders: dict[int, _Order] = {}

    # ------------------------------------------------------------------ orders in
    def submit_limit(
        self, agent: str, side: Side | str, price: int, qty: int, *, ioc: bool = False
    ) -> tuple[int, list[Fill]]:
        """Submit a limit order; what does not fill at once rests, unless ``ioc``.

        Args:
            agent: who sends the order.
            side: ``Side.BUY``/``"buy"`` or ``Side.SELL``/``"sell"``.
            price: limit price in integer ticks, > 0.
            qty: size in integer lots, > 0.
            ioc: immediate-or-cancel: the unfilled rest is dropped instead of resting.

        Returns:
            The order id the book assigned and the fills, in the order they happened.

        Raises:
            OrderRejected: for a bad side, price or quantity; the book is unchanged.
        """
        side_ = check_side(side)
        price_ = check_price(price)
        qty_ = check_qty(qty)
        for value in (side_, price_, qty_):
            _raise_if_reject(value)
        return self._submit(agent, side_, price_, qty_, ioc)  # type: ignore[arg-type]

    def submit_market(self, agent: str, side: Side | str, qty: int) -> list[Fill]:
        """Submit a market order: it takes liquidity at any price; the unfilled rest is dropped.

        Raises:
            OrderRejected: for a bad side or quantity; the book is unchanged.
        """
        side_ = check_side(side)
        qty_ = check_qty(qty)
        for value in (side_, qty_):
            _raise_if_reject(value)
        return self._submit(agent, side_, None, qty_, True)[1]  # type: ignore[arg-type]

    def cancel(self, order_id: int) -> bool:
        """Cancel a resting order. Returns False if no live order has that id."""
        order = self._orders.pop(order_id, None) if type(order_id) is int else None
        if order is None:
            return False
        if order.side is Side.BUY:
            self._retire(order, self._bids, self._bid_keys, order.price)
        else:
            self._retire(order, self._asks, self._ask_keys, -order.price)
        return True

    # ------------------------------------------------------------------ queries
    def best_bid(self) -> tuple[int, int] | None:
        """``(price, qty)`` of the best bid level, or None when there are no bids."""
        if not self._bid_keys:
            return None
        price = self._bid_keys[-1]
        return price, self._bids[price].qty

    def best_ask(self) -> tuple[int, int] | None:
        """``(price, qty)`` of the best ask level, or None when there are no asks."""
        if not self._ask_keys:
            return None
        price = -self._ask_keys[-1]
        return price, self._asks[price].qty

    def depth(self, levels: int) -> Depth:
        """The top ``levels`` price levels on each side, aggregated, best first."""
        bids = [(p, self._bids[p].qty) for p in reversed(self._bid_keys[-levels:])] if levels > 0 else []
        asks = [(-k, self._asks[-k].qty) for k in reversed(self._ask_keys[-levels:])] if levels > 0 else []
        return Depth(bids, asks)

    def order(self, order_id: int) -> OrderView | None:
        """A view of a live resting order, or None."""
        order = self._orders.get(order_id)
        if order is None:
            return None
        return OrderView(order.order_id, order.agent, order.side, order.price, order.qty, order.remaining)

    def orders(self) -> Iterator[OrderView]:
        """Every live resting order, in no particular order."""
        for o in self._orders.values():
            yield OrderView(o.order_id, o.agent, o.side, o.price, o.qty, o.remaining)

    def level_orders(self, side: Side, price: int) -> list[OrderView]:
        """Live orders resting at one price, in time priority."""
        level = (self._bids if side is Side.BUY else self._asks).get(price)
        if level is None:
            return []
        return [
            OrderView(o.order_id, o.agent, o.side, o.price, o.qty, o.remaining)
            for o in level.orders
            if o.remaining
        ]

    def __len__(self) -> int:
        return len(self._orders)

    @property
    def resting(self) -> Mapping[int, Any]:
        """The live resting orders by id, the book's own objects (``agent``, ``side``, ``price``,
        ``remaining`` ...), read-only.

        Package-internal: :class:`~market.exchange.exchange.Exchange` reads them on its hot paths,
        where building an :class:`OrderView` per lookup would cost more than the lookup.
        """
        return self._orders

    def owners_at_best(self, side: Side) -> set[str]:
        """The agents with a live order at the best price of ``side`` (empty when the side is empty)."""
        buy = side == Side.BUY
        keys = self._bid_keys if buy else self._ask_keys
        if not keys:
            return set()
        level = self._bids[keys[-1]] if buy else self._asks[-keys[-1]]
        return {o.agent for o in level.orders if o.remaining}

    def best_excluding(self, side: Side, agent: str) -> int | None:
        """The best price of ``side`` among orders that are not ``agent``'s, or None."""
        if side == Side.BUY:
            levels, keys, sign = self._bids, self._bid_keys, 1
        else:
            levels, keys, sign = self._asks, self._ask_keys, -1
        for key in reversed(keys):
            price = key * sign
            if any(o.remaining and o.agent != agent for o in levels[price].orders):
                return price
        return None

    def new_order_id(self) -> int:
        """Take the next order id for an order that is cleared outside the book (auctions)."""
        order_id = self._next_id
        self._next_id = order_id + 1
        return order_id

    def preview(self, agent: str, side: Side, qty: int, limit: int | None) -> tuple[int, int, bool]:
        """What an order would take at once, without changing anything.

        Returns:
            ``(fillable_qty, notional, meets_own)``: the lots that would fill immediately, their cost
            in ticks x lots, and whether the order would trade against one of ``agent``'s own
            resting orders.
        """
        if side is Side.BUY:
            levels, keys, sign = self._asks, self._ask_keys, -1
            bound = _NO_LIMIT if limit is None else -limit
        else:
            levels, keys, sign = self._bids, self._bid_keys, 1
            bound = _NO_LIMIT if limit is None else limit
        remaining = qty
        notional = 0
        meets_own = False
        for key in reversed(keys):
            if key < bound or not remaining:
                break
            price = key * sign
            for maker in levels[price].orders:
                avail = maker.remaining
                if not avail:
                    continue
                if maker.agent == agent:
                    meets_own = True
                take = avail if avail < remaining else remaining
                remaining -= take
                notional += take * price
                if not remaining:
                    break
        return qty - remaining, notional, meets_own

    # ------------------------------------------------------------------ internals
    def _submit(self, agent: str, side: Side, price: int | None, qty: int, ioc: bool) -> tuple[int, list[Fill]]:
        order_id, fills, _ = self.place(agent, side, price, qty, ioc)
        return order_id, fills

    def place(self, agent: str, side: Side, price: int | None, qty: int, ioc: bool = False) -> tuple[int, list[Fill], int]:
        """Match an order already checked, rest what is left unless ``ioc``; its id, fills and rested lots.

        Package-internal: the fast path :class:`~market.exchange.exchange.Exchange` matches through
        after its own checks. It skips :meth:`submit_limit`'s argument checks and result objects.
        """
        order_id = self._next_id
        self._next_id = order_id + 1
        fills: list[Fill] = []
        if side is Side.BUY:
            keys = self._ask_keys
            remaining = self._match(agent, side, order_id, qty, _NO_LIMIT if price is None else -price, -1, self._asks, keys, fills) if keys and (price is None or -keys[-1] <= price) else qty
            if not remaining or ioc:
                return order_id, fills, 0
            levels, keys, key = self._bids, self._bid_keys, price
        else:
            keys = self._bid_keys
            remaining = self._match(agent, side, order_id, qty, _NO_LIMIT if price is None else price, 1, self._bids, keys, fills) if keys and (price is None or keys[-1] >= price) else qty
            if not remaining or ioc:
                return order_id, fills, 0
            levels, keys, key = self._asks, self._ask_keys, -price  # type: ignore[operator]
        # rest what is left, last in its level's queue
        order = _Order(order_id, agent, side, price, qty)  # type: ignore[arg-type]
        order.remaining = remaining
        level = levels.get(price)  # type: ignore[arg-type]
        if level is None:
            level = levels[price] = _Level()  # type: ignore[index]
            insort(keys, key)
        level.orders.append(order)
        level.qty += remaining
        self._orders[order_id] = order
        return order_id, fills, remaining

    def _match(
        self,
        agent: str,
        side: Side,
        order_id: int,
        qty: int,
        bound: int,
        sign: int,
        levels: dict[int, _Level],
        keys: list[int],
        fills: list[Fill],
    ) -> int:
        """Take liquidity from the opposite side while its best key is >= ``bound``.

        Returns the quantity left unfilled.
        """
        index = self._orders
        remaining = qty
        while remaining and keys:
            key = keys[-1]
            if key < bound:
                break
            price = key * sign
            level = levels[price]
            queue = level.orders
            live = level.qty
            traded = 0
            while remaining and live:
                maker = queue[0]
                avail = maker.remaining
                if not avail:  # cancelled earlier, dropped now
                    queue.popleft()
                    level.dead -= 1
                    continue
                if avail <= remaining:
                    take = avail
                    queue.popleft()
                    del index[maker.order_id]
                    maker.remaining = 0
                else:
                    take = remaining
                    maker.remaining = avail - take
                remaining -= take
                live -= take
                traded += take
                fills.append(Fill(price, take, maker.agent, agent, maker.order_id, order_id, side))
            level.qty = live
            if not live:
                del levels[price]
                keys.pop()
        return remaining

    def _retire(self, order: _Order, levels: dict[int, _Level], keys: list[int], key: int) -> None:
        """Take a cancelled order's quantity out of its level; drop the level when it is empty."""
        level = levels[order.price]
        level.qty -= order.remaining
        order.remaining = 0
        if not level.qty:
            del levels[order.price]
            del keys[bisect_left(keys, key)]
            return
        level.dead += 1
        if level.dead > _COMPACT_AT and level.dead * 2 > len(level.orders):
            level.orders = deque(o for o in level.orders if o.remaining)
            level.dead = 0
