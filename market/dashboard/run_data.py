"""What the dashboard reads from run records: safe run paths, lazy reads, per-step lookups, downsampled series.

Nothing here imports Streamlit, so every function is testable on its own; the page
(:mod:`market.dashboard.app`) caches their results. Reads go through :meth:`RunReader.read` with an
explicit column list and, where the page needs a slice, a ``pyarrow.dataset`` filter on ``step`` or
``agent``, so Parquet skips the row groups and columns a view does not need. The ``action`` column (a
list per row, the heaviest) is never read.

Paths: a run is a folder directly inside the runs folder. :func:`resolve_run` refuses names with a
separator, ``..`` or a leading dot, and any folder (or file inside it) whose real path, symlinks
resolved, lies outside the runs folder.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from market import stats
from market.errors import RecordError
from market.records import RunReader, RunSummary
from market.errors import one_line
from market.naming import agent_sort_key, population_of
from market.records import schema as s

MAX_POINTS = 2_000
"""Most points drawn per line; longer series are downsampled, keeping each bucket's low and high."""

MAX_TAPE_ROWS = 500
"""Most trades listed in the tape."""

MAX_TRADE_MARKERS = 2_000
"""Most trades marked on the price chart; more are thinned evenly."""

RETURN = "return"
SHARPE = "sharpe (per step)"
MAX_DRAWDOWN = "max drawdown"
FINAL_EQUITY = "final equity"
POPULATION = "population"
DRAWDOWN = "drawdown"
NAME = "name"
METRIC = "metric"

# --- names and paths -------------------------------------------------------------------------------


MAX_NAME = 255
"""The longest folder name the file systems in use allow (NAME_MAX): a longer run name cannot exist."""


def resolve_run(root: Path | str, name: str) -> Path:
    """Return the real path of run ``name`` inside the runs folder, refusing anything outside it.

    Args:
        root: The runs folder.
        name: A run's folder name: one path component, not hidden, no ``..``.

    Returns:
        The run folder's resolved path; it and every entry in it lie inside ``root``'s real path.

    Raises:
        RecordError: The name is not a single folder name, the folder does not exist, or it (or a
            file in it) resolves outside the runs folder, for example through a symlink.
    """
    real_root = Path(root).resolve()
    separators = {"/", "\\", os.sep, "\x00"} | ({os.altsep} if os.altsep else set())
    if isinstance(name, str) and len(name) > MAX_NAME:
        raise RecordError(f"{name[:40]!r}... ({len(name):,} characters): refused: a run's folder name has at most {MAX_NAME}")
    if not isinstance(name, str) or not name or name.startswith(".") or any(sep in name for sep in separators):
        raise RecordError(f"{name!r}: refused: a run is a folder directly inside the runs folder {real_root}")
    real = (real_root / name).resolve()
    if real == real_root or not real.is_relative_to(real_root):
        raise RecordError(f"{real_root / name}: refused: it points outside the runs folder {real_root}")
    if not real.is_dir():
        raise RecordError(f"{real_root / name}: no such run folder")
    for entry in real.iterdir():
        if not entry.resolve().is_relative_to(real_root):
            raise RecordError(f"{entry}: refused: it points outside the runs folder {real_root}")
    return real


def fingerprint(run: Path) -> str:
    """Return the SHA-256 of a run's manifest: it names every table file's checksum, so it keys caches."""
    try:
        return hashlib.sha256((run / s.MANIFEST_FILE).read_bytes()).hexdigest()
    except OSError as exc:
        raise RecordError(f"{run / s.MANIFEST_FILE}: cannot read: {one_line(exc)}") from exc


@dataclass(frozen=True, slots=True)
class RunListing:
    """The runs folder as the picker shows it: good runs newest first, and why other folders are not."""

    runs: tuple[RunSummary, ...]
    problems: tuple[RunSummary, ...]


