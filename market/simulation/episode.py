"""The episode loop of a market run: acting for the PettingZoo agents, and telling observers.

:func:`play_episode` plays one episode of any :class:`~market.envs.market_v0.MarketEnv` to its end.
Each step, every live PettingZoo agent acts through the policy of its population with its own
random stream (:func:`policy_streams`); the env drives its other populations itself. After the
reset, after every step and at the end, the loop tells each :class:`EpisodeObserver` and does
nothing else: recording (:mod:`market.simulation.recorder`), the summary
(:mod:`market.simulation.summary`) and any later accounting (markouts, aggregates of large
populations) are observers, added without editing the loop.

Randomness. One root ``seed`` gives everything: the env's own streams (arrival shuffling, the
policies it drives) come from ``reset(seed=seed)``; the runner's per-agent streams come from the
root's branch ``SeedSequence(seed, spawn_key=(POLICY_STREAM,))``, far beyond the children the env
spawns, so no two consumers ever share a stream.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np

from market.agents.policy import Policy
from market.envs.market_v0 import MarketEnv
from market.errors import ConfigError

__all__ = ["POLICY_STREAM", "EpisodeObserver", "Progress", "play_episode", "policy_streams"]

Progress = Callable[[int, int], None]
"""A progress callback: ``progress(steps_done, total_steps)``, called after every step."""

POLICY_STREAM = 0x5EED_A6
"""Spawn key of the root seed's branch whose children are the runner's per-agent streams."""


def policy_streams(seed: int, agents: Sequence[str]) -> dict[str, np.random.Generator]:
    """One independent random stream per agent, from the root seed's policy branch.

    Args:
        seed: the run's root seed.
        agents: the agents, in a fixed order (the env's ``possible_agents``).

    Returns:
        A generator per agent; the i-th agent gets the i-th child of the branch.
    """
    branch = np.random.SeedSequence(seed, spawn_key=(POLICY_STREAM,))
    return {agent: np.random.Generator(np.random.PCG64(child)) for agent, child in zip(agents, branch.spawn(len(agents)))}


class EpisodeObserver(Protocol):
    """Something that watches an episode: the env after the reset, after every step, and at the end.

    Observers read the env (``mid``, ``last_fills``, ``last_actions``, ``account_arrays()``, the
    book) and never change it; they are told in the order they were given.
    """

    def start(self, env: MarketEnv) -> None:
        """The env has just been reset."""

    def observe(self, step: int, env: MarketEnv) -> None:
        """The env has just played ``step`` (counting from 0)."""

    def finish(self, env: MarketEnv) -> None:
        """The episode is over (no PettingZoo agent is left)."""


def play_episode(
    env: MarketEnv,
    policies: Mapping[str, Policy],
    *,
    seed: int,
    observers: Sequence[EpisodeObserver] = (),
    progress: Progress | None = None,
) -> None:
    """Play one episode of a market env to its end, acting for its PettingZoo agents.

    The episode ends when no PettingZoo agent is left: at ``max_steps`` (truncation), or earlier
    if they all went bankrupt. A market whose populations are all driven inside the env (every one
    scripted) plays to ``max_steps``.

    Args:
        env: the market.
        policies: a policy per PettingZoo population (``policy=None`` in the config), by name, or
            one per agent, by agent name.
        seed: the root seed: the env is reset with it, and the agents' streams come from it.
        observers: told after the reset, after every step and at the end, in this order.
        progress: called as ``progress(steps_done, max_steps)`` after every step, after the observers.

    Raises:
        ConfigError: a PettingZoo population without a policy.
    """
    # 0. every population driven from outside has a policy, and there is someone to act for
    learners = [p for p in env.config.populations if p.learner]
    missing = [p.name for p in learners if p.name not in policies and not all(a in policies for a in p.agent_names())]
    if missing:
        raise ConfigError(f"policies: no policy for the population(s) {missing} driven from outside the env")
    observations, _ = env.reset(seed=seed)
    streams = policy_streams(seed, env.possible_agents)
    policy_of = {agent: policies.get(agent) or policies[env.population_of[agent].name] for agent in env.possible_agents}
    for observer in observers:
        observer.start(env)
    total = env.config.max_steps
    # a market with PettingZoo agents ends when none is left; one driven wholly inside the env, at max_steps
    driven_only = not env.possible_agents
    while env.agents or (driven_only and env.step_count < total):
        # 1. every live PettingZoo agent acts on its own observation with its own stream
        actions = {agent: policy_of[agent].act(observations[agent], streams[agent]) for agent in env.agents}
        observations, _, _, _, _ = env.step(actions)
        # 2. the observers see what happened, then the progress display
        step = env.step_count - 1
        for observer in observers:
            observer.observe(step, env)
        if progress is not None:
            progress(step + 1, total)
    for observer in observers:
        observer.finish(env)
