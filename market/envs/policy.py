"""The one Policy protocol that scripted traders, baselines and trained checkpoints all follow.

It lives with the envs because the market env takes policy objects for the populations it drives
itself (envs never import :mod:`market.agents`); :mod:`market.agents.policy` re-exports it. A policy
that can also decide for a whole population in one call is a :class:`BatchPolicy`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Policy(Protocol):
    """Anything that maps an observation to an action.

    ``act`` must draw any randomness it needs from ``rng`` only, so that a seeded run is repeatable.
    The action must lie in the action space of the env the policy acts in.
    """

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> Any:
        """Return the action for one observation."""
        ...


@runtime_checkable
class BatchPolicy(Protocol):
    """A policy that also decides for N agents of one population in one call.

    The contract that keeps the batch path exactly the per-agent path: ``act(obs, rng)`` draws from
    ``rng`` nothing but one ``rng.random(uniforms_per_step)`` per call (nothing when it is 0), and
    ``act_batch(obs, uniforms)`` returns, in row ``i``, what ``act(obs[i], rng_i)`` returns when
    ``uniforms[i]`` is what that draw gives (a zero may come out as ``-0.0``). The policy holds no
    state of its own between calls (one object serves the whole population).
    """

    uniforms_per_step: int

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> Any:
        """Return the action for one observation."""
        ...

    def act_batch(self, obs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """Return the ``(N, action_dim)`` float32 actions of ``(N, obs_dim)`` observations and ``(N, uniforms_per_step)`` uniforms."""
        ...
