"""MarketEnv: the PettingZoo contract, conservation every step, clearing modes, bankruptcy, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test

from market.envs.market_config import Clearing, MarketConfig, PopulationConfig
from market.envs.market_v0 import DEALER_ACCOUNT, MarketEnv, env, parallel_env
from market.errors import ConfigError, MarketError
from market.exchange import FeeConfig, Side, check_invariants


def small_config(clearing: str = "book", **overrides) -> MarketConfig:
    populations = (
        PopulationConfig(name="maker", role="maker", count=2),
        PopulationConfig(name="taker", role="taker", count=3),
    )
    return MarketConfig(populations=populations, clearing=clearing, max_steps=overrides.pop("max_steps", 150), **overrides)


def random_actions(market: MarketEnv, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {a: rng.uniform(-1, 1, market.action_space(a).shape).astype(np.float32) for a in market.agents}


@pytest.mark.parametrize("clearing", list(Clearing))
def test_passes_pettingzoo_parallel_api_seed_and_aec_tests_with_warnings_as_errors(clearing):
    config = small_config(clearing)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(parallel_env(config, check=True), num_cycles=1000)
        parallel_seed_test(lambda: parallel_env(config))
        api_test(env(config), num_cycles=300)


@pytest.mark.parametrize("clearing", list(Clearing))
def test_cash_and_shares_conserved_every_step_in_every_clearing_mode(clearing):
    market = parallel_env(small_config(clearing, fees=FeeConfig(maker_bps=2, taker_bps=8), max_steps=300), check=True)
    market.reset(seed=3)
    rng = np.random.default_rng(3)
    trades = 0
    while market.agents:
        market.step(random_actions(market, rng))
        ledger = market.exchange.ledger
        assert ledger.total_cash() == ledger.deposited_cash
        assert ledger.total_inventory() == ledger.deposited_inventory
        check_invariants(market.exchange.book, ledger)
        trades += len(market.last_fills)
    assert trades > 50, "the market traded"
    if clearing is Clearing.IMPACT:
        assert all(f.maker == DEALER_ACCOUNT for f in market.last_fills)


@pytest.mark.parametrize("clearing", list(Clearing))
def test_every_returned_dict_holds_exactly_the_agents_live_at_step_start(clearing):
    market = parallel_env(small_config(clearing, initial_cash=20_000, initial_inventory=0, credit=10**9, fees=FeeConfig(taker_bps=3000)))
    market.reset(seed=1)
    rng = np.random.default_rng(1)
    left: set[str] = set()
    while market.agents:
        live = list(market.agents)
        out = market.step(random_actions(market, rng))
        for d in out:
            assert set(d) == set(live)
        terminated = {a for a, t in out[2].items() if t}
        left |= terminated
        assert not (set(market.agents) & left), "a terminated agent came back"
    assert left, "heavy fees on credit bankrupted someone"


def test_bankrupt_agent_is_terminated_and_its_orders_cancelled():
    config = small_config(initial_cash=20_000, initial_inventory=0, credit=10**9, fees=FeeConfig(taker_bps=3000))
    market = parallel_env(config, check=True)
    market.reset(seed=0)
    rng = np.random.default_rng(0)
    while market.agents:
        _, _, terminations, _, infos = market.step(random_actions(market, rng))
        for agent, ended in terminations.items():
            if ended:
                assert infos[agent]["equity"] <= 0
                assert all(o.agent != agent for o in market.exchange.book.orders())
                return
    pytest.fail("no agent went bankrupt")


def test_episode_truncates_at_max_steps():
    market = parallel_env(small_config(max_steps=7))
    market.reset(seed=0)
    steps = 0
    while market.agents:
        _, _, _, truncations, _ = market.step(random_actions(market, np.random.default_rng(steps)))
        steps += 1
    assert steps == 7 and all(truncations.values())


def test_maker_quotes_replace_its_previous_quotes():
    config = MarketConfig(populations=(PopulationConfig(name="maker", role="maker", count=1),), max_steps=10)
    market = parallel_env(config, check=True)
    market.reset(seed=0)
    for offset in (-1.0, 0.0, 1.0):
        market.step({"maker_0": np.array([offset, offset, 1.0], dtype=np.float32)})
        orders = list(market.exchange.book.orders())
        assert len(orders) == 2, "one bid and one ask, the old ones gone"
    bid, ask = market.exchange.book.best_bid(), market.exchange.book.best_ask()
    assert ask[0] - bid[0] == 2 * 10, "full offset: max_offset ticks each side of the mid"


def test_crossing_taker_trades_against_resting_quotes():
    config = MarketConfig(
        populations=(PopulationConfig(name="maker", role="maker", count=1), PopulationConfig(name="taker", role="taker", count=1)),
        max_steps=10,
    )
    market = parallel_env(config, check=True)
    market.reset(seed=0)
    market.step({"maker_0": np.array([-1, -1, 1], np.float32), "taker_0": np.zeros(2, np.float32)})
    _, _, _, _, infos = market.step({"maker_0": np.array([-1, -1, 1], np.float32), "taker_0": np.array([0.5, 1.0], np.float32)})
    bought = [f for f in market.last_fills if f.taker == "taker_0"]
    assert [(f.price, f.qty, f.maker) for f in bought] == [(10_001, 5, "maker_0")], "5 lots at the maker's ask, 1 tick above the mid"
    assert infos["taker_0"]["inventory"] == config.initial_inventory + 5


def test_rejected_orders_are_reported_in_info():
    config = small_config(initial_cash=1, initial_inventory=0, max_short=0)
    market = parallel_env(config)
    market.reset(seed=0)
    _, _, _, _, infos = market.step({a: np.ones(market.action_space(a).shape, np.float32) for a in market.agents})
    assert "insufficient_cash" in infos["taker_0"]["rejected"]
    assert "inventory_limit" in infos["maker_0"]["rejected"] or "insufficient_cash" in infos["maker_0"]["rejected"]


def test_observations_stay_inside_the_space_over_long_runs():
    market = parallel_env(small_config(max_steps=2000))
    obs, _ = market.reset(seed=5)
    rng = np.random.default_rng(5)
    while market.agents:
        obs, rewards, *_ = market.step(random_actions(market, rng))
        for agent, o in obs.items():
            assert market.observation_space(agent).contains(o)
        assert all(np.isfinite(list(rewards.values())))


def test_same_seed_same_everything_and_different_seed_differs():
    def run(seed):
        market = parallel_env(small_config(max_steps=100))
        market.reset(seed=seed)
        rng = np.random.default_rng(0)
        log = []
        while market.agents:
            obs, rewards, *_ = market.step(random_actions(market, rng))
            log.append((sorted((a, o.tobytes()) for a, o in obs.items()), sorted(rewards.items()), list(market.last_fills)))
        return log

    assert run(11) == run(11)
    assert run(11) != run(12)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"populations": [{"name": "makers", "role": "dealer", "count": 2}]}, "populations.makers.role: expected one of ['maker', 'taker', 'executor'], got 'dealer'"),
        ({"populations": [{"name": "makers", "role": "maker", "count": -2}]}, "populations.makers.count: expected a positive integer, got -2"),
        ({"populations": [{"name": "makers", "role": "maker", "count": 2, "max_offset": "wide"}]}, "populations.makers.max_offset: expected a positive integer, got 'wide'"),
        ({"populations": [{"name": "makers", "role": "maker", "count": 2, "qty": 3}]}, "populations.makers.qty: unknown key with value 3 (did you mean 'max_qty'?)"),
        ({"populations": [{"name": "makers", "role": "maker", "count": 2}], "clearing": "auction"}, "clearing: expected one of ['book', 'call', 'impact', 'poisson'], got 'auction'"),
        ({"populations": [{"name": "makers", "role": "maker", "count": 2, "policy": "noise"}]}, "populations.makers.policy: no policy object was given for 'noise'"),
    ],
)
def test_bad_config_names_the_key_and_value(data, message):
    with pytest.raises(ConfigError) as info:
        parallel_env(data)
    assert str(info.value) == message


def test_action_outside_the_space_names_the_agent_and_value():
    market = parallel_env(small_config())
    market.reset(seed=0)
    with pytest.raises(MarketError, match=r"action for taker_0: expected 2 numbers in \[-1, 1\], got"):
        market.step({"taker_0": np.array([3.0, 0.0], np.float32)})
    with pytest.raises(MarketError, match="action for maker_1"):
        market.step({"maker_1": np.array([np.nan, 0, 0], np.float32)})


def test_a_maker_cannot_raise_the_mark_of_its_inventory_with_its_own_quotes():
    config = MarketConfig(populations=(PopulationConfig(name="maker", role="maker", count=1),), initial_inventory=500, max_steps=10)
    market = parallel_env(config, check=True)
    market.reset(seed=0)
    market.step({"maker_0": np.array([0.0, 0.0, 1.0], np.float32)})
    # bid one tick under the mid, ask max_offset above: the book's mid rises, but nothing traded
    _, rewards, _, _, infos = market.step({"maker_0": np.array([-1.0, 1.0, 1.0], np.float32)})
    assert market.mid > config.initial_price and market.last_fills == []
    assert rewards["maker_0"] == 0.0
    assert infos["maker_0"]["equity"] == config.starting_equity


def test_inventory_is_marked_at_the_mid_of_the_other_agents_quotes():
    populations = (PopulationConfig(name="maker", role="maker", count=2),)
    market = parallel_env(MarketConfig(populations=populations, initial_inventory=500, max_steps=10), check=True)
    market.reset(seed=0)
    quotes = {"maker_0": np.array([-1.0, 1.0, 1.0], np.float32), "maker_1": np.array([0.0, 0.0, 1.0], np.float32)}
    market.step(quotes)
    market.step(quotes)
    book = market.exchange.book
    others_mid = (book.best_excluding(Side.BUY, "maker_0") + book.best_excluding(Side.SELL, "maker_0")) / 2
    assert others_mid != market.mid, "maker_0's own quotes move the book's mid"
    cash, inventory = market.exchange.ledger.cash("maker_0"), market.exchange.ledger.inventory("maker_0")
    assert market.equity("maker_0") == cash + inventory * others_mid
