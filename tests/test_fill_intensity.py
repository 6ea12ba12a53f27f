"""Measuring a maker's fill intensity A exp(-kappa delta) in a simulated market (market/fill_intensity.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from market.envs.market_config import MarketConfig, PoissonConfig, PopulationConfig
from market.errors import ConfigError
from market.fill_intensity import estimate_fill_intensity, fill_probability, fit_fill_intensity
from market.scenario import load_scenario
from market.training.envs import market_policies


def test_the_fit_recovers_a_known_intensity_from_simulated_quotes():
    rng = np.random.default_rng(0)
    distances = rng.integers(0, 10, size=20_000)
    p = np.array([fill_probability(d, intensity=0.8, kappa=0.4) for d in distances])
    intensity, intensity_se, kappa, kappa_se = fit_fill_intensity(distances, rng.random(len(p)) < p)
    assert abs(kappa - 0.4) < 3 * kappa_se and kappa_se < 0.02
    assert abs(intensity - 0.8) < 3 * intensity_se and intensity_se < 0.05
    with pytest.raises(ValueError, match="fills and misses"):
        fit_fill_intensity(distances, np.zeros(len(distances)))


def test_in_poisson_clearing_the_probe_measures_the_markets_own_kappa():
    # the clearing's fills: rate intensity * exp(-kappa * delta) * dt per step, here 0.2 exp(-0.5 delta)
    maker = PopulationConfig(name="maker", role="maker", count=1, max_qty=5, max_offset=8, min_offset=1)
    config = MarketConfig(populations=(maker,), clearing="poisson", poisson=PoissonConfig(intensity=40.0, kappa=0.5, dt=0.005), initial_price=10_000, initial_cash=10**9, initial_inventory=0, max_short=10**6, max_steps=200)
    estimate = estimate_fill_intensity(config, {}, population="maker", seeds=20)
    assert estimate.distances == tuple(range(1, 9)) and sum(estimate.quotes) == 2 * 20 * 200
    assert abs(estimate.kappa - 0.5) < 0.06, estimate
    assert abs(estimate.intensity - 0.2) < 0.05, estimate  # A dt, in fills per step
    assert estimate.fill_rates[0] > estimate.fill_rates[3] > estimate.fill_rates[-1]


def test_in_the_market_makers_book_far_quotes_fill_less_and_a_taker_population_is_refused():
    config = load_scenario("market_makers", quick=True).market_config()
    policies = market_policies(config)
    estimate = estimate_fill_intensity(config, policies, population="maker", seeds=2)
    assert estimate.kappa > 0 and math.isfinite(estimate.kappa_se) and estimate.fill_rates[0] > estimate.fill_rates[-1]
    with pytest.raises(ConfigError, match=r"^population: 'noise' is not a maker population of this market; makers: \['maker'\]$"):
        estimate_fill_intensity(config, policies, population="noise")
