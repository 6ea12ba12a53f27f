"""Clearing: how one interval's orders become trades. The batch algorithms, and the modes of the market env.

The batch algorithms, a uniform-price call auction (:func:`call_auction`) and price impact
(:func:`impact_clearing`), settle through the same :class:`~market.exchange.exchange.Exchange` ledger
as the continuous book, with the same limit checks: each order is checked as if it rested (its
reservation counts against later orders of the same agent), the batch clears, and every reservation
is released, since unfilled orders of a batch expire.

The clearing modes (:class:`ClearingMode`: :class:`BookClearing`, :class:`CallClearing`, :class:`PoissonClearing`,
:class:`ImpactClearing`) are what the market env holds, one per env, chosen once from its config:
each clears a step's orders, moves the mid and marks inventories, so the env has no branch on the mode.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple, Protocol

import numpy as np

from market.exchange.compiled import CompiledExchange, OrderTable
from market.exchange.exchange import Exchange, Turn
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


# ---------------------------------------------------------------------------- clearing modes
Order = tuple[Side, int, int]
"""An order of one step: side, limit price in ticks, lots."""


class ClearingOutcome(NamedTuple):
    """What one step's clearing did: the fills in the order they happened, and each agent's refusals."""

    fills: list[Fill]
    rejected: dict[str, list[str]]


class ClearingMode(Protocol):
    """How the orders of one step of the market env become trades, and where the mid goes.

    One instance serves one env; :meth:`open` starts each episode on a fresh exchange. A mode settles
    every trade through the exchange's ledger (conservation holds for all of them), may hold per-episode
    state (resting orders, a price of its own), and is handed a random stream from the env's seed tree
    for modes that draw (an exogenous mid, random fills). The env calls, each step: :meth:`clear` (unless
    a circuit breaker halts trading), then :meth:`new_mid`, then :meth:`marks` to value inventories.

    A new mode is one class with these six methods plus its entry in the env's registry
    (:data:`market.envs.market_config.CLEARING_MODES`).
    """

    def open(self, exchange: Exchange, agents: Sequence[str], rng: np.random.Generator) -> None:
        """Start an episode: open the mode's own accounts on the fresh ``exchange`` and reset its state."""

    def clear(self, exchange: Exchange, arrival: Sequence[str], orders: Mapping[str, list[Order]], reference: int) -> ClearingOutcome:
        """Turn the step's orders (agents in arrival order) into trades; ``reference`` is the mid in ticks."""

    def new_mid(self, exchange: Exchange, fills: Sequence[Fill], mid: float) -> float:
        """The mid after the step, from the mid before it and what cleared."""

    def marks(self, exchange: Exchange, index: Mapping[str, int], mid: float, last_trade: float) -> np.ndarray | float:
        """The price each agent's inventory is marked at: one for all, or one per agent (``index`` gives the rows)."""

    def withdraw(self, exchange: Exchange, agent: str) -> None:
        """Take a leaving (bankrupt) agent's orders out of the market."""

    def resting_qty(self, exchange: Exchange, agent: str) -> int:
        """Lots of the agent's earlier orders still resting (they may fill before its next turn cancels them)."""


