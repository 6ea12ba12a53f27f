"""run_backtest: one policy over a whole price series, stepped through TradingEnv's own dynamics.

The backtest uses the same env, costs and accounting as training, so a figure measured here is the
figure a trained policy would see: decisions at bar t's close fill at bar t+1's open with
commission and slippage. Every result comes beside buy and hold on the same bars and costs. The
settings (prices, window, commission, slippage, shorting, leverage, period) come whole in a
:class:`~market.envs.trading.TradingEnvConfig`, the one home of their defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from market.agents.baselines import BuyAndHold
from market.agents.policy import Policy
from market.backtest import metrics as m
from market.envs.trading import (
    INFO_CASH,
    INFO_EQUITY,
    INFO_POSITION_FRACTION,
    INFO_PRICE,
    INFO_STEP_COST,
    TradingEnv,
    TradingEnvConfig,
)
from market.errors import ConfigError
from market.records import RunWriter
from market.records.schema import ACTION, AGENT, CASH, EQUITY, KIND_BACKTEST, POSITION, PRICE, REWARD, STEP, STEPS, TIME

BENCHMARK = "buy_and_hold"

COST = "cost"
"""The one column of BacktestResult.frame that the run record's steps table does not have."""


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """One policy's bars, returns and metrics, and the same for buy and hold.

    Attributes:
        frame: one row per bar after the first decision: time, price (the close), cash, position
            (fraction of equity), equity, action, reward and cost paid on that bar.
        metrics: :func:`market.backtest.metrics.compute_metrics` of the policy.
        benchmark_frame: the same for buy and hold.
        benchmark_metrics: buy and hold's metrics.
    """

    frame: pd.DataFrame
    metrics: dict[str, float]
    benchmark_frame: pd.DataFrame
    benchmark_metrics: dict[str, float]
    settings: dict[str, Any] = field(default_factory=dict)


def _play(policy: Policy, config: TradingEnvConfig, seed: int) -> pd.DataFrame:
    """Step one whole evaluation episode and collect one row per bar."""
    env = TradingEnv(config)
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    initial = info[INFO_EQUITY]
    rows: dict[str, list[Any]] = {k: [] for k in (TIME, PRICE, CASH, POSITION, EQUITY, ACTION, REWARD, COST)}
    index = env.prices.index
    bar = info["bar"]
    done = False
    while not done:
        action = policy.act(obs, rng)
        obs, reward, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        bar = info["bar"]
        rows[TIME].append(index[bar])
        rows[PRICE].append(info[INFO_PRICE])
        rows[CASH].append(info[INFO_CASH])
        rows[POSITION].append(info[INFO_POSITION_FRACTION])
        rows[EQUITY].append(info[INFO_EQUITY])
        rows[ACTION].append(float(np.asarray(action, dtype=np.float64).reshape(-1)[0]))
        rows[REWARD].append(float(reward))
        rows[COST].append(info[INFO_STEP_COST])
    frame = pd.DataFrame(rows)
    frame.attrs["initial_equity"] = initial
    return frame


def _metrics(frame: pd.DataFrame, periods_per_year: float | None) -> dict[str, float]:
    """Metrics of one played episode: returns from equity, positions held over each bar, costs."""
    equity = frame[EQUITY].to_numpy()
    previous = np.concatenate([[frame.attrs["initial_equity"]], equity[:-1]])
    returns = pd.Series(equity / previous - 1.0, index=pd.DatetimeIndex(frame[TIME]))
    return m.compute_metrics(
        returns,
        positions=frame[POSITION].to_numpy(),
        costs=frame[COST].to_numpy(),
        periods_per_year=periods_per_year,
    )


def run_backtest(
    policy: Policy,
    config: TradingEnvConfig,
    *,
    seed: int = 0,
    periods_per_year: float | None = None,
) -> BacktestResult:
    """Backtest ``policy`` over the period of ``config`` beside buy and hold.

    A backtest plays the config's whole period once, from its first bar: ``random_start`` and
    ``max_steps`` are set to ``False`` and ``None``; every other setting (prices, window, costs,
    shorting, leverage, ``start`` and ``end``) is the config's.

    Args:
        policy: anything with ``act(obs, rng)`` returning a target position for TradingEnv.
        config: the env settings: ``data`` (a validated price frame, a path, or None for the
            bundled sample), ``commission_bps``, ``slippage_bps``, ``window``, ``start``, ``end``, ...
        seed: seed of the env and of the policy's random stream.
        periods_per_year: annualization; inferred from the bar spacing when None.

    Returns:
        The policy's and buy and hold's bars and metrics.

    Raises:
        ConfigError, DataError: for bad settings (a negative seed included) or data, with one line
            naming the problem.
    """
    if type(seed) is not int or seed < 0:
        raise ConfigError(f"seed: expected a non-negative integer, got {seed!r}")
    config = replace(config, random_start=False, max_steps=None)
    frame = _play(policy, config, seed)
    benchmark = _play(BuyAndHold(), config, seed)
    settings = {
        "window": config.window,
        "commission_bps": config.commission_bps,
        "slippage_bps": config.slippage_bps,
        "allow_short": config.allow_short,
        "leverage": config.leverage,
        "start": str(frame[TIME].iloc[0]),
        "end": str(frame[TIME].iloc[-1]),
        "bars": len(frame),
    }
    return BacktestResult(frame, _metrics(frame, periods_per_year), benchmark, _metrics(benchmark, periods_per_year), settings)


def write_backtest_record(result: BacktestResult, root: Any, name: str, *, policy: str, data: str, seed: int) -> Any:
    """Write a backtest as a run record: both players' bars in the steps table, metrics in the manifest.

    Returns:
        The path of the finished run folder.
    """
    config = {"policy": policy, "data": data, **result.settings}
    with RunWriter(root, name, kind=KIND_BACKTEST, config=config, seed=seed) as writer:
        record_steps(writer, result, policy=policy)
        writer.set_metrics({**result.metrics, BENCHMARK: result.benchmark_metrics})
    return writer.path


def record_steps(writer: RunWriter, result: BacktestResult, *, policy: str) -> None:
    """Append both players' bars (the policy's and buy and hold's) to the run's steps table."""
    players = {BENCHMARK: result.benchmark_frame, policy: result.frame}  # one entry when the policy is buy and hold
    for player, frame in players.items():
        writer.append(
            STEPS,
            {
                STEP: np.arange(len(frame), dtype=np.int64),
                TIME: frame[TIME].to_numpy(),
                AGENT: [player] * len(frame),
                PRICE: frame[PRICE].to_numpy(),
                CASH: frame[CASH].to_numpy(),
                POSITION: frame[POSITION].to_numpy(),
                EQUITY: frame[EQUITY].to_numpy(),
                ACTION: frame[ACTION].to_numpy().reshape(-1, 1),
                REWARD: frame[REWARD].to_numpy(),
            },
            )
