"""Bad actions and bad price files: one clear error, at once, never a hang or a silent guess."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import market.envs  # noqa: F401  (registers the envs)
from market import limits
from market.data import load_prices, sample_path, synthetic
from market.envs.trading import TradingEnv, TradingEnvConfig, TradingVectorEnv
from market.errors import ActionError, ConfigError, DataError, ResetNeeded


# ---------------------------------------------------------------------------- actions
@pytest.mark.parametrize("action", [np.array([0.1, 0.2, 0.3], dtype=np.float32), np.array([[0.5]], dtype=np.float32), "0.5", 0.5, [0.5, 0.5]])
def test_a_continuous_action_of_another_shape_or_type_is_refused_naming_the_shape(action):
    env = gym.make("market/Trading-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(ActionError, match=r"shape \(1,\)"):
        env.step(action)


def test_a_continuous_action_of_the_right_shape_is_taken_whatever_its_float_or_int_type():
    env = gym.make("market/Trading-v0").unwrapped
    for action in (np.array([0.5], dtype=np.float32), np.array([0.5]), [0.5], np.array([1])):
        env.reset(seed=0)
        _, _, _, _, info = env.step(action)
        assert info["position_units"] > 0


@pytest.mark.parametrize("action", [1.5, True, "1", np.array([1, 2]), np.array([1.0])])
def test_a_discrete_action_that_is_not_one_integer_level_is_refused(action):
    env = gym.make("market/TradingDiscrete-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(ActionError, match="integer level"):
        env.step(action)


def test_a_discrete_level_is_taken_from_a_python_or_numpy_integer():
    env = gym.make("market/TradingDiscrete-v0").unwrapped
    positions = []
    for action in (2, np.int64(2), np.array(2), np.array([2])):
        env.reset(seed=0)
        positions.append(env.step(action)[4]["position_units"])
    assert len(set(positions)) == 1 and positions[0] > 0


def test_stepping_before_reset_raises_reset_needed_in_both_trading_envs():
    with pytest.raises(ResetNeeded, match="reset"):
        TradingEnv().step(np.array([0.5], dtype=np.float32))
    with pytest.raises(ResetNeeded, match="reset"):
        TradingVectorEnv(num_envs=2).step(np.zeros((2, 1), dtype=np.float32))


@pytest.mark.parametrize("actions", [np.zeros((3, 1), dtype=np.float32), np.zeros((2, 2), dtype=np.float32), np.array([["a"], ["b"]])])
def test_the_vector_env_refuses_a_batch_of_the_wrong_shape_naming_it(actions):
    envs = TradingVectorEnv(num_envs=2)
    envs.reset(seed=0)
    with pytest.raises(ActionError, match=r"shape \(2, 1\)"):
        envs.step(actions)


# ---------------------------------------------------------------------------- price files
def load_within(path: Path, seconds: float = 10.0) -> BaseException | None:
    """Load ``path`` in a thread; return what it raised, failing the test if it does not finish."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            load_prices(path)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001  (the test inspects it)
            outcome.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"loading {path} did not finish (it blocks)"
    return outcome[0]


def test_a_fifo_given_as_a_price_file_is_refused_at_once_without_blocking(tmp_path):
    fifo = tmp_path / "prices.csv"
    os.mkfifo(fifo)
    error = load_within(fifo)
    assert isinstance(error, DataError) and "is a FIFO (named pipe), not a regular file" in str(error)


def test_a_device_given_as_a_price_file_is_refused(tmp_path):
    link = tmp_path / "zeros.csv"
    link.symlink_to("/dev/zero")  # a device behind a .csv name: reading it would never end
    error = load_within(link)
    assert isinstance(error, DataError) and "is a device or socket" in str(error)


def test_a_price_file_over_the_size_limit_is_refused_with_its_size(tmp_path):
    big = tmp_path / "big.csv"
    with big.open("wb") as file:  # sparse: no disk space, no time
        file.truncate(limits.MAX_FILE_BYTES + 1)
    error = load_within(big)
    assert isinstance(error, DataError)
    assert f"{limits.MAX_FILE_BYTES + 1:,} bytes is over the limit of {limits.MAX_FILE_BYTES:,}" in str(error)


def test_a_price_path_longer_than_the_system_allows_is_one_line(tmp_path):
    error = load_within(tmp_path / ("p" * 400 + ".csv"))
    assert isinstance(error, DataError) and "File name too long" in str(error) and "characters)" in str(error)


def test_too_few_bars_for_an_episode_names_the_file_and_what_is_needed(tmp_path):
    short = tmp_path / "short.csv"
    short.write_text("\n".join(sample_path().read_text().splitlines()[:4]) + "\n")
    with pytest.raises(ConfigError) as caught:
        TradingEnv(data=str(short), window=5)
    assert f"data ({short}) has 3 bars" in str(caught.value) and "needs at least" in str(caught.value)


# ---------------------------------------------------------------------------- sizes and generators
def test_windows_steps_and_bars_beyond_their_limits_are_refused():
    with pytest.raises(ConfigError, match=f"window: 1,000,000 is over the limit of {limits.MAX_WINDOW:,}"):
        TradingEnvConfig(window=1_000_000)
    with pytest.raises(ConfigError, match="max_steps: 1,000,000,000,000 is over the limit"):
        TradingEnvConfig(max_steps=10**12)
    with pytest.raises(ConfigError, match=f"gbm: n = 1,000,000,000 bars is over the limit of {limits.MAX_BARS:,}"):
        synthetic.generate("gbm", np.random.default_rng(0), 10**9)


def test_a_misspelt_generator_parameter_gets_a_did_you_mean():
    with pytest.raises(ConfigError, match=r"ou: unknown parameter 'thetaa'.*\(did you mean 'theta'\?\)"):
        synthetic.generate("ou", np.random.default_rng(0), 10, thetaa=1.0)
