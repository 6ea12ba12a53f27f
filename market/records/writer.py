"""The atomic, streaming run-record writer: :class:`RunWriter`.

The writer fills ``<root>/<name>.partial``, streaming each table through a
``pyarrow.parquet.ParquetWriter`` in row groups so memory stays flat over millions of rows. On a clean
exit it closes and fsyncs every file, writes the manifest last (with each file's rows, size and
SHA-256, through a temporary file and ``os.replace``), then renames the folder into place and fsyncs
the root. A crash at any point leaves either no ``<root>/<name>`` or a complete one; an exception inside
the ``with`` block removes the ``.partial`` folder.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from market.errors import RecordError, one_line
from market.records import schema as s
from market.records.files import DEFAULT_FLUSH_ROWS, check_run_name, fsync_dir, library_versions, sha256_of, to_jsonable

Rows: TypeAlias = Mapping[str, Any] | pa.Table | pa.RecordBatch | pd.DataFrame
"""What :meth:`RunWriter.append` accepts: columns by name, as lists, numpy arrays, pandas or Arrow."""


_COMPRESSION = "zstd"



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
        >>> from market.records.reader import RunReader
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
        check_run_name(name)
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
        self._config = to_jsonable(config, s.M_CONFIG)
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
        if self._root.exists() and not self._root.is_dir():
            raise RecordError(f"{self._root}: is a file, not a folder; the runs folder must be a folder")
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
        self._metrics.update(to_jsonable(metrics, s.M_METRICS))

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
        self._extra[key] = to_jsonable(value, key)

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
                digest = sha256_of(sink.path, fsync=True)
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
            fsync_dir(partial)
        except OSError as exc:
            raise RecordError(f"{partial / s.MANIFEST_FILE}: cannot write: {one_line(exc)}") from exc
        # 4. Rename the folder into place (atomic) and make the rename durable.
        if os.path.lexists(self.path):
            raise RecordError(f"{self.path}: a run of this name appeared while writing; not replacing it")
        try:
            os.rename(partial, self.path)
            fsync_dir(self._root)
        except OSError as exc:
            raise RecordError(f"{self.path}: cannot move the finished run into place: {one_line(exc)}") from exc
        self._state = _State.CLOSED

    def _abort(self) -> None:
        """Release every file and remove the ``.partial`` folder."""
        for sink in self._sinks.values():
            sink.abandon()
        shutil.rmtree(self.partial_path, ignore_errors=True)
        self._state = _State.CLOSED
