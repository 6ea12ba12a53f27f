"""Who profits from whom: every fill's transfer between maker and taker, marked against a later mid.

Money is integer and in **half-ticks x lots** (twice the ledger's ticks x lots), so that a mid halfway
between two ticks is exact. Definitions, for a fill of ``q`` lots at price ``p`` ticks in step ``t``:

* ``m[t]`` is the mid in half-ticks when step ``t`` began (``m[0]`` the mid at reset, ``m[t + 1]`` the
  mid after step ``t``), each the env's mid times two rounded to the nearest integer (half to even).
* The mid at horizon ``k`` is ``m[min(t + k, T)]``, ``T`` the number of steps; horizon :data:`END`
  is ``m[T]``, the last mid: a fill near the end uses the last mid.
* The buyer's markout P&L at horizon ``k`` is ``q * (m_k - 2p)``, the seller's ``q * (2p - m_k)``.
* Fees and the transaction tax (``FeeConfig``, exactly as the ledger charges them) are transfers
  from the paying agent to :data:`~market.exchange.ledger.EXCHANGE_ACCOUNT` and
  :data:`~market.exchange.ledger.TAX_ACCOUNT`, which are accounts of their own.
* ``transfers[k][a, b]`` is what account ``a`` gained from account ``b`` at horizon ``k``: the
  matrix is antisymmetric, so it sums to zero exactly, fees and taxes included.

Parts of an agent's P&L (side ``s = +1`` for a buy, ``-1`` for a sell):

* spread earned: ``sum s * q * (m[t] - 2p)`` over all its fills (against the mid at the fill);
* adverse selection at ``k``: ``sum s * q * (m_k - m[t])`` over its **maker** fills;
* fees: minus the fees and tax it paid;
* inventory at ``k``: the rest, ``total - spread - adverse - fees``;
* total: ``2 * (cash_T - cash_0) + inventory_T * m[T] - inventory_0 * m[0]``, its equity change
  marked at the common mid. :func:`analyze_flows` builds it from the fills and starting
  inventories; the tests check it against the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from market.exchange.ledger import BPS, EXCHANGE_ACCOUNT, TAX_ACCOUNT, FeeConfig
from market.exchange.types import Side
from market.naming import population_of
from market.records.schema import FLOW_PART_COLUMNS

__all__ = [
    "END",
    "HORIZONS",
    "FlowObserver",
    "FlowResult",
    "FlowTrade",
    "analyze_flows",
    "flows_columns",
    "format_matrix",
    "flows_from_record",
    "format_parts",
    "parts_columns",
    "parts_from_table",
    "StepTransfers",
    "matrix_from_table",
    "half_tick_mid",
]

END = "end"
"""The horizon at the episode's last mid."""

HORIZONS: tuple[int | str, ...] = (1, 10, 100, END)
"""Markout horizons, in steps after the fill's step began, and :data:`END`."""


PART_LABELS: Mapping[str, str] = dict(zip(FLOW_PART_COLUMNS, ("spread", "adverse sel.", "inventory", "fees", "total"), strict=True))
"""The P&L parts (:meth:`FlowResult.parts`' keys, also the ``flow_parts`` table's columns) and their
short labels in printed tables."""
_ACCOUNTS = (EXCHANGE_ACCOUNT, TAX_ACCOUNT)


def half_tick_mid(mid: float) -> int:
    """A mid in ticks as an integer number of half-ticks (twice it, rounded half to even)."""
    return int(round(2.0 * mid))


class StepTransfers(NamedTuple):
    """The transfers of one horizon as columns, one row per nonzero transfer (amounts positive), for
    selecting a step range: the fill's step, the gaining and the paying account (indices into the
    result's ``accounts``) and the amount in half-ticks x lots."""

    step: np.ndarray
    gainer: np.ndarray
    payer: np.ndarray
    amount: np.ndarray


class FlowTrade(NamedTuple):
    """One fill as the flow analysis needs it: step, price in ticks, lots, maker, taker, taker's side."""

    step: int
    price: int
    qty: int
    maker: str
    taker: str
    taker_side: str


