"""Training on RLlib: every builder trains, runs checkpoint and resume, trained policies act without a cluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from market.agents.trained import load_policy  # noqa: E402
from market.errors import ConfigError  # noqa: E402
from market.records import RunReader  # noqa: E402
from market.training.configs import TrainingConfig, build_config, learning_modules, stop_algorithm  # noqa: E402
from market.training.runner import StopConfig, train  # noqa: E402

MARKET = str(Path(sys.executable).with_name("market"))
CHECKPOINT = Path(__file__).parent / "data" / "ppo_trading_checkpoint"
TINY_TRADING = {"window": 10, "max_steps": 100, "end": "2020-12-31"}
TINY_MARKET = {
    "populations": [
        {"name": "maker", "role": "maker", "count": 2},
        {"name": "taker", "role": "taker", "count": 2},
        {"name": "noise", "role": "taker", "count": 2, "policy": "noise"},
    ],
    "max_steps": 50,
}


pytestmark = pytest.mark.usefixtures("ray_session")  # one Ray session for this module (tests/conftest.py)


@pytest.mark.parametrize(
    "settings",
    [
        TrainingConfig(algo="ppo", env_config=TINY_TRADING, train_batch_size=400, minibatch_size=100, num_epochs=1, hidden=(16,)),
        TrainingConfig(algo="sac", env_config=TINY_TRADING, train_batch_size=64, hidden=(16,), training_intensity=0.1),
        TrainingConfig(algo="dqn", env_config=TINY_TRADING, train_batch_size=64, hidden=(16,), training_intensity=0.1),
        TrainingConfig(algo="ppo", env="market", env_config=TINY_MARKET, train_batch_size=200, minibatch_size=50, num_epochs=1, hidden=(16,)),
        TrainingConfig(algo="sac", env="market", env_config=TINY_MARKET, train_batch_size=64, hidden=(16,), training_intensity=0.1),
    ],
    ids=["ppo-trading", "sac-trading", "dqn-trading-discrete", "ppo-market", "sac-market"],
)
def test_each_builder_trains_its_modules(settings):
    algo = build_config(settings).build_algo()
    try:
        result = algo.train()
        assert result["env_runners"]["num_env_steps_sampled_lifetime"] > 0
        for module in learning_modules(settings):
            assert algo.get_module(module) is not None
    finally:
        stop_algorithm(algo)


def test_market_modules_are_one_per_learning_population_or_per_agent():
    shared = TrainingConfig(env="market", env_config=TINY_MARKET)
    independent = TrainingConfig(env="market", env_config=TINY_MARKET, sharing="agent")
    assert learning_modules(shared) == ["maker", "taker"]
    assert learning_modules(independent) == ["maker_0", "maker_1", "taker_0", "taker_1"]


def test_resume_continues_iterations_and_curves(tmp_path):
    settings = TrainingConfig(env_config=TINY_TRADING, eval_env_config={"start": "2021-01-01", "end": None}, train_batch_size=400, minibatch_size=100, num_epochs=1, hidden=(16,))
    first = train(settings, StopConfig(iterations=2), out=tmp_path, name="first", checkpoint_every=1)
    assert (tmp_path / "checkpoints" / "first" / "iter_000001").is_dir()
    second = train(settings, StopConfig(iterations=3), out=tmp_path, name="second", resume=first.checkpoint)
    assert second.iterations == 3
    curve = RunReader(second.run_path).read("training")
    assert sorted(set(curve["iteration"])) == [1, 2, 3]
    record = RunReader(first.run_path)
    assert set(record.tables) >= {"training", "steps"}
    assert set(record.read("steps")["agent"]) == {"trained", "buy_and_hold"}
    assert np.isfinite(record.metrics["sharpe_ratio"])


def test_resume_refuses_a_checkpoint_of_another_algorithm(tmp_path):
    with pytest.raises(ConfigError, match="the checkpoint trained ppo on the trading env, not sac"):
        train(TrainingConfig(algo="sac", env_config=TINY_TRADING), StopConfig(iterations=1), out=tmp_path, name="x", resume=CHECKPOINT)


def test_kept_checkpoint_still_loads_in_a_fresh_process_without_ray():
    code = (
        "import numpy as np, sys\n"
        "from market.agents.trained import load_policy\n"
        f"p = load_policy({str(CHECKPOINT)!r})\n"
        "a = p.act(np.zeros(p.observation_space.shape, np.float32), np.random.default_rng(0))\n"
        "import ray\n"
        "assert not ray.is_initialized()\n"
        "print(a.shape, float(a[0]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("(1,)")


def test_trained_policy_is_deterministic_and_inside_the_space():
    policy = load_policy(CHECKPOINT)
    obs = np.random.default_rng(1).uniform(-1, 1, policy.observation_space.shape).astype(np.float32)
    first = policy.act(obs, np.random.default_rng(0))
    assert np.array_equal(first, policy.act(obs, np.random.default_rng(99)))
    assert policy.action_space.contains(first)


def test_exploring_policy_samples_its_gaussian_with_the_given_stream():
    mode = load_policy(CHECKPOINT)
    policy = load_policy(CHECKPOINT, explore=True)
    obs = np.random.default_rng(1).uniform(-1, 1, policy.observation_space.shape).astype(np.float32)
    draws = np.array([policy.act(obs, rng) for rng in (np.random.default_rng(s) for s in range(400))])
    assert np.array_equal(policy.act(obs, np.random.default_rng(7)), policy.act(obs, np.random.default_rng(7)))  # the stream decides
    inside = draws[np.abs(draws[:, 0]) < 1.0, 0]
    assert len(inside) > 100 and len(np.unique(inside)) == len(inside)  # continuous draws, not one action
    assert all(policy.action_space.contains(d) for d in draws)
    # clipping at the bounds keeps the median: it is the mode's
    centre = float(mode.act(obs, np.random.default_rng(0))[0])
    assert abs(centre) < 0.9
    assert np.median(draws[:, 0]) == pytest.approx(centre, abs=0.15)


def test_stopping_an_algorithm_removes_the_empty_folder_rllib_made_for_it():
    from ray.train.constants import DEFAULT_STORAGE_PATH

    from market.training.configs import build_algorithm

    algo = build_algorithm(TrainingConfig(env_config=TINY_TRADING, train_batch_size=64, minibatch_size=32, num_epochs=1, num_envs_per_env_runner=2))
    logdir = Path(algo.logdir)
    algo.train()
    assert logdir.parent == Path(DEFAULT_STORAGE_PATH) and logdir.is_dir()
    stop_algorithm(algo)
    assert not logdir.exists()


def test_sac_runs_repeat_exactly_with_one_seed():
    from market.training.configs import build_algorithm

    weights = []
    for _ in range(2):
        algo = build_algorithm(TrainingConfig(algo="sac", env_config=TINY_TRADING, train_batch_size=64, num_envs_per_env_runner=4, seed=5))
        try:
            for _ in range(13):  # past the 1,000 steps sampled before learning starts
                result = algo.train()
            assert result["learners"]["default_policy"]["num_module_steps_trained_lifetime"] > 0
            module = algo.learner_group._learner.module["default_policy"]
            weights.append({k: v.detach().clone() for k, v in module.state_dict().items()})
        finally:
            stop_algorithm(algo)
    for name, value in weights[0].items():
        assert np.array_equal(value.numpy(), weights[1][name].numpy()), name


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MARKET, *args], capture_output=True, text=True, timeout=300, cwd=cwd, check=False)


def test_backtest_command_runs_a_checkpoint(tmp_path):
    result = cli("backtest", "--policy", str(CHECKPOINT), "--json", "--out", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert '"policy": "trained"' in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--algo", "ppx"], "algo: expected one of ['ppo', 'sac', 'dqn', 'appo'], got 'ppx'"),
        (["train", "--env", "market", "--algo", "dqn"], "dqn needs discrete actions"),
        (["train", "--resume", "missing_checkpoint"], "--resume missing_checkpoint: checkpoint folder not found"),
        (["backtest", "--policy", "./missing_checkpoint"], "--policy missing_checkpoint: checkpoint folder not found"),
        (["train", "--address", "127.0.0.1:1", "--iterations", "1"], "--address 127.0.0.1:1: no Ray cluster answered"),
    ],
)
def test_bad_training_input_is_one_line_and_non_zero(tmp_path, args, message):
    result = cli(*args, "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert result.returncode == 1
    assert message in result.stderr and result.stderr.strip().count("\n") == 0, result.stderr[-2000:]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_an_earlier_checkpoint_drives_a_frozen_population_that_acts_but_does_not_learn(tmp_path):
    from market.training.envs import make_market_env

    first = train(
        TrainingConfig(env="market", env_config=TINY_MARKET, train_batch_size=200, minibatch_size=50, num_epochs=1, hidden=(16,)),
        StopConfig(iterations=1),
        out=tmp_path,
        name="snapshot",
    )
    rival = {"name": "rival", "role": "maker", "count": 2, "policy": f"checkpoint:{first.checkpoint}#maker"}
    env_config = {**TINY_MARKET, "populations": [*TINY_MARKET["populations"], rival]}
    env = make_market_env(env_config)
    assert "rival_0" not in env.possible_agents and "rival_0" in env.driven_agents
    obs, _ = env.reset(seed=0)
    env.step({a: env.action_space(a).sample() for a in env.agents})
    assert {"rival_0", "rival_1"} <= set(env.last_actions)

    settings = TrainingConfig(env="market", env_config=env_config, train_batch_size=200, minibatch_size=50, num_epochs=1, hidden=(16,))
    assert learning_modules(settings) == ["maker", "taker"]
    algo = build_config(settings).build_algo()
    try:
        algo.train()
    finally:
        stop_algorithm(algo)


def test_market_training_records_curves_and_the_final_evaluation_episode(tmp_path):
    settings = TrainingConfig(env="market", env_config=TINY_MARKET, train_batch_size=200, minibatch_size=50, num_epochs=1, hidden=(16,))
    result = train(settings, StopConfig(iterations=1), out=tmp_path, name="market")
    reader = RunReader(result.run_path)
    assert set(reader.tables) == {"training", "steps", "trades", "book", "flows", "flow_parts"}
    steps = reader.read("steps")
    assert set(steps["agent"]) == {"maker_0", "maker_1", "taker_0", "taker_1", "noise_0", "noise_1"}
    assert len(steps) == 6 * TINY_MARKET["max_steps"]
    assert "maker_mean_return" in reader.metrics


def test_relative_runs_folder_and_checkpoint_paths_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = TrainingConfig(env_config=TINY_TRADING, eval_env_config={"start": "2021-01-01", "end": None}, train_batch_size=200, minibatch_size=100, num_epochs=1, hidden=(16,))
    first = train(settings, StopConfig(iterations=1), out=Path("runs"), name="relative")
    relative = first.checkpoint.relative_to(Path.cwd()) if first.checkpoint.is_absolute() else first.checkpoint
    assert load_policy(relative).action_space.shape == (1,)
    second = train(settings, StopConfig(iterations=2), out=Path("runs"), name="resumed", resume=relative)
    assert second.iterations == 2
