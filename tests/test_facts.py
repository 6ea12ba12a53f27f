"""Stylized facts: each estimator recovers a known value on samples drawn from a known law."""

from __future__ import annotations

import numpy as np
import pytest

from market.data.facts import (
    EXCESS_KURTOSIS,
    FACT_KEYS,
    HILL_TAIL_INDEX,
    MEAN_ABS_ACF_1_10,
    autocorrelation,
    excess_kurtosis,
    hill_tail_index,
    stylized_facts,
)


def test_normal_sample_has_no_excess_kurtosis_and_student_t5_has_about_six():
    rng = np.random.default_rng(0)
    assert abs(excess_kurtosis(rng.normal(size=400_000))) < 0.05
    assert 4.0 < excess_kurtosis(rng.standard_t(5, size=2_000_000)) < 8.0


@pytest.mark.parametrize("alpha", [2.0, 3.0, 4.0])
def test_hill_estimator_recovers_the_pareto_tail_index(alpha):
    rng = np.random.default_rng(int(alpha))
    sample = (rng.pareto(alpha, size=200_000) + 1.0) * rng.choice([-1, 1], size=200_000)
    assert hill_tail_index(sample) == pytest.approx(alpha, rel=0.06)


def test_autocorrelation_of_an_ar1_series_decays_as_phi_to_the_lag():
    rng = np.random.default_rng(1)
    phi, n = 0.6, 200_000
    x = np.empty(n)
    x[0] = 0.0
    noise = rng.normal(size=n)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + noise[t]
    acf = autocorrelation(x, 3)
    np.testing.assert_allclose(acf, [phi, phi**2, phi**3], atol=0.01)


def test_autocorrelation_matches_a_plain_loop():
    x = np.random.default_rng(2).normal(size=500)
    c = x - x.mean()
    loop = [sum(c[t] * c[t + k] for t in range(len(x) - k)) / sum(v * v for v in c) for k in range(1, 6)]
    np.testing.assert_allclose(autocorrelation(x, 5), loop, rtol=1e-12)


def test_volatility_clustering_shows_in_absolute_returns_only():
    rng = np.random.default_rng(3)
    n = 100_000
    vol = np.exp(np.convolve(rng.normal(size=n), np.ones(50) / 7, mode="same"))  # slowly varying volatility
    returns = rng.normal(size=n) * vol
    facts = stylized_facts(returns)
    assert set(facts) == set(FACT_KEYS)
    assert facts[MEAN_ABS_ACF_1_10] > 0.1
    assert abs(autocorrelation(returns, 1)[0]) < facts[MEAN_ABS_ACF_1_10] / 3
    assert facts[EXCESS_KURTOSIS] > 1 and np.isfinite(facts[HILL_TAIL_INDEX])


def test_too_few_returns_are_refused_naming_the_source_and_how_many_are_needed():
    import pandas as pd

    from market.data.facts import MIN_RETURNS, price_facts
    from market.errors import DataError

    with pytest.raises(DataError, match=rf"^returns: 2 returns; stylized facts need at least {MIN_RETURNS}$"):
        stylized_facts(np.array([0.01, -0.02]))
    prices = pd.DataFrame({"close": [100.0, 101.0, 102.0]}, index=pd.date_range("2024-01-01", periods=3))
    with pytest.raises(DataError, match=rf"^three_rows\.csv: 3 bars; stylized facts need at least {MIN_RETURNS + 1}$"):
        price_facts(prices, source="three_rows.csv")
    assert set(stylized_facts(np.random.default_rng(4).normal(size=MIN_RETURNS))) == set(FACT_KEYS)
