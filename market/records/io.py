"""Writing and reading run records: atomic :class:`RunWriter`, verifying :class:`RunReader`, :func:`list_runs`.

A run is a folder ``<root>/<name>`` holding ``manifest.json`` and one Parquet file per table (see
:mod:`market.records.schema`). The writer fills ``<root>/<name>.partial``, streaming each table
through a ``pyarrow.parquet.ParquetWriter`` in row groups so memory stays flat over millions of rows.
On a clean exit it closes and fsyncs every file, writes the manifest last (with each file's rows,
size and SHA-256, through a temporary file and ``os.replace``), then renames the folder into place
and fsyncs the root. A crash at any point leaves either no ``<root>/<name>`` or a complete one; an
exception inside the ``with`` block removes the ``.partial`` folder.

The reader refuses anything that is not a complete run of a known version, with one line naming the
file: :class:`market.errors.RecordError`. Conversion to JSON-safe values (numpy scalars, paths, enums,
dataclasses, non-finite floats) happens here, at the edge, and nowhere else.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from enum import Enum, StrEnum
from pathlib import Path, PurePath
from types import TracebackType
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from market import __version__ as market_version
from market.errors import RecordError
from market.records import schema as s

Rows: TypeAlias = Mapping[str, Any] | pa.Table | pa.RecordBatch | pd.DataFrame
"""What :meth:`RunWriter.append` accepts: columns by name, as lists, numpy arrays, pandas or Arrow."""

Filters: TypeAlias = ds.Expression | Sequence[tuple[Any, ...]] | Sequence[Sequence[tuple[Any, ...]]]
"""Row filters for :meth:`RunReader.read`: a ``pyarrow.dataset`` expression or pyarrow DNF tuples."""

DEFAULT_FLUSH_ROWS = 65_536
"""Rows buffered per table before a row group is written."""

_OPTIONAL_DISTRIBUTIONS = ("ray", "torch", "gymnasium", "pettingzoo")
"""Libraries whose versions go into the manifest when installed (read from metadata, never imported)."""

_COMPRESSION = "zstd"
_MAX_NAME_LENGTH = 200


# --- small helpers ---------------------------------------------------------------------------------


def one_line(exc: BaseException) -> str:
    """Return the first non-empty line of an exception's message, or its type name."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def _fsync_dir(path: Path) -> None:
    """Flush a directory's entries (new, renamed or removed files) to disk. A no-op where unsupported."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256_of(path: Path, *, fsync: bool = False) -> str:
    """Hash a file in a streamed pass, optionally fsyncing it through the same descriptor.

    Args:
        path: The file to hash.
        fsync: Also flush the file's data to disk before returning.

    Returns:
        The hexadecimal SHA-256 digest.
    """
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
        if fsync:
            os.fsync(handle.fileno())
    return digest


def _json_key(key: Any, where: str) -> str:
    """Turn a mapping key into a JSON object key."""
    if isinstance(key, Enum):
        key = key.value
    if isinstance(key, np.generic):
        key = key.item()
    if isinstance(key, str):
        return key
    if isinstance(key, bool | int | float):
        return str(key)
    raise RecordError(f"{where}: cannot store a key of type {type(key).__name__} in {s.MANIFEST_FILE}")


def _to_jsonable(value: Any, where: str) -> Any:
    """Convert a value into plain JSON types, at the edge where it leaves the program.

    Enums become their values, numpy scalars and arrays become Python numbers and lists, paths and
    times become strings, dataclasses become dicts, and NaN or infinite floats become ``None``.

    Args:
        value: The value to convert.
        where: Its key path, for the error message (for example ``"config.fees"``).

    Returns:
        The value as ``None``, ``bool``, ``int``, ``float``, ``str``, ``list`` or ``dict``.

    Raises:
        RecordError: The value (or a part of it) has no JSON form.
    """
    if isinstance(value, Enum):
        return _to_jsonable(value.value, where)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):
        return _to_jsonable(value.item(), where)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return _to_jsonable(value.tolist(), where)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, datetime | date | clock_time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_jsonable(getattr(value, f.name), f"{where}.{f.name}") for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        converted: dict[str, Any] = {}
        for key, item in value.items():
            name = _json_key(key, where)
            if name in converted:
                raise RecordError(f"{where}: two keys both read as {name!r} in {s.MANIFEST_FILE}")
            converted[name] = _to_jsonable(item, f"{where}.{name}")
        return converted
    if isinstance(value, list | tuple):
        return [_to_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        items = [_to_jsonable(item, f"{where}[]") for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    raise RecordError(f"{where}: cannot store a {type(value).__name__} in {s.MANIFEST_FILE}")


def library_versions() -> dict[str, str]:
    """Return the versions of Python and of the libraries a run depends on.

    Optional libraries (Ray, torch, Gymnasium, PettingZoo) are read from installed package metadata,
    never imported, and left out when not installed.

    Returns:
        A mapping of name to version string.
    """
    versions = {
        "python": platform.python_version(),
        "market": market_version,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "pyarrow": pa.__version__,
    }
    for distribution in _OPTIONAL_DISTRIBUTIONS:
        try:
            versions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _check_run_name(name: str) -> None:
    """Refuse a run name that is not one plain folder name."""
    if not isinstance(name, str) or not name:
        raise RecordError(f"run name must be a non-empty string, got {name!r}")
    if (
        len(name) > _MAX_NAME_LENGTH
        or name.startswith(".")
        or name.endswith(s.PARTIAL_SUFFIX)
        or any(char in name for char in ("/", "\\", "\0"))
    ):
        raise RecordError(
            f"run name {name!r} must be one folder name: no '/', no leading '.', "
            f"not ending in {s.PARTIAL_SUFFIX!r}, at most {_MAX_NAME_LENGTH} characters"
        )


# --- rows to Arrow ---------------------------------------------------------------------------------


def _columns_of(table: str, rows: Rows) -> dict[str, Any]:
    """Split the accepted row containers into a mapping of column name to values."""
    if isinstance(rows, pa.Table | pa.RecordBatch):
        return {name: rows.column(name) for name in rows.column_names}
    if isinstance(rows, pd.DataFrame):
        if not rows.columns.is_unique:
            raise RecordError(f"table {table!r}: DataFrame has duplicate column names")
        return {str(name): rows[name] for name in rows.columns}
    if isinstance(rows, Mapping):
        return dict(rows)
    raise RecordError(
        f"table {table!r}: rows must be a mapping of column to values, a pyarrow Table or a pandas "
        f"DataFrame, got {type(rows).__name__}"
    )


def _is_scalar(values: Any) -> bool:
    """Whether a column value is a single value rather than a sequence of them."""
    return values is None or isinstance(values, str | bytes | bool | int | float | np.generic)


def _owned(values: Any) -> Any:
    """Copy numpy and pandas numbers and times, so a caller reusing its arrays cannot change buffered rows.

    ``pa.array`` wraps numeric numpy memory without copying, and rows stay buffered until a row group
    is full. Strings and Python lists are always copied into Arrow's own buffers, so they pass through.
    Zoned pandas times become naive UTC here.
    """
    if isinstance(values, pd.Series | pd.Index):
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = pd.Series(values).dt.tz_convert("UTC").dt.tz_localize(None)
        if isinstance(values.dtype, np.dtype) and values.dtype.kind in "biufcmM":
            return values.to_numpy(copy=True)
        return values
    if isinstance(values, np.ndarray) and values.dtype.kind in "biufcmM":
        return values.copy()
    return values


def _action_array(table: str, values: Any) -> pa.Array:
    """Convert actions to ``list<float64>``: scalars become one-element lists, rows of a 2-D array lists.

    Args:
        table: Table name, for error messages.
        values: A 1-D or 2-D numeric array, a sequence of numbers or of sequences, or an Arrow array.

    Returns:
        A ``list<float64>`` array with one entry per row.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        if pa.types.is_list(values.type) or pa.types.is_large_list(values.type) or pa.types.is_fixed_size_list(
            values.type
        ):
            return values.cast(s.STEPS_SCHEMA.field(s.ACTION).type)
        values = values.to_numpy(zero_copy_only=False)
    if isinstance(values, pd.Series):
        values = values.to_numpy()
    if not isinstance(values, np.ndarray) or values.dtype == object:
        items = list(values)
        if not all(np.ndim(item) == 0 for item in items):
            return pa.array(
                [np.asarray(item, dtype=np.float64).ravel() for item in items], type=s.STEPS_SCHEMA.field(s.ACTION).type
            )
        values = np.asarray(items, dtype=np.float64)
    matrix = np.asarray(values, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix.reshape(-1, 1)
    if matrix.ndim != 2:
        raise RecordError(f"table {table!r} column {s.ACTION!r}: expected 1-D or 2-D actions, got {matrix.ndim}-D")
    count, width = matrix.shape
    offsets = pa.array(np.arange(count + 1, dtype=np.int32) * width)
    flat = np.array(matrix, dtype=np.float64, order="C", copy=True).reshape(-1)  # owned, see _owned
    return pa.ListArray.from_arrays(offsets, pa.array(flat))


def _column_array(table: str, column: pa.Field, values: Any) -> pa.Array:
    """Convert one column's values to an Arrow array of the schema's type.

    Float columns keep NaN as NaN (a value, not a missing one); timestamp columns read NaT as null.
    Casts are safe: a fractional value for an integer column, or one out of range, is refused.
    """
    if _is_scalar(values):
        raise RecordError(f"table {table!r} column {column.name!r}: expected a sequence of values, got a single value")
    try:
        if column.name == s.ACTION and column.type == s.STEPS_SCHEMA.field(s.ACTION).type:
            return _action_array(table, values)
        values = _owned(values)
        if isinstance(values, pa.ChunkedArray):
            return values.cast(column.type).combine_chunks()
        if isinstance(values, pa.Array):
            return values.cast(column.type)
        if pa.types.is_timestamp(column.type):
            try:
                return pa.array(values, type=column.type, from_pandas=True)
            except (pa.ArrowException, TypeError, ValueError):
                return pa.array(values, from_pandas=True).cast(column.type)
        # Infer first, then cast safely: building straight into the type would truncate 1.5 to 1 silently.
        array = pa.array(values, from_pandas=False)
        return array if array.type == column.type else array.cast(column.type)
    except RecordError:
        raise
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
        raise RecordError(
            f"table {table!r} column {column.name!r}: cannot store as {column.type}: {one_line(exc)}"
        ) from exc


def _rows_to_table(table: str, rows: Rows) -> pa.Table:
    """Validate rows for a table and convert them to an Arrow table of exactly its schema.

    Args:
        table: A table name from :data:`market.records.schema.TABLE_SCHEMAS`.
        rows: The rows, in any form :data:`Rows` allows.

    Returns:
        A table with the schema's columns, in order and of its types.

    Raises:
        RecordError: Unknown or missing column, columns of different lengths, a null in a column that
            allows none, a value outside a column's allowed set, or a value of the wrong type.
    """
    table_schema = s.TABLE_SCHEMAS[table]
    columns = _columns_of(table, rows)
    unknown = [name for name in columns if name not in table_schema.names]
    if unknown:
        raise RecordError(
            f"table {table!r}: unknown column {unknown[0]!r} (columns: {', '.join(table_schema.names)})"
        )
    arrays = {name: _column_array(table, table_schema.field(name), values) for name, values in columns.items()}
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name}={length}" for name, length in lengths.items())
        raise RecordError(f"table {table!r}: columns have different lengths ({shown})")
    count = next(iter(lengths.values()), 0)
    ordered = []
    for column in table_schema:
        array = arrays.get(column.name)
        if array is None:
            if not column.nullable:
                raise RecordError(f"table {table!r}: missing column {column.name!r}")
            array = pa.nulls(count, column.type)
        if not column.nullable and array.null_count:
            raise RecordError(f"table {table!r} column {column.name!r}: {array.null_count} missing values")
        allowed = s.ALLOWED_VALUES.get((table, column.name))
        if allowed is not None and count:
            seen = set(array.unique().to_pylist())
            bad = sorted(str(value) for value in seen - allowed)
            if bad:
                raise RecordError(
                    f"table {table!r} column {column.name!r}: value {bad[0]!r} not one of {sorted(allowed)}"
                )
        ordered.append(array)
    return pa.Table.from_arrays(ordered, schema=table_schema)


