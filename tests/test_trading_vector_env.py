"""Properties of TradingVectorEnv: it equals N TradingEnvs, follows the VectorEnv contract, and is safe."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers.vector import DictInfoToList

import market.envs
from market.envs import DISCRETE_ENV_ID, ENV_ID, INFO_KEYS, TradingEnv, TradingEnvConfig, TradingVectorEnv
from market.errors import ConfigError


def price_frame(
    n_bars: int, seed: int, shocks: dict[int, float] | None = None, intrabar_shocks: dict[int, float] | None = None
) -> pd.DataFrame:
    """A seeded daily OHLCV frame of geometric Brownian motion.

    ``shocks`` gap all prices from a bar's open on; ``intrabar_shocks`` move them from a bar's close on,
    so that bar opens as usual and closes far away (a position held through it goes bust at the close).
    """
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.012, n_bars)))
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(rng.normal(0.0, 0.003, n_bars))
    for bar, factor in (shocks or {}).items():
        close[bar:] *= factor
        open_[bar:] *= factor
    for bar, factor in (intrabar_shocks or {}).items():
        close[bar:] *= factor
        open_[bar + 1 :] *= factor
    wick = np.abs(rng.normal(0.0, 0.004, (2, n_bars)))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * np.exp(wick[0]),
            "low": np.minimum(open_, close) * np.exp(-wick[1]),
            "close": close,
        },
        index=pd.bdate_range("2000-01-03", periods=n_bars, name="time"),
    )


FRAME = price_frame(400, seed=1)
INTRABAR_CRASH_BAR = 300
CRASH_FRAME = price_frame(
    1_500, seed=2, shocks={500: 0.35, 900: 2.6, 1_200: 0.5}, intrabar_shocks={INTRABAR_CRASH_BAR: 0.6}
)

SCENARIOS = {
    "continuous": {"data": FRAME, "max_steps": 37, "commission_bps": 3.0},
    "continuous to end of data": {"data": FRAME, "reward": "pnl"},
    "discrete with bankruptcies": {
        "data": CRASH_FRAME,
        "discrete": True,
        "n_levels": 5,
        "leverage": 2.5,
        "reward": "differential_sharpe",
        "drawdown_penalty": 0.5,
        "max_steps": 150,
    },
    "continuous leveraged with bankruptcies": {
        "data": CRASH_FRAME,
        "leverage": 3.0,
        "allow_short": False,
        "max_steps": 250,
    },
    "continuous sharpe and drawdown penalty with bankruptcies": {
        "data": CRASH_FRAME,
        "leverage": 4.0,
        "reward": "differential_sharpe",
        "sharpe_eta": 0.05,
        "drawdown_penalty": 1.5,
        "max_steps": 300,
    },
    "continuous log return and drawdown penalty with bankruptcies": {
        "data": CRASH_FRAME,
        "leverage": 2.0,
        "drawdown_penalty": 0.8,
        "commission_bps": 5.0,
        "slippage_bps": 0.0,
        "max_steps": 400,
    },
    "discrete long only pnl and drawdown penalty": {
        "data": FRAME,
        "discrete": True,
        "n_levels": 4,
        "allow_short": False,
        "reward": "pnl",
        "drawdown_penalty": 0.2,
        "random_start": False,
        "max_steps": 60,
        "initial_cash": 2_500.0,
    },
}


def random_actions(space: gym.Space, steps: int, seed: int) -> list[np.ndarray]:
    """Seeded batches of actions; continuous ones include values beyond [-1, 1]."""
    space.seed(seed)
    actions = [space.sample() for _ in range(steps)]
    if isinstance(space, gym.spaces.Box):
        actions = [3.0 * action for action in actions]
    return actions


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_vector_env_equals_single_envs_stepped_one_by_one(scenario: str) -> None:
    """The two implementations of the dynamics (floats in TradingEnv, arrays in TradingVectorEnv) agree."""
    settings = SCENARIOS[scenario]
    num_envs, seed, steps = 4, 30, 400
    vector = TradingVectorEnv(num_envs=num_envs, **settings)
    singles = [TradingEnv(**settings) for _ in range(num_envs)]
    observations, infos = vector.reset(seed=seed)
    expected = [single.reset(seed=seed + i) for i, single in enumerate(singles)]
    ended = [False] * num_envs
    episode_ends = bankruptcies = 0
    for batch in random_actions(vector.action_space, steps, seed):
        for i, single in enumerate(singles):
            observation, info = expected[i][0], expected[i][-1]
            np.testing.assert_array_equal(observations[i], observation)
            for key in INFO_KEYS:
                assert infos[key][i] == info[key], key
                assert infos[f"_{key}"][i]
        observations, rewards, terminations, truncations, infos = vector.step(batch)
        for i, single in enumerate(singles):
            if ended[i]:
                # Next-step autoreset: the sub-env's new episode starts, its action is ignored.
                expected[i] = (*single.reset(),)
                assert rewards[i] == 0.0 and not terminations[i] and not truncations[i]
                ended[i] = False
            else:
                expected[i] = single.step(batch[i])
                _, reward, terminated, truncated, _ = expected[i]
                # The state is bitwise equal; numpy's log and pow may differ from math's in the last bit.
                assert rewards[i] == pytest.approx(reward, rel=1e-12, abs=1e-15)
                assert (terminations[i], truncations[i]) == (terminated, truncated)
                ended[i] = terminated or truncated
                episode_ends += ended[i]
                bankruptcies += terminated
    assert episode_ends >= num_envs  # autoresets were exercised
    if "bankruptcies" in scenario:
        assert bankruptcies > 0


def test_account_bankrupt_at_the_close_reports_no_position_fraction() -> None:
    """A 4x long held through a 40% intrabar fall still holds units when its equity is gone."""
    settings = {"data": CRASH_FRAME, "leverage": 4.0, "commission_bps": 0.0, "slippage_bps": 0.0}
    start = INTRABAR_CRASH_BAR - 2  # the second fill is at the crash bar's (normal) open
    vector = TradingVectorEnv(num_envs=2, **settings)
    single = TradingEnv(**settings)
    vector.reset(seed=0, options={"start": start})
    single.reset(seed=0, options={"start": start})
    long = np.ones((2, 1), dtype=np.float32)
    for _ in range(2):
        observations, rewards, terminations, _, infos = vector.step(long)
        observation, reward, terminated, _, info = single.step(long[0])
    assert terminations.all() and terminated and info["bar"] == INTRABAR_CRASH_BAR
    assert (infos["position_units"] > 0.0).all() and (infos["equity"] < 0.0).all()
    np.testing.assert_array_equal(infos["position_fraction"], [0.0, 0.0])
    assert info["position_fraction"] == 0.0 and info["position_units"] == infos["position_units"][0]
    np.testing.assert_array_equal(observations, [observation, observation])
    assert observation in single.observation_space
    assert observation[market.envs.OBSERVATION_INDEX["position_fraction"]] == 0.0
    assert observation[market.envs.OBSERVATION_INDEX["equity_return"]] == -1.0
    assert observation[market.envs.OBSERVATION_INDEX["drawdown"]] == 1.0
    assert rewards[0] == pytest.approx(reward, rel=1e-12)


def test_vector_entry_point_equals_gymnasium_sync_vector_env() -> None:
    """Gymnasium's own SyncVectorEnv of TradingEnvs (its next-step autoreset included) is the reference."""
    settings = SCENARIOS["discrete with bankruptcies"]
    ours = gym.make_vec(DISCRETE_ENV_ID, num_envs=3, vectorization_mode="vector_entry_point", **settings)
    reference = gym.make_vec(DISCRETE_ENV_ID, num_envs=3, vectorization_mode="sync", **settings)
    assert isinstance(ours, TradingVectorEnv) and isinstance(reference, gym.vector.SyncVectorEnv)
    assert reference.metadata["autoreset_mode"] == ours.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP

    def assert_same(observations: tuple[np.ndarray, ...], infos: tuple[dict[str, Any], ...]) -> None:
        np.testing.assert_array_equal(*observations)
        for key in INFO_KEYS:
            np.testing.assert_array_equal(infos[0][key], infos[1][key])
            np.testing.assert_array_equal(infos[0][f"_{key}"], infos[1][f"_{key}"])

    (obs_a, info_a), (obs_b, info_b) = ours.reset(seed=5), reference.reset(seed=5)
    assert_same((obs_a, obs_b), (info_a, info_b))
    episode_ends = 0
    for batch in random_actions(ours.action_space, 600, 6):
        obs_a, reward_a, terminated_a, truncated_a, info_a = ours.step(batch)
        obs_b, reward_b, terminated_b, truncated_b, info_b = reference.step(batch)
        assert_same((obs_a, obs_b), (info_a, info_b))
        np.testing.assert_allclose(reward_a, reward_b, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(terminated_a, terminated_b)
        np.testing.assert_array_equal(truncated_a, truncated_b)
        episode_ends += int(terminated_a.sum() + truncated_a.sum())
    assert episode_ends > 3


def test_make_vec_with_vector_entry_point_returns_a_trading_vector_env() -> None:
    envs = gym.make_vec(ENV_ID, num_envs=4, vectorization_mode="vector_entry_point")
    assert isinstance(envs, TradingVectorEnv) and envs.num_envs == 4
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.single_action_space == gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    assert envs.action_space == gym.vector.utils.batch_space(envs.single_action_space, 4)
    assert envs.observation_space == gym.vector.utils.batch_space(envs.single_observation_space, 4)
    assert envs.single_observation_space == gym.make(ENV_ID).observation_space
    discrete = gym.make_vec(DISCRETE_ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", data=FRAME)
    assert discrete.action_space == gym.spaces.MultiDiscrete([3, 3])
    observations, infos = envs.reset(seed=0)
    assert observations in envs.observation_space and set(INFO_KEYS) <= set(infos)
    envs.close()


@pytest.mark.parametrize("scenario", ["discrete with bankruptcies", "continuous leveraged with bankruptcies"])
def test_vector_observations_and_rewards_stay_finite_and_in_space(scenario: str) -> None:
    envs = TradingVectorEnv(num_envs=16, **SCENARIOS[scenario])
    observations, _ = envs.reset(seed=1)
    terminations = 0
    for batch in random_actions(envs.action_space, 500, 2):
        assert observations.dtype == np.float32 and observations in envs.observation_space
        observations, rewards, terminated, truncated, infos = envs.step(batch)
        assert rewards.dtype == np.float64 and np.isfinite(rewards).all()
        assert terminated.dtype == truncated.dtype == np.bool_
        assert all(np.isfinite(infos[key]).all() for key in INFO_KEYS)
        terminations += int(terminated.sum())
    assert terminations > 0


def test_seeded_vector_runs_are_identical() -> None:
    settings = SCENARIOS["continuous"]
    first, second = TradingVectorEnv(num_envs=8, **settings), TradingVectorEnv(num_envs=8, **settings)
    outputs = [env.reset(seed=12) for env in (first, second)]
    for batch in random_actions(first.action_space, 200, 3):
        (obs_a, *rest_a), (obs_b, *rest_b) = outputs
        np.testing.assert_array_equal(obs_a, obs_b)
        for value_a, value_b in zip(rest_a[:-1], rest_b[:-1]):
            np.testing.assert_array_equal(value_a, value_b)
        assert rest_a[-1].keys() == rest_b[-1].keys()
        for key in rest_a[-1]:
            np.testing.assert_array_equal(rest_a[-1][key], rest_b[-1][key])
        outputs = [first.step(batch), second.step(batch)]


def test_infos_convert_to_per_env_dicts_as_rllib_reads_them() -> None:
    envs = DictInfoToList(TradingVectorEnv(num_envs=3, data=FRAME, max_steps=5))
    singles = [TradingEnv(data=FRAME, max_steps=5) for _ in range(3)]
    _, infos = envs.reset(seed=2)
    assert infos == [single.reset(seed=2 + i)[1] for i, single in enumerate(singles)]
    batch = np.full((3, 1), 0.5, dtype=np.float32)
    _, _, _, _, infos = envs.step(batch)
    assert infos == [single.step(batch[i])[-1] for i, single in enumerate(singles)]


def test_vector_env_accepts_rllib_style_config_with_num_envs() -> None:
    envs = TradingVectorEnv({"num_envs": 3, "data": FRAME, "window": 10})
    assert envs.num_envs == 3 and envs.observation_space.shape == (3, 18)
    config = TradingEnvConfig(data=FRAME, window=10)
    assert TradingVectorEnv(config, num_envs=2).config == config
    with pytest.raises(ConfigError, match="num_envs.*0"):
        TradingVectorEnv(num_envs=0, data=FRAME)
    with pytest.raises(ConfigError, match="num_envs given twice"):
        TradingVectorEnv({"num_envs": 3, "data": FRAME}, num_envs=2)
    with pytest.raises(ConfigError, match="levarage: unknown key"):
        TradingVectorEnv(num_envs=2, data=FRAME, levarage=2.0)


def test_vector_reset_options_pin_starts_per_env() -> None:
    envs = TradingVectorEnv(num_envs=3, data=FRAME, max_steps=10)
    _, infos = envs.reset(seed=0, options={"start": [100, 150, FRAME.index[200]]})
    np.testing.assert_array_equal(infos["bar"], [100, 150, 200])
    _, infos = envs.reset(options={"start": 120})
    np.testing.assert_array_equal(infos["bar"], [120, 120, 120])
    with pytest.raises(ConfigError, match="3 starts"):
        envs.reset(options={"start": [100, 150]})
    with pytest.raises(ConfigError, match="seed"):
        envs.reset(seed=[1, 2])


def test_vector_env_rejects_nan_and_out_of_range_actions() -> None:
    continuous = TradingVectorEnv(num_envs=2, data=FRAME)
    continuous.reset(seed=0)
    with pytest.raises(ValueError, match="NaN"):
        continuous.step(np.array([[0.5], [np.nan]], dtype=np.float32))
    discrete = TradingVectorEnv(num_envs=2, data=FRAME, discrete=True)
    discrete.reset(seed=0)
    for bad in ([0, 3], [-1, 0]):
        with pytest.raises(ValueError, match="levels"):
            discrete.step(np.array(bad))
    with pytest.raises(RuntimeError, match="reset"):
        TradingVectorEnv(num_envs=2, data=FRAME).step(np.zeros((2, 1), dtype=np.float32))


def test_values_handed_out_in_infos_are_not_changed_by_later_steps() -> None:
    envs = TradingVectorEnv(num_envs=4, data=FRAME, max_steps=3)
    envs.reset(seed=0)
    kept: list[dict[str, Any]] = []
    snapshots: list[dict[str, np.ndarray]] = []
    for _ in range(12):  # crosses several autoresets
        *_, infos = envs.step(np.full((4, 1), 0.7, dtype=np.float32))
        kept.append(infos)
        snapshots.append({key: np.array(infos[key], copy=True) for key in INFO_KEYS})
    for infos, snapshot in zip(kept, snapshots):
        for key in INFO_KEYS:
            np.testing.assert_array_equal(infos[key], snapshot[key])
    assert math.isfinite(float(kept[-1]["equity"].sum()))
