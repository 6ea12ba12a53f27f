"""The default ecology of scripted traders, and the all-scripted market built from it.

:class:`SimulationSpec` is the one home of the default ecology's counts (4 makers, 4 takers, 8
noise, 4 momentum and 4 value traders) and of a default run's length; ``market simulate`` and
:func:`market.simulation.simulate` read them from it. :func:`scripted_market` turns a spec into a
:class:`~market.envs.market_config.MarketConfig` and the policy of each population, with the
traders of :data:`ECOLOGY`; :func:`default_fundamental` draws the seeded fundamental that value
traders follow unless one is given.

Randomness. The fundamental comes from the root seed's branch ``SeedSequence(seed,
spawn_key=(FUNDAMENTAL_STREAM,))``, far beyond the children the env spawns, so it never shares a
stream with the env or the traders (see :mod:`market.simulation.episode`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from market.agents.policy import Policy
from market.agents.scripted import build_policy, population_limits
from market.data import synthetic
from market.data.loading import CLOSE
from market.envs.market_config import Clearing, ImpactConfig, MarketConfig, PopulationConfig, Role
from market.errors import ConfigError
from market.limits import MAX_AGENTS, MAX_AGENTS_PER_POPULATION, MAX_STEPS, check_size

__all__ = [
    "COUNT_FIELDS",
    "DEFAULT_STEPS",
    "ECOLOGY",
    "FUNDAMENTAL_STREAM",
    "INITIAL_CASH",
    "INITIAL_INVENTORY",
    "INITIAL_PRICE",
    "MAX_INITIAL_PRICE",
    "MAX_STEPS_PER_BAR",
    "MIN_INITIAL_PRICE",
    "Archetype",
    "SimulationSpec",
    "default_fundamental",
    "fundamental_from_prices",
    "scripted_market",
]

FUNDAMENTAL_STREAM = 0x5EED_F0
"""Spawn key of the root seed's branch that draws the default fundamental."""

# ---------------------------------------------------------------------------- the default ecology
MAKERS, TAKERS, NOISE, MOMENTUM, VALUE = "maker", "taker", "noise", "momentum", "value"
"""Population names of the scripted market; agents are ``maker_0``, ``taker_0``, ..."""

DEFAULT_STEPS = 10_000
"""Steps of a default ``market simulate`` run."""
INITIAL_PRICE = 100_000
"""Starting price in ticks: one tick is 0.1 basis point, fine enough that the mid moves smoothly.
The traders' offsets and order limits are in ticks, so the starting price is the market's tick scale:
at a lower price a tick is a larger relative move (``market calibrate`` fits it to the data's volatility)."""
MIN_INITIAL_PRICE = 1_000
"""Lowest starting price a spec accepts: a tick is then 10 basis points, and the makers' largest offsets
(300 ticks) are 30% of the price; coarser than that is no longer a market of small moves."""
MAX_INITIAL_PRICE = 10_000_000
"""Highest starting price a spec accepts: a tick is then 0.001 basis point, and an agent's starting cash
still buys 10 lots."""
MAX_STEPS_PER_BAR = 1_000
"""Most steps a spec's bar may hold (a bar of a minute's steps in a trading day is 390)."""
TICK_VALUE = 0.001
"""Price units per tick: the starting price of 100,000 ticks reads as 100.000."""
INITIAL_CASH = 100_000_000
"""Each agent's starting cash in ticks x lots: about 1,000 lots at the starting price."""
INITIAL_INVENTORY = 100
"""Each agent's starting inventory in lots."""
WINDOW = 10
"""Mid returns in every agent's observation; also the horizon of the traders' volatility estimate."""
IMPACT_COEFFICIENT = 0.00002
"""Square-root impact in ``impact`` clearing: a net flow of 100 lots moves the price by 2 bp."""