def _horizon_key(horizon: int | str) -> str:
    return str(horizon)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FlowResult:
    """Transfers between accounts per horizon, and each agent's P&L parts, in half-ticks x lots.

    Attributes:
        accounts: agents (sorted), then the exchange and tax accounts.
        horizons: the horizons, as strings (``"1"``, ``"10"``, ``"100"``, ``"end"``).
        transfers: per horizon, ``[a, b]`` = what ``accounts[a]`` gained from ``accounts[b]``.
        step_transfers: per horizon, the transfers as :class:`StepTransfers` columns (positive
            amounts only), for selecting a step range.
        spread, fees, total: per account.
        adverse, inventory: per horizon, per account.
    """

    accounts: tuple[str, ...]
    horizons: tuple[str, ...]
    transfers: Mapping[str, np.ndarray]
    step_transfers: Mapping[str, StepTransfers] = field(repr=False)
    spread: np.ndarray
    fees: np.ndarray
    total: np.ndarray
    adverse: Mapping[str, np.ndarray]
    inventory: Mapping[str, np.ndarray]

    def __eq__(self, other: object) -> bool:
        """Equal when every account, horizon, transfer and part is equal (arrays compared whole)."""
        if not isinstance(other, FlowResult):
            return NotImplemented
        return (
            self.accounts == other.accounts
            and self.horizons == other.horizons
            and self.step_transfers.keys() == other.step_transfers.keys()
            and all(np.array_equal(a, b) for k in self.step_transfers for a, b in zip(self.step_transfers[k], other.step_transfers[k], strict=True))
            and all(np.array_equal(a, b) for a, b in zip(_arrays(self), _arrays(other), strict=True))
        )

    __hash__ = None  # type: ignore[assignment]

    def matrix(self, horizon: int | str = END, *, by: str = "population") -> tuple[tuple[str, ...], np.ndarray]:
        """The gained-from matrix at a horizon, by ``"population"`` or by ``"agent"``.

        Returns:
            The row/column names and the integer matrix (``[a, b]`` = what ``a`` gained from ``b``).
        """
        full = self.transfers[_horizon_key(horizon)]
        if by == "agent":
            return self.accounts, full.copy()
        names, index = _group(self.accounts)
        out = np.zeros((len(names), len(names)), dtype=np.int64)
        np.add.at(out, (index[:, None], index[None, :]), full)
        return names, out

    def parts(self, horizon: int | str = END) -> dict[str, dict[str, int]]:
        """Per population: spread, adverse selection, inventory, fees and total P&L (they add up)."""
        key = _horizon_key(horizon)
        names, index = _group(self.accounts)
        return {name: {part: int(_part(self, part, key)[index == g].sum()) for part in FLOW_PART_COLUMNS} for g, name in enumerate(names)}

    def format_matrix(self, horizon: int | str = END) -> str:
        """A compact text table of the population matrix (see :func:`format_matrix`)."""
        return format_matrix(*self.matrix(horizon), horizon)

    def format_parts(self, horizon: int | str = END) -> str:
        """A compact text table of each population's P&L parts (see :func:`format_parts`)."""
        return format_parts(self.parts(horizon), horizon)


def _part(result: FlowResult, part: str, horizon: str) -> np.ndarray:
    """One P&L part of every account at a horizon (spread, fees and total do not depend on it)."""
    by_horizon = {"adverse_selection": result.adverse, "inventory": result.inventory}
    return by_horizon[part][horizon] if part in by_horizon else getattr(result, part)


def format_matrix(names: Sequence[str], matrix: np.ndarray, horizon: int | str) -> str:
    """A compact text table of a gained-from matrix in half-ticks x lots, shown in ticks x lots.

    Args:
        names: the row and column names.
        matrix: ``[a, b]`` = what ``a`` gained from ``b``, in half-ticks x lots.
        horizon: the markout horizon, for the title.

    Returns:
        Lines of text: a title, a header and one row per name.
    """
    short = [n.strip("_") for n in names]
    width = max(9, *(len(n) + 1 for n in short), *(len(f"{v / 2:,.1f}") + 1 for v in np.asarray(matrix).ravel().tolist()))  # a space between columns, whatever the sums
    lines = [f"who profits from whom (row gained from column), markout horizon {horizon}, ticks x lots:"]
    lines.append(" " * width + "".join(f"{n:>{width}}" for n in short))
    for n, row in zip(short, matrix):
        lines.append(f"{n:<{width}}" + "".join(f"{v / 2:>{width},.1f}" for v in row))
    return "\n".join(lines)


