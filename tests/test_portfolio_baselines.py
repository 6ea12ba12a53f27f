"""Portfolio baselines (market.agents.baselines.portfolio): the weight contract and each rule's answer.

* every baseline answers valid weights (length N + 1, cash last, >= 0, summing to 1 within 1e-12) on
  random return windows, constant assets and windows shorter than the lookback included;
* inverse volatility, momentum and equal weight give the answers worked out by hand;
* minimum variance agrees with PyPortfolioOpt's long-only minimum volatility on the same shrunk
  covariance, and meets the KKT conditions itself; the Ledoit-Wolf shrinkage agrees with scikit-learn
  (identity target) and with the authors' covCor.m as PyPortfolioOpt ports it (constant correlation).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypfopt import EfficientFrontier
from pypfopt.risk_models import CovarianceShrinkage
from sklearn.covariance import LedoitWolf

from market.agents.baselines.portfolio import (
    PORTFOLIO_BASELINES,
    SHRINKAGE_TARGETS,
    WEIGHT_TOLERANCE,
    CrossSectionalMomentum,
    EqualWeight,
    EqualWeightBuyAndHold,
    InverseVolatility,
    MinimumVariance,
    equal_weights,
    ledoit_wolf_constant_correlation,
    ledoit_wolf_identity,
    make_portfolio_baseline,
    min_variance_weights,
    shrunk_covariance,
)
from market.errors import ConfigError

SCALES = (0.0, 1e-9, 1e-4, 1e-2, 0.3)
"""Per-asset return scales: constant assets, nearly constant ones, minute bars, daily bars, wild ones."""


def random_returns(rng: np.random.Generator, rows: int, n_assets: int) -> np.ndarray:
    """Returns with a common factor, each asset at one of :data:`SCALES` (0 makes it constant)."""
    scale = rng.choice(SCALES, size=n_assets)
    factor = rng.normal(size=(rows, 1)) * rng.uniform(-1.0, 2.0, size=n_assets)
    return (rng.normal(size=(rows, n_assets)) + factor) * scale


def random_weights(rng: np.random.Generator, n_assets: int) -> np.ndarray:
    """Valid current weights over the assets and cash, some of them exactly 0."""
    raw = rng.exponential(size=n_assets + 1) * (rng.random(n_assets + 1) < 0.7)
    raw[-1] += 1e-3
    return raw / raw.sum()


def assert_valid_weights(weights: np.ndarray, n_assets: int) -> None:
    assert weights.dtype == np.float64
    assert weights.shape == (n_assets + 1,)
    assert np.isfinite(weights).all()
    assert (weights >= 0.0).all()
    assert abs(weights.sum() - 1.0) <= WEIGHT_TOLERANCE


# ---------------------------------------------------------------------------------------------------
# The contract


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(0, 40),
    n_assets=st.integers(1, 8),
    step=st.integers(0, 500),
    lookback=st.integers(2, 60),
    shrinkage=st.sampled_from(SHRINKAGE_TARGETS),
)
def test_every_baseline_answers_valid_weights_on_random_windows(seed, rows, n_assets, step, lookback, shrinkage):
    rng = np.random.default_rng(seed)
    returns = random_returns(rng, rows, n_assets)
    current = random_weights(rng, n_assets)
    baselines = [
        EqualWeight(every=int(rng.integers(1, 10))),
        EqualWeightBuyAndHold(),
        InverseVolatility(lookback=lookback),
        MinimumVariance(lookback=lookback, shrinkage=shrinkage),
        CrossSectionalMomentum(top_k=int(rng.integers(1, n_assets + 1)), lookback=lookback, skip=int(rng.integers(0, 3))),
    ]
    for baseline in baselines:
        target = baseline.target_weights(returns, current, step)
        assert_valid_weights(target, n_assets)
        if step > 0 and isinstance(baseline, EqualWeightBuyAndHold):
            assert np.array_equal(target, current)


@pytest.mark.parametrize("name", PORTFOLIO_BASELINES)
@pytest.mark.parametrize("rows", [0, 1])
def test_window_too_short_to_estimate_gives_equal_weight(name, rows):
    returns = np.full((rows, 3), 0.01)
    all_cash = np.array([0.0, 0.0, 0.0, 1.0])
    target = make_portfolio_baseline(name).target_weights(returns, all_cash, 0)
    if name == "momentum" and rows == 1:  # one row is a score: ties go to the lowest index
        assert np.array_equal(target, [1.0, 0.0, 0.0, 0.0])
    else:
        assert np.array_equal(target, equal_weights(3))


def test_bad_inputs_are_refused_naming_the_argument():
    baseline = EqualWeight()
    returns = np.zeros((5, 2))
    with pytest.raises(ValueError, match="weights: expected shape"):
        baseline.target_weights(returns, np.array([0.5, 0.5]), 0)
    with pytest.raises(ValueError, match="weights: expected non-negative"):
        baseline.target_weights(returns, np.array([1.2, -0.2, 0.0]), 0)
    with pytest.raises(ValueError, match="returns: expected finite"):
        baseline.target_weights(np.array([[0.0, np.nan]]), np.array([0.0, 0.0, 1.0]), 0)
    with pytest.raises(ValueError, match="returns: expected a"):
        baseline.target_weights(np.zeros(4), np.array([0.0, 1.0]), 0)
    with pytest.raises(ValueError, match="step"):
        baseline.target_weights(returns, np.array([0.0, 0.0, 1.0]), -1)


# ---------------------------------------------------------------------------------------------------
# Equal weight and buy and hold


@pytest.mark.parametrize("every", [1, 3, 7])
def test_equal_weight_rebalances_exactly_every_k_bars_and_drifts_between(every):
    rng = np.random.default_rng(every)
    baseline = EqualWeight(every=every)
    n_assets = 4
    current = np.array([0.0, 0.0, 0.0, 0.0, 1.0])
    rebalanced = []
    for step in range(4 * every + 2):
        returns = rng.normal(0.0, 0.02, size=(10, n_assets))
        target = baseline.target_weights(returns, current, step)
        if step % every == 0:
            assert np.array_equal(target, equal_weights(n_assets))
            rebalanced.append(step)
        else:
            assert np.array_equal(target, current) and target is not current
        # the env's drift: each holding grows by its asset's next simple return, cash stays
        growth = np.append(np.exp(rng.normal(0.0, 0.02, size=n_assets)), 1.0)
        current = target * growth / (target * growth).sum()
    assert rebalanced == list(range(0, 4 * every + 2, every))


def test_buy_and_hold_is_equal_weight_at_step_zero_then_never_trades():
    baseline = EqualWeightBuyAndHold()
    returns = np.zeros((3, 3))
    assert np.array_equal(baseline.target_weights(returns, np.array([0.0, 0.0, 0.0, 1.0]), 0), [1 / 3, 1 / 3, 1 / 3, 0.0])
    drifted = np.array([0.4, 0.35, 0.25, 0.0])
    for step in (1, 2, 50):
        assert np.array_equal(baseline.target_weights(returns, drifted, step), drifted)


# ---------------------------------------------------------------------------------------------------
# Inverse volatility


def test_inverse_volatility_matches_hand_computation_on_three_assets():
    # sample standard deviations (ddof 1), by hand:
    #   asset 0: 0.02, 0, -0.02      mean 0     squares 4e-4 + 0 + 4e-4 over 2       -> 0.02
    #   asset 1: 0.01, 0.03, 0.02    mean 0.02  squares 1e-4 + 1e-4 + 0 over 2       -> 0.01
    #   asset 2: 0.04, -0.02, -0.02  mean 0     squares 16e-4 + 4e-4 + 4e-4 over 2   -> sqrt(12e-4)
    window = np.array([[0.02, 0.01, 0.04], [0.00, 0.03, -0.02], [-0.02, 0.02, -0.02]])
    inverse = np.array([1 / 0.02, 1 / 0.01, 1 / math.sqrt(12e-4)])  # 50, 100, 28.8675
    expected = np.append(inverse / inverse.sum(), 0.0)  # 0.279537, 0.559073, 0.161390, cash 0
    # an older row that the 3-bar lookback must ignore
    returns = np.vstack([[0.5, -0.5, 0.5], window])
    target = InverseVolatility(lookback=3).target_weights(returns, np.array([0.0, 0.0, 0.0, 1.0]), 10)
    np.testing.assert_allclose(target, expected, rtol=1e-12, atol=0)
    np.testing.assert_allclose(target[:3], [0.279537, 0.559073, 0.161390], atol=1e-6)


def test_inverse_volatility_floors_a_constant_asset():
    returns = np.array([[0.01, 0.0], [-0.01, 0.0], [0.01, 0.0]])  # asset 1 never moves
    sigma_0 = np.std(returns[:, 0], ddof=1)
    target = InverseVolatility(lookback=10, sigma_floor=1e-4).target_weights(returns, np.array([0.0, 0.0, 1.0]), 3)
    inverse = np.array([1 / sigma_0, 1 / 1e-4])
    np.testing.assert_allclose(target, np.append(inverse / inverse.sum(), 0.0), rtol=1e-12)


# ---------------------------------------------------------------------------------------------------
# Momentum


def test_momentum_picks_the_k_assets_with_the_highest_cumulative_return():
    # cumulative log returns over the last 3 rows: 0.03, -0.06, 0.09, 0.00, 0.06
    returns = np.array(
        [
            [9.0, 9.0, -9.0, 9.0, -9.0],  # outside a 3-row lookback
            [0.01, -0.02, 0.03, 0.00, 0.02],
            [0.01, -0.02, 0.03, 0.00, 0.02],
            [0.01, -0.02, 0.03, 0.00, 0.02],
        ]
    )
    cash = np.append(np.zeros(5), 1.0)
    picks = {k: CrossSectionalMomentum(top_k=k, lookback=3).target_weights(returns, cash, 4) for k in (1, 2, 3)}
    assert np.array_equal(picks[1], [0, 0, 1, 0, 0, 0])
    assert np.array_equal(picks[2], [0, 0, 0.5, 0, 0.5, 0])
    np.testing.assert_array_equal(picks[3], [1 / 3, 0, 1 / 3, 0, 1 / 3, 0])
    # the whole window as lookback: the first row dominates
    whole = CrossSectionalMomentum(top_k=2, lookback=100).target_weights(returns, cash, 4)
    assert np.array_equal(whole, [0.5, 0, 0, 0.5, 0, 0])


def test_momentum_breaks_ties_by_index_and_skips_the_latest_rows():
    cash = np.append(np.zeros(4), 1.0)
    tied = np.array([[0.01, 0.02, 0.02, 0.02]])
    assert np.array_equal(CrossSectionalMomentum(top_k=2, lookback=5).target_weights(tied, cash, 1), [0, 0.5, 0.5, 0, 0])
    # the last row reverses the ranking; skip=1 leaves it out of the score
    returns = np.array([[0.04, 0.03, 0.02, 0.01], [-0.10, 0.0, 0.0, 0.10]])
    assert np.array_equal(CrossSectionalMomentum(top_k=1, lookback=5).target_weights(returns, cash, 2), [0, 0, 0, 1, 0])
    assert np.array_equal(CrossSectionalMomentum(top_k=1, lookback=5, skip=1).target_weights(returns, cash, 2), [1, 0, 0, 0, 0])


def test_momentum_with_more_picks_than_assets_is_a_config_error():
    with pytest.raises(ConfigError, match=r"momentum\.top_k: expected at most the 3 assets, got 4"):
        CrossSectionalMomentum(top_k=4).target_weights(np.zeros((5, 3)), np.array([0.0, 0.0, 0.0, 1.0]), 0)


# ---------------------------------------------------------------------------------------------------
# Shrinkage and minimum variance


def reference_min_variance(covariance: np.ndarray) -> np.ndarray:
    """PyPortfolioOpt's long-only minimum volatility (Clarabel, tight tolerances) on ``covariance``.

    The matrix is scaled to a mean variance of 1 first (the weights do not change): per-bar variances of
    1e-4 would otherwise sit at the solver's absolute tolerance.
    """
    scaled = covariance / (np.trace(covariance) / len(covariance))
    tight = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12, "tol_ktratio": 1e-10}
    frontier = EfficientFrontier(None, scaled, weight_bounds=(0, 1), solver="CLARABEL", solver_options=tight)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Solution may be inaccurate" fails the comparison
        frontier.min_volatility()
    return np.asarray(frontier.weights, dtype=np.float64)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), extra_rows=st.integers(0, 80), n_assets=st.integers(1, 12), target=st.sampled_from(SHRINKAGE_TARGETS))
def test_min_variance_agrees_with_pypfopt_on_the_same_shrunk_covariance(seed, extra_rows, n_assets, target):
    # more rows than assets: a full-rank sample, so the reference solver's answer is accurate (the KKT
    # test below covers rank-deficient windows)
    rows = n_assets + 2 + extra_rows
    rng = np.random.default_rng(seed)
    vols = rng.uniform(0.002, 0.03, size=n_assets)
    returns = (rng.normal(size=(rows, n_assets)) + rng.normal(size=(rows, 1)) * rng.uniform(-0.5, 1.5, size=n_assets)) * vols
    baseline = MinimumVariance(lookback=rows, shrinkage=target)
    covariance = baseline.covariance(returns)
    ours = baseline.target_weights(returns, np.append(np.zeros(n_assets), 1.0), 0)[:-1]
    theirs = reference_min_variance(covariance)
    # 1. The variance: ours is never above theirs, and within 1e-6 of it (relative).
    our_variance, their_variance = ours @ covariance @ ours, theirs @ covariance @ theirs
    assert our_variance <= their_variance * (1 + 1e-9)
    assert abs(our_variance - their_variance) <= 1e-6 * their_variance
    # 2. The weights, where they are well determined (a well-conditioned matrix).
    if np.linalg.cond(covariance) < 1e5:
        np.testing.assert_allclose(ours, theirs, atol=1e-6, rtol=0)


@pytest.mark.parametrize("target", SHRINKAGE_TARGETS)
def test_min_variance_weights_meet_the_kkt_conditions(target):
    rng = np.random.default_rng(7)
    for _ in range(40):
        rows, n_assets = int(rng.integers(2, 50)), int(rng.integers(1, 15))
        covariance = shrunk_covariance(random_returns(rng, rows, n_assets), target=target)
        weights = min_variance_weights(covariance)
        # primal: long only, fully invested; dual: no asset lowers the variance at the margin,
        # (C w)_i >= w'Cw everywhere, with equality where the weight is positive
        gradient = covariance @ weights
        variance = weights @ gradient
        scale = np.max(np.diag(covariance))
        assert (weights >= 0).all() and abs(weights.sum() - 1.0) <= WEIGHT_TOLERANCE
        assert (gradient >= variance - 1e-9 * scale).all()
        assert np.all(np.abs(gradient - variance)[weights > 0] <= 1e-9 * scale)


def test_min_variance_frees_an_asset_fixed_on_the_way():
    # From equal weights the first step stops where asset 2 reaches 0, yet the optimum holds 15% of it:
    # an active-set method that never frees a fixed asset ends at [0.470, 0.342, 0, 0, 0.188] instead.
    covariance = np.array(
        [
            [2.93, -1.01, -0.95, 2.09, -0.45],
            [-1.01, 3.62, 2.14, 0.38, 0.96],
            [-0.95, 2.14, 3.35, -0.87, 2.81],
            [2.09, 0.38, -0.87, 7.03, 1.63],
            [-0.45, 0.96, 2.81, 1.63, 4.41],
        ]
    )
    weights = min_variance_weights(covariance)
    np.testing.assert_allclose(weights, reference_min_variance(covariance), atol=1e-6, rtol=0)
    np.testing.assert_allclose(weights, [0.474411, 0.271500, 0.151112, 0.0, 0.102978], atol=1e-6)
    assert weights[3] == 0.0


def test_min_variance_on_uncorrelated_assets_is_inverse_variance():
    variances = np.array([1.0, 4.0, 0.25, 2.0])
    inverse = 1.0 / variances
    np.testing.assert_allclose(min_variance_weights(np.diag(variances)), inverse / inverse.sum(), rtol=1e-14)


@pytest.mark.parametrize("seed", range(6))
def test_ledoit_wolf_identity_matches_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    rows, n_assets = int(rng.integers(3, 80)), int(rng.integers(2, 12))
    returns = random_returns(rng, rows, n_assets)
    returns[:, 0] += rng.normal(0.0, 0.01, size=rows)  # at least one moving asset
    ours, shrinkage = ledoit_wolf_identity(returns)
    reference = LedoitWolf().fit(returns)
    assert shrinkage == pytest.approx(reference.shrinkage_, abs=1e-12)
    np.testing.assert_allclose(ours, reference.covariance_, rtol=1e-10, atol=1e-14 * np.abs(ours).max())


def test_ledoit_wolf_identity_caps_the_intensity_at_one_like_scikit_learn():
    # heavy tails and few rows: the estimation error b2_bar exceeds the distance d2, so d = min(b2_bar, d2) / d2 = 1
    rng = np.random.default_rng(75)
    rows, n_assets = int(rng.integers(3, 12)), int(rng.integers(2, 30))
    returns = rng.standard_t(2, size=(rows, n_assets)) * rng.uniform(0.5, 1.5, size=n_assets)
    ours, shrinkage = ledoit_wolf_identity(returns)
    reference = LedoitWolf().fit(returns)
    assert shrinkage == 1.0 and reference.shrinkage_ == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(ours, reference.covariance_, rtol=1e-10)


@pytest.mark.parametrize("seed", range(6))
def test_ledoit_wolf_constant_correlation_matches_the_authors_covcor(seed):
    # PyPortfolioOpt ports covCor.m but uses the 1/(T-1) sample covariance; covCor.m (and we) use 1/T.
    rng = np.random.default_rng(100 + seed)
    rows, n_assets = int(rng.integers(5, 80)), int(rng.integers(3, 12))
    vols = rng.uniform(0.005, 0.03, size=n_assets)
    loadings = rng.uniform(-0.5, 2.0, size=n_assets)  # correlations far from constant: 0 < d < 1
    returns = (rng.normal(size=(rows, n_assets)) + rng.normal(size=(rows, 1)) * loadings) * vols
    reference = CovarianceShrinkage(pd.DataFrame(returns), returns_data=True, frequency=1)
    centred = returns - returns.mean(axis=0)
    reference.S = centred.T @ centred / rows
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expected, expected_shrinkage = reference._ledoit_wolf_constant_correlation()
    ours, shrinkage = ledoit_wolf_constant_correlation(returns)
    assert 0.0 < shrinkage < 1.0
    assert shrinkage == pytest.approx(expected_shrinkage, abs=1e-12)
    np.testing.assert_allclose(ours, expected, rtol=1e-10)


def test_shrinkage_moves_the_sample_covariance_towards_its_target():
    rng = np.random.default_rng(3)
    returns = rng.normal(0.0, 0.01, size=(8, 6)) * np.array([1, 1, 2, 2, 3, 3])  # few rows: strong shrinkage
    centred = returns - returns.mean(axis=0)
    sample = centred.T @ centred / 8
    identity, d = ledoit_wolf_identity(returns)
    target = np.trace(sample) / 6 * np.eye(6)
    np.testing.assert_allclose(identity, d * target + (1 - d) * sample, rtol=1e-14)
    assert 0.3 < d <= 1.0
    # the constant-correlation target keeps the sample variances on the diagonal
    constant, _ = ledoit_wolf_constant_correlation(returns)
    np.testing.assert_allclose(np.diag(constant), np.diag(sample), rtol=1e-14)


def test_min_variance_favours_a_constant_asset():
    rng = np.random.default_rng(5)
    returns = np.column_stack([rng.normal(0, 0.01, 30), np.zeros(30), rng.normal(0, 0.02, 30)])
    cash = np.array([0, 0, 0, 1.0])
    # the sample and the constant-correlation target both give it no variance (only the ridge): all in
    for target in ("none", "constant_correlation"):
        assert MinimumVariance(lookback=30, shrinkage=target).target_weights(returns, cash, 0)[1] > 0.999
    # the identity target lends it the mean variance times d: the largest weight, not all of it
    weights = MinimumVariance(lookback=30, shrinkage="identity").target_weights(returns, cash, 0)
    assert np.argmax(weights) == 1 and weights[1] < 0.999


# ---------------------------------------------------------------------------------------------------
# Construction by name


def test_the_names_build_their_classes():
    assert PORTFOLIO_BASELINES == ("equal_weight", "buy_and_hold", "inverse_volatility", "min_variance", "momentum")
    built = [type(make_portfolio_baseline(name)) for name in PORTFOLIO_BASELINES]
    assert built == [EqualWeight, EqualWeightBuyAndHold, InverseVolatility, MinimumVariance, CrossSectionalMomentum]
    assert make_portfolio_baseline("momentum", top_k=3, lookback=250, skip=21) == CrossSectionalMomentum(top_k=3, lookback=250, skip=21)


def test_unknown_names_and_parameters_get_a_did_you_mean():
    with pytest.raises(ConfigError, match=r"unknown portfolio baseline 'min_varaince' \(did you mean 'min_variance'\?\)"):
        make_portfolio_baseline("min_varaince")
    with pytest.raises(ConfigError, match=r"momentum\.lookbak: unknown parameter \(did you mean 'lookback'\?\)"):
        make_portfolio_baseline("momentum", lookbak=20)
    with pytest.raises(ConfigError, match=r"buy_and_hold\.every: unknown parameter; expected no parameters"):
        make_portfolio_baseline("buy_and_hold", every=5)
    with pytest.raises(ConfigError, match=r"min_variance\.shrinkage: .*got 'identiy' \(did you mean 'identity'\?\)"):
        make_portfolio_baseline("min_variance", shrinkage="identiy")


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [
        ("equal_weight", "every", 0),
        ("equal_weight", "every", 2.0),
        ("inverse_volatility", "lookback", 1),
        ("inverse_volatility", "sigma_floor", 0.0),
        ("min_variance", "sigma_floor", math.nan),
        ("min_variance", "lookback", True),
        ("momentum", "top_k", 0),
        ("momentum", "skip", -1),
    ],
)
def test_bad_parameter_values_name_the_key(name, key, value):
    with pytest.raises(ConfigError, match=rf"^{name}\.{key}: expected"):
        make_portfolio_baseline(name, **{key: value})
