"""Exchange: an order book composed with a ledger, fees, account limits and self-trade prevention.

Every order the exchange refuses comes back as an :class:`OrderResult` whose ``reject`` names the
reason, and leaves book and ledger exactly as they were. Accepted orders match in the book and
settle in the ledger in the same call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from market.exchange.book import OrderBook, check_price, check_qty, check_side
from market.exchange.invariants import check_invariants
from market.exchange.ledger import BPS, Account, AccountLimits, FeeConfig, Ledger
from market.exchange.types import Fill, Reject, RejectReason, Side


class OrderResult(NamedTuple):
    """The outcome of a submit or cancel: the order id, its fills, or why it was refused."""

    order_id: int | None
    fills: list[Fill]
    reject: Reject | None

    @property
    def ok(self) -> bool:
        """True when the exchange accepted the request."""
        return self.reject is None


class Turn(NamedTuple):
    """One agent's turn in a batch: withdraw its resting orders ``cancel``, then send ``orders``.

    ``orders`` are limit orders ``(side, price, qty)``, sent in that order.
    """

    agent: str
    cancel: Sequence[int]
    orders: Sequence[tuple[Side | str, int, int]]


class TurnResult(NamedTuple):
    """What one turn left: the ids of its new orders still resting when the turn ended, and its refusals.

    ``rejects`` holds one :class:`Reject` per refused order, in order, after one per refused cancel
    (an id resting for another agent).
    """

    resting: list[int]
    rejects: list[Reject]


class BatchResult(NamedTuple):
    """The outcome of :meth:`Exchange.submit_batch`: every fill in the order it happened, and each turn's result."""

    fills: list[Fill]
    turns: list[TurnResult]


def refusal(reason: RejectReason, detail: str) -> OrderResult:
    """The result of a refused request."""
    return OrderResult(None, [], Reject(reason, detail))


# The refusals' one-line details, shared with the compiled exchange (market.exchange.compiled).
def not_owner(order_id: object, owner: str, agent: str) -> Reject:
    return Reject(RejectReason.NOT_OWNER, f"order {order_id} belongs to {owner!r}, not {agent!r}")


def no_account(agent: str) -> Reject:
    return Reject(RejectReason.UNKNOWN_AGENT, f"no account for agent {agent!r}")


def self_trade(side: Side, agent: str) -> Reject:
    return Reject(RejectReason.SELF_TRADE, f"{side} order of {agent!r} would trade against its own resting order")


def above_max_long(qty: int, worst_long: int, max_long: int) -> Reject:
    return Reject(RejectReason.INVENTORY_LIMIT, f"buying {qty} would allow a position of {worst_long} lots, above max_long {max_long}")


def short_of_cash(agent: str, need: int, free_cash: int) -> Reject:
    return Reject(RejectReason.INSUFFICIENT_CASH, f"order needs {need} cash but {agent!r} has {free_cash} free")


def below_max_short(qty: int, worst_short: int, limits: AccountLimits) -> Reject:
    what = "short selling is not allowed" if not limits.allow_short else f"max_short is {limits.max_short}"
    return Reject(RejectReason.INVENTORY_LIMIT, f"selling {qty} would allow a position of {worst_short} lots; {what}")


