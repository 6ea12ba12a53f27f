"""load_prices: accepted spellings and formats, and one clear error per kind of bad file."""

from __future__ import annotations

import gzip
import string
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from market.data import CLOSE, HIGH, LOW, OPEN, PRICE_COLUMNS, TIME, TIME_UNIT, VOLUME, check_prices, load_prices
from market.errors import DataError

HEADER = "Date,Open,High,Low,Close,Volume"
ROWS = (
    "2024-01-02,10.0,11.0,9.5,10.5,1000",
    "2024-01-03,10.5,11.5,10.0,11.0,1200",
    "2024-01-04,11.0,11.2,10.1,10.2,900",
)


def write(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    """Write ``text`` as UTF-8 to a file in ``tmp_path``."""
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def csv_text(*rows: str, header: str = HEADER) -> str:
    """A CSV file from a header and rows."""
    return "\n".join((header, *rows)) + "\n"


def load_error(path: Path) -> str:
    """The message of the DataError that loading ``path`` raises, checked to be one line naming the file."""
    with pytest.raises(DataError) as caught:
        load_prices(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


# Accepted input -------------------------------------------------------------------------------


def test_valid_csv_gives_float_columns_on_a_naive_time_index(tmp_path: Path) -> None:
    prices = load_prices(write(tmp_path, csv_text(*ROWS)))
    assert list(prices.columns) == [OPEN, HIGH, LOW, CLOSE, VOLUME]
    assert all(prices.dtypes == np.float64)
    assert isinstance(prices.index, pd.DatetimeIndex)
    assert prices.index.name == TIME and prices.index.tz is None and prices.index.unit == TIME_UNIT
    assert list(prices.index) == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03"), pd.Timestamp("2024-01-04")]
    assert prices[CLOSE].tolist() == [10.5, 11.0, 10.2]
    assert prices[VOLUME].tolist() == [1000.0, 1200.0, 900.0]
    check_prices(prices)


@pytest.mark.parametrize(
    "header",
    [
        "date,open,high,low,close,volume",
        "DATETIME,OPEN,HIGH,LOW,CLOSE,VOLUME",
        "Time,Open,High,Low,Close,Volume",
        "timestamp, open , High,low,Close,vOlUmE",
        "Timestamp,Open,High,Low,Adj_Close,Volume",
        "Date,Open,High,Low,adj close,Volume",
        "Date,Open,High,Low,ADJ-CLOSE,Volume",
    ],
)
def test_common_header_spellings_in_any_case_are_recognised(tmp_path: Path, header: str) -> None:
    prices = load_prices(write(tmp_path, csv_text(*ROWS, header=header)))
    assert list(prices.columns) == [OPEN, HIGH, LOW, CLOSE, VOLUME]
    assert prices[CLOSE].tolist() == [10.5, 11.0, 10.2]


def test_close_is_preferred_over_adj_close(tmp_path: Path) -> None:
    text = csv_text(
        "2024-01-02,10.0,11.0,9.5,10.5,99.0,1000",
        "2024-01-03,10.5,11.5,10.0,11.0,99.0,1200",
        header="Date,Open,High,Low,Close,Adj Close,Volume",
    )
    prices = load_prices(write(tmp_path, text))
    assert prices[CLOSE].tolist() == [10.5, 11.0]
    assert list(prices.columns) == [OPEN, HIGH, LOW, CLOSE, VOLUME]


def test_volume_is_optional_and_absent_when_the_file_has_none(tmp_path: Path) -> None:
    rows = [row.rsplit(",", 1)[0] for row in ROWS]
    prices = load_prices(write(tmp_path, csv_text(*rows, header="Date,Open,High,Low,Close")))
    assert list(prices.columns) == list(PRICE_COLUMNS)


def test_unknown_columns_are_ignored(tmp_path: Path) -> None:
    rows = [f"AAPL,{row},x" for row in ROWS]
    prices = load_prices(write(tmp_path, csv_text(*rows, header=f"Ticker,{HEADER},Note")))
    assert list(prices.columns) == [OPEN, HIGH, LOW, CLOSE, VOLUME]
    assert len(prices) == 3


def test_times_with_a_zone_are_converted_to_naive_utc(tmp_path: Path) -> None:
    text = csv_text(
        "2024-01-02T09:30:00-05:00,10,11,9,10,1",
        "2024-01-02T15:00:00Z,10,11,9,10,1",
        "2024-01-02 18:00:00+02:00,10,11,9,10,1",
    )
    prices = load_prices(write(tmp_path, text))
    assert prices.index.tz is None and prices.index.unit == TIME_UNIT
    expected = ["2024-01-02 14:30", "2024-01-02 15:00", "2024-01-02 16:00"]
    assert list(prices.index) == [pd.Timestamp(time) for time in expected]


def test_byte_order_mark_crlf_quotes_and_blank_lines_are_read(tmp_path: Path) -> None:
    text = '\ufeffDate,Open,High,Low,Close\r\n"2024-01-02","10","11","9","10.5"\r\n\r\n2024-01-03,10,11,9,10\r\n'
    prices = load_prices(write(tmp_path, text))
    assert prices[CLOSE].tolist() == [10.5, 10.0]


def test_gzip_csv_is_read(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv.gz"
    path.write_bytes(gzip.compress(csv_text(*ROWS).encode()))
    assert load_prices(path)[CLOSE].tolist() == [10.5, 11.0, 10.2]


def test_parquet_round_trip_equals_csv(tmp_path: Path) -> None:
    from_csv = load_prices(write(tmp_path, csv_text(*ROWS)))
    path = tmp_path / "prices.parquet"
    from_csv.to_parquet(path)
    pd.testing.assert_frame_equal(load_prices(path), from_csv)


def test_parquet_with_dates_ints_and_zone_is_converted(tmp_path: Path) -> None:
    table = pa.table(
        {
            "Date": pa.array(pd.to_datetime(["2024-01-02 10:00", "2024-01-03 10:00"]).tz_localize("Europe/Paris")),
            "Open": pa.array([10, 11], pa.int64()),
            "High": pa.array([12.0, 12.0], pa.float32()),
            "Low": pa.array([9.0, 9.0]),
            "Close": pa.array([11.0, 11.5]),
        }
    )
    path = tmp_path / "prices.pq"
    pq.write_table(table, path)
    prices = load_prices(path)
    assert list(prices.index) == [pd.Timestamp("2024-01-02 09:00"), pd.Timestamp("2024-01-03 09:00")]
    assert all(prices.dtypes == np.float64)
    assert prices[OPEN].tolist() == [10.0, 11.0]


# One error per kind of bad file ---------------------------------------------------------------


def test_missing_file_is_named(tmp_path: Path) -> None:
    assert load_error(tmp_path / "nope.csv").endswith("file not found")


def test_directory_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "prices.csv"
    folder.mkdir()
    assert "is a directory" in load_error(folder)


def test_unsupported_extension_is_named(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, csv_text(*ROWS), name="prices.xlsx"))
    assert "unsupported file type '.xlsx'" in message


@pytest.mark.parametrize("text", ["", "\n\n", "\r\n"])
def test_empty_file_is_named_empty(tmp_path: Path, text: str) -> None:
    assert load_error(write(tmp_path, text)).endswith("file is empty")


def test_header_only_has_no_data_rows(tmp_path: Path) -> None:
    assert "no data rows" in load_error(write(tmp_path, HEADER + "\n"))


def test_missing_columns_are_listed(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, csv_text("2024-01-02,10,10", header="Date,Open,Close")))
    assert "missing column(s) high, low" in message
    assert "'Date', 'Open', 'Close'" in message


def test_pipe_separated_file_gets_a_hint(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "Date|Open|High|Low|Close\n2024-01-02|1|1|1|1\n"))
    assert message.endswith("fields must be separated by commas)")


