"""Measuring how often a maker's quotes fill at each distance from the mid, for the textbook makers' ``kappa``.

Avellaneda and Stoikov (2008) and Cartea and Jaimungal model the market orders that reach a quote at
``delta`` ticks from the mid as a Poisson process of intensity ``A * exp(-kappa * delta)``. The
procedure (:func:`estimate_fill_intensity`) measures both in a simulated market:

* One agent of the maker population is replaced by a *probe*, which each step quotes ``size`` lots a side
  at a bid and an ask whose distances from the mid are drawn independently and uniformly from the
  population's ``min_offset .. max_offset`` ticks. The population's other agents, if any, are played by
  a scripted maker (``competitors``, the heuristic ``market_maker`` by default), so the probe competes
  for the order flow as a maker of that population would.
* A side *fills* in a step when any lot of the probe's quote on it trades (the env replaces a maker's
  quotes every step). With Poisson arrivals, a quote at ``delta`` fills within a step with probability
  ``p(delta) = 1 - exp(-A dt exp(-kappa delta))``, ``dt`` one step.
* ``log(A dt)`` and ``kappa`` are fitted by maximum likelihood over every quote of every step and seed
  (a binomial model with the complementary log-log link, fitted by Fisher scoring), with standard
  errors from the Fisher information.

Units: ``kappa`` per tick, ``A`` in fills per step (multiply by the steps in one unit of model time for
the makers' ``horizon``-based time).

>>> round(fill_probability(2.0, intensity=1.5, kappa=0.5), 4)  # 1 - exp(-1.5 * exp(-1))
0.4241
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from market.agents.scripted import build_policy, population_limits
from market.agents.scripting import quote_action
from market.envs.market_config import MarketConfig, Role
from market.envs.market_v0 import MarketEnv
from market.errors import ConfigError
from market.exchange.types import Side

__all__ = ["IntensityEstimate", "estimate_fill_intensity", "fill_probability", "fit_fill_intensity"]


@dataclass(frozen=True, slots=True)
class IntensityEstimate:
    """What :func:`estimate_fill_intensity` measured, with standard errors.

    Attributes:
        kappa, kappa_se: the intensity's decay per tick of distance from the mid.
        intensity, intensity_se: ``A``, fills per step at the mid (distance 0).
        distances: the distances quoted, in ticks.
        quotes: how many quotes (sides x steps) at each distance.
        fill_rates: the share of them that filled.
    """

    kappa: float
    kappa_se: float
    intensity: float
    intensity_se: float
    distances: tuple[int, ...]
    quotes: tuple[int, ...]
    fill_rates: tuple[float, ...]


def fill_probability(delta: float, *, intensity: float, kappa: float) -> float:
    """The chance a quote ``delta`` ticks from the mid fills within one step: ``1 - exp(-A exp(-kappa delta))``."""
    return -math.expm1(-intensity * math.exp(-kappa * delta))


def fit_fill_intensity(distances: np.ndarray, filled: np.ndarray, *, iterations: int = 100) -> tuple[float, float, float, float]:
    """Fit ``p(delta) = 1 - exp(-exp(a - kappa delta))`` to quotes at ``distances`` that ``filled`` (0 or 1).

    Maximum likelihood by Fisher scoring. Returns ``(A, A's standard error, kappa, kappa's standard error)``
    with ``A = exp(a)`` (its error by the delta method).

    Raises:
        ValueError: when every quote filled or none did, or all sit at one distance (nothing to fit).
    """
    x = np.asarray(distances, dtype=np.float64)
    y = np.asarray(filled, dtype=np.float64)
    if y.min() == y.max() or x.min() == x.max():
        raise ValueError("the quotes need fills and misses at two distances at least")
    design = np.column_stack((np.ones_like(x), x))
    rate = np.clip(np.bincount(x.astype(np.int64) - int(x.min()), weights=y) / np.bincount(x.astype(np.int64) - int(x.min())), 1e-3, 1 - 1e-3)
    grid = np.arange(int(x.min()), int(x.max()) + 1, dtype=np.float64)
    ok = np.isfinite(rate)
    slope, intercept = np.polyfit(grid[ok], np.log(-np.log1p(-rate[ok])), 1)  # a start: the binned rates
    beta = np.array([intercept, slope])
    info = np.eye(2)
    for _ in range(iterations):
        eta = np.clip(design @ beta, -30.0, 5.0)
        mu = np.exp(eta)
        p = np.clip(-np.expm1(-mu), 1e-12, 1.0 - 1e-12)
        dp = (1.0 - p) * mu  # dp / d eta
        weight = dp * dp / (p * (1.0 - p))
        info = design.T @ (design * weight[:, None])
        step = np.linalg.solve(info, design.T @ ((y - p) / (p * (1.0 - p)) * dp))
        beta = beta + step
        if float(np.max(np.abs(step))) < 1e-10:
            break
    covariance = np.linalg.inv(info)
    a, b = float(beta[0]), float(beta[1])
    intensity = math.exp(a)
    return intensity, intensity * math.sqrt(covariance[0, 0]), -b, math.sqrt(covariance[1, 1])


class _QuoteProbe:
    """Quotes ``size`` lots a side at distances drawn uniformly from ``min_offset .. max_offset`` ticks."""

    def __init__(self, size: int, max_qty: int, max_offset: int, min_offset: int) -> None:
        self.size, self.max_qty, self.max_offset, self.min_offset = size, max_qty, max_offset, min_offset
        self.quoted: tuple[int, int] = (0, 0)

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        below, above = (int(d) for d in rng.integers(self.min_offset, self.max_offset + 1, size=2))
        self.quoted = (below, above)
        return quote_action(below, above, self.size, max_qty=self.max_qty, max_offset=self.max_offset, min_offset=self.min_offset)


def estimate_fill_intensity(
    config: MarketConfig,
    policies: Mapping[str, Any],
    *,
    population: str,
    seeds: int = 20,
    first_seed: int = 0,
    size: int = 1,
    competitors: tuple[str, Mapping[str, Any]] | None = ("market_maker", {"jitter": 0.1}),
) -> IntensityEstimate:
    """Measure ``A`` and ``kappa`` of the fills a maker of ``population`` gets (see the module).

    Args:
        config: the market, with a maker population ``population``.
        policies: scripted policies for the market's other learning populations, by population name.
        population: the maker population whose first agent becomes the probe.
        seeds: episodes to play (seeds ``first_seed`` ...).
        size: lots the probe quotes a side.
        competitors: the scripted policy and parameters of the population's other agents (None: the
            probe alone in the population).

    Raises:
        ConfigError: if ``population`` is not a maker population, or the probe's quotes all filled or
            none did.
    """
    own = next((p for p in config.populations if p.name == population), None)
    if own is None or own.role is not Role.MAKER:
        makers = [p.name for p in config.populations if p.role is Role.MAKER]
        raise ConfigError(f"population: {population!r} is not a maker population of this market; makers: {makers}")
    probing = [dataclasses.replace(own, count=1, policy="probe", params=())]
    policies = {**{k: v for k, v in policies.items() if k != population}, population: _QuoteProbe(size, own.max_qty, own.max_offset, own.min_offset)}
    if own.count > 1 and competitors is not None:
        name, params = competitors
        rest = dataclasses.replace(own, name=f"{population}_rest", count=own.count - 1, policy=name, params=tuple(params.items()))
        probing.append(rest)
        policies[rest.name] = build_policy(name, params, window=config.window, population=rest.name, **population_limits(rest))
    market = dataclasses.replace(config, populations=tuple(q for p in config.populations for q in (probing if p.name == population else [p])))
    probe = policies[population]
    env = MarketEnv(market, policies)
    agent = f"{population}_0"
    distances: list[int] = []
    filled: list[bool] = []
    for seed in range(first_seed, first_seed + seeds):
        env.reset(seed=seed)
        while env.step_count < market.max_steps:
            env.step({})
            if not env.last_orders.get(agent):
                continue
            hit = {f.taker_side for f in env.last_fills if f.maker == agent}
            below, above = probe.quoted
            distances += [below, above]
            filled += [Side.SELL in hit, Side.BUY in hit]  # a seller takes the bid, a buyer the ask
    x, y = np.asarray(distances, dtype=np.float64), np.asarray(filled, dtype=np.float64)
    try:
        intensity, intensity_se, kappa, kappa_se = fit_fill_intensity(x, y)
    except ValueError as error:
        raise ConfigError(f"population {population}: {error} ({len(x):,} quotes, {int(y.sum()):,} filled); give more seeds or a wider max_offset") from None
    grid = tuple(range(own.min_offset, own.max_offset + 1))
    quotes = tuple(int(np.sum(x == d)) for d in grid)
    rates = tuple(float(np.mean(y[x == d])) if n else math.nan for d, n in zip(grid, quotes))
    return IntensityEstimate(kappa, kappa_se, intensity, intensity_se, grid, quotes, rates)
