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


def write_small_run(root: Path, name: str) -> None:
    from market.records import RunWriter

    with RunWriter(root, name, kind="backtest", config={"policy": "buy_and_hold"}, seed=7) as writer:
        writer.append(
            "steps",
            {
                "step": [0, 1, 2],
                "time": [None, None, None],
                "agent": ["trader"] * 3,
                "price": [100.0, 101.0, 99.0],
                "cash": [0.0, 0.0, 0.0],
                "position": [1.0, 1.0, 1.0],
                "equity": [100.0, 101.0, 99.0],
                "action": [[1.0], [1.0], [1.0]],
                "reward": [0.0, 0.01, -0.02],
            },
        )
        writer.set_metrics({"total_return": -0.01, "sharpe_ratio": 0.5})


def test_runs_list_shows_good_runs_and_names_broken_ones(tmp_path):
    write_small_run(tmp_path, "good_run")
    (tmp_path / "broken_run").mkdir()
    result = run("runs", "list", "--runs", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "good_run" in result.stdout and "backtest" in result.stdout
    assert "broken_run" in result.stdout and "broken" in result.stdout


def test_runs_show_prints_tables_and_metrics(tmp_path):
    write_small_run(tmp_path, "good_run")
    result = run("runs", "show", "good_run", "--runs", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "steps" in result.stdout and "total_return" in result.stdout and "seed: 7" in result.stdout


def test_runs_show_of_a_missing_run_is_one_line_and_non_zero(tmp_path):
    result = run("runs", "show", "nope", "--runs", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "nope" in result.stderr and "Traceback" not in result.stderr


def test_simulate_records_a_run_whose_facts_the_facts_command_reads(tmp_path):
    from market.records import RunReader

    result = run("simulate", "--steps", "400", "--makers", "2", "--takers", "2", "--noise", "2", "--momentum", "1", "--value", "1", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    [folder] = [p for p in tmp_path.iterdir() if p.name.startswith("simulate")]
    reader = RunReader(folder)
    assert reader.num_rows("steps") == 400 * 8
    assert reader.num_rows("trades") > 0 and reader.num_rows("book") > 0
    facts = run("facts", str(folder))
    assert facts.returncode == 0, facts.stderr
    assert "hill_tail_index" in facts.stdout and "bundled sample" in facts.stdout


def test_simulate_with_a_bad_clearing_is_one_line_and_writes_nothing(tmp_path):
    result = run("simulate", "--clearing", "auction", "--out", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip() == "error: clearing: expected one of ['book', 'call', 'impact', 'poisson'], got 'auction'"
    assert not any(tmp_path.iterdir())


def test_historical_prices_drive_the_value_traders_fundamental(tmp_path):
    from market.data import sample_path
    from market.records import RunReader

    result = run("simulate", "--steps", "300", "--fundamental", str(sample_path()), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    [folder] = list(tmp_path.iterdir())
    assert RunReader(folder).manifest["config"]  # the run records what drove it
    bad = run("simulate", "--steps", "10", "--fundamental", str(tmp_path / "none.csv"), "--out", str(tmp_path / "x"))
    assert bad.returncode == 1 and "none.csv: file not found" in bad.stderr


def test_tune_refuses_a_missing_or_bad_space_in_one_line(tmp_path):
    missing = run("tune", "--space", str(tmp_path / "none.toml"), "--out", str(tmp_path))
    assert missing.returncode == 1 and missing.stderr.strip().endswith("none.toml: file not found")
    space = tmp_path / "space.toml"
    space.write_text("lrr = {loguniform = [1e-5, 1e-3]}\n")
    bad = run("tune", "--space", str(space), "--out", str(tmp_path / "runs"))
    assert bad.returncode == 1 and "space.lrr: not a TrainingConfig field (did you mean 'lr'?)" in bad.stderr
    assert bad.stderr.strip().count("\n") == 0 and not (tmp_path / "runs").exists()
