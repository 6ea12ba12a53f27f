"""Loading and validating OHLCV price files: :func:`load_prices` and the price column names.

This module owns the one shape that every price table in ``market`` has, whether it was read from
a file or made by :mod:`market.data.synthetic`:

* a :class:`pandas.DatetimeIndex` named :data:`TIME`, timezone-naive (UTC), in microseconds,
  strictly increasing;
* ``float64`` columns :data:`OPEN`, :data:`HIGH`, :data:`LOW`, :data:`CLOSE` (all finite and
  positive, with ``low <= open, close <= high``) and, when the source had one, :data:`VOLUME`
  (finite, non-negative).

Other code refers to the columns through these constants, never through string literals.

Reading is strict: each problem in a file raises :class:`~market.errors.DataError` with one line that
names the file, the row (or column) and the problem. Nothing is dropped, filled or guessed.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from market import limits
from market.errors import DataError, one_line

__all__ = [
    "CLOSE",
    "HIGH",
    "LOW",
    "OHLCV_COLUMNS",
    "OPEN",
    "PRICE_COLUMNS",
    "TIME",
    "TIME_UNIT",
    "VOLUME",
    "ReadOptions",
    "check_prices",
    "load_prices",
    "read_long_prices",
    "read_wide_closes",
]

TIME: Final = "time"
"""Name of the index of every price table."""
OPEN: Final = "open"
HIGH: Final = "high"
LOW: Final = "low"
CLOSE: Final = "close"
VOLUME: Final = "volume"
PRICE_COLUMNS: Final[tuple[str, ...]] = (OPEN, HIGH, LOW, CLOSE)
"""The four price columns, in the order they appear in a price table."""
OHLCV_COLUMNS: Final[tuple[str, ...]] = (*PRICE_COLUMNS, VOLUME)
"""All columns of a price table that has a volume column, in order."""
TIME_UNIT: Final = "us"
"""Resolution of the time index (pandas 3's own default for parsed and generated times)."""

_ADJ_CLOSE: Final = "adj close"  # a role of its own: used as close only when there is no close

# Header spellings, compared after lower-casing and removing everything but letters and digits,
# so "Adj Close", "adj_close" and "ADJ-CLOSE" are one spelling.
_ALIASES: Final[Mapping[str, str]] = {
    "date": TIME,
    "datetime": TIME,
    "time": TIME,
    "timestamp": TIME,
    "open": OPEN,
    "high": HIGH,
    "low": LOW,
    "close": CLOSE,
    "adjclose": _ADJ_CLOSE,
    "adjustedclose": _ADJ_CLOSE,
    "volume": VOLUME,
}
_REQUIRED: Final[tuple[str, ...]] = (TIME, *PRICE_COLUMNS)

_CSV_SUFFIXES: Final = (".csv", ".csv.gz")
_PARQUET_SUFFIXES: Final = (".parquet", ".pq")

# The CSV value patterns are RE2 (pyarrow's regex engine), where \d is an ASCII digit only.
# A whole cell that is a decimal number: no "nan", "inf", hex, thousands separators or "1_000".
_NUMBER_PATTERN: Final = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
# The strings that pandas reads as NaN by default (plus "none"), compared lower-cased.
_MISSING_TOKENS: Final = frozenset(
    {"", "#n/a", "#n/a n/a", "#na", "-1.#ind", "-1.#qnan", "-nan", "1.#ind", "1.#qnan", "<na>",
     "n/a", "na", "nan", "null", "none", "nat"}
)
# A time of day followed by a UTC designator or an offset: the text carries a time zone.
_TZ_PATTERN: Final = r"[T ]\d{1,2}(?::\d{2}(?::\d{2}(?:[.,]\d+)?)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"
_TIME_FORMAT_HINT: Final = (
    "expected ISO 8601 such as 2024-01-31 or 2024-01-31T09:30:00Z; "
    "for other text give time_format (strftime, e.g. '%d.%m.%Y %H:%M:%S.%f') or dayfirst, "
    "for epoch numbers time_unit"
)
_DELIMITERS: Final = (",", ";", "\t")
_EPOCH_UNITS: Final[tuple[str, ...]] = ("s", "ms", "us", "ns")
# Integer epochs are detected by their number of digits: seconds have 10 (2001 to 2286),
# milliseconds 13, microseconds 16, nanoseconds 19. Other widths (such as 20240131) are not guessed.
_EPOCH_DIGITS: Final[Mapping[int, str]] = {10: "s", 13: "ms", 16: "us", 19: "ns"}
_INTEGER_PATTERN: Final = r"^[+-]?\d+$"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadOptions:
    """How to read the time column and the CSV dialect of a price file; one object for every loader.

    The defaults read what :func:`load_prices` always read (ISO 8601 times, comma-separated UTF-8),
    plus what can be told apart without guessing: the delimiter is sniffed from the header line,
    and a time column of integers with 10, 13, 16 or 19 digits is read as epoch seconds,
    milliseconds, microseconds or nanoseconds.

    Attributes:
        time_unit: Read the time column as integer epochs in this unit (``"s"``, ``"ms"``,
            ``"us"`` or ``"ns"``); None detects the unit from the number of digits.
        time_format: A :func:`~datetime.datetime.strptime` format for time text, for example
            ``"%d.%m.%Y %H:%M:%S.%f"`` for Dukascopy or MetaTrader ``01.01.2017 22:00:00.000``.
        dayfirst: Read numeric dates without a format day first (``31/01/2024``); the format is
            worked out from row 1 and then applied to every row.
        delimiter: The CSV field separator (one character); None sniffs comma, semicolon or tab
            from the header line.
        decimal: The decimal mark of CSV numbers, ``"."`` or ``","``; a comma needs a
            semicolon or tab delimiter.

    Example:
        >>> ReadOptions(time_format="%d.%m.%Y %H:%M:%S.%f", delimiter=";", decimal=",").decimal
        ','
    """

    time_unit: str | None = None
    time_format: str | None = None
    dayfirst: bool = False
    delimiter: str | None = None
    decimal: str = "."

    def __post_init__(self) -> None:
        if self.time_unit is not None and self.time_unit not in _EPOCH_UNITS:
            raise DataError(f"time_unit must be one of {', '.join(_EPOCH_UNITS)}, got {self.time_unit!r}")
        if self.time_unit is not None and self.time_format is not None:
            raise DataError("give time_unit or time_format, not both")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise DataError(f"delimiter must be one character, got {self.delimiter!r}")
        if self.decimal not in (".", ","):
            raise DataError(f"decimal must be '.' or ',', got {self.decimal!r}")
        if self.decimal == "," and self.delimiter == ",":
            raise DataError("decimal ',' needs a delimiter other than ','")


_DEFAULT_OPTIONS: Final = ReadOptions()
_MAX_SHOWN: Final = 40


def load_prices(path: str | os.PathLike[str], options: ReadOptions | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet OHLCV file into a validated price table.

    Column headers are matched in any case, with spaces, underscores or hyphens ignored:
    the time column may be called Date, Datetime, Time or Timestamp; the prices Open, High, Low,
    Close and Adj Close; the optional volume Volume. When a file has both Close and Adj Close, Close
    is used and Adj Close is ignored; when it has only Adj Close, Adj Close is used as the close.
    Other columns are ignored.

    CSV files (``.csv``, or gzip-compressed ``.csv.gz``) must be UTF-8 (a byte order mark and CRLF
    line ends are fine) with a header line; fields are separated by commas, semicolons or tabs
    (sniffed from the header, or given by ``options.delimiter``); times are ISO 8601 text unless
    ``options`` says otherwise (see :class:`ReadOptions`), numbers plain decimals (``12.5``,
    ``1e3``, or ``12,5`` with ``decimal=","``); fully empty lines are skipped. Parquet files (``.parquet``, ``.pq``) must store the time as a
    timestamp or date column and the prices and volume as integer, floating or decimal columns.

    Times without a time zone are taken as UTC; times with one are converted to UTC. The result's
    index is timezone-naive UTC.

    Args:
        path: The CSV or Parquet file.
        options: Time formats and CSV dialect; None for the defaults of :class:`ReadOptions`.

    Returns:
        A DataFrame indexed by a strictly increasing :class:`pandas.DatetimeIndex` named
        :data:`TIME` (unit :data:`TIME_UNIT`), with ``float64`` columns :data:`PRICE_COLUMNS`, and
        :data:`VOLUME` only when the file has a volume column.

    Raises:
        DataError: The file is missing, unreadable, empty, of an unsupported type, lacks or repeats
            a column, or has a bad value (not a number, missing, infinite, non-positive price,
            negative volume, high below low, open or close outside [low, high], a timestamp that
            cannot be parsed, is repeated or is out of order). The one-line message names the file,
            the row (1-based, counting data rows; CSV messages add the line number) or column, and
            the problem.
    """
    table, times, values, _ = _parse(path, options, symbol=None)
    return _finish(table, times, values)


def _parse(
    path: str | os.PathLike[str], options: ReadOptions | None, *, symbol: str | None
) -> tuple[_Table, pd.DatetimeIndex, dict[str, np.ndarray], np.ndarray | None]:
    """Parse a CSV or Parquet price file by its suffix (and its ``symbol`` column as text, if named)."""
    options = _DEFAULT_OPTIONS if options is None else options
    shown = os.fspath(path)
    file = Path(shown)
    _check_regular_file(file, shown)
    name = file.name.lower()
    if name.endswith(_CSV_SUFFIXES):
        return _parse_csv(file, shown, options, symbol=symbol)
    if name.endswith(_PARQUET_SUFFIXES):
        return _parse_parquet(file, shown, options, symbol=symbol)
    suffixes = ", ".join((*_CSV_SUFFIXES, *_PARQUET_SUFFIXES))
    raise DataError(f"{shown}: unsupported file type {file.suffix or '(no extension)'!r}, expected one of {suffixes}")


def _check_regular_file(file: Path, shown: str) -> None:
    """Refuse, before opening it, a path that is missing, not a regular file, or too large to load.

    A FIFO or a device would block or never end; a directory is no file; a file over
    :data:`market.limits.MAX_FILE_BYTES` would take about ten times its size in memory. The check
    follows symbolic links (a link to a regular file is fine) and never opens the path.
    """
    try:
        status = file.stat()
    except FileNotFoundError:
        raise DataError(f"{shown}: file not found") from None
    except OSError as error:  # a name longer than the system allows, a loop of links, no permission ...
        raise DataError(f"{_shorten(shown)}: {error.strerror}") from None
    if stat.S_ISDIR(status.st_mode):
        raise DataError(f"{shown}: is a directory, not a price file")
    if not stat.S_ISREG(status.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(status.st_mode) else "a device or socket"
        raise DataError(f"{shown}: is {kind}, not a regular file; copy the prices into a file first")
    if status.st_size > limits.MAX_FILE_BYTES:
        raise DataError(
            f"{shown}: {status.st_size:,} bytes is over the limit of {limits.MAX_FILE_BYTES:,} bytes for a price file; "
            "split it or keep the columns and bars you need"
        )


def _shorten(name: str) -> str:
    """A path for a message: as is, or its start and end when it is too long to read."""
    return name if len(name) <= 120 else f"{name[:60]}...{name[-40:]} ({len(name):,} characters)"


def check_bars(prices: pd.DataFrame, *, columns: Sequence[str], source: str = "prices") -> None:
    """Check the part of a price table that a consumer reads: its time index and ``columns``.

    The index must be a strictly increasing :class:`pandas.DatetimeIndex` and each column present,
    numeric, finite and positive; other columns, the index's name and unit are free, so frames built
    elsewhere pass. :func:`check_prices` checks the whole shape :func:`load_prices` returns.

    Args:
        prices: The table to check.
        columns: The price columns that must be present and valid.
        source: What to call the table in error messages.

    Raises:
        DataError: naming the problem, the column and the first bad time.
    """
    if not isinstance(prices.index, pd.DatetimeIndex):
        raise DataError(f"{source} must have a DatetimeIndex, got {type(prices.index).__name__}")
    if not prices.index.is_monotonic_increasing or not prices.index.is_unique:
        raise DataError(f"{source} index must be strictly increasing (sorted, no duplicate times)")
    for column in columns:
        if column not in prices.columns:
            raise DataError(f"{source} must have columns {', '.join(map(repr, columns))}, got {list(prices.columns)}")
        if not pd.api.types.is_numeric_dtype(prices[column]):
            raise DataError(f"{source} column {column!r} must be numeric, got dtype {prices[column].dtype}")
        values = prices[column].to_numpy(dtype=np.float64)
        bad = ~(np.isfinite(values) & (values > 0.0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"{source} column {column!r} must hold positive finite prices, got {values[row]!r} at {prices.index[row]}")


def check_prices(prices: pd.DataFrame, *, source: str = "prices") -> None:
    """Check that a DataFrame has the shape :func:`load_prices` returns.

    Useful for tables built in code (synthetic data, resampled data) before they enter an env or a
    backtest.

    Args:
        prices: The table to check.
        source: What to call the table in error messages.

    Raises:
        DataError: The index or columns are not those of a price table, or a value breaks an
            invariant (non-finite or non-positive price, negative volume, high below low, open or
            close outside [low, high], times not strictly increasing).
    """
    expected = [*PRICE_COLUMNS, VOLUME] if VOLUME in prices.columns else list(PRICE_COLUMNS)
    if list(prices.columns) != expected:
        raise DataError(f"{source}: columns are {list(prices.columns)}, expected {expected}")
    index = prices.index
    if not isinstance(index, pd.DatetimeIndex) or index.name != TIME or index.tz is not None:
        raise DataError(f"{source}: index must be a timezone-naive DatetimeIndex named {TIME!r}")
    if index.unit != TIME_UNIT:
        raise DataError(f"{source}: time index has unit {index.unit!r}, expected {TIME_UNIT!r}")
    for column in expected:
        if prices[column].dtype != np.float64:
            raise DataError(f"{source}: column {column!r} has dtype {prices[column].dtype}, expected float64")
    table = _Table(source=source, headers={column: column for column in expected})
    for column in expected:
        values = prices[column].to_numpy()
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise table.error(int(bad[0]), column, f"value {_num(values[bad[0]])} is not finite")
    _check_values(table, {column: prices[column].to_numpy() for column in expected})
    _check_times(table, index)


@dataclass(frozen=True, slots=True)
class _Table:
    """Where the rows of one source came from, to word error messages.

    Attributes:
        source: The file as the caller named it (and the asset, for one asset of a long file).
        headers: The header that was used for each role (``close`` -> ``"Adj Close"``).
        line_of: For CSV, gives the file line on which a 0-based data row starts; None for Parquet.
        rows: For one asset of a long file, the file's data row of each of its rows.
    """

    source: str
    headers: Mapping[str, str]
    line_of: Callable[[int], int] | None = None
    rows: np.ndarray | None = None

    def error(self, row: int, role: str | None, problem: str) -> DataError:
        """An error about the data row at 0-based position ``row`` (and a column, if given)."""
        row = row if self.rows is None else int(self.rows[row])
        where = f"row {row + 1}" if self.line_of is None else f"row {row + 1} (line {self.line_of(row)})"
        if role is not None:
            where += f", column {self.headers[role]!r}"
        return DataError(f"{self.source}: {where}: {problem}")

    def column_error(self, role: str, problem: str) -> DataError:
        """An error about a whole column."""
        return DataError(f"{self.source}: column {self.headers[role]!r}: {problem}")


class _CsvLines:
    """The file line on which each data row of a CSV text starts, worked out only when an error needs it.

    Lines and rows differ when a file has empty lines or quoted fields that span lines.
    """

    def __init__(self, text: str, delimiter: str) -> None:
        self._text = text
        self._delimiter = delimiter
        self._starts: list[int] | None = None

    def __call__(self, row: int) -> int:
        """The line (1-based) on which the 0-based data row ``row`` starts."""
        if self._starts is None:
            reader = csv.reader(io.StringIO(self._text, newline=""), delimiter=self._delimiter, strict=True)
            starts, previous_end = [], 0
            for record in reader:
                if record:  # csv yields [] for an empty line
                    starts.append(previous_end + 1)
                previous_end = reader.line_num
            self._starts = starts
        return self._starts[row + 1]  # record 0 is the header


def _parse_csv(
    file: Path, shown: str, options: ReadOptions, *, symbol: str | None
) -> tuple[_Table, pd.DatetimeIndex, dict[str, np.ndarray], np.ndarray | None]:
    """Parse a CSV price file's times and numbers (and its ``symbol`` column as text, if named)."""
    text = _csv_text(file, shown)
    delimiter = options.delimiter if options.delimiter is not None else _sniff_delimiter(text, shown)
    if options.decimal == "," and delimiter == ",":
        raise DataError(f"{shown}: decimal ',' needs fields separated by ';' or tab, but they are separated by ','")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        records = [record for record in reader if record]  # csv yields [] for an empty line
    except csv.Error as error:
        raise DataError(f"{shown}: line {reader.line_num}: malformed CSV: {one_line(error)}") from error
    if not records:
        raise DataError(f"{shown}: file is empty")
    header, rows = records[0], records[1:]
    positions = _match_columns(header, shown)
    symbol_at = None if symbol is None else _symbol_column(header, symbol, shown)
    if not rows:
        raise DataError(f"{shown}: has a header but no data rows")
    table = _Table(source=shown, headers={role: header[i] for role, i in positions.items()}, line_of=_CsvLines(text, delimiter))
    # Every row has as many fields as the header (pandas would shift extra fields into the index).
    widths = np.fromiter(map(len, rows), dtype=np.intp, count=len(rows))
    uneven = np.flatnonzero(widths != len(header))
    if uneven.size:
        row = int(uneven[0])
        many = "many" if widths[row] > len(header) else "few"
        raise table.error(row, None, f"too {many} fields: {widths[row]}, but the header has {len(header)}")
    # Columns as text, then each converted under our own rules.
    fields = list(zip(*rows, strict=True))
    cells = {role: pc.utf8_trim_whitespace(pa.array(fields[i], type=pa.string())) for role, i in positions.items()}
    times = _parse_time_text(table, cells.pop(TIME), options)
    if options.decimal == ",":
        cells = {role: pc.replace_substring(texts, ",", ".", max_replacements=1) for role, texts in cells.items()}
    values = {role: _parse_number_text(table, role, texts) for role, texts in cells.items()}
    symbols = None if symbol_at is None else np.array([cell.strip() for cell in fields[symbol_at]], dtype=object)
    return table, times, values, symbols


def read_long_prices(
    path: str | os.PathLike[str], options: ReadOptions | None = None, *, symbol: str = "symbol"
) -> dict[str, pd.DataFrame]:
    """Read one long file of many assets, a ``symbol`` column naming each row's asset, into one table per asset.

    Rows of different assets may be interleaved in any order, but each asset's rows must be sorted
    by time. Each asset's table is checked as :func:`load_prices` checks a file.

    Args:
        path: A CSV or Parquet file with the columns :func:`load_prices` reads plus the symbol column.
        options: Time formats and CSV dialect.
        symbol: The name of the symbol column (matched ignoring case and surrounding spaces).

    Returns:
        Asset name -> price table, assets in the order they first appear in the file.

    Raises:
        DataError: As :func:`load_prices`, or the symbol column is missing or has an empty cell; a
            message about one asset's rows names the file, the asset and the file's row.
    """
    table, times, values, symbols = _parse(path, options, symbol=symbol)
    assert symbols is not None
    shown = os.fspath(path)
    empty = np.flatnonzero(symbols == "")
    if empty.size:
        raise table.error(int(empty[0]), None, f"the {symbol!r} column is empty")
    assets: dict[str, pd.DataFrame] = {}
    for asset in dict.fromkeys(symbols):
        rows = np.flatnonzero(symbols == asset)
        part = _Table(source=f"{shown}: asset {asset!r}", headers=table.headers, line_of=table.line_of, rows=rows)
        assets[asset] = _finish(part, times[rows], {role: column[rows] for role, column in values.items()})
    return assets


def _symbol_column(header: Sequence[str], symbol: str, shown: str) -> int:
    """The position of the symbol column in ``header``, matched ignoring case and spaces."""
    wanted = symbol.strip().lower()
    found = [i for i, name in enumerate(header) if name.strip().lower() == wanted]
    if len(found) != 1:
        seen = ", ".join(_show(name) for name in header[:12])
        problem = "no" if not found else f"{len(found)}"
        raise DataError(f"{shown}: {problem} symbol column {symbol!r} (header has {seen}); give the symbol column's name")
    return found[0]


def read_wide_closes(path: str | os.PathLike[str], options: ReadOptions | None = None) -> dict[str, pd.DataFrame]:
    """Read a wide CSV of closes (a time column, then one column per asset) into one price table per asset.

    Each asset's table has open = high = low = close (the file has closes only), so a consumer
    that fills at the next bar's open fills at the next bar's close. Values are checked as in
    :func:`load_prices`; the times once for all assets.

    Args:
        path: The CSV file; its header names the time column and the assets.
        options: Time formats and CSV dialect.

    Returns:
        Asset name -> price table, in the order of the header.

    Raises:
        DataError: As :func:`load_prices`; the message names the file, the row and the asset's column.
    """
    options = _DEFAULT_OPTIONS if options is None else options
    shown = os.fspath(path)
    file = Path(shown)
    _check_regular_file(file, shown)
    if not file.name.lower().endswith(_CSV_SUFFIXES):
        raise DataError(f"{shown}: a wide file of closes must be CSV ({', '.join(_CSV_SUFFIXES)})")
    text = _csv_text(file, shown)
    delimiter = options.delimiter if options.delimiter is not None else _sniff_delimiter(text, shown)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        records = [record for record in reader if record]
    except csv.Error as error:
        raise DataError(f"{shown}: line {reader.line_num}: malformed CSV: {one_line(error)}") from error
    if len(records) < 2:
        raise DataError(f"{shown}: needs a header and data rows")
    header, rows = records[0], records[1:]
    time_at = [i for i, name in enumerate(header) if _ALIASES.get(re.sub(r"[^0-9a-z]", "", name.lower())) == TIME]
    if len(time_at) != 1:
        raise DataError(f"{shown}: a wide file needs exactly one time column (Date, Time, ...), found {len(time_at)}")
    lines = _CsvLines(text, delimiter)
    widths = np.fromiter(map(len, rows), dtype=np.intp, count=len(rows))
    uneven = np.flatnonzero(widths != len(header))
    if uneven.size:
        row = int(uneven[0])
        raise DataError(f"{shown}: row {row + 1} (line {lines(row)}): {widths[row]} fields, but the header has {len(header)}")
    fields = list(zip(*rows, strict=True))
    time_table = _Table(source=shown, headers={TIME: header[time_at[0]]}, line_of=lines)
    times = _parse_time_text(time_table, pc.utf8_trim_whitespace(pa.array(fields[time_at[0]], type=pa.string())), options)
    _check_times(time_table, times)
    closes: dict[str, pd.DataFrame] = {}
    for position, asset in enumerate(header):
        if position == time_at[0]:
            continue
        if asset in closes:
            raise DataError(f"{shown}: column {position + 1} {asset!r} repeats an asset")
        table = _Table(source=shown, headers={role: asset for role in PRICE_COLUMNS}, line_of=lines)
        texts = pc.utf8_trim_whitespace(pa.array(fields[position], type=pa.string()))
        if options.decimal == ",":
            texts = pc.replace_substring(texts, ",", ".", max_replacements=1)
        close = _parse_number_text(table, CLOSE, texts)
        closes[asset] = _finish(table, times, dict.fromkeys(PRICE_COLUMNS, close))
    return closes


def _sniff_delimiter(text: str, shown: str) -> str:
    """The one of comma, semicolon and tab that separates the header line's fields.

    The header is the first non-empty line. With none of them it is a comma (a one-column file
    then fails on its missing columns); with more than one the file is refused, naming the option.
    """
    header = next((line for line in text.splitlines() if line.strip()), "")
    found = [delimiter for delimiter in _DELIMITERS if delimiter in header]
    if len(found) > 1:
        shown_found = ", ".join(repr(delimiter) for delimiter in found)
        raise DataError(f"{shown}: line 1: the header has several separators ({shown_found}); give the delimiter option")
    return found[0] if found else ","


def _csv_text(file: Path, shown: str) -> str:
    """The text of a CSV file (gunzipped if its name ends in ``.gz``), which must be UTF-8."""
    try:
        data = gzip.decompress(file.read_bytes()) if file.name.lower().endswith(".gz") else file.read_bytes()
    except (OSError, EOFError) as error:
        raise DataError(f"{shown}: cannot read the file: {one_line(error)}") from error
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        byte = data[error.start : error.start + 1].hex()
        raise DataError(f"{shown}: line {line}: not valid UTF-8 text (byte 0x{byte})") from error


def _match_columns(header: Sequence[str], shown: str) -> dict[str, int]:
    """Map each role (time, open, ..., volume) to the position of its column in ``header``."""
    found: dict[str, int] = {}
    for position, name in enumerate(header):
        role = _ALIASES.get(re.sub(r"[^0-9a-z]", "", name.lower()))
        if role is None:
            continue
        if role in found:
            first = header[found[role]]
            raise DataError(
                f"{shown}: column {position + 1} {name!r} repeats column {found[role] + 1} {first!r} (both are {role})"
            )
        found[role] = position
    adjusted = found.pop(_ADJ_CLOSE, None)
    if CLOSE not in found and adjusted is not None:
        found[CLOSE] = adjusted
    missing = [role for role in _REQUIRED if role not in found]
    if missing:
        seen = ", ".join(_show(name) for name in header[:12]) + (", ..." if len(header) > 12 else "")
        hint = "; fields must be separated by commas" if len(header) == 1 and re.search(r"[;\t|]", header[0]) else ""
        raise DataError(f"{shown}: missing column(s) {', '.join(missing)} (header has {seen}{hint})")
    return found


def _parse_time_text(table: _Table, texts: pa.StringArray, options: ReadOptions) -> pd.DatetimeIndex:
    """Parse time strings (ISO 8601, epochs, or as ``options`` says) into naive UTC times, naming the first bad row."""
    integers = pc.match_substring_regex(texts, pattern=_INTEGER_PATTERN).to_numpy(zero_copy_only=False)
    if options.time_unit is not None:
        if not integers.all():
            row = int(np.argmin(integers))
            raise table.error(row, TIME, f"time {_show(texts[row].as_py())} is not an integer epoch (time_unit={options.time_unit!r})")
        return _epoch_times(table, pc.cast(texts, pa.int64()).to_numpy(zero_copy_only=False), options.time_unit)
    if options.time_format is None and not options.dayfirst and integers.all():
        unit = _detect_epoch_unit(texts)
        if unit is not None:
            return _epoch_times(table, pc.cast(texts, pa.int64()).to_numpy(zero_copy_only=False), unit)
    if options.time_format is not None or options.dayfirst:
        return _parse_formatted_time(table, texts, options)
    with_zone = pc.match_substring_regex(texts, pattern=_TZ_PATTERN).to_numpy(zero_copy_only=False)
    if with_zone.any() and not with_zone.all():
        row = int(np.argmax(with_zone != with_zone[0]))
        has = "has" if with_zone[row] else "has no"
        first = "does not" if with_zone[row] else "does"
        raise table.error(row, TIME, f"time {_show(texts[row].as_py())} {has} time zone but row 1's {first}")
    try:
        series = pd.Series(pd.arrays.ArrowStringArray(texts))
        parsed = pd.to_datetime(series, format="ISO8601", utc=bool(with_zone[0]), errors="coerce")
    except (ValueError, OverflowError) as error:
        raise table.column_error(TIME, f"cannot parse times: {one_line(error)}") from error
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        row = int(bad[0])
        raise table.error(row, TIME, f"cannot parse time {_show(texts[row].as_py())}, {_TIME_FORMAT_HINT}")
    return _naive_utc(table, pd.DatetimeIndex(parsed))


def _detect_epoch_unit(texts: pa.StringArray) -> str | None:
    """The epoch unit told by the number of digits, when every time has the same width of 10, 13, 16 or 19."""
    widths = pc.utf8_length(pc.utf8_ltrim(texts, characters="+-")).to_numpy(zero_copy_only=False)
    if widths.size == 0 or not (widths == widths[0]).all():
        return None
    return _EPOCH_DIGITS.get(int(widths[0]))


def _epoch_times(table: _Table, epochs: np.ndarray, unit: str) -> pd.DatetimeIndex:
    """Integer epochs in ``unit`` since 1970-01-01 UTC as naive UTC times."""
    try:
        times = pd.DatetimeIndex(pd.to_datetime(epochs, unit=unit))
    except (ValueError, OverflowError) as error:
        raise table.column_error(TIME, f"epoch times in {unit!r} out of range: {one_line(error)}") from error
    return _naive_utc(table, times)


def _parse_formatted_time(table: _Table, texts: pa.StringArray, options: ReadOptions) -> pd.DatetimeIndex:
    """Parse time text with ``options.time_format``, or day first with the format row 1 shows."""
    time_format = options.time_format
    if time_format is None:
        time_format = pd.tseries.api.guess_datetime_format(texts[0].as_py(), dayfirst=True)
        if time_format is None:
            raise table.error(0, TIME, f"cannot tell the format of time {_show(texts[0].as_py())}; give time_format")
    series = pd.Series(pd.arrays.ArrowStringArray(texts))
    try:
        parsed = pd.to_datetime(series, format=time_format, errors="coerce")
    except (ValueError, OverflowError) as error:
        raise table.column_error(TIME, f"cannot parse times with format {time_format!r}: {one_line(error)}") from error
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        row = int(bad[0])
        raise table.error(row, TIME, f"time {_show(texts[row].as_py())} does not match format {time_format!r}")
    return _naive_utc(table, pd.DatetimeIndex(parsed))


def _parse_number_text(table: _Table, role: str, texts: pa.StringArray) -> np.ndarray:
    """Parse decimal strings into float64, naming the first row that is not a finite number."""
    numbers = pc.match_substring_regex(texts, pattern=_NUMBER_PATTERN).to_numpy(zero_copy_only=False)
    if not numbers.all():
        row = int(np.argmin(numbers))
        text = texts[row].as_py()
        if text.lower() in _MISSING_TOKENS:
            problem = "missing value (empty cell)" if text == "" else f"missing value {_show(text)}"
        elif text.lower().lstrip("+-") in ("inf", "infinity"):
            problem = f"{_show(text)} is not a finite number"
        else:
            problem = f"{_show(text)} is not a number"
        raise table.error(row, role, problem)
    values = pc.cast(texts, pa.float64()).to_numpy(zero_copy_only=False)
    overflow = np.flatnonzero(np.isinf(values))
    if overflow.size:
        row = int(overflow[0])
        raise table.error(row, role, f"{_show(texts[row].as_py())} is too large (overflows to infinity)")
    return values


def _parse_parquet(
    file: Path, shown: str, options: ReadOptions, *, symbol: str | None
) -> tuple[_Table, pd.DatetimeIndex, dict[str, np.ndarray], np.ndarray | None]:
    """Read and type-check a Parquet price file's columns (and its ``symbol`` column as text, if named)."""
    try:
        arrow = pq.read_table(file)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise DataError(f"{shown}: not a readable Parquet file: {one_line(error)}") from error
    if arrow.num_columns == 0:
        raise DataError(f"{shown}: file is empty (no columns)")
    header = arrow.column_names
    positions = _match_columns(header, shown)
    if arrow.num_rows == 0:
        raise DataError(f"{shown}: has columns but no data rows")
    table = _Table(source=shown, headers={role: header[i] for role, i in positions.items()})
    times = _arrow_times(table, arrow.column(positions.pop(TIME)), options)
    values = {role: _arrow_numbers(table, role, arrow.column(i)) for role, i in positions.items()}
    if symbol is None:
        return table, times, values, None
    column = arrow.column(_symbol_column(header, symbol, shown))
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type) or pa.types.is_integer(column.type)):
        raise DataError(f"{shown}: symbol column {symbol!r} has type {column.type}, expected text")
    nulls = np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))
    if nulls.size:
        raise table.error(int(nulls[0]), None, f"the {symbol!r} column is empty (null)")
    symbols = np.array([str(cell).strip() for cell in column.to_pylist()], dtype=object)
    return table, times, values, symbols


