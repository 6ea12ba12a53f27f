"""Portfolio baselines: target weights over N assets and cash, as pure functions of recent returns.

The contract with the portfolio env is this module's whole interface. Every baseline has one method,
``target_weights(returns, weights, step)``, and no state:

* ``returns``: a float array ``(window, N)`` of per-asset log returns, oldest row first, assets in the
  panel's column order. The window may hold fewer rows than a baseline's lookback (the start of an
  episode), even none.
* ``weights``: the current weights, length ``N + 1``, cash last.
* ``step``: the bar count since the start of the episode (0 on the first decision).
* The answer: a ``float64`` target-weight vector of length ``N + 1``, assets then **cash last**, long
  only (each entry >= 0), summing to 1 within :data:`WEIGHT_TOLERANCE`. Every baseline here is fully
  invested (cash 0) whenever it rebalances.

The baselines, by name (:data:`PORTFOLIO_BASELINES`, built with :func:`make_portfolio_baseline`):

* ``equal_weight`` (:class:`EqualWeight`): ``1 / N`` each on every ``every``-th bar; between
  rebalances the current weights, which drift with prices.
* ``buy_and_hold`` (:class:`EqualWeightBuyAndHold`): ``1 / N`` each at step 0, then the current weights.
* ``inverse_volatility`` (:class:`InverseVolatility`): ``w_i = (1 / s_i) / sum_j (1 / s_j)``, ``s_i``
  the sample standard deviation over the lookback, floored at ``sigma_floor``.
* ``min_variance`` (:class:`MinimumVariance`): ``argmin w' C w`` over ``w >= 0, sum(w) = 1``, ``C`` a
  shrunk covariance over the lookback.
* ``momentum`` (:class:`CrossSectionalMomentum`): ``1 / k`` each on the ``k`` assets with the highest
  cumulative log return over the lookback, ties to the lower index.

When the window holds too few rows to estimate anything (fewer than 2 for a standard deviation or a
covariance, none for a cumulative return), the estimating baselines answer equal weight.

Shrinkage (:func:`shrunk_covariance`). With ``X`` the lookback's returns de-meaned per asset
(``T`` rows, ``N`` columns) and ``S = X'X / T`` the sample covariance, the estimate is
``C = d * F + (1 - d) * S + sigma_floor**2 * I`` for a target ``F`` and an intensity ``d`` in [0, 1]
(the ridge ``sigma_floor**2 * I`` keeps ``C`` positive definite when assets are constant or
``T <= N``):

* ``identity``: Ledoit and Wolf (2004a), "A well-conditioned estimator for large-dimensional covariance
  matrices", Journal of Multivariate Analysis 88(2), 365-411, with its estimators of section 3 and the
  norm ``||A||**2 = tr(A A') / N``: ``F = m I`` with ``m = tr(S) / N``, ``d2 = ||S - m I||**2``,
  ``b2 = min(d2, (1 / T**2) * sum_t ||x_t x_t' - S||**2)`` and ``d = b2 / d2`` (0 when ``d2 = 0``).
  This is scikit-learn's ``LedoitWolf``.
* ``constant_correlation``: Ledoit and Wolf (2004b), "Honey, I shrunk the sample covariance matrix",
  Journal of Portfolio Management 30(4), 110-119, as the authors' ``covCor.m`` computes it. With
  ``s_ij`` the entries of ``S`` and ``v_i = sqrt(s_ii)``: ``F_ii = s_ii`` and ``F_ij = r v_i v_j``,
  ``r`` the mean sample correlation ``s_ij / (v_i v_j)`` over pairs ``i != j``;
  ``pi = sum_ij (1/T) sum_t (x_ti x_tj - s_ij)**2``;
  ``rho = sum_i pi_ii + r * sum_{i != j} (v_j / v_i) * theta_ij`` with
  ``theta_ij = (1/T) sum_t (x_ti**2 - s_ii)(x_ti x_tj - s_ij)``; ``gamma = ||F - S||_F**2`` (Frobenius);
  and ``d = max(0, min(1, (pi - rho) / gamma / T))``. Constant assets (``v_i = 0``) are left out of
  the mean correlation and add nothing to ``rho``.
* ``none``: ``d = 0``, the sample covariance.

Minimum variance (:func:`min_variance_weights`) is solved exactly by a primal active-set method
(Nocedal and Wright, Numerical Optimization, 2nd ed., section 16.5, the active-set method for convex
QP): on the free assets ``F`` the equality-constrained minimum is ``w_F = C_FF^-1 1 / (1' C_FF^-1 1)``; a free asset whose weight would
turn negative blocks the step and is fixed at 0; at a feasible point an asset fixed at 0 is freed
while its multiplier ``(C w)_i - w' C w`` is negative. It stops at the KKT point, which is the unique
minimum for a positive definite ``C``.

>>> import numpy as np
>>> returns = np.array([[0.01, -0.02, 0.00], [-0.01, 0.02, 0.00], [0.03, 0.04, 0.00]])
>>> make_portfolio_baseline("momentum", top_k=1, lookback=3).target_weights(returns, np.array([0, 0, 0, 1.0]), 5)
array([0., 1., 0., 0.])
>>> EqualWeight(every=5).target_weights(returns, np.array([0.5, 0.3, 0.1, 0.1]), 7)  # between rebalances
array([0.5, 0.3, 0.1, 0.1])
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from market.config import suggest
from market.envs.portfolio_data import PERCENT, RETURNS, WEIGHTS, portfolio_observation_layout
from market.envs.portfolio_dynamics import action_from_weights
from market.errors import ConfigError

__all__ = [
    "BUY_AND_HOLD",
    "EQUAL_WEIGHT",
    "INVERSE_VOLATILITY",
    "MIN_VARIANCE",
    "MOMENTUM",
    "PORTFOLIO_BASELINES",
    "SHRINKAGE_TARGETS",
    "WEIGHT_TOLERANCE",
    "CrossSectionalMomentum",
    "EqualWeight",
    "EqualWeightBuyAndHold",
    "InverseVolatility",
    "MinimumVariance",
    "PortfolioBaseline",
    "PortfolioPolicy",
    "equal_weights",
    "inverse_volatility_weights",
    "ledoit_wolf_constant_correlation",
    "ledoit_wolf_identity",
    "make_portfolio_baseline",
    "min_variance_weights",
    "momentum_weights",
    "shrunk_covariance",
]

EQUAL_WEIGHT = "equal_weight"
BUY_AND_HOLD = "buy_and_hold"
INVERSE_VOLATILITY = "inverse_volatility"
MIN_VARIANCE = "min_variance"
MOMENTUM = "momentum"

PORTFOLIO_BASELINES: tuple[str, ...] = (EQUAL_WEIGHT, BUY_AND_HOLD, INVERSE_VOLATILITY, MIN_VARIANCE, MOMENTUM)
"""The portfolio baselines' names, as :func:`make_portfolio_baseline` knows them."""

