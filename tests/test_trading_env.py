"""Properties of TradingEnv: Gymnasium's checkers, determinism, no look-ahead, accounting, settings."""

from __future__ import annotations

import doctest
import math
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from gymnasium.utils import passive_env_checker
from gymnasium.utils.env_checker import check_env

import market.envs  # noqa: F401  (registers the Gymnasium ids)
import market.envs.trading as trading
from market.data.features import compute_features, feature_names, warmup_bars
from market.envs import (
    DISCRETE_ENV_ID,
    ENV_ID,
    INFO_KEYS,
    OBSERVATION_INDEX,
    TradingEnv,
    TradingEnvConfig,
    observation_index,
    observation_names,
)
from market.envs import rewards
from market.errors import ConfigError, MarketError

LONG = np.array([1.0], dtype=np.float32)


def price_frame(n_bars: int, seed: int, shocks: dict[int, float] | None = None) -> pd.DataFrame:
    """A seeded daily OHLCV frame of geometric Brownian motion, in the data layer's shape.

    Args:
        n_bars: Number of bars.
        seed: Generator seed.
        shocks: ``{bar: factor}``: every price from ``bar`` on is multiplied by ``factor``, so the
            open of ``bar`` gaps by that factor from the previous close (a crash or a spike).
    """
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.012, n_bars)))
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(rng.normal(0.0, 0.003, n_bars))
    for bar, factor in (shocks or {}).items():
        close[bar:] *= factor
        open_[bar:] *= factor
    wick = np.abs(rng.normal(0.0, 0.004, (2, n_bars)))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * np.exp(wick[0]),
            "low": np.minimum(open_, close) * np.exp(-wick[1]),
            "close": close,
            "volume": rng.lognormal(10.0, 0.5, n_bars),
        },
        index=pd.bdate_range("2000-01-03", periods=n_bars, name="time"),
    )


FRAME = price_frame(600, seed=1)
CRASH_FRAME = price_frame(3_000, seed=2, shocks={1_200: 0.35, 2_100: 2.6, 2_600: 0.5})


def run_episode(
    env: gym.Env, seed: int | None, actions: list[Any], options: dict[str, Any] | None = None
) -> list[tuple]:
    """Reset and step through ``actions`` until the episode ends; every output, reset first."""
    observation, info = env.reset(seed=seed, options=options)
    outputs: list[tuple] = [(observation, None, False, False, info)]
    for action in actions:
        outputs.append(env.step(action))
        if outputs[-1][2] or outputs[-1][3]:
            break
    return outputs


def assert_outputs_equal(first: list[tuple], second: list[tuple]) -> None:
    """Every observation, reward, flag and info of two runs is exactly equal."""
    assert len(first) == len(second)
    for (obs_a, reward_a, term_a, trunc_a, info_a), (obs_b, reward_b, term_b, trunc_b, info_b) in zip(first, second):
        assert obs_a.dtype == obs_b.dtype == np.float32
        assert np.array_equal(obs_a, obs_b)
        assert reward_a == reward_b
        assert (term_a, trunc_a) == (term_b, trunc_b)
        assert info_a == info_b


# --- Gymnasium's checkers --------------------------------------------------------------------------


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(
    ("env_id", "settings"),
    [
        (ENV_ID, {}),
        (DISCRETE_ENV_ID, {}),
        (DISCRETE_ENV_ID, {"n_levels": 5, "allow_short": False}),
        (ENV_ID, {"leverage": 2.0, "reward": "differential_sharpe", "drawdown_penalty": 0.5, "max_steps": 50}),
        (ENV_ID, {"reward": "pnl", "random_start": False, "window": 5}),
    ],
)
def test_check_env_passes_with_warnings_as_errors(env_id: str, settings: dict[str, Any]) -> None:
    env = gym.make(env_id, data=FRAME, **settings)
    check_env(env.unwrapped)


@pytest.mark.filterwarnings("error")
def test_check_env_passes_on_default_data() -> None:
    check_env(gym.make(ENV_ID).unwrapped)
    check_env(gym.make(DISCRETE_ENV_ID).unwrapped)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("env_id", [ENV_ID, DISCRETE_ENV_ID])
