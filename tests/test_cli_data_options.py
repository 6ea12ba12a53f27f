"""The price-file reading options of the `market` command (--time-format, --time-unit, --delimiter, --decimal)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from market.data.facts import MIN_RETURNS

MARKET = str(Path(sys.executable).with_name("market"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MARKET, *args], capture_output=True, text=True, timeout=120, check=False)


def test_facts_reads_a_dotted_semicolon_decimal_comma_file_with_the_options(tmp_path):
    dotted = tmp_path / "dotted.csv"
    dotted.write_text("Time;Open;High;Low;Close\n01.01.2017 22:00:00.000;1,05;1,06;1,04;1,05\n02.01.2017 22:00:00.000;1,05;1,06;1,04;1,055\n")
    simulated = run("simulate", "--steps", "30", "--makers", "1", "--takers", "1", "--noise", "0", "--momentum", "0", "--value", "0", "--out", str(tmp_path / "runs"))
    assert simulated.returncode == 0, simulated.stderr
    [folder] = list((tmp_path / "runs").iterdir())
    plain = run("facts", str(folder), "--data", str(dotted))
    assert plain.returncode == 1 and "cannot parse time '01.01.2017 22:00:00.000'" in plain.stderr and "time_format" in plain.stderr
    # with the options the file is read: the error is now its length, so the times and numbers parsed
    read = run("facts", str(folder), "--data", str(dotted), "--time-format", "%d.%m.%Y %H:%M:%S.%f", "--decimal", ",")
    assert read.returncode == 1
    assert read.stderr == f"error: {dotted}: 2 bars; stylized facts need at least {MIN_RETURNS + 1}\n"