def test_repeated_column_is_named(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, csv_text("2024-01-02,10,11,9,10,10", header="Date,Open,High,Low,Close,close")))
    assert "column 6 'close' repeats column 5 'Close'" in message


def test_two_spellings_of_the_time_column_are_a_repeat(tmp_path: Path) -> None:
    text = csv_text("2024-01-02,10,11,9,10,2024-01-02", header="Date,Open,High,Low,Close,timestamp")
    assert "column 6 'timestamp' repeats column 1 'Date' (both are time)" in load_error(write(tmp_path, text))


def test_non_numeric_value_names_row_line_and_column(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, csv_text(ROWS[0], "2024-01-03,10.5,11.5,abc,11.0,1200")))
    assert message.endswith("row 2 (line 3), column 'Low': 'abc' is not a number")


@pytest.mark.parametrize("cell", ["NA", "null", "", "nan", "NaN", "N/A", "None", "#N/A", "  "])
def test_missing_values_and_nan_strings_are_refused(tmp_path: Path, cell: str) -> None:
    message = load_error(write(tmp_path, csv_text(ROWS[0], f"2024-01-03,10.5,11.5,10.0,{cell},1200")))
    assert "row 2 (line 3), column 'Close': missing value" in message


@pytest.mark.parametrize("cell", ["1e999", "-1e999", "inf", "Infinity"])
def test_infinite_values_are_refused(tmp_path: Path, cell: str) -> None:
    message = load_error(write(tmp_path, csv_text(f"2024-01-02,10,{cell},9,10,1")))
    assert "row 1 (line 2), column 'High'" in message
    assert "overflows to infinity" in message or "is not a finite number" in message


