"""load_panel: per-asset files aligned on time, read from real small files."""

from __future__ import annotations

from pathlib import Path

import pytest

from market.data.panel import load_panel
from market.errors import DataError


def write_asset(folder: Path, name: str, days: list[int], closes: list[float]) -> Path:
    lines = ["Date,Open,High,Low,Close"] + [f"2024-01-{d:02d},{c},{c},{c},{c}" for d, c in zip(days, closes, strict=True)]
    path = folder / f"{name}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_inner_join_keeps_common_times_and_reports_losses(tmp_path: Path) -> None:
    write_asset(tmp_path, "AAA", [2, 3, 4, 5], [1.0, 2.0, 3.0, 4.0])
    write_asset(tmp_path, "BBB", [3, 4, 5, 8], [10.0, 20.0, 30.0, 40.0])
    panel = load_panel(tmp_path)
    assert panel.assets == ("AAA", "BBB")
    assert [t.day for t in panel.times] == [3, 4, 5]
    assert panel.fields["close"].tolist() == [[2.0, 10.0], [3.0, 20.0], [4.0, 30.0]]
    assert panel.report.rows_dropped == {"AAA": 1, "BBB": 1}
    assert panel.available.all()


def test_forward_fill_marks_filled_bars(tmp_path: Path) -> None:
    a = write_asset(tmp_path, "AAA", [2, 3, 4, 5], [1.0, 2.0, 3.0, 4.0])
    b = write_asset(tmp_path, "BBB", [2, 3, 5], [10.0, 20.0, 30.0])
    panel = load_panel([a, b], align="ffill", max_fill=1)
    assert panel.fields["close"][:, 1].tolist() == [10.0, 20.0, 20.0, 30.0]
    assert panel.available[:, 1].tolist() == [True, True, False, True]
    assert panel.report.rows_filled == {"AAA": 0, "BBB": 1}
    with pytest.raises(DataError, match="asset 'BBB': more than 0 bars in a row missing"):
        load_panel([a, b], align="ffill", max_fill=0)


def test_one_asset_is_refused(tmp_path: Path) -> None:
    write_asset(tmp_path, "AAA", [2, 3], [1.0, 2.0])
    with pytest.raises(DataError, match="a panel needs at least 2 assets, got 1"):
        load_panel(tmp_path)


def test_asset_with_too_little_overlap_is_named(tmp_path: Path) -> None:
    write_asset(tmp_path, "AAA", [2, 3, 4], [1.0, 2.0, 3.0])
    write_asset(tmp_path, "BBB", [4, 5, 6], [1.0, 2.0, 3.0])
    with pytest.raises(DataError, match="asset 'AAA': only 1 bars overlap"):
        load_panel(tmp_path)


def test_bad_file_in_panel_names_the_file(tmp_path: Path) -> None:
    write_asset(tmp_path, "AAA", [2, 3], [1.0, 2.0])
    (tmp_path / "BBB.csv").write_text("Date,Open,High,Low,Close\n2024-01-02,1,1,1,x\n")
    with pytest.raises(DataError, match=r"BBB.csv: row 1 \(line 2\), column 'Close': 'x' is not a number"):
        load_panel(tmp_path)


def test_wide_file_of_closes_is_a_panel_with_closes_as_every_price(tmp_path: Path) -> None:
    path = tmp_path / "closes.csv"
    path.write_text("Date;AAA;BBB\n2024-01-02;1,5;10\n2024-01-03;1,25;11\n")
    from market.data.loading import ReadOptions

    panel = load_panel(path, wide=True, options=ReadOptions(decimal=","))
    assert panel.assets == ("AAA", "BBB")
    assert panel.fields["close"].tolist() == [[1.5, 10.0], [1.25, 11.0]]
    assert (panel.fields["open"] == panel.fields["close"]).all()


