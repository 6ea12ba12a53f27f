"""Scripted background traders: each trader's defining behaviour, the action contract, the factory's errors.

Observations are built by hand, placing values by feature name with ``observation_index``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from market.agents.policy import Policy
from market.agents.scripted import (
    SCRIPTED_POLICIES,
    MarketMaker,
    MarketMakerParams,
    MomentumParams,
    MomentumTrader,
    NoiseParams,
    NoiseTrader,
    ShockParams,
    ShockTrader,
    ValueParams,
    ValueTrader,
    build_policy,
    policy_role,
)
from market.envs.market_config import (
    EXECUTOR_ACTION_DIM,
    MAKER_ACTION_DIM,
    MAKER_ASK_OFFSET,
    MAKER_BID_OFFSET,
    MAKER_SIZE,
    TAKER_ACTION_DIM,
    TAKER_AGGRESSION,
    TAKER_SIZE,
    Role,
    observation_index,
    observation_names,
)
from market.errors import ConfigError

WINDOW = 6
MAX_STEPS = 100
SHOCK_PARAMS = {"at_step": 10, "max_steps": MAX_STEPS, "duration": 3}


def make_obs(window: int = WINDOW, *, returns: tuple[float, ...] = (), time_left: float = 1.0, **features: float) -> np.ndarray:
    """An observation with ``returns`` as ret_0, ret_1, ... and the named features set, the rest 0."""
    obs = np.zeros(len(observation_names(window)), dtype=np.float32)
    for k, value in enumerate(returns):
        obs[observation_index(f"ret_{k}", window)] = value
    obs[observation_index("time_left", window)] = time_left
    for name, value in features.items():
        obs[observation_index(name, window)] = value
    return obs


def assert_in_space(action: np.ndarray, role: Role) -> None:
    dim = {Role.TAKER: TAKER_ACTION_DIM, Role.MAKER: MAKER_ACTION_DIM, Role.EXECUTOR: EXECUTOR_ACTION_DIM}[role]
    assert isinstance(action, np.ndarray)
    assert action.dtype == np.float32
    assert action.shape == (dim,)
    assert np.all(np.abs(action) <= 1.0)


def lots(fraction: float, max_qty: int = 10) -> int:
    """A taker's size action decoded as the env does: ``round(size * max_qty)``."""
    return round(float(fraction) * max_qty)


RNG_SEED = 7


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)


# ---------------------------------------------------------------------------- the action contract
def varied_observations() -> list[np.ndarray]:
    """Ordinary and extreme observations (every feature at the clip bound), in a fixed set."""
    gen = np.random.default_rng(0)
    n = len(observation_names(WINDOW))
    extremes = [np.full(n, v, dtype=np.float32) for v in (-10.0, 0.0, 10.0)]
    randoms = [gen.uniform(-10, 10, n).astype(np.float32) for _ in range(50)]
    shock_window = [make_obs(time_left=1 - s / MAX_STEPS) for s in range(8, 15)]
    return extremes + randoms + shock_window


AS_PARAMS = {"gamma": 0.01, "kappa": 0.5, "sigma": 0.0, "price": 10_000.0, "steps": MAX_STEPS}
"""The Avellaneda-Stoikov maker has no defaults for its model's parameters; sigma estimated from the returns."""
CJ_PARAMS = {"phi": 0.01, "alpha": 0.5, "kappa": 0.5, "intensity": 50.0, "max_inventory": 5}
"""Nor has the Cartea-Jaimungal maker."""


EXECUTOR_LIMITS = {"quantity": 100, "horizon": 20, "max_pace": 20.0}
"""An executor's parent order, which executor baselines take from their population."""


