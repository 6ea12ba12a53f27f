"""The compiled exchange's kernels: matching, checks and settlement over its arrays, compiled by numba.

:mod:`market.exchange.compiled` imports this module on first use, so that numba is imported (and,
the first time on a machine, the kernels compiled and cached) only by markets that run on it. The
arrays' layout is :mod:`market.exchange.layout`. Each kernel does, step for step, what the Python
exchange (:mod:`market.exchange.book`, :mod:`market.exchange.exchange`) does for the same purpose.
"""

from numba import njit
from numba import types as nb_types
from numba.typed import Dict as TypedDict

from market.exchange.layout import (
    ABOVE_MAX_LONG,
    AGENT,
    BAD_INPUT,
    BELOW_MAX_SHORT,
    BUY_NOTIONAL,
    BUY_QTY,
    CANCELLED,
    CANCEL_GONE,
    CASH,
    FLOOR,
    F_MAKER,
    F_MAKER_ID,
    F_PRICE,
    F_QTY,
    F_SIDE,
    F_TAKER,
    F_TAKER_ID,
    HEAD,
    HOUSE,
    ID,
    INV,
    KEY,
    LQTY,
    MAKER_BPS,
    MAX_BPS,
    MAX_LONG,
    MAX_SHORT,
    NEXT,
    NEXT_ID,
    NO_ACCOUNT,
    NO_MAX_LONG,
    N_BIDS,
    N_FREE,
    OUT_A,
    OUT_B,
    OUT_CODE,
    PLACED,
    PREV,
    PRICE,
    QTY,
    REM,
    SELF_TRADE,
    SELL_QTY,
    SHORT_OF_CASH,
    SIDE,
    TAIL,
    TAKER_BPS,
    TAX_BPS,
    TAX_HOUSE,
)
from market.exchange.ledger import BPS


def new_index() -> TypedDict:
    """An empty order index: order id to slot."""
    return TypedDict.empty(key_type=nb_types.int64, value_type=nb_types.int64)


