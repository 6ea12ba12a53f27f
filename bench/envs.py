"""Benchmark: steps per second of the trading envs beside two peer Gymnasium trading envs.

Run as ``.venv/bin/python bench/envs.py [--seconds S] [--rounds R]``. Every env trades the same
synthetic daily series (10,000 bars of seeded geometric Brownian motion) with pre-drawn random actions,
resetting at each episode end, for a fixed wall time; each env is stepped bare
(``gymnasium.make(...).unwrapped``) so the figures compare the envs, not Gymnasium's checker wrappers.
The time of each env is split into rounds taken in turn (env 1, 2, 3, 4, 1, 2, ...) and the table
shows each env's median round, so a burst of load on a shared machine hits every env alike. Measured:

* ``TradingEnv`` (market/Trading-v0, continuous actions, window 30, default costs);
* ``TradingVectorEnv`` with 256 sub-envs, counting 256 env-steps per vector step;
* gym-anytrading's ``stocks-v0`` (window 30);
* gym-trading-env's ``TradingEnv`` (positions -1, 0, 1, no observation window, its fastest setting);

then a 10-year daily backtest: one full 2,520-bar episode of ``TradingEnv`` from a fixed start with
a constant action. Prints a table and the ratios against the targets (TradingEnv >= 5x
gym-trading-env, the vector env >= 20x gym-anytrading).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd

import market.envs
from market.envs import TradingEnv, TradingVectorEnv

N_BARS = 10_000
WINDOW = 30
VECTOR_ENVS = 256
BACKTEST_BARS = 2_520
CHUNK = 1_000
SEED = 7
TARGET_SINGLE_VS_TRADING_ENV = 5.0
TARGET_VECTOR_VS_ANYTRADING = 20.0


def synthetic_prices(n_bars: int, seed: int) -> pd.DataFrame:
    """A daily OHLCV frame of geometric Brownian motion, in the data layer's shape.

    Args:
        n_bars: Number of daily bars.
        seed: Seed of the generator.

    Returns:
        A frame indexed by business days (``time``) with float columns open, high, low, close, volume.
    """
    rng = np.random.default_rng(seed)
    daily_drift, daily_volatility = 0.07 / 252, 0.2 / np.sqrt(252)
    log_returns = rng.normal(daily_drift - 0.5 * daily_volatility**2, daily_volatility, n_bars)
    close = 100.0 * np.exp(np.cumsum(log_returns))
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(rng.normal(0.0, 0.2 * daily_volatility, n_bars))
    wick = np.abs(rng.normal(0.0, 0.3 * daily_volatility, (2, n_bars)))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * np.exp(wick[0]),
            "low": np.minimum(open_, close) * np.exp(-wick[1]),
            "close": close,
            "volume": rng.lognormal(13.0, 0.3, n_bars),
        },
        index=pd.bdate_range("1985-01-01", periods=n_bars, name="time"),
    )


def steps_per_second(env: Any, actions: Sequence[Any], seconds: float, env_steps_per_step: int = 1) -> float:
    """Step an env with cycled actions for about ``seconds``, resetting at episode ends.

    Args:
        env: A Gymnasium env, or a vector env (which resets itself).
        actions: Pre-drawn actions, cycled in chunks.
        seconds: Wall time to run for (checked after each chunk).
        env_steps_per_step: Env-steps one ``step`` call counts for (the number of sub-envs).

    Returns:
        Env-steps per second.
    """
    is_vector = isinstance(env, gym.vector.VectorEnv)
    env.reset(seed=SEED)
    steps = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        if is_vector:
            for action in actions:
                env.step(action)
        else:
            for action in actions:
                _, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    env.reset()
        steps += len(actions)
        if time.perf_counter() >= deadline:
            break
    return steps * env_steps_per_step / (time.perf_counter() - start)


def backtest_seconds(prices: pd.DataFrame, repeats: int) -> float:
    """Best wall time of one full 2,520-bar episode of TradingEnv with a constant long target."""
    start = prices.index[len(prices) - BACKTEST_BARS - 1]
    env = TradingEnv(data=prices, window=WINDOW, random_start=False, start=start, max_steps=BACKTEST_BARS)
    action = np.array([1.0], dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        env.reset(seed=SEED)
        steps, finished = 0, False
        while not finished:
            _, _, terminated, truncated, _ = env.step(action)
            finished = terminated or truncated
            steps += 1
        best = min(best, time.perf_counter() - began)
    if steps != BACKTEST_BARS:
        raise RuntimeError(f"the backtest episode took {steps} steps, expected {BACKTEST_BARS}")
    return best


def make_anytrading(prices: pd.DataFrame) -> gym.Env:
    """gym-anytrading's stocks-v0 over the same closes (it reads a ``Close`` column)."""
    import gym_anytrading  # noqa: F401  (registers stocks-v0)

    frame = prices.rename(columns=str.capitalize)
    return gym.make("stocks-v0", df=frame, window_size=WINDOW, frame_bound=(WINDOW, len(frame))).unwrapped


