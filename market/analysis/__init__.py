"""Analyses of finished market episodes: who profits from whom (:mod:`market.analysis.flows`)."""

from market.analysis import flows
from market.analysis.flows import *  # noqa: F403  (the public names of flows, listed once in its __all__)

__all__ = list(flows.__all__)
