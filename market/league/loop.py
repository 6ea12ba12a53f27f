"""The league's loop: generations of payoff estimation, equilibrium, regrets and ratings, kept durably.

Each generation ``g`` (counting from 0):

1. plays every profile of the current pools on the held-out seeds ``0 .. (g + 1) * seeds - 1``
   (``eval_seed + k``), only the (profile, seed) episodes not played before, as Ray tasks
   (:func:`market.league.payoffs.play_episodes`), so each generation sharpens the estimate;
2. estimates the empirical game (means, counts, 95% intervals) and solves it
   (:func:`market.league.equilibrium.solve`);
3. reports each population's mixture, each strategy's regret against the mixtures, and the
   mixture's *pool exploitability*: the largest gain any population has from switching from its
   mixture to a pure strategy of its pool (the equilibrium's regret, in P&L per agent per episode);
4. rates every strategy from every episode played so far (:func:`market.league.ratings.rate_strategies`);
5. with ``iterations`` > 0, trains each population's best response to the mixtures
   (:mod:`market.league.best_response`), adds it to the pool as a frozen checkpoint ``br<g>``, plays
   its profiles on the same seeds, and reports its payoff against the mixtures and its gain over their
   value. The generation's *exploitability* is then the largest gain of any reply, pool strategy or
   best response: how far the mixture is from what the league can find against it.

After each generation the whole state (pools, episodes, generations) is written to
``<out>/checkpoints/<name>/league.json`` through a temporary file, fsync and ``os.replace``: a Ctrl-C
keeps the finished generations readable, and ``resume=True`` continues from the last one. When the
last generation is done one run record is written (:class:`~market.records.RunWriter`, atomically).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from market import limits
from market.errors import ConfigError, Interrupted
from market.league.equilibrium import Equilibrium, solve, strategy_regrets
from market.league.payoffs import Episode, Job, PayoffEstimate, estimate, play_episodes, profiles, rating_episodes
from market.league.pool import Strategy, build_pools
from market.league.ratings import Standing, rate_strategies
from market.records import RunWriter
from market.records.files import fsync_dir, to_jsonable
from market.records.schema import CHECKPOINTS_DIR
from market.scenario import ScenarioConfig

__all__ = ["KIND_LEAGUE", "LEAGUE_FIELD", "M_EXPLOITABILITY", "STATE_FILE", "Generation", "LeagueResult", "LeagueSettings", "exploitability_curve", "read_state", "run_league", "state_path"]

KIND_LEAGUE = "league"
"""The run kind of a league's record."""
STATE_FILE = "league.json"
"""The league's durable state, rewritten after every generation."""
STATE_VERSION = 1
LEAGUE_FIELD = "league"
"""The record's manifest field with the pools, every generation, the standings, the added checkpoints and the episodes."""
M_EXPLOITABILITY = "exploitability"
"""The record's metric: the last generation's exploitability."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LeagueSettings:
    """How long a league plays and on what.

    Attributes:
        generations: rounds of the loop (at least 1).
        seeds: held-out seeds each generation adds to every profile.
        workers: episodes played at once (Ray tasks in flight).
        iterations: PPO iterations of each best response (0: no best responses).
    """

    generations: int
    seeds: int
    workers: int = 1
    iterations: int = 0

    def __post_init__(self) -> None:
        limits.check_size("--generations", self.generations, limits.MAX_ITERATIONS)
        limits.check_size("--seeds", self.seeds, limits.MAX_SEEDS)
        limits.check_size("--seeds x --generations", self.seeds * self.generations, limits.MAX_SEEDS)
        limits.check_size("--workers", self.workers, 1024)
        limits.check_size("--iterations", self.iterations, limits.MAX_ITERATIONS, minimum=0)


@dataclass(frozen=True, slots=True)
class Generation:
    """What one generation found.

    Attributes:
        number: the generation, from 1.
        seeds: held-out seeds behind every cell so far.
        payoffs: the empirical game.
        equilibrium: the mixtures solve found, their values and regret.
        regrets: per population, each strategy's shortfall against that population's best reply.
        exploitability: the mixture's exploitability: the largest gain any population has from
            leaving the mixture for its best reply among its pool and its new best response (the
            pool's best reply alone without best responses), in P&L per agent per episode.
        standings: the ratings of every strategy after every episode so far.
        best_responses: per population, the best response trained against the mixture: its
            strategy name, checkpoint, payoff against the mixture and gain over the mixture's value.
    """

    number: int
    seeds: int
    payoffs: PayoffEstimate
    equilibrium: Equilibrium
    regrets: tuple[np.ndarray, ...]
    exploitability: float
    standings: tuple[Standing, ...]
    best_responses: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        populations = self.payoffs.populations
        names = self.payoffs.strategies
        return {
            "generation": self.number,
            "seeds": self.seeds,
            "payoffs": self.payoffs.as_dict(),
            "mixtures": {p: dict(zip(n, m.tolist(), strict=True)) for p, n, m in zip(populations, names, self.equilibrium.mixtures, strict=True)},
            "values": dict(zip(populations, self.equilibrium.values, strict=True)),
            "regrets": {p: dict(zip(n, r.tolist(), strict=True)) for p, n, r in zip(populations, names, self.regrets, strict=True)},
            M_EXPLOITABILITY: self.exploitability,
            "pool_regret": self.equilibrium.regret,
            "best_responses": self.best_responses,
            "method": self.equilibrium.method,
            "standings": [_standing_dict(s) for s in self.standings],
        }


def _standing_dict(standing: Standing) -> dict[str, Any]:
    return {"strategy": standing.strategy, "mu": standing.mu, "sigma": standing.sigma, "ordinal": standing.ordinal, "episodes": standing.episodes, "mean_payoff": standing.mean_payoff}


@dataclass(frozen=True, slots=True)
class LeagueResult:
    """A finished league: its record, its generations (this session's and earlier ones') and pools."""

    run_path: Path
    generations: list[dict[str, Any]]
    pools: dict[str, tuple[Strategy, ...]]
    episodes: int = 0
    added: list[str] = field(default_factory=list)
    curve: list[dict[str, Any]] = field(default_factory=list)
    """Per generation, its exploitability then and against the final pool (:func:`exploitability_curve`)."""


def state_path(out: Path, name: str) -> Path:
    """Where a league's state is kept: ``<out>/checkpoints/<name>/league.json``."""
    return Path(out) / CHECKPOINTS_DIR / name / STATE_FILE


def read_state(out: Path, name: str) -> dict[str, Any]:
    """A league's state as written after its last finished generation.

    Raises:
        ConfigError: no state (not a league, or none of its generations finished) or a damaged one.
    """
    path = state_path(out, name)
    if not path.is_file():
        raise ConfigError(f"--resume {name}: no league state at {path} (not a league run, or none of its generations finished)")
    try:
        state = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"--resume {name}: {path} is damaged ({type(error).__name__})") from None
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise ConfigError(f"--resume {name}: {path} is not a league state of version {STATE_VERSION}")
    return state