class BookClearing:
    """A continuous limit order book: agents arrive in turn; each replaces its resting orders with new ones."""

    def open(self, exchange: Exchange, agents: Sequence[str], rng: np.random.Generator) -> None:
        """Start with no resting orders."""
        self._resting: dict[str, list[int]] = {agent: [] for agent in agents}

    def clear(self, exchange: Exchange, arrival: Sequence[str], orders: Mapping[str, list[Order]], reference: int) -> ClearingOutcome:
        """Each agent in turn cancels its resting orders and sends its new ones (:meth:`Exchange.submit_batch`)."""
        resting = self._resting
        result = exchange.submit_batch(zip(arrival, map(resting.__getitem__, arrival), map(orders.__getitem__, arrival)))  # Turns, unnamed
        rejected: dict[str, list[str]] = {}
        for agent, turn in zip(arrival, result.turns):
            resting[agent] = turn.resting
            if turn.rejects:
                rejected[agent] = [reject.reason.value for reject in turn.rejects]
        return ClearingOutcome(result.fills, rejected)

    def new_mid(self, exchange: Exchange, fills: Sequence[Fill], mid: float) -> float:
        """The book's mid when both sides are quoted; else the last trade; else unchanged."""
        bid, ask = exchange.book.best_bid(), exchange.book.best_ask()
        if bid is not None and ask is not None:
            return (bid[0] + ask[0]) / 2.0
        return float(fills[-1].price) if fills else mid

    def marks(self, exchange: Exchange, index: Mapping[str, int], mid: float, last_trade: float) -> np.ndarray | float:
        """The mid of the book without the agent's own orders.

        An agent's own quotes must not move the value of its own inventory (a maker could otherwise
        skew its quotes to raise the mark of what it holds). Only agents quoting at the best bid or
        ask see a mark other than the mid; when a side holds nothing but theirs, their mark is the
        last trade price, which only trades with others move.
        """
        book = exchange.book
        quoting = book.owners_at_best(Side.BUY) | book.owners_at_best(Side.SELL)
        if not quoting:
            return mid
        marks = np.full(len(index), mid)
        for agent in quoting:
            i = index.get(agent)
            bid, ask = book.best_excluding(Side.BUY, agent), book.best_excluding(Side.SELL, agent)
            if i is not None:
                marks[i] = (bid + ask) / 2.0 if bid is not None and ask is not None else last_trade
        return marks

    def withdraw(self, exchange: Exchange, agent: str) -> None:
        """Cancel the agent's resting orders."""
        for order_id in self._resting[agent]:
            exchange.cancel(agent, order_id)
        self._resting[agent] = []

    def resting_qty(self, exchange: Exchange, agent: str) -> int:
        """The unfilled lots of the agent's orders resting in the book."""
        order = exchange.book.order
        return sum(view.remaining for view in map(order, self._resting[agent]) if view is not None)


class CompiledBookClearing(BookClearing):
    """Book clearing on the compiled exchange (:class:`~market.exchange.compiled.CompiledExchange`).

    The same turns as :class:`BookClearing`, each agent replacing what rested from its last turn,
    cleared in one compiled call; the exchange keeps each agent's resting orders. :meth:`clear_table`
    takes the step's orders as arrays, :meth:`clear` by name.
    """

    def open(self, exchange: Exchange, agents: Sequence[str], rng: np.random.Generator) -> None:
        """Nothing rests yet: the exchange is new."""

    def clear(self, exchange: Exchange, arrival: Sequence[str], orders: Mapping[str, list[Order]], reference: int) -> ClearingOutcome:
        """The agents' turns in arrival order (the orders by name put in a table first)."""
        compiled: CompiledExchange = exchange  # type: ignore[assignment]
        rows = [compiled.trader_row(agent) for agent in arrival]
        table = OrderTable(compiled.traders)
        table.put_lists(rows, [orders[agent] for agent in arrival])
        return self.clear_table(exchange, np.array(rows, dtype=np.int64), table, compiled.trader_names())

    def clear_table(self, exchange: Exchange, arrival: np.ndarray, table: OrderTable, names: Sequence[str]) -> ClearingOutcome:
        """The turns of the trader rows ``arrival``, in that order, their orders in ``table``; ``names`` by row."""
        compiled: CompiledExchange = exchange  # type: ignore[assignment]
        n_fills, codes = compiled.replace_turns(arrival, table)
        refused = np.flatnonzero(codes.any(axis=1))
        counts = table.counts
        rejected = {names[row]: compiled.reasons(codes[row, : counts[row]].tolist()) for row in refused.tolist()}
        return ClearingOutcome(compiled.fills(n_fills), rejected)  # type: ignore[arg-type]  # a FillTable: built when read

    def withdraw(self, exchange: Exchange, agent: str) -> None:
        """Cancel what rested from the agent's last turn."""
        exchange.withdraw(agent)  # type: ignore[attr-defined]

    def resting_qty(self, exchange: Exchange, agent: str) -> int:
        """The unfilled lots of what rested from the agent's last turn."""
        return exchange.resting_qty(agent)  # type: ignore[attr-defined]


