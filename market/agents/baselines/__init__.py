"""Textbook and simple baseline policies, one module each, every one a :class:`~market.agents.policy.Policy`.

* :mod:`~market.agents.baselines.trading`: TradingEnv baselines (buy and hold, SMA crossover, mean
  reversion, random), built by name with :func:`make_baseline`.
* :mod:`~market.agents.baselines.avellaneda_stoikov`: the Avellaneda-Stoikov (2008) market maker, a
  maker policy for the market env (scripted policy ``avellaneda_stoikov``).
"""

from __future__ import annotations

from market.agents.baselines.avellaneda_stoikov import AvellanedaStoikovMaker, AvellanedaStoikovParams
from market.agents.baselines.trading import (
    BASELINES,
    BUY_AND_HOLD,
    MEAN_REVERSION,
    RANDOM,
    SMA_CROSSOVER,
    BuyAndHold,
    MeanReversion,
    RandomPolicy,
    SMACrossover,
    make_baseline,
)

__all__ = [
    "BASELINES",
    "BUY_AND_HOLD",
    "MEAN_REVERSION",
    "RANDOM",
    "SMA_CROSSOVER",
    "AvellanedaStoikovMaker",
    "AvellanedaStoikovParams",
    "BuyAndHold",
    "MeanReversion",
    "RandomPolicy",
    "SMACrossover",
    "make_baseline",
]
