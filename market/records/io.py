"""Writing and reading run records, by their public names: the writer, the reader and the listing live in
:mod:`market.records.writer`, :mod:`market.records.reader` and :mod:`market.records.listing`, and what they
share (JSON conversion included) in :mod:`market.records.files`.

A run is a folder ``<root>/<name>`` holding ``manifest.json`` and one Parquet file per table (see
:mod:`market.records.schema`).
"""

from __future__ import annotations

from market.errors import one_line
from market.records.files import DEFAULT_FLUSH_ROWS, library_versions, to_jsonable
from market.records.listing import RunSummary, list_runs
from market.records.reader import Filters, RunReader
from market.records.writer import Rows, RunWriter

__all__ = [
    "DEFAULT_FLUSH_ROWS",
    "Filters",
    "Rows",
    "RunReader",
    "RunSummary",
    "RunWriter",
    "library_versions",
    "list_runs",
    "one_line",
    "to_jsonable",
]
