"""Best responses: PPO (the scenario's training settings) against opponents drawn from the league's mixture.

The learning population trains while the opponents play the equilibrium mixture found by the
league, each opponent agent drawing one strategy of the mixture per episode
(:class:`~market.agents.mixture.MixturePolicy`, driven inside the env):

* several learning populations: population ``p`` learns; every other learning population is
  driven by its own mixture;
* one learning population (a symmetric game): one of its agents learns (the population keeps its
  name, with ``count = 1``, so the module is named like the population) and the others become the
  driven population ``<p>_opponents`` playing the mixture.

Training goes through :func:`market.training.runner.train` (its own run record and checkpoint); the
checkpoint's module then joins the pool as a frozen strategy ``checkpoint:PATH#<p>``.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from market.agents.mixture import MIXTURE_POLICY
from market.league.pool import Strategy
from market.records.schema import CHECKPOINTS_DIR

__all__ = ["OPPONENTS_SUFFIX", "PPOResponder", "best_response_env_config", "train_best_response"]

OPPONENTS_SUFFIX = "_opponents"
"""In a symmetric game, the driven population of the learner's fellow agents: ``<population>_opponents``."""
MIN_WEIGHT = 1e-6
"""Strategies of a mixture with less weight are left out of the opponents (renormalised)."""


def _mixture_params(pool: Sequence[Strategy], mixture: np.ndarray) -> dict[str, Any]:
    """A ``mixture`` policy's params: the strategies with weight, and their renormalised weights."""
    kept = [(s, float(w)) for s, w in zip(pool, mixture, strict=True) if w > MIN_WEIGHT]
    total = sum(w for _, w in kept)
    return {"strategies": [{"policy": s.policy, "params": dict(s.params)} for s, _ in kept], "weights": [w / total for _, w in kept]}


def best_response_env_config(env_config: Mapping[str, Any], population: str, pools: Mapping[str, Sequence[Strategy]], mixtures: Sequence[np.ndarray]) -> dict[str, Any]:
    """The market in which ``population`` learns against the others' mixtures (see the module docstring)."""
    learners = list(pools)
    populations: list[dict[str, Any]] = []
    for entry in env_config["populations"]:
        entry = dict(entry)
        name = entry["name"]
        if name not in learners:
            populations.append(entry)
        elif len(learners) == 1:  # symmetric: one agent learns, its fellows play the mixture
            populations.append({**entry, "count": 1})
            opponents = {**entry, "name": f"{name}{OPPONENTS_SUFFIX}", "count": entry["count"] - 1, "policy": MIXTURE_POLICY}
            populations.append({**opponents, "params": _mixture_params(pools[name], mixtures[0])})
        elif name == population:
            populations.append(entry)
        else:
            populations.append({**entry, "policy": MIXTURE_POLICY, "params": _mixture_params(pools[name], mixtures[learners.index(name)])})
    return {**env_config, "populations": populations}


def train_best_response(
    scenario: Any,
    population: str,
    pools: Mapping[str, Sequence[Strategy]],
    mixtures: Sequence[np.ndarray],
    *,
    iterations: int,
    seed: int,
    out: Path,
    name: str,
    address: str | None = None,
) -> Path:
    """Train ``population``'s best response to the mixtures and return its checkpoint.

    A run of this name that finished before (a league resumed after an interrupt) is reused; an
    unfinished one's checkpoints are removed first.
    """
    from market.records import RunReader
    from market.scenario_run import training_config
    from market.training.runner import StopConfig, train

    record = Path(out) / name
    if record.is_dir():
        return Path(RunReader(record).manifest["checkpoint"])
    shutil.rmtree(Path(out) / CHECKPOINTS_DIR / name, ignore_errors=True)
    settings = training_config(scenario, seed=seed)
    settings = dataclasses.replace(settings, env_config=best_response_env_config(settings.env_config, population, pools, mixtures))
    return train(settings, StopConfig(iterations=iterations), out=Path(out), name=name, address=address).checkpoint


class PPOResponder:
    """The league's default best-response oracle: PPO for ``iterations`` iterations (the scenario's
    training settings, seeded with the generation), its checkpoint joining the pool as ``br<g>``.

    Each best response trains as its own run, ``<name>_br<g>_<population>`` under ``out``.
    """

    def __init__(self, scenario: Any, *, iterations: int, out: Path, name: str, address: str | None = None) -> None:
        self.scenario = scenario
        self.iterations = iterations
        self.out = Path(out)
        self.name = name
        self.address = address

    def __call__(self, population: str, pools: Mapping[str, Sequence[Strategy]], mixtures: Sequence[np.ndarray], generation: int) -> Strategy:
        from market.league.pool import checkpoint_strategy

        run = f"{self.name}_br{generation}_{population}"
        checkpoint = train_best_response(
            self.scenario, population, pools, mixtures, iterations=self.iterations, seed=generation, out=self.out, name=run, address=self.address
        )
        return checkpoint_strategy(f"br{generation}", population, str(checkpoint))
