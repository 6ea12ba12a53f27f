"""Backtest benchmark: a 10-year daily backtest end to end, beside a gym-anytrading episode on the same bars.

``run_backtest`` plays the policy and buy and hold through TradingEnv and computes every metric;
the peer figure is one full ``stocks-v0`` episode of gym-anytrading over the same 2,520 bars with a
constant action (no metrics). Best of 5 repeats each.

Run: ``.venv/bin/python bench/backtest.py`` (or ``make bench``).
"""

from __future__ import annotations

import time
import warnings

import gymnasium as gym
import numpy as np

from market.agents.baselines import make_baseline
from market.backtest.engine import run_backtest
from market.data import load_sample
from market.envs.trading import TradingEnvConfig

REPEATS = 5


def best_seconds(run) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def anytrading_episode(prices) -> None:
    import gym_anytrading  # noqa: F401  (registers stocks-v0)

    frame = prices.rename(columns=str.capitalize)
    env = gym.make("stocks-v0", df=frame, window_size=30, frame_bound=(30, len(frame))).unwrapped
    env.reset(seed=0)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(1)
        done = terminated or truncated


def main() -> None:
    prices = load_sample()
    years = (prices.index[-1] - prices.index[0]).days / 365.25
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = best_seconds(lambda: run_backtest(make_baseline("sma_crossover"), TradingEnvConfig(data=prices)))
        peer = best_seconds(lambda: anytrading_episode(prices))
    print(f"data: bundled daily sample, {len(prices):,} bars ({years:.1f} years)")
    print(f"market backtest (policy + buy and hold + metrics): {ours * 1000:8.1f} ms  (target < 1000 ms)")
    print(f"gym-anytrading stocks-v0, one episode, no metrics: {peer * 1000:8.1f} ms")
    print(f"ratio: our whole backtest takes {ours / peer:.2f}x the time of one bare gym-anytrading episode")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
