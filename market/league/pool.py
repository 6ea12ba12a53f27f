"""Strategy pools: what each learning population of a league may play.

A population's pool holds the scripted strategies its scenario names (its ``[[evaluation.baselines]]``
and its ``[[league.strategies]]``) and frozen checkpoints of trained policies (``checkpoint:PATH#MODULE``:
a strategy the league's loop added, or one the scenario names). Every strategy is checked when the
pool is built, before anything is played: the policy exists and is of the population's role (with a
"did you mean" for near misses), its parameters are valid, a checkpoint loads and was trained on the
population's observation and action spaces, names are unique, and every pool holds at least two
strategies (a pool of one is not a game).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from market.agents.policy import Policy
from market.config import suggest
from market.envs.market_config import MarketConfig, PopulationConfig
from market.errors import ConfigError
from market.scenario import ScenarioConfig, ScenarioKind

__all__ = ["Strategy", "build_pools", "checkpoint_strategy", "learning_populations", "strategy_policy"]

MIN_POOL = 2
"""The fewest strategies a pool may hold: with one there is nothing to choose."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Strategy:
    """One strategy of a population's pool.

    Attributes:
        name: its label, unique within the pool.
        population: the learning population that plays it.
        policy: a scripted policy's name, or ``checkpoint:PATH#MODULE`` for a frozen trained policy.
        params: the scripted policy's parameters, as (key, value) pairs.
    """

    name: str
    population: str
    policy: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        """``population/name``: unique across populations (the ratings' name)."""
        return f"{self.population}/{self.name}"

    def as_dict(self) -> dict[str, Any]:
        """The strategy as JSON-ready values (run record, league state)."""
        return {"name": self.name, "population": self.population, "policy": self.policy, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Strategy:
        """The inverse of :meth:`as_dict`."""
        return cls(name=data["name"], population=data["population"], policy=data["policy"], params=tuple(dict(data["params"]).items()))


def learning_populations(config: MarketConfig) -> list[PopulationConfig]:
    """The populations driven from outside the env (``policy`` None), in config order."""
    return [p for p in config.populations if p.learner]


def checkpoint_strategy(name: str, population: str, path: str, module: str | None = None) -> Strategy:
    """A frozen checkpoint as a strategy of ``population`` (its module named like the population unless given)."""
    from market.training.envs import CHECKPOINT_PREFIX

    return Strategy(name=name, population=population, policy=f"{CHECKPOINT_PREFIX}{path}#{module or population}")


def strategy_policy(strategy: Strategy, config: MarketConfig) -> Policy:
    """The Policy that plays ``strategy`` in the market ``config``.

    Raises:
        ConfigError: an unknown or wrong-role scripted policy, bad parameters, or a checkpoint that does
            not load or was trained on other spaces; naming ``league.strategies.<name>``.
    """
    from market.agents.scripted import strategy_policy_of
    from market.training.envs import checkpoint_reference

    key = f"league.strategies.{strategy.name}"
    population = next(p for p in config.populations if p.name == strategy.population)
    reference = checkpoint_reference(strategy.policy, strategy.population)
    if reference is None:
        return strategy_policy_of(key, strategy.policy, dict(strategy.params), population, window=config.window)
    from market.agents.trained import load_policy
    from market.envs.market_v0 import MarketEnv
    from market.training.envs import market_policies

    try:
        policy = load_policy(reference[0], module=reference[1])
    except ConfigError as error:
        raise ConfigError(f"{key}.policy: {error}") from None
    env = MarketEnv(config, market_policies(config))
    agent = population.agent_names()[0]
    policy.check_compatible(env.observation_space(agent), env.action_space(agent), f"population {strategy.population!r}")
    return policy


def build_pools(scenario: ScenarioConfig, extra: tuple[Strategy, ...] = ()) -> dict[str, tuple[Strategy, ...]]:
    """Each learning population's pool: its baselines, its league strategies, then ``extra`` (checkpoints).

    Args:
        scenario: a market scenario with at least one learning population.
        extra: more strategies (the league's own checkpoints when it resumes).

    Returns:
        The pools by population name, in the market's population order; strategies in the order given.

    Raises:
        ConfigError: a trading scenario or one with no learning population, a strategy of an unknown
            population or policy (with a "did you mean"), a duplicate name, a checkpoint of other
            spaces, or a pool of fewer than two strategies.
    """
    if scenario.kind is not ScenarioKind.MARKET:
        raise ConfigError(f"scenario {scenario.name!r}: a league needs a market scenario, not a {scenario.kind} one")
    config = scenario.market_config()
    learners = learning_populations(config)
    names = [p.name for p in learners]
    if not learners:
        raise ConfigError(f"scenario {scenario.name!r}: no learning population ([[populations]]) to play a league")
    given = [
        *(Strategy(name=b.name, population=b.population, policy=b.policy, params=b.params) for b in scenario.evaluation.baselines if b.population in names),
        *(Strategy(name=s.name, population=s.population, policy=s.policy, params=s.params) for s in scenario.league.strategies),
        *extra,
    ]
    pools: dict[str, list[Strategy]] = {name: [] for name in names}
    for strategy in given:
        key = f"league.strategies.{strategy.name}"
        if strategy.population not in pools:
            raise ConfigError(f"{key}.population: {strategy.population!r} is not a learning population of this market{suggest(strategy.population, names)}; learning populations: {names}")
        if any(s.name == strategy.name for s in pools[strategy.population]):
            raise ConfigError(f"{key}: {strategy.population!r} already has a strategy of this name; names must be unique in a pool")
        strategy_policy(strategy, config)
        pools[strategy.population].append(strategy)
    for name, pool in pools.items():
        if len(pool) < MIN_POOL:
            raise ConfigError(
                f"league.strategies: the pool of {name!r} has {len(pool)} strateg{'y' if len(pool) == 1 else 'ies'} "
                f"({', '.join(s.name for s in pool) or 'none'}); a league needs at least {MIN_POOL} per learning population"
            )
    if len(learners) == 1 and learners[0].count < 2:
        raise ConfigError(f"populations.{learners[0].name}.count: a league of one learning population plays its agents against each other, so it needs at least 2, got {learners[0].count}")
    return {name: tuple(pool) for name, pool in pools.items()}
