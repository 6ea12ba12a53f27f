"""Value types of the exchange: sides, fills, rejections, and the tick/price conversions.

Prices are integer ticks, quantities integer lots and cash integer ticks x lots, so that money and
shares are conserved exactly. Floats appear only at the edges, through :func:`ticks_to_price` and
:func:`price_to_ticks`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

import numpy as np

from market.errors import ConfigError


class Side(StrEnum):
    """Order side. A ``StrEnum``, so ``Side.BUY == "buy"``."""

    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        """The other side."""
        return Side.SELL if self is Side.BUY else Side.BUY


class Fill(NamedTuple):
    """One trade between a resting (maker) order and an incoming (taker) order.

    The trade happens at the maker's price. ``taker_side`` is the aggressor's side.
    """

    price: int
    qty: int
    maker: str
    taker: str
    maker_order_id: int
    taker_order_id: int
    taker_side: Side


class RejectReason(StrEnum):
    """Why an order or cancel was refused."""

    BAD_SIDE = "bad_side"
    BAD_PRICE = "bad_price"
    BAD_QTY = "bad_qty"
    UNKNOWN_ORDER = "unknown_order"
    UNKNOWN_AGENT = "unknown_agent"
    NOT_OWNER = "not_owner"
    INSUFFICIENT_CASH = "insufficient_cash"
    INVENTORY_LIMIT = "inventory_limit"
    SELF_TRADE = "self_trade"


@dataclass(frozen=True, slots=True)
class Reject:
    """A refused order: the reason as an enum and one line naming the problem."""

    reason: RejectReason
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


class OrderView(NamedTuple):
    """A read-only view of a resting order."""

    order_id: int
    agent: str
    side: Side
    price: int
    qty: int
    remaining: int


def ticks_to_price(ticks: int, tick_size: float) -> float:
    """Convert integer ticks to a float price."""
    return ticks * tick_size


def price_to_ticks(price: float, tick_size: float) -> int:
    """Convert a float price to the nearest integer tick.

    Raises:
        ConfigError: if ``tick_size`` is not positive or ``price`` is not finite.
    """
    if not tick_size > 0:
        raise ConfigError(f"tick_size must be > 0, got {tick_size}")
    if not np.isfinite(price):
        raise ConfigError(f"price must be finite, got {price}")
    return int(round(price / tick_size))