def make_gym_trading_env(prices: pd.DataFrame) -> gym.Env:
    """gym-trading-env's TradingEnv over the same bars, with a few ``feature_`` columns."""
    # Importing gym_trading_env runs warnings.filterwarnings("error") for the whole process; keep our filters.
    with warnings.catch_warnings():
        import gym_trading_env  # noqa: F401  (registers TradingEnv)
    frame = prices.copy()
    frame["feature_return"] = frame["close"].pct_change().fillna(0.0)
    sma_ratio = frame["close"].rolling(10).mean() / frame["close"].rolling(30).mean() - 1.0
    frame["feature_sma_ratio"] = sma_ratio.fillna(0.0)
    frame["feature_range"] = frame["high"] / frame["low"] - 1.0
    return gym.make(
        "TradingEnv", df=frame, positions=[-1, 0, 1], trading_fees=0.0003, verbose=0
    ).unwrapped


def main(argv: Sequence[str] | None = None) -> None:
    """Run every measurement and print the table and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="wall time per env (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per env (default 3)")
    args = parser.parse_args(argv)

    prices = synthetic_prices(N_BARS, SEED)
    rng = np.random.default_rng(SEED)
    continuous = [rng.uniform(-1.0, 1.0, (1,)).astype(np.float32) for _ in range(CHUNK)]
    batched = [rng.uniform(-1.0, 1.0, (VECTOR_ENVS, 1)).astype(np.float32) for _ in range(CHUNK // 10)]
    two_actions = rng.integers(0, 2, CHUNK).tolist()
    three_actions = rng.integers(0, 3, CHUNK).tolist()

    runs: list[tuple[str, Callable[[], Any], Sequence[Any], int]] = [
        (
            "TradingEnv (market/Trading-v0)",
            lambda: gym.make(market.envs.ENV_ID, data=prices, window=WINDOW).unwrapped,
            continuous,
            1,
        ),
        (
            f"TradingVectorEnv x{VECTOR_ENVS}",
            lambda: TradingVectorEnv(data=prices, window=WINDOW, num_envs=VECTOR_ENVS),
            batched,
            VECTOR_ENVS,
        ),
        ("gym-anytrading stocks-v0", lambda: make_anytrading(prices), two_actions, 1),
        ("gym-trading-env TradingEnv", lambda: make_gym_trading_env(prices), three_actions, 1),
    ]
    envs = {name: build() for name, build, *_ in runs}
    rounds: dict[str, list[float]] = {name: [] for name in envs}
    for _ in range(args.rounds):
        for name, _build, actions, per_step in runs:
            rounds[name].append(steps_per_second(envs[name], actions, args.seconds / args.rounds, per_step))
    rates = {name: statistics.median(values) for name, values in rounds.items()}
    backtest = backtest_seconds(prices, repeats=5)

    single, vector, anytrading, trading_env = (rates[name] for name, *_ in runs)
    print(
        f"Trading env steps per second, {N_BARS:,} daily bars, random actions, {args.seconds:g} s each "
        f"(median of {args.rounds} interleaved rounds)"
    )
    print(f"{'env':<36}{'env-steps/s':>14}")
    for name, rate in rates.items():
        print(f"{name:<36}{rate:>14,.0f}")
    print()
    ratios = [
        ("TradingEnv / gym-trading-env", single / trading_env, TARGET_SINGLE_VS_TRADING_ENV),
        (f"TradingVectorEnv x{VECTOR_ENVS} / gym-anytrading", vector / anytrading, TARGET_VECTOR_VS_ANYTRADING),
    ]
    for label, ratio, target in ratios:
        verdict = "met" if ratio >= target else "missed"
        print(f"{label:<44}{ratio:>7.1f}x  (target >= {target:g}x: {verdict})")
    print(f"{'TradingEnv / gym-anytrading':<44}{single / anytrading:>7.2f}x")
    print()
    print(f"10-year daily backtest ({BACKTEST_BARS:,} bars, constant action): {backtest * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
