"""Learning in the portfolio env: PPO finds a planted signal and beats equal weight out of sample after costs.

Two assets whose log-price spread mean-reverts (``pair_panel``, AR(1) coefficient 0.5): the asset that
is cheap against the other tends to outperform it next bar, so overweighting it earns what equal weight
cannot. PPO is trained on the first 1,200 bars and backtested with deterministic actions on the 600
bars after them, with commission and slippage; it must beat equal weight (rebalanced every bar) there
on total return and on Sharpe ratio. SAC runs through the same builder on the same env (its learning is
not asserted: a short SAC run is too noisy to judge).
"""

from __future__ import annotations

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from market.backtest.metrics import SHARPE_RATIO, TOTAL_RETURN  # noqa: E402
from market.backtest.portfolio import BENCHMARK  # noqa: E402
from market.data.synthetic import pair_panel  # noqa: E402
from market.training.configs import TrainingConfig  # noqa: E402
from market.training.runner import StopConfig, train  # noqa: E402

TRAIN_BARS = 1_200
HELD_OUT_BARS = 600

pytestmark = pytest.mark.usefixtures("ray_session")  # one Ray session for this module (tests/conftest.py)


def settings_for(panel, **training) -> TrainingConfig:
    env_config = {"data": panel, "window": 5, "commission_bps": 1.0, "slippage_bps": 1.0, "max_steps": 100, "end": panel.times[TRAIN_BARS - 1] if len(panel.times) > TRAIN_BARS else panel.times[299]}
    eval_env_config = {"start": panel.times[TRAIN_BARS if len(panel.times) > TRAIN_BARS else 300], "end": None, "max_steps": None}
    return TrainingConfig(env="portfolio", env_config=env_config, eval_env_config=eval_env_config, **training)


def test_ppo_beats_equal_weight_out_of_sample_on_a_mean_reverting_pair(tmp_path):
    panel = pair_panel(np.random.default_rng(0), TRAIN_BARS + HELD_OUT_BARS, phi=0.5)
    settings = settings_for(panel, algo="ppo", train_batch_size=2000, minibatch_size=250, num_epochs=10, lr=1e-3, gamma=0.5, hidden=(32, 32), seed=0)
    run = train(settings, StopConfig(iterations=8), out=tmp_path, name="ppo")
    figures = run.evaluation
    print({k: figures[k] for k in (TOTAL_RETURN, SHARPE_RATIO, f"{BENCHMARK}_{TOTAL_RETURN}", f"{BENCHMARK}_{SHARPE_RATIO}")})
    assert figures[TOTAL_RETURN] > figures[f"{BENCHMARK}_{TOTAL_RETURN}"]
    assert figures[SHARPE_RATIO] > figures[f"{BENCHMARK}_{SHARPE_RATIO}"]
    assert figures["costs_paid"] > 0


def test_sac_trains_on_the_portfolio_env_through_the_same_builder(tmp_path):
    panel = pair_panel(np.random.default_rng(1), 400)
    settings = settings_for(panel, algo="sac", train_batch_size=64, hidden=(16,), seed=0)
    run = train(settings, StopConfig(iterations=None, timesteps=1200), out=tmp_path, name="sac")
    assert np.isfinite(run.evaluation[SHARPE_RATIO]) and run.checkpoint is not None
