"""The `market` command as a user runs it: a real subprocess of the installed entry point."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from market import __version__

MARKET = str(Path(sys.executable).with_name("market"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MARKET, *args], capture_output=True, text=True, timeout=120, check=False)


def test_version_prints_the_package_version():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"market {__version__}"


def test_help_lists_the_demo_command():
    result = run("--help")
    assert result.returncode == 0
    assert "demo" in result.stdout


def test_demo_trades_and_reports_conservation():
    result = run("demo", "--orders", "3000", "--seed", "3")
    assert result.returncode == 0, result.stderr
    trades = int(re.search(r"trades: ([\d,]+)", result.stdout).group(1).replace(",", ""))
    assert trades > 100
    assert "conservation" in result.stdout and "OK" in result.stdout
    cash = re.search(r"cash ([\d,]+) = deposited ([\d,]+)", result.stdout)
    assert cash.group(1) == cash.group(2)


def test_demo_is_identical_under_the_same_seed():
    assert run("demo", "--orders", "2000", "--seed", "5").stdout == run("demo", "--orders", "2000", "--seed", "5").stdout


def test_bad_option_exits_non_zero_without_a_traceback():
    result = run("demo", "--orders", "-4")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