IDENTITY = "identity"
CONSTANT_CORRELATION = "constant_correlation"
NO_SHRINKAGE = "none"
SHRINKAGE_TARGETS: tuple[str, ...] = (IDENTITY, CONSTANT_CORRELATION, NO_SHRINKAGE)
"""The covariance shrinkage targets of :func:`shrunk_covariance`."""

WEIGHT_TOLERANCE = 1e-12
"""How far from 1 the sum of a target-weight vector may be."""

DEFAULT_SIGMA_FLOOR = 1e-6
"""The default floor on a per-bar log-return standard deviation (the ridge is its square)."""


class PortfolioBaseline(Protocol):
    """What every portfolio baseline offers: a pure map from recent returns to target weights."""

    name: ClassVar[str]

    def target_weights(self, returns: np.ndarray, weights: np.ndarray, step: int) -> np.ndarray:
        """The target weights, length ``N + 1`` with cash last (see the module docstring)."""
        ...


# ---------------------------------------------------------------------------------------------------
# Checks


def _check_integer(name: str, key: str, value: Any, low: int) -> int:
    if not (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low):
        raise ConfigError(f"{name}.{key}: expected an integer >= {low}, got {value!r}")
    return int(value)


def _check_positive(name: str, key: str, value: Any) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if not ok:
        raise ConfigError(f"{name}.{key}: expected a finite number > 0, got {value!r}")
    return float(value)