def test_wide_file_bad_cell_names_row_and_asset(tmp_path: Path) -> None:
    path = tmp_path / "closes.csv"
    path.write_text("Date,AAA,BBB\n2024-01-02,1.5,10\n2024-01-03,1.25,-1\n")
    with pytest.raises(DataError, match=r"closes.csv: row 2 \(line 3\), column 'BBB': price must be positive, got -1.0"):
        load_panel(path, wide=True)


SAMPLE_PANEL = Path(__file__).resolve().parents[1] / "market" / "data" / "sample" / "sample_panel.csv"


def test_sample_script_regenerates_the_bundled_panel_byte_for_byte(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = SAMPLE_PANEL.parents[3] / "scripts" / "make_sample_data.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, capture_output=True, cwd=tmp_path)
    assert (tmp_path / SAMPLE_PANEL.name).read_bytes() == SAMPLE_PANEL.read_bytes()


def test_bundled_panel_has_sector_correlation_and_loads_as_a_panel() -> None:
    import numpy as np

    panel = load_panel(SAMPLE_PANEL, wide=True)
    assert len(panel.assets) == 12 and len(panel.times) == 1000
    assert SAMPLE_PANEL.stat().st_size < 300_000
    returns = np.diff(np.log(panel.fields["close"]), axis=0)
    corr = np.corrcoef(returns.T)
    sector = np.array([int(name[1]) for name in panel.assets])
    same = sector[:, None] == sector[None, :]
    off_diagonal = ~np.eye(len(sector), dtype=bool)
    assert corr[same & off_diagonal].mean() > corr[~same].mean() + 0.1


# ---------------------------------------------------------------------------- one long file
LONG_ROWS = [
    # interleaved assets, each sorted by time; BBB misses day 2 and has day 8
    ("2024-01-02", "AAA", 1.0),
    ("2024-01-03", "BBB", 10.0),
    ("2024-01-03", "AAA", 2.0),
    ("2024-01-04", "BBB", 20.0),
    ("2024-01-04", "AAA", 3.0),
    ("2024-01-05", "AAA", 4.0),
    ("2024-01-05", "BBB", 30.0),
    ("2024-01-08", "BBB", 40.0),
]


def long_csv(path: Path, rows: list[tuple[str, str, float]] = LONG_ROWS, symbol: str = "Symbol") -> Path:
    lines = [f"Date,{symbol},Open,High,Low,Close"] + [f"{t},{s},{c},{c},{c},{c}" for t, s, c in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_long_file_with_a_symbol_column_is_the_same_panel_as_one_file_per_asset(tmp_path: Path) -> None:
    folder = tmp_path / "assets"
    folder.mkdir()
    write_asset(folder, "AAA", [2, 3, 4, 5], [1.0, 2.0, 3.0, 4.0])
    write_asset(folder, "BBB", [3, 4, 5, 8], [10.0, 20.0, 30.0, 40.0])
    expected = load_panel(folder)
    panel = load_panel(long_csv(tmp_path / "long.csv"), symbol="symbol")
    assert panel.assets == expected.assets
    assert panel.times.equals(expected.times)
    for name, values in expected.fields.items():
        assert (panel.fields[name] == values).all()
    assert panel.report == expected.report


def test_long_parquet_file_reads_like_the_csv(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {"time": pd.to_datetime([t for t, _, _ in LONG_ROWS]), "ticker": [s for _, s, _ in LONG_ROWS]}
        | {column: [c for _, _, c in LONG_ROWS] for column in ("open", "high", "low", "close")}
    )
    path = tmp_path / "long.parquet"
    frame.to_parquet(path)
    from_parquet = load_panel(path, symbol="Ticker")
    from_csv = load_panel(long_csv(tmp_path / "long.csv"), symbol="symbol")
    assert from_parquet.assets == from_csv.assets and (from_parquet.fields["close"] == from_csv.fields["close"]).all()


def test_long_file_bad_value_names_the_asset_and_the_files_row(tmp_path: Path) -> None:
    rows = [*LONG_ROWS[:5], ("2024-01-05", "AAA", -4.0), *LONG_ROWS[6:]]
    path = long_csv(tmp_path / "long.csv", rows)
    with pytest.raises(DataError, match=r"long.csv: asset 'AAA': row 6 \(line 7\), column 'Open': price must be positive"):
        load_panel(path, symbol="symbol")


def test_long_file_rows_out_of_order_within_an_asset_name_it(tmp_path: Path) -> None:
    rows = [LONG_ROWS[2], LONG_ROWS[0], *LONG_ROWS[3:], LONG_ROWS[1]]
    path = long_csv(tmp_path / "long.csv", rows)
    with pytest.raises(DataError, match=r"long.csv: asset 'AAA': row 2 \(line 3\), column 'Date': time 2024-01-02 00:00:00 is earlier"):
        load_panel(path, symbol="symbol")


def test_long_file_without_the_symbol_column_or_with_an_empty_symbol_is_one_line(tmp_path: Path) -> None:
    path = long_csv(tmp_path / "long.csv", symbol="Name")
    with pytest.raises(DataError, match=r"long.csv: no symbol column 'symbol' \(header has 'Date', 'Name'"):
        load_panel(path, symbol="symbol")
    path = long_csv(tmp_path / "gap.csv", [*LONG_ROWS[:3], ("2024-01-04", "", 2.0)])
    with pytest.raises(DataError, match=r"gap.csv: row 4 \(line 5\): the 'symbol' column is empty"):
        load_panel(path, symbol="symbol")
    with pytest.raises(DataError, match="not both"):
        load_panel(path, symbol="symbol", wide=True)


def test_bundled_panel_loads_by_name() -> None:
    from market.data import load_sample_panel

    panel = load_sample_panel()
    assert panel.assets == load_panel(SAMPLE_PANEL, wide=True).assets and panel.fields["close"].shape == (1000, 12)


def test_a_panel_built_in_code_equals_the_same_panel_read_from_files(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    from market.data.panel import panel_from_closes
    from market.data.synthetic import factor_panel

    closes = factor_panel(np.random.default_rng(0), 30, sectors=(2, 1))
    path = tmp_path / "wide.csv"
    closes.to_csv(path, float_format="%.17g")
    from_file = load_panel(path, wide=True)
    in_code = panel_from_closes(closes)
    assert in_code.assets == from_file.assets and in_code.times.equals(from_file.times)
    assert (in_code.fields["close"] == from_file.fields["close"]).all()
    bad = closes.copy()
    bad.iloc[3, 1] = -1.0
    with pytest.raises(DataError, match="asset 'S0_1'"):
        panel_from_closes(bad)
    with pytest.raises(DataError, match="at least 2 assets"):
        panel_from_closes(pd.DataFrame({"A": closes.iloc[:, 0]}))


def test_pair_panel_plants_a_mean_reverting_spread_that_a_cheap_asset_rule_earns_from() -> None:
    import numpy as np

    from market.data.synthetic import pair_panel

    panel = pair_panel(np.random.default_rng(0), 2_000, phi=0.8)
    assert panel.assets == ("A", "B") and panel.fields["close"].shape == (2_000, 2)
    log_close = np.log(panel.fields["close"])
    spread = log_close[:, 0] - log_close[:, 1]
    phi = np.polyfit(spread[:-1], spread[1:], 1)[0]
    assert 0.75 < phi < 0.85
    # each bar opens at the last close: long the cheap asset, short the dear one, decided at the close
    assert (panel.fields["open"][1:] == panel.fields["close"][:-1]).all()
    next_diff = np.diff(log_close, axis=0)[1:, 0] - np.diff(log_close, axis=0)[1:, 1]
    edge = -np.sign(spread[1:-1]) * next_diff
    assert edge.mean() > 4 * edge.std() / np.sqrt(edge.size)