def test_passive_env_checker_accepts_every_step_of_made_env(env_id: str) -> None:
    env = gym.make(env_id, data=FRAME, max_steps=100)
    assert any(isinstance(wrapper, gym.wrappers.PassiveEnvChecker) for wrapper in _wrappers(env))
    passive_env_checker.check_action_space(env.action_space)
    passive_env_checker.check_observation_space(env.observation_space)
    passive_env_checker.env_reset_passive_checker(env.unwrapped, seed=3)
    env.action_space.seed(3)
    env.reset(seed=3)
    for _ in range(100):
        result = passive_env_checker.env_step_passive_checker(env.unwrapped, env.action_space.sample())
        if result[2] or result[3]:
            break
    # Through the wrappers that gymnasium.make applies, over a whole episode.
    outputs = run_episode(env, 4, [env.action_space.sample() for _ in range(200)])
    assert outputs[-1][3] and len(outputs) == 101


def _wrappers(env: gym.Env) -> list[gym.Env]:
    chain = []
    while isinstance(env, gym.Wrapper):
        chain.append(env)
        env = env.env
    return chain


def test_registered_ids_build_continuous_and_discrete_envs() -> None:
    continuous = gym.make(ENV_ID, data=FRAME)
    discrete = gym.make(DISCRETE_ENV_ID, data=FRAME, n_levels=5)
    assert isinstance(continuous.unwrapped, TradingEnv) and isinstance(discrete.unwrapped, TradingEnv)
    assert continuous.action_space == gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    assert discrete.action_space == gym.spaces.Discrete(5)
    assert continuous.observation_space.shape == (8 + 30,)
    assert continuous.observation_space.dtype == np.float32


def test_module_doctests_pass() -> None:
    result = doctest.testmod(trading, raise_on_error=False)
    assert result.attempted > 0 and result.failed == 0


# --- Determinism and numerical safety --------------------------------------------------------------


@pytest.mark.parametrize("reward", rewards.REWARD_KINDS)
def test_seeded_episodes_are_identical(reward: str) -> None:
    settings = {"data": FRAME, "reward": reward, "drawdown_penalty": 0.3, "max_steps": 120, "leverage": 2.0}
    first, second = TradingEnv(**settings), TradingEnv(**settings)
    rng = np.random.default_rng(11)
    for episode in range(4):
        actions = [rng.uniform(-1.0, 1.0, (1,)).astype(np.float32) for _ in range(200)]
        seed = 100 + episode if episode % 2 == 0 else None  # later episodes continue the seeded stream
        run_a = run_episode(first, seed, actions)
        run_b = run_episode(second, seed, actions)
        assert_outputs_equal(run_a, run_b)
        assert run_a[-1][3] and len(run_a) == 121


def test_different_seeds_draw_different_random_starts() -> None:
    env = TradingEnv(data=FRAME, max_steps=20)
    starts = {env.reset(seed=seed)[1]["bar"] for seed in range(20)}
    assert len(starts) > 10
    fixed = TradingEnv(data=FRAME, random_start=False)
    assert {fixed.reset(seed=seed)[1]["bar"] for seed in range(5)} == {warmup_bars(30)}


@pytest.mark.parametrize("reward", rewards.REWARD_KINDS)
def test_observations_and_rewards_stay_finite_and_in_space_over_long_random_runs(reward: str) -> None:
    env = TradingEnv(data=CRASH_FRAME, leverage=2.0, reward=reward, drawdown_penalty=1.0, commission_bps=5.0)
    rng = np.random.default_rng(5)
    # Extreme actions (full long or short at 2x leverage, and beyond the bounds) mixed with random ones.
    choices = np.array([-5.0, -1.0, 1.0, 5.0, 0.0], dtype=np.float32)
    observation, _ = env.reset(seed=9)
    terminations = truncations = 0
    for step in range(6_000):
        if step % 3 == 0:
            action = rng.uniform(-1.0, 1.0, (1,)).astype(np.float32)
        else:
            action = choices[rng.integers(len(choices))][None]
        observation, reward_value, terminated, truncated, info = env.step(action)
        assert observation.dtype == np.float32 and np.isfinite(observation).all()
        assert env.observation_space.contains(observation)
        assert math.isfinite(reward_value)
        assert all(math.isfinite(info[key]) for key in INFO_KEYS)
        if terminated or truncated:
            terminations += terminated
            truncations += truncated
            observation, _ = env.reset()
            assert env.observation_space.contains(observation)
    assert terminations > 0 and truncations > 0  # bankruptcies and ends of data both happened