class _BatchClearing:
    """What the batch modes share: the step's orders clear at once and nothing rests."""

    def open(self, exchange: Exchange, agents: Sequence[str], rng: np.random.Generator) -> None:
        """Nothing rests between steps."""

    def clear(self, exchange: Exchange, arrival: Sequence[str], orders: Mapping[str, list[Order]], reference: int) -> ClearingOutcome:
        """Clear every order of the step in one batch (:meth:`_clear_batch`), in arrival order."""
        batch = [BatchOrder(agent, side, price, qty) for agent in arrival for side, price, qty in orders[agent]]
        result = self._clear_batch(exchange, batch, reference)
        rejected: dict[str, list[str]] = {}
        for agent, reject in result.rejects:
            rejected.setdefault(agent, []).append(reject.reason.value)
        return ClearingOutcome(result.fills, rejected)

    def _clear_batch(self, exchange: Exchange, batch: list[BatchOrder], reference: int) -> ClearingResult:
        raise NotImplementedError

    def new_mid(self, exchange: Exchange, fills: Sequence[Fill], mid: float) -> float:
        """The last trade price, else unchanged."""
        return float(fills[-1].price) if fills else mid

    def marks(self, exchange: Exchange, index: Mapping[str, int], mid: float, last_trade: float) -> np.ndarray | float:
        """Everyone at the mid (no agent quotes between steps)."""
        return mid

    def withdraw(self, exchange: Exchange, agent: str) -> None:
        """Nothing rests, so nothing to withdraw."""

    def resting_qty(self, exchange: Exchange, agent: str) -> int:
        """Nothing rests between steps."""
        return 0


class CallClearing(_BatchClearing):
    """One uniform-price call auction over all the orders of the step (:func:`call_auction`)."""

    def _clear_batch(self, exchange: Exchange, batch: list[BatchOrder], reference: int) -> ClearingResult:
        return call_auction(exchange, batch, reference=reference)


DEALER_ACCOUNT = "__dealer__"
"""In impact clearing, the account on the other side of every trade."""
_DEALER_CASH = 10**15
_DEALER_INVENTORY = 10**9


class ImpactClearing(_BatchClearing):
    """No book: the step's net marketable flow moves the price; a dealer fills every order there (:func:`impact_clearing`).

    Args:
        model: ``"linear"`` or ``"sqrt"`` (see :func:`impact_price`).
        coefficient: the relative move per lot (linear) or per square root of a lot (sqrt).
    """

    def __init__(self, *, model: str, coefficient: float) -> None:
        self.model, self.coefficient = model, coefficient

    def open(self, exchange: Exchange, agents: Sequence[str], rng: np.random.Generator) -> None:
        """Open the dealer's account, deep enough never to run out."""
        exchange.open_account(DEALER_ACCOUNT, cash=_DEALER_CASH, inventory=_DEALER_INVENTORY)
        self._price: int | None = None

    def _clear_batch(self, exchange: Exchange, batch: list[BatchOrder], reference: int) -> ClearingResult:
        result = impact_clearing(exchange, batch, reference=reference, model=self.model, coefficient=self.coefficient, dealer=DEALER_ACCOUNT)
        self._price = result.price
        return result

    def new_mid(self, exchange: Exchange, fills: Sequence[Fill], mid: float) -> float:
        """The impact price of the step's flow (the reference itself when no flow was marketable)."""
        return float(self._price) if self._price is not None else mid


