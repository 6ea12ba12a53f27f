"""Run records: round trips, streaming memory, atomicity under SIGKILL, and rejection of damaged runs.

Every test writes real Parquet files under ``tmp_path``; the SIGKILL test kills real child processes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import record_writer_child as child
from market.errors import RecordError
from market.records import RunReader, RunWriter, list_runs
from market.records import schema as s

CHILD_SCRIPT = Path(child.__file__)
TIMES = pd.date_range("2024-01-02 09:30", periods=4, freq="min")


# --- helpers -----------------------------------------------------------------------------------------


def _steps_rows(count: int, start: int = 0, width: int = 1) -> dict[str, Any]:
    """Fresh step rows (new arrays each call) for ``count`` rows starting at step ``start``."""
    steps = np.arange(start, start + count, dtype=np.int64)
    values = steps.astype(np.float64)
    actions = values / 10.0 if width == 1 else np.stack([values * k for k in range(width)], axis=1)
    return {
        s.STEP: steps,
        s.AGENT: np.tile(np.array(["maker_0", "taker_0", "taker_1", "noise_0"]), count // 4 + 1)[:count],
        s.PRICE: values + 100.0,
        s.CASH: values * 2.0,
        s.POSITION: values % 7,
        s.EQUITY: values * 3.0,
        s.ACTION: actions,
        s.REWARD: values / 100.0,
    }


def _trades_rows() -> dict[str, Any]:
    return {
        s.STEP: [0, 1, 1, 3],
        s.TIME: TIMES,
        s.PRICE: [100.0, 100.5, 100.25, 99.75],
        s.QTY: [1, 5, 2, 10],
        s.MAKER: ["maker_0", "maker_1", "maker_0", "maker_1"],
        s.TAKER: ["taker_0", "taker_0", "taker_1", "taker_2"],
        s.MAKER_ORDER_ID: [1, 2, 3, 4],
        s.TAKER_ORDER_ID: [11, 12, 13, 14],
        s.TAKER_SIDE: [s.BUY, s.SELL, s.BUY, s.SELL],
    }


def _book_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            s.STEP: [0, 0, 0, 0],
            s.SIDE: [s.BID, s.BID, s.ASK, s.ASK],
            s.LEVEL: np.array([0, 1, 0, 1], dtype=np.int32),
            s.PRICE: [99.5, 99.0, 100.5, 101.0],
            s.QTY: [3, 7, 4, 9],
        }
    )


def _training_table() -> pa.Table:
    return pa.table(
        {
            s.ITERATION: pa.array([1, 1, 2, 2], pa.int64()),
            s.ENV_STEPS: pa.array([4000, 4000, 8000, 8000], pa.int64()),
            s.TIME_S: [1.5, 1.5, 3.25, 3.25],
            s.KEY: ["episode_return_mean", "policy_loss", "episode_return_mean", "policy_loss"],
            s.VALUE: [-3.0, 0.5, 1.0, 0.25],
        }
    )


def _write_small_run(root: Path, name: str = "run", **writer_args: Any) -> Path:
    """Write a run with a steps and a trades table; return its folder."""
    arguments = {"kind": s.KIND_BACKTEST, "config": {"policy": "sma"}, "seed": 3} | writer_args
    with RunWriter(root, name, **arguments) as run:
        run.append(s.STEPS, _steps_rows(50))
        run.append(s.TRADES, _trades_rows())
        run.set_metrics({"sharpe": 1.5, "max_drawdown": -0.2})
    return root / name


def _edit_manifest(run: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    path = run / s.MANIFEST_FILE
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


def _open_error(path: Path) -> str:
    """Open a run that must be refused; return the one-line message."""
    with pytest.raises(RecordError) as caught:
        RunReader(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- round trips ---------------------------------------------------------------------------------------


def test_every_table_round_trips_with_its_values_and_types(tmp_path: Path) -> None:
    steps = _steps_rows(8)
    steps[s.TIME] = pd.Series([*TIMES, *([pd.NaT] * 4)])
    with RunWriter(tmp_path, "all", kind=s.KIND_SIMULATE, config={"agents": 4}, seed=11) as run:
        run.append(s.STEPS, steps)
        run.append(s.TRADES, _trades_rows())
        run.append(s.BOOK, _book_frame())
        run.append(s.TRAINING, _training_table())

    reader = RunReader(tmp_path / "all")
    assert reader.tables == (s.STEPS, s.TRADES, s.BOOK, s.TRAINING)
    for table in reader.tables:
        arrow = pq.read_table(reader.path / s.table_file(table))
        assert arrow.schema.equals(s.TABLE_SCHEMAS[table], check_metadata=False)

    read_steps = reader.read(s.STEPS)
    assert read_steps[s.STEP].tolist() == list(range(8))
    assert read_steps[s.TIME].iloc[:4].tolist() == list(TIMES)
    assert read_steps[s.TIME].iloc[4:].isna().all()
    assert read_steps[s.AGENT].tolist() == steps[s.AGENT].tolist()
    for column in (s.PRICE, s.CASH, s.POSITION, s.EQUITY, s.REWARD):
        np.testing.assert_array_equal(read_steps[column].to_numpy(), steps[column])
    assert [list(action) for action in read_steps[s.ACTION]] == [[a] for a in steps[s.ACTION]]

    read_trades = reader.read(s.TRADES)
    expected_trades = pd.DataFrame(_trades_rows())
    for column in expected_trades.columns:
        assert read_trades[column].tolist() == expected_trades[column].tolist(), column

    pd.testing.assert_frame_equal(reader.read(s.BOOK), _book_frame(), check_dtype=False)
    assert reader.read(s.BOOK)[s.LEVEL].dtype == np.int32
    assert reader.read(s.TRAINING).to_dict("list") == _training_table().to_pydict()


def test_multi_dimensional_actions_are_stored_as_lists_per_row(tmp_path: Path) -> None:
    with RunWriter(tmp_path, "maker", kind=s.KIND_SIMULATE, config={}, seed=0) as run:
        run.append(s.STEPS, _steps_rows(3, width=3))
        ragged = _steps_rows(2, start=3)
        ragged[s.ACTION] = [[1.0], np.array([2.0, 3.0])]
        run.append(s.STEPS, ragged)

    actions = RunReader(tmp_path / "maker").read(s.STEPS, columns=[s.ACTION])[s.ACTION]
    expected = [[0.0, 0.0, 0.0], [0.0, 1.0, 2.0], [0.0, 2.0, 4.0], [1.0], [2.0, 3.0]]
    assert [list(action) for action in actions] == expected


def test_tz_aware_times_are_stored_as_utc(tmp_path: Path) -> None:
    rows = _trades_rows()
    rows[s.TIME] = pd.date_range("2024-01-02 09:30", periods=4, freq="min", tz="America/New_York")
    with RunWriter(tmp_path, "tz", kind=s.KIND_BACKTEST, config={}, seed=None) as run:
        run.append(s.TRADES, rows)

    times = RunReader(tmp_path / "tz").read(s.TRADES)[s.TIME]
    assert times.tolist() == list(rows[s.TIME].tz_convert("UTC").tz_localize(None))


def test_rows_are_copied_on_append_so_reused_caller_arrays_cannot_change_them(tmp_path: Path) -> None:
    rows = _steps_rows(6, width=2)
    rows[s.TIME] = pd.Series(pd.date_range("2024-01-01", periods=6, freq="D"))
    expected = {name: np.array(values, copy=True) for name, values in rows.items()}
    with RunWriter(tmp_path, "reuse", kind=s.KIND_SIMULATE, config={}, seed=0) as run:
        run.append(s.STEPS, rows)
        for name in (s.STEP, s.PRICE, s.CASH, s.POSITION, s.EQUITY, s.REWARD, s.ACTION):
            rows[name][:] = -1
        rows[s.TIME].iloc[:] = pd.Timestamp("1999-01-01")

    stored = RunReader(tmp_path / "reuse").read(s.STEPS)
    for name in (s.STEP, s.PRICE, s.CASH, s.POSITION, s.EQUITY, s.REWARD, s.TIME):
        np.testing.assert_array_equal(stored[name].to_numpy(), expected[name], err_msg=name)
    np.testing.assert_array_equal(np.stack(stored[s.ACTION].to_list()), expected[s.ACTION])


def test_tables_are_optional_and_an_empty_append_still_creates_the_table(tmp_path: Path) -> None:
    with RunWriter(tmp_path, "quiet", kind=s.KIND_BACKTEST, config={}, seed=1) as run:
        run.append(s.STEPS, _steps_rows(4))
        run.append(s.TRADES, {name: [] for name in s.TRADES_SCHEMA.names})

    reader = RunReader(tmp_path / "quiet")
    assert reader.tables == (s.STEPS, s.TRADES)
    assert reader.num_rows(s.TRADES) == 0
    assert list(reader.read(s.TRADES).columns) == s.TRADES_SCHEMA.names
    assert not (tmp_path / "quiet" / s.table_file(s.BOOK)).exists()
    with pytest.raises(RecordError, match=r"manifest\.json: run has no table 'book'"):
        reader.read(s.BOOK)


def test_rows_are_written_in_row_groups_of_flush_rows(tmp_path: Path) -> None:
    with RunWriter(tmp_path, "groups", kind=s.KIND_SIMULATE, config={}, seed=0, flush_rows=100) as run:
        for start in range(0, 1050, 7):
            run.append(s.STEPS, _steps_rows(min(7, 1050 - start), start=start))

    reader = RunReader(tmp_path / "groups")
    metadata = pq.read_metadata(reader.path / s.table_file(s.STEPS))
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    assert sizes == [100] * 10 + [50]
    assert reader.read(s.STEPS)[s.STEP].tolist() == list(range(1050))


def test_lazy_reads_scan_filter_and_batch_a_table(tmp_path: Path) -> None:
    with RunWriter(tmp_path, "lazy", kind=s.KIND_SIMULATE, config={}, seed=0, flush_rows=64) as run:
        run.append(s.STEPS, _steps_rows(1000))

    reader = RunReader(tmp_path / "lazy")
    dataset = reader.scan(s.STEPS)
    assert dataset.count_rows() == 1000
    assert dataset.count_rows(filter=pc.field(s.AGENT) == "maker_0") == 250
    batches = list(reader.iter_batches(s.STEPS, columns=[s.STEP], batch_size=100))
    assert all(batch.num_rows <= 100 for batch in batches)
    assert pa.concat_arrays([batch.column(0) for batch in batches]).to_pylist() == list(range(1000))
    late = reader.read(s.STEPS, columns=[s.STEP, s.AGENT], filters=[(s.STEP, ">=", 990)])
    assert list(late.columns) == [s.STEP, s.AGENT]
    assert late[s.STEP].tolist() == list(range(990, 1000))
    with pytest.raises(RecordError, match=r"steps\.parquet: table 'steps' has no column 'volume'"):
        reader.read(s.STEPS, columns=["volume"])
    with pytest.raises(RecordError, match=r"run has no table 'book'"):
        reader.iter_batches(s.BOOK)


def test_streaming_writer_keeps_memory_flat_over_a_million_step_rows(tmp_path: Path) -> None:
    total, chunk, flush = 1_000_000, 10_000, 65_536
    # In-memory size of one row; the whole table would hold about 67 MB, one row group about 4.4 MB.
    row_bytes = pa.table(_steps_rows(chunk)).nbytes / chunk

    tracemalloc.start()
    arrow_baseline = pa.total_allocated_bytes()
    arrow_peak = 0
    try:
        with RunWriter(tmp_path, "big", kind=s.KIND_SIMULATE, config={}, seed=0, flush_rows=flush) as run:
            for start in range(0, total, chunk):
                run.append(s.STEPS, _steps_rows(chunk, start=start))
                arrow_peak = max(arrow_peak, pa.total_allocated_bytes() - arrow_baseline)
            _, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Buffered rows live in numpy arrays (traced by tracemalloc) or in Arrow's pool. Together they stay
    # within a few row groups' worth (about 1.5 measured), not the 15 row groups of the whole table.
    peak = arrow_peak + python_peak
    assert peak < 3 * row_bytes * flush, f"peak {peak / 1e6:.1f} MB for row groups of {row_bytes * flush / 1e6:.1f} MB"
    reader = RunReader(tmp_path / "big")
    assert reader.num_rows(s.STEPS) == total
    metadata = pq.read_metadata(reader.path / s.table_file(s.STEPS))
    assert metadata.num_row_groups == math.ceil(total / flush)


# --- the manifest --------------------------------------------------------------------------------------


class _Clearing(StrEnum):
    BOOK = "book"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _FeeConfig:
    taker_bps: int = 5
    clearing: _Clearing = _Clearing.BOOK


def test_manifest_records_the_run_and_is_plain_json(tmp_path: Path) -> None:
    config = {
        "fees": _FeeConfig(),
        "data": Path("/data/spy.csv"),
        "levels": np.arange(3),
        "rate": np.float64(0.25),
        "tags": {"b", "a"},
    }
    with RunWriter(
        tmp_path, "m", kind=s.KIND_SCENARIO, config=config, seed=np.int64(42), scenario="flash_crash",
        extra={"policy": "ppo"},
    ) as run:
        run.append(s.STEPS, _steps_rows(5))
        run.set_metrics({"sharpe": np.float64(1.25), "agents": {"maker_0": {"pnl": np.int64(7)}}})
        run.set_metrics({"sortino": float("nan")})

    text = (tmp_path / "m" / s.MANIFEST_FILE).read_text()
    manifest = json.loads(text, parse_constant=lambda constant: pytest.fail(f"non-JSON constant {constant}"))
    assert manifest[s.M_SCHEMA_VERSION] == s.SCHEMA_VERSION
    assert manifest[s.M_KIND] == s.KIND_SCENARIO
    assert manifest[s.M_NAME] == "m"
    assert manifest[s.M_SCENARIO] == "flash_crash"
    assert manifest[s.M_SEED] == 42
    assert manifest["policy"] == "ppo"
    assert manifest[s.M_CONFIG] == {
        "fees": {"taker_bps": 5, "clearing": "book"},
        "data": "/data/spy.csv",
        "levels": [0, 1, 2],
        "rate": 0.25,
        "tags": ["a", "b"],
    }
    assert manifest[s.M_METRICS] == {"sharpe": 1.25, "agents": {"maker_0": {"pnl": 7}}, "sortino": None}
    assert {"python", "market", "numpy", "pandas", "pyarrow"} <= set(manifest[s.M_VERSIONS])
    assert manifest[s.M_VERSIONS]["pyarrow"] == pa.__version__
    created = pd.Timestamp(manifest[s.M_CREATED])
    assert created.tzinfo is not None and abs(pd.Timestamp.now(tz="UTC") - created) < pd.Timedelta(minutes=5)
    entry = manifest[s.M_TABLES][s.STEPS]
    table_path = tmp_path / "m" / entry[s.T_FILE]
    assert entry[s.T_ROWS] == 5 and entry[s.T_BYTES] == table_path.stat().st_size
    assert len(entry[s.T_SHA256]) == 64
    assert not (tmp_path / "m" / s.MANIFEST_TMP_FILE).exists()


def test_config_value_with_no_json_form_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match=r"config\.policy: cannot store a object in manifest\.json"):
        RunWriter(tmp_path, "x", kind=s.KIND_BACKTEST, config={"policy": object()}, seed=0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"name": "a/b"}, "must be one folder name"),
        ({"name": "x.partial"}, "must be one folder name"),
        ({"name": ".hidden"}, "must be one folder name"),
        ({"name": ""}, "non-empty"),
        ({"kind": ""}, "run kind"),
        ({"seed": 1.5}, "run seed must be an int"),
        ({"seed": True}, "run seed must be an int"),
        ({"flush_rows": 0}, "flush_rows"),
        ({"extra": {s.M_TABLES: {}}}, "reserved"),
    ],
)
def test_writer_refuses_bad_arguments(tmp_path: Path, arguments: dict[str, Any], message: str) -> None:
    full = {"name": "ok", "kind": s.KIND_BACKTEST, "config": {}, "seed": 0} | arguments
    name = full.pop("name")
    with pytest.raises(RecordError, match=message):
        RunWriter(tmp_path, name, **full)


# --- appending bad rows ----------------------------------------------------------------------------------


def _without(rows: dict[str, Any], column: str) -> dict[str, Any]:
    return {name: values for name, values in rows.items() if name != column}


@pytest.mark.parametrize(
    ("table", "rows", "message"),
    [
        ("orders", _trades_rows(), r"unknown table 'orders'"),
        (s.TRADES, _trades_rows() | {"fee": [0, 0, 0, 0]}, r"table 'trades': unknown column 'fee'"),
        (s.TRADES, _without(_trades_rows(), s.QTY), r"table 'trades': missing column 'qty'"),
        (s.TRADES, _trades_rows() | {s.QTY: [1, 2]}, r"table 'trades': columns have different lengths"),
        (s.TRADES, _trades_rows() | {s.TAKER_SIDE: ["buy", "hold", "buy", "sell"]}, r"'taker_side': value 'hold'"),
        (s.BOOK, _book_frame().assign(side=["bid", "ask", "ask", "offer"]), r"'side': value 'offer'"),
        (s.TRADES, _trades_rows() | {s.QTY: [1.5, 2, 3, 4]}, r"'qty': cannot store as int64"),
        (s.TRADES, _trades_rows() | {s.MAKER: ["a", None, "b", "c"]}, r"'maker': 1 missing values"),
        (s.TRADES, _trades_rows() | {s.STEP: 3}, r"'step': expected a sequence"),
        (s.TRADES, [1, 2, 3], r"rows must be a mapping"),
    ],
)
def test_append_refuses_rows_that_do_not_fit_the_schema(
    tmp_path: Path, table: str, rows: Any, message: str
) -> None:
    with pytest.raises(RecordError, match=message), RunWriter(
        tmp_path, "bad", kind=s.KIND_BACKTEST, config={}, seed=0
    ) as run:
        run.append(table, rows)
    assert list(tmp_path.iterdir()) == []


def test_append_outside_the_with_block_is_refused(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path, "late", kind=s.KIND_BACKTEST, config={}, seed=0)
    with pytest.raises(RecordError, match="not open"):
        writer.append(s.TRADES, _trades_rows())
    with writer:
        writer.append(s.TRADES, _trades_rows())
    with pytest.raises(RecordError, match="not open"):
        writer.append(s.TRADES, _trades_rows())


# --- never a half run ----------------------------------------------------------------------------------


def test_existing_run_is_never_overwritten(tmp_path: Path) -> None:
    run = _write_small_run(tmp_path)
    before = {path.name: path.read_bytes() for path in run.iterdir()}

    with pytest.raises(RecordError, match=rf"{run}: a run of this name already exists"):
        with RunWriter(tmp_path, "run", kind=s.KIND_BACKTEST, config={}, seed=0) as writer:
            writer.append(s.STEPS, _steps_rows(3))

    assert {path.name: path.read_bytes() for path in run.iterdir()} == before
    assert not (tmp_path / "run.partial").exists()
    assert RunReader(run).num_rows(s.STEPS) == 50


def test_exception_in_the_with_block_leaves_no_run_and_no_partial_folder(tmp_path: Path) -> None:
    with pytest.raises(ZeroDivisionError):
        with RunWriter(tmp_path, "crash", kind=s.KIND_SIMULATE, config={}, seed=0, flush_rows=10) as run:
            run.append(s.STEPS, _steps_rows(25))
            assert (tmp_path / "crash.partial" / s.table_file(s.STEPS)).exists()
            _ = 1 / 0

    assert list(tmp_path.iterdir()) == []
    assert list_runs(tmp_path) == []
    _write_small_run(tmp_path, "crash")  # the name is free again
    assert RunReader(tmp_path / "crash").num_rows(s.STEPS) == 50


def test_leftover_partial_folder_blocks_a_new_writer_of_the_same_name(tmp_path: Path) -> None:
    (tmp_path / "run.partial").mkdir()
    with pytest.raises(RecordError, match=r"run\.partial: already exists"):
        with RunWriter(tmp_path, "run", kind=s.KIND_BACKTEST, config={}, seed=0):
            pass
    assert not (tmp_path / "run").exists()
    assert (tmp_path / "run.partial").is_dir()


def _kill_in_lockstep(root: Path, kill_at: int | None) -> list[str]:
    """Run the lockstep child, SIGKILL it just before its ``kill_at``-th event; return the events seen."""
    process = subprocess.Popen(
        [sys.executable, str(CHILD_SCRIPT), str(root), "run", "lockstep"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(30.0, process.kill)
    watchdog.start()
    events: list[str] = []
    try:
        assert process.stdout is not None and process.stdin is not None
        for line in process.stdout:
            events.append(line.split()[1])
            if len(events) - 1 == kill_at:
                os.kill(process.pid, signal.SIGKILL)
                break
            process.stdin.write("\n")
            process.stdin.flush()
        process.wait()
    finally:
        watchdog.cancel()
        process.kill()
        process.wait()
    if kill_at is None:
        assert process.returncode == 0
    else:
        assert process.returncode == -signal.SIGKILL, "the child finished before the chosen event"
    return events


def _assert_whole_or_absent(root: Path, mode: str) -> bool:
    """After a kill: the run either does not exist, or opens with every row. Return whether it exists."""
    run = root / "run"
    listed_ok = [summary.name for summary in list_runs(root, verify=True) if summary.ok]
    if not run.exists():
        assert listed_ok == []
        return False
    reader = RunReader(run)
    assert set(reader.tables) == set(child.ROWS_PER_APPEND)
    for table, per_append in child.ROWS_PER_APPEND.items():
        assert reader.num_rows(table) == per_append * child.APPENDS[mode]
        assert len(reader.read(table)) == per_append * child.APPENDS[mode]
    np.testing.assert_array_equal(reader.read(s.STEPS)[s.STEP].to_numpy(), child.expected_steps(mode))
    assert listed_ok == ["run"]
    return True


@pytest.mark.slow
def test_sigkill_at_any_stage_never_leaves_a_run_that_reads_as_complete(tmp_path: Path) -> None:
    # Lockstep: the child pauses before every append, fsync, replace and rename; kill it at each point
    # of the finish (close, fsync, manifest, rename) and at a sample of table writes.
    events = _kill_in_lockstep(tmp_path / "full", kill_at=None)
    assert _assert_whole_or_absent(tmp_path / "full", "lockstep")
    rename_at = events.index("rename")
    first_fsync = events.index("fsync")
    chosen = [0, 5, 11, first_fsync - 1, *range(first_fsync, len(events))]
    with ThreadPoolExecutor(max_workers=4) as pool:  # lockstep children mostly wait on us
        seen = dict(zip(chosen, pool.map(lambda k: _kill_in_lockstep(tmp_path / f"lockstep_{k}", k), chosen)))
    for kill_at in chosen:
        assert seen[kill_at] == events[: kill_at + 1]
        exists = _assert_whole_or_absent(tmp_path / f"lockstep_{kill_at}", "lockstep")
        assert exists == (kill_at > rename_at), (kill_at, events[kill_at])

    # Free running: measure how long a whole write takes, then kill at delays spread over it,
    # landing in the middle of Parquet writes, closes and the finish.
    duration = _run_free(tmp_path / "free_full", delay=None)
    assert _assert_whole_or_absent(tmp_path / "free_full", "free")
    for fraction in (0.0, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0, 1.1, 1.5):
        root = tmp_path / f"free_{fraction}"
        _run_free(root, delay=duration * fraction)
        _assert_whole_or_absent(root, "free")


def _run_free(root: Path, delay: float | None) -> float:
    """Run the free child; SIGKILL it ``delay`` seconds after it starts writing.

    Returns:
        Seconds from the start of writing to the run being in place (or to the kill).
    """
    process = subprocess.Popen(
        [sys.executable, str(CHILD_SCRIPT), str(root), "run", "free"], stdout=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(30.0, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
        started = time.perf_counter()
        if delay is None:
            assert process.stdout.readline() == "done\n"
        else:
            time.sleep(delay)
            os.kill(process.pid, signal.SIGKILL)
        elapsed = time.perf_counter() - started
        process.wait()
    finally:
        watchdog.cancel()
        process.kill()
        process.wait()
    if delay is None:
        assert process.returncode == 0
    return elapsed


# --- the reader refuses damaged runs -------------------------------------------------------------------


def _truncate(path: Path, keep: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:keep])


def _replace_with_garbage(run: Path) -> None:
    """Make trades.parquet unreadable while keeping the manifest's size and checksum consistent."""
    path = run / s.table_file(s.TRADES)
    path.write_bytes(b"not a parquet file at all")

    def update(manifest: dict[str, Any]) -> None:
        entry = manifest[s.M_TABLES][s.TRADES]
        entry[s.T_BYTES] = path.stat().st_size
        entry[s.T_SHA256] = hashlib.sha256(path.read_bytes()).hexdigest()

    _edit_manifest(run, update)


