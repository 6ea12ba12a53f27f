"""Configuration of the market env: populations, clearing, fees, limits, and the spaces' layout.

Everything here is a frozen, validated dataclass; a bad value raises
:class:`market.errors.ConfigError` naming the key (``populations.makers.count``) and the value.
The observation layout and the action encodings are published here too, so that scripted policies
(in ``market.agents``) can read observations and build actions without importing the env.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from market import limits
from market.envs.execution import EXECUTION_FEATURES, ExecutionConfig, ParentSide
from market.envs.rewards import MARKET_REWARDS
from market.errors import ConfigError
from market.naming import agent_name
from market.exchange.clearing import BookClearing, CallClearing, ClearingMode, ImpactClearing, PoissonClearing
from market.exchange.ledger import FeeConfig


class Role(StrEnum):
    """What an agent's actions mean."""

    MAKER = "maker"  # quotes a bid and an ask around the mid, replacing its previous quotes
    TAKER = "taker"  # sends one signed order, passive or crossing the spread
    EXECUTOR = "executor"  # works a parent order (buy or sell Q lots within T steps) through child orders


class Clearing(StrEnum):
    """How the orders of one step become trades."""

    BOOK = "book"  # continuous limit order book, orders in shuffled arrival order
    CALL = "call"  # one uniform-price call auction over all orders of the step
    IMPACT = "impact"  # no book: net order flow moves the price; a dealer takes the other side
    POISSON = "poisson"  # the textbook setting: an exogenous mid; quotes fill as Poisson events


class ImpactModel(StrEnum):
    """Price impact of the step's net order flow in ``impact`` clearing."""

    LINEAR = "linear"
    SQRT = "sqrt"


# ---------------------------------------------------------------------------- spaces
TAKER_ACTION_DIM = 2
"""Taker action, each in [-1, 1]: ``[size, aggressiveness]``.

``size * max_qty`` rounded is the signed order size in lots (positive buys, 0 sends nothing).
``aggressiveness * max_offset`` rounded is the limit price's offset from the mid in ticks, toward the
other side: positive crosses the spread (buy above the mid), negative rests passively.
"""
TAKER_SIZE, TAKER_AGGRESSION = 0, 1

MAKER_ACTION_DIM = 3
"""Maker action, each in [-1, 1]: ``[bid_offset, ask_offset, size]``.

Offsets map linearly from [-1, 1] to [min_offset, max_offset] ticks away from the mid (min_offset is 1
unless the population sets it); ``size`` maps from
[-1, 1] to [0, max_qty] lots per side (0 withdraws). New quotes replace the previous ones.
"""
MAKER_BID_OFFSET, MAKER_ASK_OFFSET, MAKER_SIZE = 0, 1, 2

EXECUTOR_ACTION_DIM = 2
"""Executor action, each in [-1, 1]: ``[size, aggressiveness]`` (see :mod:`market.envs.execution`).

``size``: the child order's lots as a multiple ``max_pace ** size`` of the even pace of what is left
(0 keeps a straight line). ``aggressiveness``: the limit price's offset from the mid, around the parent
order's ``aggression_center`` (0 by default: as the taker's).
"""
EXECUTOR_SIZE, EXECUTOR_AGGRESSION = 0, 1

OBS_BOUND = 10.0
"""Every observation feature is clipped to [-OBS_BOUND, OBS_BOUND]."""


def observation_names(window: int) -> tuple[str, ...]:
    """Names of the observation's features, by index, for a mid-return window of ``window`` steps.

    ``ret_k``: mid log return k steps ago (k=0 the last step), in percent. ``spread``: best ask minus
    best bid in ticks over max_offset (OBS_BOUND when a side is empty). ``bid_depth``/``ask_depth``:
    log(1 + lots at the best level). ``imbalance``: (bid - ask) / (bid + ask) at the top, in [-1, 1].
    ``fundamental_gap``: log(fundamental / mid) in percent (0 without a fundamental). ``inventory``:
    own inventory minus the starting inventory, over max_qty. ``cash_change``, ``equity_change``: change since the start over the
    starting equity, in percent. ``time_left``: share of max_steps still to go.
    """
    return (
        *(f"ret_{k}" for k in range(window)),
        "spread",
        "bid_depth",
        "ask_depth",
        "imbalance",
        "fundamental_gap",
        "inventory",
        "cash_change",
        "equity_change",
        "time_left",
    )