def _arrow_times(table: _Table, column: pa.ChunkedArray, options: ReadOptions) -> pd.DatetimeIndex:
    """Convert a Parquet timestamp, date or integer epoch column into naive UTC times."""
    kind = column.type
    if pa.types.is_integer(kind):
        nulls = np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))
        if nulls.size:
            raise table.error(int(nulls[0]), TIME, "missing time (null)")
        unit = options.time_unit or _detect_epoch_unit(pc.cast(column, pa.string()))
        if unit is None:
            raise table.column_error(TIME, "holds integers whose epoch unit cannot be told from their digits; give time_unit")
        return _epoch_times(table, column.cast(pa.int64()).to_numpy(), unit)
    if pa.types.is_date(kind):
        column = column.cast(pa.timestamp("s"))
    elif not pa.types.is_timestamp(kind):
        raise table.column_error(TIME, f"has type {kind}, expected a timestamp or date")
    nulls = np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))
    if nulls.size:
        raise table.error(int(nulls[0]), TIME, "missing time (null)")
    try:
        times = pd.DatetimeIndex(column.to_pandas())
    except (pa.ArrowException, ValueError, OverflowError) as error:
        raise table.column_error(TIME, one_line(error)) from error
    return _naive_utc(table, times)


def _arrow_numbers(table: _Table, role: str, column: pa.ChunkedArray) -> np.ndarray:
    """Convert a numeric Parquet column into float64, naming the first null, NaN or infinity."""
    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
        raise table.column_error(role, f"has type {kind}, expected a number")
    nulls = np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))
    if nulls.size:
        raise table.error(int(nulls[0]), role, "missing value (null)")
    values = np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise table.error(int(bad[0]), role, f"value {_num(values[bad[0]])} is not a finite number")
    return values


