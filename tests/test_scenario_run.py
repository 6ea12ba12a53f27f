"""market run: a scenario trains, evaluates over held-out seeds and writes one run record; Ctrl-C records nothing."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from market.records import RunReader, list_runs

MARKET = str(Path(sys.executable).with_name("market"))


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MARKET, "run", *args], capture_output=True, text=True, timeout=600, cwd=cwd, check=False)


def play(scenario: str, out: Path, seeds: int | None = None) -> Path:
    """A scenario's quick run in this process, on the module's Ray session (what ``market run --quick`` does)."""
    from market.scenario import load_scenario
    from market.scenario_run import run_scenario

    return run_scenario(load_scenario(scenario, quick=True), out=out, name="run", seeds=seeds).run_path


@pytest.mark.slow
def test_market_makers_quick_run_records_everything_and_more_makers_narrow_the_spread_and_share_it(tmp_path):
    result = run("market_makers", "--quick", "--seeds", "3", "--out", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    [summary] = [r for r in list_runs(tmp_path) if r.ok]
    reader = RunReader(summary.path)
    assert reader.kind == "scenario" and reader.scenario == "market_makers"
    assert set(reader.tables) == {"training", "steps", "trades", "book", "flows", "flow_parts"}
    assert sorted(set(reader.read("training")["iteration"])) == [1, 2]
    metrics = reader.metrics
    assert "maker_mean_return" in metrics and metrics["ci95"]["maker_mean_return"] > 0, "three seeds give a spread"
    assert reader.manifest["config"]["evaluation_seeds"] == 3
    for count in (1, 8):  # the trained maker policy also plays with 1 and with 8 makers
        assert f"maker_count_{count}/maker_mean_return" in metrics and f"maker_count_{count}/mean_spread" in metrics
    # the story: competing makers narrow the spread, and each one earns less of it
    def alone(key: str) -> float:
        return metrics[f"maker_count_1/{key}"]

    def eight(key: str) -> float:
        return metrics[f"maker_count_8/{key}"]

    assert alone("maker_spread_capture") > 0, "a lone maker earns the spread from the noise takers"
    assert eight("mean_spread") < 0.8 * alone("mean_spread"), (alone("mean_spread"), eight("mean_spread"))
    assert eight("maker_spread_capture") < 0.5 * alone("maker_spread_capture"), (alone("maker_spread_capture"), eight("maker_spread_capture"))
    # the heuristic maker played in the learned makers' place on the same seeds, and the paired comparison
    for key in ("maker_pnl", "maker_mean_abs_inventory", "maker_spread_capture", "mid_change"):
        learned, baseline, paired = metrics[key], metrics[f"strategy/heuristic/{key}"], metrics[f"vs/heuristic/{key}"]
        assert paired == pytest.approx(learned - baseline, rel=1e-9, abs=1e-9), key  # mean of differences = difference of means
        assert metrics["ci95"][f"vs/heuristic/{key}"] > 0, key
    assert metrics["strategy/heuristic/maker_pnl"] != metrics["maker_pnl"], "a different strategy played"
    assert math.isfinite(metrics["maker_pnl_sharpe"]) and math.isfinite(metrics["strategy/heuristic/maker_pnl_sharpe"])


@pytest.mark.slow
def test_trading_scenario_quick_run_backtests_the_held_out_period_beside_buy_and_hold(tmp_path):
    result = run("historical_trading", "--quick", "--out", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    [summary] = [r for r in list_runs(tmp_path) if r.ok]
    reader = RunReader(summary.path)
    steps = reader.read("steps")
    assert set(steps["agent"]) == {"trained", "buy_and_hold"}
    split_time = steps["time"].min()
    assert split_time.year >= 2020, "evaluation is on the held-out last 30% of the sample"
    assert "sharpe_ratio" in reader.metrics and "buy_and_hold_sharpe_ratio" in reader.metrics
    # honest by construction: the trained trader never saw the held-out bars, and buy and hold is
    # measured on exactly those bars with the same costs
    from market.agents.baselines import make_baseline
    from market.backtest.engine import run_backtest
    from market.data import load_sample
    from market.envs.trading import TradingEnvConfig
    from market.scenario import load_scenario
    from market.scenario_run import training_config

    settings = training_config(load_scenario("historical_trading", quick=True))
    assert pd.Timestamp(settings.env_config["end"]) <= split_time
    trading = load_scenario("historical_trading", quick=True).trading
    benchmark = run_backtest(
        make_baseline("buy_and_hold"),
        TradingEnvConfig(data=load_sample(), commission_bps=trading["commission_bps"], slippage_bps=trading["slippage_bps"], start=settings.eval_env_config["start"], window=trading["window"]),
    )
    assert reader.metrics["buy_and_hold_sharpe_ratio"] == pytest.approx(benchmark.metrics["sharpe_ratio"])
    # the verdict is read off the record: both Sharpe ratios come from the recorded equity curves, bar for bar
    from market.backtest.metrics import compute_metrics

    curves = {agent: rows.set_index("time") for agent, rows in steps.groupby("agent")}
    assert curves["trained"].index.equals(curves["buy_and_hold"].index)
    for agent, key in (("trained", "seed_0/sharpe_ratio"), ("buy_and_hold", "buy_and_hold_sharpe_ratio")):  # the recorded run is training seed 0's
        equity = np.r_[TradingEnvConfig().initial_cash, curves[agent]["equity"].to_numpy()]
        assert compute_metrics(np.diff(equity) / equity[:-1], periods_per_year=252)["sharpe_ratio"] == pytest.approx(reader.metrics[key], rel=1e-9)
    # two training seeds (quick mode): the figure is their mean, with a t interval over them, never the best seed
    seeds = [reader.metrics[f"seed_{k}/sharpe_ratio"] for k in (0, 1)]
    assert reader.metrics["sharpe_ratio"] == pytest.approx(np.mean(seeds))
    assert reader.metrics["ci95"]["sharpe_ratio"] == pytest.approx(12.706 * np.std(seeds, ddof=1) / np.sqrt(2), rel=1e-3)
    # and the hand-written rule on the same held-out bars
    rule = run_backtest(
        make_baseline("sma_crossover"),
        TradingEnvConfig(data=load_sample(), commission_bps=trading["commission_bps"], slippage_bps=trading["slippage_bps"], start=settings.eval_env_config["start"], window=trading["window"]),
    )
    assert reader.metrics["strategy/sma_crossover/sharpe_ratio"] == pytest.approx(rule.metrics["sharpe_ratio"])
    assert reader.metrics["vs/sma_crossover/sharpe_ratio"] == pytest.approx(reader.metrics["sharpe_ratio"] - rule.metrics["sharpe_ratio"])
    assert curves["trained"]["position"].nunique() > 100, "the trained trader trades on the held-out bars; it is not a constant position"


def test_unknown_scenario_is_one_line(tmp_path):
    result = run("market_makerz", "--quick", "--out", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert "scenario 'market_makerz' not found (did you mean 'market_makers'?)" in result.stderr
    assert result.stderr.strip().count("\n") == 0


@pytest.mark.slow
def test_interrupting_a_run_leaves_nothing_that_reads_as_complete(tmp_path):
    process = subprocess.Popen([MARKET, "run", "market_makers", "--quick", "--out", str(tmp_path)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not any(p.name.endswith(".partial") for p in tmp_path.iterdir()):
        time.sleep(0.2)
    assert any(p.name.endswith(".partial") for p in tmp_path.iterdir()), "the run started writing"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    assert [r for r in list_runs(tmp_path) if r.ok] == [], "no complete run after Ctrl-C"


@pytest.mark.slow
def test_news_shock_prices_move_to_the_new_fundamental(ray_session, tmp_path):

    from market.scenario import load_scenario
    from market.scenario_run import training_config

    path = play("news_shock", tmp_path)
    steps = RunReader(path).read("steps", columns=["step", "price"])
    mids = steps.groupby("step")["price"].first().to_numpy()
    scenario = load_scenario("news_shock", quick=True)
    fundamental = np.asarray(training_config(scenario).env_config["fundamental"])[1:]  # the value after each step
    jump_at = scenario.fundamental.jump_at
    gap = np.abs(np.log(fundamental / mids))
    assert gap[jump_at] > 0.02, "right after the news the price has not moved yet"
    assert gap[-20:].mean() < gap[jump_at] / 3, "by the end trading has closed most of the gap"
    # the run's own story metrics say the same, for the recorded (first) episode and on average
    metrics = RunReader(path).metrics
    half_life = int(np.flatnonzero(gap[jump_at:] <= gap[jump_at] / 2)[0])
    assert 0 < half_life < len(gap) - jump_at
    assert metrics["news_gap"] == pytest.approx(gap[jump_at], rel=0.2)
    assert 0 < metrics["news_half_life_steps"] < len(gap) - jump_at
    assert metrics["fundamental_gap_end"] < metrics["news_gap"] / 3


def crash_path(folder: Path):
    """Per-step mids and trade counts of a recorded flash_crash run."""

    reader = RunReader(folder)
    mids = reader.read("steps", columns=["step", "price"]).groupby("step")["price"].first().to_numpy()
    trades = reader.read("trades", columns=["step"])["step"].value_counts()
    counts = np.array([trades.get(step, 0) for step in range(len(mids))])
    return mids, counts


@pytest.mark.slow
def test_flash_crash_falls_and_the_circuit_breaker_halts_it(ray_session, tmp_path):

    from market.scenario import SCENARIOS_DIR

    shock_at = 80
    halted_run = play("flash_crash", tmp_path / "with")
    text = (SCENARIOS_DIR / "flash_crash.toml").read_text()
    start = text.index("\n[market.rules.circuit_breaker]")
    end = text.index("\n[[populations]]")
    (tmp_path / "no_breaker.toml").write_text(text[:start] + text[end:])
    free_run = play(str(tmp_path / "no_breaker.toml"), tmp_path / "without")
    mids, trades = crash_path(halted_run)
    free_mids, free_trades = crash_path(free_run)
    window = slice(shock_at, shock_at + 20)
    halted_drop = mids[window].min() / mids[shock_at - 1] - 1
    free_drop = free_mids[window].min() / free_mids[shock_at - 1] - 1
    assert free_drop < -0.05, f"without a breaker the sell-off crashes the mid: {free_drop:.3f}"
    assert halted_drop < -0.01, f"the crash starts before the breaker trips: {halted_drop:.3f}"
    assert halted_drop > free_drop, "the halt stops the fall"
    halted_metrics, free_metrics = RunReader(halted_run).metrics, RunReader(free_run).metrics
    assert halted_metrics["halted_steps"] >= 5 and free_metrics["halted_steps"] == 0
    assert free_metrics["max_drawdown"] < halted_metrics["max_drawdown"]  # drawdowns are negative fractions (market.stats)
    # one run tells the whole story: its second evaluation, on the same seeds without the breaker, is
    # the crash without a halt (close to the run whose file has no breaker; that one also trained without)
    assert halted_metrics["without_circuit_breaker/halted_steps"] == 0
    assert halted_metrics["without_circuit_breaker/max_drawdown"] < halted_metrics["max_drawdown"]
    assert halted_metrics["without_circuit_breaker/max_drawdown"] == pytest.approx(free_metrics["max_drawdown"], rel=0.1)
    assert halted_metrics["min_depth"] < halted_metrics["mean_depth"] / 3, "the book thins out around the shock"
    quiet = np.convolve(trades[window] == 0, np.ones(5, dtype=int), mode="valid")
    assert quiet.max() == 5, "five steps in a row without a trade: the halt"
    assert (np.convolve(free_trades[window] == 0, np.ones(5, dtype=int), mode="valid") < 5).all(), "no halt without the breaker"


@pytest.mark.slow
def test_momentum_traders_blow_bubbles_that_value_traders_alone_do_not(ray_session, tmp_path):

    from market.scenario import SCENARIOS_DIR, load_scenario
    from market.scenario_run import training_config

    text = (SCENARIOS_DIR / "momentum_vs_value.toml").read_text()
    start = text.index('\n[[background]]\nname = "momentum"')
    end = text.index('\n[[background]]\nname = "value"')
    (tmp_path / "value_only.toml").write_text(text[:start] + text[end:])
    departures = {}
    for label, scenario in (("both", "momentum_vs_value"), ("value_only", str(tmp_path / "value_only.toml"))):
        folder = play(scenario, tmp_path / label, seeds=1)
        mids = RunReader(folder).read("steps", columns=["step", "price"]).groupby("step")["price"].first().to_numpy()
        fundamental = np.asarray(training_config(load_scenario(scenario, quick=True)).env_config["fundamental"])[1:]
        departures[label] = float(np.abs(np.log(mids / fundamental)).max())
        # one held-out episode (--seeds 1): the run's story metric is this very departure
        assert RunReader(folder).metrics["fundamental_gap_max"] == pytest.approx(departures[label], rel=1e-9)
    assert departures["value_only"] < 0.03, f"value traders alone keep the price near value: {departures}"
    assert departures["both"] > 2 * departures["value_only"], f"momentum traders push it far away: {departures}"


def test_portfolio_scenario_quick_run_backtests_the_held_out_period_beside_the_baselines(ray_session, tmp_path):
    from market.backtest.portfolio import baseline_policy, run_portfolio_backtest
    from market.envs import PortfolioEnv
    from market.envs.portfolio_config import PortfolioEnvConfig
    from market.records.schema import HOLDINGS
    from market.scenario import load_scenario
    from market.scenario_run import run_scenario, training_config

    scenario = load_scenario("portfolio", quick=True)
    result = run_scenario(scenario, out=tmp_path, name="pf")
    settings = training_config(scenario)
    split = settings.eval_env_config["start"]
    assert settings.env_config["end"] == split  # training ends where the held-out period starts
    reader = RunReader(result.run_path)
    holdings = reader.read(HOLDINGS)
    assert set(holdings["agent"]) == {"trained", "equal_weight"} and holdings["time"].min() > pd.Timestamp(split)
    # the baseline's figures are a plain backtest of it on the same held-out bars
    config = PortfolioEnvConfig.from_mapping({**settings.env_config, **settings.eval_env_config})
    direct = run_portfolio_backtest(baseline_policy("min_variance", PortfolioEnv(config)), config, seed=settings.eval_seed)
    assert result.metrics["strategy/min_variance/sharpe_ratio"][0] == pytest.approx(direct.play.metrics["sharpe_ratio"])
    assert result.metrics["vs/min_variance/sharpe_ratio"][0] == pytest.approx(result.metrics["sharpe_ratio"][0] - direct.play.metrics["sharpe_ratio"])


# ---------------------------------------------------------------------------- --record
def scripted_scenario(folder: Path, noise: int) -> Path:
    """A market scenario with no learner (nothing trains): 2 makers and ``noise`` noise traders, 6 steps, 2 held-out seeds."""
    path = folder / f"scripted_{noise}.toml"
    path.write_text(
        f'[scenario]\nname = "scripted_{noise}"\nkind = "market"\ndescription = "makers and noise traders"\n\n'
        '[market]\nclearing = "book"\nmax_steps = 6\ninitial_price = 10000\n\n'
        '[[background]]\nname = "maker"\nrole = "maker"\ncount = 2\npolicy = "market_maker"\nparams = { half_spread = 0.1, size = 0.3 }\n\n'
        f'[[background]]\nname = "noise"\nrole = "taker"\ncount = {noise}\npolicy = "noise"\nparams = {{ activity = 0.5, max_size = 0.3 }}\n\n'
        "[evaluation]\nepisodes = 1\nseeds = 2\n"
    )
    return path


def recorded(out: Path) -> RunReader:
    [summary] = [r for r in list_runs(out) if r.ok]
    return RunReader(summary.path)


def test_run_records_a_large_background_per_agent_when_asked_and_a_small_one_in_aggregate(tmp_path):
    from market.scenario import load_scenario
    from market.scenario_run import run_scenario

    large = scripted_scenario(tmp_path, noise=1_000)  # 1,002 background agents: aggregate by default (nothing trains: no Ray)
    reader = RunReader(run_scenario(load_scenario(str(large)), out=tmp_path / "default", name="run").run_path)
    assert reader.manifest["config"]["record"] == "populations" and "populations" in reader.tables
    assert len(reader.read("steps")) == 0, "no learner, so no agent is recorded row by row"

    asked = run(str(large), "--record", "agents", "--out", str(tmp_path / "agents"), cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr[-3000:]
    reader = recorded(tmp_path / "agents")
    assert reader.manifest["config"]["record"] == "agents" and "populations" not in reader.tables
    steps = reader.read("steps")
    assert steps.groupby("step")["agent"].nunique().tolist() == [1_002] * 6, "every agent, every step"
    assert {"maker_1", "noise_0", "noise_999"} <= set(steps["agent"])

    small = scripted_scenario(tmp_path, noise=3)  # 5 agents: every agent by default, aggregates when asked
    forced = run(str(small), "--record", "populations", "--out", str(tmp_path / "populations"), cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr[-3000:]
    reader = recorded(tmp_path / "populations")
    assert reader.manifest["config"]["record"] == "populations" and len(reader.read("steps")) == 0
    populations = reader.read("populations")
    assert sorted(set(populations["population"])) == ["maker", "noise"] and len(populations) == 2 * 6
    assert populations.groupby("population")["count"].max().to_dict() == {"maker": 2, "noise": 3}
    # the aggregates are the same episode's figures: the mid is the one traded at, the fills are the trades'
    trades = reader.read("trades")
    assert populations.groupby("step")["fills"].sum().sum() >= len(trades) > 0


def test_run_with_an_unknown_record_mode_is_one_line_and_writes_nothing(tmp_path):
    result = run(str(scripted_scenario(tmp_path, noise=3)), "--record", "everyone", "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert result.returncode == 1 and result.stderr == "error: --record: expected one of agents, populations, got 'everyone'\n"
    assert not (tmp_path / "runs").exists()


def test_run_of_a_trading_scenario_with_a_record_mode_is_one_line_and_writes_nothing(tmp_path):
    result = run("historical_trading", "--quick", "--record", "agents", "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "error: --record: only a market scenario records agents or populations; 'historical_trading' is a trading scenario\n"
    assert not (tmp_path / "runs").exists()