class Exchange:
    """A book plus a ledger: what agents trade through.

    Args:
        fees: maker/taker fees, credited to the exchange account.
        check: run :func:`check_invariants` after every call (slow; for tests and debugging).

    >>> ex = Exchange(fees=FeeConfig(taker_bps=10))
    >>> ex.open_account("maker", cash=0, inventory=10)
    >>> ex.open_account("taker", cash=100_000)
    >>> ex.submit_limit("maker", "sell", 1_000, 10).ok
    True
    >>> [(f.price, f.qty) for f in ex.submit_market("taker", "buy", 4).fills]
    [(1000, 4)]
    >>> ex.ledger.cash("taker"), ex.ledger.inventory("taker")
    (95996, 4)
    """

    def __init__(self, *, fees: FeeConfig | None = None, check: bool = False) -> None:
        self.book = OrderBook()
        self.ledger = Ledger(fees)
        self.check = check

    def open_account(
        self, agent: str, *, cash: int, inventory: int = 0, limits: AccountLimits | None = None
    ) -> None:
        """Open a trading account; see :meth:`Ledger.open_account`."""
        self.ledger.open_account(agent, cash=cash, inventory=inventory, limits=limits)

    # ------------------------------------------------------------------ orders
    def submit_limit(self, agent: str, side: Side | str, price: int, qty: int, *, ioc: bool = False) -> OrderResult:
        """Submit a limit order (immediate-or-cancel with ``ioc``) after checking input and limits."""
        side_, price_, qty_ = check_side(side), check_price(price), check_qty(qty)
        for value in (side_, price_, qty_):
            if type(value) is Reject:
                return OrderResult(None, [], value)
        return self._submit(agent, side_, price_, qty_, ioc)  # type: ignore[arg-type]

    def submit_market(self, agent: str, side: Side | str, qty: int) -> OrderResult:
        """Submit a market order after checking input and limits; the unfilled rest is dropped."""
        side_, qty_ = check_side(side), check_qty(qty)
        for value in (side_, qty_):
            if type(value) is Reject:
                return OrderResult(None, [], value)
        return self._submit(agent, side_, None, qty_, True)  # type: ignore[arg-type]

    def cancel(self, agent: str, order_id: int) -> OrderResult:
        """Cancel one of ``agent``'s resting orders and release what it reserved."""
        order = self.book.resting.get(order_id)
        if order is None:
            return refusal(RejectReason.UNKNOWN_ORDER, f"no resting order with id {order_id!r}")
        if order.agent != agent:
            return OrderResult(None, [], not_owner(order_id, order.agent, agent))
        remaining = order.remaining
        self.book.cancel(order.order_id)  # the book's own int id: the book refuses any other type
        self.release(self.ledger.account(agent), order.side, order.price, remaining)  # type: ignore[arg-type]
        if self.check:
            check_invariants(self.book, self.ledger)
        return OrderResult(order_id, [], None)

    def submit_batch(self, turns: Iterable[Turn]) -> BatchResult:
        """Run a whole interval's turns in arrival order: each agent replaces its resting orders with new ones.

        Exactly what the per-order calls would do, turn after turn: :meth:`cancel` each id in
        ``turn.cancel``, then :meth:`submit_limit` each order in ``turn.orders``, with the same
        fills, order ids, rejections and ledger changes, but without building a result per call.
        An id in ``turn.cancel`` that no longer rests (it filled, or was cancelled already) is
        skipped: replacing quotes that traded is not an error. With ``check``, the invariants are
        checked after every cancel and order, as the per-order calls do.

        Returns:
            Every fill, in the order it happened, and one :class:`TurnResult` per turn.
        """
        book, check = self.book, self.check
        index = book.resting
        accounts = self.ledger.accounts
        cancel_order, place, check_order, release, reserve = book.cancel, book.place, self.check_order, self.release, self.reserve
        fills: list[Fill] = []
        results: list[TurnResult] = []
        for agent, cancel, orders in turns:
            account = accounts.get(agent)
            rejects: list[Reject] = []
            # 1. withdraw the agent's resting orders, releasing what they reserved
            for order_id in cancel:
                order = index.get(order_id)
                if order is None:
                    continue
                if order.agent != agent:
                    rejects.append(not_owner(order_id, order.agent, agent))
                    continue
                remaining = order.remaining
                cancel_order(order.order_id)
                release(account, order.side, order.price, remaining)  # type: ignore[arg-type]
                if check:
                    check_invariants(book, self.ledger)
            # 2. the new orders, each checked, matched, settled and reserved as submit_limit does
            placed: list[int] = []
            for side, price, qty in orders:
                if not ((side is Side.BUY or side is Side.SELL) and type(price) is int and price > 0 and type(qty) is int and qty > 0):
                    side, price, qty = check_side(side), check_price(price), check_qty(qty)  # type: ignore[assignment]
                    bad = next((value for value in (side, price, qty) if type(value) is Reject), None)
                    if bad is not None:
                        rejects.append(bad)  # type: ignore[arg-type]
                        continue
                if account is None:
                    rejects.append(no_account(agent))
                    continue
                refusal = check_order(agent, account, side, price, qty)  # type: ignore[arg-type]
                if refusal is not None:
                    rejects.append(refusal.reject)  # type: ignore[arg-type]
                    continue
                order_id, new_fills, rested = place(agent, side, price, qty)  # type: ignore[arg-type]
                if new_fills:
                    self._settle(new_fills)
                    fills += new_fills
                if rested:
                    reserve(account, side, price, rested)  # type: ignore[arg-type]
                    placed.append(order_id)
                if check:
                    check_invariants(book, self.ledger)
            results.append(TurnResult([order_id for order_id in placed if order_id in index], rejects))
        return BatchResult(fills, results)

    def verify(self) -> None:
        """Check the book, the ledger and the reservations that tie them (:func:`check_invariants`)."""
        check_invariants(self.book, self.ledger)

    # ------------------------------------------------------------------ internals
    def _submit(self, agent: str, side: Side, price: int | None, qty: int, ioc: bool) -> OrderResult:
        account = self.ledger.account(agent)
        if account is None:
            return OrderResult(None, [], no_account(agent))
        refusal = self.check_order(agent, account, side, price, qty)
        if refusal is not None:
            return refusal
        order_id, fills, rested = self.book.place(agent, side, price, qty, ioc)
        self._settle(fills)
        if rested:
            self.reserve(account, side, price, rested)  # type: ignore[arg-type]
        if self.check:
            check_invariants(self.book, self.ledger)
        return OrderResult(order_id, fills, None)

    def check_order(self, agent: str, account: Account, side: Side, price: int | None, qty: int) -> OrderResult | None:
        """The refusal for an order that could break the account's limits or trade against itself, or None.

        Counts every open order as filled. ``price`` None is a market order, priced at what it would
        take from the book now.
        """
        limits = account.limits
        buy = side is Side.BUY
        # 1. what the order would take at once, and whether it meets the agent's own quotes
        taken_notional = 0
        if price is None or (account.open_sell_qty if buy else account.open_buy_qty):
            _, taken_notional, meets_own = self.book.preview(agent, side, qty, price)
            if meets_own:
                return OrderResult(None, [], self_trade(side, agent))
        # 2. inventory limits, counting every open order as filled
        if buy:
            worst_long = account.inventory + account.open_buy_qty + qty
            max_long = limits.max_long
            if max_long is not None and worst_long > max_long:
                return OrderResult(None, [], above_max_long(qty, worst_long, max_long))
            # 3. cash: the whole order at its limit (or what a market order takes now), plus fees;
            # the open buy orders reserve theirs the same way (Ledger.reserved_cash)
            cost = taken_notional if price is None else price * qty
            max_bps = self.ledger.max_bps
            open_notional = account.open_buy_notional
            free_cash = account.cash - (open_notional + open_notional * max_bps // BPS) - limits.cash_floor
            need = cost + cost * max_bps // BPS
            if need > free_cash:
                return OrderResult(None, [], short_of_cash(agent, need, free_cash))
        else:
            worst_short = account.inventory - account.open_sell_qty - qty
            if worst_short < -limits.max_short:
                return OrderResult(None, [], below_max_short(qty, worst_short, limits))
        return None

    def _settle(self, fills: list[Fill]) -> None:
        ledger = self.ledger
        for fill in fills:
            maker = ledger.account(fill.maker)
            if fill.taker_side is Side.BUY:
                ledger.settle(fill.taker, fill.maker, fill.price, fill.qty, buyer_is_maker=False)
                maker.open_sell_qty -= fill.qty  # type: ignore[union-attr]
            else:
                ledger.settle(fill.maker, fill.taker, fill.price, fill.qty, buyer_is_maker=True)
                maker.open_buy_qty -= fill.qty  # type: ignore[union-attr]
                maker.open_buy_notional -= fill.price * fill.qty  # type: ignore[union-attr]

    @staticmethod
    def reserve(account: Account, side: Side, price: int, qty: int) -> None:
        """Count an open order of ``qty`` at ``price`` against the account's limits."""
        if side is Side.BUY:
            account.open_buy_qty += qty
            account.open_buy_notional += price * qty
        else:
            account.open_sell_qty += qty

    @staticmethod
    def release(account: Account, side: Side, price: int, qty: int) -> None:
        """Stop counting ``qty`` of an open order at ``price`` (filled elsewhere, cancelled, expired)."""
        if side is Side.BUY:
            account.open_buy_qty -= qty
            account.open_buy_notional -= price * qty
        else:
            account.open_sell_qty -= qty