def _check_inputs(returns: np.ndarray, weights: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """``returns`` and ``weights`` as float64 arrays, after checking shapes and values against each other.

    Raises:
        ValueError: a bad shape, a non-finite return, invalid weights or a negative step (a caller's bug).
    """
    # 1. Returns: a finite (window, N) matrix with at least one asset.
    returns_2d = np.asarray(returns, dtype=np.float64)
    if returns_2d.ndim != 2 or returns_2d.shape[1] < 1:
        raise ValueError(f"returns: expected a (window, N) array with N >= 1, got shape {returns_2d.shape}")
    if not np.isfinite(returns_2d).all():
        raise ValueError("returns: expected finite log returns, got NaN or inf")
    n_assets = returns_2d.shape[1]
    # 2. Weights: N + 1 of them (cash last), long only, summing to 1.
    current = np.asarray(weights, dtype=np.float64)
    if current.shape != (n_assets + 1,):
        raise ValueError(f"weights: expected shape ({n_assets + 1},) for {n_assets} assets and cash, got {current.shape}")
    if not (np.isfinite(current).all() and (current >= 0.0).all() and abs(current.sum() - 1.0) <= 1e-9):
        raise ValueError(f"weights: expected non-negative weights summing to 1, got {current.tolist()}")
    # 3. Step: a bar count.
    if not (isinstance(step, numbers.Integral) and not isinstance(step, bool) and step >= 0):
        raise ValueError(f"step: expected an integer >= 0, got {step!r}")
    return returns_2d, current


def _with_cash(asset_weights: np.ndarray) -> np.ndarray:
    """Asset weights (summing to 1) with a zero cash weight appended, renormalised so the sum is 1."""
    clipped = np.maximum(asset_weights, 0.0)
    return np.append(clipped / clipped.sum(), 0.0)


def _last_rows(returns: np.ndarray, lookback: int, skip: int = 0) -> np.ndarray:
    """The ``lookback`` rows before the last ``skip`` ones, or as many as the window holds."""
    end = returns.shape[0] - skip
    return returns[max(0, end - lookback) : max(0, end)]


# ---------------------------------------------------------------------------------------------------
# Pure weight functions


def equal_weights(n_assets: int) -> np.ndarray:
    """``1 / N`` on each of ``n_assets`` assets and 0 in cash, length ``N + 1``.

    >>> equal_weights(4)
    array([0.25, 0.25, 0.25, 0.25, 0.  ])
    """
    return np.append(np.full(n_assets, 1.0 / n_assets), 0.0)


def inverse_volatility_weights(returns: np.ndarray, *, sigma_floor: float = DEFAULT_SIGMA_FLOOR) -> np.ndarray:
    """``w_i = (1 / s_i) / sum_j (1 / s_j)`` with ``s_i = max(std_i, sigma_floor)``, cash 0.

    Args:
        returns: ``(T, N)`` log returns; ``std_i`` is the sample standard deviation (``ddof=1``) of column
            ``i``. With fewer than 2 rows the answer is equal weight.
        sigma_floor: the least standard deviation an asset is given, above 0.

    Returns:
        Length ``N + 1``, cash last.

    >>> r = np.array([[0.01, 0.02], [-0.01, -0.02]])
    >>> inverse_volatility_weights(r).round(12)
    array([0.66666667, 0.33333333, 0.        ])
    """
    n_assets = returns.shape[1]
    if returns.shape[0] < 2:
        return equal_weights(n_assets)
    # 1. Each asset's volatility over the rows given, floored.
    sigma = np.maximum(returns.std(axis=0, ddof=1), sigma_floor)
    # 2. Weights proportional to the inverse volatility.
    inverse = 1.0 / sigma
    return _with_cash(inverse / inverse.sum())


def ledoit_wolf_identity(returns: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit-Wolf (2004a) shrinkage of the sample covariance towards ``m I``, ``m = tr(S) / N``.

    Args:
        returns: ``(T, N)`` with ``T >= 1``; de-meaned per column here.

    Returns:
        ``(d * m I + (1 - d) * S, d)`` with ``S = X'X / T``: the formulas in the module docstring, as
        ``sklearn.covariance.LedoitWolf`` computes them.
    """
    # 1. De-mean; the sample covariance with the 1/T convention of the paper.
    n_rows, n_assets = returns.shape
    centred = returns - returns.mean(axis=0)
    sample = centred.T @ centred / n_rows
    # 2. The target m I and the distance of S from it, d2 = ||S - m I||^2 with ||A||^2 = tr(AA')/N.
    mean_variance = np.trace(sample) / n_assets
    target = mean_variance * np.eye(n_assets)
    distance = np.sum((sample - target) ** 2) / n_assets
    # 3. The estimation error of S: b2_bar = (1/T^2) sum_t ||x_t x_t' - S||^2
    #    = (sum_t |x_t|^4 - T tr(S^2)) / (T^2 N), capped at d2.
    norms_4 = np.sum(np.sum(centred**2, axis=1) ** 2)
    error_bar = (norms_4 - n_rows * np.sum(sample**2)) / (n_rows**2 * n_assets)
    error = min(error_bar, distance)
    # 4. The intensity and the shrunk matrix.
    shrinkage = 0.0 if distance <= 0.0 else float(error / distance)
    return shrinkage * target + (1.0 - shrinkage) * sample, shrinkage


def ledoit_wolf_constant_correlation(returns: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit-Wolf (2004b) shrinkage of the sample covariance towards the constant-correlation matrix.

    Args:
        returns: ``(T, N)`` with ``T >= 1``; de-meaned per column here.

    Returns:
        ``(d * F + (1 - d) * S, d)`` with ``S = X'X / T``: the formulas in the module docstring, as the
        authors' ``covCor.m`` computes them.
    """
    # 1. De-mean; the sample covariance (1/T), variances and volatilities.
    n_rows, n_assets = returns.shape
    centred = returns - returns.mean(axis=0)
    sample = centred.T @ centred / n_rows
    variance = np.diag(sample).copy()
    sigma = np.sqrt(variance)
    live = sigma > 0.0
    # 2. The mean correlation over pairs of non-constant assets (0 with fewer than two of them).
    n_live = int(live.sum())
    if n_live >= 2:
        live_sigma = sigma[live]
        correlation = sample[np.ix_(live, live)] / np.outer(live_sigma, live_sigma)
        mean_correlation = float((correlation.sum() - n_live) / (n_live * (n_live - 1)))
    else:
        mean_correlation = 0.0
    # 3. The target: the sample variances, and the mean correlation off the diagonal.
    target = mean_correlation * np.outer(sigma, sigma)
    np.fill_diagonal(target, variance)
    # 4. pi: the summed asymptotic variances of the entries of S.
    squared = centred**2
    pi_matrix = squared.T @ squared / n_rows - 2.0 * (centred.T @ centred) * sample / n_rows + sample**2
    pi = float(pi_matrix.sum())
    # 5. rho: the covariances between the target's and the sample's entries. With S = X'X / T the
    #    expansion of theta_ij collapses to (1/T) sum_t x_ti^3 x_tj - s_ii s_ij; its diagonal is unused.
    theta = (centred**3).T @ centred / n_rows - variance[:, None] * sample
    np.fill_diagonal(theta, 0.0)
    ratio = np.divide(sigma[None, :], sigma[:, None], out=np.zeros((n_assets, n_assets)), where=live[:, None])
    rho = float(np.trace(pi_matrix) + mean_correlation * np.sum(ratio * theta))
    # 6. gamma: the squared distance of the target from S; the intensity, clipped into [0, 1].
    gamma = float(np.sum((target - sample) ** 2))
    shrinkage = 0.0 if gamma <= 0.0 else max(0.0, min(1.0, (pi - rho) / gamma / n_rows))
    return shrinkage * target + (1.0 - shrinkage) * sample, shrinkage


def shrunk_covariance(returns: np.ndarray, *, target: str = IDENTITY, sigma_floor: float = DEFAULT_SIGMA_FLOOR) -> np.ndarray:
    """The shrunk covariance of ``returns`` plus the ridge ``sigma_floor**2 * I``: positive definite.

    Args:
        returns: ``(T, N)`` log returns, ``T >= 1``.
        target: one of :data:`SHRINKAGE_TARGETS`.
        sigma_floor: the square root of the ridge added to the diagonal, above 0.

    Raises:
        ConfigError: for an unknown target.
    """
    # 1. The shrunk estimate for the target chosen.
    if target == IDENTITY:
        covariance, _ = ledoit_wolf_identity(returns)
    elif target == CONSTANT_CORRELATION:
        covariance, _ = ledoit_wolf_constant_correlation(returns)
    elif target == NO_SHRINKAGE:
        centred = returns - returns.mean(axis=0)
        covariance = centred.T @ centred / returns.shape[0]
    else:
        raise ConfigError(f"{MIN_VARIANCE}.shrinkage: unknown target {target!r}{suggest(target, list(SHRINKAGE_TARGETS))}; known: {', '.join(SHRINKAGE_TARGETS)}")
    # 2. The ridge, then exact symmetry.
    ridged = covariance + sigma_floor**2 * np.eye(returns.shape[1])
    return (ridged + ridged.T) / 2.0


def min_variance_weights(covariance: np.ndarray) -> np.ndarray:
    """The long-only minimum-variance weights ``argmin w' C w`` over ``w >= 0, sum(w) = 1`` (no cash).

    An exact primal active-set method (see the module docstring): each iteration either solves the
    equality-constrained problem on the free assets and frees the fixed asset with the most negative
    multiplier, or steps towards that solution until a free asset's weight reaches 0 and fixes it.

    Args:
        covariance: an ``(N, N)`` symmetric positive definite matrix.

    Returns:
        Length ``N``: non-negative, summing to 1, with exact zeros on the assets left out.

    Raises:
        ValueError: ``covariance`` is not positive definite, or the method does not converge.

    >>> min_variance_weights(np.diag([1.0, 4.0]))  # w proportional to 1 / variance when uncorrelated
    array([0.8, 0.2])
    >>> min_variance_weights(np.array([[1.0, 1.5], [1.5, 4.0]]))  # the unconstrained answer shorts asset 1
    array([1., 0.])
    """
    n_assets = covariance.shape[0]
    ones = np.ones(n_assets)
    tolerance = 1e-12 * float(np.max(np.diag(covariance)))
    free = np.ones(n_assets, dtype=bool)
    weights = ones / n_assets
    for _ in range(50 + 10 * n_assets):
        # 1. The minimum on the free assets with sum(w) = 1: w_F = C_FF^-1 1 / (1' C_FF^-1 1).
        solved = np.linalg.solve(covariance[np.ix_(free, free)], ones[free])
        if not solved.sum() > 0.0:
            raise ValueError("min_variance_weights: covariance is not positive definite")
        candidate = np.zeros(n_assets)
        candidate[free] = solved / solved.sum()
        # 2. Infeasible: step towards it until the first free weight reaches 0, and fix that asset.
        blocking = free & (candidate < 0.0)
        if blocking.any():
            step = candidate - weights
            fraction = np.full(n_assets, np.inf)
            fraction[blocking] = weights[blocking] / -step[blocking]
            stop = int(np.argmin(fraction))
            weights = np.maximum(weights + fraction[stop] * step, 0.0)
            weights[stop] = 0.0
            free[stop] = False
            continue
        # 3. Feasible: optimal unless a fixed asset's multiplier (C w)_i - w'Cw is negative; free the worst.
        weights = candidate
        gradient = covariance @ weights
        multiplier = np.where(free, np.inf, gradient - weights @ gradient)
        worst = int(np.argmin(multiplier))
        if not multiplier[worst] < -tolerance:
            return weights / weights.sum()
        free[worst] = True
    raise ValueError(f"min_variance_weights: no convergence in {50 + 10 * n_assets} iterations")


def momentum_weights(returns: np.ndarray, top_k: int) -> np.ndarray:
    """``1 / k`` on the ``k`` assets with the highest cumulative log return over ``returns``, cash 0.

    Ties go to the lower column index. With no rows the answer is equal weight.

    Args:
        returns: ``(T, N)`` log returns over the lookback.
        top_k: how many assets to hold, in [1, N].

    >>> momentum_weights(np.array([[0.0, 0.02, 0.01, 0.02]]), 2)
    array([0. , 0.5, 0. , 0.5, 0. ])
    """
    n_assets = returns.shape[1]
    if returns.shape[0] == 0:
        return equal_weights(n_assets)
    # 1. Each asset's cumulative log return; rank descending, stable so that ties keep index order.
    cumulative = returns.sum(axis=0)
    chosen = np.argsort(-cumulative, kind="stable")[:top_k]
    # 2. Equal weight on the chosen.
    asset_weights = np.zeros(n_assets)
    asset_weights[chosen] = 1.0 / top_k
    return np.append(asset_weights, 0.0)


# ---------------------------------------------------------------------------------------------------
# Baselines: one frozen dataclass each, carrying its parameters


@dataclass(frozen=True, slots=True, kw_only=True)
class EqualWeight:
    """Equal weight ``1 / N`` in every asset, rebalanced every ``every`` bars; the weights drift between.

    Attributes:
        every: rebalance on steps 0, ``every``, ``2 * every``, ...; on other steps return the current
            weights unchanged. 1 rebalances on every bar.
    """

    name: ClassVar[str] = EQUAL_WEIGHT
    every: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "every", _check_integer(self.name, "every", self.every, 1))

    def target_weights(self, returns: np.ndarray, weights: np.ndarray, step: int) -> np.ndarray:
        """Equal weight on a rebalancing step, else a copy of ``weights``."""
        returns_2d, current = _check_inputs(returns, weights, step)
        if step % self.every == 0:
            return equal_weights(returns_2d.shape[1])
        return current.copy()


@dataclass(frozen=True, slots=True, kw_only=True)
class EqualWeightBuyAndHold:
    """Equal weight at step 0, then never trades: the current weights on every later step."""

    name: ClassVar[str] = BUY_AND_HOLD

    def target_weights(self, returns: np.ndarray, weights: np.ndarray, step: int) -> np.ndarray:
        """Equal weight at step 0, else a copy of ``weights``."""
        returns_2d, current = _check_inputs(returns, weights, step)
        return equal_weights(returns_2d.shape[1]) if step == 0 else current.copy()


@dataclass(frozen=True, slots=True, kw_only=True)
class InverseVolatility:
    """Weights proportional to ``1 / sigma_i``, the volatilities over the last ``lookback`` bars.

    Attributes:
        lookback: the rows of the window used (all of them when the window is shorter), at least 2.
        sigma_floor: the least volatility an asset is given, per bar, above 0: a constant asset gets
            ``1 / sigma_floor``, so nearly all the weight.
    """

    name: ClassVar[str] = INVERSE_VOLATILITY
    lookback: int = 60
    sigma_floor: float = DEFAULT_SIGMA_FLOOR

    def __post_init__(self) -> None:
        object.__setattr__(self, "lookback", _check_integer(self.name, "lookback", self.lookback, 2))
        object.__setattr__(self, "sigma_floor", _check_positive(self.name, "sigma_floor", self.sigma_floor))

    def target_weights(self, returns: np.ndarray, weights: np.ndarray, step: int) -> np.ndarray:
        """The inverse-volatility weights of the last ``lookback`` rows (equal weight under 2 rows)."""
        returns_2d, _ = _check_inputs(returns, weights, step)
        return inverse_volatility_weights(_last_rows(returns_2d, self.lookback), sigma_floor=self.sigma_floor)


@dataclass(frozen=True, slots=True, kw_only=True)
class MinimumVariance:
    """The long-only minimum-variance portfolio of a shrunk covariance over the last ``lookback`` bars.

    Attributes:
        lookback: the rows of the window used (all of them when the window is shorter), at least 2.
        shrinkage: the Ledoit-Wolf target, one of :data:`SHRINKAGE_TARGETS`.
        sigma_floor: the ridge ``sigma_floor**2`` added to the covariance's diagonal, above 0.
    """

    name: ClassVar[str] = MIN_VARIANCE
    lookback: int = 60
    shrinkage: str = IDENTITY
    sigma_floor: float = DEFAULT_SIGMA_FLOOR

    def __post_init__(self) -> None:
        object.__setattr__(self, "lookback", _check_integer(self.name, "lookback", self.lookback, 2))
        if self.shrinkage not in SHRINKAGE_TARGETS:
            hint = suggest(str(self.shrinkage), list(SHRINKAGE_TARGETS))
            raise ConfigError(f"{self.name}.shrinkage: expected one of {', '.join(SHRINKAGE_TARGETS)}, got {self.shrinkage!r}{hint}")
        object.__setattr__(self, "sigma_floor", _check_positive(self.name, "sigma_floor", self.sigma_floor))

    def covariance(self, returns: np.ndarray) -> np.ndarray:
        """The matrix the weights minimise: the shrunk covariance of the last ``lookback`` rows, ridged."""
        return shrunk_covariance(_last_rows(returns, self.lookback), target=self.shrinkage, sigma_floor=self.sigma_floor)

    def target_weights(self, returns: np.ndarray, weights: np.ndarray, step: int) -> np.ndarray:
        """The minimum-variance weights (equal weight under 2 rows)."""
        returns_2d, _ = _check_inputs(returns, weights, step)
        if min(returns_2d.shape[0], self.lookback) < 2:
            return equal_weights(returns_2d.shape[1])
        return _with_cash(min_variance_weights(self.covariance(returns_2d)))


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossSectionalMomentum:
    """Equal weight on the ``top_k`` assets with the highest cumulative log return over a lookback.

    The score is the sum of the log returns of the ``lookback`` rows before the last ``skip`` ones (as
    many as the window holds); Jegadeesh and Titman (1993) skip the most recent month to step around
    short-term reversal. Ties go to the lower column index.

    Attributes:
        top_k: how many assets to hold, at least 1 and at most the number of assets.
        lookback: the rows scored, at least 1.
        skip: the most recent rows left out of the score, at least 0.
    """

    name: ClassVar[str] = MOMENTUM
    top_k: int = 1
    lookback: int = 20
    skip: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "top_k", _check_integer(self.name, "top_k", self.top_k, 1))
        object.__setattr__(self, "lookback", _check_integer(self.name, "lookback", self.lookback, 1))
        object.__setattr__(self, "skip", _check_integer(self.name, "skip", self.skip, 0))

    def target_weights(self, returns: np.ndarray, weights: np.ndarray, step: int) -> np.ndarray:
        """The momentum weights (equal weight when no row is left to score).

        Raises:
            ConfigError: ``top_k`` is more than the number of assets.
        """
        returns_2d, _ = _check_inputs(returns, weights, step)
        if self.top_k > returns_2d.shape[1]:
            raise ConfigError(f"{self.name}.top_k: expected at most the {returns_2d.shape[1]} assets, got {self.top_k}")
        return momentum_weights(_last_rows(returns_2d, self.lookback, self.skip), self.top_k)


