"""RLlib's ``ParallelPettingZooEnv`` wrapper drives the market env: spaces, agent dicts and episode ends.

RLlib 2.60's wrapper (``ray.rllib.env.wrappers.pettingzoo_env``) resets the env once when built,
takes the agents alive after that reset as its agent ids and their spaces as ``gym.spaces.Dict``s,
and sets ``__all__`` in the termination and truncation dicts to ``all(...)`` over the env's own
dicts. The market returns every live agent in every dict, so ``__all__`` stays false until
``max_steps`` truncates everyone at once. No ``ray.init`` is needed: nothing here starts Ray.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from ray.rllib.env.multi_agent_env import MultiAgentEnv
from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
from ray.rllib.utils.pre_checks.env import check_multiagent_environments

from market.agents.scripted import build_policy
from market.envs.market_config import Clearing, MarketConfig, PopulationConfig
from market.envs.market_v0 import MarketEnv, parallel_env

MAX_STEPS = 40
ALL = "__all__"


def market(clearing: str = "book") -> MarketEnv:
    """Three learning makers and five learning takers, with scripted background traders driven inside."""
    config = MarketConfig(
        populations=(
            PopulationConfig(name="maker", role="maker", count=3),
            PopulationConfig(name="taker", role="taker", count=5),
            PopulationConfig(name="bg_maker", role="maker", count=2, policy="market_maker"),
            PopulationConfig(name="bg_noise", role="taker", count=3, policy="noise"),
        ),
        clearing=clearing,
        max_steps=MAX_STEPS,
        seed=0,
    )
    policies = {"bg_maker": build_policy("market_maker", {}, window=config.window), "bg_noise": build_policy("noise", {}, window=config.window)}
    return parallel_env(config, policies)


def test_wrapper_exposes_the_learners_with_the_envs_own_spaces():
    env = market()
    wrapped = ParallelPettingZooEnv(env)
    assert isinstance(wrapped, MultiAgentEnv)
    learners = {f"maker_{i}" for i in range(3)} | {f"taker_{i}" for i in range(5)}
    assert set(wrapped.possible_agents) == set(wrapped.agents) == learners, "background traders stay inside the env"
    assert isinstance(wrapped.observation_space, gym.spaces.Dict) and isinstance(wrapped.action_space, gym.spaces.Dict)
    for agent in learners:
        assert wrapped.get_observation_space(agent) is env.observation_space(agent)
        assert wrapped.get_action_space(agent) is env.action_space(agent)
    assert wrapped.get_action_space("maker_0").shape == (3,) and wrapped.get_action_space("taker_0").shape == (2,)


def test_rllib_multi_agent_env_check_passes():
    check_multiagent_environments(ParallelPettingZooEnv(market()))


@pytest.mark.parametrize("clearing", list(Clearing))
def test_wrapped_market_steps_with_sampled_actions_until_all_is_truncated_at_max_steps(clearing):
    wrapped = ParallelPettingZooEnv(market(clearing))
    wrapped.action_space.seed(1)
    observations, infos = wrapped.reset(seed=5)
    agents = set(wrapped.possible_agents)
    assert set(observations) == agents and set(infos) == agents
    assert all(wrapped.get_observation_space(a).contains(o) for a, o in observations.items())
    returns = dict.fromkeys(agents, 0.0)
    for step in range(1, MAX_STEPS + 1):
        actions = {agent: wrapped.get_action_space(agent).sample() for agent in observations}
        observations, rewards, terminateds, truncateds, infos = wrapped.step(actions)
        # every dict is keyed by every live agent, plus __all__ in the two end dicts
        assert set(rewards) == set(observations) == set(infos) == agents
        assert set(terminateds) == set(truncateds) == agents | {ALL}
        assert all(isinstance(r, float) and np.isfinite(r) for r in rewards.values())
        assert all(wrapped.get_observation_space(a).contains(o) for a, o in observations.items())
        assert terminateds[ALL] is False
        assert truncateds[ALL] is (step == MAX_STEPS), f"__all__ at step {step}"
        for agent, reward in rewards.items():
            returns[agent] += reward
    assert wrapped.par_env.agents == [], "the env has ended the episode"
    assert any(r != 0.0 for r in returns.values()), "the agents traded"


def test_wrapper_reset_with_a_seed_repeats_the_episode():
    def episode() -> list[dict[str, float]]:
        wrapped = ParallelPettingZooEnv(market())
        wrapped.reset(seed=9)
        rng = np.random.default_rng(9)
        rewards = []
        for _ in range(MAX_STEPS):
            actions = {a: rng.uniform(-1, 1, wrapped.get_action_space(a).shape).astype(np.float32) for a in sorted(wrapped.possible_agents)}
            rewards.append(wrapped.step(actions)[1])
        return rewards

    assert episode() == episode()
