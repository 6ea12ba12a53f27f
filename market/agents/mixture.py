"""A mixed strategy as a Policy: each agent plays one of several policies, drawn afresh every episode.

A league trains a best response against opponents that play an equilibrium *mixture* of strategies.
:class:`MixturePolicy` is that opponent: at the first observation of an episode (``time_left`` is 1)
each agent draws one component with its own random stream, with the mixture's weights, and plays it
for the whole episode. Agents are told apart by their streams (the env gives each agent its own
generator, new at every reset), so agents of one population sharing the policy draw independently.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from market.agents.policy import Policy
from market.envs.market_config import observation_index
from market.errors import ConfigError

__all__ = ["MIXTURE_POLICY", "MixturePolicy"]

MIXTURE_POLICY = "mixture"
"""The policy name of a population driven by a mixture (``params``: ``strategies`` and ``weights``)."""


class MixturePolicy:
    """Plays ``policies[i]`` with probability ``weights[i]``, one draw per agent per episode.

    Args:
        policies: the components, all of one role.
        weights: their probabilities (non-negative, summing to 1 within 1e-6).
        window: the env's mid-return window (to find ``time_left`` in an observation).

    Raises:
        ConfigError: no components, or weights that are not a probability vector of their length.
    """

    def __init__(self, policies: Sequence[Policy], weights: Sequence[float], window: int) -> None:
        probabilities = np.asarray(weights, dtype=np.float64)
        if not policies or probabilities.shape != (len(policies),) or not np.all(probabilities >= 0) or abs(probabilities.sum() - 1.0) > 1e-6:
            raise ConfigError(f"mixture: expected one non-negative weight per strategy summing to 1, got {list(weights)} for {len(policies)} strategies")
        self.policies = list(policies)
        self.weights = probabilities / probabilities.sum()
        self._time_left = observation_index("time_left", window)
        self._chosen: dict[int, tuple[np.random.Generator, Policy]] = {}
        self._past_first_step = False

    def _draw(self, rng: np.random.Generator) -> Policy:
        policy = self.policies[int(rng.choice(len(self.policies), p=self.weights))]
        self._chosen[id(rng)] = (rng, policy)
        return policy

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The action of the component this agent (its stream) drew for this episode."""
        if float(obs[self._time_left]) >= 1.0:  # an episode's first step: every agent draws
            if self._past_first_step:  # the first draw of a new episode: forget the last episode's
                self._chosen.clear()
                self._past_first_step = False
            policy = self._draw(rng)
        else:
            self._past_first_step = True
            held = self._chosen.get(id(rng))
            policy = held[1] if held is not None and held[0] is rng else self._draw(rng)
        return policy.act(obs, rng)