def test_bankruptcy_terminates_with_a_finite_penalty() -> None:
    crash_bar = 1_200
    env = TradingEnv(data=CRASH_FRAME, leverage=2.0, commission_bps=0.0, slippage_bps=0.0)
    env.reset(options={"start": crash_bar - 2})
    env.step(LONG)  # fills at crash_bar - 1's open: long 2x into the gap
    observation, reward, terminated, truncated, info = env.step(LONG)
    assert terminated and not truncated
    assert info["equity"] <= 0.0 and info["bar"] == crash_bar
    assert reward == pytest.approx(math.log(rewards.EQUITY_RATIO_FLOOR))
    assert env.observation_space.contains(observation)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(LONG)


# --- No look-ahead ---------------------------------------------------------------------------------


def test_altering_bars_after_t_changes_nothing_shown_or_done_up_to_t() -> None:
    rng = np.random.default_rng(21)
    for _ in range(6):
        cut = int(rng.integers(120, 500))  # the last bar whose data the env may have used
        altered = FRAME.copy()
        future = altered.index > altered.index[cut]
        altered.loc[future, ["open", "high", "low", "close"]] *= rng.uniform(0.3, 3.0, (future.sum(), 1))
        start = int(rng.integers(warmup_bars(30), cut - 1))
        actions = [rng.uniform(-1.0, 1.0, (1,)).astype(np.float32) for _ in range(cut - start + 1)]
        for reward in rewards.REWARD_KINDS:
            settings = {"reward": reward, "drawdown_penalty": 0.2, "leverage": 1.5}
            original = run_episode(TradingEnv(data=FRAME, **settings), 0, actions, {"start": start})
            changed = run_episode(TradingEnv(data=altered, **settings), 0, actions, {"start": start})
            # Every output whose decision bar is at most `cut` saw only bars up to `cut`.
            seen = [output for output in original if output[4]["bar"] <= cut]
            assert seen[-1][4]["bar"] == cut
            assert_outputs_equal(seen, changed[: len(seen)])
            # ...and the next step, which fills at cut + 1's open, does see the change.
            assert not np.array_equal(original[len(seen)][0], changed[len(seen)][0])


def test_features_depend_only_on_past_and_are_finite_after_warmup() -> None:
    matrix = compute_features(CRASH_FRAME, 30)
    start = warmup_bars(30)
    assert matrix.shape == (len(CRASH_FRAME), len(feature_names(30)))
    assert np.isnan(matrix[:start]).all() and np.isfinite(matrix[start:]).all()
    altered = CRASH_FRAME.copy()
    altered.iloc[1_000:, :4] *= 1.7
    assert np.array_equal(compute_features(altered, 30)[:1_000], matrix[:1_000], equal_nan=True)


# --- Accounting ------------------------------------------------------------------------------------


def test_zero_cost_long_hold_tracks_close_to_close_returns_after_the_first_fill() -> None:
    env = TradingEnv(data=FRAME, commission_bps=0.0, slippage_bps=0.0, random_start=False)
    _, info = env.reset()
    start = info["bar"]
    opens, closes = FRAME["open"].to_numpy(), FRAME["close"].to_numpy()
    equities = [info["equity"]]
    while True:
        _, _, terminated, truncated, info = env.step(LONG)
        equities.append(info["equity"])
        if terminated or truncated:
            break
    equity = np.array(equities)
    bars = np.arange(start, start + len(equity))
    # The first step buys at the next open, so it earns that bar's open-to-close return.
    assert equity[1] / equity[0] == pytest.approx(closes[start + 1] / opens[start + 1], rel=1e-12, abs=0)
    # Afterwards the equity follows the closes exactly.
    np.testing.assert_allclose(equity[2:] / equity[1:-1], closes[bars[2:]] / closes[bars[1:-1]], rtol=1e-12, atol=0)
    np.testing.assert_allclose(equity[1:] / equity[1], closes[bars[1:]] / closes[bars[1]], rtol=1e-12, atol=0)


