"""Backtests: honest accounting through TradingEnv, baselines, the record they write, the command's errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from market.agents.baselines import BASELINES, make_baseline
from market.backtest import metrics as m
from market.backtest.engine import BENCHMARK, run_backtest, write_backtest_record
from market.data import load_sample, sample_path
from market.envs.trading import TradingEnvConfig
from market.errors import ConfigError
from market.records import RunReader

MARKET = str(Path(sys.executable).with_name("market"))
PRICES = load_sample()


def test_buy_and_hold_without_costs_earns_the_close_over_the_first_fill_open():
    result = run_backtest(make_baseline("buy_and_hold"), TradingEnvConfig(data=PRICES, commission_bps=0, slippage_bps=0))
    first_time = result.frame["time"].iloc[0]
    last_time = result.frame["time"].iloc[-1]
    expected = PRICES.loc[last_time, "close"] / PRICES.loc[first_time, "open"] - 1.0
    assert result.metrics[m.TOTAL_RETURN] == pytest.approx(expected, rel=1e-9)
    assert result.metrics[m.COSTS_PAID] == 0.0


def test_higher_costs_never_help_an_active_policy():
    returns = [
        run_backtest(make_baseline("sma_crossover"), TradingEnvConfig(data=PRICES, commission_bps=c, slippage_bps=c)).metrics[m.TOTAL_RETURN]
        for c in (0, 5, 25)
    ]
    assert returns[0] > returns[1] > returns[2]


@pytest.mark.parametrize("name", list(BASELINES))
def test_metrics_equal_those_recomputed_from_the_run_record(name, tmp_path):
    result = run_backtest(make_baseline(name), TradingEnvConfig(data=PRICES), seed=4)
    path = write_backtest_record(result, tmp_path, "run", policy=name, data="sample", seed=4)
    reader = RunReader(path)
    steps = reader.read("steps")
    assert set(steps["agent"]) == {name, BENCHMARK}
    mine = steps[steps["agent"] == name]
    equity = mine["equity"].to_numpy()
    returns = pd.Series(np.diff(np.concatenate([[result.frame.attrs["initial_equity"]], equity])) / np.concatenate([[result.frame.attrs["initial_equity"]], equity[:-1]]), index=pd.DatetimeIndex(mine["time"]))
    recomputed = m.compute_metrics(returns, positions=mine["position"].to_numpy(), costs=result.frame["cost"].to_numpy())
    for key in (m.TOTAL_RETURN, m.SHARPE_RATIO, m.MAX_DRAWDOWN, m.EXPOSURE):
        assert reader.metrics[key] == pytest.approx(recomputed[key], rel=1e-9, nan_ok=True)
    assert reader.metrics[BENCHMARK][m.TOTAL_RETURN] == pytest.approx(result.benchmark_metrics[m.TOTAL_RETURN])


def test_any_object_with_act_can_be_backtested():
    class AlwaysShort:
        def act(self, obs, rng):
            return np.array([-1.0], dtype=np.float32)

    short = run_backtest(AlwaysShort(), TradingEnvConfig(data=PRICES, commission_bps=0, slippage_bps=0))
    assert (short.frame["position"] < 0).all()
    assert short.metrics[m.TOTAL_RETURN] < 0 < short.benchmark_metrics[m.TOTAL_RETURN], "the sample trends up"


def test_random_baseline_is_repeatable_under_a_seed():
    a = run_backtest(make_baseline("random"), TradingEnvConfig(data=PRICES), seed=9).frame
    b = run_backtest(make_baseline("random"), TradingEnvConfig(data=PRICES), seed=9).frame
    c = run_backtest(make_baseline("random"), TradingEnvConfig(data=PRICES), seed=10).frame
    pd.testing.assert_frame_equal(a, b)
    assert not a["action"].equals(c["action"])


def test_start_and_end_bound_the_backtest():
    result = run_backtest(make_baseline("buy_and_hold"), TradingEnvConfig(data=PRICES, start="2018-01-01", end="2019-12-31"))
    assert result.frame["time"].iloc[0] >= pd.Timestamp("2018-01-01")
    assert result.frame["time"].iloc[-1] <= pd.Timestamp("2019-12-31")


def test_unknown_policy_suggests_the_near_name():
    with pytest.raises(ConfigError, match=r"unknown policy 'sma_crossovr' \(did you mean 'sma_crossover'\?\)"):
        make_baseline("sma_crossovr")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MARKET, "backtest", *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False)


def test_backtest_command_prints_both_and_writes_a_readable_record(tmp_path):
    result = cli("--policy", "mean_reversion", "--json", "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    reader = RunReader(payload["run"])
    assert reader.kind == "backtest"
    assert payload["metrics"]["total_return"] == pytest.approx(reader.metrics["total_return"])
    assert payload[BENCHMARK]["total_return"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "nope"], "unknown policy 'nope'"),
        (["--commission-bps", "-1"], "commission-bps: expected a number in [0, 10000), got -1.0"),
        (["--slippage-bps", "-3"], "slippage-bps: expected a number in [0, 10000), got -3.0"),
        (["--start", "2020-01-01", "--end", "2019-01-01"], "start must be before end"),
        (["--data", "missing.csv"], "missing.csv: file not found"),
        (["--data", "bad.csv"], "bad.csv: row 2 (line 3), column 'Low': 'abc' is not a number"),
    ],
)
def test_bad_input_is_one_line_non_zero_and_writes_nothing(tmp_path, args, message):
    (tmp_path / "bad.csv").write_text("Date,Open,High,Low,Close\n2020-01-01,1,2,0.5,1\n2020-01-02,1,2,abc,1\n")
    result = cli(*args, "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_default_data_is_the_bundled_sample():
    assert sample_path().is_file()
