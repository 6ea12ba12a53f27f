"""Benchmark: env steps per second while training PPO, RLlib (through our builders) beside stable-baselines3.

Run as ``.venv/bin/python bench/training.py [--rounds R] [--envs 1,8,32] [--no-market] [--ablation]``.
One process, ``torch.set_num_threads(1)``, a local ``ray.init(num_cpus=2)``; every trainer is built first,
then each runs one warm-up iteration, then ``--rounds`` timed iterations taken in turn (trainer 1, 2, 3,
..., 1, 2, ..., the starting trainer rotating each round), so a burst of load on a shared machine hits
every trainer alike. Each iteration is timed here, around ``algo.train()`` or ``model.learn(2048)``, in
wall time (``time.perf_counter``) and in CPU time of this process (``time.process_time``: on a loaded
machine it leaves out the time other processes held the cores; every trainer runs in this process on
one torch thread, with RLlib's env runner and learner local, ``num_env_runners=0``, ``num_learners=0``).
The table shows the median iteration of each trainer, as env steps per second.

Matched settings: 2,048 env steps per iteration (RLlib ``train_batch_size``, SB3 ``n_steps * n_envs``),
minibatch 64, 10 epochs, separate policy and value networks of two 64-unit tanh layers, Adam with lr
3e-4, gamma 0.99, the clipped objective without a KL penalty, on ``market/Trading-v0`` (window 30,
episodes cut at 500 steps, the bundled daily sample, random starts, seed 0), the same env counts.
Everything else is each library's PPO default: RLlib clips the value loss at 10 and uses GAE lambda 1.0;
SB3 clips the gradient norm at 0.5 and uses lambda 0.95. RLlib's learner also trains on one extra,
masked, row per episode chunk (2,048 + one per env, so 325 minibatches per iteration at 32 envs where
SB3 runs 320).

* stable-baselines3 PPO on ``gymnasium.make("market/Trading-v0")`` envs in its ``DummyVecEnv`` (through
  ``make_vec_env``), with each ``--envs`` count. SB3 cannot take our ``TradingVectorEnv``: its ``VecEnv``
  has a different interface (``step_async``/``step_wait``, same-step autoreset with
  ``terminal_observation``). One more SB3 row, at the largest count, uses torch's fused Adam as our
  learner does (``optimizer_kwargs={"fused": True}``): it shows how much of the gap the optimizer kernel
  closes, and is not part of the target ratios, which compare against SB3 as it ships.
* RLlib PPO from ``build_ppo_config(TrainingConfig(...))`` with 1 env per runner (a Gymnasium sync
  vector env of one ``TradingEnv``) and with each ``--envs`` count above 1 (the native
  ``TradingVectorEnv``, ``gym_env_vectorize_mode="vector_entry_point"``).
* RLlib PPO on the market env (PettingZoo through our wrapper): 4 learning makers and 4 learning takers
  (one module per population) plus 8 noise traders driven inside the env, 500-step episodes, 8 envs per
  runner (``TrainingConfig``'s default), the same
  batch (2,048 env steps, so 16,384 learner agent-steps), minibatch, epochs and networks.
* ``--ablation``: RLlib at the largest ``--envs`` count with each of RLlib's own defaults put back on
  top of our builder's config (``STOCK`` below), then all of them; the figures say what each setting in
  ``market.training.configs`` and ``market.training.lean`` is worth.

Prints the table, the ratios RLlib / SB3 at each env count and each library at its fastest count, in wall
and CPU time, and the market figures. The target (0.8x) is judged on the fastest against the fastest.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

SEED = 0
TRAIN_BATCH = 2_048
MINIBATCH = 64
EPOCHS = 10
HIDDEN = (64, 64)
LR = 3e-4
GAMMA = 0.99
TRADING = {"window": 30, "max_steps": 500}
MARKET = {
    "populations": [
        {"name": "maker", "role": "maker", "count": 4},
        {"name": "taker", "role": "taker", "count": 4},
        {"name": "noise", "role": "taker", "count": 8, "policy": "noise"},
    ],
    "max_steps": 500,
}
MARKET_LEARNERS = 8
TARGET_RATIO = 0.8


@dataclass
class Trainer:
    """One training setup: ``iterate`` runs one training iteration and returns the env steps it sampled."""

    name: str
    iterate: Callable[[], int]
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def timed_iteration(self) -> None:
        """Run one iteration and record its env steps per second in wall and CPU time."""
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        steps = self.iterate()
        wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
        self.wall.append(steps / wall)
        self.cpu.append(steps / cpu)

    @property
    def wall_rate(self) -> float:
        """Median env steps per wall second."""
        return statistics.median(self.wall)

    @property
    def cpu_rate(self) -> float:
        """Median env steps per CPU second of this process."""
        return statistics.median(self.cpu)


def sb3_trainer(num_envs: int, *, fused_adam: bool = False) -> Trainer:
    """stable-baselines3 PPO on ``num_envs`` TradingEnvs in a DummyVecEnv, matched to the RLlib settings."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    import market.envs  # noqa: F401  (registers market/Trading-v0)

    # make_vec_env asks for render_mode="rgb_array" unless told otherwise; TradingEnv does not render.
    envs = make_vec_env(
        market.envs.ENV_ID, n_envs=num_envs, seed=SEED, vec_env_cls=DummyVecEnv, env_kwargs={**TRADING, "render_mode": None}
    )
    model = PPO(
        "MlpPolicy",
        envs,
        learning_rate=LR,
        n_steps=TRAIN_BATCH // num_envs,
        batch_size=MINIBATCH,
        n_epochs=EPOCHS,
        gamma=GAMMA,
        policy_kwargs={
            "net_arch": {"pi": list(HIDDEN), "vf": list(HIDDEN)},
            "activation_fn": torch.nn.Tanh,
            **({"optimizer_kwargs": {"fused": True}} if fused_adam else {}),
        },
        device="cpu",
        seed=SEED,
    )

    def iterate() -> int:
        before = model.num_timesteps
        model.learn(TRAIN_BATCH, reset_num_timesteps=False)  # one rollout of n_steps * n_envs, then one update
        return model.num_timesteps - before

    return Trainer(f"SB3 PPO, {num_envs} env{'s' if num_envs > 1 else ''} (DummyVecEnv){', fused Adam' if fused_adam else ''}", iterate)


