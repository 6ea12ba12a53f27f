"""Running market episodes: :func:`run_market` for any market env, :func:`simulate` for ``market simulate``.

:func:`run_market` composes the parts of a market run: the episode loop
(:func:`~market.simulation.episode.play_episode`), the summary
(:class:`~market.simulation.summary.SummaryCollector`) and, with a writer, the recorder
(:class:`~market.simulation.recorder.StepRecorder`). :func:`simulate` builds the all-scripted
market of a :class:`~market.simulation.ecology.SimulationSpec`, runs it and writes a complete run
record; :func:`run_facts` reads the stylized facts back from a record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from market.agents.policy import Policy
from market.analysis.flows import flows_columns, parts_columns
from market.data.facts import MIN_RETURNS, stylized_facts
from market.envs.market_config import MarketConfig
from market.envs.market_v0 import MarketEnv
from market.errors import MarketError
from market.records import schema as s
from market.records.io import RunReader, RunWriter
from market.simulation.ecology import (
    ECOLOGY,
    FUNDAMENTAL_MODEL,
    FUNDAMENTAL_PARAMS,
    FUNDAMENTAL_STREAM,
    Archetype,
    SimulationSpec,
    scripted_market,
)
from market.simulation.episode import EpisodeObserver, Progress, play_episode
from market.simulation.recorder import RECORD_AGENTS, RECORD_POPULATIONS, StepRecorder, check_record, driven_count, record_mode
from market.simulation.summary import MarketRunSummary, SummaryCollector, mid_facts

__all__ = ["SimulationResult", "run_facts", "run_market", "run_name", "simulate"]


def run_market(
    env: MarketEnv,
    policies: Mapping[str, Policy],
    *,
    seed: int,
    writer: RunWriter | None = None,
    book_levels: int = 5,
    progress: Progress | None = None,
    observers: Sequence[EpisodeObserver] = (),
    record: str | None = None,
) -> MarketRunSummary:
    """Play one episode of a market env to its end, acting for its PettingZoo agents, and summarize it.

    See :func:`~market.simulation.episode.play_episode` for who acts and when the episode ends,
    and :class:`~market.simulation.recorder.StepRecorder` for the rows written with a writer.

    Args:
        env: the market.
        policies: a policy per PettingZoo population (``policy=None`` in the config), by name, or
            one per agent, by agent name.
        seed: the root seed: the env is reset with it, and the agents' streams come from it.
        writer: an open run writer, or ``None`` to only summarize.
        book_levels: price levels per side in each book snapshot (0 for none).
        progress: called as ``progress(steps_done, max_steps)`` after every step.
        observers: more observers of the episode (for example other accounting or another
            recorder), told after the summary's collector and the recorder.
        record: with a writer, ``"agents"`` (a ``steps`` row per agent) or ``"populations"`` (the
            populations driven inside the env in aggregate: :class:`~market.simulation.recorder.StepRecorder`);
            ``None``: populations when more than :data:`~market.simulation.recorder.AGENTS_RECORDED_UP_TO`
            agents are driven inside the env (a scenario's large background), agents otherwise.

    Returns:
        The run's summary, with its flows (:mod:`market.analysis.flows`); a writer also gets them
        as the ``flows`` and ``flow_parts`` tables.

    Raises:
        ConfigError: a PettingZoo population without a policy, a
            negative ``book_levels`` or an unknown ``record``.
    """
    collector = SummaryCollector()
    parts: list[EpisodeObserver] = [collector]
    if writer is not None:
        parts.append(StepRecorder(writer, book_levels, record_mode(record, driven_count(env.config))))
    play_episode(env, policies, seed=seed, observers=[*parts, *observers], progress=progress)
    if writer is not None and collector.flows is not None:
        writer.append(s.FLOWS, flows_columns(collector.flows))
        writer.append(s.FLOW_PARTS, parts_columns(collector.flows))
    return collector.summary()


# ---------------------------------------------------------------------------- simulate
@dataclass(frozen=True, slots=True)
class SimulationResult:
    """A finished ``simulate`` run: where its record is, and its summary."""

    path: Path
    summary: MarketRunSummary


def run_name(spec: SimulationSpec, now: datetime | None = None) -> str:
    """The default run name: kind, seed and UTC time, ``simulate-seed0-20250101T120000.000000Z``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{s.KIND_SIMULATE}-seed{spec.seed}-{moment.strftime('%Y%m%dT%H%M%S.%fZ')}"


def _manifest_config(
    spec: SimulationSpec,
    config: MarketConfig,
    fundamental_given: bool,
    ecology: Mapping[str, Archetype],
    fundamental_params: Mapping[str, float],
    record: str,
) -> dict[str, Any]:
    """What the manifest records: the spec, the ecology and the market, with the fundamental's source."""
    source: dict[str, Any]
    if fundamental_given:
        values = config.fundamental
        source = {"source": "given", "length": len(values), "first": values[0], "last": values[-1]}
    else:
        source = {"source": FUNDAMENTAL_MODEL, "params": dict(fundamental_params), "spawn_key": FUNDAMENTAL_STREAM}
    return {
        "simulation": spec,
        "ecology": {name: ecology[name] for name, count in spec.counts().items() if count > 0},
        "market": replace(config, fundamental=()),
        "fundamental": source,
        "record": record,
    }


def simulate(
    spec: SimulationSpec,
    *,
    out: Path | str,
    name: str | None = None,
    fundamental: Sequence[float] | np.ndarray | None = None,
    book_levels: int = 5,
    progress: Progress | None = None,
    record: str = RECORD_AGENTS,
    ecology: Mapping[str, Archetype] = ECOLOGY,
    fundamental_params: Mapping[str, float] = FUNDAMENTAL_PARAMS,
) -> SimulationResult:
    """Run the all-scripted market of ``spec`` for one episode and write it as a run record at ``out/<name>``.

    The record's manifest holds the spec, the ecology and the market config (kind ``simulate``,
    the seed), and as metrics the run's summary and the stylized facts of the mid
    (:meth:`MarketRunSummary.metrics`; no facts for a run shorter than
    :data:`market.data.facts.MIN_RETURNS` steps). Tables: ``steps``, ``trades``, ``book``, ``flows``, ``flow_parts``.

    With ``spec.steps_per_bar`` above 1 the facts are those of the mid every ``steps_per_bar`` steps
    (the bars of the data a fitted ecology matched), with each bar's volume.

    ``record="populations"`` is the form for large populations: the ecology is driven inside the env
    (:func:`scripted_market` with ``driven``: each population decides in one call, each agent draws
    from the env's streams, so the same seed plays another episode than an ``agents`` run) and is
    recorded in aggregate, a ``populations`` row per population per step instead of a ``steps`` row
    per agent (:class:`~market.simulation.recorder.StepRecorder`).

    Args:
        spec: the population counts, steps, clearing and root seed (its defaults are the default ecology).
        out: the runs folder.
        name: the run's folder name; by default from kind, seed and UTC time (:func:`run_name`).
        fundamental: per-step fundamental prices in ticks, or ``None`` for the seeded default.
        book_levels: price levels per side in each book snapshot.
        progress: called as ``progress(steps_done, steps)`` after every step.
        record: ``"agents"`` (every agent acted for by the runner, a ``steps`` row each) or ``"populations"``.
        ecology: the trader of each population (a fitted ecology from ``market calibrate``, or the default).
        fundamental_params: the default fundamental's parameters (unused when ``fundamental`` is given).

    Returns:
        The run's path and summary.

    Raises:
        ConfigError: a bad fundamental, ``book_levels`` or ``record`` (the spec checked its own settings).
        RecordError: the run cannot be written (for example, the name is taken).
    """
    driven = check_record(record) == RECORD_POPULATIONS
    config, policies = scripted_market(spec, fundamental, driven=driven, ecology=ecology, fundamental_params=fundamental_params)
    env = MarketEnv(config, policies) if driven else MarketEnv(config)
    writer = RunWriter(
        out,
        name or run_name(spec),
        kind=s.KIND_SIMULATE,
        config=_manifest_config(spec, config, fundamental is not None, ecology, fundamental_params, record),
        seed=spec.seed,
    )
    bars = _Bars()
    with writer:
        summary = run_market(
            env, {} if driven else policies, seed=spec.seed, writer=writer, book_levels=book_levels, progress=progress, record=record,
            observers=[bars] if spec.steps_per_bar > 1 else [],
        )
        if spec.steps_per_bar > 1:  # the facts of the bars the ecology was fitted to, not of single steps
            summary = replace(summary, facts=mid_facts(np.asarray(bars.mids), np.asarray(bars.volumes), spec.steps_per_bar))
        writer.set_metrics(summary.metrics())
    return SimulationResult(writer.path, summary)


class _Bars:
    """An episode observer that keeps the mid and the traded volume of every step, for facts per bar."""

    def start(self, env: MarketEnv) -> None:
        self.mids: list[float] = [env.mid]
        self.volumes: list[int] = []

    def observe(self, step: int, env: MarketEnv) -> None:
        self.mids.append(env.mid)
        self.volumes.append(sum(fill.qty for fill in env.last_fills))

    def finish(self, env: MarketEnv) -> None:
        pass


def run_facts(path: str | Path) -> dict[str, float]:
    """Stylized facts of a recorded market run: the mid's log returns and traded volume, per step or per bar.

    The returns are those between the recorded mids (the mid after each step), so a run needs
    :data:`market.data.facts.MIN_RETURNS` + 1 recorded steps; a ``simulate`` run of a spec with
    ``steps_per_bar`` above 1 (a fitted ecology's) is measured per bar of that many steps, and
    needs that many bars.

    Raises:
        RecordError: when the run cannot be read; MarketError when it has too few steps to measure.
    """
    reader = RunReader(path)
    steps = reader.read(s.STEPS, columns=[s.STEP, s.PRICE])
    mids = steps.groupby(s.STEP, sort=True)[s.PRICE].first().to_numpy(dtype=np.float64)
    if len(mids) < MIN_RETURNS + 1:
        raise MarketError(f"{path}: only {len(mids)} steps recorded; stylized facts need at least {MIN_RETURNS + 1}")
    spec = reader.manifest["config"].get("simulation") or {}  # a scenario's run, or one recorded before bars, has none
    k = int(spec.get("steps_per_bar") or 1)
    if k > 1:
        if (len(mids) - k) // k < MIN_RETURNS:
            raise MarketError(f"{path}: only {(len(mids) - k) // k} bars of {k} steps recorded; stylized facts need at least {MIN_RETURNS}")
        # the bars of simulate's facts after the first (the mid before step 0 is not recorded): from the mid after step k - 1
        per_step = None
        if s.TRADES in reader.tables:
            trades = reader.read(s.TRADES, columns=[s.STEP, s.QTY])
            per_step = trades.groupby(s.STEP)[s.QTY].sum().reindex(range(len(mids)), fill_value=0).to_numpy(dtype=np.float64)[k:]
        return mid_facts(mids[k - 1 :], per_step, k)
    returns = np.diff(np.log(mids))
    volume = None
    if s.TRADES in reader.tables:
        trades = reader.read(s.TRADES, columns=[s.STEP, s.QTY])
        per_step = trades.groupby(s.STEP)[s.QTY].sum()
        volume = per_step.reindex(range(len(mids)), fill_value=0).to_numpy(dtype=np.float64)[1:]
    return stylized_facts(returns, volume)
