"""The Cartea-Jaimungal maker: the closed form against independent computations, its shape, and the maker in a real market."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from market.agents.baselines.cartea_jaimungal import cj_depths, cj_h, cj_log_omega, cj_matrix
from market.agents.scripted import build_policy, policy_role
from market.envs.market_config import (
    MAKER_ASK_OFFSET,
    MAKER_BID_OFFSET,
    MAKER_SIZE,
    MarketConfig,
    PopulationConfig,
    Role,
    observation_index,
    observation_names,
)
from market.envs.market_v0 import parallel_env
from market.errors import ConfigError
from market.exchange import Side

MODEL = {"phi": 0.01, "alpha": 0.5, "kappa": 0.5, "intensity": 50.0, "max_inventory": 5}
"""Penalties in ticks per lot, kappa per tick, 50 market orders a side per unit of model time, Q = 5 lots."""


def depth_table(time_left, **model):
    """Bid and ask depths at every inventory -Q .. Q (None where not quoted)."""
    q_max = model["max_inventory"]
    return [cj_depths(time_left, q, **model) for q in range(-q_max, q_max + 1)]


# ---------------------------------------------------------------------------- the closed form
@pytest.mark.parametrize("time_left", [0.0, 0.01, 0.3, 2.0])
def test_risk_neutral_depths_with_a_one_lot_cap_match_the_hand_computed_exponential(time_left):
    # phi = alpha = 0, Q = 1: A = b M with M the path graph's adjacency matrix, and M**3 = 2 M, so
    # expm(x M) = I + sinh(sqrt2 x) / sqrt2 M + (cosh(sqrt2 x) - 1) / 2 M**2; with z = 1 this gives
    # omega(+-1) = cosh(r) + sinh(r) / sqrt2 and omega(0) = cosh(r) + sqrt2 sinh(r), r = sqrt2 b (T - t)
    kappa, intensity = 0.5, 3.0
    r = math.sqrt(2.0) * intensity * math.exp(-1.0) * time_left
    omega_edge = math.cosh(r) + math.sinh(r) / math.sqrt(2.0)
    omega_centre = math.cosh(r) + math.sqrt(2.0) * math.sinh(r)
    model = {"phi": 0.0, "alpha": 0.0, "kappa": kappa, "intensity": intensity, "max_inventory": 1}
    h = cj_h(time_left, **model)
    assert h == pytest.approx(np.log([omega_edge, omega_centre, omega_edge]) / kappa, rel=1e-12, abs=1e-12)
    widen = math.log(omega_centre / omega_edge) / kappa  # what the cap adds to 1 / kappa at q = 0
    assert cj_depths(time_left, 0, **model) == pytest.approx((1 / kappa + widen, 1 / kappa + widen), rel=1e-12)
    assert cj_depths(time_left, 1, **model) == (None, pytest.approx(1 / kappa - widen, rel=1e-12))
    assert cj_depths(time_left, -1, **model) == (pytest.approx(1 / kappa - widen, rel=1e-12), None)


def test_risk_neutral_depths_with_a_one_lot_cap_tend_to_half_log_two_from_one_over_kappa():
    # as T - t grows, omega(0) / omega(1) -> (1 + sqrt2) / (1 + 1 / sqrt2) = sqrt2
    model = {"phi": 0.0, "alpha": 0.0, "kappa": 0.5, "intensity": 3.0, "max_inventory": 1}
    bid, ask = cj_depths(50.0, 0, **model)
    assert bid == pytest.approx(2.0 * (1.0 + 0.5 * math.log(2.0)), rel=1e-9) and ask == pytest.approx(bid, rel=1e-12)


@pytest.mark.parametrize("time_left", [0.05, 0.5, 1.0])
@pytest.mark.parametrize("model", [MODEL, {"phi": 0.2, "alpha": 0.0, "kappa": 1.0, "intensity": 10.0, "max_inventory": 4}])
def test_h_matches_an_eigendecomposition_of_the_symmetric_matrix(time_left, model):
    # A is symmetric: omega = V exp(w (T - t)) V^T z, from numpy's eigh (not the code path under test)
    q = np.arange(-model["max_inventory"], model["max_inventory"] + 1)
    a = np.diag(-model["phi"] * model["kappa"] * q**2.0)
    for i in range(len(q) - 1):
        a[i, i + 1] = a[i + 1, i] = model["intensity"] * math.exp(-1.0)
    z = np.exp(-model["alpha"] * model["kappa"] * q**2.0)
    w, v = np.linalg.eigh(a)
    omega = v @ (np.exp(w * time_left) * (v.T @ z))
    assert cj_h(time_left, **model) == pytest.approx(np.log(omega) / model["kappa"], rel=1e-9, abs=1e-9)
    matrix = {key: model[key] for key in ("phi", "kappa", "intensity", "max_inventory")}
    assert cj_matrix(**matrix) == pytest.approx(a)
    assert np.exp(cj_log_omega(time_left, **model)) == pytest.approx(scipy.linalg.expm(a * time_left) @ z, rel=1e-9)


def test_depths_stay_exact_near_the_end_with_a_heavy_terminal_penalty():
    # z spans exp(-200) to 1 here, and just before T omega's small entries are ratios of tiny
    # numbers; a 60-digit matrix exponential (mpmath) is the reference
    mpmath = pytest.importorskip("mpmath")
    model = {"phi": 0.01, "alpha": 2.0, "kappa": 1.0, "intensity": 100.0, "max_inventory": 10}
    time_left = 1e-4
    with mpmath.workdps(60):
        n = 2 * model["max_inventory"] + 1
        a = mpmath.matrix(n, n)
        for i in range(n):
            q = i - model["max_inventory"]
            a[i, i] = -mpmath.mpf(model["phi"]) * model["kappa"] * q * q
            if i + 1 < n:
                a[i, i + 1] = a[i + 1, i] = model["intensity"] * mpmath.exp(-1)
        alpha_kappa = mpmath.mpf(model["alpha"]) * model["kappa"]
        z = mpmath.matrix([mpmath.exp(-alpha_kappa * (i - model["max_inventory"]) ** 2) for i in range(n)])
        omega = mpmath.expm(a * time_left) * z
        reference = np.array([float(mpmath.log(x)) for x in omega]) / model["kappa"]
    assert cj_h(time_left, **model) == pytest.approx(reference, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("time_left", [0.0, 0.02, 0.4, 1.0])
def test_the_bid_at_q_is_the_ask_at_minus_q(time_left):
    table = depth_table(time_left, **MODEL)
    for (bid, _), (_, ask) in zip(table, reversed(table)):
        assert (bid is None and ask is None) or bid == pytest.approx(ask, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("time_left", [0.0, 0.02, 0.4, 1.0])
@pytest.mark.parametrize("model", [MODEL, {**MODEL, "alpha": 0.0}, {**MODEL, "phi": 0.0, "alpha": 0.05}])
def test_a_longer_inventory_widens_the_bid_and_tightens_the_ask(time_left, model):
    table = depth_table(time_left, **model)
    if time_left == 0.0 and model["alpha"] == 0.0:  # at T without a terminal penalty h = 0: no skew at all
        assert all(depth == 1 / model["kappa"] for side in table for depth in side if depth is not None)
        return
    bids = [bid for bid, _ in table[:-1]]  # q = -Q .. Q - 1
    asks = [ask for _, ask in table[1:]]  # q = -Q + 1 .. Q
    assert all(later > earlier for earlier, later in zip(bids, bids[1:])), bids
    assert all(later < earlier for earlier, later in zip(asks, asks[1:])), asks


@pytest.mark.parametrize("time_left", [0.0, 0.3])
def test_no_bid_at_the_cap_and_no_ask_at_minus_the_cap(time_left):
    q_max = MODEL["max_inventory"]
    bid, ask = cj_depths(time_left, q_max, **MODEL)
    assert bid is None and ask is not None
    bid, ask = cj_depths(time_left, -q_max, **MODEL)
    assert ask is None and bid is not None
    assert all(None not in depths for depths in depth_table(time_left, **MODEL)[1:-1])
    with pytest.raises(ValueError, match=r"\[-5, 5\]"):
        cj_depths(time_left, q_max + 1, **MODEL)


def test_near_the_end_a_heavy_terminal_penalty_quotes_hard_toward_zero_inventory():
    model = {**MODEL, "phi": 0.0, "alpha": 3.0}
    kappa, alpha = model["kappa"], model["alpha"]
    for q in range(-4, 5):  # at T, h = -alpha q**2: the depths are 1/kappa + alpha (2q + 1) and 1/kappa - alpha (2q - 1)
        assert cj_depths(0.0, q, **model) == pytest.approx((1 / kappa + alpha * (2 * q + 1), 1 / kappa - alpha * (2 * q - 1)))
    # long 3 lots: the skew (bid depth minus ask depth) grows as T nears, to the terminal values
    skews = [bid - ask for bid, ask in (cj_depths(t, 3, **model) for t in (1.0, 0.1, 0.01, 0.001, 1e-6, 1e-10))]
    assert all(later > earlier for earlier, later in zip(skews, skews[1:])), skews
    assert skews[-1] == pytest.approx(4 * alpha * 3, rel=1e-3)
    bid, ask = cj_depths(1e-10, 3, **model)
    assert ask < 0.0 < 1 / kappa < bid  # it sells through the mid and bids far away
    bid, ask = cj_depths(1e-10, 0, **model)
    assert bid == pytest.approx(ask) and bid > 1 / kappa  # flat: both sides wide, to stay flat


def test_where_omega_underflows_the_depths_unwind_at_any_price_and_never_come_out_nan():
    # a running penalty of 1e6 ticks per lot with almost no order flow: omega at |q| >= 25 is
    # below 1e-280 of omega at 0 and comes out as 0 (h = -inf)
    model = {"phi": 1e6, "alpha": 0.0, "kappa": 1.0, "intensity": 0.001, "max_inventory": 30}
    h = cj_h(1.0, **model)
    lost = [q for q in range(-30, 31) if math.isinf(h[q + 30])]
    assert lost and 0 not in lost and not np.isnan(h).any()
    for q in lost:
        assert cj_depths(1.0, q, **model) == ((None, -math.inf) if q > 0 else (-math.inf, None))
    for q in range(-30, 31):
        assert not any(depth is not None and math.isnan(depth) for depth in cj_depths(1.0, q, **model))


# ---------------------------------------------------------------------------- the policy in ticks
WINDOW = 5
PARAMS = {**MODEL, "size": 2}


def maker(**changes):
    return build_policy("cartea_jaimungal", {**PARAMS, **changes}, window=WINDOW, population="cj", max_qty=4, max_offset=12)


def observation(lots, time_left, max_qty=4):
    obs = np.zeros(len(observation_names(WINDOW)), dtype=np.float32)
    obs[observation_index("inventory", WINDOW)] = lots / max_qty
    obs[observation_index("time_left", WINDOW)] = time_left
    return obs


@pytest.mark.parametrize("lots", [-3, 0, 2, 4])
def test_the_maker_quotes_the_closed_form_depths_clipped_into_the_tick_range(lots):
    policy = maker()
    obs = observation(lots, 0.25)
    expected = cj_depths(0.25, lots, **MODEL)
    assert policy.depths(obs) == pytest.approx(expected)
    action = policy.act(obs, np.random.default_rng(0))
    assert action.dtype == np.float32 and np.all(np.abs(action) <= 1.0)
    for index, depth in ((MAKER_BID_OFFSET, expected[0]), (MAKER_ASK_OFFSET, expected[1])):
        ticks = 1 + (action[index] + 1) / 2 * 11  # the env's decoding, before rounding
        assert ticks == pytest.approx(min(max(depth, 1.0), 12.0), abs=1e-5)
    assert (action[MAKER_SIZE] + 1) / 2 * 4 == pytest.approx(2.0)  # 2 of max_qty 4 lots


@pytest.mark.parametrize(("lots", "side"), [(5, MAKER_BID_OFFSET), (9, MAKER_BID_OFFSET), (-5, MAKER_ASK_OFFSET), (-40, MAKER_ASK_OFFSET)])
def test_at_or_beyond_the_cap_the_side_not_quoted_goes_to_max_offset(lots, side):
    policy = maker()
    cap = 5 if lots > 0 else -5
    assert policy.depths(observation(lots, 0.5)) == pytest.approx(cj_depths(0.5, cap, **MODEL))
    action = policy.act(observation(lots, 0.5), np.random.default_rng(0))
    assert action[side] == 1.0  # max_offset ticks
    other = MAKER_ASK_OFFSET if side == MAKER_BID_OFFSET else MAKER_BID_OFFSET
    assert action[other] < 1.0


def test_the_cached_h_is_the_h_of_the_time_left():
    policy = maker()
    first = policy.act(observation(1, 0.5), np.random.default_rng(0))
    policy.act(observation(1, 0.25), np.random.default_rng(0))
    assert np.array_equal(policy.act(observation(1, 0.5), np.random.default_rng(0)), first)
    assert np.array_equal(policy.h(0.25), cj_h(0.25, **MODEL))


def test_the_market_env_rests_the_closed_form_quotes():
    config = MarketConfig(
        populations=(
            PopulationConfig(name="taker", role=Role.TAKER, count=1),
            PopulationConfig(name="cj", role=Role.MAKER, count=1, policy="cartea_jaimungal", max_qty=4, max_offset=12),
        ),
        initial_price=10_000,
        window=WINDOW,
        max_steps=20,
    )
    env = parallel_env(config, {"cj": maker()})
    env.reset(seed=0)
    env.step({"taker_0": np.zeros(2, dtype=np.float32)})  # the taker sends nothing; the maker quotes
    book = env.exchange.book
    bid_depth, ask_depth = cj_depths(1.0, 0, **MODEL)  # from the reset's observation: flat, all the time left
    assert abs(10_000 - book.best_bid()[0] - bid_depth) <= 0.5 and abs(book.best_ask()[0] - 10_000 - ask_depth) <= 0.5
    assert book.best_bid()[1] == 2 and book.best_ask()[1] == 2
    assert book.owners_at_best(Side.BUY) == {"cj_0"}


STEPS, CAP, SIZE = 80, 3, 1


def one_sided_flow_episode(seed):
    """The maker's inventory path in a market of noise takers, 25 steps of selling, then 30 of buying.

    No taker reaches farther than 3 ticks from the mid, so the maker's far quote (20 ticks) is never hit.
    """
    takers = {"max_qty": 2, "max_offset": 3}
    config = MarketConfig(
        populations=(
            PopulationConfig(name="noise", role=Role.TAKER, count=3, policy="noise", **takers),
            PopulationConfig(name="seller", role=Role.TAKER, count=1, policy="shock", max_qty=1, max_offset=3),
            PopulationConfig(name="buyer", role=Role.TAKER, count=1, policy="shock", max_qty=1, max_offset=3),
            PopulationConfig(name="cj", role=Role.MAKER, count=1, policy="cartea_jaimungal", max_qty=2, max_offset=20),
        ),
        window=WINDOW,
        max_steps=STEPS,
    )
    cj = {"phi": 0.001, "alpha": 0.01, "kappa": 1.0, "intensity": 20.0, "max_inventory": CAP, "size": SIZE}
    policies = {
        "noise": build_policy("noise", {"activity": 0.5}, window=WINDOW, population="noise", **takers),
        "seller": build_policy("shock", {"at_step": 5, "max_steps": STEPS, "side": "sell", "duration": 25}, window=WINDOW),
        "buyer": build_policy("shock", {"at_step": 40, "max_steps": STEPS, "side": "buy", "duration": 30}, window=WINDOW),
        "cj": build_policy("cartea_jaimungal", cj, window=WINDOW, population="cj", max_qty=2, max_offset=20),
    }
    env = parallel_env(config, policies)
    env.reset(seed=seed)
    start = env.exchange.ledger.inventory("cj_0")
    path = []
    for _ in range(STEPS):
        env.step({})
        path.append(env.exchange.ledger.inventory("cj_0") - start)
    return path


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_in_a_market_the_maker_fills_up_to_its_cap_and_stops_adding(seed):
    path = one_sided_flow_episode(seed)
    # the selling fills it up to the cap, the buying down to minus the cap ...
    assert max(path[5:30]) >= CAP and min(path[40:70]) <= -CAP, path
    # ... and no further than the quotes of the step before can add: 2 * size - 1 lots (the class docstring)
    assert max(abs(lots) for lots in path) <= CAP + 2 * SIZE - 1, path


# ---------------------------------------------------------------------------- parameters
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kappa": 0.0}, "populations.cj.params.kappa: expected a number in (0.0, inf)"),
        ({"phi": -0.1}, "populations.cj.params.phi: expected a number in [0.0, inf)"),
        ({"alpha": math.nan}, "populations.cj.params.alpha: expected a number in [0.0, inf)"),
        ({"intensity": 0}, "populations.cj.params.intensity: expected a number in (0.0, inf)"),
        ({"max_inventory": 0}, "populations.cj.params.max_inventory: expected an integer >= 1"),
        ({"max_inventory": 2.5}, "populations.cj.params.max_inventory: expected an integer >= 1"),
        ({"max_inventory": 41}, "populations.cj.params.max_inventory: expected at most 10 x max_qty (40) lots"),
        ({"horizon": 0.0}, "populations.cj.params.horizon: expected a number in (0.0, inf)"),
        ({"size": 0}, "populations.cj.params.size: expected an integer >= 1"),
        ({"size": 5}, "populations.cj.params.size: expected at most max_qty (4) lots"),
        ({"max_offset": 8}, "populations.cj.params.max_offset: 8 differs from the population's max_offset (12)"),
    ],
)
def test_bad_parameters_are_one_line_naming_the_key(changes, message):
    with pytest.raises(ConfigError) as caught:
        maker(**changes)
    assert message in str(caught.value)


def test_a_missing_model_parameter_names_the_key():
    params = {key: value for key, value in PARAMS.items() if key != "kappa"}
    with pytest.raises(ConfigError, match="populations.cj.params.kappa: required key is missing"):
        build_policy("cartea_jaimungal", params, window=WINDOW, population="cj", max_qty=4, max_offset=12)


def test_it_is_a_maker_policy_by_name():
    assert policy_role("cartea_jaimungal") is Role.MAKER
