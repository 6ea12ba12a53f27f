"""Poisson clearing, the textbook setting: an exogenous mid, quotes filled at the model's rate, and the
Avellaneda-Stoikov scenario that replays the paper's simulation on it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from market.agents.scripted import build_policy
from market.config import from_mapping
from market.comparison import comparison_rows, evaluation_record
from market.envs.market_config import MarketConfig, PopulationConfig
from market.envs.market_v0 import MarketEnv
from market.errors import ConfigError
from market.exchange import Exchange, Side, check_invariants
from market.exchange.clearing import DEALER_ACCOUNT, PoissonClearing
from market.records import RunReader
from market.scenario import load_scenario
from market.scenario_run import run_scenario
from market.simulation import run_market

A, KAPPA, DT, SIGMA = 140.0, 0.015, 0.005, 200.0


def clearing(fill_size: int = 1, normal: bool = False) -> PoissonClearing:
    return PoissonClearing(initial_mid=10_000.0, sigma=SIGMA, intensity=A, kappa=KAPPA, dt=DT, fill_size=fill_size, normal=normal)


def opened(mode: PoissonClearing, seed: int = 0) -> Exchange:
    exchange = Exchange()
    exchange.open_account("mm", cash=10**10, inventory=10**6)
    mode.open(exchange, ["mm"], np.random.default_rng(seed))
    return exchange


@pytest.mark.parametrize("delta", [0, 20, 50, 100, -30])
def test_a_quote_delta_ticks_away_is_hit_at_the_model_rate(delta):
    mode = clearing()
    exchange = opened(mode)
    expected = min(1.0, A * math.exp(-KAPPA * delta) * DT)
    assert mode.fill_probability(delta) == pytest.approx(expected)
    steps, bids, asks = 6_000, 0, 0
    for _ in range(steps):  # the mid stays where it is: clear only, one bid and one ask delta ticks out
        outcome = mode.clear(exchange, ["mm"], {"mm": [(Side.BUY, 10_000 - delta, 1), (Side.SELL, 10_000 + delta, 1)]}, 10_000)
        bought = [(f.maker == "mm") == (f.taker_side is Side.SELL) for f in outcome.fills]  # mm's bid filled
        bids += sum(bought)
        asks += len(bought) - sum(bought)
    for count in (bids, asks):
        error = math.sqrt(expected * (1 - expected) / steps)
        assert abs(count / steps - expected) <= 4 * error + 1e-12


def test_fills_settle_against_the_flow_at_the_quote_and_conserve_the_ledger():
    mode = clearing(fill_size=2)
    exchange = opened(mode)
    for step in range(300):
        outcome = mode.clear(exchange, ["mm"], {"mm": [(Side.BUY, 9_990, 3), (Side.SELL, 10_010, 3)]}, 10_000)
        for fill in outcome.fills:
            assert {fill.maker, fill.taker} == {"mm", DEALER_ACCOUNT}
            assert fill.price in (9_990, 10_010) and fill.qty == 2  # fill_size lots of a 3-lot quote, at its own price
        check_invariants(exchange.book, exchange.ledger)
    ledger = exchange.ledger
    assert ledger.inventory("mm") + ledger.inventory(DEALER_ACCOUNT) == ledger.deposited_inventory
    assert ledger.inventory("mm") != 10**6  # it traded
    assert exchange.book.best_bid() is None and exchange.book.best_ask() is None  # nothing rests


@pytest.mark.parametrize("normal", [False, True])
def test_the_mid_walks_by_itself_in_steps_of_sigma_root_dt(normal):
    mode = clearing(normal=normal)
    exchange = opened(mode, seed=3)
    mids = [10_000.0] + [mode.new_mid(exchange, [], 0.0) for _ in range(4_000)]
    steps = np.diff(mids)
    if normal:
        assert np.std(steps) == pytest.approx(SIGMA * math.sqrt(DT), rel=0.05)
    else:
        assert np.allclose(np.abs(steps), SIGMA * math.sqrt(DT))
        assert abs(np.mean(steps > 0) - 0.5) < 0.03


def as_market(gamma: float, symmetric: bool, **changes) -> MarketEnv:
    maker = PopulationConfig(name="maker", role="maker", count=1, policy="avellaneda_stoikov", max_qty=5, max_offset=2000, min_offset=-2000)
    config = MarketConfig(
        populations=(maker,), clearing="poisson", initial_price=10_000, initial_cash=10**9, initial_inventory=0, max_short=10**6, max_steps=200, **changes
    )
    params = {"gamma": gamma, "kappa": KAPPA, "sigma": SIGMA, "size": 1, "symmetric": symmetric, "time_spread": False}
    policy = build_policy("avellaneda_stoikov", params, window=config.window, population="maker", max_qty=5, max_offset=2000, min_offset=-2000)
    return MarketEnv(config, {"maker": policy}, check=True)


def mid_path(env: MarketEnv, seed: int) -> list[float]:
    env.reset(seed=seed)
    path = [env.mid]
    while env.step_count < env.config.max_steps:
        env.step({})
        path.append(env.mid)
    return path


def test_strategies_compared_on_one_seed_see_the_same_prices():
    inventory, symmetric = as_market(0.001, False), as_market(0.001, True)
    assert mid_path(inventory, 5) == mid_path(symmetric, 5)
    assert mid_path(inventory, 5) != mid_path(inventory, 6)
    assert inventory.account_arrays()[1][0] != 0 or symmetric.account_arrays()[1][0] != 0  # they traded


def test_quotes_through_the_mid_need_poisson_clearing():
    maker = PopulationConfig(name="maker", role="maker", count=1, min_offset=0)
    with pytest.raises(ConfigError, match=r"populations.maker.min_offset: expected at least 1 tick \(quotes at or through the mid need poisson clearing\), got 0"):
        MarketConfig(populations=(maker,))
    with pytest.raises(ConfigError, match=r"populations.maker.min_offset: expected an integer in \[-max_offset, max_offset\) = \[-10, 10\), got 10"):
        PopulationConfig(name="maker", role="maker", count=1, min_offset=10)
    with pytest.raises(ConfigError, match="poisson.kappa: expected a number > 0, got -1"):
        from_mapping(MarketConfig, {"populations": [{"name": "m", "role": "maker", "count": 1}], "clearing": "poisson", "poisson": {"kappa": -1}})


def test_a_maker_population_can_start_flat_in_a_market_that_starts_long():
    flat = PopulationConfig(name="mm", role="maker", count=2, initial_inventory=0, inventory_penalty=0.01)
    takers = PopulationConfig(name="noise", role="taker", count=4, policy="noise")
    config = MarketConfig(populations=(flat, takers), initial_inventory=100, max_steps=30)
    env = MarketEnv(config, {"noise": build_policy("noise", {}, window=config.window)})
    observations, _ = env.reset(seed=1)
    inventory = env.feature_names.index("inventory")
    assert all(observations[a][inventory] == 0.0 for a in env.agents)
    cash, held, equity, _ = env.account_arrays()
    assert held.tolist() == [0, 0, 100, 100, 100, 100]
    assert env.starting_equity.tolist() == [config.initial_cash] * 2 + [config.initial_cash + 100 * config.initial_price] * 4
    # a flat maker pays no penalty for what it never held: quoting nothing, its reward is 0
    _, rewards, _, _, _ = env.step({a: np.array([0.0, 0.0, -1.0], dtype=np.float32) for a in env.agents})
    assert all(rewards[a] == 0.0 for a in env.agents)


def test_avellaneda_stoikov_quick_run_tells_the_papers_story(tmp_path):
    scenario = load_scenario("avellaneda_stoikov", quick=True)
    result = run_scenario(scenario, out=tmp_path, name="as")
    assert result.checkpoint is None  # nothing learns: the evaluation alone runs
    metrics = result.metrics
    for gamma in ("0_01", "0_1", "0_5"):
        inventory = "" if gamma == "0_1" else f"strategy/inventory_gamma_{gamma}/"
        symmetric = f"strategy/symmetric_gamma_{gamma}/"
        # the inventory strategy ends with far less inventory than quoting symmetrically, and risks less P&L
        assert metrics[f"{inventory}maker_final_inventory_std"][0] < metrics[f"{symmetric}maker_final_inventory_std"][0]
        assert metrics[f"{inventory}maker_mean_abs_inventory"][0] < metrics[f"{symmetric}maker_mean_abs_inventory"][0]
        # both quote the arrival term (2 / gamma) ln(1 + gamma / kappa), to a tick per side
        g = {"0_01": 0.0001, "0_1": 0.001, "0_5": 0.005}[gamma]
        assert metrics[f"{symmetric}maker_quoted_spread"][0] == pytest.approx(2 / g * math.log1p(g / KAPPA), abs=2.0)
    reader = RunReader(result.run_path)
    rows = comparison_rows(reader.metrics, reader.metrics["ci95"], reader.manifest["config"]["evaluation"])
    assert [r.strategy for r in rows] == [
        "inventory_gamma_0_1", "symmetric_gamma_0_1", "inventory_gamma_0_01", "symmetric_gamma_0_01", "inventory_gamma_0_5", "symmetric_gamma_0_5"
    ]
    first = rows[0]
    assert first.versus is None and all(r.versus is not None for r in rows[1:])
    assert first.reference == {"quoted_spread": 1.29, "pnl": 62.94, "pnl_std": 5.89, "final_inventory": 0.10, "final_inventory_std": 2.80}
    assert first.values["pnl"][0] == pytest.approx(metrics["maker_pnl"][0] * 0.01)  # in price units
    assert 40 < first.values["pnl"][0] < 90  # the paper's 62.94 with 20 paths' noise
    assert evaluation_record(scenario) == reader.manifest["config"]["evaluation"]


def test_market_run_prints_the_strategies_beside_the_papers_figures(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    market = str(Path(sys.executable).with_name("market"))
    result = subprocess.run(
        [market, "run", "avellaneda_stoikov", "--quick", "--seeds", "5", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "COLUMNS": "250"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "Strategies of avellaneda_stoikov, makers" in out and "published: Avellaneda and Stoikov (2008)" in out
    for name in ("inventory_gamma_0_1", "symmetric_gamma_0_1", "inventory_gamma_0_01", "symmetric_gamma_0_01", "inventory_gamma_0_5", "symmetric_gamma_0_5"):
        assert name in out
    assert out.count("published") == 7  # under each of the six strategies, and the caption
    assert "62.94" in out and "Training" not in out  # nothing learns: no training display