_CLASSES: dict[str, type] = {
    EQUAL_WEIGHT: EqualWeight,
    BUY_AND_HOLD: EqualWeightBuyAndHold,
    INVERSE_VOLATILITY: InverseVolatility,
    MIN_VARIANCE: MinimumVariance,
    MOMENTUM: CrossSectionalMomentum,
}


def make_portfolio_baseline(name: str, **params: Any) -> PortfolioBaseline:
    """The portfolio baseline called ``name`` with ``params``.

    Args:
        name: one of :data:`PORTFOLIO_BASELINES`.
        params: its parameters (the class's attributes), validated by the class.

    Raises:
        ConfigError: an unknown name or parameter (with a near match), or a bad value, naming the key.

    >>> make_portfolio_baseline("min_varaince")
    Traceback (most recent call last):
    ...
    market.errors.ConfigError: policy: unknown portfolio baseline 'min_varaince' (did you mean 'min_variance'?); built-in: ...
    """
    # 1. The class, by name.
    if name not in _CLASSES:
        known = ", ".join(PORTFOLIO_BASELINES)
        raise ConfigError(f"policy: unknown portfolio baseline {name!r}{suggest(name, list(PORTFOLIO_BASELINES))}; built-in: {known}")
    cls = _CLASSES[name]
    # 2. Its parameters: unknown keys are named before the class sees them.
    accepted = [field.name for field in dataclasses.fields(cls)]
    for key in params:
        if key not in accepted:
            expected = f"one of {', '.join(accepted)}" if accepted else "no parameters"
            raise ConfigError(f"{name}.{key}: unknown parameter{suggest(key, accepted)}; expected {expected}")
    return cls(**params)