def test_costs_equal_commission_and_slippage_on_traded_notional() -> None:
    commission_bps, slippage_bps = 4.0, 9.0
    cost_rate = (commission_bps + slippage_bps) * 1e-4
    env = TradingEnv(
        data=FRAME, commission_bps=commission_bps, slippage_bps=slippage_bps, leverage=1.5, max_steps=300
    )
    opens = FRAME["open"].to_numpy()
    closes = FRAME["close"].to_numpy()
    rng = np.random.default_rng(4)
    _, before = env.reset(seed=2)
    total = 0.0
    for _ in range(300):
        _, _, terminated, truncated, after = env.step(rng.uniform(-1.0, 1.0, (1,)).astype(np.float32))
        open_ = opens[after["bar"]]
        trade = after["trade_units"]
        assert after["traded_notional"] == pytest.approx(abs(trade) * open_, rel=1e-12)
        assert after["step_cost"] == pytest.approx(after["traded_notional"] * cost_rate, rel=1e-12)
        # Slippage moves the fill price against the trader; commission is on the notional.
        fill_price = open_ * (1.0 + math.copysign(slippage_bps * 1e-4, trade))
        paid = trade * fill_price + abs(trade) * open_ * commission_bps * 1e-4
        assert before["cash"] - after["cash"] == pytest.approx(paid, rel=1e-9, abs=1e-6)
        assert after["position_units"] == pytest.approx(before["position_units"] + trade, rel=1e-12, abs=1e-9)
        marked = after["cash"] + after["position_units"] * closes[after["bar"]]
        assert after["equity"] == pytest.approx(marked, rel=1e-12)
        total += after["step_cost"]
        assert after["total_cost"] == pytest.approx(total, rel=1e-12)
        before = after
        if terminated or truncated:
            break
    assert total > 0.0


@pytest.mark.parametrize(
    ("allow_short", "expected"), [(True, [-2.0, -1.0, 0.0, 1.0, 2.0]), (False, [0.0, 0.0, 0.0, 1.0, 2.0])]
)
def test_discrete_levels_fill_the_target_fraction_of_equity_at_the_open(
    allow_short: bool, expected: list[float]
) -> None:
    settings = {"leverage": 2.0, "allow_short": allow_short, "commission_bps": 0.0, "slippage_bps": 0.0}
    env = TradingEnv(data=FRAME, discrete=True, n_levels=5, **settings)
    opens = FRAME["open"].to_numpy()
    _, info = env.reset(seed=1)
    for level in [4, 0, 2, 3, 1, 4, 4, 0]:
        equity_at_open = info["cash"] + info["position_units"] * opens[info["bar"] + 1]
        _, _, _, _, info = env.step(np.int64(level))
        fraction_at_open = info["position_units"] * opens[info["bar"]] / equity_at_open
        assert fraction_at_open == pytest.approx(expected[level], abs=1e-12)


def test_continuous_action_is_clipped_and_scaled_by_leverage() -> None:
    env = TradingEnv(data=FRAME, leverage=3.0, commission_bps=0.0, slippage_bps=0.0, allow_short=False)
    opens = FRAME["open"].to_numpy()
    for action, expected in [(0.5, 1.5), (7.0, 3.0), (-0.5, 0.0)]:
        _, info = env.reset(seed=0)
        _, _, _, _, info = env.step(np.array([action], dtype=np.float32))
        assert info["position_units"] * opens[info["bar"]] / 100_000.0 == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.array([np.nan], dtype=np.float32))