class PoissonClearing:
    """The textbook setting of Avellaneda and Stoikov (2008): an exogenous mid, and quotes filled by Poisson arrivals.

    The mid follows its own random walk (:meth:`new_mid`), whatever the agents do. Each step, every
    accepted order ``delta`` ticks from the mid on its own side (below it for a bid, above it for an
    ask; negative through the mid) is hit by an outside market order with probability
    ``min(1, intensity * exp(-kappa * delta) * dt)`` and fills ``fill_size`` lots (at most its size) at
    its own price: the model's rate for every order, so a quote through the mid is hit more often, and
    a taker's crossing order fills as surely as its price is aggressive. Orders fill independently of
    one another (each agent faces the model's order flow alone), and the dealer account is the other
    side of every fill: the agent is the maker of a fill when its order lay on its own side of the mid,
    the taker otherwise. Nothing rests.

    Two random streams, both branches of the stream the env hands to :meth:`open`: one moves the mid,
    one draws the fills, so the mid's path depends on the seed alone, not on what the agents quote,
    and strategies compared on one seed see the same prices.

    Args:
        initial_mid: the mid at the start of every episode, in ticks.
        sigma: the mid's volatility in ticks per square root of model time.
        intensity: ``A``, the rate of outside market orders reaching a quote at the mid, per unit of model time.
        kappa: decay of that rate with the distance from the mid, per tick.
        dt: model time per step.
        fill_size: lots one outside market order takes.
        normal: normal steps of standard deviation ``sigma * sqrt(dt)`` instead of the paper's
            binomial steps of exactly that size.
    """

    def __init__(
        self, *, initial_mid: float, sigma: float, intensity: float, kappa: float, dt: float, fill_size: int, normal: bool = False
    ) -> None:
        self.initial_mid, self.intensity, self.kappa, self.dt, self.fill_size, self.normal = (
            initial_mid, intensity, kappa, dt, fill_size, normal
        )
        self.step_size = sigma * math.sqrt(dt)

    def open(self, exchange: Exchange, agents: Sequence[str], rng: np.random.Generator) -> None:
        """Open the dealer's account, start the mid at ``initial_mid`` and branch the mid's and the fills' streams."""
        exchange.open_account(DEALER_ACCOUNT, cash=_DEALER_CASH, inventory=_DEALER_INVENTORY)
        self._mid_rng, self._fill_rng = rng.spawn(2)
        self._mid = self.initial_mid

    def fill_probability(self, delta: float) -> float:
        """The chance that an order ``delta`` ticks from the mid (negative: through it) is hit within one step."""
        rate = self.intensity * math.exp(min(-self.kappa * delta, 700.0)) * self.dt
        return min(1.0, rate)

    def clear(self, exchange: Exchange, arrival: Sequence[str], orders: Mapping[str, list[Order]], reference: int) -> ClearingOutcome:
        """Check every order of the step (in arrival order), then fill each with its own draw."""
        batch = [BatchOrder(agent, side, price, qty) for agent in arrival for side, price, qty in orders[agent]]
        accepted, refused = _accept(exchange, batch)
        draws = self._fill_rng.random(len(accepted)).tolist()
        mid, settle = self._mid, exchange.ledger.settle
        fills: list[Fill] = []
        for order, draw in zip(accepted, draws):
            buy = order.side is Side.BUY
            delta = mid - order.price if buy else order.price - mid
            if draw >= self.fill_probability(delta):
                continue
            flow_id = exchange.book.new_order_id()
            qty = min(self.fill_size, order.qty)
            buyer, seller = (order.agent, DEALER_ACCOUNT) if buy else (DEALER_ACCOUNT, order.agent)
            if delta > 0.0:  # a quote on its own side of the mid, hit by an outside market order
                settle(buyer, seller, order.price, qty, buyer_is_maker=buy)
                fills.append(Fill(order.price, qty, order.agent, DEALER_ACCOUNT, order.order_id, flow_id, Side.SELL if buy else Side.BUY))
            else:  # at or through the mid: the agent takes from the flow
                settle(buyer, seller, order.price, qty, buyer_is_maker=not buy)
                fills.append(Fill(order.price, qty, DEALER_ACCOUNT, order.agent, flow_id, order.order_id, order.side))
        _release_all(exchange, accepted)
        rejected: dict[str, list[str]] = {}
        for agent, reject in refused:
            rejected.setdefault(agent, []).append(reject.reason.value)
        return ClearingOutcome(fills, rejected)

    def new_mid(self, exchange: Exchange, fills: Sequence[Fill], mid: float) -> float:
        """One step of the mid's own random walk (never below one tick), whatever traded."""
        rng = self._mid_rng
        step = rng.standard_normal() * self.step_size if self.normal else (self.step_size if rng.random() < 0.5 else -self.step_size)
        self._mid = max(1.0, self._mid + step)
        return self._mid

    def marks(self, exchange: Exchange, index: Mapping[str, int], mid: float, last_trade: float) -> np.ndarray | float:
        """Everyone at the exogenous mid."""
        return self._mid

    def withdraw(self, exchange: Exchange, agent: str) -> None:
        """Nothing rests, so nothing to withdraw."""

    def resting_qty(self, exchange: Exchange, agent: str) -> int:
        """Nothing rests between steps."""
        return 0
