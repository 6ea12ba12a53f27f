"""Run records: the on-disk format that backtests, simulations, training and scenarios write.

A run is a folder with ``manifest.json`` and Parquet tables (``steps``, ``trades``, ``book``,
``training``), written atomically by :class:`RunWriter` and checked on open by :class:`RunReader`.
Column names, table names and schemas live in :mod:`market.records.schema`.
"""

from market.records.io import RunReader, RunSummary, RunWriter, library_versions, list_runs
from market.records.schema import BOOK, SCHEMA_VERSION, STEPS, TABLE_SCHEMAS, TRADES, TRAINING

__all__ = [
    "BOOK",
    "SCHEMA_VERSION",
    "STEPS",
    "TABLE_SCHEMAS",
    "TRADES",
    "TRAINING",
    "RunReader",
    "RunSummary",
    "RunWriter",
    "library_versions",
    "list_runs",
]
