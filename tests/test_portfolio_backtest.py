"""Portfolio backtests: the baselines in PortfolioEnv, beside equal weight, written as run records."""

from __future__ import annotations

import numpy as np
import pytest

from market.backtest.portfolio import BENCHMARK, MEAN_HOLDINGS, PORTFOLIO_METRIC_KEYS, TURNOVER_PER_YEAR, baseline_policy, run_portfolio_backtest, write_portfolio_record
from market.data.panel import panel_from_closes
from market.data.synthetic import factor_panel
from market.envs import PortfolioEnv
from market.envs.portfolio_config import PortfolioEnvConfig
from market.records import RunReader
from market.records.schema import HOLDINGS, STEPS


@pytest.fixture(scope="module")
def config() -> PortfolioEnvConfig:
    return PortfolioEnvConfig(data=panel_from_closes(factor_panel(np.random.default_rng(1), 260, sectors=(2, 2))), window=30)


def test_each_bar_splits_exactly_into_asset_contributions_and_costs(config):
    env = PortfolioEnv(config)
    result = run_portfolio_backtest(baseline_policy("min_variance", env, lookback=30), config)
    frame = result.play.frame
    previous = np.concatenate([[frame.attrs["initial_value"]], frame["value"].to_numpy()[:-1]])
    returns = frame["value"].to_numpy() / previous - 1.0
    explained = result.play.contributions.sum(axis=1) - frame["cost"].to_numpy() / previous
    assert np.abs(returns - explained).max() < 1e-12
    assert list(result.play.metrics) == list(PORTFOLIO_METRIC_KEYS)


def test_the_baselines_hold_what_they_say(config):
    env = PortfolioEnv(config)
    held = {name: run_portfolio_backtest(baseline_policy(name, env), config).play for name in ("equal_weight", "buy_and_hold", "momentum", "min_variance")}
    # equal weight rebalances every bar; buy and hold buys once and then trades nothing
    assert np.allclose(held["equal_weight"].targets[:, :-1], 0.25) and np.allclose(held["equal_weight"].weights[:, :-1], 0.25, atol=0.05)
    # (a long-only action cannot ask for the hair of negative cash the first fill's gap leaves, so the
    # second bar trades that much; afterwards only the float32 rounding of the observed weights)
    traded = held["buy_and_hold"].frame["traded"]
    assert traded.iloc[0] == pytest.approx(1.0, abs=0.05) and traded.iloc[1] < 0.01 and traded.iloc[3:].max() < 1e-6
    assert held["buy_and_hold"].metrics[TURNOVER_PER_YEAR] < held["equal_weight"].metrics[TURNOVER_PER_YEAR]
    # momentum (top 1) holds one asset; minimum variance fewer than all at times, never short
    assert held["momentum"].metrics[MEAN_HOLDINGS] == pytest.approx(1.0)
    assert (held["min_variance"].weights[:, :-1] > -1e-9).all()


def test_the_record_holds_both_players_bars_weights_and_contributions(config, tmp_path):
    env = PortfolioEnv(config)
    result = run_portfolio_backtest(baseline_policy("inverse_volatility", env), config)
    path = write_portfolio_record(result, tmp_path, "pf", policy="inverse_volatility", data="synthetic", seed=0)
    reader = RunReader(path)
    steps = reader.read(STEPS)
    assert set(steps["agent"]) == {"inverse_volatility", BENCHMARK}
    holdings = reader.read(HOLDINGS)
    mine = holdings[holdings["agent"] == "inverse_volatility"]
    assert set(mine["asset"]) == {*env.assets, "cash"}
    per_step = mine.groupby("step")["weight"].sum()
    assert np.allclose(per_step, 1.0)
    assert reader.metrics[BENCHMARK]["total_return"] == pytest.approx(result.benchmark.metrics["total_return"])
