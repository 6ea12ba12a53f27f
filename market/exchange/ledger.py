"""Ledger: per-agent cash and inventory in integers, account limits, fees and the fee account.

Cash is in ticks x lots and inventory in lots, so that every transfer is exact. The ledger also
keeps what each agent's resting orders could still cost it (``open_buy_notional``) or deliver
(``open_buy_qty``, ``open_sell_qty``), so that limits hold even if every resting order fills.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from market.errors import ConfigError, MarketError

EXCHANGE_ACCOUNT = "__exchange__"
"""The account that collects fees. It takes part in conservation like any other."""
TAX_ACCOUNT = "__tax__"
"""The account that collects a transaction tax, when one is set."""

BPS = 10_000
"""Basis points in one: a fee of ``bps`` on ``notional`` is ``notional * bps // BPS``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeConfig:
    """Maker and taker fees in basis points of traded notional, paid to the exchange account, and a
    transaction tax that both sides of every fill pay to the tax account.

    A fee is ``notional * bps // 10_000`` per fill (rounded down to whole cash units).
    """

    maker_bps: int = 0
    taker_bps: int = 0
    tax_bps: int = 0

    def __post_init__(self) -> None:
        for key in ("maker_bps", "taker_bps", "tax_bps"):
            value = getattr(self, key)
            if type(value) is not int or not 0 <= value < BPS:
                raise ConfigError(f"fees.{key} must be an integer in [0, 10000), got {value!r}")

    @property
    def max_bps(self) -> int:
        """The most one side of a fill can pay (the larger fee plus the tax): what reservations assume."""
        return max(self.maker_bps, self.taker_bps) + self.tax_bps


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountLimits:
    """Limits checked before an order reaches the book, assuming all open orders fill.

    Attributes:
        cash_floor: cash may not fall below this (0: no borrowing; negative: a credit line).
        max_long: largest inventory allowed, in lots; None for no limit.
        max_short: largest short position allowed, in lots; 0 forbids short selling.
    """

    cash_floor: int = 0
    max_long: int | None = None
    max_short: int = 0

    def __post_init__(self) -> None:
        if type(self.cash_floor) is not int:
            raise ConfigError(f"limits.cash_floor must be an integer, got {self.cash_floor!r}")
        if self.max_long is not None and (type(self.max_long) is not int or self.max_long < 0):
            raise ConfigError(f"limits.max_long must be a non-negative integer or None, got {self.max_long!r}")
        if type(self.max_short) is not int or self.max_short < 0:
            raise ConfigError(f"limits.max_short must be a non-negative integer, got {self.max_short!r}")

    @property
    def allow_short(self) -> bool:
        """Whether the account may hold a negative inventory."""
        return self.max_short > 0


class Account:
    """One agent's balances and the reservations of its resting orders."""

    __slots__ = ("cash", "inventory", "limits", "open_buy_notional", "open_buy_qty", "open_sell_qty")

    def __init__(self, cash: int, inventory: int, limits: AccountLimits) -> None:
        self.cash = cash
        self.inventory = inventory
        self.limits = limits
        self.open_buy_notional = 0
        self.open_buy_qty = 0
        self.open_sell_qty = 0


class Ledger:
    """Per-agent integer cash and inventory, with a fee account, conserved across every transfer.

    ``total_cash`` and ``total_inventory`` over all accounts (the fee account included) change only
    when an account is opened, by exactly what it was opened with.
    """

    def __init__(self, fees: FeeConfig | None = None) -> None:
        self._fees = fees or FeeConfig()
        self.max_bps = self._fees.max_bps
        """The most one side of a fill can pay, in bps (:attr:`FeeConfig.max_bps`), kept for the order checks."""
        self._accounts: dict[str, Account] = {EXCHANGE_ACCOUNT: Account(0, 0, AccountLimits())}
        if self.fees.tax_bps:
            self._accounts[TAX_ACCOUNT] = Account(0, 0, AccountLimits())
        self.deposited_cash = 0
        self.deposited_inventory = 0

    def open_account(self, agent: str, *, cash: int, inventory: int = 0, limits: AccountLimits | None = None) -> None:
        """Create an account with starting balances.

        Raises:
            MarketError: if the account exists or the balances are not integers.
        """
        if agent in self._accounts:
            raise MarketError(f"account {agent!r} already exists")
        if type(cash) is not int or type(inventory) is not int:
            raise MarketError(f"account {agent!r}: cash and inventory must be integers, got {cash!r} and {inventory!r}")
        self._accounts[agent] = Account(cash, inventory, limits or AccountLimits())
        self.deposited_cash += cash
        self.deposited_inventory += inventory

    @property
    def fees(self) -> FeeConfig:
        """The fees and tax the ledger charges, fixed when it opens."""
        return self._fees

    @property
    def accounts(self) -> Mapping[str, Account]:
        """Every account by agent, read-only (the accounts themselves change only through the ledger)."""
        return self._accounts

    def account(self, agent: str) -> Account | None:
        """The account of ``agent``, or None."""
        return self._accounts.get(agent)

    def agents(self) -> list[str]:
        """Every account id, the fee account included."""
        return list(self._accounts)

    def cash(self, agent: str) -> int:
        """Cash of ``agent`` in ticks x lots."""
        return self._accounts[agent].cash

    def inventory(self, agent: str) -> int:
        """Inventory of ``agent`` in lots."""
        return self._accounts[agent].inventory

    def total_cash(self) -> int:
        """Sum of cash over every account, the fee account included."""
        return sum(a.cash for a in self._accounts.values())

    def total_inventory(self) -> int:
        """Sum of inventory over every account."""
        return sum(a.inventory for a in self._accounts.values())

    def fee(self, notional: int, bps: int) -> int:
        """The fee on ``notional`` at ``bps``, rounded down."""
        return notional * bps // BPS

    def reserved_cash(self, account: Account) -> int:
        """Cash the account's resting buy orders could still consume, fees included."""
        notional = account.open_buy_notional
        return notional + notional * self.max_bps // BPS

    def settle(self, buyer: str, seller: str, price: int, qty: int, buyer_is_maker: bool) -> None:
        """Move cash and shares for one fill and pay both fees to the exchange account."""
        accounts = self._accounts
        buy, sell, house = accounts[buyer], accounts[seller], accounts[EXCHANGE_ACCOUNT]
        notional = price * qty
        fees = self._fees
        maker_fee = notional * fees.maker_bps // BPS
        taker_fee = notional * fees.taker_bps // BPS
        buyer_fee, seller_fee = (maker_fee, taker_fee) if buyer_is_maker else (taker_fee, maker_fee)
        buy.cash -= notional + buyer_fee
        buy.inventory += qty
        sell.cash += notional - seller_fee
        sell.inventory -= qty
        house.cash += buyer_fee + seller_fee
        if fees.tax_bps:
            tax = notional * fees.tax_bps // BPS
            buy.cash -= tax
            sell.cash -= tax
            accounts[TAX_ACCOUNT].cash += 2 * tax
