"""Child process for the SIGKILL test of run records: writes one run of four tables in many row groups.

Usage: ``python record_writer_child.py ROOT NAME MODE`` where MODE is

* ``free``: print ``ready`` once imports are done, write the run as fast as it can, print ``done``.
* ``lockstep``: before every append and every ``os.fsync``, ``os.replace`` and ``os.rename`` the
  writer makes, print ``event <label>`` and wait for a line on stdin, so the parent can kill it at
  exactly that point. Prints ``event done`` after the run is in place.

The test imports :data:`FLUSH_ROWS`, :data:`ROWS_PER_APPEND`, :data:`APPENDS` and :func:`expected_steps`
from here so that parent and child agree on what a whole run holds.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from market.records import RunWriter
from market.records import schema as s

FLUSH_ROWS = 16
"""Small row groups, so that a run has many of them."""

ROWS_PER_APPEND = {s.STEPS: 12, s.TRADES: 5, s.BOOK: 10, s.TRAINING: 3}
"""Rows each append adds, by table."""

APPENDS = {"free": 400, "lockstep": 5}
"""Rounds of appends (one per table per round), by mode."""


def expected_steps(mode: str) -> np.ndarray:
    """Return the ``step`` column a whole ``steps`` table holds in a mode."""
    return np.repeat(np.arange(APPENDS[mode], dtype=np.int64), ROWS_PER_APPEND[s.STEPS])


def _rows(table: str, round_index: int) -> dict[str, Any]:
    """Deterministic rows for one append."""
    count = ROWS_PER_APPEND[table]
    step = np.full(count, round_index, dtype=np.int64)
    values = np.linspace(100.0, 101.0, count) + round_index
    if table == s.STEPS:
        return {
            s.STEP: step,
            s.AGENT: [f"agent_{i}" for i in range(count)],
            s.PRICE: values,
            s.CASH: values * 10,
            s.POSITION: np.arange(count, dtype=np.float64),
            s.EQUITY: values * 11,
            s.ACTION: np.stack([values, -values], axis=1),
            s.REWARD: values - 100.0,
        }
    if table == s.TRADES:
        return {
            s.STEP: step,
            s.PRICE: values,
            s.QTY: np.arange(1, count + 1),
            s.MAKER: ["maker_0"] * count,
            s.TAKER: ["taker_1"] * count,
            s.MAKER_ORDER_ID: np.arange(count) + 1000 * round_index,
            s.TAKER_ORDER_ID: np.arange(count) + 1000 * round_index + 500,
            s.TAKER_SIDE: [s.BUY if i % 2 else s.SELL for i in range(count)],
        }
    if table == s.BOOK:
        return {
            s.STEP: step,
            s.SIDE: [s.BID if i % 2 else s.ASK for i in range(count)],
            s.LEVEL: np.arange(count) // 2,
            s.PRICE: values,
            s.QTY: np.arange(count) + 1,
        }
    return {
        s.ITERATION: step,
        s.ENV_STEPS: step * 1000,
        s.TIME_S: values - 100.0,
        s.KEY: [f"metric_{i}" for i in range(count)],
        s.VALUE: values,
    }


def _pause(label: str) -> None:
    """Report a point in the run to the parent and wait until it says go (or kills us)."""
    sys.stdout.write(f"event {label}\n")
    sys.stdout.flush()
    if not sys.stdin.readline():
        raise SystemExit("parent closed stdin")


def _paused(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an ``os`` function so that each call pauses just before it happens."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _pause(label)
        return function(*args, **kwargs)

    return wrapper


def main(root: Path, name: str, mode: str) -> None:
    """Write the run; in lockstep mode, pause at every append and every durability step."""
    lockstep = mode == "lockstep"
    if lockstep:
        os.fsync = _paused("fsync", os.fsync)
        os.replace = _paused("replace", os.replace)
        os.rename = _paused("rename", os.rename)
    else:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
    with RunWriter(root, name, kind=s.KIND_SIMULATE, config={"mode": mode}, seed=1, flush_rows=FLUSH_ROWS) as run:
        for round_index in range(APPENDS[mode]):
            for table in ROWS_PER_APPEND:
                if lockstep:
                    _pause(f"append-{table}-{round_index}")
                run.append(table, _rows(table, round_index))
        run.set_metrics({"rounds": APPENDS[mode]})
    if lockstep:
        _pause("done")
    else:
        sys.stdout.write("done\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
