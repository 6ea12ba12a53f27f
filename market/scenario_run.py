"""Running a scenario: train its learning populations, evaluate over held-out seeds, record one run.

``run_scenario`` turns a :class:`~market.scenario.ScenarioConfig` into a TrainingConfig, trains
(through :func:`market.training.runner.train`, into the scenario's own run record), then evaluates
the final checkpoint's policies with deterministic actions: a market scenario over ``seeds`` held-out
seeds (the first episode is recorded: every agent's steps, or with ``record="populations"`` the
learners' and the background's populations in aggregate, the trades, the book); a trading scenario
by backtesting the held-out period beside buy and hold. Metrics go into the manifest with a 95%
confidence interval per metric and population (Student's t over the held-out episodes,
:func:`market.stats.mean_interval`).
An interrupted run (Ctrl-C) leaves only a ``.partial`` folder, which never reads as a run.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from market import comparison, limits, stats
from market.comparison import STRATEGY_PREFIX, VERSUS_PREFIX
from market.errors import ConfigError, Interrupted
from market.records import RunWriter
from market.records.schema import KIND_SCENARIO
from market.scenario import ScenarioConfig, ScenarioKind, training_settings

@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """A finished scenario run: its record, checkpoint, and metrics as (mean, ci95 half-width)."""

    run_path: Path
    checkpoint: Path | None
    metrics: dict[str, tuple[float, float]]


def _data_frame(scenario: ScenarioConfig) -> Any:
    """The prices of a trading scenario: the bundled sample, a file, or a seeded generator."""
    from market.data import load_prices, load_sample, synthetic

    data = scenario.data
    if data.source == "sample":
        return load_sample()
    if data.source in synthetic.GENERATORS:
        return synthetic.generate(data.source, np.random.default_rng(data.seed), data.bars, **dict(data.params))
    return load_prices(data.source)


def _panel(scenario: ScenarioConfig) -> Any:
    """The panel of a portfolio scenario: the bundled one, a folder of per-asset files, or a wide CSV."""
    from market.data import load_sample_panel
    from market.data.panel import load_panel

    source = scenario.data.source
    if source == "sample":
        return load_sample_panel()
    return load_panel(source, wide=not Path(source).is_dir())


def _market_env_config(scenario: ScenarioConfig) -> dict[str, Any]:
    config = scenario.market_config()
    return {**scenario.market, "populations": [dataclasses.asdict(p) for p in config.populations], "fundamental": config.fundamental}


class PlaySettings(NamedTuple):
    """What an evaluation-only market scenario (no learning population) plays: the market and the seeds."""

    env_config: dict[str, Any]
    seed: int
    eval_seed: int


def training_config(scenario: ScenarioConfig, *, seed: int = 0):
    """The TrainingConfig a scenario trains with (env and env_config from its kind and tables); for a
    market scenario that does not train, the :class:`PlaySettings` its evaluation plays."""
    from market.config import from_mapping
    from market.training.configs import TrainingConfig

    settings = from_mapping(TrainingConfig, {**training_settings(scenario), "seed": seed}, "training")
    if scenario.kind is ScenarioKind.MARKET:
        if not scenario.learns:
            return PlaySettings(_market_env_config(scenario), settings.seed, settings.eval_seed)
        return dataclasses.replace(settings, env="market", env_config=_market_env_config(scenario))
    if scenario.kind is ScenarioKind.PORTFOLIO:
        panel = _panel(scenario)
        split = str(panel.times[int(len(panel.times) * scenario.data.split)])
        env_config = {**scenario.portfolio, "data": panel, "end": split}
        return dataclasses.replace(settings, env="portfolio", env_config=env_config, eval_env_config={"start": split, "end": None, "max_steps": None})
    prices = _data_frame(scenario)
    split = str(prices.index[int(len(prices) * scenario.data.split)])
    env_config = {**scenario.trading, "data": prices, "end": split}
    return dataclasses.replace(settings, env="trading", env_config=env_config, eval_env_config={"start": split, "end": None, "max_steps": None})


def run_scenario(
    scenario: ScenarioConfig,
    *,
    out: Path,
    name: str,
    seeds: int | None = None,
    address: str | None = None,
    on_iteration: Callable[[Any], None] | None = None,
    tracker: Any = None,
    record: str | None = None,
) -> ScenarioResult:
    """Train, evaluate and record one scenario.

    Args:
        scenario: the loaded scenario (quick mode already applied if wanted).
        out: the runs folder.
        name: the run's name.
        seeds: held-out evaluation seeds (default: the scenario's ``evaluation.seeds``).
        address: a Ray cluster to join instead of a local Ray.
        on_iteration: the training progress callback.
        tracker: a :class:`~market.training.tracking.Tracker` for the training curves and the
            evaluation's figures, or None.
        record: how a market scenario's recorded evaluation episode keeps its agents: ``"agents"`` (a
            ``steps`` row per agent, the background's too), ``"populations"`` (the learners row by
            row, each background population in aggregate, a ``populations`` row per step), or
            ``None``: populations when more than
            :data:`~market.simulation.recorder.AGENTS_RECORDED_UP_TO` background agents are driven,
            agents otherwise. The mode used is kept in the record's config.

    Raises:
        ConfigError: an unknown ``record``, or a ``record`` for a trading or portfolio scenario
            (they record a backtest, not a market's agents).
    """
    from market.training.runner import StopConfig, train

    record = scenario_record_mode(scenario, record)
    seeds = scenario.evaluation.seeds if seeds is None else limits.check_size("--seeds", seeds, limits.MAX_SEEDS)
    settings = training_config(scenario)
    config = {
        "scenario": scenario.name,
        "kind": scenario.kind.value,
        "training": dict(scenario.training) if scenario.learns else {},
        "evaluation_seeds": seeds,
        "evaluation": comparison.evaluation_record(scenario),
    }
    if record is not None:
        config["record"] = record
    config[scenario.kind.value] = {ScenarioKind.MARKET: scenario.market, ScenarioKind.TRADING: scenario.trading, ScenarioKind.PORTFOLIO: scenario.portfolio}[scenario.kind]
    training_seeds = scenario.evaluation.training_seeds if scenario.learns else 1
    with RunWriter(out, name, kind=KIND_SCENARIO, config=config, seed=settings.seed, scenario=scenario.name) as writer:
        first: Path | None = None
        per_seed: list[dict[str, tuple[float, float]]] = []
        reuse: dict[str, Any] = {}  # baseline episodes that do not depend on the training seed
        iterations = 0
        checkpoint = None
        try:  # a Ctrl-C while the record is open (RLlib importing, training, evaluating) discards it
            for k in range(training_seeds):  # each training seed trains and is evaluated on the same held-out seeds
                settings = training_config(scenario, seed=k)
                checkpoint = None
                if scenario.learns:
                    result = train(
                        settings,
                        StopConfig(iterations=scenario.iterations()),
                        out=out,
                        name=name if k == 0 else f"{name}_seed{k}",
                        address=address,
                        on_iteration=on_iteration,
                        writer=writer,
                        tracker=tracker,
                        row_prefix="" if k == 0 else f"{SEED_PREFIX}{k}/",
                    )
                    checkpoint, iterations = result.checkpoint, result.iterations
                first = checkpoint if k == 0 else first
                recording = writer if k == 0 else None  # the first seed's evaluation is the one recorded step by step
                if scenario.kind is ScenarioKind.MARKET:
                    per_seed.append(_evaluate_market(scenario, settings, checkpoint, seeds, recording, reuse, record))
                elif scenario.kind is ScenarioKind.PORTFOLIO:
                    per_seed.append(_evaluate_portfolio(scenario, settings, checkpoint, recording, reuse))
                else:
                    per_seed.append(_evaluate_trading(scenario, settings, checkpoint, recording))
        except KeyboardInterrupt:  # training's own Ctrl-C is an Interrupted that names its checkpoint
            kept = f"; training had finished, its checkpoint is kept: {checkpoint}" if checkpoint is not None else ""
            raise Interrupted(f"the unfinished run was not recorded{kept}") from None
        metrics = per_seed[0] if training_seeds == 1 else _over_training_seeds(per_seed)
        writer.set_metrics({**{k: v[0] for k, v in metrics.items()}, "ci95": {k: v[1] for k, v in metrics.items()}})
        if tracker is not None:
            tracker.log_evaluation({k: v[0] for k, v in metrics.items()}, {k: v[1] for k, v in metrics.items()}, step=iterations)
    return ScenarioResult(Path(out) / name, first, metrics)


SEED_PREFIX = "seed_"
"""A training seed's own figures when a scenario trains several: ``seed_<k>/<metric>``."""


def _over_training_seeds(per_seed: list[dict[str, tuple[float, float]]]) -> dict[str, tuple[float, float]]:
    """Every figure as the mean over the training seeds with a 95% t-interval over them (each seed's
    figure is its mean over the held-out episodes), then each seed's own figures under ``seed_<k>/``."""
    combined: dict[str, tuple[float, float]] = {}
    for key in per_seed[0]:
        values = [figures[key][0] for figures in per_seed if key in figures]
        combined[key] = stats.mean_interval(values) if len(values) == len(per_seed) and np.all(np.isfinite(values)) else (math.nan, math.nan)
    for k, figures in enumerate(per_seed):
        combined.update({f"{SEED_PREFIX}{k}/{key}": value for key, value in figures.items()})
    return combined


def scenario_record_mode(scenario: ScenarioConfig, record: str | None, key: str = "record") -> str | None:
    """How a scenario's recorded evaluation episode keeps its agents: for a market scenario ``record``
    checked or the default for its background (:func:`market.simulation.recorder.record_mode`, what
    :func:`market.simulation.run_market` would choose); None for a trading or portfolio scenario.

    Raises:
        ConfigError: naming ``key``: an unknown ``record``, or one given for a trading or portfolio
            scenario (they record a backtest, not a market's agents).
    """
    from market.simulation.recorder import check_record, driven_count, record_mode

    if scenario.kind is ScenarioKind.MARKET:
        return record_mode(record, driven_count(scenario.market_config()), key)
    if record is not None:
        check_record(record, key)
        raise ConfigError(f"{key}: only a market scenario records agents or populations; {scenario.name!r} is a {scenario.kind.value} scenario")
    return None


def _evaluate_market(
    scenario: ScenarioConfig,
    settings: Any,
    checkpoint: Path | None,
    seeds: int,
    writer: RunWriter | None,
    reuse: dict[str, Any] | None = None,
    record: str | None = None,
) -> dict[str, tuple[float, float]]:
    """The trained policies on held-out seeds (their modes, or draws with ``evaluation.explore``), the
    first episode recorded; then again with each rule of ``evaluation.without_rules`` off, with each
    of ``evaluation.counts``, and with each of ``evaluation.baselines`` in place of its population (a
    learning one, or a scripted one whose policy it replaces). A scenario without learning populations
    (``checkpoint`` None) plays its market as written.
    Every figure of :func:`_collect` as mean and 95% interval, the per-episode P&L Sharpe and
    terminal-inventory spread of every learning population, and the paired differences learned minus
    each baseline (:func:`_compare`).

    ``reuse`` carries, from one training seed's evaluation to the next, the episodes of baselines
    that no trained policy plays in (a baseline in the place of the only learning population): they
    are the same episodes whatever the training seed, so they are played once. ``record`` is how the
    recorded episode keeps its agents (:func:`market.simulation.run_market`'s ``record``)."""
    from market.agents.scripted import build_policy, population_limits
    from market.agents.trained import load_policy
    from market.simulation import run_market
    from market.training.configs import learning_modules
    from market.training.envs import make_market_env

    modules = learning_modules(settings) if checkpoint is not None else []
    trained = {module: load_policy(checkpoint, module=module, explore=scenario.evaluation.explore) for module in modules}
    per_metric: dict[str, list[float]] = {}
    jump_at = scenario.fundamental.jump_at if scenario.fundamental is not None else None
    episodes = seeds * scenario.evaluation.episodes

    schedules: dict[str, dict[str, list[float]]] = {}  # strategy label: executor population: mean share left after each step

    def play(changes: dict[str, Any], prefix: str, recording: RunWriter | None = None, policies: dict[str, Any] = trained, label: str | None = None) -> None:
        curves: dict[str, list[tuple[float, ...]]] = {}
        for k in range(episodes):
            env = make_market_env({**settings.env_config, **changes})
            summary = run_market(env, policies, seed=settings.eval_seed + k, writer=recording if k == 0 else None, record=record)
            _collect(per_metric, summary, prefix, jump_at)
            for population, curve in summary.schedules.items():
                curves.setdefault(population, []).append(curve)
        if label is not None and curves:
            schedules[label] = {population: np.mean(np.array(c), axis=0).tolist() for population, c in curves.items() if len({len(x) for x in c}) == 1}

    play({}, "", writer, label=scenario.label)
    for rule in scenario.evaluation.without_rules:  # the same seeds with one market rule off
        play({"rules": {key: value for key, value in settings.env_config.get("rules", {}).items() if key != rule}}, f"without_{rule}/")
    vary = scenario.evaluation.vary
    for count in scenario.evaluation.counts:  # the same seeds with the varied population at each count
        play({"populations": [dict(p, count=count) if p["name"] == vary else p for p in settings.env_config["populations"]]}, f"{vary}_count_{count}/")
    market = scenario.market_config()
    for baseline in scenario.evaluation.baselines:  # the same seeds with a scripted strategy in a population's place
        own = baseline.population
        population = next(p for p in market.populations if p.name == own)
        prefix = f"{STRATEGY_PREFIX}{baseline.name}/"
        if not population.learner:  # a scripted population: the env builds the baseline from its config
            swapped = [dict(p, policy=baseline.policy, params=dict(baseline.params)) if p["name"] == own else p for p in settings.env_config["populations"]]
            play({"populations": swapped}, prefix, label=baseline.name)
            continue
        others = {key: policy for key, policy in trained.items() if key != own and not key.startswith(f"{own}_")}
        if not others and reuse is not None and baseline.name in reuse:  # played already, by an earlier training seed
            figures, schedule = reuse[baseline.name]
            per_metric.update({key: list(values) for key, values in figures.items()})
            schedules.update(schedule)
            continue
        scripted = build_policy(
            baseline.policy, dict(baseline.params), window=market.window, population=own, **population_limits(population)
        )
        play({}, prefix, policies={**others, own: scripted}, label=baseline.name)
        if not others and reuse is not None:
            reuse[baseline.name] = (
                {key: list(values) for key, values in per_metric.items() if key.startswith(prefix)},
                {label: curve for label, curve in schedules.items() if label == baseline.name},
            )
    if schedules and writer is not None:
        writer.set_field(comparison.SCHEDULES, schedules)
    compared = [p.name for p in scenario.populations] or sorted({b.population for b in scenario.evaluation.baselines})
    return {**{key: _interval(values) for key, values in per_metric.items()}, **_compare(per_metric, scenario, compared)}


PAIRED_METRICS = ("pnl", "spread_capture", "mean_abs_inventory", "quoted_spread", "shortfall_bps", "fill_completion", "impact_bps")
"""Per-population figures compared seed by seed between the learned policy and each baseline."""


def _interval(values: list[float]) -> tuple[float, float]:
    """Mean and 95% half-width over episodes; NaN for both when an episode has no value (NaN)."""
    if not np.all(np.isfinite(values)):
        return math.nan, math.nan
    return stats.mean_interval(values)


def _compare(per_metric: dict[str, list[float]], scenario: ScenarioConfig, compared: list[str]) -> dict[str, tuple[float, float]]:
    """Per strategy (the market as written, unprefixed, and each baseline) and compared population
    (the learning ones, or those the baselines replace): the standard deviation of its per-episode P&L,
    its P&L Sharpe over episodes (mean over that deviation), the standard deviation of its terminal
    inventory and, for executors, of its shortfall, without intervals; and per baseline the paired differences, as written minus baseline,
    of :data:`PAIRED_METRICS` for its population and of the mid's change over the episode, with their
    95% intervals."""
    figures: dict[str, tuple[float, float]] = {}
    prefixes = ["", *(f"{STRATEGY_PREFIX}{b.name}/" for b in scenario.evaluation.baselines)]
    for prefix in prefixes:
        for population in compared:
            pnl = np.asarray(per_metric.get(f"{prefix}{population}_pnl", []), dtype=np.float64)
            final = np.asarray(per_metric.get(f"{prefix}{population}_final_inventory", []), dtype=np.float64)
            if len(pnl) >= 2:
                spread = float(np.std(pnl, ddof=1))
                figures[f"{prefix}{population}_pnl_std"] = (spread, math.nan)
                figures[f"{prefix}{population}_pnl_sharpe"] = (float(pnl.mean()) / spread if spread > 0 else math.nan, math.nan)
                figures[f"{prefix}{population}_final_inventory_std"] = (float(np.std(final, ddof=1)), math.nan)
            shortfall = per_metric.get(f"{prefix}{population}_shortfall_bps", [])
            if len(shortfall) >= 2:
                figures[f"{prefix}{population}_shortfall_bps_std"] = (float(np.std(shortfall, ddof=1)), math.nan)
    for baseline in scenario.evaluation.baselines:
        keys = [f"{baseline.population}_{name}" for name in PAIRED_METRICS] + ["mid_change"]
        for key in keys:
            learned, other = per_metric.get(key), per_metric.get(f"{STRATEGY_PREFIX}{baseline.name}/{key}")
            if learned and other and len(learned) >= 2 and np.all(np.isfinite(learned + other)):
                figures[f"{VERSUS_PREFIX}{baseline.name}/{key}"] = stats.paired_difference(learned, other)
    return figures


def _collect(per_metric: dict[str, list[float]], summary: Any, prefix: str, jump_at: int | None) -> None:
    """One episode's figures, appended per metric (``prefix`` + name).

    Per population: mean return and spread capture. The market: mid change, volume, mean spread, steps
    halted, book depth (mean and least), the mid's max drawdown. With a fundamental: the largest and
    the closing gap between price and value (``|log(mid / fundamental)|``; the closing gap is the mean
    over the last tenth of the steps).
    With a news jump at step ``jump_at``: the gap just after the jump, and the steps until trading has
    closed half of it (NaN when it never does).
    """

    def add(key: str, value: float) -> None:
        per_metric.setdefault(prefix + key, []).append(float(value))

    for population, value in summary.mean_return.items():
        add(f"{population}_mean_return", value)
    for population, value in summary.spread_capture.items():
        add(f"{population}_spread_capture", value)
    for name, per_population in (("pnl", summary.pnl), ("mean_abs_inventory", summary.mean_abs_inventory), ("final_inventory", summary.final_inventory)):
        for population, value in per_population.items():
            add(f"{population}_{name}", value)
    for population, value in summary.quoted_spread.items():  # makers only; NaN in an episode they never quoted
        add(f"{population}_quoted_spread", value)
    for population, figures in summary.execution.items():  # executors only
        for name, value in figures.items():
            add(f"{population}_{name}", value)
    add("mid_change", summary.final_mid / summary.initial_mid - 1.0)
    add("volume", summary.volume)
    add("mean_spread", summary.mean_spread)
    add("halted_steps", summary.halted_steps)
    add("mean_depth", summary.mean_depth)
    add("min_depth", summary.min_depth)
    add("max_drawdown", summary.max_drawdown)
    gaps = np.asarray(summary.fundamental_gaps)
    if len(gaps):
        add("fundamental_gap_max", gaps.max())
        add("fundamental_gap_end", gaps[-max(1, len(gaps) // 10) :].mean())
    if jump_at is not None and jump_at < len(gaps):
        after = gaps[jump_at:]
        closed = np.flatnonzero(after <= after[0] / 2)
        add("news_gap", after[0])
        add("news_half_life_steps", closed[0] if len(closed) else float("nan"))


def _evaluate_trading(scenario: ScenarioConfig, settings: Any, checkpoint: Path, writer: RunWriter | None) -> dict[str, tuple[float, float]]:
    """A deterministic backtest of the trained policy on the held-out period, beside buy and hold and
    each of ``evaluation.rules`` (``strategy/<rule>/``), with the differences learned minus rule (``vs/<rule>/``)."""
    from market.agents.baselines.trading import make_baseline
    from market.agents.trained import load_policy
    from market.backtest.engine import record_steps
    from market.training.runner import evaluate_trading

    metrics, result = evaluate_trading(load_policy(checkpoint), settings)
    if writer is not None:
        record_steps(writer, result, policy="trained")
    figures = {key: (value, 0.0) for key, value in metrics.items() if isinstance(value, float)}
    for rule in scenario.evaluation.rules:
        theirs, _ = evaluate_trading(make_baseline(rule), settings)
        for key in ("sharpe_ratio", "total_return", "max_drawdown"):
            if isinstance(theirs.get(key), float) and isinstance(metrics.get(key), float):
                figures[f"{STRATEGY_PREFIX}{rule}/{key}"] = (theirs[key], 0.0)
                figures[f"{VERSUS_PREFIX}{rule}/{key}"] = (metrics[key] - theirs[key], 0.0)
    return figures


def _evaluate_portfolio(scenario: ScenarioConfig, settings: Any, checkpoint: Path, writer: RunWriter | None, reuse: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """A deterministic backtest of the trained allocator on the held-out period, beside equal weight and
    each of ``evaluation.rules`` (portfolio baselines, ``strategy/<rule>/``), with the differences learned
    minus rule (``vs/<rule>/``). The baselines do not depend on the training seed: played once (``reuse``)."""
    from market.agents.trained import load_policy
    from market.backtest.portfolio import baseline_policy, record_portfolio, run_portfolio_backtest
    from market.envs.portfolio import PortfolioEnv
    from market.envs.portfolio_config import PortfolioEnvConfig
    from market.training.runner import PORTFOLIO_COMPARED, evaluate_portfolio

    metrics, result = evaluate_portfolio(load_policy(checkpoint), settings)
    if writer is not None:
        record_portfolio(writer, result, policy="trained")
    figures = {key: (value, 0.0) for key, value in metrics.items() if isinstance(value, float)}
    config = PortfolioEnvConfig.from_mapping({**settings.env_config, **settings.eval_env_config})
    for rule in scenario.evaluation.rules:
        if rule not in reuse:
            reuse[rule] = run_portfolio_backtest(baseline_policy(rule, PortfolioEnv(config)), config, seed=settings.eval_seed).play.metrics
        theirs = reuse[rule]
        for key in PORTFOLIO_COMPARED:
            if isinstance(theirs.get(key), float) and isinstance(metrics.get(key), float):
                figures[f"{STRATEGY_PREFIX}{rule}/{key}"] = (theirs[key], 0.0)
                figures[f"{VERSUS_PREFIX}{rule}/{key}"] = (metrics[key] - theirs[key], 0.0)
    return figures