STOCK = {
    "actions": "RLlib's per-action rescaling and clipping (normalize_actions, clip_actions)",
    "nan_checks": "RLlib's finite-gradient checks (torch_skip_nan_gradients=False)",
    "kl": "RLlib's adaptive KL penalty (use_kl_loss=True)",
    "learner": "RLlib's own PPOTorchLearner and DefaultPPOTorchRLModule",
}


def rllib_trainer(name: str, settings: Any, stock: Sequence[str] = ()) -> Trainer:
    """RLlib PPO built by ``build_ppo_config(settings)``, optionally with some of RLlib's defaults put back.

    Args:
        name: Row label.
        settings: A ``TrainingConfig``.
        stock: Keys of ``STOCK``: the defaults of RLlib's to put back on top of our builder's config.

    Returns:
        The trainer; its iterations count env steps sampled.
    """
    from market.training.configs import build_ppo_config

    config = build_ppo_config(settings, lean="learner" not in stock)
    if "actions" in stock:
        config.environment(normalize_actions=True, clip_actions=True)
    if "nan_checks" in stock:
        config.framework(torch_skip_nan_gradients=False)
    if "kl" in stock:
        config.training(use_kl_loss=True)
    algo = config.build_algo()

    def iterate() -> int:
        result = algo.train()
        return int(result["env_runners"]["num_env_steps_sampled"])

    return Trainer(name, iterate)


def trading_settings(num_envs: int) -> Any:
    """The matched TrainingConfig on TradingEnv with ``num_envs`` envs per runner."""
    from market.training.configs import TrainingConfig

    return TrainingConfig(
        env_config=dict(TRADING),
        num_envs_per_env_runner=num_envs,
        train_batch_size=TRAIN_BATCH,
        minibatch_size=MINIBATCH,
        num_epochs=EPOCHS,
        lr=LR,
        gamma=GAMMA,
        hidden=HIDDEN,
        seed=SEED,
    )


def market_settings() -> Any:
    """The matched TrainingConfig on the market env: 4 makers and 4 takers learn, 8 noise traders."""
    from market.training.configs import TrainingConfig

    return TrainingConfig(
        env="market",
        env_config=MARKET,
        train_batch_size=TRAIN_BATCH,
        minibatch_size=MINIBATCH,
        num_epochs=EPOCHS,
        lr=LR,
        gamma=GAMMA,
        hidden=HIDDEN,
        seed=SEED,
    )


def run_rounds(trainers: Sequence[Trainer], rounds: int) -> None:
    """One warm-up iteration per trainer, then ``rounds`` timed rounds with a rotating start."""
    for trainer in trainers:
        trainer.iterate()
    for round_index in range(rounds):
        start = round_index % len(trainers)
        for trainer in list(trainers[start:]) + list(trainers[:start]):
            trainer.timed_iteration()