def observation_index(name: str, window: int) -> int:
    """Index of one named feature in the observation (an executor's own features included)."""
    names = observation_names(window)
    return names.index(name) if name in names else len(names) + EXECUTION_FEATURES.index(name)


def executor_observation_names(window: int) -> tuple[str, ...]:
    """Names of an executor's observation features: the shared ones, then :data:`~market.envs.execution.EXECUTION_FEATURES`."""
    return (*observation_names(window), *EXECUTION_FEATURES)


# ---------------------------------------------------------------------------- configs
def _require(condition: bool, key: str, expected: str, value: Any) -> None:
    if not condition:
        raise ConfigError(f"{key}: expected {expected}, got {value!r}")


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class PopulationConfig:
    """A group of agents with one role: ``count`` agents named ``{name}_0 .. {name}_{count-1}``.

    Attributes:
        name: population name, the prefix of its agents' names.
        role: maker, taker or executor.
        count: number of agents.
        policy: None for agents driven from outside (a learner); otherwise the name of the policy
            that drives them inside the env (a scripted trader, or a frozen trained policy). The
            env only needs a policy object under this population's name; ``market.agents`` builds
            them from the name and ``params``.
        params: parameters of that policy, as (key, value) pairs.
        max_qty: largest order or quote size in lots.
        max_offset: largest price offset from the mid in ticks.
        min_offset: a maker's nearest quote to the mid in ticks (1: one tick away). Zero or less lets
            quotes reach the mid or go through it, which only ``poisson`` clearing allows (there a
            quote through the mid is hit at a higher rate, as the textbook model has it).
        inventory_penalty: reward penalty per unit of the value of ``|inventory - starting inventory|``
            over the starting equity: what the agent pays for the risk it took on (makers).
        initial_inventory: the agents' starting inventory in lots, or None for the market's
            ``initial_inventory``. Makers usually start flat (0); a population that starts long or
            short is measured against what it started with (observation, penalty, P&L).
        execution: each agent's parent order, for an executor population (required there, and only there).
    """

    name: str
    role: Role
    count: int
    policy: str | None = None
    params: tuple[tuple[str, Any], ...] = ()
    max_qty: int = 10
    max_offset: int = 10
    min_offset: int = 1
    inventory_penalty: float = 0.0
    initial_inventory: int | None = None
    execution: ExecutionConfig | None = None

    def __post_init__(self) -> None:
        key = f"populations.{self.name}"
        _require(isinstance(self.name, str) and self.name.isidentifier(), "populations.name", "an identifier", self.name)
        _require(self.role in tuple(Role), f"{key}.role", f"one of {[r.value for r in Role]}", self.role)
        object.__setattr__(self, "role", Role(self.role))
        _require(_is_int(self.count) and self.count > 0, f"{key}.count", "a positive integer", self.count)
        limits.check_size(f"{key}.count", self.count, limits.MAX_AGENTS_PER_POPULATION)
        _require(self.policy is None or isinstance(self.policy, str), f"{key}.policy", "a policy name or None", self.policy)
        _require(_is_int(self.max_qty) and self.max_qty > 0, f"{key}.max_qty", "a positive integer", self.max_qty)
        _require(_is_int(self.max_offset) and self.max_offset > 0, f"{key}.max_offset", "a positive integer", self.max_offset)
        _require(
            _is_int(self.min_offset) and -self.max_offset <= self.min_offset < self.max_offset,
            f"{key}.min_offset",
            f"an integer in [-max_offset, max_offset) = [{-self.max_offset}, {self.max_offset})",
            self.min_offset,
        )
        _require(
            _is_number(self.inventory_penalty) and self.inventory_penalty >= 0,
            f"{key}.inventory_penalty",
            "a number >= 0",
            self.inventory_penalty,
        )
        _require(
            self.initial_inventory is None or (_is_int(self.initial_inventory) and self.initial_inventory >= 0),
            f"{key}.initial_inventory",
            "a non-negative integer number of lots (or leave it out for the market's)",
            self.initial_inventory,
        )
        if (self.role is Role.EXECUTOR) != (self.execution is not None):
            expected = "a parent order (side, quantity, horizon)" if self.role is Role.EXECUTOR else "no parent order (only executors have one)"
            raise ConfigError(f"{key}.execution: expected {expected}, got {self.execution!r}")

    @property
    def learner(self) -> bool:
        """True when the agents are driven from outside the env."""
        return self.policy is None

    @property
    def param_dict(self) -> dict[str, Any]:
        """``params`` as a dict."""
        return dict(self.params)

    def agent_names(self) -> list[str]:
        """``{name}_0 .. {name}_{count-1}``."""
        return [agent_name(self.name, i) for i in range(self.count)]


