"""Analyses of finished market episodes: who profits from whom (:mod:`market.analysis.flows`)."""

from market.analysis.flows import (
    END,
    HORIZONS,
    FlowObserver,
    FlowResult,
    FlowTrade,
    analyze_flows,
    flows_columns,
    format_matrix,
    format_parts,
    flows_from_record,
    matrix_from_table,
    parts_columns,
    parts_from_table,
    population_of,
)

__all__ = [
    "END",
    "HORIZONS",
    "FlowObserver",
    "FlowResult",
    "FlowTrade",
    "analyze_flows",
    "flows_columns",
    "format_matrix",
    "format_parts",
    "flows_from_record",
    "matrix_from_table",
    "parts_columns",
    "parts_from_table",
    "population_of",
]