class _TableSink:
    """One table's Parquet file: buffers appended rows and writes them as row groups of ``flush_rows``.

    Memory held is at most ``flush_rows`` rows plus the last appended batch.
    """

    def __init__(self, path: Path, table_schema: pa.Schema, flush_rows: int) -> None:
        self.path = path
        self.rows = 0
        self._schema = table_schema
        self._flush_rows = flush_rows
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | None = None

    def append(self, table: pa.Table) -> None:
        """Buffer rows; write every full row group now."""
        if table.num_rows == 0:
            return
        self._pending.append(table)
        self._pending_rows += table.num_rows
        self.rows += table.num_rows
        if self._pending_rows >= self._flush_rows:
            self._drain(everything=False)

    def close(self) -> None:
        """Write what is buffered and the Parquet footer. A table with no rows still gets its file."""
        self._drain(everything=True)
        self._open().close()

    def abandon(self) -> None:
        """Drop buffered rows and release the file without reporting errors (the run is being aborted)."""
        self._pending = []
        if self._writer is not None:
            try:
                self._writer.close()
            except (pa.ArrowException, OSError):
                pass

    def _open(self) -> pq.ParquetWriter:
        if self._writer is None:
            # Dictionary-encode only strings (agent names, sides, metric keys); floats rarely repeat.
            strings = [column.name for column in self._schema if pa.types.is_string(column.type)]
            self._writer = pq.ParquetWriter(
                self.path, self._schema, compression=_COMPRESSION, use_dictionary=strings
            )
        return self._writer

    def _drain(self, *, everything: bool) -> None:
        if not self._pending:
            return
        combined = pa.concat_tables(self._pending)
        cut = combined.num_rows if everything else combined.num_rows - combined.num_rows % self._flush_rows
        if cut == 0:
            return
        try:
            self._open().write_table(combined.slice(0, cut), row_group_size=self._flush_rows)
        except (pa.ArrowException, OSError) as exc:
            raise RecordError(f"{self.path}: cannot write: {one_line(exc)}") from exc
        rest = combined.slice(cut)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows


# --- writer ----------------------------------------------------------------------------------------


class _State(StrEnum):
    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


class RunWriter:
    """Write one run record atomically; use it as a context manager.

    Rows go to ``<root>/<name>.partial``. Leaving the ``with`` block cleanly closes and fsyncs every
    table, writes ``manifest.json`` last and renames the folder to ``<root>/<name>``. An exception in
    the block removes the ``.partial`` folder and propagates. An existing ``<root>/<name>`` is never
    touched: the writer refuses to start. A ``.partial`` folder of the same name (another writer, or a
    killed one) also makes it refuse; delete a killed run's folder by hand. Not thread-safe.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> with RunWriter(root, "demo", kind=s.KIND_BACKTEST, config={"policy": "buy_and_hold"}, seed=7) as run:
        ...     run.append(s.TRADES, {s.STEP: [3], s.PRICE: [100.5], s.QTY: [2], s.MAKER: ["m"], s.TAKER: ["t"],
        ...                           s.MAKER_ORDER_ID: [1], s.TAKER_ORDER_ID: [2], s.TAKER_SIDE: [s.BUY]})
        ...     run.set_metrics({"sharpe": 1.25})
        >>> RunReader(root / "demo").num_rows(s.TRADES)
        1
    """

    def __init__(
        self,
        root: Path | str,
        name: str,
        *,
        kind: str,
        config: Mapping[str, Any] | Any,
        seed: int | None,
        scenario: str | None = None,
        extra: Mapping[str, Any] | None = None,
        flush_rows: int = DEFAULT_FLUSH_ROWS,
    ) -> None:
        """Prepare a writer; nothing touches the disk until the ``with`` block is entered.

        Args:
            root: The runs folder; created if missing.
            name: The run's folder name inside ``root``.
            kind: What produced the run (:data:`~market.records.schema.KIND_BACKTEST`, ``KIND_TRAIN``...).
            config: The run's configuration: a mapping or a (frozen) dataclass tree, stored as JSON.
            seed: The run's root seed, or ``None`` when nothing random happened.
            scenario: The scenario's name, when the run came from one.
            extra: More top-level manifest fields (may not reuse a reserved key).
            flush_rows: Rows buffered per table before a row group is written.

        Raises:
            RecordError: Bad name, kind, seed or flush size, or a config value with no JSON form.
        """
        _check_run_name(name)
        if not isinstance(kind, str) or not kind:
            raise RecordError(f"run kind must be a non-empty string, got {kind!r}")
        if isinstance(seed, np.integer):
            seed = int(seed)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise RecordError(f"run seed must be an int or None, got {seed!r}")
        if scenario is not None and not isinstance(scenario, str):
            raise RecordError(f"run scenario must be a string or None, got {scenario!r}")
        if isinstance(flush_rows, bool) or not isinstance(flush_rows, int) or flush_rows < 1:
            raise RecordError(f"flush_rows must be a positive int, got {flush_rows!r}")
        self._root = Path(root)
        self._name = name
        self._kind = kind
        self._seed = seed
        self._scenario = scenario
        self._flush_rows = flush_rows
        self._config = _to_jsonable(config, s.M_CONFIG)
        self._metrics: dict[str, Any] = {}
        self._extra: dict[str, Any] = {}
        self._sinks: dict[str, _TableSink] = {}
        self._created = ""
        self._state = _State.NEW
        for key, value in (extra or {}).items():
            self.set_field(key, value)

    @property
    def name(self) -> str:
        """The run's name."""
        return self._name

    @property
    def path(self) -> Path:
        """Where the complete run will be: ``<root>/<name>``."""
        return self._root / self._name

    @property
    def partial_path(self) -> Path:
        """Where the run is written until it is complete: ``<root>/<name>.partial``."""
        return self._root / f"{self._name}{s.PARTIAL_SUFFIX}"

    def __enter__(self) -> RunWriter:
        """Create the ``.partial`` folder.

        Returns:
            This writer.

        Raises:
            RecordError: The writer was already used, ``<root>/<name>`` or ``<root>/<name>.partial``
                exists, or the folder cannot be created.
        """
        if self._state is not _State.NEW:
            raise RecordError(f"{self.path}: a RunWriter can be entered only once")
        if os.path.lexists(self.path):
            raise RecordError(f"{self.path}: a run of this name already exists; choose another name")
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            self.partial_path.mkdir()
        except FileExistsError as exc:
            raise RecordError(
                f"{self.partial_path}: already exists (another writer is running, or one was killed: delete it)"
            ) from exc
        except OSError as exc:
            raise RecordError(f"{self.partial_path}: cannot create: {one_line(exc)}") from exc
        self._created = datetime.now(UTC).isoformat(timespec="milliseconds")
        self._state = _State.OPEN
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Finish the run on a clean exit; remove the ``.partial`` folder on an exception."""
        if self._state is not _State.OPEN:
            return
        if exc_type is not None:
            self._abort()
            return
        try:
            self._finish()
        except BaseException:
            self._abort()
            raise

    def append(self, table: str, rows: Rows) -> None:
        """Add rows to a table. The table's file exists in the run once this is called, even with no rows.

        Args:
            table: A table name: :data:`~market.records.schema.STEPS`, ``TRADES``, ``BOOK`` or ``TRAINING``.
            rows: Columns by name (lists, numpy arrays, pandas Series or Arrow arrays of equal length),
                a pyarrow Table or RecordBatch, or a pandas DataFrame (its index is ignored). A missing
                nullable column (``time``) is stored as nulls. ``action`` takes one number per row, or a
                2-D array / sequence of sequences for multi-dimensional actions.

        Raises:
            RecordError: The writer is not open, the table is unknown, the rows do not fit its schema,
                or the file cannot be written.
        """
        self._check_open()
        if table not in s.TABLE_SCHEMAS:
            raise RecordError(f"unknown table {table!r} (tables: {', '.join(sorted(s.TABLE_SCHEMAS))})")
        arrow_rows = _rows_to_table(table, rows)
        sink = self._sinks.get(table)
        if sink is None:
            sink = _TableSink(self.partial_path / s.table_file(table), s.TABLE_SCHEMAS[table], self._flush_rows)
            self._sinks[table] = sink
        sink.append(arrow_rows)

    def set_metrics(self, metrics: Mapping[str, Any]) -> None:
        """Set metrics for the manifest; keys already set are overwritten, others kept.

        Args:
            metrics: Metric name to value (numbers, or nested mappings such as per-agent figures).

        Raises:
            RecordError: The writer is closed, or a value has no JSON form.
        """
        if self._state is _State.CLOSED:
            raise RecordError(f"{self.path}: the RunWriter is closed")
        self._metrics.update(_to_jsonable(metrics, s.M_METRICS))

    def set_field(self, key: str, value: Any) -> None:
        """Set an extra top-level manifest field (for example the data file or the policy).

        Args:
            key: The field's name; not one of :data:`~market.records.schema.RESERVED_MANIFEST_KEYS`.
            value: Any value with a JSON form.

        Raises:
            RecordError: Reserved or non-string key, a closed writer, or a value with no JSON form.
        """
        if self._state is _State.CLOSED:
            raise RecordError(f"{self.path}: the RunWriter is closed")
        if not isinstance(key, str) or not key:
            raise RecordError(f"manifest field name must be a non-empty string, got {key!r}")
        if key in s.RESERVED_MANIFEST_KEYS:
            raise RecordError(f"manifest field {key!r} is reserved; use the RunWriter argument or method for it")
        self._extra[key] = _to_jsonable(value, key)

    def _check_open(self) -> None:
        if self._state is not _State.OPEN:
            raise RecordError(f"{self.path}: the RunWriter is not open; use it in a with block")

    def _finish(self) -> None:
        """Close and fsync tables, write the manifest last, then rename the folder into place."""
        partial = self.partial_path
        # 1. Close every table (writes the remaining rows and the footer), then hash and fsync it.
        tables: dict[str, dict[str, Any]] = {}
        for table, sink in self._sinks.items():
            try:
                sink.close()
                digest = _sha256_of(sink.path, fsync=True)
                size = sink.path.stat().st_size
            except (pa.ArrowException, OSError) as exc:
                raise RecordError(f"{sink.path}: cannot finish: {one_line(exc)}") from exc
            tables[table] = {s.T_FILE: sink.path.name, s.T_ROWS: sink.rows, s.T_BYTES: size, s.T_SHA256: digest}
        # 2. Build the manifest; it describes only files that are complete on disk.
        manifest: dict[str, Any] = {
            s.M_SCHEMA_VERSION: s.SCHEMA_VERSION,
            s.M_KIND: self._kind,
            s.M_NAME: self._name,
            s.M_CREATED: self._created,
            s.M_SCENARIO: self._scenario,
            s.M_CONFIG: self._config,
            s.M_SEED: self._seed,
            s.M_VERSIONS: library_versions(),
            s.M_METRICS: self._metrics,
            s.M_TABLES: tables,
            **self._extra,
        }
        text = json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        # 3. Write it through a temporary file, fsync, move it into place, fsync the folder.
        temporary = partial / s.MANIFEST_TMP_FILE
        try:
            with temporary.open("w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, partial / s.MANIFEST_FILE)
            _fsync_dir(partial)
        except OSError as exc:
            raise RecordError(f"{partial / s.MANIFEST_FILE}: cannot write: {one_line(exc)}") from exc
        # 4. Rename the folder into place (atomic) and make the rename durable.
        if os.path.lexists(self.path):
            raise RecordError(f"{self.path}: a run of this name appeared while writing; not replacing it")
        try:
            os.rename(partial, self.path)
            _fsync_dir(self._root)
        except OSError as exc:
            raise RecordError(f"{self.path}: cannot move the finished run into place: {one_line(exc)}") from exc
        self._state = _State.CLOSED

    def _abort(self) -> None:
        """Release every file and remove the ``.partial`` folder."""
        for sink in self._sinks.values():
            sink.abandon()
        shutil.rmtree(self.partial_path, ignore_errors=True)
        self._state = _State.CLOSED


# --- reader ----------------------------------------------------------------------------------------


def _require(manifest_path: Path, manifest: Mapping[str, Any], key: str, types: tuple[type, ...]) -> Any:
    """Return a manifest value after checking its type."""
    if key not in manifest:
        raise RecordError(f"{manifest_path}: malformed manifest: missing key {key!r}")
    value = manifest[key]
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        raise RecordError(f"{manifest_path}: malformed manifest: {key!r} has a bad value {value!r}")
    return value


def _load_manifest(folder: Path) -> dict[str, Any]:
    """Read and check a run folder's manifest, refusing anything that is not a complete run.

    Args:
        folder: The run folder.

    Returns:
        The parsed manifest.

    Raises:
        RecordError: Missing folder, not a directory, a ``.partial`` folder, or a missing, unparsable,
            malformed or unknown-version manifest.
    """
    if not folder.exists():
        raise RecordError(f"{folder}: run folder not found")
    if not folder.is_dir():
        raise RecordError(f"{folder}: not a run folder (not a directory)")
    if folder.name.endswith(s.PARTIAL_SUFFIX):
        raise RecordError(f"{folder}: incomplete run ({s.PARTIAL_SUFFIX} folder: the writer did not finish)")
    manifest_path = folder / s.MANIFEST_FILE
    if not manifest_path.is_file():
        raise RecordError(f"{manifest_path}: missing manifest (not a complete run)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"{manifest_path}: unreadable manifest: {one_line(exc)}") from exc
    if not isinstance(manifest, dict):
        raise RecordError(f"{manifest_path}: malformed manifest: expected a JSON object")
    version = manifest.get(s.M_SCHEMA_VERSION)
    if isinstance(version, bool) or version != s.SCHEMA_VERSION:
        raise RecordError(
            f"{manifest_path}: unknown {s.M_SCHEMA_VERSION} {version!r} "
            f"(this version of market reads {s.SCHEMA_VERSION})"
        )
    _require(manifest_path, manifest, s.M_KIND, (str,))
    _require(manifest_path, manifest, s.M_NAME, (str,))
    created = _require(manifest_path, manifest, s.M_CREATED, (str,))
    try:
        datetime.fromisoformat(created)
    except ValueError as exc:
        raise RecordError(f"{manifest_path}: malformed manifest: {s.M_CREATED!r} is not an ISO time") from exc
    _require(manifest_path, manifest, s.M_SEED, (int, type(None)))
    _require(manifest_path, manifest, s.M_SCENARIO, (str, type(None)))
    _require(manifest_path, manifest, s.M_METRICS, (dict,))
    _require(manifest_path, manifest, s.M_VERSIONS, (dict,))
    _require(manifest_path, manifest, s.M_CONFIG, (dict, list, str, int, float, bool, type(None)))
    tables = _require(manifest_path, manifest, s.M_TABLES, (dict,))
    for table, entry in tables.items():
        if table not in s.TABLE_SCHEMAS:
            known = ", ".join(sorted(s.TABLE_SCHEMAS))
            raise RecordError(f"{manifest_path}: unknown table {table!r} (tables: {known})")
        if not isinstance(entry, dict):
            raise RecordError(f"{manifest_path}: malformed manifest: table {table!r} entry is not an object")
        where = f"{s.M_TABLES}.{table}"
        if entry.get(s.T_FILE) != s.table_file(table):
            raise RecordError(
                f"{manifest_path}: malformed manifest: {where}.{s.T_FILE} must be {s.table_file(table)!r}"
            )
        for key in (s.T_ROWS, s.T_BYTES):
            value = entry.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise RecordError(f"{manifest_path}: malformed manifest: {where}.{key} has a bad value {value!r}")
        digest = entry.get(s.T_SHA256)
        if not isinstance(digest, str) or len(digest) != 64:
            raise RecordError(f"{manifest_path}: malformed manifest: {where}.{s.T_SHA256} has a bad value")
    return manifest


def _check_table_file(folder: Path, table: str, entry: Mapping[str, Any], *, verify: bool) -> Path:
    """Check one table file against its manifest entry and schema.

    Args:
        folder: The run folder.
        table: The table's name.
        entry: Its manifest entry (file, rows, bytes, sha256).
        verify: Also hash the whole file and compare checksums.

    Returns:
        The table file's path.

    Raises:
        RecordError: Missing file, wrong size, checksum mismatch, unreadable Parquet, row count
            mismatch or columns that do not match the schema.
    """
    path = folder / entry[s.T_FILE]
    if not path.is_file():
        raise RecordError(f"{path}: table file listed in the manifest is missing")
    try:
        size = path.stat().st_size
        if size != entry[s.T_BYTES]:
            raise RecordError(
                f"{path}: {size} bytes but the manifest says {entry[s.T_BYTES]} (file truncated or altered)"
            )
        if verify and _sha256_of(path) != entry[s.T_SHA256]:
            raise RecordError(f"{path}: checksum mismatch (file altered or truncated)")
        metadata = pq.read_metadata(path)
    except RecordError:
        raise
    except (pa.ArrowException, OSError) as exc:
        raise RecordError(f"{path}: unreadable Parquet: {one_line(exc)}") from exc
    if metadata.num_rows != entry[s.T_ROWS]:
        raise RecordError(f"{path}: row count mismatch: manifest says {entry[s.T_ROWS]}, file has {metadata.num_rows}")
    if not metadata.schema.to_arrow_schema().equals(s.TABLE_SCHEMAS[table], check_metadata=False):
        raise RecordError(f"{path}: columns do not match table {table!r} of schema version {s.SCHEMA_VERSION}")
    return path


class RunReader:
    """Open a complete run record, check it, and read its tables.

    Opening checks the manifest (present, parsable, known version, well-formed) and every table file
    (present, size, SHA-256 when ``verify``, readable Parquet footer, row count, columns). Any failure
    raises :class:`~market.errors.RecordError` with one line naming the file.
    """

    def __init__(self, path: Path | str, *, verify: bool = True) -> None:
        """Open and check a run.

        Args:
            path: The run folder (``<root>/<name>``).
            verify: Hash every table file and compare with the manifest (a streamed pass over the
                files). Without it, sizes, footers and row counts are still checked.

        Raises:
            RecordError: The folder is not a complete, undamaged run of a known schema version.
        """
        self._path = Path(path)
        self._manifest = _load_manifest(self._path)
        self._files = {
            table: _check_table_file(self._path, table, entry, verify=verify)
            for table, entry in self._manifest[s.M_TABLES].items()
        }

    @property
    def path(self) -> Path:
        """The run folder."""
        return self._path

    @property
    def manifest(self) -> dict[str, Any]:
        """A copy of the parsed manifest."""
        return copy.deepcopy(self._manifest)

    @property
    def kind(self) -> str:
        """What produced the run (backtest, simulate, train, scenario...)."""
        return self._manifest[s.M_KIND]

    @property
    def name(self) -> str:
        """The run's name as written."""
        return self._manifest[s.M_NAME]

    @property
    def created(self) -> datetime:
        """When the writer started (UTC)."""
        return datetime.fromisoformat(self._manifest[s.M_CREATED])

    @property
    def scenario(self) -> str | None:
        """The scenario's name, if the run came from one."""
        return self._manifest[s.M_SCENARIO]

    @property
    def metrics(self) -> dict[str, Any]:
        """A copy of the manifest's metrics."""
        return copy.deepcopy(self._manifest[s.M_METRICS])

    @property
    def tables(self) -> tuple[str, ...]:
        """The names of the tables this run holds, in the order they were first written."""
        return tuple(self._files)

    def num_rows(self, table: str) -> int:
        """Return a table's row count (from the checked manifest, no I/O).

        Raises:
            RecordError: The run has no such table.
        """
        self._file(table)
        return self._manifest[s.M_TABLES][table][s.T_ROWS]

    def read(
        self,
        table: str,
        columns: Sequence[str] | None = None,
        filters: Filters | None = None,
    ) -> pd.DataFrame:
        """Read a table (or some of its columns and rows) into a DataFrame.

        Args:
            table: The table's name.
            columns: Columns to read; all when ``None``.
            filters: Rows to keep: a ``pyarrow.dataset`` expression such as
                ``pc.field("agent") == "maker_0"``, or DNF tuples such as ``[("step", ">=", 100)]``.

        Returns:
            The rows. ``time`` is ``datetime64[ns]``; ``action`` holds one float array per row.

        Raises:
            RecordError: No such table or column, a bad filter, or a file that cannot be read.
        """
        path = self._file(table)
        self._check_columns(table, columns)
        try:
            arrow = pq.read_table(path, columns=list(columns) if columns is not None else None, filters=filters)
        except (pa.ArrowException, OSError, ValueError, TypeError, KeyError) as exc:
            raise RecordError(f"{path}: cannot read table {table!r}: {one_line(exc)}") from exc
        return arrow.to_pandas()

    def scan(self, table: str) -> ds.Dataset:
        """Return a lazy ``pyarrow.dataset`` over a table, for large reads in batches.

        Use ``.to_batches(columns=..., filter=...)``, ``.head(n)`` or ``.count_rows(filter=...)``.

        Raises:
            RecordError: No such table, or its file cannot be opened.
        """
        path = self._file(table)
        try:
            return ds.dataset(path, format="parquet", schema=s.TABLE_SCHEMAS[table])
        except (pa.ArrowException, OSError) as exc:
            raise RecordError(f"{path}: cannot open table {table!r}: {one_line(exc)}") from exc

    def iter_batches(
        self,
        table: str,
        columns: Sequence[str] | None = None,
        batch_size: int = DEFAULT_FLUSH_ROWS,
    ) -> Iterator[pa.RecordBatch]:
        """Iterate over a table's rows in record batches, reading one row group at a time.

        Args:
            table: The table's name.
            columns: Columns to read; all when ``None``.
            batch_size: Largest number of rows per batch.

        Returns:
            An iterator of record batches in file order.

        Raises:
            RecordError: No such table or column, or a file that cannot be read.
        """
        path = self._file(table)
        self._check_columns(table, columns)
        return _batches(path, table, list(columns) if columns is not None else None, batch_size)

    def _file(self, table: str) -> Path:
        path = self._files.get(table)
        if path is None:
            held = ", ".join(self._files) or "none"
            raise RecordError(f"{self._path / s.MANIFEST_FILE}: run has no table {table!r} (tables: {held})")
        return path

    def _check_columns(self, table: str, columns: Sequence[str] | None) -> None:
        if columns is None:
            return
        if isinstance(columns, str):
            raise RecordError(f"{self._files[table]}: columns must be a list of names, got the string {columns!r}")
        names = s.TABLE_SCHEMAS[table].names
        for column in columns:
            if column not in names:
                raise RecordError(f"{self._files[table]}: table {table!r} has no column {column!r}")


