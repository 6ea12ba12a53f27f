"""The one Policy protocol that scripted traders, baselines and trained checkpoints all follow.

It lives with the envs because the market env takes policy objects for the populations it drives
itself (envs never import :mod:`market.agents`); :mod:`market.agents.policy` re-exports it.
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
