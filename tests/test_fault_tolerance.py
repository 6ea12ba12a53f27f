"""Fault tolerance: training goes on when an env fails inside a remote env runner.

The env is TradingEnv with one planned failure: the first instance to reach step ``FAIL_AT_STEP``
while the marker file is missing writes the file (its PID inside) and then fails, so the failure
happens once across every process, including an env runner rebuilt after it. It either raises
(RLlib rebuilds the env inside its runner: ``restart_failed_sub_environments``) or kills its
runner's process (RLlib restarts the runner: ``restart_failed_env_runners``). Both settings come
from ``build_config``; only the env id is swapped for this one.

The remote runners unpickle the env creator; this test module is not importable there, so it is
pickled by value (``register_pickle_by_value``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from ray import cloudpickle  # noqa: E402
from ray.tune.registry import register_env  # noqa: E402

from market.envs import TradingEnv  # noqa: E402
from market.training.configs import TrainingConfig, build_config, stop_algorithm  # noqa: E402

FAIL_ONCE_ENV = "market_test_fail_once"
MARKER = "fail_once_marker"
HOW = "fail_once_how"
FAIL_AT_STEP = 300
"""Env steps (across episodes) before the failure: 200 are sampled per iteration, so iteration 2."""
ITERATIONS = 4
MAX_ITERATIONS_TO_RESTART = 40
TINY_TRADING = {"window": 10, "max_steps": 100, "end": "2020-12-31"}
pytestmark = pytest.mark.slow


class PlannedEnvFailure(RuntimeError):
    """The failure the test plans; nothing else raises it."""


class FailOnceTradingEnv(TradingEnv):
    """TradingEnv that fails once at step ``FAIL_AT_STEP``, unless ``marker`` already exists."""

    def __init__(self, config: dict[str, Any], *, marker: Path, how: str) -> None:
        super().__init__(config)
        self._marker = marker
        self._how = how
        self._steps = 0

    def step(self, action):  # type: ignore[override]
        self._steps += 1
        if self._steps == FAIL_AT_STEP and not self._marker.exists():
            self._marker.write_text(str(os.getpid()))
            if self._how == "exit":
                os._exit(1)  # the env runner's process dies without cleanup, as on a lost node
            raise PlannedEnvFailure(f"planned failure at step {self._steps}")
        return super().step(action)


def make_fail_once_env(env_config: dict[str, Any]) -> FailOnceTradingEnv:
    settings = dict(env_config)
    marker = Path(settings.pop(MARKER))
    how = settings.pop(HOW)
    return FailOnceTradingEnv(settings, marker=marker, how=how)


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    import torch

    torch.set_num_threads(1)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    register_env(FAIL_ONCE_ENV, make_fail_once_env)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def _build_fail_once_algo(marker: Path, how: str) -> Any:
    """PPO with one remote env runner (``build_config``'s fault tolerance) whose env fails once."""
    settings = TrainingConfig(
        env_config=TINY_TRADING,
        num_env_runners=1,
        num_envs_per_env_runner=1,
        train_batch_size=200,
        minibatch_size=100,
        num_epochs=1,
        hidden=(16,),
    )
    config = build_config(settings).environment(FAIL_ONCE_ENV, env_config={**TINY_TRADING, MARKER: str(marker), HOW: how})
    return config.build_algo()


def _train_until(algo: Any, done: Callable[[list[dict[str, Any]]], bool], max_iterations: int) -> list[dict[str, Any]]:
    """Train until ``done(results)`` holds or ``max_iterations`` have run; returns every result."""
    results: list[dict[str, Any]] = []
    while len(results) < max_iterations and not (results and done(results)):
        results.append(algo.train())
    return results


def _failed_in_a_remote_runner(marker: Path) -> bool:
    return marker.is_file() and int(marker.read_text()) != os.getpid()


def _steps(result: dict[str, Any]) -> int:
    return result["env_runners"]["num_env_steps_sampled_lifetime"]


def _restarts(result: dict[str, Any]) -> int:
    return result["fault_tolerance"]["num_remote_worker_restarts"]


def _step_failures(result: dict[str, Any]) -> int:
    # RLlib logs this lifetime count at the first failure; before that the key is absent
    return result["env_runners"].get("num_env_step_failures", 0)


def test_env_that_raises_is_rebuilt_inside_its_runner_and_training_goes_on(tmp_path):
    marker = tmp_path / "failed"

    algo = _build_fail_once_algo(marker, how="raise")
    try:
        results = [algo.train() for _ in range(ITERATIONS)]
    finally:
        stop_algorithm(algo)

    assert _failed_in_a_remote_runner(marker)
    assert [r["training_iteration"] for r in results] == list(range(1, ITERATIONS + 1))
    # the failure came after iteration 1, was counted once, and the runner itself never died
    failures = [_step_failures(r) for r in results]
    assert failures[0] == 0 and failures[-1] == 1, failures
    assert [_restarts(r) for r in results] == [0] * ITERATIONS
    # every iteration sampled, before and after the failure
    sampled = [_steps(r) for r in results]
    assert all(later > earlier for earlier, later in zip([0, *sampled], sampled, strict=False)), sampled


def test_env_runner_that_dies_is_restarted_and_training_goes_on(tmp_path):
    marker = tmp_path / "failed"

    def sampled_after_restart(results: list[dict[str, Any]]) -> bool:
        return len(results) >= 2 and _restarts(results[-2]) == 1 and _steps(results[-1]) > _steps(results[-2])

    algo = _build_fail_once_algo(marker, how="exit")
    try:
        # Ray restarts the actor in the background; iterations until then sample nothing
        results = _train_until(algo, sampled_after_restart, MAX_ITERATIONS_TO_RESTART)
    finally:
        stop_algorithm(algo)

    assert _failed_in_a_remote_runner(marker)
    assert sampled_after_restart(results), [(r["training_iteration"], _steps(r), _restarts(r)) for r in results]
    # the runner died mid-training: the first iteration sampled and was not a restart
    assert _steps(results[0]) > 0 and _restarts(results[0]) == 0
    assert results[-1]["fault_tolerance"]["num_healthy_workers"] == 1
