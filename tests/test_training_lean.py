"""The lean PPO learner and module (market/training/lean.py) are RLlib's PPO: same weights, same step counts.

Each test builds one PPO from our builder and one with RLlib's own ``PPOTorchLearner`` and
``DefaultPPOTorchRLModule`` put back, from the same seed, and compares them.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.core import ALL_MODULES
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from market.training.configs import TrainingConfig, build_ppo_config, stop_algorithm
from market.training.lean import LeanPPOTorchLearner, LeanPPOTorchRLModule

MARKET = {
    "populations": [
        {"name": "maker", "role": "maker", "count": 2},
        {"name": "taker", "role": "taker", "count": 2},
        {"name": "noise", "role": "taker", "count": 4, "policy": "noise"},
    ],
    "max_steps": 40,
}
STEP_KEYS = ("num_module_steps_trained", "num_module_steps_trained_lifetime", "module_train_batch_size_mean", "weights_seq_no")
ALL_KEYS = ("num_env_steps_trained", "num_env_steps_trained_lifetime", "num_module_steps_trained", "num_module_steps_trained_lifetime")


pytestmark = pytest.mark.usefixtures("ray_session")  # one Ray session for this module (tests/conftest.py)


def settings(env: str) -> TrainingConfig:
    extra: dict[str, Any] = {"env": "market", "env_config": MARKET} if env == "market" else {"env_config": {"window": 10, "max_steps": 100}, "num_envs_per_env_runner": 4}
    return TrainingConfig(train_batch_size=256, minibatch_size=64, num_epochs=3, seed=3, **extra)


def train(env: str, *, stock: bool, iterations: int = 2) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]], Any]:
    """Results of the last iteration, the learner's weights per module, and the algorithm (stopped)."""
    algo = build_ppo_config(settings(env), lean=not stock).build_algo()
    try:
        for _ in range(iterations):
            result = algo.train()
        learner = algo.learner_group._learner
        weights = {mid: {k: v.detach().clone() for k, v in module.state_dict().items()} for mid, module in learner.module._rl_modules.items()}
        return result, weights, algo
    finally:
        stop_algorithm(algo)


@pytest.mark.parametrize("env", ["trading", "market"])
def test_lean_ppo_learns_the_same_weights_and_counts_the_same_steps_as_rllibs(env: str) -> None:
    lean_result, lean_weights, lean_algo = train(env, stock=False)
    stock_result, stock_weights, stock_algo = train(env, stock=True)

    assert type(lean_algo.learner_group._learner) is LeanPPOTorchLearner
    assert type(stock_algo.learner_group._learner) is PPOTorchLearner
    # same samples: the lean module acts exactly like RLlib's
    assert lean_result["env_runners"]["num_env_steps_sampled_lifetime"] == stock_result["env_runners"]["num_env_steps_sampled_lifetime"]
    assert lean_weights.keys() == stock_weights.keys()
    for module_id, weights in lean_weights.items():
        for name, value in weights.items():
            # fused and unfused Adam differ only in float rounding
            np.testing.assert_allclose(value.numpy(), stock_weights[module_id][name].numpy(), rtol=1e-4, atol=1e-5, err_msg=f"{module_id}.{name}")

    lean, stock = lean_result["learners"], stock_result["learners"]
    for module_id in lean_weights:
        for key in STEP_KEYS:
            assert lean[module_id][key] == pytest.approx(stock[module_id][key]), (module_id, key)
    for key in ALL_KEYS:
        assert lean[ALL_MODULES][key] == pytest.approx(stock[ALL_MODULES][key]), key
    # the losses a user reads are still there
    for module_id in lean_weights:
        assert {"policy_loss", "vf_loss", "entropy"} <= set(lean[module_id])


def test_lean_module_switches_mode_only_when_needed_and_keeps_each_copy_in_its_mode() -> None:
    spec = RLModuleSpec(
        module_class=LeanPPOTorchRLModule,
        observation_space=gym.spaces.Box(-1, 1, (5,), np.float32),
        action_space=gym.spaces.Box(-1, 1, (1,), np.float32),
        model_config={"fcnet_hiddens": [8], "fcnet_activation": "tanh"},
    )
    module = spec.build()
    stock = RLModuleSpec(module_class=DefaultPPOTorchRLModule, observation_space=spec.observation_space, action_space=spec.action_space, model_config=spec.model_config).build()
    stock.load_state_dict(module.state_dict())
    batch = {"obs": torch.linspace(-1, 1, 15).reshape(3, 5)}

    module.train()
    out = module.forward_inference(batch)
    assert not module.training  # left in eval mode: the env runner's copy never switches back
    torch.testing.assert_close(out["action_dist_inputs"], stock.forward_inference(batch)["action_dist_inputs"])
    torch.testing.assert_close(module.forward_exploration(batch)["action_dist_inputs"], stock.forward_exploration(batch)["action_dist_inputs"])
    train_out = module.forward_train(batch)
    assert module.training and all(m.training for m in module.modules())
    torch.testing.assert_close(train_out["action_dist_inputs"], stock.forward_train(batch)["action_dist_inputs"])
