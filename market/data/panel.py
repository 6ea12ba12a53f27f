"""A panel of assets aligned on time: :func:`load_panel` and the :class:`Panel` it returns.

A :class:`Panel` is frozen and holds:

* ``assets``: the asset names (file stems), in the order of the columns;
* ``times``: a strictly increasing :class:`pandas.DatetimeIndex` named ``time`` (unit ``us``);
* ``fields``: for each of ``open``, ``high``, ``low``, ``close`` (and ``volume`` when every asset
  has one) a ``float64`` array of shape ``(time, asset)``;
* ``available``: a ``bool`` array ``(time, asset)``, False where a value was filled forward;
* ``report``: an :class:`AlignmentReport`: the rule used and how many rows each asset lost.

Per-asset files are read with :func:`~market.data.loading.load_prices` and one
:class:`~market.data.loading.ReadOptions`, so each file is as strictly checked as a single one.

Alignment is explicit: ``align="inner"`` keeps only the times every asset has; ``align="ffill"``
keeps the times of the union from the first time at which every asset has a bar, and fills an
asset's missing bar with its last close (open = high = low = close, volume 0) for at most
``max_fill`` bars in a row; a longer gap is an error naming the asset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from market.data.loading import (
    CLOSE,
    HIGH,
    LOW,
    OPEN,
    PRICE_COLUMNS,
    TIME,
    VOLUME,
    ReadOptions,
    check_prices,
    load_prices,
    read_long_prices,
    read_wide_closes,
)
from market.errors import DataError

__all__ = ["ALIGNMENTS", "AlignmentReport", "Panel", "load_panel", "panel_from_closes", "panel_from_frames"]

ALIGNMENTS: Final[tuple[str, ...]] = ("inner", "ffill")
"""The alignment rules :func:`load_panel` accepts."""
_PANEL_SUFFIXES: Final = (".csv", ".csv.gz", ".parquet", ".pq")


@dataclass(frozen=True, slots=True)
class AlignmentReport:
    """How the assets' calendars were aligned.

    Attributes:
        align: The rule (``"inner"`` or ``"ffill"``).
        max_fill: The longest run of filled bars allowed (0 for ``"inner"``).
        rows_in: Each asset's number of bars in its file.
        rows_dropped: Each asset's bars that are not in the panel.
        rows_filled: Each asset's bars filled forward.
    """

    align: str
    max_fill: int
    rows_in: Mapping[str, int]
    rows_dropped: Mapping[str, int]
    rows_filled: Mapping[str, int]

    def describe(self) -> str:
        """One line per asset: bars read, dropped and filled."""
        return "\n".join(
            f"{asset}: {self.rows_in[asset]} bars, {self.rows_dropped[asset]} dropped, {self.rows_filled[asset]} filled"
            for asset in self.rows_in
        )


@dataclass(frozen=True, slots=True)
class Panel:
    """Many assets on one time index; see the module docstring for the shape."""

    assets: tuple[str, ...]
    times: pd.DatetimeIndex
    fields: Mapping[str, np.ndarray]
    available: np.ndarray
    report: AlignmentReport

    def frame(self, field: str = CLOSE) -> pd.DataFrame:
        """One field as a DataFrame (time x asset)."""
        return pd.DataFrame(self.fields[field], index=self.times, columns=list(self.assets))


def load_panel(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    align: str = "inner",
    max_fill: int = 0,
    min_rows: int = 2,
    options: ReadOptions | None = None,
    wide: bool = False,
    symbol: str | None = None,
) -> Panel:
    """Read per-asset price files (a folder of them, or a list), or one wide or long file, into a :class:`Panel`.

    Args:
        source: A folder (its ``.csv``, ``.csv.gz``, ``.parquet`` and ``.pq`` files, sorted by
            name; each file's stem is its asset name) or a list of files.
        align: ``"inner"`` or ``"ffill"`` (see the module docstring).
        max_fill: For ``"ffill"``, the most bars in a row that may be filled for one asset.
        min_rows: The fewest aligned bars an asset must share with the others.
        options: Time formats and CSV dialect, the same for every file.
        wide: ``source`` is one CSV file of closes, a time column then one column per asset
            (see :func:`~market.data.loading.read_wide_closes`: open = high = low = close, so
            orders fill at the next bar's close).
        symbol: ``source`` is one long CSV or Parquet file of OHLC rows whose column of this name
            says each row's asset (see :func:`~market.data.loading.read_long_prices`).

    Returns:
        The aligned panel; ``panel.report`` says how many rows each asset lost or had filled.

    Raises:
        DataError: A file is bad (the message names it), two files have one asset name, there is
            only one asset, or an asset shares too few bars with the others (the message names it).
    """
    if align not in ALIGNMENTS:
        raise DataError(f"align must be one of {', '.join(ALIGNMENTS)}, got {align!r}")
    if max_fill < 0 or (align == "inner" and max_fill):
        raise DataError(f"max_fill must be >= 0 and only used with align='ffill', got {max_fill}")
    tables: dict[str, pd.DataFrame] = {}
    one_file = wide or symbol is not None
    if wide and symbol is not None:
        raise DataError("give wide=True (a column per asset) or symbol (a column naming each row's asset), not both")
    if one_file and not isinstance(source, (str, os.PathLike)):
        raise DataError(f"{'wide=True' if wide else 'symbol'} reads one file; got a list")
    if wide:
        tables = read_wide_closes(source, options)
    elif symbol is not None:
        tables = read_long_prices(source, options, symbol=symbol)
    files = [] if one_file else _panel_files(source)
    if not one_file and len(files) < 2:  # before reading any: the count is the first thing wrong
        shown = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "files"
        raise DataError(f"{shown}: a panel needs at least 2 assets, got {len(files)}")
    for file in files:
        asset = _asset_name(file)
        if asset in tables:
            raise DataError(f"{file}: asset {asset!r} is already read from another file")
        tables[asset] = load_prices(file, options)
    if len(tables) < 2:
        raise DataError(f"{os.fspath(source) if isinstance(source, (str, os.PathLike)) else 'files'}: a panel needs at least 2 assets, got {len(tables)}")
    return _align(tables, align=align, max_fill=max_fill, min_rows=min_rows)


def panel_from_frames(
    tables: Mapping[str, pd.DataFrame], *, align: str = "inner", max_fill: int = 0, min_rows: int = 2
) -> Panel:
    """A :class:`Panel` from price tables built in code (asset name -> a table shaped as :func:`load_prices` returns).

    Each table is checked with :func:`~market.data.loading.check_prices`; alignment is as in :func:`load_panel`.

    Raises:
        DataError: A table is not a valid price table (the message names the asset), there are
            fewer than two assets, or an asset shares too few bars with the others.
    """
    if align not in ALIGNMENTS:
        raise DataError(f"align must be one of {', '.join(ALIGNMENTS)}, got {align!r}")
    if max_fill < 0 or (align == "inner" and max_fill):
        raise DataError(f"max_fill must be >= 0 and only used with align='ffill', got {max_fill}")
    if len(tables) < 2:
        raise DataError(f"a panel needs at least 2 assets, got {len(tables)}")
    for asset, table in tables.items():
        check_prices(table, source=f"asset {asset!r}")
    return _align(dict(tables), align=align, max_fill=max_fill, min_rows=min_rows)


def panel_from_closes(closes: pd.DataFrame) -> Panel:
    """A :class:`Panel` from a frame of closes (time x asset), open = high = low = close as for a wide file.

    Raises:
        DataError: As :func:`panel_from_frames`.
    """
    index = pd.DatetimeIndex(closes.index, name=TIME).as_unit("us")
    tables = {}
    for asset in closes.columns:
        values = closes[asset].to_numpy(dtype=np.float64)
        tables[str(asset)] = pd.DataFrame(dict.fromkeys(PRICE_COLUMNS, values), index=index)
    return panel_from_frames(tables)


def _panel_files(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The files of a folder (sorted) or the given list."""
    if isinstance(source, (str, os.PathLike)):
        folder = Path(source)
        if not folder.is_dir():
            raise DataError(f"{os.fspath(source)}: not a folder; give a folder of per-asset files or a list of files")
        return sorted(path for path in folder.iterdir() if path.name.lower().endswith(_PANEL_SUFFIXES))
    return [Path(file) for file in source]


def _asset_name(file: Path) -> str:
    """The file name without its price-file suffix."""
    name = file.name
    for suffix in _PANEL_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return file.stem


def _align(tables: Mapping[str, pd.DataFrame], *, align: str, max_fill: int, min_rows: int) -> Panel:
    """Put the tables on one time index by the chosen rule."""
    assets = tuple(tables)
    if align == "inner":
        times = tables[assets[0]].index
        for table in tables.values():
            times = times.intersection(table.index)
    else:
        start = max(table.index[0] for table in tables.values())
        union = tables[assets[0]].index
        for table in tables.values():
            union = union.union(table.index)
        times = union[union >= start]
    with_volume = all(VOLUME in table.columns for table in tables.values())
    names = [*PRICE_COLUMNS, VOLUME] if with_volume else list(PRICE_COLUMNS)
    fields = {name: np.empty((len(times), len(assets)), dtype=np.float64) for name in names}
    available = np.zeros((len(times), len(assets)), dtype=bool)
    dropped, filled = {}, {}
    for column, asset in enumerate(assets):
        table = tables[asset]
        present = times.isin(table.index)
        available[:, column] = present
        dropped[asset] = int(len(table) - present.sum())
        filled[asset] = int((~present).sum())
        if present.sum() < min_rows:
            raise DataError(f"asset {asset!r}: only {int(present.sum())} bars overlap the other assets, need at least {min_rows}")
        _check_gaps(asset, present, max_fill)
        close = table[CLOSE].reindex(times).ffill().to_numpy()
        for name in names:
            values = table[name].reindex(times).to_numpy()
            if name in (OPEN, HIGH, LOW, CLOSE):
                values = np.where(present, values, close)
            else:
                values = np.where(present, values, 0.0)
            fields[name][:, column] = values
    report = AlignmentReport(align=align, max_fill=max_fill, rows_in={a: len(tables[a]) for a in assets},
                             rows_dropped=dropped, rows_filled=filled)
    for values in fields.values():
        values.flags.writeable = False
    available.flags.writeable = False
    return Panel(assets=assets, times=pd.DatetimeIndex(times, name=TIME), fields=fields, available=available, report=report)


def _check_gaps(asset: str, present: np.ndarray, max_fill: int) -> None:
    """Refuse a run of more than ``max_fill`` missing bars, naming the asset."""
    run = 0
    for missing in ~present:
        run = run + 1 if missing else 0
        if run > max_fill:
            raise DataError(f"asset {asset!r}: more than {max_fill} bars in a row missing; raise max_fill or use align='inner'")