@njit(cache=True)
def find(levels, n, side, key):
    """The position of ``key`` among the first ``n`` keys of ``side``, or where it would go."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) >> 1
        if levels[side, KEY, mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def drop_level(levels, meta, side, i):
    """Remove the empty level at position ``i`` of ``side``."""
    n = meta[N_BIDS + side]
    for j in range(i, n - 1):
        for f in range(4):
            levels[side, f, j] = levels[side, f, j + 1]
    meta[N_BIDS + side] = n - 1


@njit(cache=True)
def cancel(orders, levels, accounts, meta, where, free, slot):
    """Take the order in ``slot`` out of its level and release what it reserved."""
    side, price, rem, agent = orders[SIDE, slot], orders[PRICE, slot], orders[REM, slot], orders[AGENT, slot]
    key = price if side == 0 else -price
    i = find(levels, meta[N_BIDS + side], side, key)
    nxt, prv = orders[NEXT, slot], orders[PREV, slot]
    if prv >= 0:
        orders[NEXT, prv] = nxt
    else:
        levels[side, HEAD, i] = nxt
    if nxt >= 0:
        orders[PREV, nxt] = prv
    else:
        levels[side, TAIL, i] = prv
    levels[side, LQTY, i] -= rem
    if levels[side, LQTY, i] == 0:
        drop_level(levels, meta, side, i)
    where.pop(orders[ID, slot])
    orders[REM, slot] = 0
    free[meta[N_FREE]] = slot
    meta[N_FREE] += 1
    if side == 0:
        accounts[BUY_QTY, agent] -= rem
        accounts[BUY_NOTIONAL, agent] -= price * rem
    else:
        accounts[SELL_QTY, agent] -= rem


@njit(cache=True)
def meets_own(orders, levels, meta, agent, side, price, qty):
    """Whether the order would trade against one of the agent's own resting orders (the book's preview)."""
    opp = 1 - side
    bound = -price if side == 0 else price
    remaining = qty
    j = meta[N_BIDS + opp] - 1
    while j >= 0 and remaining > 0:
        if levels[opp, KEY, j] < bound:
            break
        slot = levels[opp, HEAD, j]
        while slot >= 0:
            if orders[AGENT, slot] == agent:
                return True
            rem = orders[REM, slot]
            remaining -= rem if rem < remaining else remaining
            if remaining == 0:
                break
            slot = orders[NEXT, slot]
        j -= 1
    return False


@njit(cache=True)
def check(orders, levels, accounts, meta, agent, side, price, qty):
    """What :meth:`Exchange.check_order` decides for a limit order: ``(code, a, b)``, code 0 when it may go."""
    opposite = accounts[SELL_QTY, agent] if side == 0 else accounts[BUY_QTY, agent]
    if opposite != 0 and meets_own(orders, levels, meta, agent, side, price, qty):
        return SELF_TRADE, 0, 0
    if side == 0:
        worst_long = accounts[INV, agent] + accounts[BUY_QTY, agent] + qty
        max_long = accounts[MAX_LONG, agent]
        if max_long != NO_MAX_LONG and worst_long > max_long:
            return ABOVE_MAX_LONG, worst_long, max_long
        max_bps = meta[MAX_BPS]
        cost = price * qty
        open_notional = accounts[BUY_NOTIONAL, agent]
        free_cash = accounts[CASH, agent] - (open_notional + open_notional * max_bps // BPS) - accounts[FLOOR, agent]
        need = cost + cost * max_bps // BPS
        if need > free_cash:
            return SHORT_OF_CASH, need, free_cash
    else:
        worst_short = accounts[INV, agent] - accounts[SELL_QTY, agent] - qty
        if worst_short < -accounts[MAX_SHORT, agent]:
            return BELOW_MAX_SHORT, worst_short, 0
    return PLACED, 0, 0


@njit(cache=True)
def place(orders, levels, accounts, meta, where, free, fills, nf, agent, side, price, qty):
    """Match a checked limit order, settle its fills, rest the rest; ``(order id, lots rested, fills so far)``."""
    order_id = meta[NEXT_ID]
    meta[NEXT_ID] = order_id + 1
    opp = 1 - side
    bound = -price if side == 0 else price
    maker_bps, taker_bps, tax_bps = meta[MAKER_BPS], meta[TAKER_BPS], meta[TAX_BPS]
    house, tax_house = meta[HOUSE], meta[TAX_HOUSE]
    remaining = qty
    n = meta[N_BIDS + opp]
    while remaining > 0 and n > 0:
        i = n - 1
        key = levels[opp, KEY, i]
        if key < bound:
            break
        level_price = key if opp == 0 else -key
        slot = levels[opp, HEAD, i]
        while remaining > 0 and slot >= 0:
            avail, maker, maker_id, nxt = orders[REM, slot], orders[AGENT, slot], orders[ID, slot], orders[NEXT, slot]
            if avail <= remaining:
                take = avail
                levels[opp, HEAD, i] = nxt
                if nxt >= 0:
                    orders[PREV, nxt] = -1
                else:
                    levels[opp, TAIL, i] = -1
                where.pop(maker_id)
                orders[REM, slot] = 0
                free[meta[N_FREE]] = slot
                meta[N_FREE] += 1
            else:
                take = remaining
                orders[REM, slot] = avail - take
            remaining -= take
            levels[opp, LQTY, i] -= take
            fills[F_PRICE, nf] = level_price
            fills[F_QTY, nf] = take
            fills[F_MAKER, nf] = maker
            fills[F_TAKER, nf] = agent
            fills[F_MAKER_ID, nf] = maker_id
            fills[F_TAKER_ID, nf] = order_id
            fills[F_SIDE, nf] = side
            nf += 1
            # settle as Ledger.settle does, and the maker's reservation shrinks by what filled
            notional = level_price * take
            maker_fee = notional * maker_bps // BPS
            taker_fee = notional * taker_bps // BPS
            if side == 0:
                buyer, seller, buyer_fee, seller_fee = agent, maker, taker_fee, maker_fee
                accounts[SELL_QTY, maker] -= take
            else:
                buyer, seller, buyer_fee, seller_fee = maker, agent, maker_fee, taker_fee
                accounts[BUY_QTY, maker] -= take
                accounts[BUY_NOTIONAL, maker] -= notional
            accounts[CASH, buyer] -= notional + buyer_fee
            accounts[INV, buyer] += take
            accounts[CASH, seller] += notional - seller_fee
            accounts[INV, seller] -= take
            accounts[CASH, house] += buyer_fee + seller_fee
            if tax_bps:
                tax = notional * tax_bps // BPS
                accounts[CASH, buyer] -= tax
                accounts[CASH, seller] -= tax
                accounts[CASH, tax_house] += 2 * tax
            slot = nxt
        if levels[opp, LQTY, i] == 0:
            n -= 1
            meta[N_BIDS + opp] = n
    if remaining == 0:
        return order_id, 0, nf
    # rest what is left, last in its level's queue
    key = price if side == 0 else -price
    n = meta[N_BIDS + side]
    i = find(levels, n, side, key)
    if i == n or levels[side, KEY, i] != key:
        for j in range(n, i, -1):
            for f in range(4):
                levels[side, f, j] = levels[side, f, j - 1]
        levels[side, KEY, i] = key
        levels[side, HEAD, i] = -1
        levels[side, TAIL, i] = -1
        levels[side, LQTY, i] = 0
        meta[N_BIDS + side] = n + 1
    meta[N_FREE] -= 1
    slot = free[meta[N_FREE]]
    orders[ID, slot] = order_id
    orders[AGENT, slot] = agent
    orders[SIDE, slot] = side
    orders[PRICE, slot] = price
    orders[QTY, slot] = qty
    orders[REM, slot] = remaining
    orders[NEXT, slot] = -1
    tail = levels[side, TAIL, i]
    orders[PREV, slot] = tail
    if tail >= 0:
        orders[NEXT, tail] = slot
    else:
        levels[side, HEAD, i] = slot
    levels[side, TAIL, i] = slot
    levels[side, LQTY, i] += remaining
    where[order_id] = slot
    if side == 0:
        accounts[BUY_QTY, agent] += remaining
        accounts[BUY_NOTIONAL, agent] += price * remaining
    else:
        accounts[SELL_QTY, agent] += remaining
    return order_id, remaining, nf


@njit(cache=True)
def clear(orders, levels, accounts, meta, where, free, fills, turn_agent, cancel_start, cancel_ids, order_start, sides, prices, qtys, cancelled, out):
    """Every turn in arrival order: its cancels, then its orders, each checked, matched, settled and rested."""
    nf = 0
    for t in range(turn_agent.shape[0]):
        agent = turn_agent[t]
        for c in range(cancel_start[t], cancel_start[t + 1]):
            order_id = cancel_ids[c]
            slot = where[order_id] if order_id in where else -1
            if slot < 0:
                cancelled[c] = CANCEL_GONE
            elif orders[AGENT, slot] != agent:
                cancelled[c] = orders[AGENT, slot]
            else:
                cancel(orders, levels, accounts, meta, where, free, slot)
                cancelled[c] = CANCELLED
        for k in range(order_start[t], order_start[t + 1]):
            side = sides[k]
            if side == BAD_INPUT:
                continue
            if agent < 0:
                out[OUT_CODE, k] = NO_ACCOUNT
                continue
            code, a, b = check(orders, levels, accounts, meta, agent, side, prices[k], qtys[k])
            if code == PLACED:
                a, b, nf = place(orders, levels, accounts, meta, where, free, fills, nf, agent, side, prices[k], qtys[k])
            out[OUT_CODE, k] = code
            out[OUT_A, k] = a
            out[OUT_B, k] = b
    return nf


@njit(cache=True)
def replace(orders, levels, accounts, meta, where, free, fills, last, offset, arrival, counts, sides, prices, qtys, out):
    """Book clearing's turns: each trader row in ``arrival`` (account ``row + offset``) withdraws what
    rested from its last turn (``last[row]``, in placement order), then sends its ``counts[row]`` new
    orders; ``last[row]`` then holds the ids of those that rest."""
    nf = 0
    width = last.shape[1]
    for t in range(arrival.shape[0]):
        row = arrival[t]
        agent = row + offset
        for j in range(width):
            order_id = last[row, j]
            if order_id == 0:
                break
            if order_id in where:
                cancel(orders, levels, accounts, meta, where, free, where[order_id])
            last[row, j] = 0
        kept = 0
        for j in range(counts[row]):
            side, price, qty = sides[row, j], prices[row, j], qtys[row, j]
            code, a, b = check(orders, levels, accounts, meta, agent, side, price, qty)
            if code == PLACED:
                a, b, nf = place(orders, levels, accounts, meta, where, free, fills, nf, agent, side, price, qty)
                if b:
                    last[row, kept] = a
                    kept += 1
            out[row, j] = code
    return nf


@njit(cache=True)
def resting_qty(orders, where, last, row):
    total = 0
    for j in range(last.shape[1]):
        order_id = last[row, j]
        if order_id == 0:
            break
        if order_id in where:
            total += orders[REM, where[order_id]]
    return total


@njit(cache=True)
def best_excluding(orders, levels, meta, side, agent):
    """The best price of ``side`` among other agents' orders, or 0 when there is none."""
    for j in range(meta[N_BIDS + side] - 1, -1, -1):
        slot = levels[side, HEAD, j]
        while slot >= 0:
            if orders[AGENT, slot] != agent:
                key = levels[side, KEY, j]
                return key if side == 0 else -key
            slot = orders[NEXT, slot]
    return 0
