"""The market env's parts: clearing modes behind one protocol, rewards by name, defaults, limits, misuse."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

import market.envs.market_v0 as market_v0
from market import limits
from market.envs import rewards
from market.envs.market_config import CLEARING_MODES, Clearing, MarketConfig, PopulationConfig, Role
from market.envs.market_v0 import MarketEnv, default_config, parallel_env
from market.errors import ActionError, ConfigError, MarketError, ResetNeeded
from market.exchange import Exchange, check_invariants
from market.exchange.clearing import BookClearing, CallClearing, ClearingOutcome, ImpactClearing


def test_the_default_market_passes_pettingzoos_api_and_seed_tests_with_warnings_as_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(parallel_env(), num_cycles=200)
        parallel_seed_test(lambda: parallel_env())
    assert parallel_env().possible_agents == ["maker_0", "maker_1", "taker_0", "taker_1", "taker_2", "taker_3"]


def test_keyword_settings_override_the_default_or_a_given_market():
    market = parallel_env(max_steps=50, clearing="call")
    assert market.config.max_steps == 50 and market.config.clearing is Clearing.CALL
    assert isinstance(market.clearing, CallClearing)
    given = parallel_env(default_config(), window=4)
    assert given.config.window == 4 and given.config.populations == default_config().populations
    with pytest.raises(ConfigError, match=r"max_stepz: unknown key .*did you mean 'max_steps'"):
        parallel_env(max_stepz=10)


def test_the_aec_form_builds_with_defaults_too():
    aec = market_v0.env(max_steps=20)
    aec.reset(seed=1)
    assert aec.agents == parallel_env().possible_agents


@pytest.mark.parametrize(("clearing", "mode"), [(Clearing.BOOK, BookClearing), (Clearing.CALL, CallClearing), (Clearing.IMPACT, ImpactClearing)])
def test_each_clearing_setting_gives_its_mode_and_the_env_has_no_branch_on_it(clearing, mode):
    assert set(CLEARING_MODES) == set(Clearing)
    assert isinstance(parallel_env(clearing=clearing).clearing, mode)
    source = inspect.getsource(market_v0)
    assert "Clearing." not in source and "clearing is" not in source


class DriftingMid:
    """A toy mode that never trades and moves the mid one tick up a step: the env needs nothing more."""

    def open(self, exchange, agents, rng):
        self.draws = rng.random(3)  # a stream of its own, from the env's seed tree

    def clear(self, exchange, arrival, orders, reference):
        return ClearingOutcome([], {})

    def new_mid(self, exchange, fills, mid):
        return mid + 1.0

    def marks(self, exchange, index, mid, last_trade):
        return mid

    def withdraw(self, exchange, agent):
        pass


def test_a_new_clearing_mode_is_one_class_the_env_drives_through_the_protocol():
    market = parallel_env(max_steps=5)
    market.clearing = DriftingMid()
    market.reset(seed=3)
    first_draws = market.clearing.draws.copy()
    actions = {agent: market.action_space(agent).sample() for agent in market.agents}
    for _ in range(5):
        market.step(actions)
    assert market.mid == market.config.initial_price + 5 and market.last_fills == []
    check_invariants(market.exchange.book, market.exchange.ledger)
    market.reset(seed=3)
    assert np.array_equal(market.clearing.draws, first_draws), "the mode's stream is seeded by the env"


def test_the_reward_is_chosen_by_name_and_computed_by_its_function():
    assert set(rewards.MARKET_REWARDS) == {"equity_change"}
    with pytest.raises(ConfigError, match=r"reward: expected one of \['equity_change'\], got 'sharpe'"):
        parallel_env(reward="sharpe")
    market = parallel_env(max_steps=10)
    market.reset(seed=0)
    before = market.account_arrays()[2]
    observed, got, *_ = market.step({agent: market.action_space(agent).sample() for agent in market.agents})
    cash, inventory, after, last = market.account_arrays()
    penalty = np.array([market.population_of[a].inventory_penalty for a in market.all_agents])
    expected = rewards.equity_change(before, after, inventory, market.mid, float(market.config.starting_equity), penalty)
    assert np.array_equal(last, expected)


def test_stepping_before_reset_or_with_a_list_or_with_a_bad_action_is_one_clear_error():
    market = parallel_env()
    with pytest.raises(ResetNeeded, match="reset"):
        market.step({})
    market.reset(seed=0)
    with pytest.raises(MarketError, match="actions: expected a dict of actions by agent name, got list"):
        market.step([np.zeros(3, np.float32)])
    for bad in ("buy", np.zeros((1, 3), np.float32), [0.1, 0.2]):
        with pytest.raises(ActionError, match=r"action for maker_0: expected 3 numbers in \[-1, 1\].*shape \(3,\)"):
            market.step({"maker_0": bad})


def test_a_billion_agents_are_refused_before_anything_is_built():
    with pytest.raises(ConfigError, match=f"populations.noise.count: 1,000,000,000 is over the limit of {limits.MAX_AGENTS_PER_POPULATION:,}"):
        parallel_env(populations=[{"name": "noise", "role": "taker", "count": 10**9}])
    many = [PopulationConfig(name=f"p{i}", role=Role.TAKER, count=limits.MAX_AGENTS_PER_POPULATION) for i in range(2)]
    with pytest.raises(ConfigError, match="populations \\(agents in all\\): 40,000 is over the limit"):
        MarketConfig(populations=tuple(many))
    with pytest.raises(ConfigError, match="max_steps: 1,000,000,000,000 is over the limit"):
        parallel_env(max_steps=10**12)


def test_tick_value_is_a_positive_number_of_price_units():
    assert default_config().tick_value == 0.01
    with pytest.raises(ConfigError, match="tick_value"):
        parallel_env(tick_value=0)


def test_the_exchange_uses_only_the_books_and_ledgers_public_api():
    source = inspect.getsource(inspect.getmodule(Exchange))
    assert "book._" not in source and "ledger._" not in source and "._orders" not in source and "._accounts" not in source
    assert isinstance(MarketEnv(default_config()).clearing, BookClearing)