def test_overflow_to_infinity_is_named(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, csv_text("2024-01-02,10,1e999,9,10,1")))
    assert message.endswith("row 1 (line 2), column 'High': '1e999' is too large (overflows to infinity)")


def test_extra_fields_in_a_row_name_the_row(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, csv_text(ROWS[0], ROWS[1] + ",7", ROWS[2])))
    assert message.endswith("row 2 (line 3): too many fields: 7, but the header has 6")


def test_too_few_fields_in_a_row_name_the_row(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, csv_text(*ROWS[:2], "2024-01-04,11.0,11.2")))
    assert message.endswith("row 3 (line 4): too few fields: 3, but the header has 6")


def test_line_numbers_count_blank_lines_and_quoted_newlines(tmp_path: Path) -> None:
    text = f'{HEADER},Note\n\n{ROWS[0]},"two\nlines"\n{ROWS[1]},ok\n2024-01-05,x,1,1,1,1,ok\n'
    message = load_error(write(tmp_path, text))
    assert "row 3 (line 6), column 'Open'" in message


@pytest.mark.parametrize(("cell", "shown"), [("0", "0.0"), ("-3.5", "-3.5")])
def test_non_positive_price_is_refused(tmp_path: Path, cell: str, shown: str) -> None:
    message = load_error(write(tmp_path, csv_text(ROWS[0], f"2024-01-03,10.5,11.5,{cell},11.0,1200")))
    assert message.endswith(f"row 2 (line 3), column 'Low': price must be positive, got {shown}")


def test_negative_volume_is_refused(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, csv_text(ROWS[0], "2024-01-03,10.5,11.5,10.0,11.0,-5")))
    assert message.endswith("row 2 (line 3), column 'Volume': volume must be >= 0, got -5.0")


def test_high_below_low_is_refused(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, csv_text(ROWS[0], "2024-01-03,10.5,9.0,10.0,9.5,1200")))
    assert message.endswith("row 2 (line 3): High 9.0 is below Low 10.0")


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("2024-01-03,12.0,11.5,10.0,11.0,1200", "Open 12.0 is outside [Low 10.0, High 11.5]"),
        ("2024-01-03,10.5,11.5,10.0,9.9,1200", "Close 9.9 is outside [Low 10.0, High 11.5]"),
    ],
)
def test_open_or_close_outside_the_bar_is_refused(tmp_path: Path, row: str, expected: str) -> None:
    assert load_error(write(tmp_path, csv_text(ROWS[0], row))).endswith(f"row 2 (line 3): {expected}")


def test_earliest_bad_bar_is_reported_first(tmp_path: Path) -> None:
    text = csv_text(ROWS[0], "2024-01-03,10.5,9.0,10.0,9.5,1200", "2024-01-04,11.0,11.2,-1,10.2,900")
    assert "row 2 (line 3): High 9.0 is below Low 10.0" in load_error(write(tmp_path, text))


def test_duplicate_timestamp_is_refused(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, csv_text(ROWS[0], ROWS[1], ROWS[1].replace("01-03", "01-03T00:00"))))
    assert message.endswith("row 3 (line 4), column 'Date': duplicate time 2024-01-03 00:00:00 (same as row 2)")


def test_unsorted_timestamps_are_refused(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, csv_text(ROWS[1], ROWS[0], ROWS[2])))
    assert "row 2 (line 3), column 'Date': time 2024-01-02 00:00:00 is earlier than row 1's 2024-01-03" in message


@pytest.mark.parametrize("cell", ["yesterday", "2024-13-45", "", "01/02/2024x", "NaT"])
def test_unparseable_timestamp_is_refused(tmp_path: Path, cell: str) -> None:
    message = load_error(write(tmp_path, csv_text(ROWS[0], f"{cell},10.5,11.5,10.0,11.0,1200")))
    assert f"row 2 (line 3), column 'Date': cannot parse time {cell!r}" in message