def _naive_utc(table: _Table, times: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Drop the time zone (after conversion to UTC) and set the unit to :data:`TIME_UNIT` exactly."""
    if times.tz is not None:
        times = times.tz_convert("UTC").tz_localize(None)
    try:
        converted = times.as_unit(TIME_UNIT)
    except (ValueError, OverflowError) as error:
        raise table.column_error(TIME, f"times out of range: {one_line(error)}") from error
    lost = np.flatnonzero(converted != times)
    if lost.size:
        row = int(lost[0])
        raise table.error(row, TIME, f"time {times[row]} is finer than a microsecond, which is not supported")
    return pd.DatetimeIndex(converted, name=TIME)


def _finish(table: _Table, times: pd.DatetimeIndex, values: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Check the parsed values and assemble the price table."""
    _check_values(table, values)
    _check_times(table, times)
    columns = [*PRICE_COLUMNS, VOLUME] if VOLUME in values else list(PRICE_COLUMNS)
    return pd.DataFrame({column: values[column] for column in columns}, index=times)


def _check_values(table: _Table, values: Mapping[str, np.ndarray]) -> None:
    """Check finite values for positive prices, non-negative volume and consistent bars.

    Reports the earliest bad row, and on that row the first problem in the order checked.
    """
    high, low = values[HIGH], values[LOW]
    bad = high < low
    for role in PRICE_COLUMNS:
        bad |= values[role] <= 0
    for role in (OPEN, CLOSE):
        bad |= (values[role] < low) | (values[role] > high)
    if VOLUME in values:
        bad |= values[VOLUME] < 0
    if bad.any():
        row = int(np.argmax(bad))
        raise _bar_error(table, row, {role: float(column[row]) for role, column in values.items()})


def _bar_error(table: _Table, row: int, bar: Mapping[str, float]) -> DataError:
    """The error for the first problem of one bad bar."""
    name = table.headers
    for role in PRICE_COLUMNS:
        if bar[role] <= 0:
            return table.error(row, role, f"price must be positive, got {_num(bar[role])}")
    if VOLUME in bar and bar[VOLUME] < 0:
        return table.error(row, VOLUME, f"volume must be >= 0, got {_num(bar[VOLUME])}")
    low, high = f"{name[LOW]} {_num(bar[LOW])}", f"{name[HIGH]} {_num(bar[HIGH])}"
    if bar[HIGH] < bar[LOW]:
        return table.error(row, None, f"{high} is below {low}")
    role = OPEN if not bar[LOW] <= bar[OPEN] <= bar[HIGH] else CLOSE
    return table.error(row, None, f"{name[role]} {_num(bar[role])} is outside [{low}, {high}]")


def _check_times(table: _Table, times: pd.DatetimeIndex) -> None:
    """Check that times are strictly increasing, naming the first repeated or out-of-order row."""
    stamps = times.asi8
    steps = np.diff(stamps)
    bad = np.flatnonzero(steps <= 0)
    if bad.size:
        row = int(bad[0]) + 1
        if steps[row - 1] == 0:
            raise table.error(row, TIME, f"duplicate time {times[row]} (same as row {row})")
        problem = f"time {times[row]} is earlier than row {row}'s {times[row - 1]} (rows must be sorted by time)"
        raise table.error(row, TIME, problem)


def _num(value: float) -> str:
    """A number as a user would write it (``np.float64`` reprs are noisy in numpy 2)."""
    return repr(float(value))


def _show(text: str) -> str:
    """A cell or header quoted on one line and cut to a readable length."""
    shown = repr(text)
    return shown if len(shown) <= _MAX_SHOWN else shown[: _MAX_SHOWN - 4] + "...'"


