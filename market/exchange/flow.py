"""Seeded random order flow: the stream that the demo, the benchmark and the tests replay.

A flow is a list of :class:`FlowOrder`. A cancel names an earlier order of the same flow by its
position (``target``), because order ids belong to whichever engine replays the flow.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

import numpy as np

from market.exchange.types import Side


class FlowKind(StrEnum):
    """What a flow entry asks for."""

    LIMIT = "limit"
    IOC = "ioc"
    MARKET = "market"
    CANCEL = "cancel"


class FlowOrder(NamedTuple):
    """One entry of a random order flow. ``price`` is 0 for market orders and cancels."""

    kind: FlowKind
    agent: str
    side: Side
    price: int
    qty: int
    target: int  # for CANCEL: index of an earlier entry in the flow; -1 otherwise


def random_order_flow(
    rng: np.random.Generator,
    n_orders: int,
    agents: list[str],
    *,
    mid: int = 10_000,
    limit_share: float = 0.7,
    market_share: float = 0.2,
    ioc_share: float = 0.0,
    marketable_share: float = 0.15,
    max_offset: int = 50,
    max_qty: int = 100,
) -> list[FlowOrder]:
    """Draw a stream of limit, IOC, market and cancel orders around a slowly drifting mid.

    Args:
        rng: the random stream.
        n_orders: length of the flow.
        agents: names of the agents sending orders, drawn uniformly.
        mid: the starting mid price in ticks.
        limit_share: share of resting limit orders; ``marketable_share`` of them cross the mid.
        market_share: share of market orders.
        ioc_share: share of immediate-or-cancel limit orders; cancels take what is left.
        marketable_share: share of limit orders priced through the mid.
        max_offset: limit prices lie within this many ticks of the mid.
        max_qty: sizes are drawn from 1..max_qty lots.

    Returns:
        The flow, in arrival order.
    """
    cancel_share = 1.0 - limit_share - market_share - ioc_share
    if cancel_share < -1e-9 or min(limit_share, market_share, ioc_share) < 0:
        raise ValueError("order shares must be >= 0 and sum to at most 1")
    kinds = rng.choice(
        np.array([0, 1, 2, 3]), size=n_orders, p=[limit_share, ioc_share, market_share, max(cancel_share, 0.0)]
    )
    buys = rng.random(n_orders) < 0.5
    agent_idx = rng.integers(0, len(agents), size=n_orders)
    qtys = rng.integers(1, max_qty + 1, size=n_orders)
    offsets = rng.integers(1, max_offset + 1, size=n_orders)
    crossing = rng.random(n_orders) < marketable_share
    drift = rng.integers(-1, 2, size=n_orders)
    kind_of = (FlowKind.LIMIT, FlowKind.IOC, FlowKind.MARKET, FlowKind.CANCEL)

    flow: list[FlowOrder] = []
    resting: list[int] = []  # indices of limit entries a cancel may name
    for i in range(n_orders):
        mid = max(mid + int(drift[i]), max_offset + 2)
        kind = kind_of[kinds[i]]
        side = Side.BUY if buys[i] else Side.SELL
        agent = agents[agent_idx[i]]
        qty = int(qtys[i])
        if kind is FlowKind.CANCEL:
            if resting:
                target = resting.pop(int(rng.integers(0, len(resting))))
                flow.append(FlowOrder(kind, flow[target].agent, flow[target].side, 0, 0, target))
                continue
            kind = FlowKind.LIMIT  # nothing to cancel yet
        if kind is FlowKind.MARKET:
            flow.append(FlowOrder(kind, agent, side, 0, qty, -1))
            continue
        # a passive price sits away from the mid on its own side; a marketable one crosses it
        away = -int(offsets[i]) if not crossing[i] else int(offsets[i]) // 4 + 1
        price = mid + away if side is Side.BUY else mid - away
        if kind is FlowKind.LIMIT:
            resting.append(i)
        flow.append(FlowOrder(kind, agent, side, max(price, 1), qty, -1))
    return flow
