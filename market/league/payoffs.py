"""Empirical payoffs: profiles of strategies played over held-out seeds as Ray tasks, and the game they estimate.

A *profile* names one strategy per slot, and an :class:`Episode` is one profile played on one seed:

* two or more learning populations: one slot per population, every agent of a population playing
  its slot's strategy; a slot's payoff is its population's mean P&L per agent in the episode;
* one learning population (a symmetric game): two slots, the *focal* agent's strategy ``i`` and the
  strategy ``j`` every other agent of the population plays; slot 0's payoff is the focal agent's
  P&L, slot 1's the mean P&L of the others. The focal agent is agent ``k mod count`` on the k-th
  seed, so no seat is favoured. ``payoffs[i, j]`` is the mean P&L of an agent playing ``i`` while the
  population's other agents play ``j``.

P&L is final equity minus starting equity, in ticks x lots, marked as the env marks it. Each
(profile, seed) episode is one Ray task (:func:`play_episodes`), local or on a cluster; results come
back in the order the jobs were given, whatever the number of workers, so an estimate is identical
for any number of them. :func:`estimate` turns episodes into a :class:`PayoffEstimate`: per cell the
mean, the sample count and the 95% interval half-width (Student's t, :func:`market.stats.mean_interval`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from market import stats
from market.errors import ConfigError
from market.league.equilibrium import Game
from market.league.pool import Strategy

__all__ = ["Episode", "Job", "PayoffEstimate", "estimate", "play_episode", "play_episodes", "profiles", "rating_episodes"]


@dataclass(frozen=True, slots=True)
class Job:
    """One episode to play: a strategy per slot, on the k-th held-out seed."""

    strategies: tuple[Strategy, ...]
    seed_index: int


@dataclass(frozen=True, slots=True)
class Episode:
    """One played episode: the strategy names per slot, the seed's index, and each slot's payoff."""

    strategies: tuple[str, ...]
    seed_index: int
    payoffs: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"strategies": list(self.strategies), "seed_index": self.seed_index, "payoffs": list(self.payoffs)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Episode:
        return cls(tuple(data["strategies"]), int(data["seed_index"]), tuple(float(v) for v in data["payoffs"]))


def profiles(pools: Mapping[str, Sequence[Strategy]]) -> list[tuple[Strategy, ...]]:
    """Every profile of the game, in a fixed order: the product of the pools (one pool: focal x others)."""
    axes = list(pools.values())
    if len(axes) == 1:
        axes = [axes[0], axes[0]]
    return list(itertools.product(*axes))


def play_episode(env_config: Mapping[str, Any], strategies: Sequence[Strategy], seed: int, seed_index: int) -> Episode:
    """Play one profile on one seed and return each slot's payoff (see the module docstring).

    Args:
        env_config: the market's env config (a MarketConfig mapping).
        strategies: one strategy per learning population, or (focal, others) for one population.
        seed: the episode's root seed.
        seed_index: which held-out seed this is (chooses the focal agent of a symmetric game).
    """
    import torch

    from market.league.pool import learning_populations, strategy_policy
    from market.simulation import run_market
    from market.training.envs import make_market_env

    torch.set_num_threads(1)
    env = make_market_env(dict(env_config))
    config = env.config
    learners = learning_populations(config)
    pnl = AgentPnl()
    if len(learners) == 1:
        population = learners[0]
        agents = population.agent_names()
        focal = agents[seed_index % len(agents)]
        focal_policy, others_policy = (strategy_policy(s, config) for s in strategies)
        policies = {agent: focal_policy if agent == focal else others_policy for agent in agents}
        run_market(env, policies, seed=seed, observers=[pnl])
        others = [pnl.values[a] for a in agents if a != focal]
        payoffs = (pnl.values[focal], float(np.mean(others)))
    else:
        policies = {p.name: strategy_policy(s, config) for p, s in zip(learners, strategies, strict=True)}
        run_market(env, policies, seed=seed, observers=[pnl])
        payoffs = tuple(float(np.mean([pnl.values[a] for a in p.agent_names()])) for p in learners)
    return Episode(tuple(s.name for s in strategies), seed_index, payoffs)


class AgentPnl:
    """An episode observer keeping every agent's final equity minus its starting equity (``values``)."""

    def start(self, env: Any) -> None:
        self.values: dict[str, float] = {}

    def observe(self, step: int, env: Any) -> None:
        pass

    def finish(self, env: Any) -> None:
        _, _, equity, _ = env.account_arrays()
        change = equity - env.starting_equity
        self.values = {agent: float(change[i]) for i, agent in enumerate(env.all_agents)}


