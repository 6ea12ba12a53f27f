"""The envs as RLlib sees them: registration names and creators for TradingEnv and MarketEnv.

MarketEnv reaches RLlib through a small subclass of RLlib's ``ParallelPettingZooEnv`` that takes
every agent's spaces from ``possible_agents`` (the stock wrapper uses the agents alive after its
first reset) and ends the episode when no agent is left (the stock wrapper's ``all(...)`` over
partly terminated, partly truncated agents leaves RLlib calling ``step({})`` once more).
Populations with a policy name are driven inside the env: scripted traders by name, frozen trained
policies by ``checkpoint:PATH`` (the checkpoint's module named like the population) or
``checkpoint:PATH#MODULE``. They act but never learn: the start of population play.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
from ray.tune.registry import register_env

from market.agents.policy import Policy
from market.agents.scripted import build_policy, population_limits
from market.config import from_mapping
from market.envs.market_config import MarketConfig
from market.envs.market_v0 import MarketEnv
from market.errors import ConfigError

TRADING_ENV = "market/Trading-v0"
TRADING_DISCRETE_ENV = "market/TradingDiscrete-v0"
MARKET_ENV = "market_v0"
CHECKPOINT_PREFIX = "checkpoint:"


def checkpoint_reference(policy: str, population: str) -> tuple[str, str] | None:
    """The checkpoint path and module a ``checkpoint:PATH`` or ``checkpoint:PATH#MODULE`` policy names,
    or None for a scripted policy's name. Without ``#MODULE``, the module is named like the population."""
    if not policy.startswith(CHECKPOINT_PREFIX):
        return None
    path, _, module = policy.removeprefix(CHECKPOINT_PREFIX).partition("#")
    return path, module or population


def market_policies(config: MarketConfig) -> dict[str, Policy]:
    """Policy objects for every population driven inside the env, by population name."""
    return {p.name: _driven_policy(p.policy, p.param_dict, p, config) for p in config.populations if not p.learner}  # type: ignore[arg-type]


def _driven_policy(name: str, params: Mapping[str, Any], population: Any, config: MarketConfig) -> Policy:
    """A scripted trader by name, a frozen checkpoint (``checkpoint:PATH#MODULE``), or a ``mixture``
    of those (params ``strategies``: ``{policy, params}`` tables, ``weights``: their probabilities),
    each agent drawing one component per episode (:class:`~market.agents.mixture.MixturePolicy`)."""
    from market.agents.mixture import MIXTURE_POLICY, MixturePolicy

    if name == MIXTURE_POLICY:
        key = f"populations.{population.name}.params"
        if set(params) != {"strategies", "weights"} or not isinstance(params["strategies"], list | tuple):
            raise ConfigError(f"{key}: a mixture takes strategies (a list of {{policy, params}} tables) and weights, got {sorted(params)}")
        components = [_driven_policy(s["policy"], dict(s.get("params") or {}), population, config) for s in params["strategies"]]
        return MixturePolicy(components, params["weights"], config.window)
    reference = checkpoint_reference(name, population.name)
    if reference is not None:
        from market.agents.trained import load_policy

        return load_policy(reference[0], module=reference[1])
    return build_policy(name, params, window=config.window, population=population.name, **population_limits(population))


def make_market_env(env_config: Mapping[str, Any] | MarketConfig) -> MarketEnv:
    """A MarketEnv with its internally driven populations' policies built from the config."""
    config = from_mapping(MarketConfig, env_config)
    return MarketEnv(config, market_policies(config))


class MarketRLlibEnv(ParallelPettingZooEnv):
    """RLlib's PettingZoo wrapper with spaces from ``possible_agents`` and an end when no agent is left."""

    def __init__(self, env: MarketEnv) -> None:
        super().__init__(env)
        agents = list(env.possible_agents)
        self._agent_ids = set(agents)
        self.agents = list(agents)
        self.possible_agents = list(agents)
        self.observation_space = gym.spaces.Dict({a: env.observation_space(a) for a in agents})
        self.action_space = gym.spaces.Dict({a: env.action_space(a) for a in agents})

    def step(self, action_dict: dict[str, Any]):  # type: ignore[override]
        obs, rewards, terminateds, truncateds, infos = self.par_env.step(action_dict)
        over = not self.par_env.agents
        terminateds["__all__"] = over and all(terminateds.values())
        truncateds["__all__"] = over and not terminateds["__all__"]
        return obs, rewards, terminateds, truncateds, infos


def _market_creator(env_config: Mapping[str, Any]) -> MarketRLlibEnv:
    return MarketRLlibEnv(make_market_env(dict(env_config)))


def register_envs() -> None:
    """Register the market env with Ray Tune's registry (the trading envs register with Gymnasium)."""
    import market.envs  # noqa: F401  (registers market/Trading-v0 with Gymnasium)

    register_env(MARKET_ENV, _market_creator)