def _write_state(path: Path, state: Mapping[str, Any]) -> None:
    """Write the state through a temporary file, fsync and ``os.replace``: the old one or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.tmp")
    with open(temporary, "w") as handle:
        json.dump(to_jsonable(state, STATE_FILE), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_dir(path.parent)


def run_league(
    scenario: ScenarioConfig,
    settings: LeagueSettings,
    *,
    out: Path,
    name: str,
    source: str,
    quick: bool = False,
    resume: bool = False,
    address: str | None = None,
    on_generation: Callable[[Generation], None] | None = None,
    respond: Responder | None = None,
) -> LeagueResult:
    """Play the league's generations, keep each durably, and write one run record at the end.

    Args:
        scenario: the loaded scenario (quick mode applied if wanted).
        settings: generations, seeds per generation and workers.
        out: the runs folder.
        name: the run's name (the record is ``out/name``, the state ``out/checkpoints/name/league.json``).
        source: the scenario as the user named it (kept in the state, to resume with the same one).
        quick: whether the scenario's quick mode is on (kept in the state and checked on resume).
        resume: continue the league ``name`` from its last finished generation.
        address: a Ray cluster to join instead of a local Ray.
        on_generation: called after each generation (the CLI's tables).
        respond: the best-response oracle; by default PPO with ``settings.iterations`` iterations
            (none when they are 0).

    Raises:
        ConfigError: bad pools or settings, a run that exists, or a state that does not match.
        Interrupted: Ctrl-C; the finished generations stay in the state, to resume.
    """
    from market.scenario_run import training_config
    from market.training.runner import connect

    pools = build_pools(scenario)
    record = Path(out) / name
    if record.exists():
        raise ConfigError(f"{record}: a run of this name already exists{'; the league had finished' if resume else ''}")
    path = state_path(out, name)
    state: dict[str, Any]
    if resume:
        state = read_state(out, name)
        if state["scenario"] != scenario.name or state["quick"] != quick or state["seeds"] != settings.seeds:
            raise ConfigError(
                f"--resume {name}: the league played {state['scenario']!r}{' (quick)' if state['quick'] else ''} with "
                f"{state['seeds']} seeds per generation, not {scenario.name!r}{' (quick)' if quick else ''} with {settings.seeds}"
            )
        added = tuple(Strategy.from_dict(s) for s in state["added"])
        pools = build_pools(scenario, added)
        if len(state["generations"]) >= settings.generations:
            raise ConfigError(f"--resume {name}: {len(state['generations'])} generations are done already; ask for more with --generations")
    else:
        if path.parent.exists():
            raise ConfigError(f"{path.parent}: already exists; choose another run name")
        state = {"version": STATE_VERSION, "scenario": scenario.name, "source": source, "quick": quick, "seeds": settings.seeds, "added": [], "episodes": [], "generations": []}
    training = training_config(scenario)
    env_config = training.env_config
    if respond is None and settings.iterations:
        from market.league.best_response import PPOResponder

        respond = PPOResponder(scenario, iterations=settings.iterations, out=Path(out), name=name, address=address)
    populations = tuple(pools)
    episodes = [Episode.from_dict(e) for e in state["episodes"]]
    connect(address)
    done = len(state["generations"])
    try:
        for number in range(done + 1, settings.generations + 1):
            seeds = number * settings.seeds
            played = {(e.strategies, e.seed_index) for e in episodes}
            jobs = [Job(profile, k) for k in range(seeds) for profile in profiles(pools) if (tuple(s.name for s in profile), k) not in played]
            episodes.extend(play_episodes(env_config, jobs, eval_seed=training.eval_seed, workers=settings.workers))
            generation = _generation(number, seeds, populations, pools, episodes, seed=training.seed + number)
            if respond is not None:
                pools, generation = _best_responses(respond, scenario, generation, pools, state)
                jobs = [Job(profile, k) for k in range(seeds) for profile in profiles(pools) if (tuple(s.name for s in profile), k) not in {(e.strategies, e.seed_index) for e in episodes}]
                episodes.extend(play_episodes(env_config, jobs, eval_seed=training.eval_seed, workers=settings.workers))
                generation = _exploitability(generation, populations, pools, episodes)
            state["episodes"] = [e.as_dict() for e in episodes]
            state["generations"].append(generation.as_dict())
            _write_state(path, state)
            if on_generation is not None:
                on_generation(generation)
    except (KeyboardInterrupt, Interrupted):
        finished = len(state["generations"])
        if finished == 0:
            raise Interrupted("no generation had finished; the league's state was not written") from None
        raise Interrupted(f"generations 1..{finished} are kept in {path}; continue with: market league {source} --resume {name} --out {out}") from None
    curve = _write_record(scenario, settings, state, pools, out=out, name=name, seed=training.seed)
    return LeagueResult(record, state["generations"], pools, len(episodes), [s["name"] for s in state["added"]], curve)


def _generation(number: int, seeds: int, populations: Sequence[str], pools: Mapping[str, Sequence[Strategy]], episodes: Sequence[Episode], *, seed: int) -> Generation:
    """Estimate, solve, measure regrets and rate, from every episode so far (in a fixed order)."""
    ordered = sorted(episodes, key=lambda e: (e.seed_index, e.strategies))
    payoffs = estimate(populations, pools, ordered)
    game = payoffs.game()
    equilibrium = solve(game, np.random.default_rng(seed))
    regrets = tuple(strategy_regrets(game, equilibrium.mixtures))
    standings = tuple(rate_strategies(rating_episodes(populations, ordered)))
    return Generation(number, seeds, payoffs, equilibrium, regrets, equilibrium.regret, standings)


Responder = Callable[[str, Mapping[str, tuple[Strategy, ...]], Sequence[np.ndarray], int], Strategy]
"""A best-response oracle: ``respond(population, pools, mixtures, generation)`` returns a strategy of
``population`` meant to beat the other populations' (or its fellows') ``mixtures``: by default PPO
(:class:`~market.league.best_response.PPOResponder`)."""


def _best_responses(
    respond: Responder, scenario: ScenarioConfig, generation: Generation, pools: Mapping[str, tuple[Strategy, ...]], state: dict[str, Any]
) -> tuple[dict[str, tuple[Strategy, ...]], Generation]:
    """Each population's best response to the generation's mixtures, added to its pool."""
    from market.league.pool import strategy_policy

    grown = dict(pools)
    added: dict[str, dict[str, Any]] = {}
    for population in pools:
        strategy = respond(population, pools, generation.equilibrium.mixtures, generation.number)
        while any(s.name == strategy.name for s in grown[population]):  # a scenario's own strategy took the name
            strategy = dataclasses.replace(strategy, name=f"{strategy.name}_")
        strategy_policy(strategy, scenario.market_config())  # it loads and plays on the population's spaces
        grown[population] = (*grown[population], strategy)
        state["added"].append(strategy.as_dict())
        added[population] = {"strategy": strategy.name, "policy": strategy.policy}
    return grown, dataclasses.replace(generation, best_responses=added)


def _exploitability(generation: Generation, populations: Sequence[str], pools: Mapping[str, Sequence[Strategy]], episodes: Sequence[Episode]) -> Generation:
    """Each best response's payoff against the generation's mixtures and its gain over their value,
    on the held-out seeds so far; the exploitability is the largest gain of any reply (pool or best response)."""
    from market.league.equilibrium import expected_payoffs

    ordered = sorted(episodes, key=lambda e: (e.seed_index, e.strategies))
    grown = estimate(populations, pools, ordered)
    padded = [np.concatenate([m, np.zeros(len(names) - len(m))]) for m, names in zip(generation.equilibrium.mixtures, grown.strategies, strict=True)]
    values = expected_payoffs(grown.game(), padded)
    responses = {p: dict(r) for p, r in generation.best_responses.items()}
    gains = []
    for p, (population, reply) in enumerate(zip(populations, values, strict=True)):
        value = float(reply @ padded[p])
        index = grown.strategies[p].index(responses[population]["strategy"])
        responses[population].update(payoff=float(reply[index]), mixture_value=value, gain=float(reply[index]) - value)
        gains.append(float(reply.max()) - value)
    return dataclasses.replace(generation, best_responses=responses, exploitability=max(0.0, max(gains)))


def exploitability_curve(generations: Sequence[Mapping[str, Any]], payoffs: PayoffEstimate) -> list[dict[str, Any]]:
    """Each generation's exploitability twice: as the league measured it then (against its pool and
    its new best responses), and against the final pool, every best response of every generation
    included, on the final payoff estimate (every seed played).

    The second is one yardstick for all generations: a mixture found early is measured against the
    replies the league found later, so the curve shows whether the league's mixtures became harder
    to exploit by what the league can find. Each generation's mixture is padded with zeros for the
    strategies added after it.
    """
    from market.league.equilibrium import regret

    game = payoffs.game()
    curve = []
    for generation in generations:
        mixtures = [np.array([generation["mixtures"][p].get(name, 0.0) for name in names]) for p, names in zip(payoffs.populations, payoffs.strategies, strict=True)]
        curve.append({"generation": generation["generation"], M_EXPLOITABILITY: generation[M_EXPLOITABILITY], "final_pool_exploitability": regret(game, mixtures)})
    return curve


def _write_record(
    scenario: ScenarioConfig, settings: LeagueSettings, state: Mapping[str, Any], pools: Mapping[str, Sequence[Strategy]], *, out: Path, name: str, seed: int
) -> list[dict[str, Any]]:
    """The league's run record: config, every generation, the exploitability curve, the final standings
    and the added checkpoints. Returns the curve."""
    generations = state["generations"]
    last = generations[-1]
    episodes = sorted((Episode.from_dict(e) for e in state["episodes"]), key=lambda e: (e.seed_index, e.strategies))
    curve = exploitability_curve(generations, estimate(tuple(pools), pools, episodes))
    config = {"scenario": scenario.name, "source": state["source"], "quick": state["quick"], "generations": len(generations), "seeds_per_generation": settings.seeds, "market": scenario.market}
    with RunWriter(out, name, kind=KIND_LEAGUE, config=config, seed=seed, scenario=scenario.name) as writer:
        writer.set_field(LEAGUE_FIELD, {
            "pools": {p: [s.as_dict() for s in pool] for p, pool in pools.items()},
            "generations": generations,
            "standings": last["standings"],
            "curve": curve,
            "checkpoints": [s["policy"] for s in state["added"]],
            "episodes": state["episodes"],
        })
        writer.set_metrics({M_EXPLOITABILITY: last[M_EXPLOITABILITY], "final_pool_exploitability": curve[-1]["final_pool_exploitability"], "generations": len(generations), "episodes": len(state["episodes"]), **{f"{p}_value": v for p, v in last["values"].items()}})
    return curve