@pytest.mark.parametrize("name", sorted(SCRIPTED_POLICIES))
def test_every_action_is_float32_in_the_roles_space(name, rng):
    params = {"shock": SHOCK_PARAMS, "avellaneda_stoikov": AS_PARAMS, "cartea_jaimungal": CJ_PARAMS}.get(name, {})
    role = policy_role(name)
    assert role is SCRIPTED_POLICIES[name].role
    order = EXECUTOR_LIMITS if role is Role.EXECUTOR else {}
    policy = build_policy(name, params, window=WINDOW, max_qty=10, max_offset=10, **order)
    assert isinstance(policy, Policy)
    observations = varied_observations()
    if role is Role.EXECUTOR:  # executors see four features more: remaining, horizon left, schedule and price gaps
        gen = np.random.default_rng(1)
        observations = [np.concatenate([obs, gen.uniform(-1, 1, 4).astype(np.float32)]) for obs in observations]
        observations += [np.concatenate([observations[0][:-4], np.array(extra, dtype=np.float32)]) for extra in ((1, 1, 0, 0), (0, 0, 0, 0), (0.5, 0.05, 0.4, 1.0))]
    for obs in observations:
        assert_in_space(policy.act(obs, rng), role)


def test_every_scripted_policy_names_its_role():
    assert {name: policy_role(name) for name in SCRIPTED_POLICIES} == {
        "noise": Role.TAKER,
        "market_maker": Role.MAKER,
        "avellaneda_stoikov": Role.MAKER,
        "cartea_jaimungal": Role.MAKER,
        "momentum": Role.TAKER,
        "value": Role.TAKER,
        "shock": Role.TAKER,
        "twap": Role.EXECUTOR,
        "passive": Role.EXECUTOR,
        "all_at_once": Role.EXECUTOR,
        "almgren_chriss": Role.EXECUTOR,
    }


def test_observation_of_another_window_is_refused(rng):
    policy = build_policy("momentum", {}, window=WINDOW)
    with pytest.raises(ValueError, match="window 6"):
        policy.act(make_obs(WINDOW + 1), rng)


# ---------------------------------------------------------------------------- noise
def test_noise_actions_stay_in_space_and_take_both_signs_and_both_aggressions(rng):
    policy = NoiseTrader(NoiseParams(activity=0.5, min_size=0.1, max_size=0.5, max_aggression=1.0), WINDOW)
    obs = make_obs()
    actions = np.array([policy.act(obs, rng) for _ in range(10_000)])
    assert actions.dtype == np.float32 and actions.shape == (10_000, TAKER_ACTION_DIM)
    assert np.all(np.abs(actions) <= 1.0)
    sizes, aggressions = actions[:, TAKER_SIZE], actions[:, TAKER_AGGRESSION]
    active = sizes != 0
    assert 0.45 < active.mean() < 0.55  # activity
    assert (sizes > 0).sum() > 2000 and (sizes < 0).sum() > 2000  # both signs
    assert np.all((np.abs(sizes[active]) >= 0.1 - 1e-6) & (np.abs(sizes[active]) <= 0.5 + 1e-6))
    assert (aggressions[active] > 0).sum() > 2000 and (aggressions[active] < 0).sum() > 2000  # crossing and passive
    assert np.all(aggressions[~active] == 0)


def test_noise_same_seed_gives_identical_actions():
    policy = NoiseTrader(NoiseParams(), WINDOW)
    obs = make_obs()
    first, second = np.random.default_rng(123), np.random.default_rng(123)
    a = np.array([policy.act(obs, first) for _ in range(500)])
    b = np.array([policy.act(obs, second) for _ in range(500)])
    other = np.random.default_rng(124)
    c = np.array([policy.act(obs, other) for _ in range(500)])
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_noise_with_zero_activity_never_trades(rng):
    policy = NoiseTrader(NoiseParams(activity=0.0), WINDOW)
    assert all(not policy.act(make_obs(), rng).any() for _ in range(1000))


