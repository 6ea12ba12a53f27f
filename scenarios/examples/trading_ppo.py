"""A PPO trader on the bundled daily sample, backtested on the held-out years beside buy and hold.

The story in code: split the bundled prices in time, train PPO on TradingEnv over the first 70% of the
bars, then backtest the trained policy (deterministic actions) on the last 30% with the same costs as
buy and hold, and print both Sharpe ratios and total returns.

Run it: ``python scenarios/examples/trading_ppo.py`` (under a minute; ``EXAMPLE_ITERATIONS=1`` for a
quicker, weaker run).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from market.agents.trained import load_policy
from market.backtest.engine import run_backtest
from market.data import load_sample
from market.envs.trading import TradingEnvConfig
from market.training.configs import TrainingConfig
from market.training.runner import StopConfig, connect, train

ITERATIONS = int(os.environ.get("EXAMPLE_ITERATIONS", "5"))

# 1. the data, split in time: train before the split, judge after it
prices = load_sample()
split = str(prices.index[int(len(prices) * 0.7)].date())

# 2. train PPO on TradingEnv over the training years (episodes of 256 bars from random starts)
settings = TrainingConfig(env="trading", env_config={"window": 20, "max_steps": 256, "end": split}, train_batch_size=1024, minibatch_size=128, num_epochs=4)
connect(None)
with tempfile.TemporaryDirectory() as runs:
    result = train(settings, StopConfig(iterations=ITERATIONS), out=Path(runs), name="trading_ppo")
    policy = load_policy(result.checkpoint)

# 3. the held-out backtest: the trained policy and buy and hold on the same bars and costs
backtest = run_backtest(policy, TradingEnvConfig(data=prices, window=20, start=split))
for name, metrics in (("PPO", backtest.metrics), ("buy and hold", backtest.benchmark_metrics)):
    print(f"{name:>12}: Sharpe {metrics['sharpe_ratio']:6.2f}, total return {metrics['total_return']:7.2%}")
print(f"held out: {backtest.settings['start'][:10]} to {backtest.settings['end'][:10]} ({backtest.settings['bars']} bars)")
