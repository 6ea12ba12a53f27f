"""Reading run records: :class:`RunReader` refuses anything that is not a complete run of a known version,
with one line naming the file (:class:`market.errors.RecordError`), and reads tables whole, filtered or in
batches.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from market.errors import RecordError, one_line
from market.records import schema as s
from market.records.files import DEFAULT_FLUSH_ROWS, sha256_of

Filters: TypeAlias = ds.Expression | Sequence[tuple[Any, ...]] | Sequence[Sequence[tuple[Any, ...]]]
"""Row filters for :meth:`RunReader.read`: a ``pyarrow.dataset`` expression or pyarrow DNF tuples."""


# --- reader ----------------------------------------------------------------------------------------


def _require(manifest_path: Path, manifest: Mapping[str, Any], key: str, types: tuple[type, ...]) -> Any:
    """Return a manifest value after checking its type."""
    if key not in manifest:
        raise RecordError(f"{manifest_path}: malformed manifest: missing key {key!r}")
    value = manifest[key]
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        raise RecordError(f"{manifest_path}: malformed manifest: {key!r} has a bad value {value!r}")
    return value


def load_manifest(folder: Path) -> dict[str, Any]:
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
        if verify and sha256_of(path) != entry[s.T_SHA256]:
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
        self._manifest = load_manifest(self._path)
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