FUNDAMENTAL_MODEL = "ou"
FUNDAMENTAL_PARAMS: Mapping[str, float] = MappingProxyType(
    {"theta": 10.0, "sigma": 0.03, "periods_per_year": 98_280.0}
)
"""The default fundamental: an Ornstein-Uhlenbeck log price around the starting price, one step
being one minute of a 252-day, 390-minute trading year. Its stationary spread is about 0.7% and a
gap halves in about 6,800 steps, so value traders see slow, moderate mispricings."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Archetype:
    """One kind of scripted trader in the ecology: role, policy, order limits and parameters.

    Attributes:
        role: maker or taker.
        policy: the scripted policy's name (a key of ``market.agents.scripted.SCRIPTED_POLICIES``).
        max_qty: the population's largest order or quote size in lots.
        max_offset: the population's largest price offset from the mid in ticks.
        params: the policy's parameters, as (key, value) pairs.
    """

    role: Role
    policy: str
    max_qty: int
    max_offset: int
    params: tuple[tuple[str, Any], ...]


ECOLOGY: Mapping[str, Archetype] = MappingProxyType(
    {
        # Makers quote a few ticks around the mid with dispersed offsets; in volatile periods they
        # widen (vol_widen) and thin (vol_thin), so shocks feed on themselves for a while.
        MAKERS: Archetype(
            role=Role.MAKER,
            policy="market_maker",
            max_qty=20,
            max_offset=300,
            params=(
                ("half_spread", 0.015),
                ("size", 0.5),
                ("inventory_skew", 0.001),
                ("vol_widen", 2.0),
                ("vol_thin", 30.0),
                ("jitter", 0.1),
            ),
        ),
        # Zero-intelligence takers: an order every step, Pareto sizes (tail exponent 2), half of
        # them crossing the spread by up to 10 bp, half resting up to 10 bp behind the mid.
        TAKERS: Archetype(
            role=Role.TAKER,
            policy="noise",
            max_qty=100,
            max_offset=200,
            params=(("activity", 1.0), ("min_size", 0.02), ("max_size", 1.0), ("max_aggression", 0.5), ("size_tail", 2.0)),
        ),
        # Noise traders: the same orders, less often, and more often when the market is volatile.
        NOISE: Archetype(
            role=Role.TAKER,
            policy="noise",
            max_qty=100,
            max_offset=200,
            params=(
                ("activity", 0.2),
                ("min_size", 0.02),
                ("max_size", 1.0),
                ("max_aggression", 0.5),
                ("size_tail", 2.0),
                ("vol_activity", 100.0),
            ),
        ),
        # Trend followers that act only on strong five-step moves, with small orders.
        MOMENTUM: Archetype(
            role=Role.TAKER,
            policy="momentum",
            max_qty=10,
            max_offset=100,
            params=(
                ("lookback", 5),
                ("threshold", 0.02),
                ("size_scale", 5.0),
                ("max_size", 0.5),
                ("aggression", 0.3),
                ("max_inventory", 5.0),
            ),
        ),
        # Fundamentalists that lean against gaps beyond 0.3% from the fundamental.
        VALUE: Archetype(
            role=Role.TAKER,
            policy="value",
            max_qty=50,
            max_offset=100,
            params=(("threshold", 0.3), ("size_scale", 0.3), ("max_size", 0.5), ("aggression", 0.3), ("max_inventory", 8.0)),
        ),
    }
)
"""The default ecology, by population name, in the order the populations appear in the market.

