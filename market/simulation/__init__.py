"""Playing market episodes and recording them: the engine behind ``market simulate``.

The parts, each usable alone:

* :mod:`~market.simulation.ecology`: the default ecology of scripted traders,
  :class:`SimulationSpec` (the one home of its counts and a default run's length) and
  :func:`scripted_market`, the all-scripted market of a spec.
* :mod:`~market.simulation.episode`: :func:`play_episode`, the episode loop, which acts for the
  PettingZoo agents and tells :class:`EpisodeObserver` objects what happened.
* :mod:`~market.simulation.recorder`: :class:`StepRecorder`, the observer that streams every
  agent's state, every fill and the top of the book into a run record.
* :mod:`~market.simulation.summary`: :class:`SummaryCollector` and :class:`MarketRunSummary`, the
  episode's figures (statistics from :mod:`market.stats`).
* :mod:`~market.simulation.run`: :func:`run_market` (loop + summary + recorder) and
  :func:`simulate`, which writes a complete run record.

Who drives whom. The env drives a population itself when its config names a policy; populations
with ``policy=None`` are PettingZoo agents, driven from outside. An env with no PettingZoo agent
has nothing to step (its episode is over at ``reset``), so :func:`scripted_market` makes every
population a PettingZoo agent and :func:`run_market` acts for them, each agent with its own random
stream. Mixed markets work the same way: populations the env drives are recorded from the env's
``last_actions``, the others are driven by the policies given to :func:`run_market`.
"""

from __future__ import annotations

from market.simulation.ecology import (
    COUNT_FIELDS,
    DEFAULT_STEPS,
    ECOLOGY,
    FUNDAMENTAL_STREAM,
    INITIAL_CASH,
    INITIAL_INVENTORY,
    INITIAL_PRICE,
    Archetype,
    SimulationSpec,
    default_fundamental,
    fundamental_from_prices,
    scripted_market,
)
from market.simulation.episode import POLICY_STREAM, EpisodeObserver, Progress, play_episode, policy_streams
from market.simulation.recorder import (
    AGENTS_RECORDED_UP_TO,
    FLUSH_STEPS,
    RECORD_AGENTS,
    RECORD_MODES,
    RECORD_POPULATIONS,
    StepRecorder,
    check_record,
    driven_count,
    record_mode,
)
from market.simulation.run import SimulationResult, run_facts, run_market, run_name, simulate
from market.simulation.summary import (
    DEPTH_LEVELS,
    M_FINAL_MID,
    M_INITIAL_MID,
    M_MEAN_RETURN,
    M_STEPS,
    M_TRADES,
    M_VOLUME,
    MarketRunSummary,
    SummaryCollector,
)

__all__ = [
    "COUNT_FIELDS",
    "DEFAULT_STEPS",
    "DEPTH_LEVELS",
    "ECOLOGY",
    "FLUSH_STEPS",
    "FUNDAMENTAL_STREAM",
    "INITIAL_CASH",
    "INITIAL_INVENTORY",
    "INITIAL_PRICE",
    "M_FINAL_MID",
    "M_INITIAL_MID",
    "M_MEAN_RETURN",
    "M_STEPS",
    "M_TRADES",
    "M_VOLUME",
    "POLICY_STREAM",
    "RECORD_AGENTS",
    "AGENTS_RECORDED_UP_TO",
    "RECORD_MODES",
    "RECORD_POPULATIONS",
    "check_record",
    "driven_count",
    "record_mode",
    "Archetype",
    "EpisodeObserver",
    "MarketRunSummary",
    "Progress",
    "SimulationResult",
    "SimulationSpec",
    "StepRecorder",
    "SummaryCollector",
    "default_fundamental",
    "fundamental_from_prices",
    "play_episode",
    "policy_streams",
    "run_facts",
    "run_market",
    "run_name",
    "scripted_market",
    "simulate",
]