def test_info_reports_equity_cash_position_and_costs() -> None:
    env = TradingEnv(data=FRAME, random_start=False, initial_cash=50_000.0)
    _, info = env.reset()
    assert tuple(info) == INFO_KEYS
    assert info["equity"] == info["cash"] == 50_000.0 and info["position_units"] == 0.0
    assert info["price"] == FRAME["close"].iloc[info["bar"]]
    _, _, _, _, info = env.step(np.array([-0.4], dtype=np.float32))
    assert info["position_fraction"] == pytest.approx(info["position_units"] * info["price"] / info["equity"])
    assert info["position_fraction"] == pytest.approx(-0.4, abs=0.02)
    assert info["step_cost"] == info["total_cost"] > 0.0


# --- Episodes --------------------------------------------------------------------------------------


def test_max_steps_and_end_of_data_truncate() -> None:
    env = TradingEnv(data=FRAME, max_steps=25)
    outputs = run_episode(env, 3, [LONG] * 100)
    assert len(outputs) == 26 and outputs[-1][3] and not outputs[-1][2]
    assert all(not output[3] for output in outputs[:-1])
    to_end = run_episode(TradingEnv(data=FRAME), 3, [LONG] * 1_000)
    assert to_end[-1][3] and to_end[-1][4]["bar"] == len(FRAME) - 1


def test_start_and_end_bound_the_bars_of_every_episode() -> None:
    start, end = FRAME.index[200], FRAME.index[260]
    env = TradingEnv(data=FRAME, start=start, end=end.strftime("%Y-%m-%d"))
    for seed in range(10):
        outputs = run_episode(env, seed, [LONG] * 100)
        bars = [output[4]["bar"] for output in outputs]
        assert 200 <= bars[0] and bars[-1] == 260 and outputs[-1][3]
    fixed = TradingEnv(data=FRAME, start=start, end=end, random_start=False)
    assert fixed.reset()[1]["bar"] == 200


def test_reset_options_pin_the_start_by_bar_or_time() -> None:
    env = TradingEnv(data=FRAME, max_steps=10)
    assert env.reset(seed=1, options={"start": 300})[1]["bar"] == 300
    assert env.reset(options={"start": FRAME.index[321]})[1]["bar"] == 321
    assert env.reset(options={"start": str(FRAME.index[400].date())})[1]["bar"] == 400
    with pytest.raises(ConfigError, match="options\\['start'\\].*10"):
        env.reset(options={"start": 10})
    with pytest.raises(ConfigError, match="'begin'"):
        env.reset(options={"begin": 300})


# --- Observation layout ----------------------------------------------------------------------------


def test_observation_index_reads_the_named_feature() -> None:
    window = 12
    env = TradingEnv(data=FRAME, window=window, commission_bps=0.0, slippage_bps=0.0)
    names = observation_names(window)
    assert len(names) == env.observation_space.shape[0] == len(set(names))
    assert env.observation_names == names
    assert [observation_index(name) for name in names] == list(range(len(names)))
    assert observation_index("sma_ratio_fast_slow") == OBSERVATION_INDEX["sma_ratio_fast_slow"] == 0
    features = compute_features(FRAME, window)
    feature_column = dict(zip(feature_names(window), range(features.shape[1])))
    observation, info = env.reset(seed=8)
    for _ in range(30):
        bar = info["bar"]
        for name in ("sma_ratio_fast_slow", "zscore_close_20", "volatility_20", "rsi_14", "ret_0", "ret_11"):
            assert observation[observation_index(name)] == np.float32(features[bar, feature_column[name]])
        close_change = FRAME["close"].iloc[bar] - FRAME["close"].iloc[bar - 1]
        assert np.sign(observation[observation_index("ret_0")]) == np.sign(close_change) != 0.0
        assert observation[observation_index("position_fraction")] == np.float32(info["position_fraction"])
        assert observation[observation_index("equity_return")] == np.float32(info["equity"] / 100_000.0 - 1.0)
        observation, _, _, _, info = env.step(LONG)
    with pytest.raises(KeyError, match="nonsense"):
        observation_index("nonsense")


# --- Rewards ---------------------------------------------------------------------------------------