With the default counts (4 makers, 4 takers, 8 noise, 4 momentum, 4 value traders) and book
clearing, the mid's per-step log returns measured over seeds 0-5 at 20,000 steps show a Hill tail
index of 2.75-3.30, excess kurtosis of 12.3-14.8, mean absolute-return autocorrelation over lags
1..10 of 0.083-0.106, largest linear autocorrelation over lags 2..20 of 0.018-0.026 and a lag-1
autocorrelation of -0.016 to -0.026 (a little bid-ask bounce). Real daily stock returns: a tail
index near 3, kurtosis 12-21, absolute-return autocorrelation 0.045-0.063 and linear
autocorrelation under 0.06. The tails come from Pareto order sizes meeting a finite book; the
clustering from makers that widen and thin, and noise traders that trade more, when volatility
rises."""


COUNT_FIELDS: Mapping[str, str] = MappingProxyType(
    {"makers": MAKERS, "takers": TAKERS, "noise": NOISE, "momentum": MOMENTUM, "value": VALUE}
)
"""The count fields of :class:`SimulationSpec` (and options of ``market simulate``) and the population each sizes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationSpec:
    """What ``market simulate`` runs: population counts, length, clearing and seed.

    The defaults are the default ecology and a default run's length: this class is the one place
    they are written (the ``market simulate`` options and :func:`market.simulation.simulate` read
    them here). Each count is at most ``market.limits.MAX_AGENTS_PER_POPULATION``, their total at
    most ``MAX_AGENTS`` and ``steps`` at most ``MAX_STEPS``, checked before anything is allocated.

    Attributes:
        makers: scripted market makers.
        takers: zero-intelligence takers that trade every step.
        noise: noise traders, less active, more so in volatile periods.
        momentum: trend followers.
        value: fundamental traders following the default (or a given) fundamental.
        steps: steps in the episode.
        clearing: ``book``, ``call`` or ``impact``.
        seed: the root seed of everything random in the run, a non-negative integer.
        initial_price: the starting price in ticks, the market's tick scale (the default fundamental
            reverts to it), in ``[MIN_INITIAL_PRICE, MAX_INITIAL_PRICE]``.
        steps_per_bar: steps in a bar: the run's stylized facts are those of the mid every
            ``steps_per_bar`` steps (the bars of the data an ecology was fitted to), at most
            :data:`MAX_STEPS_PER_BAR`. It does not change the market.
    """

    makers: int = 4
    takers: int = 4
    noise: int = 8
    momentum: int = 4
    value: int = 4
    steps: int = DEFAULT_STEPS
    clearing: Clearing = Clearing.BOOK
    seed: int = 0
    initial_price: int = INITIAL_PRICE
    steps_per_bar: int = 1

    def __post_init__(self) -> None:
        # Sizes first, each against its limit, so that nothing is allocated for a typo of 10^9 agents.
        for key in COUNT_FIELDS:
            value = getattr(self, key)
            if type(value) is not int or value < 0:
                raise ConfigError(f"{key}: expected a non-negative integer, got {value!r}")
            check_size(key, value, MAX_AGENTS_PER_POPULATION, minimum=0)
        if self.total_agents == 0:
            raise ConfigError(f"populations: expected at least one trader, got counts {self.counts()}")
        check_size("populations", self.total_agents, MAX_AGENTS)
        if type(self.steps) is not int or self.steps < 1:
            raise ConfigError(f"steps: expected a positive integer, got {self.steps!r}")
        check_size("steps", self.steps, MAX_STEPS)
        # Then the clearing mode and the root seed (numpy's seed sequences take non-negative integers).
        if self.clearing not in tuple(Clearing):
            raise ConfigError(f"clearing: expected one of {[c.value for c in Clearing]}, got {self.clearing!r}")
        object.__setattr__(self, "clearing", Clearing(self.clearing))
        if type(self.seed) is not int or self.seed < 0:
            raise ConfigError(f"seed: expected a non-negative integer, got {self.seed!r}")
        if type(self.initial_price) is not int or not MIN_INITIAL_PRICE <= self.initial_price <= MAX_INITIAL_PRICE:
            raise ConfigError(f"initial_price: expected an integer number of ticks in [{MIN_INITIAL_PRICE:,}, {MAX_INITIAL_PRICE:,}], got {self.initial_price!r}")
        if type(self.steps_per_bar) is not int or not 1 <= self.steps_per_bar <= MAX_STEPS_PER_BAR:
            raise ConfigError(f"steps_per_bar: expected an integer in [1, {MAX_STEPS_PER_BAR:,}], got {self.steps_per_bar!r}")

    def counts(self) -> dict[str, int]:
        """Agents per population name, zero counts included, in :data:`ECOLOGY` order."""
        return {population: getattr(self, key) for key, population in COUNT_FIELDS.items()}

    @property
    def total_agents(self) -> int:
        """Agents over all populations."""
        return sum(self.counts().values())

    def market(
        self,
        fundamental: Sequence[float] | np.ndarray | None = None,
        *,
        driven: bool = False,
        ecology: Mapping[str, Archetype] = ECOLOGY,
        fundamental_params: Mapping[str, float] = FUNDAMENTAL_PARAMS,
    ) -> tuple[MarketConfig, dict[str, Policy]]:
        """The market and policies of this spec (see :func:`scripted_market`)."""
        return scripted_market(self, fundamental, driven=driven, ecology=ecology, fundamental_params=fundamental_params)


def default_fundamental(
    seed: int, steps: int, initial_price: int = INITIAL_PRICE, params: Mapping[str, float] = FUNDAMENTAL_PARAMS
) -> np.ndarray:
    """The default fundamental: a seeded Ornstein-Uhlenbeck path around the starting price, in ticks.

    Args:
        seed: the run's root seed (the path comes from its :data:`FUNDAMENTAL_STREAM` branch).
        steps: steps in the episode; the path has ``steps + 1`` values, one per observation.
        initial_price: the starting price and the level the path reverts to, in ticks.
        params: the Ornstein-Uhlenbeck parameters (``theta``, ``sigma``, ``periods_per_year``);
            :data:`FUNDAMENTAL_PARAMS` unless a fitted ecology (``market calibrate``) sets them.

    Returns:
        ``steps + 1`` positive prices in ticks, as float64.

    Raises:
        ConfigError: a bad parameter, named by the generator.
    """
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(FUNDAMENTAL_STREAM,))))
    path = synthetic.generate(FUNDAMENTAL_MODEL, rng, steps + 1, s0=float(initial_price), mean=float(initial_price), **params)
    return path[CLOSE].to_numpy(dtype=np.float64)