@dataclass(frozen=True, slots=True, kw_only=True)
class ImpactConfig:
    """Impact clearing: the step's net signed flow ``q`` moves the price by ``coefficient * f(q)``.

    The relative move is ``coefficient * q`` (linear) or ``coefficient * sign(q) * sqrt(|q|)``
    (square root), with ``q`` in lots.
    """

    model: ImpactModel = ImpactModel.SQRT
    coefficient: float = 0.0005

    def __post_init__(self) -> None:
        _require(self.model in tuple(ImpactModel), "impact.model", f"one of {[m.value for m in ImpactModel]}", self.model)
        object.__setattr__(self, "model", ImpactModel(self.model))
        _require(_is_number(self.coefficient) and self.coefficient >= 0, "impact.coefficient", "a number >= 0", self.coefficient)


class MidProcess(StrEnum):
    """The exogenous mid of ``poisson`` clearing: an arithmetic random walk with steps of ``sigma * sqrt(dt)``."""

    BINOMIAL = "binomial"  # up or down by sigma * sqrt(dt), each with probability 1/2 (Avellaneda-Stoikov's simulation)
    NORMAL = "normal"  # a normal step of standard deviation sigma * sqrt(dt) (arithmetic Brownian motion)


@dataclass(frozen=True, slots=True, kw_only=True)
class PoissonConfig:
    """Poisson clearing, the setting of Avellaneda and Stoikov (2008), in ticks and model time.

    The mid moves by itself (``mid``: binomial or normal steps of ``sigma * sqrt(dt)`` ticks), whatever
    the agents do. An order ``delta`` ticks from the mid (below it for a bid, above it for an ask,
    negative through the mid) is hit by outside market orders at the rate
    ``intensity * exp(-kappa * delta)`` per unit of model time: within a step of ``dt`` it fills
    ``fill_size`` lots (at most its size) with probability ``min(1, intensity * exp(-kappa * delta) * dt)``,
    at its own price, independently of every other order. The other side of every fill is the outside
    order flow (the dealer account). Nothing rests between steps.

    Attributes:
        sigma: the mid's volatility in ticks per square root of model time.
        intensity: ``A``, market orders per unit of model time reaching a quote at the mid.
        kappa: decay of the fill rate with distance, per tick.
        dt: model time per step (the episode lasts ``max_steps * dt``).
        fill_size: lots one outside market order takes.
        mid: the mid's steps, ``binomial`` or ``normal``.
    """

    sigma: float = 200.0
    intensity: float = 140.0
    kappa: float = 0.015
    dt: float = 0.005
    fill_size: int = 1
    mid: MidProcess = MidProcess.BINOMIAL

    def __post_init__(self) -> None:
        for key in ("sigma", "intensity", "kappa", "dt"):
            value = getattr(self, key)
            low_ok = value >= 0 if key == "sigma" else value > 0
            _require(_is_number(value) and low_ok, f"poisson.{key}", "a number >= 0" if key == "sigma" else "a number > 0", value)
        _require(_is_int(self.fill_size) and self.fill_size > 0, "poisson.fill_size", "a positive integer number of lots", self.fill_size)
        _require(self.mid in tuple(MidProcess), "poisson.mid", f"one of {[m.value for m in MidProcess]}", self.mid)
        object.__setattr__(self, "mid", MidProcess(self.mid))


@dataclass(frozen=True, slots=True, kw_only=True)
class CircuitBreakerConfig:
    """Halt trading for ``halt_steps`` steps when the mid moves more than ``move`` within ``window`` steps.

    ``move`` is a fraction (0.05: five percent). During a halt no order is accepted and nothing
    matches; resting orders stay in the book for the reopening.
    """

    move: float
    window: int = 5
    halt_steps: int = 5

    def __post_init__(self) -> None:
        _require(_is_number(self.move) and 0 < self.move < 1, "rules.circuit_breaker.move", "a fraction in (0, 1)", self.move)
        _require(_is_int(self.window) and self.window > 0, "rules.circuit_breaker.window", "a positive integer", self.window)
        _require(_is_int(self.halt_steps) and self.halt_steps > 0, "rules.circuit_breaker.halt_steps", "a positive integer", self.halt_steps)


