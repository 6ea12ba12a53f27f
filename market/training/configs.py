"""TrainingConfig and the one builder per algorithm that turns it into an RLlib AlgorithmConfig.

No other code builds an ``AlgorithmConfig``. Single agent: TradingEnv (continuous for PPO, SAC and
APPO; discrete for DQN), served by the native vector env (``gym_env_vectorize_mode``) when
``num_envs_per_env_runner > 1``. Multi-agent: MarketEnv through RLlib's PettingZoo wrapper, one
module per learning population (``policy_mapping_fn`` by population name) or one per agent.
Seeds go through ``.debugging(seed=...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from ray.rllib.algorithms.algorithm import Algorithm
from ray.train.constants import DEFAULT_STORAGE_PATH
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.algorithms.appo import APPOConfig
from ray.rllib.algorithms.dqn import DQNConfig
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.algorithms.sac import SACConfig
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from market.config import from_mapping
from market.envs.market_config import MarketConfig
from market import limits
from market.errors import ConfigError
from market.training.envs import MARKET_ENV, register_envs
from market.training.lean import LeanPPOTorchLearner, LeanPPOTorchRLModule
from market.naming import population_of

SINGLE_AGENT_MODULE = "default_policy"
_TRADING_ENV = "market.envs:market/Trading-v0"  # "module:id" so remote env runners import the registration
_TRADING_DISCRETE_ENV = "market.envs:market/TradingDiscrete-v0"
_PORTFOLIO_ENV = "market.envs:market/Portfolio-v0"


class Algo(StrEnum):
    """RLlib algorithms the product drives."""

    PPO = "ppo"
    SAC = "sac"
    DQN = "dqn"
    APPO = "appo"


class EnvKind(StrEnum):
    """Which env is trained on."""

    TRADING = "trading"
    MARKET = "market"
    PORTFOLIO = "portfolio"


class PolicySharing(StrEnum):
    """In the market env: one module per learning population, or one per agent."""

    POPULATION = "population"
    AGENT = "agent"


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingConfig:
    """Everything that decides how a run trains.

    Attributes:
        algo: ppo, sac, dqn (discrete TradingEnv only) or appo.
        env: trading (TradingEnv), portfolio (PortfolioEnv) or market (MarketEnv).
        env_config: the env's settings (TradingEnvConfig, PortfolioEnvConfig or MarketConfig fields).
        eval_env_config: settings laid over ``env_config`` for evaluation: a held-out period for
            TradingEnv (``start``/``end``), held-out seeds come from ``eval_seed`` for MarketEnv.
        sharing: one module per learning population or per agent (market env).
        num_env_runners: remote env runners (0: sample in the driver).
        num_envs_per_env_runner: envs per runner; TradingEnv uses the native vector env, MarketEnv
            RLlib's sync vector of multi-agent envs.
        num_learners: remote learners (0: learn in the driver).
        train_batch_size: env steps per training iteration (per learner).
        minibatch_size: SGD minibatch (PPO, APPO).
        num_epochs: passes over each batch (PPO).
        lr: learning rate (SAC: actor and critic).
        gamma: discount.
        gae_lambda: PPO and APPO: the GAE lambda of the advantages (RLlib's default, 1.0, is the
            Monte Carlo return less the value; 0.95, as in most PPO setups, trades bias for variance).
        vf_clip: PPO: the value loss is clipped at this (RLlib's default 10.0); set it well above the
            squared scale of the returns when episode returns are far larger than 3 (a clipped loss
            stops teaching the value function).
        entropy_coeff: PPO and APPO: the entropy bonus's weight (0: none).
        hidden: hidden layer sizes of every network.
        training_intensity: SAC and DQN: trained steps per sampled step (None: RLlib's default).
        seed: the run's root seed (RLlib's ``.debugging(seed=...)``).
        eval_seed: first seed of held-out evaluation episodes.
    """

    algo: Algo = Algo.PPO
    env: EnvKind = EnvKind.TRADING
    env_config: dict[str, Any] = field(default_factory=dict)
    eval_env_config: dict[str, Any] = field(default_factory=dict)
    sharing: PolicySharing = PolicySharing.POPULATION
    num_env_runners: int = 0
    num_envs_per_env_runner: int = 8
    num_learners: int = 0
    train_batch_size: int = 2048
    minibatch_size: int = 128
    num_epochs: int = 10
    lr: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 1.0
    vf_clip: float = 10.0
    entropy_coeff: float = 0.0
    hidden: tuple[int, ...] = (64, 64)
    training_intensity: float | None = None
    seed: int = 0
    eval_seed: int = 1_000_000

    def __post_init__(self) -> None:
        for key, enum in (("algo", Algo), ("env", EnvKind), ("sharing", PolicySharing)):
            value = getattr(self, key)
            if value not in tuple(enum):
                raise ConfigError(f"{key}: expected one of {[e.value for e in enum]}, got {value!r}")
            object.__setattr__(self, key, enum(value))
        for key, low, high in (
            ("num_env_runners", 0, limits.MAX_ENV_RUNNERS),
            ("num_envs_per_env_runner", 1, limits.MAX_ENVS_PER_RUNNER),
            ("num_learners", 0, limits.MAX_LEARNERS),
            ("train_batch_size", 1, limits.MAX_BATCH),
            ("minibatch_size", 1, limits.MAX_BATCH),
            ("num_epochs", 1, limits.MAX_EPOCHS),
            ("seed", 0, limits.MAX_SEED),
            ("eval_seed", 0, limits.MAX_SEED),
        ):
            limits.check_size(key, getattr(self, key), high, minimum=low)
        if self.algo in (Algo.PPO, Algo.APPO) and self.minibatch_size > self.train_batch_size:
            raise ConfigError(
                f"minibatch_size: {self.minibatch_size:,} is larger than train_batch_size ({self.train_batch_size:,}); a minibatch is a slice of the batch"
            )
        for key in ("lr", "gamma", "gae_lambda"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
                raise ConfigError(f"{key}: expected a number in (0, 1], got {value!r}")
        if not limits.check_finite("vf_clip", self.vf_clip) > 0:
            raise ConfigError(f"vf_clip: expected a number above 0, got {self.vf_clip!r}")
        if not limits.check_finite("entropy_coeff", self.entropy_coeff) >= 0:
            raise ConfigError(f"entropy_coeff: expected a number >= 0, got {self.entropy_coeff!r}")
        if not self.hidden or any(type(h) is not int or h < 1 for h in self.hidden):
            raise ConfigError(f"hidden: expected positive integer layer sizes, got {self.hidden!r}")
        limits.check_size("hidden (number of layers)", len(self.hidden), limits.MAX_LAYERS)
        for width in self.hidden:
            limits.check_size("hidden (layer width)", width, limits.MAX_LAYER_WIDTH)
        if self.training_intensity is not None and not limits.check_finite("training_intensity", self.training_intensity) > 0:
            raise ConfigError(f"training_intensity: expected a number above 0, got {self.training_intensity!r}")
        if self.algo is Algo.DQN and self.env is not EnvKind.TRADING:
            raise ConfigError(f"algo: dqn needs discrete actions; the {self.env.value} env's actions are continuous (use ppo, sac or appo)")
        if self.env is EnvKind.MARKET:
            market = self.market_config()
            if not any(p.learner for p in market.populations):
                raise ConfigError("env_config.populations: no population learns (every one has a policy)")

    def market_config(self) -> MarketConfig:
        """The env config as a validated MarketConfig (market env only)."""
        return from_mapping(MarketConfig, self.env_config, "env_config")

    @property
    def env_id(self) -> str:
        """The name RLlib builds the env by."""
        if self.env is EnvKind.MARKET:
            return MARKET_ENV
        if self.env is EnvKind.PORTFOLIO:
            return _PORTFOLIO_ENV
        return _TRADING_DISCRETE_ENV if self.algo is Algo.DQN else _TRADING_ENV


def population_module(agent_id: str, *args: Any, **kwargs: Any) -> str:
    """RLlib's policy mapping when a population shares one module: the agent's population."""
    return population_of(agent_id)


def agent_itself(agent_id: str, *args: Any, **kwargs: Any) -> str:
    """Every agent its own module."""
    return agent_id


def learning_modules(settings: TrainingConfig) -> list[str]:
    """The RLModule ids that train: one per learning population (or agent), or the single-agent module."""
    if settings.env is not EnvKind.MARKET:
        return [SINGLE_AGENT_MODULE]
    learners = [p for p in settings.market_config().populations if p.learner]
    if settings.sharing is PolicySharing.POPULATION:
        return [p.name for p in learners]
    return [agent for p in learners for agent in p.agent_names()]


def _common(config: AlgorithmConfig, settings: TrainingConfig) -> AlgorithmConfig:
    """The parts every algorithm shares: env, runners, learners, modules, seed."""
    register_envs()
    single = settings.env in (EnvKind.TRADING, EnvKind.PORTFOLIO)
    vectorize = single and settings.num_envs_per_env_runner > 1
    # TradingEnv and PortfolioEnv clip their own actions to [-1, 1], so RLlib's per-action unsquash and
    # clip (identity on Box(-1, 1) but a tree-map per env per step) is left out. MarketEnv rejects
    # out-of-range actions: clip.
    actions = {"normalize_actions": False, "clip_actions": False} if single else {"clip_actions": True}
    config = (
        config.environment(settings.env_id, env_config=dict(settings.env_config), **actions)
        .env_runners(
            num_env_runners=settings.num_env_runners,
            num_envs_per_env_runner=settings.num_envs_per_env_runner,
            **({"gym_env_vectorize_mode": "vector_entry_point"} if vectorize else {}),
        )
        .learners(num_learners=settings.num_learners)
        .rl_module(model_config={"fcnet_hiddens": list(settings.hidden), "fcnet_activation": "tanh"})
        .fault_tolerance(restart_failed_env_runners=True, restart_failed_sub_environments=True, delay_between_env_runner_restarts_s=1.0)
        .debugging(seed=settings.seed)
    )
    if settings.env is EnvKind.MARKET:
        mapping = population_module if settings.sharing is PolicySharing.POPULATION else agent_itself
        modules = learning_modules(settings)
        config = config.multi_agent(policies=list(modules), policy_mapping_fn=mapping, policies_to_train=modules)  # a list: ordered, whatever PYTHONHASHSEED
    return config


def build_ppo_config(settings: TrainingConfig, *, lean: bool = True) -> PPOConfig:
    """PPO with the settings' batch, minibatch, epochs, learning rate and discount.

    ``lean=False`` keeps RLlib's own ``PPOTorchLearner`` and ``DefaultPPOTorchRLModule`` instead of the
    lean ones of :mod:`market.training.lean` (the same algorithm with less per-minibatch bookkeeping).
    """
    config = PPOConfig().training(
        train_batch_size_per_learner=settings.train_batch_size,
        minibatch_size=settings.minibatch_size,
        num_epochs=settings.num_epochs,
        lr=settings.lr,
        gamma=settings.gamma,
        lambda_=settings.gae_lambda,
        vf_clip_param=settings.vf_clip,
        entropy_coeff=settings.entropy_coeff,
        # The clipped objective alone, as in the PPO paper's main variant and stable-baselines3: RLlib's
        # default adds an adaptive KL penalty on top of the clipping, a second brake that costs a KL
        # term per minibatch (+7% env steps/s on TradingEnv without it: bench/training.py --ablation).
        use_kl_loss=False,
    )
    if lean:  # RLlib's PPO with less per-minibatch bookkeeping (market/training/lean.py says what and why)
        config = config.learners(learner_class=LeanPPOTorchLearner).rl_module(rl_module_spec=RLModuleSpec(module_class=LeanPPOTorchRLModule))
    # No finite-gradient checks: RLlib's default runs two torch.isfinite per parameter per minibatch
    # (+16% env steps/s without them: bench/training.py --ablation) to zero NaN gradients. With True, RLlib 2.60 steps the optimizer
    # with the gradients as they are (it does not skip the update): a NaN shows in the losses.
    config = config.framework(torch_skip_nan_gradients=True)
    return _common(config, settings)


def build_appo_config(settings: TrainingConfig) -> APPOConfig:
    """APPO (IMPALA-style asynchronous PPO)."""
    config = APPOConfig().training(
        train_batch_size_per_learner=settings.train_batch_size,
        minibatch_size=settings.minibatch_size,
        lr=settings.lr,
        gamma=settings.gamma,
        lambda_=settings.gae_lambda,
        entropy_coeff=settings.entropy_coeff,
    )
    return _common(config, settings)


def build_sac_config(settings: TrainingConfig) -> SACConfig:
    """SAC; multi-agent SAC uses the multi-agent episode replay buffer (the default one fails there)."""
    buffer = {"type": "MultiAgentEpisodeReplayBuffer" if settings.env is EnvKind.MARKET else "EpisodeReplayBuffer", "capacity": 100_000}
    extra = {} if settings.training_intensity is None else {"training_intensity": settings.training_intensity}
    config = SACConfig().training(
        train_batch_size_per_learner=min(settings.train_batch_size, 256),
        actor_lr=settings.lr,
        critic_lr=settings.lr,
        gamma=settings.gamma,
        replay_buffer_config=buffer,
        num_steps_sampled_before_learning_starts=1_000,
        **extra,
    )
    # iterations of a fixed size, not "as many steps as fit in one second": repeatable step counts
    return _common(config.reporting(min_time_s_per_iteration=0), settings)


def build_dqn_config(settings: TrainingConfig) -> DQNConfig:
    """DQN on the discrete TradingEnv."""
    extra = {} if settings.training_intensity is None else {"training_intensity": settings.training_intensity}
    config = DQNConfig().training(
        train_batch_size_per_learner=min(settings.train_batch_size, 256),
        lr=settings.lr,
        gamma=settings.gamma,
        replay_buffer_config={"type": "EpisodeReplayBuffer", "capacity": 100_000},
        num_steps_sampled_before_learning_starts=1_000,
        **extra,
    )
    return _common(config.reporting(min_time_s_per_iteration=0), settings)


BUILDERS: dict[Algo, Callable[[TrainingConfig], AlgorithmConfig]] = {
    Algo.PPO: build_ppo_config,
    Algo.SAC: build_sac_config,
    Algo.DQN: build_dqn_config,
    Algo.APPO: build_appo_config,
}


def build_config(settings: TrainingConfig) -> AlgorithmConfig:
    """The RLlib config for ``settings.algo``."""
    return BUILDERS[settings.algo](settings)


def build_algorithm(settings: TrainingConfig) -> Algorithm:
    """The algorithm for ``settings``, built and seeded (see :func:`seed_replay_buffer`)."""
    algo = build_config(settings).build_algo()
    seed_replay_buffer(algo, settings.seed)
    return algo


def stop_algorithm(algo: Algorithm) -> None:
    """Stop the algorithm and remove the empty folder RLlib 2.60 made for it in ``~/ray_results``.

    Every Algorithm built outside Tune gets a fresh ``~/ray_results/<date><random>`` folder that nothing
    writes to (our checkpoints and records go where the caller says); without this each run leaves one.
    """
    logdir = Path(algo.logdir)
    # first, then stop: a Tune trial's actor can be torn down while ``stop()`` runs
    if logdir.parent == Path(DEFAULT_STORAGE_PATH) and logdir.is_dir() and not any(logdir.iterdir()):
        logdir.rmdir()
    algo.stop()


def seed_replay_buffer(algo: Algorithm, seed: int) -> None:
    """Seed the replay buffer's sampling of an off-policy algorithm (SAC, DQN); nothing for PPO and APPO.

    RLlib 2.60's episode replay buffers draw from ``np.random.default_rng(None)`` whatever the config's
    seed, and SAC's config refuses buffer classes other than RLlib's own names, so the buffer's
    generator is replaced after the build.
    """
    buffer = getattr(algo, "local_replay_buffer", None)
    if buffer is not None and hasattr(buffer, "rng"):
        buffer.rng = np.random.default_rng(seed)


def training_config_from(data: Mapping[str, Any], path: str = "training") -> TrainingConfig:
    """A TrainingConfig from a mapping, rejecting unknown keys with their full path."""
    return from_mapping(TrainingConfig, data, path)