def fundamental_from_prices(prices: Any, initial_price: int = INITIAL_PRICE) -> np.ndarray:
    """A fundamental from real (or generated) prices: their closes, scaled so the first is ``initial_price`` ticks.

    One bar per step, so historical data drives a live market; after the last bar the last value holds.
    """
    closes = prices[CLOSE].to_numpy(dtype=np.float64)
    return closes / closes[0] * float(initial_price)


def scripted_market(
    spec: SimulationSpec,
    fundamental: Sequence[float] | np.ndarray | None = None,
    *,
    driven: bool = False,
    ecology: Mapping[str, Archetype] = ECOLOGY,
    fundamental_params: Mapping[str, float] = FUNDAMENTAL_PARAMS,
) -> tuple[MarketConfig, dict[str, Policy]]:
    """Build the all-scripted market of a spec, with the default ecology's traders (or another ecology's).

    Every population is a PettingZoo agent population (``policy=None``); the returned policies,
    by population name, are meant for :func:`market.simulation.run_market`, which acts for them,
    each agent with a stream of the runner's. With ``driven`` every population is driven inside the
    env instead (its ``policy`` and ``params`` set, the policies meant for the
    :class:`~market.envs.market_v0.MarketEnv`): each population decides in one call, the way large
    populations run, each agent with a stream of the env's (so the same seed plays another episode
    of the same market). Populations with a count of 0 are left out.

    Args:
        spec: the population counts, the episode's length (``max_steps``), the clearing mode, the
            root seed (the config's ``seed``, and the default fundamental's) and the starting price.
        fundamental: per-step fundamental prices in ticks (the last value holds; on the spec's
            ``initial_price`` scale), or ``None`` for :func:`default_fundamental`.
        driven: drive the populations inside the env.
        ecology: the trader of each population, by the population names of :data:`COUNT_FIELDS`;
            :data:`ECOLOGY` unless a fitted ecology (``market calibrate``) replaces it. Every
            population with a non-zero count needs an entry.
        fundamental_params: the default fundamental's parameters (ignored when ``fundamental`` is given).

    Returns:
        The market config and the policy of each population.

    Raises:
        ConfigError: a bad fundamental, or one that starts at under half or over twice the spec's
            ``initial_price`` (the spec checked its own settings when it was made).
    """
    missing = [name for name, count in spec.counts().items() if count > 0 and name not in ecology]
    if missing:
        raise ConfigError(f"ecology: no trader for the population(s) {missing}; it has {list(ecology)}")
    if fundamental is None:
        path = default_fundamental(spec.seed, spec.steps, initial_price=spec.initial_price, params=fundamental_params)
    else:
        path = np.asarray(fundamental, dtype=np.float64)
        if path.ndim != 1 or path.size == 0:
            raise ConfigError(f"fundamental: expected a non-empty sequence of prices in ticks, got shape {path.shape}")
        if not 0.5 <= path[0] / spec.initial_price <= 2.0:  # a path scaled to another tick scale would be a 50% mispricing from the start
            raise ConfigError(
                f"fundamental: starts at {path[0]:,.0f} ticks but the market at {spec.initial_price:,} (its tick scale): scale the path to the market's initial_price"
            )
    populations = tuple(
        PopulationConfig(
            name=name,
            role=ecology[name].role,
            count=count,
            max_qty=ecology[name].max_qty,
            max_offset=ecology[name].max_offset,
            policy=ecology[name].policy if driven else None,
            params=ecology[name].params if driven else (),
        )
        for name, count in spec.counts().items()
        if count > 0
    )
    config = MarketConfig(
        populations=populations,
        clearing=spec.clearing,
        initial_price=spec.initial_price,
        initial_cash=INITIAL_CASH,
        initial_inventory=INITIAL_INVENTORY,
        impact=ImpactConfig(coefficient=IMPACT_COEFFICIENT),
        window=WINDOW,
        max_steps=spec.steps,
        fundamental=tuple(float(v) for v in path),
        seed=spec.seed,
        tick_value=TICK_VALUE,
    )
    policies = {
        p.name: build_policy(ecology[p.name].policy, dict(ecology[p.name].params), window=WINDOW, population=p.name, **population_limits(p))
        for p in populations
    }
    return config, policies