def _batches(path: Path, table: str, columns: list[str] | None, batch_size: int) -> Iterator[pa.RecordBatch]:
    """Yield a Parquet file's record batches, turning read errors into one-line RecordErrors."""
    try:
        with pq.ParquetFile(path) as parquet:
            yield from parquet.iter_batches(batch_size=batch_size, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        raise RecordError(f"{path}: cannot read table {table!r}: {one_line(exc)}") from exc


# --- listing ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    """One folder in a runs folder: a good run's headline facts, or why the folder is not one.

    Attributes:
        path: The folder.
        name: The run's name (for an incomplete run, the folder name without ``.partial``).
        kind: What produced the run; ``None`` when broken.
        created: When the run started (UTC); ``None`` when broken.
        scenario: The scenario's name, if any.
        metrics: The manifest's top-level numeric metrics (nested ones, such as per agent, are left out).
        tables: The tables the run holds.
        incomplete: A ``.partial`` folder: a writer is running, or one was killed.
        error: Why the folder is not a readable run; ``None`` for a good one.
    """

    path: Path
    name: str
    kind: str | None = None
    created: datetime | None = None
    scenario: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    tables: tuple[str, ...] = ()
    incomplete: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the folder is a complete run that opened cleanly."""
        return self.error is None


def _headline(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Keep the top-level numeric metrics."""
    return {
        key: float(value)
        for key, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def list_runs(root: Path | str, *, verify: bool = False) -> list[RunSummary]:
    """List the runs in a runs folder, newest first; a broken folder never hides the good ones.

    Every non-hidden sub-folder appears once: a complete run with its headline facts; a ``.partial``
    folder as ``incomplete`` with an ``error``; any other folder that does not open with the reader's
    one-line ``error``. Good runs sort by ``created``, broken folders by modification time, together,
    newest first. Files in the runs folder and names starting with ``.`` are ignored.

    Args:
        root: The runs folder. One that does not exist yet holds no runs.
        verify: Also hash every table file (slow for large runs); without it sizes, Parquet footers
            and row counts are checked. :class:`RunReader` verifies checksums when a run is opened.

    Returns:
        One summary per sub-folder.

    Raises:
        RecordError: ``root`` exists but is not a directory, or cannot be listed.
    """
    root = Path(root)
    if not root.exists():
        return []
    if not root.is_dir():
        raise RecordError(f"{root}: runs folder is not a directory")
    try:
        entries = sorted(os.scandir(root), key=lambda entry: entry.name)
    except OSError as exc:
        raise RecordError(f"{root}: cannot list runs: {one_line(exc)}") from exc
    ranked: list[tuple[datetime, RunSummary]] = []
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        path = Path(entry.path)
        try:
            modified = datetime.fromtimestamp(entry.stat().st_mtime, tz=UTC)
        except FileNotFoundError:  # renamed or removed while listing (a writer finishing)
            continue
        if entry.name.endswith(s.PARTIAL_SUFFIX):
            summary = RunSummary(
                path=path,
                name=entry.name.removesuffix(s.PARTIAL_SUFFIX),
                incomplete=True,
                error=f"{path}: incomplete run (the writer is still running, or was killed)",
            )
            ranked.append((modified, summary))
            continue
        try:
            reader = RunReader(path, verify=verify)
        except RecordError as exc:
            ranked.append((modified, RunSummary(path=path, name=entry.name, error=str(exc))))
            continue
        created = reader.created
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        summary = RunSummary(
            path=path,
            name=reader.name,
            kind=reader.kind,
            created=created,
            scenario=reader.scenario,
            metrics=_headline(reader.metrics),
            tables=reader.tables,
        )
        ranked.append((created, summary))
    ranked.sort(key=lambda pair: pair[0], reverse=True)
    return [summary for _, summary in ranked]
