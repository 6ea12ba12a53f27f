"""The Policy and BatchPolicy protocols, as agents import them: defined once, in :mod:`market.envs.policy`."""

from __future__ import annotations

from market.envs.policy import BatchPolicy, Policy

__all__ = ["BatchPolicy", "Policy"]
