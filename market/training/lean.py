"""Lean PPO parts: RLlib's PPO learner and module minus per-minibatch work that does nothing for synchronous PPO.

The algorithm is RLlib's: the loss, GAE, minibatch iterator and the metrics a user reads all come from
``PPOTorchLearner`` and ``DefaultPPOTorchRLModule``, and the optimizer is the same Adam. What differs
(together worth +27% of PPO's env steps/s on TradingEnv: ``bench/training.py --ablation``, the row
with RLlib's own classes put back):

* ``TorchRLModule.forward_train`` calls ``nn.Module.train()`` on every minibatch, and
  ``forward_exploration``/``forward_inference`` switch to ``eval()`` and back on every env step. Each
  switch walks every submodule. ``LeanPPOTorchRLModule`` switches only when the mode differs and does not
  switch back, so the learner's copy stays in train mode and the env runner's in eval mode. The default
  networks have no dropout or batch norm, so the mode changes no output; it is kept right anyway.
* ``TorchLearner._compute_off_policyness`` logs, per minibatch, how many weight updates lie between the
  sampling policy and the learner. PPO samples with the weights of the last update, so the figure says
  nothing here; ``LeanPPOTorchLearner`` does not compute it.
* ``Learner.update`` logs the steps trained (four metrics per module, four for all modules) and raises
  two Ray Prometheus counters after every minibatch. ``LeanPPOTorchLearner`` notes the minibatch sizes
  and logs the same keys with the same sums once per update.
* Adam runs in torch's fused CPU kernel (``fused=True``): one kernel for all parameters instead of
  several tensor ops per parameter. Results differ from the unfused kernel only in float rounding.

``tests/test_training_lean.py`` shows that, from one seed, the lean classes reach RLlib's weights (to
float rounding) and report its step counts.
"""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.core import ALL_MODULES
from ray.rllib.core.rl_module.rl_module import RLModule
from ray.rllib.policy.sample_batch import MultiAgentBatch
from ray.rllib.utils.metrics import (
    MODULE_TRAIN_BATCH_SIZE_MEAN,
    NUM_ENV_STEPS_TRAINED,
    NUM_ENV_STEPS_TRAINED_LIFETIME,
    NUM_MODULE_STEPS_TRAINED,
    NUM_MODULE_STEPS_TRAINED_LIFETIME,
    WEIGHTS_SEQ_NO,
)
from ray.rllib.utils.typing import ModuleID


class LeanPPOTorchRLModule(DefaultPPOTorchRLModule):
    """RLlib's default PPO module that sets its train/eval mode only when it has to."""

    def _mode(self, training: bool) -> None:
        if self.training is not training:
            self.train(training)

    def forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        self._mode(True)
        return RLModule.forward_train(self, batch, **kwargs)

    def forward_exploration(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        self._mode(False)
        return self._forward_exploration(batch, **kwargs)

    def forward_inference(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        self._mode(False)
        return self._forward_inference(batch, **kwargs)


class LeanPPOTorchLearner(PPOTorchLearner):
    """RLlib's PPO learner with torch's fused Adam, step counts logged once per update, no off-policyness."""

    def build(self) -> None:
        super().build()
        self._minibatch_sizes: list[tuple[int, dict[ModuleID, int]]] = []

    def _log_metrics(self, batch: MultiAgentBatch) -> None:
        """Nothing per minibatch: ``_log_trained_steps`` raises Ray's Prometheus counters once per update."""

    def _log_steps_trained_metrics(self, batch: MultiAgentBatch) -> None:
        """Only note the minibatch's sizes; ``_log_trained_steps`` logs them."""
        self._minibatch_sizes.append((batch.env_steps(), {mid: len(b) for mid, b in batch.policy_batches.items()}))

    def after_gradient_based_update(self, *, timesteps: dict[str, Any]) -> None:
        self._log_trained_steps()
        super().after_gradient_based_update(timesteps=timesteps)

    def _log_trained_steps(self) -> None:
        """The step metrics RLlib's ``Learner`` logs per minibatch, with the same keys and sums, logged once."""
        log = self.metrics.log_value
        env_steps = sum(steps for steps, _ in self._minibatch_sizes)
        per_module: dict[ModuleID, list[int]] = {}
        for _, sizes in self._minibatch_sizes:
            for module_id, size in sizes.items():
                per_module.setdefault(module_id, []).append(size)
        self._minibatch_sizes = []
        for module_id, sizes in per_module.items():
            log((module_id, WEIGHTS_SEQ_NO), self._weights_seq_no, window=1)
            log((module_id, MODULE_TRAIN_BATCH_SIZE_MEAN), sum(sizes) / len(sizes), reduce="mean")
            log((module_id, NUM_MODULE_STEPS_TRAINED), sum(sizes), reduce="sum")
            log((module_id, NUM_MODULE_STEPS_TRAINED_LIFETIME), sum(sizes), reduce="lifetime_sum", with_throughput=True)
        module_steps = sum(sum(sizes) for sizes in per_module.values())
        log((ALL_MODULES, NUM_MODULE_STEPS_TRAINED), module_steps, reduce="sum", with_throughput=True)
        log((ALL_MODULES, NUM_MODULE_STEPS_TRAINED_LIFETIME), module_steps, reduce="lifetime_sum", with_throughput=True)
        log((ALL_MODULES, NUM_ENV_STEPS_TRAINED), env_steps, reduce="sum", with_throughput=True)
        log((ALL_MODULES, NUM_ENV_STEPS_TRAINED_LIFETIME), env_steps, reduce="lifetime_sum", with_throughput=True)
        if env_steps > 0:
            self._metrics_all_modules_num_env_steps_trained.inc(value=env_steps)
            self._metrics_all_modules_num_module_steps_trained.inc(value=module_steps)

    def configure_optimizers_for_module(self, module_id: ModuleID, config: AlgorithmConfig | None = None) -> None:
        """``TorchLearner``'s optimizer (Adam, learning rate from ``config.lr``), in torch's fused CPU kernel."""
        params = self.get_parameters(self._module[module_id])
        self.register_optimizer(module_id=module_id, optimizer=torch.optim.Adam(params, fused=True), params=params, lr_or_lr_schedule=config.lr)

    def _compute_off_policyness(self, batch: Any) -> None:
        return None
