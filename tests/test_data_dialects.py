"""Time formats and CSV dialects of price files: each case read from a small real file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from market.data.loading import CLOSE, ReadOptions, load_prices
from market.errors import DataError

TIMES = pd.DatetimeIndex(["2017-01-01 22:00:00", "2017-01-02 22:00:00"])


def write(tmp_path: Path, text: str, *, name: str = "prices.csv", encoding: str = "utf-8", newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def test_semicolon_delimiter_is_sniffed(tmp_path: Path) -> None:
    prices = load_prices(write(tmp_path, "Date;Open;High;Low;Close\n2024-01-02;1;2;1;1.5\n"))
    assert prices[CLOSE].tolist() == [1.5]


def test_tab_delimiter_is_sniffed(tmp_path: Path) -> None:
    prices = load_prices(write(tmp_path, "Date\tOpen\tHigh\tLow\tClose\n2024-01-02\t1\t2\t1\t1.5\n"))
    assert prices[CLOSE].tolist() == [1.5]


def test_header_with_two_separators_is_refused_naming_the_option(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"prices.csv: line 1: .*give the delimiter option"):
        load_prices(write(tmp_path, "Date;Open,High;Low;Close\n2024-01-02;1;2;1;1.5\n"))


def test_given_delimiter_is_used(tmp_path: Path) -> None:
    path = write(tmp_path, "Date|Open|High|Low|Close\n2024-01-02|1|2|1|1.5\n")
    assert load_prices(path, ReadOptions(delimiter="|"))[CLOSE].tolist() == [1.5]


def test_utf8_bom_and_crlf_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Open,High,Low,Close\n2024-01-02,1,2,1,1.5\n2024-01-03,1,2,1,1.25\n",
                 encoding="utf-8-sig", newline="\r\n")
    assert path.read_bytes().startswith(b"\xef\xbb\xbfDate") and b"\r\n" in path.read_bytes()
    prices = load_prices(path)
    assert prices[CLOSE].tolist() == [1.5, 1.25]
    assert list(prices.index) == list(pd.DatetimeIndex(["2024-01-02", "2024-01-03"]))


def test_decimal_comma_with_semicolons(tmp_path: Path) -> None:
    path = write(tmp_path, "Date;Open;High;Low;Close;Volume\n2024-01-02;1,5;2,25;1;1,75;1000\n")
    prices = load_prices(path, ReadOptions(decimal=","))
    assert prices.loc[:, ["open", "high", "low", "close", "volume"]].iloc[0].tolist() == [1.5, 2.25, 1.0, 1.75, 1000.0]


def test_decimal_comma_without_option_names_the_cell(tmp_path: Path) -> None:
    path = write(tmp_path, "Date;Open;High;Low;Close\n2024-01-02;1,5;2;1;1,75\n")
    with pytest.raises(DataError, match=r"prices.csv: row 1 \(line 2\), column 'Open': '1,5' is not a number"):
        load_prices(path)


def test_decimal_comma_with_comma_delimiter_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Open,High,Low,Close\n2024-01-02,1,2,1,1\n")
    with pytest.raises(DataError, match=r"prices.csv: decimal ',' needs fields separated by ';' or tab"):
        load_prices(path, ReadOptions(decimal=","))


@pytest.mark.parametrize(("unit", "scale"), [("s", 1), ("ms", 10**3), ("us", 10**6), ("ns", 10**9)])
def test_epoch_integers_are_detected_from_their_digits(tmp_path: Path, unit: str, scale: int) -> None:
    epochs = [1483308000 * scale, 1483394400 * scale]
    rows = "".join(f"{epoch},1,2,1,1.5\n" for epoch in epochs)
    path = write(tmp_path, "Timestamp,Open,High,Low,Close\n" + rows)
    assert list(load_prices(path).index) == list(TIMES)
    assert list(load_prices(path, ReadOptions(time_unit=unit)).index) == list(TIMES)


def test_explicit_time_unit_reads_short_epochs(tmp_path: Path) -> None:
    path = write(tmp_path, "Timestamp,Open,High,Low,Close\n0,1,2,1,1.5\n86400,1,2,1,1.5\n")
    assert list(load_prices(path, ReadOptions(time_unit="s")).index) == list(pd.DatetimeIndex(["1970-01-01", "1970-01-02"]))


def test_epochs_of_unclear_width_are_refused_naming_time_unit(tmp_path: Path) -> None:
    path = write(tmp_path, "Timestamp,Open,High,Low,Close\n0,1,2,1,1.5\n86400,1,2,1,1.5\n")
    with pytest.raises(DataError, match=r"prices.csv: row 1 \(line 2\), column 'Timestamp': .*time_unit"):
        load_prices(path)


def test_dukascopy_day_first_dotted_times_with_time_format(tmp_path: Path) -> None:
    text = ("Gmt time,Open,High,Low,Close,Volume\n"
            "01.01.2017 22:00:00.000,1.05,1.06,1.04,1.05,10\n02.01.2017 22:00:00.000,1.05,1.06,1.04,1.055,12\n")
    path = write(tmp_path, text.replace("Gmt time", "Time"))
    assert list(load_prices(path, ReadOptions(time_format="%d.%m.%Y %H:%M:%S.%f")).index) == list(TIMES)
    with pytest.raises(DataError, match=r"cannot parse time '01.01.2017 22:00:00.000'.*time_format"):
        load_prices(path)


def test_time_not_matching_format_names_row(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Open,High,Low,Close\n01.01.2017,1,2,1,1\n2017-01-02,1,2,1,1\n")
    with pytest.raises(DataError, match=r"row 2 \(line 3\), column 'Date': time '2017-01-02' does not match format '%d.%m.%Y'"):
        load_prices(path, ReadOptions(time_format="%d.%m.%Y"))


def test_dayfirst_reads_slashed_dates_day_first(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Open,High,Low,Close\n02/01/2024,1,2,1,1\n03/01/2024,1,2,1,1\n")
    assert list(load_prices(path, ReadOptions(dayfirst=True)).index) == list(pd.DatetimeIndex(["2024-01-02", "2024-01-03"]))
    with pytest.raises(DataError, match=r"cannot parse time '02/01/2024'.*dayfirst"):
        load_prices(path)


def test_parquet_integer_epochs(tmp_path: Path) -> None:
    path = tmp_path / "prices.parquet"
    table = pa.table({"time": [1483308000000, 1483394400000], "open": [1.0, 1.0], "high": [2.0, 2.0],
                      "low": [1.0, 1.0], "close": [1.5, 1.5]})
    pq.write_table(table, path)
    assert list(load_prices(path).index) == list(TIMES)
    with pytest.raises(DataError, match=r"prices.parquet: column 'time': .*give time_unit"):
        pq.write_table(table.set_column(0, "time", pa.array([1, 2])), path)
        load_prices(path)


@pytest.mark.parametrize(("options", "message"), [
    (dict(time_unit="m"), "time_unit must be one of"),
    (dict(time_unit="s", time_format="%Y"), "not both"),
    (dict(delimiter=";;"), "one character"),
    (dict(decimal=","  , delimiter=","), "other than ','"),
])
def test_bad_options_are_refused(options: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        ReadOptions(**options)