def test_noise_activity_rises_with_recent_volatility(rng):
    policy = NoiseTrader(NoiseParams(activity=0.2, vol_activity=100.0), WINDOW)
    calm = make_obs(returns=(0.0,) * WINDOW)
    wild = make_obs(returns=(0.01, -0.01) * (WINDOW // 2))  # std 0.01%: activity 0.2 x (1 + 1) = 0.4
    calm_rate = np.mean([policy.act(calm, rng)[TAKER_SIZE] != 0 for _ in range(5000)])
    wild_rate = np.mean([policy.act(wild, rng)[TAKER_SIZE] != 0 for _ in range(5000)])
    assert 0.17 < calm_rate < 0.23
    assert 0.37 < wild_rate < 0.43
    stormy = make_obs(returns=(1.0, -1.0) * (WINDOW // 2))
    assert all(policy.act(stormy, rng)[TAKER_SIZE] != 0 for _ in range(500)), "activity is capped at 1"


def test_noise_without_vol_activity_ignores_volatility():
    policy = NoiseTrader(NoiseParams(activity=0.3), WINDOW)
    first, second = np.random.default_rng(5), np.random.default_rng(5)
    wild = make_obs(returns=(1.0, -1.0) * (WINDOW // 2))
    calm_actions = [policy.act(make_obs(), first).tolist() for _ in range(300)]
    wild_actions = [policy.act(wild, second).tolist() for _ in range(300)]
    assert calm_actions == wild_actions


def test_noise_pareto_sizes_are_mostly_small_with_a_tail_up_to_the_cap(rng):
    tail = 2.0
    policy = NoiseTrader(NoiseParams(activity=1.0, min_size=0.02, max_size=1.0, size_tail=tail), WINDOW)
    sizes = np.abs(np.array([policy.act(make_obs(), rng)[TAKER_SIZE] for _ in range(20_000)], dtype=np.float64))
    assert sizes.min() >= 0.02 - 1e-6 and sizes.max() <= 1.0
    # Pareto survival: P(size > x) = (min_size / x) ** tail, below the cap
    for x in (0.04, 0.1, 0.2):
        assert np.mean(sizes > x) == pytest.approx((0.02 / x) ** tail, rel=0.15)
    assert np.median(sizes) < 0.03
    assert np.mean(sizes >= 0.999) > 0  # the cap is reached: (0.02 / 1) ** 2 = 4e-4 of orders


def test_noise_draws_four_uniforms_whatever_its_parameters():
    plain, tailed = NoiseTrader(NoiseParams(), WINDOW), NoiseTrader(NoiseParams(size_tail=1.5, vol_activity=50.0), WINDOW)
    first, second = np.random.default_rng(9), np.random.default_rng(9)
    for _ in range(10):
        plain.act(make_obs(returns=(0.1, -0.1)), first)
        tailed.act(make_obs(returns=(0.1, -0.1)), second)
    assert first.random() == second.random()


# ---------------------------------------------------------------------------- market maker
def test_maker_quotes_are_symmetric_when_flat(rng):
    maker = MarketMaker(MarketMakerParams(half_spread=0.3, size=0.5), WINDOW)
    action = maker.act(make_obs(inventory=0.0), rng)
    assert action[MAKER_BID_OFFSET] == action[MAKER_ASK_OFFSET]
    assert action[MAKER_BID_OFFSET] == pytest.approx(2 * 0.3 - 1)
    assert action[MAKER_SIZE] == pytest.approx(0.0)  # half of max_qty per side


def test_maker_long_inventory_tightens_the_ask_and_widens_the_bid(rng):
    maker = MarketMaker(MarketMakerParams(half_spread=0.3, inventory_skew=0.1), WINDOW)
    flat = maker.act(make_obs(inventory=0.0), rng)
    long = maker.act(make_obs(inventory=2.0), rng)
    short = maker.act(make_obs(inventory=-2.0), rng)
    assert long[MAKER_ASK_OFFSET] < flat[MAKER_ASK_OFFSET]
    assert long[MAKER_BID_OFFSET] > flat[MAKER_BID_OFFSET]
    assert short[MAKER_BID_OFFSET] < short[MAKER_ASK_OFFSET]
    assert short[MAKER_BID_OFFSET] == pytest.approx(long[MAKER_ASK_OFFSET])  # mirror images


def test_maker_skews_toward_its_neutral_inventory(rng):
    maker = MarketMaker(MarketMakerParams(inventory_skew=0.1, neutral_inventory=3.0), WINDOW)
    at_neutral = maker.act(make_obs(inventory=3.0), rng)
    assert at_neutral[MAKER_BID_OFFSET] == at_neutral[MAKER_ASK_OFFSET]


def test_maker_widens_both_quotes_when_volatility_rises(rng):
    maker = MarketMaker(MarketMakerParams(half_spread=0.2, vol_widen=0.5), WINDOW)
    calm = maker.act(make_obs(returns=(0.01, -0.01) * 3), rng)
    wild = maker.act(make_obs(returns=(0.5, -0.5) * 3), rng)
    assert wild[MAKER_BID_OFFSET] > calm[MAKER_BID_OFFSET]
    assert wild[MAKER_ASK_OFFSET] > calm[MAKER_ASK_OFFSET]
    assert wild[MAKER_SIZE] == calm[MAKER_SIZE] > -1.0  # still quoting


def test_maker_withdraws_when_volatility_exceeds_the_threshold(rng):
    maker = MarketMaker(MarketMakerParams(withdraw_vol=1.0), WINDOW)
    below = maker.act(make_obs(returns=(0.9, -0.9) * 3), rng)  # std 0.9
    above = maker.act(make_obs(returns=(1.1, -1.1) * 3), rng)  # std 1.1
    assert below[MAKER_SIZE] > -1.0
    assert above[MAKER_SIZE] == -1.0  # 0 lots: quotes withdrawn
    assert round((float(above[MAKER_SIZE]) + 1.0) / 2.0 * 10) == 0


def test_maker_withdraws_at_random_with_its_withdraw_probability(rng):
    maker = MarketMaker(MarketMakerParams(withdraw_prob=0.2), WINDOW)
    sizes = np.array([maker.act(make_obs(), rng)[MAKER_SIZE] for _ in range(5000)])
    assert 0.17 < (sizes == -1.0).mean() < 0.23
    never = MarketMaker(MarketMakerParams(withdraw_prob=0.0), WINDOW)
    assert all(never.act(make_obs(), rng)[MAKER_SIZE] > -1.0 for _ in range(1000))


def test_maker_thins_its_quotes_as_volatility_rises(rng):
    maker = MarketMaker(MarketMakerParams(size=0.8, vol_thin=100.0, vol_widen=0.0), WINDOW)
    calm = maker.act(make_obs(returns=(0.0,) * WINDOW), rng)
    wild = maker.act(make_obs(returns=(0.01, -0.01) * (WINDOW // 2)), rng)  # 0.8 / (1 + 1) = 0.4
    assert (calm[MAKER_SIZE] + 1) / 2 == pytest.approx(0.8)
    assert (wild[MAKER_SIZE] + 1) / 2 == pytest.approx(0.4)
    assert wild[MAKER_BID_OFFSET] == calm[MAKER_BID_OFFSET]  # thinning alone keeps the offsets


def test_maker_jitter_moves_each_quote_out_by_at_most_jitter(rng):
    base = MarketMaker(MarketMakerParams(half_spread=0.2, jitter=0.0, vol_widen=0.0), WINDOW)
    jittered = MarketMaker(MarketMakerParams(half_spread=0.2, jitter=0.1, vol_widen=0.0), WINDOW)
    fixed = (base.act(make_obs(), rng)[MAKER_BID_OFFSET] + 1) / 2
    quotes = np.array([jittered.act(make_obs(), rng) for _ in range(2000)], dtype=np.float64)
    bids, asks = (quotes[:, MAKER_BID_OFFSET] + 1) / 2, (quotes[:, MAKER_ASK_OFFSET] + 1) / 2
    for offsets in (bids, asks):
        assert np.all(offsets >= fixed - 1e-6) and np.all(offsets < fixed + 0.1 + 1e-6)
        assert offsets.std() > 0.02  # spread over the jitter band, not stuck
    assert np.mean(bids != asks) > 0.99  # bid and ask draws are independent


def test_maker_draws_three_uniforms_whatever_its_parameters():
    plain = MarketMaker(MarketMakerParams(), WINDOW)
    busy = MarketMaker(MarketMakerParams(jitter=0.3, withdraw_prob=0.5, vol_thin=10.0), WINDOW)
    first, second = np.random.default_rng(4), np.random.default_rng(4)
    for _ in range(10):
        plain.act(make_obs(), first)
        busy.act(make_obs(), second)
    assert first.random() == second.random()


# ---------------------------------------------------------------------------- momentum
def test_momentum_buys_after_up_moves_and_sells_after_down_moves(rng):
    trader = MomentumTrader(MomentumParams(lookback=3, threshold=0.01, size_scale=5.0, max_size=0.5, aggression=0.4), WINDOW)
    up = trader.act(make_obs(returns=(0.05, 0.04, 0.06)), rng)
    down = trader.act(make_obs(returns=(-0.05, -0.04, -0.06)), rng)
    assert up[TAKER_SIZE] == pytest.approx(0.25) and lots(up[TAKER_SIZE]) > 0
    assert down[TAKER_SIZE] == pytest.approx(-0.25) and lots(down[TAKER_SIZE]) < 0
    assert up[TAKER_AGGRESSION] == down[TAKER_AGGRESSION] == pytest.approx(0.4)


def test_momentum_reads_only_the_last_lookback_returns(rng):
    trader = MomentumTrader(MomentumParams(lookback=2, threshold=0.01), WINDOW)
    # up over the last two steps, strongly down before: only the last two count
    action = trader.act(make_obs(returns=(0.05, 0.05, -5.0, -5.0, -5.0, -5.0)), rng)
    assert action[TAKER_SIZE] > 0


def test_momentum_does_nothing_inside_the_threshold(rng):
    trader = MomentumTrader(MomentumParams(lookback=3, threshold=0.1), WINDOW)
    assert not trader.act(make_obs(returns=(0.09, 0.09, 0.09)), rng).any()
    assert not trader.act(make_obs(returns=(-0.05, 0.0, 0.05)), rng).any()


def test_momentum_size_grows_with_the_signal_up_to_the_cap(rng):
    trader = MomentumTrader(MomentumParams(lookback=1, threshold=0.0, size_scale=2.0, max_size=0.6), WINDOW)
    sizes = [float(trader.act(make_obs(returns=(r,)), rng)[TAKER_SIZE]) for r in (0.1, 0.2, 0.25, 1.0, 5.0)]
    assert sizes == pytest.approx([0.2, 0.4, 0.5, 0.6, 0.6])


def test_momentum_stops_adding_at_its_inventory_cap(rng):
    trader = MomentumTrader(MomentumParams(lookback=1, threshold=0.0, max_size=0.5, max_inventory=2.0), WINDOW)
    up, down = (1.0,), (-1.0,)
    assert trader.act(make_obs(returns=up, inventory=0.0), rng)[TAKER_SIZE] == pytest.approx(0.5)
    assert trader.act(make_obs(returns=up, inventory=1.8), rng)[TAKER_SIZE] == pytest.approx(0.2)  # room left
    assert not trader.act(make_obs(returns=up, inventory=2.0), rng).any()
    assert not trader.act(make_obs(returns=up, inventory=3.0), rng).any()
    assert trader.act(make_obs(returns=down, inventory=3.0), rng)[TAKER_SIZE] == pytest.approx(-0.5)  # reducing is free
    assert not trader.act(make_obs(returns=down, inventory=-2.5), rng).any()


# ---------------------------------------------------------------------------- value
def test_value_buys_below_the_fundamental_and_sells_above_it(rng):
    trader = ValueTrader(ValueParams(threshold=0.5, size_scale=0.2, max_size=0.5, aggression=0.3), WINDOW)
    cheap = trader.act(make_obs(fundamental_gap=2.0), rng)  # fundamental 2% above the mid
    dear = trader.act(make_obs(fundamental_gap=-2.0), rng)
    assert cheap[TAKER_SIZE] == pytest.approx(0.4) and lots(cheap[TAKER_SIZE]) > 0
    assert dear[TAKER_SIZE] == pytest.approx(-0.4) and lots(dear[TAKER_SIZE]) < 0
    assert cheap[TAKER_AGGRESSION] == dear[TAKER_AGGRESSION] == pytest.approx(0.3)


@pytest.mark.parametrize("gap", [-0.5, -0.3, 0.0, 0.2, 0.5])
def test_value_does_nothing_inside_the_band(gap, rng):
    trader = ValueTrader(ValueParams(threshold=0.5), WINDOW)
    assert not trader.act(make_obs(fundamental_gap=gap), rng).any()


def test_value_size_is_proportional_to_the_gap_up_to_the_cap(rng):
    trader = ValueTrader(ValueParams(threshold=0.5, size_scale=0.1, max_size=0.8), WINDOW)
    sizes = [float(trader.act(make_obs(fundamental_gap=g), rng)[TAKER_SIZE]) for g in (1.0, 2.0, 4.0, 8.0, -3.0)]
    assert sizes == pytest.approx([0.1, 0.2, 0.4, 0.8, -0.3])


def test_value_stops_adding_at_its_inventory_cap(rng):
    trader = ValueTrader(ValueParams(max_inventory=1.0), WINDOW)
    assert not trader.act(make_obs(fundamental_gap=5.0, inventory=1.0), rng).any()
    assert not trader.act(make_obs(fundamental_gap=-5.0, inventory=-1.0), rng).any()
    assert trader.act(make_obs(fundamental_gap=-5.0, inventory=1.0), rng)[TAKER_SIZE] < 0


def test_value_ignores_returns(rng):
    trader = ValueTrader(ValueParams(), WINDOW)
    assert not trader.act(make_obs(returns=(5.0,) * WINDOW, fundamental_gap=0.0), rng).any()


# ---------------------------------------------------------------------------- shock
def shock_steps(trader: ShockTrader, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """The trader's action at every step of an episode, observing time_left as the env does."""
    return {s: trader.act(make_obs(time_left=np.float32(1.0 - s / MAX_STEPS)), rng) for s in range(MAX_STEPS)}


def test_shock_sells_full_size_and_full_aggression_exactly_in_its_window(rng):
    trader = ShockTrader(ShockParams(at_step=10, duration=3, max_steps=MAX_STEPS), WINDOW)
    actions = shock_steps(trader, rng)
    active = [s for s, a in actions.items() if a.any()]
    assert active == [10, 11, 12]
    for s in active:
        assert actions[s][TAKER_SIZE] == -1.0 and actions[s][TAKER_AGGRESSION] == 1.0


def test_shock_buys_when_its_side_is_buy(rng):
    trader = build_policy("shock", {"at_step": 0, "max_steps": MAX_STEPS, "side": "buy", "size": 0.7}, window=WINDOW)
    actions = shock_steps(trader, rng)
    assert [s for s, a in actions.items() if a.any()] == [0]
    assert actions[0][TAKER_SIZE] == pytest.approx(0.7) and actions[0][TAKER_AGGRESSION] == 1.0


def test_shock_reads_the_step_from_time_left_on_a_long_episode(rng):
    trader = ShockTrader(ShockParams(at_step=99_990, duration=2, max_steps=100_000), WINDOW)
    steps = range(99_980, 100_000)
    hits = [s for s in steps if trader.act(make_obs(time_left=np.float32(1.0 - s / 100_000)), rng).any()]
    assert hits == [99_990, 99_991]


# ---------------------------------------------------------------------------- factory and params
def test_build_policy_passes_params_through():
    policy = build_policy("momentum", {"lookback": 4, "threshold": 0.2}, window=WINDOW, population="trend")
    assert isinstance(policy, MomentumTrader)
    assert policy.params == MomentumParams(lookback=4, threshold=0.2)


def test_integer_params_are_accepted_for_float_keys():
    assert build_policy("value", {"threshold": 1}, window=WINDOW).params.threshold == 1.0


def test_unknown_policy_name_suggests_the_near_miss():
    with pytest.raises(ConfigError, match=r"populations\.bg\.policy: unknown scripted policy 'momentm' \(did you mean 'momentum'\?\)"):
        build_policy("momentm", {}, window=WINDOW, population="bg")
    with pytest.raises(ConfigError, match=r"populations\.bg\.policy: unknown scripted policy 'market_makr' \(did you mean 'market_maker'\?\)"):
        policy_role("market_makr", population="bg")
    with pytest.raises(ConfigError, match=r"unknown scripted policy 'zzz'; known: noise, market_maker"):
        build_policy("zzz", {}, window=WINDOW)


def test_unknown_param_key_names_its_full_path():
    with pytest.raises(ConfigError, match=r"populations\.noise\.params\.activty: unknown key with value .* \(did you mean 'activity'\?\)"):
        build_policy("noise", {"activty": 0.5}, window=WINDOW, population="noise")


def test_missing_required_param_names_its_full_path():
    with pytest.raises(ConfigError, match=r"populations\.crash\.params\.max_steps: required key is missing"):
        build_policy("shock", {"at_step": 3}, window=WINDOW, population="crash")


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [
        ("noise", "activity", 1.5),
        ("noise", "activity", "often"),
        ("noise", "max_size", 0.05),  # below min_size
        ("noise", "max_aggression", -0.1),
        ("noise", "vol_activity", -1.0),
        ("noise", "size_tail", -0.5),
        ("market_maker", "vol_thin", math.nan),
        ("market_maker", "jitter", 1.5),
        ("market_maker", "half_spread", -0.1),
        ("market_maker", "size", 0.0),
        ("market_maker", "withdraw_prob", 1.2),
        ("market_maker", "withdraw_vol", 0.0),
        ("market_maker", "vol_widen", math.nan),
        ("momentum", "lookback", 0),
        ("momentum", "lookback", 2.5),
        ("momentum", "lookback", WINDOW + 1),  # longer than the window
        ("momentum", "aggression", 2.0),
        ("momentum", "max_inventory", -1.0),
        ("value", "threshold", -0.5),
        ("value", "size_scale", True),
        ("shock", "at_step", -1),
        ("shock", "at_step", MAX_STEPS),  # after the episode
        ("shock", "duration", 0),
        ("shock", "size", 1.5),
    ],
)
def test_bad_param_value_names_population_key_and_value(name, key, value):
    params = {**(SHOCK_PARAMS if name == "shock" else {}), key: value}
    with pytest.raises(ConfigError) as error:
        build_policy(name, params, window=WINDOW, population="bg")
    message = str(error.value)
    assert message.startswith(f"populations.bg.params.{key}: expected ")
    assert message.endswith(f"got {value!r}")


def test_pareto_sizes_need_a_positive_min_size():
    with pytest.raises(ConfigError, match=r"^populations\.bg\.params\.min_size: expected a number in \(0\.0, 1\.0\] when size_tail > 0, got 0\.0$"):
        build_policy("noise", {"min_size": 0.0, "size_tail": 2.0}, window=WINDOW, population="bg")


def test_bad_side_names_its_path_and_suggests():
    with pytest.raises(ConfigError, match=r"populations\.crash\.params\.side: expected one of \['buy', 'sell'\], got 'sel' \(did you mean 'sell'\?\)"):
        build_policy("shock", {**SHOCK_PARAMS, "side": "sel"}, window=WINDOW, population="crash")


def test_params_built_directly_name_the_key_and_value():
    with pytest.raises(ConfigError, match=r"^params\.activity: expected a number in \[0\.0, 1\.0\], got -0\.2$"):
        NoiseParams(activity=-0.2)
    with pytest.raises(ConfigError, match=r"^params\.side: expected one of \['buy', 'sell'\], got 'hold'$"):
        ShockParams(at_step=0, max_steps=10, side="hold")


def test_params_are_frozen():
    params = MarketMakerParams()
    with pytest.raises(AttributeError):
        params.size = 0.9  # type: ignore[misc]


def test_bad_window_is_a_config_error():
    with pytest.raises(ConfigError, match=r"window: expected a positive integer, got 0"):
        build_policy("noise", {}, window=0)