class PortfolioPolicy:
    """A portfolio baseline acting in :class:`~market.envs.portfolio.PortfolioEnv`: a :class:`~market.agents.policy.Policy`.

    Each ``act`` reads the returns window (in percent, turned back into log returns) and the held weights out of the observation (by
    :func:`~market.envs.portfolio_data.portfolio_observation_layout`), asks the baseline for target
    weights and maps them to the env's action with :func:`~market.envs.portfolio_dynamics.action_from_weights`.
    The held weights are renormalised first (the observation holds them in float32, and costs paid
    from cash can leave the cash weight a hair below zero). It counts the decisions of an episode
    for the baselines that rebalance every k bars: call :meth:`start_episode` at each reset.

    Args:
        baseline: The baseline.
        n_assets: The env's number of assets.
        window: The env's window of returns.
        long_only: The env's ``long_only`` (baselines are long only either way).
        gross_leverage: The env's ``gross_leverage``.
    """

    def __init__(self, baseline: PortfolioBaseline, *, n_assets: int, window: int, long_only: bool = True, gross_leverage: float = 1.0) -> None:
        layout = portfolio_observation_layout(n_assets, window)
        self.baseline = baseline
        self._returns, self._weights = layout[RETURNS], layout[WEIGHTS]
        self._shape = (window, n_assets)
        self._long_only, self._leverage = long_only, gross_leverage
        self._step = 0

    def start_episode(self) -> None:
        """Count decisions from 0 again."""
        self._step = 0

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        returns = np.asarray(obs[self._returns], dtype=np.float64).reshape(self._shape) / PERCENT  # back to log returns
        held = np.clip(np.asarray(obs[self._weights], dtype=np.float64), 0.0, None)
        held = held / held.sum() if held.sum() > 0 else np.eye(self._shape[1] + 1)[-1]  # nothing held: all cash
        target = self.baseline.target_weights(returns, held, self._step)
        self._step += 1
        return action_from_weights(target, long_only=self._long_only, gross_leverage=self._leverage)
