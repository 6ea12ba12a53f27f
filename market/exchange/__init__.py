"""The exchange: a limit order book, a ledger of integer cash and inventory, fees and limits.

Pure: no RL imports, no I/O. Prices are integer ticks, quantities integer lots.
"""

from market.exchange.book import Depth, OrderBook
from market.exchange.exchange import BatchResult, Exchange, OrderResult, Turn, TurnResult
from market.exchange.invariants import check_invariants
from market.exchange.ledger import EXCHANGE_ACCOUNT, TAX_ACCOUNT, AccountLimits, FeeConfig, Ledger
from market.exchange.types import Fill, OrderView, Reject, RejectReason, Side, price_to_ticks, ticks_to_price

__all__ = [
    "EXCHANGE_ACCOUNT",
    "TAX_ACCOUNT",
    "AccountLimits",
    "BatchResult",
    "Depth",
    "Exchange",
    "FeeConfig",
    "Fill",
    "Ledger",
    "OrderBook",
    "OrderResult",
    "OrderView",
    "Reject",
    "RejectReason",
    "Side",
    "Turn",
    "TurnResult",
    "check_invariants",
    "price_to_ticks",
    "ticks_to_price",
]
