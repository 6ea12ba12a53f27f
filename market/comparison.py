"""Strategy comparisons: the table of a run whose evaluation played baselines beside its own strategy.

A scenario's evaluation plays its market as written (the learned policy, or the scripted strategy the
scenario names; its label is ``evaluation.label``) and each baseline in one population's place on the
same held-out seeds. Its metrics are flat keys (``maker_pnl``, ``strategy/<baseline>/maker_pnl``,
``vs/<baseline>/maker_pnl``); this module turns them into one row per strategy and population, in
price units, with published reference figures beside them where the scenario gives some. The CLI
(``market run``), the dashboard and ``scripts/full_run_figures.py`` all show this one table.

:func:`evaluation_record` is what a run record keeps of the evaluation (in its config) so that the
table can be rebuilt from the record alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["COLUMNS", "ComparisonRow", "columns_of", "comparison_rows", "evaluation_record"]

SCHEDULES = "schedules"
"""Manifest field of a run whose evaluation has executors: per strategy label and executor population,
the mean share of the parent order left after each step (over the evaluation's episodes)."""
STRATEGY_PREFIX = "strategy/"
"""Metrics of a baseline played in a population's place: ``strategy/<name>/<metric>``."""
VERSUS_PREFIX = "vs/"
"""Paired differences, the market as written minus a baseline on the same seeds: ``vs/<name>/<metric>``."""


@dataclass(frozen=True, slots=True)
class Column:
    """One figure of the comparison: the per-population metric it reads, its heading, and its unit."""

    metric: str
    heading: str
    money: bool  # in ticks (or ticks x lots) in the run: shown in price units
    market: bool = False  # a figure of the whole market (``mid_change``), not of the population


_MID_DRIFT = Column("mid_change", "mid drift", False, market=True)
_TRADER = (
    Column("pnl", "P&L", True),
    Column("pnl_std", "P&L std", True),
    Column("pnl_sharpe", "P&L Sharpe", False),
    Column("mean_abs_inventory", "mean abs inventory", False),
    Column("final_inventory", "final inventory", False),
    Column("final_inventory_std", "final inventory std", False),
)
COLUMNS: dict[str, tuple[Column, ...]] = {
    "maker": (*_TRADER, Column("spread_capture", "spread capture", True), Column("quoted_spread", "quoted spread", True), _MID_DRIFT),
    "taker": (*_TRADER, _MID_DRIFT),
    "executor": (
        Column("shortfall_bps", "shortfall (bps)", False),
        Column("shortfall_bps_std", "shortfall std", False),
        Column("fill_completion", "fill completion", False),
        Column("impact_bps", "impact (bps)", False),
        Column("reversion_bps", "reversion (bps)", False),
        _MID_DRIFT,
    ),
}
"""The figures of a comparison row by the population's role, in order (each per episode, over the evaluation's episodes)."""
VERSUS: dict[str, str] = {"maker": "pnl", "taker": "pnl", "executor": "shortfall_bps"}
"""The figure whose paired difference (the scenario's strategy minus a baseline) a row shows, by role."""


def columns_of(role: str) -> tuple[Column, ...]:
    """The comparison's columns for a population of ``role``."""
    return COLUMNS[role]


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    """One strategy's figures for one population.

    Attributes:
        strategy: the strategy's label (the scenario's, or a baseline's name).
        population: the population it drives.
        role: that population's role, which sets the columns (:func:`columns_of`).
        values: per column metric, ``(mean, 95% half-width)`` in price units (half-width NaN where the
            figure is one number over all episodes, such as a standard deviation).
        versus: for a baseline, the paired difference (the scenario's strategy minus this one) of the
            role's :data:`VERSUS` figure, as ``(mean, 95% half-width)``; None for the scenario's own row.
        reference: the published figures for this strategy by column metric, in price units.
    """

    strategy: str
    population: str
    role: str
    values: dict[str, tuple[float, float]]
    versus: tuple[float, float] | None = None
    reference: dict[str, float] = field(default_factory=dict)


def evaluation_record(scenario: Any) -> dict[str, Any]:
    """What a run record keeps of a scenario's evaluation, for :func:`comparison_rows`: the label, the
    baselines (name, population, policy, params), the compared populations, the reference figures and
    the market's tick value."""
    evaluation = scenario.evaluation
    tick_value = 1.0
    compared: dict[str, str] = {}
    if scenario.kind.value == "market":
        market = scenario.market_config()
        tick_value = market.tick_value
        names = [p.name for p in scenario.populations] or sorted({b.population for b in evaluation.baselines})
        compared = {p.name: p.role.value for p in market.populations if p.name in names}
    reference = evaluation.reference
    return {
        "label": scenario.label,
        "baselines": [{"name": b.name, "population": b.population, "policy": b.policy, "params": dict(b.params)} for b in evaluation.baselines],
        "compared": compared,  # population name: role
        "tick_value": tick_value,
        "reference": None
        if reference is None
        else {"source": reference.source, "columns": list(reference.columns), "rows": {label: list(values) for label, values in reference.rows}},
    }


def comparison_rows(metrics: Mapping[str, Any], ci95: Mapping[str, Any], record: Mapping[str, Any]) -> list[ComparisonRow]:
    """The comparison table of a run: one row per strategy and compared population.

    Args:
        metrics: the run's metrics (mean per key).
        ci95: the 95% half-widths per key.
        record: the evaluation's record (:func:`evaluation_record`), from the run's config.

    Returns:
        The rows, the scenario's strategy first, then the baselines in the scenario's order; empty
        when the evaluation played no baseline.
    """
    baselines = record.get("baselines") or []
    if not baselines:
        return []
    tick_value = float(record.get("tick_value") or 1.0)
    reference = record.get("reference") or {}
    ref_columns = list(reference.get("columns", []))
    ref_rows = reference.get("rows", {})

    def figure(key: str, money: bool) -> tuple[float, float]:
        value = metrics.get(key)
        if not isinstance(value, int | float):
            return math.nan, math.nan
        half = ci95.get(key, math.nan)
        half = float(half) if isinstance(half, int | float) else math.nan
        scale = tick_value if money else 1.0
        return float(value) * scale, half * scale

    def published(label: str, population: str) -> dict[str, float]:
        values = ref_rows.get(label, [])
        own = f"{population}_"
        return {column[len(own):]: float(v) for column, v in zip(ref_columns, values) if column.startswith(own)}

    rows: list[ComparisonRow] = []
    strategies = [(record.get("label", "scenario"), "", None)] + [(b["name"], f"{STRATEGY_PREFIX}{b['name']}/", b) for b in baselines]
    for population, role in (record.get("compared") or {}).items():
        columns = columns_of(role)
        money = next((c.money for c in columns if c.metric == VERSUS[role]), False)
        for label, prefix, baseline in strategies:
            if baseline is not None and baseline["population"] != population:
                continue
            values = {c.metric: figure(f"{prefix}{c.metric}" if c.market else f"{prefix}{population}_{c.metric}", c.money) for c in columns}
            versus = figure(f"{VERSUS_PREFIX}{label}/{population}_{VERSUS[role]}", money) if baseline is not None else None
            rows.append(ComparisonRow(label, population, role, values, versus, published(label, population)))
    return rows