def test_differential_sharpe_matches_moody_and_saffell_recursion() -> None:
    returns = np.random.default_rng(3).normal(0.001, 0.01, 200)
    eta = 0.05
    state = rewards.DifferentialSharpeState(0.0, 0.0)
    mean = second = 0.0
    for value in returns:
        reward, state = rewards.differential_sharpe(value, state, eta, rewards.SCALAR_MATH)
        variance = second - mean**2
        expected = 0.0 if variance <= rewards.VARIANCE_FLOOR else (
            second * (value - mean) - 0.5 * mean * (value**2 - second)
        ) / variance**1.5
        assert reward == pytest.approx(expected, rel=1e-12, abs=1e-15)
        mean, second = mean + eta * (value - mean), second + eta * (value**2 - second)
        assert state == pytest.approx((mean, second), rel=1e-12)
    batch, _ = rewards.differential_sharpe(returns, rewards.DifferentialSharpeState(returns * 0.1, returns**2), eta)
    assert batch.shape == returns.shape and np.isfinite(batch).all()


@pytest.mark.parametrize("reward", rewards.REWARD_KINDS)
def test_step_rewards_equal_the_reward_functions_on_the_equity_path(reward: str) -> None:
    """TradingEnv.step spells the reward formulas out in floats; they must give what rewards.* gives."""
    eta, weight = 0.05, 0.7
    env = TradingEnv(data=CRASH_FRAME, reward=reward, sharpe_eta=eta, drawdown_penalty=weight, leverage=3.0)
    rng = np.random.default_rng(8)
    actions = [rng.uniform(-1.0, 1.0, (1,)).astype(np.float32) for _ in range(400)]
    outputs = run_episode(env, 0, actions, {"start": 1_050})  # through the gap at bar 1,200
    equity = [output[4]["equity"] for output in outputs]
    state = rewards.DifferentialSharpeState(0.0, 0.0)
    peak = equity[0]
    for before, after, output in zip(equity, equity[1:], outputs[1:]):
        if reward == rewards.LOG_RETURN:
            expected = rewards.log_return(before, after, rewards.SCALAR_MATH)
        elif reward == rewards.PNL:
            expected = rewards.pnl(before, after, 100_000.0)
        else:
            expected, state = rewards.differential_sharpe(after / before - 1.0, state, eta, rewards.SCALAR_MATH)
        next_peak = max(peak, after)
        deepening = rewards.drawdown_penalty(
            rewards.drawdown(before, peak), rewards.drawdown(after, next_peak), weight, rewards.SCALAR_MATH
        )
        assert output[1] == expected - deepening
        peak = next_peak
    assert outputs[-1][2]  # the leveraged account went bankrupt on the way


def test_reward_kinds_follow_equity_and_penalise_deepening_drawdowns() -> None:
    settings = {"data": FRAME, "max_steps": 80, "commission_bps": 2.0}
    actions = [np.array([a], dtype=np.float32) for a in np.random.default_rng(6).uniform(-1, 1, 80)]
    log_run = run_episode(TradingEnv(reward="log_return", **settings), 5, actions)
    pnl_run = run_episode(TradingEnv(reward="pnl", **settings), 5, actions)
    penalised = run_episode(TradingEnv(reward="log_return", drawdown_penalty=2.0, **settings), 5, actions)
    equity = np.array([output[4]["equity"] for output in log_run])
    np.testing.assert_allclose([o[1] for o in log_run[1:]], np.log(equity[1:] / equity[:-1]), rtol=1e-12)
    np.testing.assert_allclose([o[1] for o in pnl_run[1:]], np.diff(equity) / 100_000.0, rtol=1e-9, atol=1e-15)
    peak = np.maximum.accumulate(equity)
    drawdown = 1.0 - equity / peak
    penalty = 2.0 * np.maximum(np.diff(drawdown), 0.0)
    expected = np.log(equity[1:] / equity[:-1]) - penalty
    np.testing.assert_allclose([o[1] for o in penalised[1:]], expected, rtol=1e-9, atol=1e-15)
    assert penalty.sum() >= 2.0 * drawdown.max() - 1e-12