@dataclass(frozen=True, slots=True, kw_only=True)
class RulesConfig:
    """Market rules the env applies.

    Attributes:
        tick_size: the price grid in ticks: bids round down and asks round up to multiples of it.
        short_sale_ban: no agent may sell below zero inventory.
        transaction_tax_bps: a tax on every fill's notional that both sides pay to the tax account.
        circuit_breaker: halt trading after a large move, or None.
    """

    tick_size: int = 1
    short_sale_ban: bool = False
    transaction_tax_bps: int = 0
    circuit_breaker: CircuitBreakerConfig | None = None

    def __post_init__(self) -> None:
        _require(_is_int(self.tick_size) and self.tick_size > 0, "rules.tick_size", "a positive integer number of ticks", self.tick_size)
        _require(type(self.short_sale_ban) is bool, "rules.short_sale_ban", "true or false", self.short_sale_ban)
        _require(
            _is_int(self.transaction_tax_bps) and 0 <= self.transaction_tax_bps < 10_000,
            "rules.transaction_tax_bps",
            "an integer in [0, 10000)",
            self.transaction_tax_bps,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketConfig:
    """The whole market env.

    Attributes:
        populations: every group of agents, learners and scripted alike.
        clearing: book, call, impact or poisson.
        initial_price: the starting reference price in ticks.
        initial_cash: each agent's starting cash in ticks x lots.
        initial_inventory: each agent's starting inventory in lots.
        max_short: largest short position in lots (0 forbids short selling).
        credit: how far below zero an agent's cash may go.
        fees: maker and taker fees in bps.
        impact: the impact model for ``impact`` clearing.
        poisson: the exogenous mid and the fill rates of ``poisson`` clearing.
        window: mid returns in the observation.
        max_steps: steps per episode (truncation).
        fundamental: per-step fundamental values in ticks (for example from a price file or a
            generator, scaled to ticks), or empty for none. Shorter than max_steps: the last value holds.
        rules: tick size, short-sale ban, transaction tax, circuit breaker.
        reward: the reward every agent gets, a key of :data:`market.envs.rewards.MARKET_REWARDS`
            (``equity_change``: the change in marked-to-market equity, less the makers' inventory penalty).
        tick_value: price units per tick (0.01: a price of 10,000 ticks is 100.00), for display only:
            the dashboard shows prices and money in price units. Everything in the env is in ticks.
        seed: root seed when ``reset`` gets none.
    """

    populations: tuple[PopulationConfig, ...]
    clearing: Clearing = Clearing.BOOK
    initial_price: int = 10_000
    initial_cash: int = 10_000_000
    initial_inventory: int = 100
    max_short: int = 1_000
    credit: int = 0
    fees: FeeConfig = field(default_factory=FeeConfig)
    impact: ImpactConfig = field(default_factory=ImpactConfig)
    poisson: PoissonConfig = field(default_factory=PoissonConfig)
    window: int = 10
    max_steps: int = 500
    fundamental: tuple[float, ...] = ()
    rules: RulesConfig = field(default_factory=RulesConfig)
    reward: str = "equity_change"
    tick_value: float = 0.01
    seed: int | None = None

    def __post_init__(self) -> None:
        _require(isinstance(self.populations, tuple) and len(self.populations) > 0, "populations", "a non-empty tuple", self.populations)
        names = [p.name for p in self.populations]
        _require(len(set(names)) == len(names), "populations", "unique population names", names)
        _require(self.clearing in tuple(Clearing), "clearing", f"one of {[c.value for c in Clearing]}", self.clearing)
        object.__setattr__(self, "clearing", Clearing(self.clearing))
        for key in ("initial_price", "window", "max_steps"):
            value = getattr(self, key)
            _require(_is_int(value) and value > 0, key, "a positive integer", value)
        limits.check_size("window", self.window, limits.MAX_WINDOW)
        limits.check_size("max_steps", self.max_steps, limits.MAX_STEPS)
        limits.check_size("populations (agents in all)", sum(p.count for p in self.populations), limits.MAX_AGENTS)
        _require(self.reward in MARKET_REWARDS, "reward", f"one of {list(MARKET_REWARDS)}", self.reward)
        _require(_is_number(self.tick_value) and self.tick_value > 0, "tick_value", "a positive number of price units", self.tick_value)
        for key in ("initial_cash", "initial_inventory", "max_short", "credit"):
            value = getattr(self, key)
            _require(_is_int(value) and value >= 0, key, "a non-negative integer", value)
        _require(self.starting_equity > 0, "initial_cash", "a starting equity (cash + inventory x price) above 0", self.initial_cash)
        for population in self.populations:
            _require(
                population.min_offset >= 1 or self.clearing is Clearing.POISSON,
                f"populations.{population.name}.min_offset",
                "at least 1 tick (quotes at or through the mid need poisson clearing)",
                population.min_offset,
            )
            if population.execution is not None:
                self._check_parent_order(population)
            _require(
                self.starting_equity_of(population) > 0,
                f"populations.{population.name}.initial_inventory",
                "a starting equity (initial_cash + inventory x price) above 0",
                population.initial_inventory,
            )
        _require(
            all(_is_number(v) and v > 0 for v in self.fundamental),
            "fundamental",
            "positive finite prices in ticks",
            next((v for v in self.fundamental if not (_is_number(v) and v > 0)), None),
        )
        _require(self.seed is None or _is_int(self.seed), "seed", "an integer or None", self.seed)
        breaker = self.rules.circuit_breaker
        _require(breaker is None or breaker.window <= self.window, "rules.circuit_breaker.window", f"at most window ({self.window})", breaker and breaker.window)

    def _check_parent_order(self, population: PopulationConfig) -> None:
        """An executor's parent order fits the episode and the account that must carry it."""
        order, key = population.execution, f"populations.{population.name}.execution"
        assert order is not None
        _require(order.horizon <= self.max_steps, f"{key}.horizon", f"at most max_steps ({self.max_steps:,})", order.horizon)
        if order.side is ParentSide.BUY:
            can = (self.initial_cash + self.credit) // self.initial_price
            _require(order.quantity <= can, f"{key}.quantity", f"lots the account can carry: at most {can:,} (initial_cash + credit at the initial price)", order.quantity)
        else:
            can = self.starting_inventory_of(population) + (0 if self.rules.short_sale_ban else self.max_short)
            _require(order.quantity <= can, f"{key}.quantity", f"lots the account can sell: at most {can:,} (starting inventory + max_short)", order.quantity)

    @property
    def starting_equity(self) -> int:
        """The equity at the start of an agent with the market's ``initial_inventory``: cash plus inventory at the initial price."""
        return self.initial_cash + self.initial_inventory * self.initial_price

    def starting_inventory_of(self, population: PopulationConfig) -> int:
        """The starting inventory of ``population``'s agents: its own, else the market's."""
        return self.initial_inventory if population.initial_inventory is None else population.initial_inventory

    def starting_equity_of(self, population: PopulationConfig) -> int:
        """The starting equity of ``population``'s agents: cash plus their starting inventory at the initial price."""
        return self.initial_cash + self.starting_inventory_of(population) * self.initial_price


CLEARING_MODES: Mapping[Clearing, Callable[[MarketConfig], ClearingMode]] = MappingProxyType(
    {
        Clearing.BOOK: lambda config: BookClearing(),
        Clearing.CALL: lambda config: CallClearing(),
        Clearing.IMPACT: lambda config: ImpactClearing(model=config.impact.model, coefficient=config.impact.coefficient),
        Clearing.POISSON: lambda config: PoissonClearing(
            initial_mid=float(config.initial_price),
            sigma=config.poisson.sigma,
            intensity=config.poisson.intensity,
            kappa=config.poisson.kappa,
            dt=config.poisson.dt,
            fill_size=config.poisson.fill_size,
            normal=config.poisson.mid is MidProcess.NORMAL,
        ),
    }
)
"""The clearing mode of each ``clearing`` setting, built from the market's config: the market env holds
one, chosen once. A new mode is a class in :mod:`market.exchange.clearing`, a member of
:class:`Clearing`, and its entry here."""