DAMAGE: dict[str, tuple[Callable[[Path], Any], str, str]] = {
    "unknown schema version": (
        lambda run: _edit_manifest(run, lambda m: m.update({s.M_SCHEMA_VERSION: 2})),
        s.MANIFEST_FILE,
        "unknown schema_version 2",
    ),
    "missing schema version": (
        lambda run: _edit_manifest(run, lambda m: m.pop(s.M_SCHEMA_VERSION)),
        s.MANIFEST_FILE,
        "unknown schema_version None",
    ),
    "missing manifest": (lambda run: (run / s.MANIFEST_FILE).unlink(), s.MANIFEST_FILE, "missing manifest"),
    "unparsable manifest": (
        lambda run: (run / s.MANIFEST_FILE).write_text('{"schema_version": 1,'),
        s.MANIFEST_FILE,
        "unreadable manifest",
    ),
    "manifest not an object": (
        lambda run: (run / s.MANIFEST_FILE).write_text("[1]"),
        s.MANIFEST_FILE,
        "malformed manifest",
    ),
    "missing table file": (
        lambda run: (run / s.table_file(s.TRADES)).unlink(),
        s.table_file(s.TRADES),
        "missing",
    ),
    "truncated table file": (
        lambda run: _truncate(run / s.table_file(s.STEPS), 100),
        s.table_file(s.STEPS),
        "truncated",
    ),
    "row count mismatch": (
        lambda run: _edit_manifest(run, lambda m: m[s.M_TABLES][s.STEPS].update({s.T_ROWS: 49})),
        s.table_file(s.STEPS),
        "row count mismatch: manifest says 49, file has 50",
    ),
    "unreadable parquet": (_replace_with_garbage, s.table_file(s.TRADES), "unreadable Parquet"),
    "table file outside the run": (
        lambda run: _edit_manifest(run, lambda m: m[s.M_TABLES][s.STEPS].update({s.T_FILE: "../steps.parquet"})),
        s.MANIFEST_FILE,
        "must be 'steps.parquet'",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_reader_rejects_a_damaged_run_naming_the_file(tmp_path: Path, damage: str) -> None:
    run = _write_small_run(tmp_path)
    make_damage, file_name, phrase = DAMAGE[damage]
    make_damage(run)

    message = _open_error(run)
    assert str(run / file_name) in message
    assert phrase in message

    summaries = list_runs(tmp_path)
    assert [(summary.name, summary.ok, summary.error) for summary in summaries] == [("run", False, message)]


def test_reader_rejects_a_partial_folder_a_missing_folder_and_a_file(tmp_path: Path) -> None:
    run = _write_small_run(tmp_path)
    partial = run.rename(tmp_path / "run.partial")
    message = _open_error(partial)
    assert str(partial) in message and "incomplete run" in message

    missing = tmp_path / "nowhere"
    message = _open_error(missing)
    assert str(missing) in message and "not found" in message

    manifest_file = partial / s.MANIFEST_FILE
    message = _open_error(manifest_file)
    assert str(manifest_file) in message and "not a directory" in message


@settings(max_examples=60, deadline=None)
@given(position=st.floats(min_value=0.0, max_value=1.0, exclude_max=True), flip=st.integers(1, 255))
def test_one_altered_byte_anywhere_is_detected(
    tmp_path_factory: pytest.TempPathFactory, position: float, flip: int
) -> None:
    run = _write_small_run(tmp_path_factory.mktemp("byte"))
    path = run / s.table_file(s.STEPS)
    data = bytearray(path.read_bytes())
    offset = int(position * len(data))
    data[offset] ^= flip
    path.write_bytes(bytes(data))

    message = _open_error(run)
    assert str(path) in message
    assert "checksum mismatch" in message


def test_without_verify_a_truncated_file_is_still_refused(tmp_path: Path) -> None:
    run = _write_small_run(tmp_path)
    _truncate(run / s.table_file(s.STEPS), 200)
    with pytest.raises(RecordError, match=r"steps\.parquet: \d+ bytes but the manifest says"):
        RunReader(run, verify=False)


# --- listing -------------------------------------------------------------------------------------------


def test_list_runs_is_newest_first_and_broken_folders_never_hide_good_ones(tmp_path: Path) -> None:
    _write_small_run(tmp_path, "first", scenario="makers")
    broken = _write_small_run(tmp_path, "broken")
    (broken / s.table_file(s.STEPS)).unlink()
    time.sleep(0.01)
    _write_small_run(tmp_path, "second")
    (tmp_path / "killed.partial").mkdir()
    os.utime(tmp_path / "killed.partial", (0, 0))  # an old crash
    (tmp_path / "notes.txt").write_text("not a run")
    (tmp_path / ".cache").mkdir()

    summaries = list_runs(tmp_path)
    good = [summary for summary in summaries if summary.ok]
    assert [summary.name for summary in good] == ["second", "first"]
    assert good[1].scenario == "makers"
    assert good[1].kind == s.KIND_BACKTEST
    assert good[1].metrics == {"sharpe": 1.5, "max_drawdown": -0.2}
    assert good[1].tables == (s.STEPS, s.TRADES)
    assert summaries[-1].name == "killed" and summaries[-1].incomplete
    bad = {summary.name: summary.error for summary in summaries if not summary.ok}
    assert set(bad) == {"broken", "killed"}
    assert "steps.parquet" in str(bad["broken"])
    assert "incomplete run" in str(bad["killed"])


def test_list_runs_of_a_missing_folder_is_empty_and_of_a_file_is_an_error(tmp_path: Path) -> None:
    assert list_runs(tmp_path / "runs") == []
    (tmp_path / "file").write_text("")
    with pytest.raises(RecordError, match="runs folder is not a directory"):
        list_runs(tmp_path / "file")


def test_removed_run_folder_can_be_written_again(tmp_path: Path) -> None:
    run = _write_small_run(tmp_path)
    shutil.rmtree(run)
    _write_small_run(tmp_path)
    assert RunReader(run).num_rows(s.TRADES) == 4


def test_the_products_own_folders_in_a_runs_folder_are_not_listed_as_broken_runs(tmp_path):
    from market.dashboard.run_data import scan_runs
    from market.records import list_runs
    from market.records.schema import SERVICE_FOLDERS

    for folder in SERVICE_FOLDERS:
        (tmp_path / folder / "some_run").mkdir(parents=True)
    (tmp_path / "not_a_run").mkdir()
    assert [summary.name for summary in list_runs(tmp_path)] == ["not_a_run"]
    listing = scan_runs(tmp_path)
    assert listing.runs == () and [p.name for p in listing.problems] == ["not_a_run"]


def test_counts_read_naturally():
    from market.dashboard.run_data import count_of

    assert [count_of(n, "agent") for n in (0, 1, 2, 1_000)] == ["0 agents", "1 agent", "2 agents", "1,000 agents"]
