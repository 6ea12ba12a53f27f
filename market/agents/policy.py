"""The Policy protocol, as agents import it: defined once, in :mod:`market.envs.policy`."""

from __future__ import annotations

from market.envs.policy import Policy

__all__ = ["Policy"]