def _arrays(result: FlowResult) -> tuple[np.ndarray, ...]:
    """Every array of a result, in a fixed order, for comparing two results."""
    return (result.spread, result.fees, result.total, *result.transfers.values(), *result.adverse.values(), *result.inventory.values())


def _group(accounts: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray]:
    pops = [population_of(a) for a in accounts]
    names = tuple(dict.fromkeys(pops))
    lookup = {n: i for i, n in enumerate(names)}
    return names, np.array([lookup[p] for p in pops], dtype=np.int64)


def analyze_flows(
    trades: Iterable[FlowTrade],
    mids: Sequence[int],
    fees: FeeConfig,
    *,
    start_inventory: Mapping[str, int],
    horizons: Sequence[int | str] = HORIZONS,
) -> FlowResult:
    """Mark every fill against later mids and split each agent's P&L into its parts.

    Whole-array arithmetic over the fills (``np.add.at`` for the sums by account), exact in int64.

    Args:
        trades: the episode's fills, in order.
        mids: ``T + 1`` mids in half-ticks: at reset, then after each of the ``T`` steps.
        fees: the market's fees and tax, as the ledger charged them.
        start_inventory: every agent's inventory at reset (agents that never traded included).
        horizons: step horizons and :data:`END`.

    Returns:
        The transfers and parts, in half-ticks x lots.
    """
    mid = np.asarray(mids, dtype=np.int64)
    last = len(mid) - 1
    trades = list(trades)
    agents = sorted({*start_inventory, *(t.maker for t in trades), *(t.taker for t in trades)})
    accounts = (*agents, *_ACCOUNTS)
    idx = {a: i for i, a in enumerate(accounts)}
    n = len(accounts)
    exch, tax_acct = idx[EXCHANGE_ACCOUNT], idx[TAX_ACCOUNT]
    keys = tuple(_horizon_key(h) for h in horizons)

    step = np.fromiter((t.step for t in trades), dtype=np.int64, count=len(trades))
    price = np.fromiter((t.price for t in trades), dtype=np.int64, count=len(trades))
    qty = np.fromiter((t.qty for t in trades), dtype=np.int64, count=len(trades))
    maker = np.fromiter((idx[t.maker] for t in trades), dtype=np.int64, count=len(trades))
    taker = np.fromiter((idx[t.taker] for t in trades), dtype=np.int64, count=len(trades))
    buy = str(Side.BUY)
    taker_buys = np.fromiter((str(t.taker_side) == buy for t in trades), dtype=bool, count=len(trades))
    # who bought, who sold, and what each paid the exchange and the tax account (the ledger's rounding)
    buyer, seller = np.where(taker_buys, taker, maker), np.where(taker_buys, maker, taker)
    notional = price * qty
    maker_fee, taker_fee, tax = (notional * bps // BPS for bps in (fees.maker_bps, fees.taker_bps, fees.tax_bps))
    buyer_fee, seller_fee = np.where(taker_buys, taker_fee, maker_fee), np.where(taker_buys, maker_fee, taker_fee)
    at_fill = mid[np.minimum(step, last)]

    def by_account(*pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        out = np.zeros(n, dtype=np.int64)
        for who, amount in pairs:
            np.add.at(out, who, amount)
        return out

    # the buyer's P&L against a mid; the seller's is its negative
    spread = by_account((buyer, qty * (at_fill - 2 * price)), (seller, -qty * (at_fill - 2 * price)))
    end_pnl = by_account((buyer, qty * (mid[last] - 2 * price)), (seller, -qty * (mid[last] - 2 * price)))
    fee_paid = by_account((buyer, -2 * (buyer_fee + tax)), (seller, -2 * (seller_fee + tax)))
    fee_paid[exch] += 2 * int((buyer_fee + seller_fee).sum())
    fee_paid[tax_acct] += 4 * int(tax.sum())
    maker_sign = np.where(taker_buys, -1, 1)
    # per fill, five transfers in this order: seller to buyer at the marked mid, then each side's fee and tax
    gainers = np.stack([buyer, np.full_like(buyer, exch), np.full_like(buyer, exch), np.full_like(buyer, tax_acct), np.full_like(buyer, tax_acct)], axis=1)
    payers = np.stack([seller, buyer, seller, buyer, seller], axis=1)
    transfers: dict[str, np.ndarray] = {}
    step_rows: dict[str, StepTransfers] = {}
    adverse: dict[str, np.ndarray] = {}
    for k, h in zip(keys, horizons):
        later = np.full_like(step, mid[last]) if h == END else mid[np.minimum(step + int(h), last)]
        amounts = np.stack([qty * (later - 2 * price), 2 * buyer_fee, 2 * seller_fee, 2 * tax, 2 * tax], axis=1).ravel()
        g, p = gainers.ravel(), payers.ravel()
        matrix = np.zeros((n, n), dtype=np.int64)
        np.add.at(matrix, (g, p), amounts)
        transfers[k] = matrix - matrix.T
        kept = amounts != 0
        flip = amounts < 0
        step_rows[k] = StepTransfers(
            np.repeat(step, 5)[kept], np.where(flip, p, g)[kept], np.where(flip, g, p)[kept], np.abs(amounts)[kept]
        )
        adverse[k] = by_account((maker, maker_sign * qty * (later - at_fill)))

    # total P&L: fills marked at the last mid, fees, and the starting inventory's revaluation
    holding = np.array([start_inventory.get(a, 0) for a in accounts], dtype=np.int64) * (int(mid[last]) - int(mid[0]))
    total = end_pnl + fee_paid + holding
    inventory = {k: total - spread - adverse[k] - fee_paid for k in keys}
    return FlowResult(
        accounts=accounts,
        horizons=keys,
        transfers=transfers,
        step_transfers=step_rows,
        spread=spread,
        fees=fee_paid,
        total=total,
        adverse=adverse,
        inventory=inventory,
    )


class FlowObserver:
    """An episode observer (``start``, ``observe``, ``finish``) that collects fills and mids for :func:`analyze_flows`.

    Args:
        horizons: the markout horizons.
    """

    def __init__(self, horizons: Sequence[int | str] = HORIZONS) -> None:
        self._horizons = tuple(horizons)
        self.result: FlowResult | None = None

    def start(self, env: Any) -> None:
        """Note the mid, fees and every agent's inventory at reset."""
        _, inventory, _, _ = env.account_arrays()
        self._start_inventory = {a: int(round(float(q))) for a, q in zip(env.all_agents, inventory)}
        self._fees: FeeConfig = env.exchange.ledger.fees
        self._mids = [half_tick_mid(env.mid)]
        self._trades: list[FlowTrade] = []
        self.result = None

    def observe(self, step: int, env: Any) -> None:
        """Keep the step's fills and the mid after it."""
        for f in env.last_fills:
            self._trades.append(FlowTrade(step, int(f.price), int(f.qty), f.maker, f.taker, str(f.taker_side)))
        self._mids.append(half_tick_mid(env.mid))

    def finish(self, env: Any) -> None:
        """Analyze the episode."""
        self.result = analyze_flows(
            self._trades, self._mids, self._fees, start_inventory=self._start_inventory, horizons=self._horizons
        )


def flows_columns(result: FlowResult) -> dict[str, Any]:
    """The columns of a run record's ``flows`` table, from a result (see :mod:`market.records.schema`)."""
    from market.records import schema as s

    names = np.array(result.accounts, dtype=object)
    rows = [result.step_transfers[h] for h in result.horizons]
    return {
        s.STEP: np.concatenate([r.step for r in rows]),
        s.HORIZON: np.repeat(np.array(result.horizons, dtype=object), [len(r.step) for r in rows]),
        s.GAINER: names[np.concatenate([r.gainer for r in rows])],
        s.PAYER: names[np.concatenate([r.payer for r in rows])],
        s.AMOUNT: np.concatenate([r.amount for r in rows]),
    }


def parts_columns(result: FlowResult) -> dict[str, Any]:
    """The columns of a run record's ``flow_parts`` table: each account's P&L parts at each horizon."""
    from market.records import schema as s

    horizons = np.repeat(np.array(result.horizons, dtype=object), len(result.accounts))
    return {
        s.HORIZON: horizons,
        s.AGENT: np.tile(np.array(result.accounts, dtype=object), len(result.horizons)),
        **{part: np.concatenate([_part(result, part, h) for h in result.horizons]) for part in FLOW_PART_COLUMNS},
    }


def parts_from_table(table: Any, horizon: int | str = END) -> dict[str, dict[str, int]]:
    """Per population, the P&L parts of a recorded ``flow_parts`` table (a pandas frame) at a horizon:
    what :meth:`FlowResult.parts` gives during the run."""
    from market.records import schema as s

    rows = table[table[s.HORIZON] == _horizon_key(horizon)]
    names, index = _group(list(rows[s.AGENT]))
    return {
        name: {part: int(rows[part].to_numpy()[index == g].sum()) for part in PART_LABELS}
        for g, name in enumerate(names)
    }


def format_parts(parts: Mapping[str, Mapping[str, int]], horizon: int | str) -> str:
    """A compact text table of each population's P&L parts (half-ticks x lots, shown in ticks x lots)."""
    short = {name.strip("_"): values for name, values in parts.items()}
    width = max(12, *(len(n) + 1 for n in short))
    column = max(14, *(len(f"{values[part] / 2:,.1f}") + 2 for values in short.values() for part in PART_LABELS))
    lines = [f"where each population's P&L came from, markout horizon {horizon}, ticks x lots:"]
    lines.append(f"{'':<{width}}" + "".join(f"{label:>{column}}" for label in PART_LABELS.values()))
    for name, values in short.items():
        lines.append(f"{name:<{width}}" + "".join(f"{values[part] / 2:>{column},.1f}" for part in PART_LABELS))
    return "\n".join(lines)


def matrix_from_table(
    table: Any, horizon: int | str = END, steps: tuple[int, int] | None = None, *, by: str = "population"
) -> tuple[tuple[str, ...], np.ndarray]:
    """The gained-from matrix of a recorded ``flows`` table (a pandas frame), over a step range.

    Args:
        table: the ``flows`` table.
        horizon: the markout horizon.
        steps: an inclusive ``(first, last)`` step range, or ``None`` for every step.
        by: ``"population"`` or ``"agent"``.

    Returns:
        The names (agents, or their populations, sorted, then the exchange and tax accounts) and the
        integer matrix in half-ticks x lots, ``[a, b]`` = what ``a`` gained from ``b``.
    """
    from market.records import schema as s

    rows = table[table[s.HORIZON] == _horizon_key(horizon)]
    if steps is not None:
        rows = rows[(rows[s.STEP] >= steps[0]) & (rows[s.STEP] <= steps[1])]
    accounts = (*sorted({*table[s.GAINER], *table[s.PAYER]} - set(_ACCOUNTS)), *_ACCOUNTS)
    names, index = (accounts, np.arange(len(accounts))) if by == "agent" else _group(accounts)
    position = dict(zip(accounts, index.tolist(), strict=True))
    gainer = np.array([position[a] for a in rows[s.GAINER]], dtype=np.int64)
    payer = np.array([position[a] for a in rows[s.PAYER]], dtype=np.int64)
    out = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(out, (gainer, payer), rows[s.AMOUNT].to_numpy(dtype=np.int64))
    return names, out - out.T


def flows_from_record(trades: Any, steps: Any, fees: FeeConfig, *, start_mid: float, start_inventory: Mapping[str, int]) -> FlowResult:
    """Rebuild the flows of a recorded market run from its ``trades`` and ``steps`` tables (pandas frames).

    Args:
        trades: the ``trades`` table (prices in ticks).
        steps: the ``steps`` table (``price`` is the mid after each step, the same for every agent).
        fees: the run's fees and tax.
        start_mid: the mid at reset, in ticks.
        start_inventory: every agent's inventory at reset.

    Returns:
        The same result :class:`FlowObserver` computes during the run.
    """
    from market.records import schema as s

    per_step = steps.drop_duplicates(s.STEP).sort_values(s.STEP)
    mids = [half_tick_mid(start_mid), *(half_tick_mid(float(p)) for p in per_step[s.PRICE])]
    rows = (
        FlowTrade(int(st), int(round(pr)), int(q), mk, tk, sd)
        for st, pr, q, mk, tk, sd in zip(
            trades[s.STEP], trades[s.PRICE], trades[s.QTY], trades[s.MAKER], trades[s.TAKER], trades[s.TAKER_SIDE]
        )
    )
    return analyze_flows(rows, mids, fees, start_inventory=start_inventory)
