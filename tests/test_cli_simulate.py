"""Bad input to `market simulate`, `demo`, `facts` and `backtest`: one line, exit 1, nothing written.

Each case runs the real installed command as a subprocess, as a user would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from market.data.facts import FACT_KEYS, MIN_RETURNS
from market.limits import MAX_AGENTS_PER_POPULATION
from market.records import RunReader
from market.records import schema as s

MARKET = str(Path(sys.executable).with_name("market"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MARKET, *args], capture_output=True, text=True, timeout=120, check=False)


def assert_one_line_error(result: subprocess.CompletedProcess[str], line: str) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"error: {line}\n"
    assert "Traceback" not in result.stdout + result.stderr


def test_simulate_with_a_negative_seed_is_one_line_and_writes_nothing(tmp_path):
    assert_one_line_error(run("simulate", "--seed", "-1", "--out", str(tmp_path)), "seed: expected a non-negative integer, got -1")
    assert not any(tmp_path.iterdir())


def test_demo_with_a_negative_seed_is_one_line():
    assert_one_line_error(run("demo", "--seed", "-1"), "--seed: expected a non-negative integer, got -1")


def test_simulate_with_a_billion_makers_is_refused_before_anything_is_built(tmp_path):
    result = run("simulate", "--makers", "1000000000", "--out", str(tmp_path))
    assert_one_line_error(result, f"makers: 1,000,000,000 is over the limit of {MAX_AGENTS_PER_POPULATION:,}")
    assert "simulating" not in result.stdout and not any(tmp_path.iterdir())


def test_simulate_of_one_step_records_the_run_without_facts_and_says_why(tmp_path):
    result = run("simulate", "--steps", "1", "--makers", "1", "--takers", "1", "--noise", "0", "--momentum", "0", "--value", "0", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"stylized facts: not measured, they need at least {MIN_RETURNS} steps (this run has 1)" in result.stdout
    [folder] = list(tmp_path.iterdir())
    reader = RunReader(folder)
    assert reader.metrics["steps"] == 1 and not set(FACT_KEYS) & set(reader.metrics)
    assert s.POPULATIONS not in reader.tables and reader.manifest["config"]["record"] == "agents", "a small market records every agent"


def test_simulate_of_more_than_a_thousand_agents_records_populations_in_aggregate(tmp_path):
    result = run("simulate", "--steps", "3", "--noise", "1001", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    [folder] = list(tmp_path.iterdir())
    reader = RunReader(folder)
    assert reader.manifest["config"]["record"] == "populations" and s.POPULATIONS in reader.tables
    assert set(reader.read(s.STEPS)[s.AGENT]) == set(), "no agent is acted for one by one: every population is driven inside the env"


def test_facts_against_a_price_file_too_short_names_the_file_and_the_bars_needed(tmp_path):
    three_rows = tmp_path / "three_rows.csv"
    three_rows.write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,100,101,99,100.5,1000\n2024-01-03,100.5,102,100,101,1200\n2024-01-04,101,103,100.5,102,900\n")
    simulated = run("simulate", "--steps", "100", "--makers", "1", "--takers", "1", "--noise", "0", "--momentum", "0", "--value", "0", "--out", str(tmp_path / "runs"))
    assert simulated.returncode == 0, simulated.stderr
    [folder] = list((tmp_path / "runs").iterdir())
    result = run("facts", str(folder), "--data", str(three_rows))
    assert_one_line_error(result, f"{three_rows}: 3 bars; stylized facts need at least {MIN_RETURNS + 1}")
    assert result.stdout == ""


def test_backtest_costs_default_to_the_envs_and_are_recorded(tmp_path):
    from market.envs.trading import TradingEnvConfig

    result = run("backtest", "--policy", "buy_and_hold", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    [folder] = list(tmp_path.iterdir())
    config, defaults = RunReader(folder).manifest["config"], TradingEnvConfig()
    assert (config["window"], config["commission_bps"], config["slippage_bps"]) == (defaults.window, defaults.commission_bps, defaults.slippage_bps)


def test_backtest_with_a_negative_seed_is_one_line_and_writes_nothing(tmp_path):
    assert_one_line_error(run("backtest", "--seed", "-1", "--out", str(tmp_path)), "seed: expected a non-negative integer, got -1")
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_simulate_with_an_unknown_record_mode_is_one_line_and_writes_nothing(tmp_path):
    result = run("simulate", "--record", "everyone", "--out", str(tmp_path))
    assert_one_line_error(result, "--record: expected one of agents, populations, got 'everyone'")
    assert not any(tmp_path.iterdir())
