"""Environments: TradingEnv (Gymnasium, one agent) and the market env (PettingZoo, many agents).

The market env lives in :mod:`market.envs.market_v0`. The trading envs are registered with
Gymnasium when this package is imported:

* ``market/Trading-v0``: :class:`TradingEnv` with a continuous target position in [-1, 1].
* ``market/TradingDiscrete-v0``: the same env with discrete targets (short, flat, long by default).
* ``market/Portfolio-v0``: :class:`PortfolioEnv`, target weights over the assets of a panel and cash,
  with :class:`PortfolioVectorEnv` as its vector entry point.

Both ids have :class:`TradingVectorEnv` as their vector entry point, so
``gymnasium.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point")`` builds N accounts
stepped together in numpy (RLlib's ``gym_env_vectorize_mode="vector_entry_point"`` does the same).
Settings are passed as keyword arguments: ``gymnasium.make("market/Trading-v0", data=frame, leverage=2)``.
"""

from __future__ import annotations

import gymnasium

from market.envs.trading import (
    ACCOUNT_FEATURES,
    DISCRETE_ENV_ID,
    ENV_ID,
    INFO_KEYS,
    OBSERVATION_INDEX,
    TradingEnv,
    TradingEnvConfig,
    TradingVectorEnv,
    observation_index,
    observation_names,
)

from market.envs.portfolio import PORTFOLIO_ENV_ID, PortfolioEnv
from market.envs.portfolio_config import PortfolioEnvConfig
from market.envs.portfolio_data import portfolio_observation_layout
from market.envs.portfolio_dynamics import action_from_weights, weights_from_action
from market.envs.portfolio_vector import PortfolioVectorEnv

_ENTRY_POINT = "market.envs.trading:TradingEnv"
_VECTOR_ENTRY_POINT = "market.envs.trading_vector:TradingVectorEnv"

for _env_id, _kwargs in ((ENV_ID, {}), (DISCRETE_ENV_ID, {"discrete": True})):
    if _env_id not in gymnasium.registry:
        gymnasium.register(
            _env_id,
            entry_point=_ENTRY_POINT,
            vector_entry_point=_VECTOR_ENTRY_POINT,
            kwargs=_kwargs,
        )

if PORTFOLIO_ENV_ID not in gymnasium.registry:
    gymnasium.register(
        PORTFOLIO_ENV_ID,
        entry_point="market.envs.portfolio:PortfolioEnv",
        vector_entry_point="market.envs.portfolio_vector:PortfolioVectorEnv",
    )

__all__ = [
    "ACCOUNT_FEATURES",
    "DISCRETE_ENV_ID",
    "ENV_ID",
    "INFO_KEYS",
    "OBSERVATION_INDEX",
    "PORTFOLIO_ENV_ID",
    "PortfolioEnv",
    "PortfolioEnvConfig",
    "PortfolioVectorEnv",
    "TradingEnv",
    "TradingEnvConfig",
    "TradingVectorEnv",
    "action_from_weights",
    "observation_index",
    "observation_names",
    "portfolio_observation_layout",
    "weights_from_action",
]