def print_table(trainers: Sequence[Trainer], rounds: int) -> None:
    """Median env steps per second of every trainer, wall and CPU, with the wall range."""
    print(f"PPO training, env steps per second (median of {rounds} interleaved iterations after a warm-up)")
    print(f"{'setup':<58}{'wall':>8}{'(min-max)':>16}{'CPU':>8}")
    for trainer in trainers:
        low, high = min(trainer.wall), max(trainer.wall)
        print(f"{trainer.name:<58}{trainer.wall_rate:>8,.0f}{f'({low:,.0f}-{high:,.0f})':>16}{trainer.cpu_rate:>8,.0f}")
    print()


def print_ratios(pairs: Sequence[tuple[str, Trainer, Trainer]]) -> None:
    """RLlib / SB3 ratios of the median rates, wall and CPU, against the target."""
    print(f"{'RLlib / SB3':<40}{'wall':>8}{'CPU':>8}   target {TARGET_RATIO:g}x")
    for label, rllib, sb3 in pairs:
        wall, cpu = rllib.wall_rate / sb3.wall_rate, rllib.cpu_rate / sb3.cpu_rate
        verdict = "met" if min(wall, cpu) >= TARGET_RATIO else "met in CPU time" if cpu >= TARGET_RATIO else "not met"
        print(f"{label:<40}{wall:>7.2f}x{cpu:>7.2f}x   {verdict}")
    print()


def main(argv: Sequence[str] | None = None) -> None:
    """Build every trainer, time the interleaved rounds and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed iterations per trainer (default 5)")
    parser.add_argument("--envs", default="1,8,32", help="envs per runner for both libraries, comma-separated (default 1,8,32)")
    parser.add_argument("--no-market", action="store_true", help="leave out the market env")
    parser.add_argument("--ablation", action="store_true", help="also RLlib with each of its stock settings put back")
    args = parser.parse_args(argv)
    env_counts = sorted({int(n) for n in args.envs.split(",")})

    torch.set_num_threads(1)
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    logging.getLogger("ray.rllib").setLevel(logging.ERROR)  # RLlib's new-API-stack and deprecation notices
    try:
        sb3 = {n: sb3_trainer(n) for n in env_counts}
        rllib = {n: rllib_trainer(f"RLlib PPO, {n} env{'s (TradingVectorEnv)' if n > 1 else ''}", trading_settings(n)) for n in env_counts}
        sb3_fused = sb3_trainer(max(env_counts), fused_adam=True)
        trainers: list[Trainer] = [*sb3.values(), sb3_fused, *rllib.values()]
        ablation = []
        if args.ablation:
            n = max(env_counts)
            ablation = [rllib_trainer(f"  ...with {key.replace('_', ' ')} as RLlib ships", trading_settings(n), stock=[key]) for key in STOCK]
            ablation.append(rllib_trainer("  ...with all of RLlib's stock settings", trading_settings(n), stock=list(STOCK)))
            trainers += ablation
        market = None
        if not args.no_market:
            market = rllib_trainer(f"RLlib PPO, market env, {MARKET_LEARNERS} learners + 8 noise", market_settings())
            trainers.append(market)
        run_rounds(trainers, args.rounds)
    finally:
        ray.shutdown()

    print_table(trainers, args.rounds)
    pairs = [(f"RLlib {n} / SB3 {n} env{'s' if n > 1 else ''}", rllib[n], sb3[n]) for n in env_counts]
    best_rllib = max(rllib, key=lambda n: rllib[n].cpu_rate)
    best_sb3 = max(sb3, key=lambda n: sb3[n].cpu_rate)
    pairs.append((f"best: RLlib {best_rllib} / SB3 {best_sb3} envs", rllib[best_rllib], sb3[best_sb3]))
    print_ratios(pairs)
    print(f"For reference, not the target: RLlib {best_rllib} / SB3 {max(env_counts)} envs with fused Adam: {rllib[best_rllib].cpu_rate / sb3_fused.cpu_rate:.2f}x CPU\n")
    if ablation:
        base = rllib[max(env_counts)]
        print(f"Ablation at {max(env_counts)} envs: CPU rate of each row / our config ({base.cpu_rate:,.0f} steps/s)")
        for key, trainer in zip([*STOCK, "all"], ablation):
            print(f"  {STOCK.get(key, 'all four'):<72}{trainer.cpu_rate / base.cpu_rate:>6.2f}x")
        print()
    if market is not None:
        print(
            f"Market env, {MARKET_LEARNERS} learning agents: {market.wall_rate:,.0f} env steps/s wall "
            f"({market.wall_rate * MARKET_LEARNERS:,.0f} learner agent-steps/s), {market.cpu_rate:,.0f} env steps/s CPU "
            f"({market.cpu_rate * MARKET_LEARNERS:,.0f} agent-steps/s)"
        )


if __name__ == "__main__":
    main()
