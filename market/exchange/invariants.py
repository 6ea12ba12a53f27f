"""check_invariants(book, ledger): the properties the exchange must hold after every event.

Shared by the tests and by ``Exchange(check=True)``. Raises
:class:`market.errors.InvariantViolation` with one line naming the first broken property.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from market.errors import InvariantViolation
from market.exchange.types import Side

if TYPE_CHECKING:
    from market.exchange.book import OrderBook
    from market.exchange.ledger import Ledger


def _fail(message: str) -> None:
    raise InvariantViolation(message)


def check_book(book: OrderBook) -> None:
    """The book is uncrossed, sorted, and its levels agree with its orders.

    Raises:
        InvariantViolation: naming the first property that does not hold.
    """
    from market.exchange.book import OrderBook

    if not isinstance(book, OrderBook):  # the compiled exchange's book checks its own arrays
        book.check()
        return
    bid, ask = book.best_bid(), book.best_ask()
    if bid is not None and ask is not None and bid[0] >= ask[0]:
        _fail(f"book is crossed: best bid {bid[0]} >= best ask {ask[0]}")
    if book._bid_keys != sorted(book._bids) or book._ask_keys != sorted(-p for p in book._asks):
        _fail("price keys do not match the price levels")
    seen = 0
    for side, levels in ((Side.BUY, book._bids), (Side.SELL, book._asks)):
        for price, level in levels.items():
            live = [o for o in level.orders if o.remaining]
            if level.qty <= 0 or level.qty != sum(o.remaining for o in live):
                _fail(f"{side} level {price}: quantity {level.qty} does not equal its live orders")
            if level.dead != len(level.orders) - len(live):
                _fail(f"{side} level {price}: dead-entry count {level.dead} is wrong")
            for order in live:
                seen += 1
                if not 0 < order.remaining <= order.qty:
                    _fail(f"order {order.order_id}: remaining {order.remaining} outside (0, {order.qty}]")
                if order.price != price or order.side is not side or book._orders.get(order.order_id) is not order:
                    _fail(f"order {order.order_id} is filed under the wrong level or missing from the index")
    if seen != len(book._orders):
        _fail(f"order index holds {len(book._orders)} orders but the levels hold {seen}")


def check_ledger(ledger: Ledger) -> None:
    """Cash and shares are conserved over all accounts, the fee account included.

    Raises:
        InvariantViolation: naming the first property that does not hold.
    """
    total_cash, total_inventory = ledger.total_cash(), ledger.total_inventory()
    if total_cash != ledger.deposited_cash:
        _fail(f"cash not conserved: accounts hold {total_cash}, {ledger.deposited_cash} was deposited")
    if total_inventory != ledger.deposited_inventory:
        _fail(f"shares not conserved: accounts hold {total_inventory}, {ledger.deposited_inventory} were deposited")


def check_reservations(book: OrderBook, ledger: Ledger) -> None:
    """Each account's reservations equal its resting orders, and its limits hold in the worst case.

    Raises:
        InvariantViolation: naming the first account that is off.
    """
    buy_notional: dict[str, int] = defaultdict(int)
    buy_qty: dict[str, int] = defaultdict(int)
    sell_qty: dict[str, int] = defaultdict(int)
    for order in book.orders():
        if order.side is Side.BUY:
            buy_notional[order.agent] += order.price * order.remaining
            buy_qty[order.agent] += order.remaining
        else:
            sell_qty[order.agent] += order.remaining
    for agent in ledger.agents():
        account = ledger.account(agent)
        assert account is not None
        held = (account.open_buy_notional, account.open_buy_qty, account.open_sell_qty)
        booked = (buy_notional[agent], buy_qty[agent], sell_qty[agent])
        if held != booked:
            _fail(f"account {agent!r}: reservations {held} differ from its resting orders {booked}")
        limits = account.limits
        if account.cash - ledger.reserved_cash(account) < limits.cash_floor:
            _fail(f"account {agent!r}: cash {account.cash} minus reservations is below the floor {limits.cash_floor}")
        if limits.max_long is not None and account.inventory + account.open_buy_qty > limits.max_long:
            _fail(f"account {agent!r}: inventory could exceed max_long {limits.max_long}")
        if account.inventory - account.open_sell_qty < -limits.max_short:
            _fail(f"account {agent!r}: inventory could fall below -max_short {-limits.max_short}")


def check_invariants(book: OrderBook, ledger: Ledger | None = None) -> None:
    """Check the book and, when given, the ledger and the reservations that tie the two.

    Raises:
        InvariantViolation: naming the first property that does not hold.
    """
    check_book(book)
    if ledger is not None:
        check_ledger(ledger)
        check_reservations(book, ledger)
