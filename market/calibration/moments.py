"""The moments a calibration matches, and how uncertain the real ones are.

A moment vector is six numbers of a log-return series: the volatility per step, and five stylized
facts taken from :mod:`market.data.facts` (the one place they are computed): excess kurtosis, the
Hill tail index, the mean absolute-return autocorrelation over lags 1..10, the lag-1 linear
autocorrelation and the largest linear autocorrelation in magnitude over lags 2..20. The linear
autocorrelations at lags 1..20 enter as two numbers rather than twenty: each lag alone is noise of
size ``1/sqrt(n)`` around zero in real data, and twenty of them would outweigh the facts that carry
information (tails and clustering) in the loss.

The uncertainty of the real moments comes from a moving-block bootstrap of the real returns: blocks
of :data:`BLOCK` returns keep the volatility clustering (and so the autocorrelations) that resampling
single returns would destroy.
"""

from __future__ import annotations

import numpy as np

from market.data.facts import (
    EXCESS_KURTOSIS,
    HILL_TAIL_INDEX,
    MAX_ABS_ACF_2_20,
    MEAN_ABS_ACF_1_10,
    autocorrelation,
    stylized_facts,
)
from market.errors import DataError

__all__ = ["BLOCK", "MIN_RETURNS", "MOMENT_KEYS", "bootstrap_moments", "moments"]

VOLATILITY = "volatility"
ACF_1 = "acf_1"
MOMENT_KEYS = (VOLATILITY, EXCESS_KURTOSIS, HILL_TAIL_INDEX, MEAN_ABS_ACF_1_10, ACF_1, MAX_ABS_ACF_2_20)
"""The moments matched, in the order of every moment vector."""

MIN_RETURNS = 200
"""Fewest returns a calibration accepts: the Hill estimator's 5% tail then holds 10 order statistics,
the lag-20 autocorrelation rests on 180 pairs, and the block bootstrap has 10 blocks to draw from.
Fewer give moments so uncertain that every candidate fits (``market.data.facts`` reports facts from
60 returns, but reporting is not fitting)."""

BLOCK = 20
"""Returns per block of the moving-block bootstrap: as long as the longest autocorrelation lag matched."""


def moments(returns: np.ndarray, *, source: str = "returns") -> np.ndarray:
    """The moment vector (:data:`MOMENT_KEYS` order) of a log-return series.

    Args:
        returns: log returns.
        source: what the returns are, for error messages.

    Returns:
        Six floats; nan where a moment is undefined (constant returns).

    Raises:
        DataError: fewer than ``market.data.facts.MIN_RETURNS`` returns.
    """
    x = np.asarray(returns, dtype=np.float64)
    facts = stylized_facts(x, source=source)
    return np.array(
        [
            float(np.std(x)),
            facts[EXCESS_KURTOSIS],
            facts[HILL_TAIL_INDEX],
            facts[MEAN_ABS_ACF_1_10],
            float(autocorrelation(x, 1)[0]),
            facts[MAX_ABS_ACF_2_20],
        ]
    )


def bootstrap_moments(returns: np.ndarray, rng: np.random.Generator, resamples: int = 200) -> np.ndarray:
    """Moment vectors of ``resamples`` moving-block bootstrap resamples of ``returns``.

    Each resample is as long as ``returns``: blocks of :data:`BLOCK` consecutive returns, starting at
    uniformly drawn positions, laid end to end and cut to length.

    Returns:
        An array of shape ``(resamples, len(MOMENT_KEYS))``.

    Raises:
        DataError: fewer than :data:`MIN_RETURNS` returns.
    """
    x = np.asarray(returns, dtype=np.float64)
    n = len(x)
    if n < MIN_RETURNS:
        raise DataError(f"{n} returns; a calibration needs at least {MIN_RETURNS}")
    blocks = -(-n // BLOCK)
    offsets = np.arange(BLOCK)
    out = np.empty((resamples, len(MOMENT_KEYS)))
    for i in range(resamples):
        starts = rng.integers(0, n - BLOCK + 1, size=blocks)
        sample = x[(starts[:, None] + offsets).ravel()[:n]]
        out[i] = moments(sample)
    return out
