"""Textbook and simple baseline policies, one module each, every one a :class:`~market.agents.policy.Policy`.

* :mod:`~market.agents.baselines.trading`: TradingEnv baselines (buy and hold, SMA crossover, mean
  reversion, random), built by name with :func:`make_baseline`.
* :mod:`~market.agents.baselines.avellaneda_stoikov`: the Avellaneda-Stoikov (2008) market maker, a
  maker policy for the market env (scripted policy ``avellaneda_stoikov``).
* :mod:`~market.agents.baselines.cartea_jaimungal`: the Cartea-Jaimungal (2015, section 10.2) market
  maker with running and terminal inventory penalties and an inventory cap, a maker policy for the
  market env (scripted policy ``cartea_jaimungal``).
* :mod:`~market.agents.baselines.portfolio`: portfolio baselines for the portfolio env (equal weight,
  buy and hold, inverse volatility, minimum variance, cross-sectional momentum), pure functions of recent
  returns answering target weights with cash last, built by name with :func:`make_portfolio_baseline`.
"""

from __future__ import annotations

from market.agents.baselines.avellaneda_stoikov import AvellanedaStoikovMaker, AvellanedaStoikovParams
from market.agents.baselines.cartea_jaimungal import CarteaJaimungalMaker, CarteaJaimungalParams
from market.agents.baselines.portfolio import (
    PORTFOLIO_BASELINES,
    CrossSectionalMomentum,
    EqualWeight,
    EqualWeightBuyAndHold,
    InverseVolatility,
    MinimumVariance,
    make_portfolio_baseline,
)
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
    "PORTFOLIO_BASELINES",
    "RANDOM",
    "SMA_CROSSOVER",
    "AvellanedaStoikovMaker",
    "AvellanedaStoikovParams",
    "BuyAndHold",
    "CarteaJaimungalMaker",
    "CarteaJaimungalParams",
    "CrossSectionalMomentum",
    "EqualWeight",
    "EqualWeightBuyAndHold",
    "InverseVolatility",
    "MeanReversion",
    "MinimumVariance",
    "RandomPolicy",
    "SMACrossover",
    "make_baseline",
    "make_portfolio_baseline",
]
