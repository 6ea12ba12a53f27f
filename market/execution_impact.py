"""Measuring price impact in a simulated market, for the Almgren-Chriss executor's parameters.

The procedure (:func:`estimate_impact`): play the market with one executor population driven by a
*probe*, which each step sends, with probability one half, a crossing child order whose size is drawn
uniformly between 0 and three times the even pace of its parent order (``aggression`` through the mid),
and nothing otherwise. Over every step with the executor's horizon (all seeds pooled):

* temporary impact: the probe's average fill price's distance from the mid before the step, in the
  order's direction, regressed on the lots it filled that step: ``distance = epsilon + eta * lots``
  (ordinary least squares), so ``eta`` is the price concession per lot traded in one step and
  ``epsilon`` the fixed cost of crossing (about half the spread);
* permanent impact: the mid's change over the step, in the order's direction, regressed on the lots
  filled: ``change = c + gamma * lots``, so ``gamma`` is the lasting move per lot;
* volatility: the standard deviation of the mid's change over the steps the probe sent nothing,
  ``sigma`` in ticks per square root of a step.

Each slope comes with its standard error. Units are ticks, lots and steps, as the executor baselines
(:mod:`market.agents.baselines.execution`) take them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from market.agents.baselines.execution import executor_action
from market.envs.market_config import MarketConfig, Role
from market.envs.market_v0 import MarketEnv
from market.errors import ConfigError

__all__ = ["ImpactEstimate", "estimate_impact"]


@dataclass(frozen=True, slots=True)
class ImpactEstimate:
    """What :func:`estimate_impact` measured (ticks, lots, steps), with standard errors.

    Attributes:
        eta, eta_se: temporary impact per lot traded in a step.
        epsilon: the fixed cost of crossing, in ticks.
        gamma, gamma_se: permanent impact per lot.
        sigma: the mid's volatility per square root of a step, on steps with no probe order.
        steps: steps with a fill that the regressions used.
    """

    eta: float
    eta_se: float
    epsilon: float
    gamma: float
    gamma_se: float
    sigma: float
    steps: int


class _Probe:
    """Random crossing children: with probability one half, a size uniform in [0, 3] times the even pace."""

    def __init__(self, aggression: float, max_pace: float, center: float) -> None:
        self.aggression, self.max_pace, self.center = aggression, max_pace, center

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        multiple = rng.uniform(0.0, 3.0) if rng.random() < 0.5 else 0.0
        return executor_action(multiple, self.aggression, self.max_pace, self.center)


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Intercept, slope and the slope's standard error of ``y = a + b x`` by least squares."""
    design = np.column_stack((np.ones_like(x), x))
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    dof = max(1, len(x) - 2)
    covariance = np.linalg.pinv(design.T @ design) * float(residual @ residual) / dof
    return float(coef[0]), float(coef[1]), float(math.sqrt(max(covariance[1, 1], 0.0)))


def estimate_impact(config: MarketConfig, policies: dict[str, Any], *, population: str, seeds: int = 20, first_seed: int = 0, aggression: float = 0.5) -> ImpactEstimate:
    """Measure ``eta``, ``gamma`` and ``sigma`` in a market by probing it with random child orders.

    Args:
        config: the market, with an executor population ``population``.
        policies: the policy objects of its other internally driven populations.
        population: the executor population to probe with (its first agent probes; the others, if
            any, send nothing).
        seeds: episodes to play (seeds ``first_seed ..``).
        first_seed: the first episode's seed.
        aggression: the probe's aggressiveness (its children cross the spread when positive).

    Raises:
        ConfigError: if ``population`` is not an executor population, or no step filled.
    """
    own = next((p for p in config.populations if p.name == population), None)
    if own is None or own.role is not Role.EXECUTOR:
        executors = [p.name for p in config.populations if p.role is Role.EXECUTOR]
        raise ConfigError(f"population: {population!r} is not an executor population of this market; executors: {executors}")
    order = own.execution
    assert order is not None
    probing = dataclasses.replace(own, policy="probe", count=1)
    market = dataclasses.replace(config, populations=tuple(probing if p.name == population else p for p in config.populations))
    env = MarketEnv(market, {**policies, population: _Probe(aggression, order.pace_range, order.aggression_center)})
    agent, sign = f"{population}_0", order.sign
    lots, distances, changes, quiet = [], [], [], []
    for seed in range(first_seed, first_seed + seeds):
        env.reset(seed=seed)
        row = env.all_agents.index(agent)
        while env.step_count < min(order.horizon, market.max_steps):
            cash_before, inventory_before = env.account_arrays()[0][row], env.account_arrays()[1][row]
            mid_before = env.mid
            env.step({})
            cash, inventory = env.account_arrays()[0][row], env.account_arrays()[1][row]
            filled = (inventory - inventory_before) * sign
            change = (env.mid - mid_before) * sign
            if filled > 0:
                price = (cash_before - cash) / (inventory - inventory_before)
                lots.append(filled)
                distances.append((price - mid_before) * sign)
                changes.append(change)
            elif env.last_orders.get(agent) == []:
                quiet.append(env.mid - mid_before)
    if len(lots) < 3:
        raise ConfigError(f"population {population}: the probe filled on {len(lots)} steps, too few to measure impact; give more seeds or a longer horizon")
    x = np.asarray(lots, dtype=np.float64)
    epsilon, eta, eta_se = _fit(x, np.asarray(distances))
    _, gamma, gamma_se = _fit(x, np.asarray(changes))
    sigma = float(np.std(quiet, ddof=1)) if len(quiet) >= 2 else float("nan")
    return ImpactEstimate(eta, eta_se, epsilon, gamma, gamma_se, sigma, len(lots))
