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


def test_backtest_reads_a_dotted_semicolon_decimal_comma_file_with_the_options(tmp_path):
    from market.data import load_sample

    bars = load_sample().iloc[:120]
    lines = ["Time;Open;High;Low;Close"] + [
        f"{t:%d.%m.%Y %H:%M:%S}.000;" + ";".join(f"{bar[c]:.4f}".replace(".", ",") for c in ("open", "high", "low", "close"))
        for t, bar in bars.iterrows()
    ]
    path = tmp_path / "dotted.csv"
    path.write_text("\n".join(lines) + "\n")
    plain = run("backtest", "--data", str(path), "--out", str(tmp_path / "runs"))
    assert plain.returncode == 1 and "time_format" in plain.stderr and len(plain.stderr.splitlines()) == 1
    assert not (tmp_path / "runs").exists()
    read = run("backtest", "--data", str(path), "--time-format", "%d.%m.%Y %H:%M:%S.%f", "--decimal", ",", "--json", "--out", str(tmp_path / "runs"))
    assert read.returncode == 0, read.stderr
    import json

    payload = json.loads(read.stdout)
    # the same bars written plainly (ISO times, commas, decimal points) backtest to the same figures
    plain_path = tmp_path / "plain.csv"
    plain_path.write_text("\n".join(
        [lines[0].replace(";", ",")]
        + [f"{t:%Y-%m-%dT%H:%M:%S}," + ",".join(f"{bar[c]:.4f}" for c in ("open", "high", "low", "close")) for t, bar in bars.iterrows()]
    ) + "\n")
    same = run("backtest", "--data", str(plain_path), "--json", "--out", str(tmp_path / "runs"))
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout)["metrics"] == payload["metrics"] and payload["settings"]["bars"] > 60
