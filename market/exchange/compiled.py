"""CompiledExchange: the exchange with its book and ledger in arrays, a batch of turns cleared by one compiled call.

:class:`~market.exchange.exchange.Exchange` keeps the book and the accounts in Python objects, and a
batch of turns costs 4 to 5 us an order or cancel in the interpreter: a market of 10,000 agents sends
about 6,000 orders and 4,000 cancels a step. This exchange keeps the same state in integer arrays and
clears a whole :meth:`submit_batch` in one call compiled by numba, with what the per-order path does:
price-time priority, trades at the resting price, fees and tax, account limits counting every open
order as filled, self-trade prevention, every refusal with its reason and the same one-line detail.
``tests/test_exchange_compiled.py`` holds it equal to :class:`Exchange` on long random streams: the
same fills, order ids, refusals, resting orders and balances.

It serves the market env's book clearing (:class:`~market.exchange.clearing.CompiledBookClearing`):
:meth:`CompiledExchange.replace_turns` takes a step's orders as arrays (:class:`OrderTable`), each
agent replacing what rested from its last turn, and the book and ledger answer the queries the env
and its records make (:class:`CompiledBook`, :class:`CompiledLedger`). It is not a general
replacement: no market orders, no immediate-or-cancel, no settlement from outside (the batch clearing
modes settle through :class:`~market.exchange.ledger.Ledger`).

Layout (:mod:`market.exchange.layout`; the kernels are :mod:`market.exchange.kernels`). Orders live in
slots of one array, each level's orders in a doubly linked FIFO list of slots, so a cancel unlinks at
once; an order id finds its slot through a typed dict. Each side keeps its levels in an array sorted
by key, best last (bids: the price; asks: minus the price), as the book does. Integers are 64-bit:
balances and order notionals are bounded (:data:`MAX_AMOUNT`) so that no fee or reservation can
overflow.

With ``check=True`` the invariants are checked after every call (after a whole batch, not after each
order in it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from market.errors import InvariantViolation, MarketError
from market.exchange.book import Depth, check_price, check_qty, check_side
from market.exchange.exchange import (
    BatchResult,
    OrderResult,
    TurnResult,
    above_max_long,
    below_max_short,
    no_account,
    not_owner,
    refusal,
    self_trade,
    short_of_cash,
)
from market.exchange.invariants import check_ledger, check_reservations
from market.exchange.ledger import BPS, EXCHANGE_ACCOUNT, TAX_ACCOUNT, AccountLimits, FeeConfig
from market.exchange.layout import (
    ABOVE_MAX_LONG,
    AGENT,
    BAD_INPUT,
    BELOW_MAX_SHORT,
    BUY_NOTIONAL,
    BUY_QTY,
    CASH,
    HEAD,
    HOUSE,
    INV,
    KEY,
    LQTY,
    MAKER_BPS,
    MAX_AMOUNT,
    MAX_BPS,
    NEXT,
    NEXT_ID,
    NO_ACCOUNT,
    NO_MAX_LONG,
    N_ASKS,
    N_BIDS,
    N_FREE,
    PLACED,
    SELF_TRADE,
    SELL_QTY,
    SHORT_OF_CASH,
    TAKER_BPS,
    TAX_BPS,
    TAX_HOUSE,
)
from market.exchange.types import Fill, OrderView, Reject, RejectReason, Side

__all__ = ["MAX_AMOUNT", "CompiledBook", "CompiledExchange", "CompiledLedger", "FillTable", "OrderTable"]

def _kernels() -> ModuleType:
    """The compiled kernels, imported on first use: numba is imported only by markets that run on it."""
    from market.exchange import kernels

    return kernels


_REASONS = {
    SELF_TRADE: RejectReason.SELF_TRADE.value,
    ABOVE_MAX_LONG: RejectReason.INVENTORY_LIMIT.value,
    SHORT_OF_CASH: RejectReason.INSUFFICIENT_CASH.value,
    BELOW_MAX_SHORT: RejectReason.INVENTORY_LIMIT.value,
    NO_ACCOUNT: RejectReason.UNKNOWN_AGENT.value,
}
_SIDES = (Side.BUY, Side.SELL)
_SIDE_CODE = {Side.BUY: 0, Side.SELL: 1}


class OrderTable:
    """One step's orders of every trader as arrays, what :meth:`CompiledExchange.replace_turns` clears.

    Row ``r`` (a trader row: the env's agent row) sends its first ``counts[r]`` orders of ``sides``
    (0 buy, 1 sell), ``prices`` and ``qtys``, at most :attr:`width` of them.
    """

    width = 2
    """The most orders a trader sends in one turn (a maker's bid and ask)."""

    def __init__(self, traders: int) -> None:
        self.counts = np.zeros(traders, dtype=np.int64)
        self.sides = np.zeros((traders, self.width), dtype=np.int64)
        self.prices = np.ones((traders, self.width), dtype=np.int64)
        self.qtys = np.ones((traders, self.width), dtype=np.int64)

    def put(self, rows: np.ndarray, sides: np.ndarray, prices: np.ndarray, qtys: np.ndarray) -> None:
        """The orders of the traders at ``rows``: ``(len(rows), k)`` arrays, ``k`` orders each."""
        k = sides.shape[1]
        self.counts[rows] = k
        self.sides[rows, :k], self.prices[rows, :k], self.qtys[rows, :k] = sides, prices, qtys

    def put_lists(self, rows: Iterable[int], orders: Iterable[Sequence[tuple[Side, int, int]]]) -> None:
        """The orders of the traders at ``rows`` as lists of ``(Side, price, qty)``.

        Raises:
            MarketError: for a trader sending more than :attr:`width` orders.
        """
        for row, placed in zip(rows, orders):
            if len(placed) > self.width:
                raise MarketError(f"the compiled exchange takes at most {self.width} orders a turn, got {len(placed)}")
            self.counts[row] = len(placed)
            for j, (side, price, qty) in enumerate(placed):
                self.sides[row, j], self.prices[row, j], self.qtys[row, j] = _SIDE_CODE[side], price, qty

    def orders_of(self, row: int) -> list[tuple[Side, int, int]]:
        """The orders of the trader at ``row`` as a list of ``(Side, price, qty)``."""
        n = int(self.counts[row])
        return list(zip([_SIDES[side] for side in self.sides[row, :n].tolist()], self.prices[row, :n].tolist(), self.qtys[row, :n].tolist()))


class FillTable(Sequence[Fill]):
    """A step's fills, kept as the kernel wrote them: a :class:`Fill` is built when it is read.

    A step of a large market fills thousands of times, and building every :class:`Fill` costs more
    than matching them; a step whose fills nobody reads (no recorder, no analysis) builds none, and
    ``fills[-1]`` builds one.
    """

    __slots__ = ("_table", "_names", "_built")

    def __init__(self, table: np.ndarray, names: Sequence[str]) -> None:
        self._table, self._names = table, names
        self._built: list[Fill] | None = None

    def _fill(self, k: int) -> Fill:
        price, qty, maker, taker, maker_id, taker_id, side = self._table[:, k].tolist()
        return Fill(price, qty, self._names[maker], self._names[taker], maker_id, taker_id, _SIDES[side])

    def _all(self) -> list[Fill]:
        if self._built is None:
            names = self._names
            price, qty, maker, taker, maker_id, taker_id, side = self._table.tolist()
            self._built = list(map(Fill, price, qty, [names[i] for i in maker], [names[i] for i in taker], maker_id, taker_id, [_SIDES[s] for s in side]))
        return self._built

    def __len__(self) -> int:
        return self._table.shape[1]

    def __getitem__(self, k):  # type: ignore[no-untyped-def, override]
        if isinstance(k, slice) or self._built is not None:
            return self._all()[k]
        n = len(self)
        if not -n <= k < n:
            raise IndexError("fill index out of range")
        return self._fill(k % n)

    def __iter__(self) -> Iterator[Fill]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and self._all() == list(other)

    def __repr__(self) -> str:
        return repr(self._all())


class CompiledExchange:
    """An exchange for the market env's book clearing, its state in arrays and its batches compiled.

    The same calls and results as :class:`~market.exchange.exchange.Exchange` for what book clearing
    uses: :meth:`open_account`, :meth:`submit_batch`, :meth:`cancel`, and the :attr:`book` and
    :attr:`ledger` queries.

    Args:
        fees: maker/taker fees and tax, credited to the exchange and tax accounts.
        check: check the invariants after every call.
    """

    def __init__(self, *, fees: FeeConfig | None = None, check: bool = False) -> None:
        fees = fees or FeeConfig()
        self.check = check
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        self._limits: list[AccountLimits] = []
        self._accounts = np.zeros((8, 16), dtype=np.int64)
        self._orders = np.zeros((8, 64), dtype=np.int64)
        self._free = np.arange(63, -1, -1, dtype=np.int64)
        self._levels = np.zeros((2, 4, 64), dtype=np.int64)
        self._fills = np.zeros((7, 64), dtype=np.int64)
        self._where = _kernels().new_index()
        self._last = np.zeros((0, 0), dtype=np.int64)  # replace_turns: each trader row's ids resting from its last turn
        meta = np.zeros(10, dtype=np.int64)
        meta[[NEXT_ID, N_FREE, MAKER_BPS, TAKER_BPS, TAX_BPS, MAX_BPS]] = (1, 64, fees.maker_bps, fees.taker_bps, fees.tax_bps, fees.max_bps)
        self._meta = meta
        self.ledger = CompiledLedger(self, fees)
        self.book = CompiledBook(self)
        self._open(EXCHANGE_ACCOUNT, 0, 0, AccountLimits())
        meta[HOUSE] = 0
        if fees.tax_bps:
            self._open(TAX_ACCOUNT, 0, 0, AccountLimits())
            meta[TAX_HOUSE] = 1
        self._first_trader = len(self._names)  # the traders' rows start after the fee (and tax) accounts

    def open_account(self, agent: str, *, cash: int, inventory: int = 0, limits: AccountLimits | None = None) -> None:
        """Open a trading account with starting balances, as :meth:`Ledger.open_account` does.

        Raises:
            MarketError: if the account exists, the balances are not integers, or they are beyond
                :data:`MAX_AMOUNT`.
        """
        if agent in self._index:
            raise MarketError(f"account {agent!r} already exists")
        if type(cash) is not int or type(inventory) is not int:
            raise MarketError(f"account {agent!r}: cash and inventory must be integers, got {cash!r} and {inventory!r}")
        limits = limits or AccountLimits()
        for key, value in (("cash", cash), ("inventory", inventory), ("cash_floor", limits.cash_floor), ("max_short", limits.max_short), ("max_long", limits.max_long or 0)):
            if abs(value) > MAX_AMOUNT:
                raise MarketError(f"account {agent!r}: {key} {value} is beyond the compiled exchange's bound of {MAX_AMOUNT:,}")
        self._open(agent, cash, inventory, limits)
        self.ledger.deposited_cash += cash
        self.ledger.deposited_inventory += inventory

    def _open(self, agent: str, cash: int, inventory: int, limits: AccountLimits) -> None:
        i = len(self._names)
        if i == self._accounts.shape[1]:
            self._accounts = np.concatenate((self._accounts, np.zeros_like(self._accounts)), axis=1)
        max_long = NO_MAX_LONG if limits.max_long is None else limits.max_long
        self._accounts[:, i] = (cash, inventory, 0, 0, 0, limits.cash_floor, max_long, limits.max_short)
        self._names.append(agent)
        self._index[agent] = i
        self._limits.append(limits)

    # ------------------------------------------------------------------ orders
    def submit_batch(self, turns: Iterable[tuple[str, Sequence[int], Sequence[tuple[Side | str, int, int]]]]) -> BatchResult:
        """Run a whole interval's turns in arrival order, as :meth:`Exchange.submit_batch` does, in one compiled call."""
        index = self._index
        names: list[str] = []
        turn_agent: list[int] = []
        cancel_start, cancel_ids = [0], []
        order_start, sides, prices, qtys = [0], [], [], []
        bad: dict[int, Reject] = {}
        buy, sell = Side.BUY, Side.SELL
        for agent, cancel, orders in turns:
            names.append(agent)
            turn_agent.append(index.get(agent, -1))
            if cancel:
                cancel_ids.extend(order_id if type(order_id) is int else _as_id(order_id) for order_id in cancel)
            cancel_start.append(len(cancel_ids))
            for side, price, qty in orders:
                if (side is buy or side is sell) and type(price) is int and price > 0 and type(qty) is int and qty > 0:
                    sides.append(0 if side is buy else 1)
                else:
                    side, price, qty = check_side(side), check_price(price), check_qty(qty)
                    reject = next((value for value in (side, price, qty) if type(value) is Reject), None)
                    if reject is not None:
                        bad[len(sides)] = reject
                        side, price, qty = BAD_INPUT, 1, 1
                    else:
                        side = _SIDE_CODE[side]
                    sides.append(side)
                prices.append(price)
                qtys.append(qty)
            order_start.append(len(sides))
        n_orders = len(sides)
        price_array, qty_array = np.array(prices, dtype=np.float64), np.array(qtys, dtype=np.float64)
        if n_orders and float((price_array * qty_array).max()) > MAX_AMOUNT:
            k = int(np.argmax(price_array * qty_array))
            raise MarketError(f"an order of {qtys[k]} lots at {prices[k]} ticks is beyond the compiled exchange's bound of {MAX_AMOUNT:,} in notional")
        self._reserve(n_orders)
        cancelled = np.empty(len(cancel_ids), dtype=np.int64)
        out = np.zeros((3, n_orders), dtype=np.int64)
        n_fills = _kernels().clear(
            self._orders, self._levels, self._accounts, self._meta, self._where, self._free, self._fills,
            np.array(turn_agent, dtype=np.int64), np.array(cancel_start, dtype=np.int64), np.array(cancel_ids, dtype=np.int64),
            np.array(order_start, dtype=np.int64), np.array(sides, dtype=np.int64), np.array(prices, dtype=np.int64), np.array(qtys, dtype=np.int64),
            cancelled, out,
        )  # fmt: skip
        results = self._turn_results(names, turn_agent, cancel_start, cancel_ids, order_start, sides, qtys, cancelled, out, bad)
        fills = self._read_fills(n_fills)
        if self.check:
            self.verify()
        return BatchResult(fills, results)

    def replace_turns(self, arrival: np.ndarray, table: OrderTable) -> tuple[int, np.ndarray]:
        """Book clearing's step in one call: each trader in ``arrival``, in turn, withdraws what rested
        from its last turn, then sends its new orders from ``table`` (what :meth:`submit_batch` does
        with the ids of the turn before as the cancels).

        Traders are rows: the accounts opened after the fee (and tax) accounts, in opening order.

        Returns:
            The number of fills (read them with :meth:`fills`) and each order's outcome code by row
            and column of ``table``: 0 placed, else refused (:meth:`reasons`).
        """
        shape = table.sides.shape
        if self._last.shape != shape:
            last = np.zeros(shape, dtype=np.int64)
            rows, cols = min(shape[0], len(self._last)), min(shape[1], self._last.shape[1])
            last[:rows, :cols] = self._last[:rows, :cols]
            self._last = last
        n_orders = int(table.counts[arrival].sum())
        if n_orders and float(np.max(table.prices[arrival].astype(np.float64) * table.qtys[arrival])) > MAX_AMOUNT:
            raise MarketError(f"an order is beyond the compiled exchange's bound of {MAX_AMOUNT:,} in notional")
        self._reserve(n_orders)
        out = np.zeros(shape, dtype=np.int64)
        n_fills = _kernels().replace(
            self._orders, self._levels, self._accounts, self._meta, self._where, self._free, self._fills, self._last, self._first_trader,
            arrival, table.counts, table.sides, table.prices, table.qtys, out,
        )  # fmt: skip
        if self.check:
            self.verify()
        return n_fills, out

    @property
    def traders(self) -> int:
        """The number of trader accounts (every account but the fee and tax accounts)."""
        return len(self._names) - self._first_trader

    def trader_names(self) -> list[str]:
        """The traders' names by row."""
        return self._names[self._first_trader :]

    def trader_row(self, agent: str) -> int:
        """The trader row of ``agent``'s account (what :class:`OrderTable` and :meth:`replace_turns` index by)."""
        return self._index[agent] - self._first_trader

    def fills(self, n: int) -> FillTable:
        """The first ``n`` fills of the last :meth:`replace_turns`, in the order they happened."""
        return FillTable(self._fills[:, :n].copy(), self._names)

    @staticmethod
    def reasons(codes: Sequence[int]) -> list[str]:
        """The :class:`RejectReason` values of refusal codes from :meth:`replace_turns` (0s are skipped)."""
        return [_REASONS[code] for code in codes if code]

    def withdraw(self, agent: str) -> None:
        """Cancel what rested from the agent's last :meth:`replace_turns` turn."""
        row = self._index[agent] - self._first_trader
        if 0 <= row < len(self._last):
            for order_id in self._last[row].tolist():
                if order_id:
                    self.cancel(agent, order_id)
            self._last[row] = 0

    def resting_qty(self, agent: str) -> int:
        """The unfilled lots of what rested from the agent's last :meth:`replace_turns` turn."""
        row = self._index[agent] - self._first_trader
        return int(_kernels().resting_qty(self._orders, self._where, self._last, row)) if 0 <= row < len(self._last) else 0

    def cancel(self, agent: str, order_id: int) -> OrderResult:
        """Cancel one of ``agent``'s resting orders and release what it reserved, as :meth:`Exchange.cancel` does."""
        slot = self._where.get(order_id, -1) if isinstance(order_id, (int, np.integer)) and not isinstance(order_id, bool) else -1
        if slot < 0:
            return refusal(RejectReason.UNKNOWN_ORDER, f"no resting order with id {order_id!r}")
        owner = self._names[self._orders[AGENT, slot]]
        if owner != agent:
            return refusal(RejectReason.NOT_OWNER, f"order {order_id} belongs to {owner!r}, not {agent!r}")
        _kernels().cancel(self._orders, self._levels, self._accounts, self._meta, self._where, self._free, slot)
        if self.check:
            self.verify()
        return OrderResult(order_id, [], None)

    def verify(self) -> None:
        """Check the invariants: the book's structure and the ledger's conservation and reservations.

        Raises:
            InvariantViolation: naming the first property that does not hold.
        """
        self.book.check()
        check_ledger(self.ledger)  # type: ignore[arg-type]
        check_reservations(self.book, self.ledger)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ internals
    def _reserve(self, n_orders: int) -> None:
        """Room for ``n_orders`` more resting orders, levels and their fills (each fill empties a resting order or ends an incoming one)."""
        meta = self._meta
        if meta[N_FREE] < n_orders:
            old = self._orders.shape[1]
            new = max(2 * old, old + n_orders)
            self._orders = np.concatenate((self._orders, np.zeros((8, new - old), dtype=np.int64)), axis=1)
            self._free = np.concatenate((np.arange(new - 1, old - 1, -1, dtype=np.int64), self._free[: meta[N_FREE]], np.zeros(old, dtype=np.int64)))
            meta[N_FREE] += new - old
        levels = max(meta[N_BIDS], meta[N_ASKS]) + n_orders
        if levels > self._levels.shape[2]:
            grown = np.zeros((2, 4, max(2 * self._levels.shape[2], levels)), dtype=np.int64)
            grown[:, :, : self._levels.shape[2]] = self._levels
            self._levels = grown
        fills = len(self._where) + 2 * n_orders
        if fills > self._fills.shape[1]:
            self._fills = np.zeros((7, max(2 * self._fills.shape[1], fills)), dtype=np.int64)

    def _read_fills(self, n: int) -> list[Fill]:
        return list(FillTable(self._fills[:, :n].copy(), self._names)) if n else []

    def _turn_results(self, names, turn_agent, cancel_start, cancel_ids, order_start, sides, qtys, cancelled, out, bad) -> list[TurnResult]:
        codes, first, second = out.tolist()
        cancels, owners = cancelled.tolist(), self._names
        results = []
        for t, agent in enumerate(names):
            rejects = [not_owner(cancel_ids[c], owners[cancels[c]], agent) for c in range(cancel_start[t], cancel_start[t + 1]) if cancels[c] >= 0]
            resting = []
            for k in range(order_start[t], order_start[t + 1]):
                reject = bad.get(k)
                if reject is None:
                    code = codes[k]
                    if code == PLACED:
                        if second[k]:
                            resting.append(first[k])
                        continue
                    reject = self._refusal(code, agent, turn_agent[t], sides[k], qtys[k], first[k], second[k])
                rejects.append(reject)
            results.append(TurnResult(resting, rejects))
        return results

    def _refusal(self, code: int, agent: str, account: int, side: int, qty: int, a: int, b: int) -> Reject:
        """The :class:`Reject` that :meth:`Exchange.check_order` gives for the kernel's ``code`` and figures ``a``, ``b``."""
        if code == NO_ACCOUNT:
            return no_account(agent)
        if code == SELF_TRADE:
            return self_trade(_SIDES[side], agent)
        if code == ABOVE_MAX_LONG:
            return above_max_long(qty, a, b)
        if code == SHORT_OF_CASH:
            return short_of_cash(agent, a, b)
        return below_max_short(qty, a, self._limits[account])


def _as_id(order_id: Any) -> int:
    """An order id to look up: an integer as itself, anything else as no order (0 is never an id)."""
    return int(order_id) if isinstance(order_id, (int, np.integer)) and not isinstance(order_id, bool) else 0


class _AccountView:
    """One account of a :class:`CompiledExchange`, read from its arrays: what :class:`~market.exchange.ledger.Account` offers."""

    __slots__ = ("_exchange", "_i", "limits")

    def __init__(self, exchange: CompiledExchange, i: int) -> None:
        self._exchange, self._i = exchange, i
        self.limits = exchange._limits[i]

    @property
    def cash(self) -> int:
        return int(self._exchange._accounts[CASH, self._i])

    @property
    def inventory(self) -> int:
        return int(self._exchange._accounts[INV, self._i])

    @property
    def open_buy_notional(self) -> int:
        return int(self._exchange._accounts[BUY_NOTIONAL, self._i])

    @property
    def open_buy_qty(self) -> int:
        return int(self._exchange._accounts[BUY_QTY, self._i])

    @property
    def open_sell_qty(self) -> int:
        return int(self._exchange._accounts[SELL_QTY, self._i])


class CompiledLedger:
    """The accounts of a :class:`CompiledExchange`: the queries of :class:`~market.exchange.ledger.Ledger`."""

    def __init__(self, exchange: CompiledExchange, fees: FeeConfig) -> None:
        self._exchange = exchange
        self._fees = fees
        self.max_bps = fees.max_bps
        self.deposited_cash = 0
        self.deposited_inventory = 0

    @property
    def fees(self) -> FeeConfig:
        """The fees and tax the ledger charges."""
        return self._fees

    @property
    def accounts(self) -> Mapping[str, _AccountView]:
        """Every account by agent."""
        return {name: _AccountView(self._exchange, i) for i, name in enumerate(self._exchange._names)}

    def account(self, agent: str) -> _AccountView | None:
        """The account of ``agent``, or None."""
        i = self._exchange._index.get(agent)
        return None if i is None else _AccountView(self._exchange, i)

    def agents(self) -> list[str]:
        """Every account id, the fee account included."""
        return list(self._exchange._names)

    def cash(self, agent: str) -> int:
        """Cash of ``agent`` in ticks x lots."""
        return int(self._exchange._accounts[CASH, self._exchange._index[agent]])

    def inventory(self, agent: str) -> int:
        """Inventory of ``agent`` in lots."""
        return int(self._exchange._accounts[INV, self._exchange._index[agent]])

    def balances(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cash and inventory of the accounts at ``rows`` (their opening order), as int64 arrays."""
        accounts = self._exchange._accounts
        return accounts[CASH, rows], accounts[INV, rows]

    def total_cash(self) -> int:
        """Sum of cash over every account, the fee account included."""
        return sum(self._exchange._accounts[CASH, : len(self._exchange._names)].tolist())

    def total_inventory(self) -> int:
        """Sum of inventory over every account."""
        return sum(self._exchange._accounts[INV, : len(self._exchange._names)].tolist())

    def fee(self, notional: int, bps: int) -> int:
        """The fee on ``notional`` at ``bps``, rounded down."""
        return notional * bps // BPS

    def reserved_cash(self, account: _AccountView) -> int:
        """Cash the account's resting buy orders could still consume, fees included."""
        notional = account.open_buy_notional
        return notional + notional * self.max_bps // BPS


class CompiledBook:
    """The book of a :class:`CompiledExchange`: the queries of :class:`~market.exchange.book.OrderBook`."""

    def __init__(self, exchange: CompiledExchange) -> None:
        self._exchange = exchange

    def _best(self, side: int) -> tuple[int, int] | None:
        exchange = self._exchange
        n = int(exchange._meta[N_BIDS + side])
        if not n:
            return None
        key, qty = exchange._levels[side, KEY, n - 1], exchange._levels[side, LQTY, n - 1]
        return (int(key) if side == 0 else -int(key)), int(qty)

    def best_bid(self) -> tuple[int, int] | None:
        """``(price, qty)`` of the best bid level, or None when there are no bids."""
        return self._best(0)

    def best_ask(self) -> tuple[int, int] | None:
        """``(price, qty)`` of the best ask level, or None when there are no asks."""
        return self._best(1)

    def depth(self, levels: int) -> Depth:
        """The top ``levels`` price levels on each side, aggregated, best first."""
        exchange = self._exchange
        sides = []
        for side, sign in ((0, 1), (1, -1)):
            n = int(exchange._meta[N_BIDS + side])
            top = max(0, n - levels) if levels > 0 else n
            keys, qtys = exchange._levels[side, KEY, top:n][::-1].tolist(), exchange._levels[side, LQTY, top:n][::-1].tolist()
            sides.append([(sign * key, qty) for key, qty in zip(keys, qtys)])
        return Depth(*sides)

    def _view(self, slot: int) -> OrderView:
        orders, names = self._exchange._orders, self._exchange._names
        order_id, agent, side, price, qty, remaining = orders[:NEXT, slot].tolist()
        return OrderView(order_id, names[agent], _SIDES[side], price, qty, remaining)

    def order(self, order_id: int) -> OrderView | None:
        """A view of a live resting order, or None."""
        slot = self._exchange._where.get(_as_id(order_id), -1)
        return None if slot < 0 else self._view(slot)

    def _level_slots(self, side: int, i: int) -> Iterator[int]:
        orders, slot = self._exchange._orders, int(self._exchange._levels[side, HEAD, i])
        while slot >= 0:
            yield slot
            slot = int(orders[NEXT, slot])

    def orders(self) -> Iterator[OrderView]:
        """Every live resting order, in no particular order."""
        for slot in self._exchange._where.values():
            yield self._view(slot)

    def level_orders(self, side: Side, price: int) -> list[OrderView]:
        """Live orders resting at one price, in time priority."""
        code = _SIDE_CODE[Side(side)]
        key = price if code == 0 else -price
        n = int(self._exchange._meta[N_BIDS + code])
        i = int(_kernels().find(self._exchange._levels, n, code, key))
        if i == n or self._exchange._levels[code, KEY, i] != key:
            return []
        return [self._view(slot) for slot in self._level_slots(code, i)]

    def __len__(self) -> int:
        return len(self._exchange._where)

    def owners_at_best(self, side: Side) -> set[str]:
        """The agents with a live order at the best price of ``side`` (empty when the side is empty)."""
        code = _SIDE_CODE[Side(side)]
        n = int(self._exchange._meta[N_BIDS + code])
        if not n:
            return set()
        orders, names = self._exchange._orders, self._exchange._names
        return {names[orders[AGENT, slot]] for slot in self._level_slots(code, n - 1)}

    def best_excluding(self, side: Side, agent: str) -> int | None:
        """The best price of ``side`` among orders that are not ``agent``'s, or None."""
        exchange = self._exchange
        price = _kernels().best_excluding(exchange._orders, exchange._levels, exchange._meta, _SIDE_CODE[Side(side)], exchange._index.get(agent, -1))
        return int(price) or None

    def check(self) -> None:
        """The book is uncrossed and sorted, its levels hold their orders' quantities, its index its orders.

        Raises:
            InvariantViolation: naming the first property that does not hold.
        """
        exchange = self._exchange
        bid, ask = self.best_bid(), self.best_ask()
        if bid is not None and ask is not None and bid[0] >= ask[0]:
            raise InvariantViolation(f"book is crossed: best bid {bid[0]} >= best ask {ask[0]}")
        seen = 0
        for side in (0, 1):
            n = int(exchange._meta[N_BIDS + side])
            keys = exchange._levels[side, KEY, :n]
            if n > 1 and not bool(np.all(np.diff(keys) > 0)):
                raise InvariantViolation(f"{_SIDES[side]} levels are not in strictly ascending key order")
            for i in range(n):
                views = [self._view(slot) for slot in self._level_slots(side, i)]
                price = int(keys[i]) if side == 0 else -int(keys[i])
                if not views or int(exchange._levels[side, LQTY, i]) != sum(v.remaining for v in views):
                    raise InvariantViolation(f"{_SIDES[side]} level {price}: quantity {int(exchange._levels[side, LQTY, i])} does not equal its live orders")
                for view in views:
                    seen += 1
                    if not 0 < view.remaining <= view.qty or view.price != price or view.side is not _SIDES[side]:
                        raise InvariantViolation(f"order {view.order_id} is filed under the wrong level or its remaining is out of range")
        if seen != len(exchange._where):
            raise InvariantViolation(f"order index holds {len(exchange._where)} orders but the levels hold {seen}")