def play_episodes(env_config: Mapping[str, Any], jobs: Sequence[Job], *, eval_seed: int, workers: int) -> list[Episode]:
    """Play every job as a Ray task, at most ``workers`` at a time, and return the episodes in job order.

    Ray must be connected (:func:`market.training.runner.connect`). Job ``k`` plays seed
    ``eval_seed + job.seed_index``.
    """
    import ray

    if workers < 1:
        raise ConfigError(f"--workers: expected at least 1, got {workers}")
    remote = ray.remote(num_cpus=1)(play_episode)
    config = ray.put(dict(env_config))
    results: list[Episode | None] = [None] * len(jobs)
    waiting = list(enumerate(jobs))
    running: dict[Any, int] = {}
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                index, job = waiting.pop(0)
                running[remote.remote(config, job.strategies, eval_seed + job.seed_index, job.seed_index)] = index
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                results[running.pop(ref)] = ray.get(ref)
    except BaseException:
        for ref in running:  # a Ctrl-C or a failed task: stop what is still playing
            ray.cancel(ref, force=True)
        raise
    return [episode for episode in results if episode is not None]


@dataclass(frozen=True, slots=True)
class PayoffEstimate:
    """The empirical game of a set of episodes.

    Attributes:
        populations: the learning populations (one: a symmetric game).
        strategies: the strategy names of each population's pool.
        means: one array per slot's payoff with one axis per slot (symmetric: one ``[i, j]`` matrix).
        counts: episodes per cell (same shape as a mean array).
        ci95: each cell's 95% interval half-width (NaN with fewer than two episodes).
    """

    populations: tuple[str, ...]
    strategies: tuple[tuple[str, ...], ...]
    means: tuple[np.ndarray, ...]
    counts: np.ndarray
    ci95: tuple[np.ndarray, ...]

    @property
    def symmetric(self) -> bool:
        return len(self.populations) == 1

    def game(self) -> Game:
        """The :class:`~market.league.equilibrium.Game` of the means."""
        if int(self.counts.min()) < 1:
            raise ConfigError("payoffs: some profile was never played; a game needs every cell")
        return Game(self.means, symmetric=self.symmetric)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: per population (per slot), the mean, count and 95% matrices as nested lists."""
        slots = self.populations if not self.symmetric else (self.populations[0],)
        return {
            "populations": list(self.populations),
            "strategies": {p: list(s) for p, s in zip(self.populations, self.strategies, strict=True)},
            "symmetric": self.symmetric,
            "counts": self.counts.tolist(),
            "mean": {p: m.tolist() for p, m in zip(slots, self.means, strict=True)},
            "ci95": {p: c.tolist() for p, c in zip(slots, self.ci95, strict=True)},
        }


def estimate(populations: Sequence[str], pools: Mapping[str, Sequence[Strategy]], episodes: Iterable[Episode]) -> PayoffEstimate:
    """The mean, count and 95% interval of every cell from the episodes of the pools' profiles.

    Episodes of strategies no longer in a pool are left out. In a symmetric game only slot 0's payoff
    (the focal agent's) enters the matrix.
    """
    names = [tuple(s.name for s in pools[p]) for p in populations]
    axes = names * 2 if len(populations) == 1 else names
    index = [{name: i for i, name in enumerate(axis)} for axis in axes]
    shape = tuple(len(axis) for axis in axes)
    slots = 1 if len(populations) == 1 else len(populations)
    samples: dict[tuple[int, ...], list[tuple[float, ...]]] = {}
    for episode in episodes:
        if len(episode.strategies) != len(axes) or any(name not in idx for name, idx in zip(episode.strategies, index, strict=True)):
            continue
        cell = tuple(idx[name] for name, idx in zip(episode.strategies, index, strict=True))
        samples.setdefault(cell, []).append(episode.payoffs[:slots])
    counts = np.zeros(shape, dtype=np.int64)
    means = [np.full(shape, math.nan) for _ in range(slots)]
    halves = [np.full(shape, math.nan) for _ in range(slots)]
    for cell, values in samples.items():
        counts[cell] = len(values)
        for slot in range(slots):
            series = [v[slot] for v in values]
            if len(series) >= 2:
                means[slot][cell], halves[slot][cell] = stats.mean_interval(series)
            else:
                means[slot][cell] = series[0]
    return PayoffEstimate(tuple(populations), tuple(names), tuple(means), counts, tuple(halves))


def rating_episodes(populations: Sequence[str], episodes: Iterable[Episode]) -> list[dict[str, float]]:
    """Episodes as ``{population/strategy: payoff}`` for :func:`~market.league.ratings.rate_strategies`.

    A symmetric game's episode rates the focal strategy against the others' (skipped when they are the
    same strategy: a rating needs two); an episode of several populations rates one strategy of each.
    """
    out = []
    for episode in episodes:
        if len(populations) == 1:
            focal, others = episode.strategies
            if focal == others:
                continue
            out.append({f"{populations[0]}/{focal}": episode.payoffs[0], f"{populations[0]}/{others}": episode.payoffs[1]})
        else:
            out.append({f"{p}/{name}": value for p, name, value in zip(populations, episode.strategies, episode.payoffs, strict=True)})
    return out