def test_mixing_times_with_and_without_zone_is_refused(tmp_path: Path) -> None:
    text = csv_text("2024-01-02T10:00:00Z,10,11,9,10,1", "2024-01-03T10:00:00,10,11,9,10,1")
    assert "row 2 (line 3), column 'Date'" in load_error(write(tmp_path, text))


def test_bad_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_bytes(csv_text(*ROWS).encode() + b"2024-01-05,1\xff,2,1,1,1\n")
    assert load_error(path).endswith("line 5: not valid UTF-8 text (byte 0xff)")


def test_nul_byte_is_refused(tmp_path: Path) -> None:
    load_error(write(tmp_path, csv_text(ROWS[0], "2024-01-03,10.5\x00,11.5,10.0,11.0,1200")))


def test_damaged_gzip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv.gz"
    path.write_bytes(gzip.compress(csv_text(*ROWS).encode())[:-10])
    assert "cannot read the file" in load_error(path)


def parquet_file(tmp_path: Path, **columns: pa.Array) -> Path:
    """A Parquet file with the given columns."""
    path = tmp_path / "prices.parquet"
    pq.write_table(pa.table(columns), path)
    return path


TIMES = pa.array(pd.to_datetime(["2024-01-02", "2024-01-03"]))


def test_truncated_parquet_is_refused(tmp_path: Path) -> None:
    good = parquet_file(tmp_path, time=TIMES, open=pa.array([1.0, 1.0]), high=pa.array([1.0, 1.0]),
                        low=pa.array([1.0, 1.0]), close=pa.array([1.0, 1.0]))
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 2])
    assert "not a readable Parquet file" in load_error(good)


def test_csv_text_with_a_parquet_name_is_refused(tmp_path: Path) -> None:
    assert "not a readable Parquet file" in load_error(write(tmp_path, csv_text(*ROWS), name="prices.parquet"))


def test_parquet_price_of_string_type_is_refused(tmp_path: Path) -> None:
    path = parquet_file(tmp_path, time=TIMES, open=pa.array([1.0, 1.0]), high=pa.array([1.0, 1.0]),
                        low=pa.array([1.0, 1.0]), close=pa.array(["1.0", "1.0"]))
    assert load_error(path).endswith("column 'close': has type string, expected a number")


def test_parquet_time_of_string_type_is_refused(tmp_path: Path) -> None:
    path = parquet_file(tmp_path, time=pa.array(["2024-01-02", "2024-01-03"]), open=pa.array([1.0, 1.0]),
                        high=pa.array([1.0, 1.0]), low=pa.array([1.0, 1.0]), close=pa.array([1.0, 1.0]))
    assert load_error(path).endswith("column 'time': has type string, expected a timestamp or date")


@pytest.mark.parametrize(
    ("close", "problem"), [([1.0, None], "missing value (null)"), ([1.0, float("nan")], "value nan is not a finite")]
)
def test_parquet_null_or_nan_names_the_row(tmp_path: Path, close: list[float | None], problem: str) -> None:
    path = parquet_file(tmp_path, time=TIMES, open=pa.array([1.0, 1.0]), high=pa.array([1.0, 1.0]),
                        low=pa.array([1.0, 1.0]), close=pa.array(close, pa.float64()))
    assert f"row 2, column 'close': {problem}" in load_error(path)


def test_parquet_high_below_low_names_the_row(tmp_path: Path) -> None:
    path = parquet_file(tmp_path, Date=pa.array([20000, 20001], pa.date32()), open=pa.array([1.0, 1.0]),
                        high=pa.array([1.0, 0.5]), low=pa.array([1.0, 1.0]), close=pa.array([1.0, 1.0]))
    assert load_error(path).endswith("row 2: high 0.5 is below low 1.0")


def test_parquet_sub_microsecond_times_are_refused(tmp_path: Path) -> None:
    times = pa.array([1_700_000_000_000_000_000, 1_700_000_000_000_000_001], pa.timestamp("ns"))
    path = parquet_file(tmp_path, time=times, open=pa.array([1.0, 1.0]), high=pa.array([1.0, 1.0]),
                        low=pa.array([1.0, 1.0]), close=pa.array([1.0, 1.0]))
    assert "row 2, column 'time'" in load_error(path)


def test_parquet_repeated_time_column_is_named(tmp_path: Path) -> None:
    path = parquet_file(tmp_path, Date=TIMES, open=pa.array([1.0, 1.0]), high=pa.array([1.0, 1.0]),
                        low=pa.array([1.0, 1.0]), close=pa.array([1.0, 1.0]), timestamp=TIMES)
    assert load_error(path).endswith("column 6 'timestamp' repeats column 1 'Date' (both are time)")


