"""The Avellaneda-Stoikov maker: the closed forms of the paper, and the quotes the market env really rests."""

from __future__ import annotations

import math

import numpy as np
import pytest

from market.agents.baselines.avellaneda_stoikov import optimal_quotes, optimal_spread, reservation_price
from market.agents.scripted import build_policy, policy_role
from market.envs.market_config import MarketConfig, PopulationConfig, Role, observation_index, observation_names
from market.envs.market_v0 import MarketEnv
from market.errors import ConfigError
from market.exchange import Side

GAMMA, SIGMA, KAPPA = 0.1, 2.0, 1.5  # the paper's section 4 values, in dollars


def test_reservation_price_is_the_mid_when_flat_or_at_the_end_and_moves_against_the_inventory():
    assert reservation_price(100.0, 0.0, gamma=GAMMA, sigma=SIGMA, time_left=1.0) == 100.0
    assert reservation_price(100.0, 5.0, gamma=GAMMA, sigma=SIGMA, time_left=0.0) == 100.0
    long, short = (reservation_price(100.0, q, gamma=GAMMA, sigma=SIGMA, time_left=0.5) for q in (3.0, -3.0))
    assert long == pytest.approx(100.0 - 3.0 * GAMMA * SIGMA**2 * 0.5) and short == pytest.approx(100.0 + 3.0 * GAMMA * SIGMA**2 * 0.5)


def test_spread_is_the_inventory_term_plus_the_arrival_term():
    at_end = optimal_spread(gamma=GAMMA, sigma=SIGMA, time_left=0.0, kappa=KAPPA)
    assert at_end == pytest.approx((2.0 / GAMMA) * math.log(1.0 + GAMMA / KAPPA))
    assert at_end == pytest.approx(1.2908, abs=1e-4)  # the paper's 1.29 for gamma = 0.1
    assert optimal_spread(gamma=GAMMA, sigma=SIGMA, time_left=1.0, kappa=KAPPA) == pytest.approx(at_end + GAMMA * SIGMA**2)
    assert optimal_spread(gamma=1e-9, sigma=SIGMA, time_left=1.0, kappa=KAPPA) == pytest.approx(2.0 / KAPPA, rel=1e-6)  # gamma -> 0


def test_quotes_straddle_the_reservation_price_or_the_mid_for_the_symmetric_benchmark():
    bid, ask = optimal_quotes(100.0, 4.0, gamma=GAMMA, sigma=SIGMA, time_left=0.3, kappa=KAPPA)
    r = reservation_price(100.0, 4.0, gamma=GAMMA, sigma=SIGMA, time_left=0.3)
    assert (bid + ask) / 2 == pytest.approx(r) and ask - bid == pytest.approx(optimal_spread(gamma=GAMMA, sigma=SIGMA, time_left=0.3, kappa=KAPPA))
    bid, ask = optimal_quotes(100.0, 4.0, gamma=GAMMA, sigma=SIGMA, time_left=0.3, kappa=KAPPA, symmetric=True)
    assert (bid + ask) / 2 == pytest.approx(100.0)


# ---------------------------------------------------------------------------- the policy in ticks
TICKS = 100.0  # one dollar is 100 ticks: the paper's quantities in ticks
PARAMS = {"gamma": GAMMA / TICKS, "kappa": KAPPA / TICKS, "sigma": SIGMA * TICKS, "size": 3}
WINDOW = 5


def maker(**changes):
    return build_policy("avellaneda_stoikov", {**PARAMS, **changes}, window=WINDOW, population="mm", max_qty=10, max_offset=400)


def test_the_market_env_rests_the_closed_form_quotes_to_within_a_tick():
    config = MarketConfig(
        populations=(
            PopulationConfig(name="taker", role=Role.TAKER, count=1),
            PopulationConfig(name="mm", role=Role.MAKER, count=1, policy="avellaneda_stoikov", max_qty=10, max_offset=400),
        ),
        initial_price=10_000,
        window=WINDOW,
        max_steps=20,
    )
    env = MarketEnv(config, {"mm": maker()})
    env.reset(seed=0)
    env.step({"taker_0": np.zeros(2, dtype=np.float32)})  # the taker sends nothing; the maker quotes
    book = env.exchange.book
    bid, ask = book.best_bid(), book.best_ask()
    # the quotes were made from the reset's observation: flat, all the time left, at the initial price
    expected_bid, expected_ask = optimal_quotes(10_000.0, 0.0, gamma=GAMMA / TICKS, sigma=SIGMA * TICKS, time_left=1.0, kappa=KAPPA / TICKS)
    assert abs(bid[0] - expected_bid) <= 1.0 and abs(ask[0] - expected_ask) <= 1.0, (bid, ask, expected_bid, expected_ask)
    assert bid[1] == 3 and ask[1] == 3
    assert book.owners_at_best(Side.BUY) == {"mm_0"}


@pytest.mark.parametrize("lots", [-6.0, 0.0, 4.0])
def test_quote_distances_skew_against_the_inventory_as_the_closed_form_does(lots):
    policy = maker()
    obs = np.zeros(len(observation_names(WINDOW)), dtype=np.float32)
    obs[observation_index("inventory", WINDOW)] = lots / 10
    obs[observation_index("time_left", WINDOW)] = 0.25
    below, above = policy.quote_distances(obs)
    bid, ask = optimal_quotes(0.0, lots, gamma=GAMMA / TICKS, sigma=SIGMA * TICKS, time_left=0.25, kappa=KAPPA / TICKS)
    assert below == pytest.approx(-bid, rel=1e-6) and above == pytest.approx(ask, rel=1e-6)
    action = policy.act(obs, np.random.default_rng(0))
    assert action.dtype == np.float32 and np.all(np.abs(action) <= 1.0)


def test_sigma_is_estimated_from_the_observed_returns_when_not_given():
    policy = maker(sigma=0.0, price=10_000.0, steps=200)
    obs = np.zeros(len(observation_names(WINDOW)), dtype=np.float32)
    returns = np.array([0.02, -0.02, 0.02, -0.02, 0.02])  # percent per step, standard deviation 0.02 (ddof 0)
    for k, value in enumerate(returns):
        obs[observation_index(f"ret_{k}", WINDOW)] = value
    per_step_ticks = float(np.std(returns.astype(np.float32).astype(np.float64))) / 100 * 10_000
    assert policy.sigma(obs) == pytest.approx(per_step_ticks / math.sqrt(1.0 / 200), rel=1e-6)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"gamma": 0.0}, "populations.mm.params.gamma: expected a number in (0.0, inf)"),
        ({"sigma": 0.0}, "populations.mm.params.price"),
        ({"sigma": 0.0, "price": 100.0}, "populations.mm.params.steps"),
        ({"size": 11}, "populations.mm.params.size: expected at most max_qty (10) lots"),
        ({"max_qty": 5}, "populations.mm.params.max_qty: 5 differs from the population's max_qty (10)"),
    ],
)
def test_bad_parameters_are_one_line_naming_the_key(changes, message):
    with pytest.raises(ConfigError) as caught:
        maker(**changes)
    assert message in str(caught.value)


def test_it_is_a_maker_policy_by_name():
    assert policy_role("avellaneda_stoikov") is Role.MAKER