def scan_runs(root: Path | str) -> RunListing:
    """List the runs folder as :func:`market.records.list_runs` does, never reading outside it.

    Every non-hidden sub-folder appears once. One that resolves outside the runs folder (or holds a
    file that does) is refused before anything in it is opened; a ``.partial`` folder is incomplete;
    one that does not open as a run carries the reader's one-line error. None of these hides a good
    run. Good runs sort by creation time, the others by modification time, newest first.

    Raises:
        RecordError: The runs folder exists but is not a directory, or cannot be listed.
    """
    root = Path(root)
    if not root.exists():
        return RunListing((), ())
    if not root.is_dir():
        raise RecordError(f"{root}: runs folder is not a directory")
    try:
        names = sorted(
            entry.name
            for entry in os.scandir(root)
            if not entry.name.startswith(".") and entry.name not in s.SERVICE_FOLDERS and entry.is_dir()
        )
    except OSError as exc:
        raise RecordError(f"{root}: cannot list runs: {one_line(exc)}") from exc
    ranked: list[tuple[datetime, RunSummary]] = []
    for name in names:
        path = root / name
        try:
            modified = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
            resolve_run(root, name)
            if name.endswith(s.PARTIAL_SUFFIX):
                error = f"{path}: incomplete run (the writer is still running, or was killed)"
                summary = RunSummary(path=path, name=name.removesuffix(s.PARTIAL_SUFFIX), incomplete=True, error=error)
                ranked.append((modified, summary))
                continue
            reader = RunReader(path, verify=False)
        except FileNotFoundError:  # renamed or removed while listing (a writer finishing)
            continue
        except (RecordError, OSError) as exc:
            ranked.append((modified, RunSummary(path=path, name=name, error=str(exc))))
            continue
        created = reader.created if reader.created.tzinfo else reader.created.replace(tzinfo=UTC)
        headline = {
            key: float(value)
            for key, value in reader.metrics.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
        summary = RunSummary(
            path=path,
            name=reader.name,
            kind=reader.kind,
            created=created,
            scenario=reader.scenario,
            metrics=headline,
            tables=reader.tables,
        )
        ranked.append((created, summary))
    ranked.sort(key=lambda pair: pair[0], reverse=True)
    runs = tuple(summary for _, summary in ranked if summary.ok)
    problems = tuple(summary for _, summary in ranked if not summary.ok)
    return RunListing(runs, problems)


def open_run(root: Path | str, name: str) -> RunReader:
    """Open run ``name`` from the runs folder, checking its path and every table's checksum.

    Raises:
        RecordError: The run is refused (see :func:`resolve_run`) or damaged.
    """
    return RunReader(resolve_run(root, name), verify=True)


# --- formatting ------------------------------------------------------------------------------------


def count_of(count: int, noun: str) -> str:
    """``"1 agent"``, ``"2 agents"``, ``"1,000 runs"``: a count with its noun, singular for one."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def format_money(value: float | None) -> str:
    """Format a price or an equity for display: two decimals, thousands separated, ``—`` when missing."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:,.2f}"


def format_price(value: float | None) -> str:
    """Format a price: whole prices without decimals, others with up to four (a tick of 0.001 shows)."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4f}".rstrip("0").rstrip(".")


def format_position(value: float | None) -> str:
    """Format a position: whole lots as integers, fractions of equity with four decimals."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4f}"


def format_number(value: Any) -> str:
    """Format any manifest value for a table cell."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings into dotted keys: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def metrics_frame(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """The manifest's metrics, nested ones flattened, as ``metric``/``value`` rows (values as text)."""
    flat = flatten(metrics)
    return pd.DataFrame({METRIC: list(flat), "value": [format_number(v) for v in flat.values()]})


def compare_metrics(runs: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Metrics of several runs side by side: one row per flattened metric, one column per run."""
    flats = {name: flatten(metrics) for name, metrics in runs.items()}
    keys: list[str] = []
    for flat in flats.values():
        keys.extend(key for key in flat if key not in keys)
    columns = {METRIC: keys}
    for name, flat in flats.items():
        columns[name] = [format_number(flat[key]) if key in flat else "—" for key in keys]
    return pd.DataFrame(columns)


def runs_frame(runs: Iterable[RunSummary], headline: int = 4) -> pd.DataFrame:
    """The picker's table: name, kind, scenario, date and the first few headline metrics of each run."""
    rows = []
    for run in runs:
        metrics = " · ".join(f"{key} {format_number(value)}" for key, value in list(run.metrics.items())[:headline])
        rows.append(
            {
                NAME: run.path.name,
                "kind": run.kind,
                "scenario": run.scenario or "",
                "created (UTC)": run.created.strftime("%Y-%m-%d %H:%M:%S") if run.created else "",
                "metrics": metrics,
                "tables": ", ".join(run.tables),
            }
        )
    return pd.DataFrame(rows, columns=[NAME, "kind", "scenario", "created (UTC)", "metrics", "tables"])


# --- downsampling ----------------------------------------------------------------------------------


def downsample_indices(values: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """Pick at most ``max_points`` indices of a series that keep its shape: the first, the last, and
    the lowest and highest value of each of ``(max_points - 2) // 2`` equal buckets in between.

    Args:
        values: The series (NaN allowed).
        max_points: Most indices to return; at least 4.

    Returns:
        Sorted, unique indices into ``values``.
    """
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, (max_points - 2) // 2)
    inner = np.asarray(values[1:-1], dtype=np.float64)
    width = -(-len(inner) // buckets)
    pad = -len(inner) % width
    missing = np.isnan(inner)
    lows = np.pad(np.where(missing, np.inf, inner), (0, pad), constant_values=np.inf).reshape(-1, width)
    highs = np.pad(np.where(missing, -np.inf, inner), (0, pad), constant_values=-np.inf).reshape(-1, width)
    starts = np.arange(lows.shape[0]) * width
    picks = np.concatenate([starts + lows.argmin(axis=1), starts + highs.argmax(axis=1)])
    picks = picks[picks < len(inner)] + 1
    return np.unique(np.concatenate([[0], picks, [n - 1]]))


def downsample(frame: pd.DataFrame, column: str, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """Keep at most ``max_points`` rows of a frame, chosen by :func:`downsample_indices` on ``column``."""
    if len(frame) <= max_points:
        return frame.reset_index(drop=True)
    return frame.iloc[downsample_indices(frame[column].to_numpy(), max_points)].reset_index(drop=True)


# --- what a run holds ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Overview:
    """What the replay page needs before it draws anything.

    Attributes:
        agents: The agents in the steps table, by population then index.
        populations: Population name to its agents.
        first_step: The smallest step in the steps, trades or book table (0 when none has rows).
        last_step: The largest such step.
        tables: The tables the run holds.
    """

    agents: tuple[str, ...]
    populations: Mapping[str, tuple[str, ...]]
    first_step: int
    last_step: int
    tables: tuple[str, ...] = field(default=())

    @property
    def grouped(self) -> bool:
        """Whether some population holds more than one agent (then curves default to populations)."""
        return any(len(members) > 1 for members in self.populations.values())


def _step_range(reader: RunReader, table: str) -> tuple[int, int] | None:
    """A table's smallest and largest step, from the Parquet footer's statistics when it has them."""
    if reader.num_rows(table) == 0:
        return None
    metadata = pq.read_metadata(reader.path / s.table_file(table))
    column = metadata.schema.to_arrow_schema().get_field_index(s.STEP)
    lows, highs = [], []
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(column).statistics
        if stats is None or not stats.has_min_max:
            break
        lows.append(stats.min)
        highs.append(stats.max)
    else:
        return int(min(lows)), int(max(highs))
    steps = reader.read(table, columns=[s.STEP])[s.STEP]
    return int(steps.min()), int(steps.max())


def load_overview(reader: RunReader) -> Overview:
    """Read a run's agents (one column) and step range (from footers)."""
    agents: tuple[str, ...] = ()
    if s.STEPS in reader.tables and reader.num_rows(s.STEPS):
        names = reader.scan(s.STEPS).to_table(columns=[s.AGENT])[s.AGENT]
        agents = tuple(sorted(pc.unique(names).to_pylist(), key=agent_sort_key))
    populations: dict[str, list[str]] = {}
    for agent in agents:
        populations.setdefault(population_of(agent), []).append(agent)
    ranges = [r for t in (s.STEPS, s.TRADES, s.BOOK) if t in reader.tables and (r := _step_range(reader, t))]
    first = min((r[0] for r in ranges), default=0)
    last = max((r[1] for r in ranges), default=0)
    return Overview(
        agents=agents,
        populations={name: tuple(members) for name, members in populations.items()},
        first_step=first,
        last_step=last,
        tables=reader.tables,
    )


def _between(lo: int | None, hi: int | None) -> Any:
    """A dataset filter on ``step`` in ``[lo, hi]`` (either bound optional), or ``None``."""
    condition = None
    if lo is not None:
        condition = pc.field(s.STEP) >= lo
    if hi is not None:
        upper = pc.field(s.STEP) <= hi
        condition = upper if condition is None else condition & upper
    return condition


def _and(*conditions: Any) -> Any:
    present = [c for c in conditions if c is not None]
    if not present:
        return None
    combined = present[0]
    for condition in present[1:]:
        combined = combined & condition
    return combined


def price_unit(reader: RunReader) -> float | None:
    """Price units per tick of a market run (its manifest's ``tick_value``), or None for a run whose
    prices and money are already in price units (backtests, trading runs, older market runs)."""
    value = reader.manifest.get(s.M_TICK_VALUE)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else None


def _in_price_units(reader: RunReader, frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``frame`` with its price and money ``columns`` multiplied by the run's tick value (unchanged without one)."""
    unit = price_unit(reader)
    if unit is not None:
        for column in columns:
            if column in frame.columns:
                frame[column] = frame[column] * unit
    return frame


def load_price(
    reader: RunReader,
    agent: str,
    lo: int | None = None,
    hi: int | None = None,
    max_points: int = MAX_POINTS,
) -> pd.DataFrame:
    """The price (or mid) the run marked agents at, from one agent's rows, downsampled.

    Returns:
        ``step``, ``time``, ``price`` in step order, at most ``max_points`` rows.
    """
    where = _and(pc.field(s.AGENT) == agent, _between(lo, hi))
    frame = reader.read(s.STEPS, columns=[s.STEP, s.TIME, s.PRICE], filters=where).sort_values(s.STEP)
    return downsample(_in_price_units(reader, frame, [s.PRICE]), s.PRICE, max_points)


def state_at(reader: RunReader, step: int) -> pd.DataFrame:
    """Every agent's row at one step: ``agent``, ``time``, ``price``, ``cash``, ``position``, ``equity``, ``reward``."""
    columns = [s.AGENT, s.TIME, s.PRICE, s.CASH, s.POSITION, s.EQUITY, s.REWARD]
    frame = _in_price_units(reader, reader.read(s.STEPS, columns=columns, filters=pc.field(s.STEP) == step), [s.PRICE, s.CASH, s.EQUITY])
    return frame.sort_values(s.AGENT, key=lambda names: names.map(agent_sort_key)).reset_index(drop=True)


def book_at(reader: RunReader, step: int) -> pd.DataFrame:
    """The order book snapshot at one step: ``side``, ``level``, ``price``, ``qty``, best levels first."""
    frame = reader.read(s.BOOK, columns=[s.SIDE, s.LEVEL, s.PRICE, s.QTY], filters=pc.field(s.STEP) == step)
    return _in_price_units(reader, frame, [s.PRICE]).sort_values([s.SIDE, s.LEVEL]).reset_index(drop=True)


def best_quotes(book: pd.DataFrame) -> tuple[float | None, float | None]:
    """The best bid (highest bid price) and best ask (lowest ask price) of a snapshot; ``None`` for an empty side."""
    bids = book.loc[book[s.SIDE] == s.BID, s.PRICE]
    asks = book.loc[book[s.SIDE] == s.ASK, s.PRICE]
    return (float(bids.max()) if len(bids) else None, float(asks.min()) if len(asks) else None)


def trades_between(
    reader: RunReader,
    lo: int | None,
    hi: int | None,
    agent: str | None = None,
    limit: int = MAX_TRADE_MARKERS,
) -> tuple[pd.DataFrame, int]:
    """Trades with ``lo <= step <= hi``, optionally only those with ``agent`` as maker or taker.

    Returns:
        At most ``limit`` trades (evenly thinned when there are more), and how many matched in all.
    """
    involved = None if agent is None else (pc.field(s.MAKER) == agent) | (pc.field(s.TAKER) == agent)
    columns = [s.STEP, s.TIME, s.PRICE, s.QTY, s.MAKER, s.TAKER, s.TAKER_SIDE]
    frame = _in_price_units(reader, reader.read(s.TRADES, columns=columns, filters=_and(_between(lo, hi), involved)), [s.PRICE])
    total = len(frame)
    if total > limit:
        frame = frame.iloc[np.linspace(0, total - 1, limit).round().astype(int)]
    return frame.reset_index(drop=True), total


def load_curves(
    reader: RunReader,
    groups: Mapping[str, Sequence[str]],
    max_points: int = MAX_POINTS,
) -> pd.DataFrame:
    """Equity, position and drawdown per group of agents (one agent, or a population), downsampled.

    Only the groups' agents' rows and four columns are read. A group's equity and position at a step
    are the means over its agents (so populations of different sizes compare); its drawdown is
    ``equity / running peak - 1`` of that mean.

    Args:
        reader: The run.
        groups: Line name to the agents it sums.
        max_points: Most points per line and measure.

    Returns:
        Long format: ``name``, ``measure`` (``equity``, ``position``, ``drawdown``), ``step``, ``value``.
    """
    members = sorted({agent for agents in groups.values() for agent in agents})
    empty = pd.DataFrame({NAME: [], "measure": [], s.STEP: [], "value": []})
    if not members:
        return empty
    frame = reader.read(
        s.STEPS, columns=[s.STEP, s.AGENT, s.EQUITY, s.POSITION], filters=pc.field(s.AGENT).isin(members)
    )
    frame = _in_price_units(reader, frame, [s.EQUITY])
    parts = []
    for name, agents in groups.items():
        rows = frame[frame[s.AGENT].isin(list(agents))]
        averaged = rows.groupby(s.STEP, sort=True)[[s.EQUITY, s.POSITION]].mean()
        equity = averaged[s.EQUITY]
        drawdown = pd.Series(stats.path_drawdowns(equity.to_numpy(dtype=np.float64)), index=equity.index)
        for measure, series in ((s.EQUITY, equity), (s.POSITION, averaged[s.POSITION]), (DRAWDOWN, drawdown)):
            line = pd.DataFrame({s.STEP: series.index.to_numpy(), "value": series.to_numpy(dtype=np.float64)})
            line = downsample(line, "value", max_points)
            line.insert(0, "measure", measure)
            line.insert(0, NAME, name)
            parts.append(line)
    return pd.concat(parts, ignore_index=True) if parts else empty


def leaderboard(reader: RunReader) -> pd.DataFrame:
    """Every agent ranked by return: final equity, return, per-step Sharpe and max drawdown.

    Return is last equity over first recorded equity, minus one; Sharpe is the mean over the
    standard deviation of step-to-step equity returns (not annualized: steps need not be days);
    max drawdown is the lowest ``equity / running peak - 1``, a negative fraction. Both come from
    :mod:`market.stats` (:func:`~market.stats.path_sharpe_ratio`, :func:`~market.stats.path_max_drawdown`).
    """
    frame = reader.read(s.STEPS, columns=[s.STEP, s.AGENT, s.EQUITY]).sort_values([s.AGENT, s.STEP], kind="stable")
    frame = _in_price_units(reader, frame, [s.EQUITY])
    grouped = frame.groupby(s.AGENT, sort=False)[s.EQUITY]
    by_agent = pd.DataFrame(
        {
            FINAL_EQUITY: grouped.last(),
            RETURN: grouped.last() / grouped.first() - 1.0,
            SHARPE: grouped.agg(lambda equity: stats.path_sharpe_ratio(equity.to_numpy(dtype=np.float64))),
            MAX_DRAWDOWN: grouped.agg(lambda equity: stats.path_max_drawdown(equity.to_numpy(dtype=np.float64))),
        }
    ).replace([np.inf, -np.inf], np.nan)
    by_agent.index.name = s.AGENT
    board = by_agent.reset_index()
    board.insert(1, POPULATION, board[s.AGENT].map(population_of))
    board = board.sort_values(RETURN, ascending=False, na_position="last").reset_index(drop=True)
    board.insert(0, "rank", np.arange(1, len(board) + 1))
    return board


def training_keys(reader: RunReader) -> list[str]:
    """The metric names in a run's training table, sorted."""
    keys = reader.scan(s.TRAINING).to_table(columns=[s.KEY])[s.KEY]
    return sorted(pc.unique(keys).to_pylist())


def training_curves(reader: RunReader, keys: Sequence[str]) -> pd.DataFrame:
    """The training table's rows for some metrics: ``iteration``, ``env_steps``, ``time_s``, ``key``, ``value``."""
    columns = [s.ITERATION, s.ENV_STEPS, s.TIME_S, s.KEY, s.VALUE]
    frame = reader.read(s.TRAINING, columns=columns, filters=pc.field(s.KEY).isin(list(keys)))
    return frame.sort_values([s.KEY, s.ITERATION]).reset_index(drop=True)


# --- strategy comparison -------------------------------------------------------------------------


def strategy_tables(reader: RunReader) -> list[tuple[str, pd.DataFrame]]:
    """The run's strategy comparison (:func:`market.comparison.comparison_rows`), one frame per role:
    a row per strategy with each figure's mean and 95% half-width (money in price units), the paired
    difference against the run's own strategy, and published figures where the scenario gave some.
    Empty for a run whose evaluation played no baseline."""
    from market.comparison import VERSUS, columns_of, comparison_rows

    config = reader.manifest.get(s.M_CONFIG) or {}
    record = config.get("evaluation") if isinstance(config, Mapping) else None
    metrics = reader.metrics
    if not isinstance(record, Mapping) or not metrics:
        return []
    ci95 = metrics.get("ci95") if isinstance(metrics.get("ci95"), Mapping) else {}
    rows = comparison_rows(metrics, ci95, record)
    tables = []
    for role in dict.fromkeys(row.role for row in rows):
        records = []
        for row in (r for r in rows if r.role == role):
            entry: dict[str, Any] = {"strategy": row.strategy, "population": row.population}
            for column in columns_of(role):
                mean, half = row.values[column.metric]
                entry[column.heading] = mean
                entry[f"{column.heading} ±"] = half
                if column.metric in row.reference:
                    entry[f"{column.heading} (published)"] = row.reference[column.metric]
            entry[f"{record.get('label', 'scenario')} − it ({VERSUS[role]})"] = row.versus[0] if row.versus else float("nan")
            entry[f"{record.get('label', 'scenario')} − it ±"] = row.versus[1] if row.versus else float("nan")
            records.append(entry)
        tables.append((role, pd.DataFrame.from_records(records)))
    return tables


def schedules_frame(reader: RunReader) -> pd.DataFrame:
    """The executors' mean schedules of the run's evaluation: ``strategy``, ``population``, ``step`` (after
    which), ``remaining`` (share of the parent order left); empty without executors."""
    from market.comparison import SCHEDULES

    schedules = reader.manifest.get(SCHEDULES)
    records = []
    if isinstance(schedules, Mapping):
        for strategy, by_population in schedules.items():
            for population, curve in (by_population or {}).items():
                records.append(pd.DataFrame({"strategy": strategy, "population": population, s.STEP: np.arange(len(curve) + 1), "remaining": [1.0, *curve]}))
    if not records:
        return pd.DataFrame({"strategy": [], "population": [], s.STEP: [], "remaining": []})
    return pd.concat(records, ignore_index=True)


def portfolio_agents(reader: RunReader) -> list[str]:
    """The players of a run's ``holdings`` table (empty when the run has none)."""
    if s.HOLDINGS not in reader.tables:
        return []
    return sorted(set(reader.read(s.HOLDINGS, columns=[s.AGENT])[s.AGENT]), key=agent_sort_key)


def portfolio_frames(reader: RunReader, agent: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One player's portfolio: weights held at each step (``step`` x asset, cash last), each asset's
    cumulative contribution to the return (``step`` x asset, cash's is minus the costs), and the weights
    traded at each step (``step``, ``traded``: the sum over assets of |target - weight held before|)."""
    rows = reader.read(s.HOLDINGS, filters=[(s.AGENT, "==", agent)])
    order = list(dict.fromkeys(rows[s.ASSET]))
    weights = rows.pivot(index=s.STEP, columns=s.ASSET, values=s.WEIGHT)[order]
    contributions = rows.pivot(index=s.STEP, columns=s.ASSET, values=s.CONTRIBUTION)[order].cumsum()
    steps = reader.read(s.STEPS, columns=[s.STEP, s.ACTION], filters=[(s.AGENT, "==", agent)]).sort_values(s.STEP)
    targets = np.stack(steps[s.ACTION].to_numpy())[:, :-1]
    held_before = np.vstack([np.zeros(targets.shape[1]), weights.to_numpy()[:-1, :-1]])
    traded = pd.DataFrame({s.STEP: steps[s.STEP].to_numpy(), "traded": np.abs(targets - held_before).sum(axis=1)})
    return weights.reset_index(), contributions.reset_index(), traded


# --- flows: who profits from whom ---------------------------------------------------------------------


MAX_FLOW_AGENTS = 60
"""The most accounts the agent x agent flows matrix is drawn for (a bigger one is unreadable)."""


def flow_accounts(reader: RunReader) -> int:
    """How many accounts (agents, exchange, tax) a run's ``flows`` table names."""
    table = reader.read(s.FLOWS, columns=[s.GAINER, s.PAYER])
    return len({*table[s.GAINER], *table[s.PAYER]})


def flow_horizons(reader: RunReader) -> list[str]:
    """The markout horizons of a run's ``flows`` table, in recorded order (empty without the table)."""
    if s.FLOWS not in reader.tables:
        return []
    table = reader.read(s.FLOWS, columns=[s.HORIZON])
    return list(dict.fromkeys(table[s.HORIZON]))


def flow_parts(reader: RunReader, horizon: str) -> pd.DataFrame:
    """Each population's P&L parts over the whole episode at a markout horizon, in price units: spread
    earned, adverse selection, inventory, fees and their total (from the ``flow_parts`` table; empty
    for records written before it existed)."""
    from market.analysis.flows import parts_from_table

    if s.FLOW_PARTS not in reader.tables:
        return pd.DataFrame()
    parts = parts_from_table(reader.read(s.FLOW_PARTS), horizon)
    unit = price_unit(reader) or 1.0
    frame = pd.DataFrame.from_dict(parts, orient="index") / 2.0 * unit
    return frame.rename_axis("population").reset_index().assign(population=lambda f: f["population"].str.strip("_"))


def flow_matrix(reader: RunReader, horizon: str, lo: int | None, hi: int | None, by: str = "population") -> pd.DataFrame:
    """The gained-from matrix (by ``"population"`` or ``"agent"``) of a run's fills in steps ``lo..hi`` at a markout horizon.

    Rows gain from columns; money in price units (the record's half-ticks x lots, halved, times the
    tick value). Built by :func:`market.analysis.flows.matrix_from_table` from the ``flows`` table.
    """
    from market.analysis.flows import matrix_from_table

    table = reader.read(s.FLOWS)
    steps = None if lo is None or hi is None else (lo, hi)
    names, matrix = matrix_from_table(table, horizon, steps, by=by)
    unit = price_unit(reader) or 1.0
    labels = [name.strip("_") for name in names]
    return pd.DataFrame(matrix / 2.0 * unit, index=labels, columns=labels)


# --- league: payoffs, mixtures, exploitability and standings ---------------------------------------


@dataclass(frozen=True)
class LeagueTables:
    """What the dashboard shows of a league run (:mod:`market.league.loop`), as frames.

    Attributes:
        curve: per generation, its exploitability then and against the final pool.
        mixtures: long: generation, population, strategy, weight (0 for strategies not yet added).
        payoffs: per payoff array of the last generation (one per population; one for a symmetric
            game), its title and three frames with the same labels (mean, 95% half-width, count): a
            matrix for one or two populations, else one row per profile with a ``value`` column.
        standings: the final ratings, best first.
    """

    curve: pd.DataFrame
    mixtures: pd.DataFrame
    payoffs: list[tuple[str, pd.DataFrame, pd.DataFrame, pd.DataFrame]]
    standings: pd.DataFrame

    @property
    def matrices(self) -> bool:
        """Whether the payoffs are matrices (one or two populations) rather than one row per profile."""
        return len(self.mixtures["population"].unique()) <= 2


def league_tables(reader: RunReader) -> LeagueTables | None:
    """A league run's tables, or ``None`` for any other run (no ``league`` field in its manifest)."""
    from market.league.loop import LEAGUE_FIELD

    league = reader.manifest.get(LEAGUE_FIELD)
    if not isinstance(league, Mapping) or not league.get("generations"):
        return None
    generations = league["generations"]
    curve = pd.DataFrame(league.get("curve") or [{"generation": g["generation"], "exploitability": g["exploitability"]} for g in generations])
    pools = {p: [strategy["name"] for strategy in pool] for p, pool in league["pools"].items()}
    mixtures = pd.DataFrame(
        [
            {"generation": g["generation"], "population": p, "strategy": name, "weight": float(g["mixtures"][p].get(name, 0.0))}
            for g in generations
            for p, names in pools.items()
            for name in names
        ]
    )
    return LeagueTables(curve, mixtures, _payoff_frames(generations[-1]["payoffs"]), pd.DataFrame(league["standings"]))


def _payoff_frames(payoffs: Mapping[str, Any]) -> list[tuple[str, pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
    """The last generation's payoff matrices as labelled frames (two axes: a matrix; more: a long table)."""
    populations = payoffs["populations"]
    strategies = payoffs["strategies"]
    counts = np.asarray(payoffs["counts"])
    if payoffs["symmetric"]:
        population = populations[0]
        axes = [strategies[population], strategies[population]]
        titles = {population: f"{population}: payoff of an agent playing the row while its fellows play the column"}
    else:
        axes = [strategies[p] for p in populations]
        titles = {p: f"{p}: its payoff, {populations[0]} strategy by row" + (f", {populations[1]} by column" if len(populations) == 2 else "") for p in populations}
    out = []
    for population, title in titles.items():
        mean, half = np.asarray(payoffs["mean"][population], dtype=np.float64), np.asarray(payoffs["ci95"][population], dtype=np.float64)
        if mean.ndim == 2:
            frames = [pd.DataFrame(values, index=axes[0], columns=axes[1]) for values in (mean, half, counts)]
        else:  # three or more populations: one row per profile
            index = pd.MultiIndex.from_product(axes, names=populations)
            frames = [pd.DataFrame({"value": values.ravel()}, index=index).reset_index() for values in (mean, half, counts)]
        out.append((title, *frames))
    return out


# --- populations recorded in aggregate -------------------------------------------------------------


def population_aggregates(reader: RunReader) -> pd.DataFrame:
    """A run's ``populations`` table (large background populations recorded in aggregate), prices and
    money in price units; empty when the run recorded every agent instead."""
    if s.POPULATIONS not in reader.tables:
        return pd.DataFrame()
    return _in_price_units(reader, reader.read(s.POPULATIONS), [s.PRICE, s.CASH, s.EQUITY])


def population_board(aggregates: pd.DataFrame) -> pd.DataFrame:
    """One row per aggregated population: agents at the end, equity first and last, its return,
    position at the end, and the orders and fills of every step."""
    rows = []
    for population, table in aggregates.groupby(s.POPULATION, sort=False):
        table = table.sort_values(s.STEP)
        first, last = float(table[s.EQUITY].iloc[0]), float(table[s.EQUITY].iloc[-1])
        rows.append({
            POPULATION: population,
            "agents": int(table[s.COUNT].iloc[-1]),
            "first equity": first,
            FINAL_EQUITY: last,
            RETURN: last / first - 1.0 if first else math.nan,
            "final position": float(table[s.POSITION].iloc[-1]),
            s.ORDERS: int(table[s.ORDERS].sum()),
            s.FILLS: int(table[s.FILLS].sum()),
        })
    return pd.DataFrame(rows)


def population_curves(aggregates: pd.DataFrame) -> pd.DataFrame:
    """The aggregated populations' equity and position per step, in the long form of :func:`load_curves`
    (``step``, ``name``, ``measure``, ``value``), downsampled to :data:`MAX_POINTS` steps."""
    steps = np.unique(aggregates[s.STEP].to_numpy())
    kept = set(steps[np.linspace(0, len(steps) - 1, min(len(steps), MAX_POINTS)).astype(int)].tolist()) if len(steps) else set()
    rows = aggregates[aggregates[s.STEP].isin(kept)]
    long = rows.melt(id_vars=[s.STEP, s.POPULATION], value_vars=[s.EQUITY, s.POSITION], var_name="measure", value_name="value")
    return long.rename(columns={s.POPULATION: NAME})[[s.STEP, NAME, "measure", "value"]]