def test_parquet_without_rows_has_no_data_rows(tmp_path: Path) -> None:
    empty = pa.array([], pa.float64())
    path = parquet_file(tmp_path, time=pa.array([], pa.timestamp("us")), open=empty, high=empty, low=empty, close=empty)
    assert load_error(path).endswith("has columns but no data rows")


def test_check_prices_refuses_a_table_of_the_wrong_shape() -> None:
    index = pd.DatetimeIndex(["2024-01-02", "2024-01-03"], name=TIME).as_unit(TIME_UNIT)
    good = pd.DataFrame({OPEN: [1.0, 1.0], HIGH: [1.0, 2.0], LOW: [1.0, 1.0], CLOSE: [1.0, 1.5]}, index=index)
    check_prices(good)
    with pytest.raises(DataError, match="columns are"):
        check_prices(good[[CLOSE, OPEN, HIGH, LOW]])
    with pytest.raises(DataError, match="row 2, column 'high': value inf is not finite"):
        check_prices(good.assign(high=[1.0, np.inf]))
    with pytest.raises(DataError, match="row 2: close 1.5 is outside"):
        check_prices(good.assign(high=[1.0, 1.2]))


# Generated files: a valid table or a DataError, never another exception -----------------------

HEADER_NAMES = ["Date", "timestamp", "Open", "HIGH", "low", "Close", "Adj Close", "adj_close", "Volume", "x", ""]
GOOD_TIMES = ["2024-01-02", "2024-01-03", "2024-01-04T10:00:00", "2024-01-05 10:00:00Z", "2024-01-06"]
CELLS = st.one_of(
    st.sampled_from(GOOD_TIMES),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=0.5, max_value=2.0).map(lambda x: f"{x:.3f}"),
    st.integers(-5, 5).map(str),
    st.sampled_from(["", "NA", "null", "nan", "1e999", "abc", " 1 ", '"', "1,5", "\t"]),
    st.text(alphabet=string.printable, max_size=6),
)


@st.composite
def messy_csv(draw: st.DrawFn) -> str:
    """CSV text that is sometimes valid and often broken in one or several ways.

    Most files have a good header and rows of six cells, so that corruption reaches the value
    checks (numbers, NaN, positivity, bar shape, time order), not just the structure checks.
    """
    if draw(st.integers(0, 4)) != 2:
        header = ["Date", "Open", "High", "Low", "Close", "Volume"]
    else:
        header = draw(st.lists(st.sampled_from(HEADER_NAMES), min_size=0, max_size=8))
    rows = []
    for i in range(draw(st.integers(0, 6))):
        day = draw(st.sampled_from([i + 1, i + 1, i + 1, i, 1]))  # sometimes repeated or out of order
        low = draw(st.floats(0.5, 1.0))
        high = low + draw(st.floats(0.0, 1.0))
        row = [f"2024-02-{day:02d}", repr(low), repr(high), repr(low), repr(high), str(draw(st.integers(0, 9)))]
        for column in draw(st.lists(st.integers(0, 7), max_size=2)):  # indexes past the end: untouched
            if column < len(row):
                row[column] = draw(CELLS)
        if draw(st.integers(0, 15)) == 7:  # a middle value: Hypothesis favours the ends
            row = row + [draw(CELLS)] if draw(st.booleans()) else row[:-1]
        rows.append(",".join(row))
    return "\n".join([",".join(header), *rows]) + draw(st.sampled_from(["", "\n", "\r\n"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=messy_csv())
def test_generated_csv_gives_a_valid_table_or_a_data_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    try:
        prices = load_prices(path)
    except DataError as error:
        assert "\n" not in str(error) and str(path) in str(error)
        return
    assert isinstance(prices.index, pd.DatetimeIndex) and prices.index.is_monotonic_increasing
    assert prices.index.is_unique and len(prices) > 0
    values = prices[list(PRICE_COLUMNS)].to_numpy()
    assert np.isfinite(values).all() and (values > 0).all()
    assert (prices[LOW] <= prices[OPEN]).all() and (prices[OPEN] <= prices[HIGH]).all()
    assert (prices[LOW] <= prices[CLOSE]).all() and (prices[CLOSE] <= prices[HIGH]).all()
    check_prices(prices)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_random_bytes_give_a_data_error_or_a_valid_table(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "prices.csv"
    path.write_bytes(b"Date,Open,High,Low,Close\n" + data)
    try:
        check_prices(load_prices(path))
    except DataError as error:
        assert "\n" not in str(error)