# --- Settings --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("window", 0),
        ("window", "30"),
        ("commission_bps", -1.0),
        ("slippage_bps", float("nan")),
        ("allow_short", "yes"),
        ("leverage", 0.0),
        ("leverage", 11.0),
        ("reward", "sharpe"),
        ("drawdown_penalty", -0.1),
        ("sharpe_eta", 1.0),
        ("max_steps", 0),
        ("random_start", 1),
        ("start", "not a date"),
        ("initial_cash", 0.0),
        ("discrete", "no"),
        ("n_levels", 1),
        ("data", 42),
        ("windw", 30),
    ],
)
def test_config_errors_name_the_key_and_value(key: str, value: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        TradingEnvConfig.from_mapping({key: value})
    assert key in str(caught.value) and repr(value) in str(caught.value)
    settings = {"data": FRAME, key: value}
    with pytest.raises(ConfigError, match=key):
        TradingEnv(**settings)


@pytest.mark.parametrize(
    ("frame", "settings", "message"),
    [
        (FRAME.drop(columns="close"), {}, "'close'"),
        (FRAME.reset_index(drop=True), {}, "DatetimeIndex"),
        (FRAME.iloc[::-1], {}, "increasing"),
        (FRAME.assign(open=FRAME["open"].where(FRAME.index != FRAME.index[7], -1.0)), {}, "-1.0"),
        (FRAME.iloc[:40], {}, "40 bars"),
        (FRAME, {"max_steps": 10_000}, "max_steps.*10000"),
        (FRAME, {"start": "2030-01-01"}, "start=2030-01-01"),
        (FRAME, {"start": "2001-01-01", "end": "2000-06-01"}, "start must be before end"),
    ],
)
def test_bad_data_and_bounds_raise_config_errors_naming_them(
    frame: pd.DataFrame, settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        TradingEnv(data=frame, **settings)


def test_env_accepts_a_config_a_mapping_or_keywords() -> None:
    config = TradingEnvConfig(data=FRAME, window=10, max_steps=20)
    from_config = TradingEnv(config)
    from_mapping = TradingEnv({"data": FRAME, "window": 10, "max_steps": 20})
    from_keywords = TradingEnv(data=FRAME, window=10, max_steps=20)
    overridden = TradingEnv(config, window=7)
    assert from_config.config == from_mapping.config == from_keywords.config
    assert overridden.config.window == 7 and overridden.observation_space.shape == (15,)
    actions = [LONG] * 30
    assert_outputs_equal(run_episode(from_config, 1, actions), run_episode(from_mapping, 1, actions))
    assert TradingEnvConfig.from_mapping(config.to_dict()) == config
    with pytest.raises(ConfigError, match="render_mode"):
        TradingEnv(data=FRAME, render_mode="human")
    with pytest.raises(ConfigError, match="config must be"):
        TradingEnv(config=[("window", 3)])  # type: ignore[arg-type]


def test_config_is_frozen_and_normalises_numbers() -> None:
    config = TradingEnvConfig(leverage=2, commission_bps=3, start="2001-02-03")
    assert config.leverage == 2.0 and isinstance(config.leverage, float)
    assert config.start == pd.Timestamp("2001-02-03")
    with pytest.raises(AttributeError):
        config.leverage = 3.0  # type: ignore[misc]


def test_data_path_is_read_with_the_data_layer(tmp_path: Any) -> None:
    path = tmp_path / "prices.csv"
    FRAME.to_csv(path)
    actions = [np.array([a], dtype=np.float32) for a in np.random.default_rng(1).uniform(-1, 1, 60)]
    from_path = run_episode(TradingEnv(data=str(path), max_steps=60), 3, actions)
    from_frame = run_episode(TradingEnv(data=FRAME, max_steps=60), 3, actions)
    assert_outputs_equal(from_path, from_frame)
    with pytest.raises(MarketError, match="missing.csv"):
        TradingEnv(data=tmp_path / "missing.csv")


def test_default_data_is_the_bundled_daily_sample() -> None:
    from market.data import load_sample

    env = TradingEnv()
    pd.testing.assert_frame_equal(env.prices, load_sample("daily"))
