"""The compiled exchange's array layout: the field of each row of its arrays, and its result codes.

Shared by the kernels (:mod:`market.exchange.kernels`, compiled by numba, where these are constants)
and :mod:`market.exchange.compiled`, which reads the arrays from Python. Importing it does not import numba.
"""

MAX_AMOUNT = 1 << 46
"""The largest balance (cash, inventory) an account may open with and the largest notional (price x
qty) an order may have, about 7e13: with every fee rate below 10,000 bps, a reservation of a whole
account's cash plus its fee stays far inside 64 bits."""

# the order slots: ORDERS[field, slot]
ID, AGENT, SIDE, PRICE, QTY, REM, NEXT, PREV = range(8)
# the levels: LEVELS[side, field, i], ascending keys (best last); side 0 bids (key = price), 1 asks (key = -price)
KEY, HEAD, TAIL, LQTY = range(4)
# the accounts: ACCOUNTS[field, account]
CASH, INV, BUY_QTY, BUY_NOTIONAL, SELL_QTY, FLOOR, MAX_LONG, MAX_SHORT = range(8)
NO_MAX_LONG = -1
# the scalars: META[field]
NEXT_ID, N_FREE, N_BIDS, N_ASKS, MAKER_BPS, TAKER_BPS, TAX_BPS, MAX_BPS, HOUSE, TAX_HOUSE = range(10)
# the fills: FILLS[field, k]
F_PRICE, F_QTY, F_MAKER, F_TAKER, F_MAKER_ID, F_TAKER_ID, F_SIDE = range(7)
# an order's outcome: OUT[field, k]; code 0 placed (value a: its id, b: lots rested), else refused (a, b: the figures)
OUT_CODE, OUT_A, OUT_B = range(3)
PLACED, SELF_TRADE, ABOVE_MAX_LONG, SHORT_OF_CASH, BELOW_MAX_SHORT, NO_ACCOUNT = range(6)
# a cancel's outcome: the owner's account when it is another's, or one of these
CANCEL_GONE, CANCELLED = -1, -2
BAD_INPUT = -1  # an order's side when the input was refused before the call
