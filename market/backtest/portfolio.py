"""run_portfolio_backtest: one policy over a panel's period, stepped through PortfolioEnv's own dynamics.

As for single assets (:mod:`market.backtest.engine`), the backtest uses the env, costs and
accounting that training uses: decisions at bar t's close fill at bar t+1's open with per-asset
commission and slippage. Every result comes beside equal weight (rebalanced every bar) on the same
bars and costs. Each bar's value change splits exactly into per-asset contributions and costs:
``V_t - V_t-1 = sum_i [u_i,t (close_t - open_t) + u_i,t-1 (open_t - close_t-1)] - cost_t``, with
``u`` the units held after each bar's trade.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np
import pandas as pd

from market.agents.baselines.portfolio import EQUAL_WEIGHT, PortfolioPolicy, make_portfolio_baseline
from market.agents.policy import Policy
from market.backtest import metrics as m
from market.envs.portfolio import PortfolioEnv
from market.envs.portfolio_config import PortfolioEnvConfig
from market.envs.portfolio_dynamics import INFO_CASH, INFO_STEP_COST, INFO_TURNOVER, INFO_VALUE, INFO_WEIGHTS
from market.errors import ConfigError
from market.records import RunWriter
from market.records.schema import (
    ACTION,
    AGENT,
    ASSET,
    CASH,
    CONTRIBUTION,
    EQUITY,
    HOLDINGS,
    KIND_BACKTEST,
    POSITION,
    PRICE,
    REWARD,
    STEP,
    STEPS,
    TIME,
    WEIGHT,
)
from market.stats import annual_turnover, mean_holdings

BENCHMARK: Final = EQUAL_WEIGHT
"""The portfolio every backtest is set beside: equal weight, rebalanced every bar."""
TURNOVER_PER_YEAR: Final = "turnover_per_year"
MEAN_HOLDINGS: Final = "mean_holdings"
PORTFOLIO_METRIC_KEYS: Final = (*m.METRIC_KEYS, TURNOVER_PER_YEAR, MEAN_HOLDINGS)
"""The backtest metrics plus turnover per year (value traded, buys and sells, over value) and the
mean number of assets held. ``turnover`` is the mean value traded per bar; ``exposure`` and ``hit_rate``
read the gross exposure (the sum of absolute asset weights) as the position."""
CASH_ROW: Final = "cash"
"""The holdings table's row for cash (its contribution is minus the bar's costs)."""


@dataclass(frozen=True, slots=True)
class PortfolioPlay:
    """One player's bars.

    Attributes:
        frame: One row per bar after the first decision: time, value, cash, gross exposure, value
            traded (fraction), cost, reward.
        weights: Weights held at each bar's close, ``(bars, N + 1)``, cash last.
        targets: The target weights asked for at each decision, ``(bars, N + 1)``.
        contributions: Each asset's contribution to each bar's return, ``(bars, N)``; with
            ``-cost / previous value`` they add up to the bar's simple return.
        metrics: :data:`PORTFOLIO_METRIC_KEYS`.
    """

    frame: pd.DataFrame
    weights: np.ndarray
    targets: np.ndarray
    contributions: np.ndarray
    metrics: dict[str, float]


@dataclass(frozen=True, slots=True)
class PortfolioBacktestResult:
    """The policy's play and equal weight's, on the same bars."""

    assets: tuple[str, ...]
    play: PortfolioPlay
    benchmark: PortfolioPlay
    settings: dict[str, Any] = field(default_factory=dict)


def baseline_policy(name: str, env: PortfolioEnv, **params: Any) -> PortfolioPolicy:
    """A portfolio baseline by name, acting in ``env``."""
    config = env.config
    return PortfolioPolicy(
        make_portfolio_baseline(name, **params), n_assets=len(env.assets), window=config.window, long_only=config.long_only, gross_leverage=config.gross_leverage
    )


def play_portfolio(policy: Policy, env: PortfolioEnv, seed: int, periods_per_year: float | None = None) -> PortfolioPlay:
    """Step one whole episode of ``env`` with ``policy`` and collect its bars and metrics."""
    from market.envs.portfolio_dynamics import weights_from_action

    rng = np.random.default_rng(seed)
    if isinstance(policy, PortfolioPolicy):
        policy.start_episode()
    obs, info = env.reset(seed=seed)
    data = env.data
    n = len(env.assets)
    previous_value, previous_units = info[INFO_VALUE], np.zeros(n)
    previous_bar = info["bar"]
    rows: dict[str, list[Any]] = {k: [] for k in (TIME, "value", "cash", "gross", "traded", "cost", REWARD)}
    weights, targets, contributions = [], [], []
    done = False
    while not done:
        action = np.asarray(policy.act(obs, rng), dtype=np.float32)
        obs, reward, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        bar = info["bar"]
        held = info[INFO_WEIGHTS]
        units = held[:-1] * info[INFO_VALUE] / data.closes[bar]
        opens, closes, last_closes = data.opens[bar], data.closes[bar], data.closes[previous_bar]
        contributions.append((units * (closes - opens) + previous_units * (opens - last_closes)) / previous_value)
        targets.append(weights_from_action(action, long_only=env.config.long_only, gross_leverage=env.config.gross_leverage))
        weights.append(held)
        rows[TIME].append(data.times[bar])
        rows["value"].append(info[INFO_VALUE])
        rows["cash"].append(info[INFO_CASH])
        rows["gross"].append(float(np.abs(held[:-1]).sum()))
        rows["traded"].append(info[INFO_TURNOVER])
        rows["cost"].append(info[INFO_STEP_COST])
        rows[REWARD].append(float(reward))
        previous_value, previous_units, previous_bar = info[INFO_VALUE], units, bar
    frame = pd.DataFrame(rows)
    frame.attrs["initial_value"] = env.config.initial_cash
    held_weights = np.array(weights)
    return PortfolioPlay(frame, held_weights, np.array(targets), np.array(contributions), _metrics(frame, held_weights, periods_per_year))


def _metrics(frame: pd.DataFrame, weights: np.ndarray, periods_per_year: float | None) -> dict[str, float]:
    """The backtest metrics of one play, with the portfolio's turnover and holdings."""
    value = frame["value"].to_numpy()
    previous = np.concatenate([[frame.attrs["initial_value"]], value[:-1]])
    returns = pd.Series(value / previous - 1.0, index=pd.DatetimeIndex(frame[TIME]))
    figures = m.compute_metrics(returns, positions=frame["gross"].to_numpy(), costs=frame["cost"].to_numpy(), periods_per_year=periods_per_year)
    traded = frame["traded"].to_numpy()
    figures[m.TURNOVER] = float(np.mean(traded))
    figures[TURNOVER_PER_YEAR] = annual_turnover(traded, periods_per_year=figures[m.PERIODS_PER_YEAR])
    figures[MEAN_HOLDINGS] = mean_holdings(weights[:, :-1])
    return figures


def run_portfolio_backtest(policy: Policy, config: PortfolioEnvConfig, *, seed: int = 0, periods_per_year: float | None = None) -> PortfolioBacktestResult:
    """Backtest ``policy`` over the period of ``config`` beside equal weight.

    The whole period is played once from its first bar (``random_start`` False, ``max_steps`` None);
    every other setting is the config's.

    Raises:
        ConfigError, DataError: bad settings or data, one line naming the problem.
    """
    if type(seed) is not int or seed < 0:
        raise ConfigError(f"seed: expected a non-negative integer, got {seed!r}")
    config = replace(config, random_start=False, max_steps=None)
    env = PortfolioEnv(config)
    play = play_portfolio(policy, env, seed, periods_per_year)
    benchmark_env = PortfolioEnv(config)
    benchmark = play_portfolio(baseline_policy(BENCHMARK, benchmark_env), benchmark_env, seed, periods_per_year)
    settings = {
        "assets": list(env.assets),
        "window": config.window,
        "commission_bps": config.commission_bps,
        "slippage_bps": config.slippage_bps,
        "long_only": config.long_only,
        "gross_leverage": config.gross_leverage,
        "start": str(play.frame[TIME].iloc[0]),
        "end": str(play.frame[TIME].iloc[-1]),
        "bars": len(play.frame),
    }
    return PortfolioBacktestResult(env.assets, play, benchmark, settings)


def write_portfolio_record(result: PortfolioBacktestResult, root: Any, name: str, *, policy: str, data: str, seed: int) -> Any:
    """Write a portfolio backtest as a run record: both players' bars in ``steps`` (the action is the
    target weights, the position the gross exposure), their weights and contributions per asset in
    ``holdings``, the metrics in the manifest.

    Returns:
        The path of the finished run folder.
    """
    config = {"policy": policy, "data": data, **result.settings}
    with RunWriter(root, name, kind=KIND_BACKTEST, config=config, seed=seed) as writer:
        record_portfolio(writer, result, policy=policy)
        writer.set_metrics({**result.play.metrics, BENCHMARK: result.benchmark.metrics})
    return writer.path


def record_portfolio(writer: RunWriter, result: PortfolioBacktestResult, *, policy: str) -> None:
    """Append both players' bars to ``steps`` and their weights and contributions to ``holdings``."""
    players = {BENCHMARK: result.benchmark, policy: result.play}  # one entry when the policy is equal weight
    for player, play in players.items():
        frame = play.frame
        bars = len(frame)
        writer.append(
            STEPS,
            {
                STEP: np.arange(bars, dtype=np.int64),
                TIME: frame[TIME].to_numpy(),
                AGENT: [player] * bars,
                PRICE: np.full(bars, np.nan),
                CASH: frame["cash"].to_numpy(),
                POSITION: frame["gross"].to_numpy(),
                EQUITY: frame["value"].to_numpy(),
                ACTION: play.targets,
                REWARD: frame[REWARD].to_numpy(),
            },
        )
        names = [*result.assets, CASH_ROW]
        cost_share = -frame["cost"].to_numpy() / np.concatenate([[frame.attrs["initial_value"]], frame["value"].to_numpy()[:-1]])
        contributions = np.concatenate([play.contributions, cost_share[:, None]], axis=1)
        writer.append(
            HOLDINGS,
            {
                STEP: np.repeat(np.arange(bars, dtype=np.int64), len(names)),
                TIME: np.repeat(frame[TIME].to_numpy(), len(names)),
                AGENT: [player] * (bars * len(names)),
                ASSET: names * bars,
                WEIGHT: play.weights.reshape(-1),
                CONTRIBUTION: contributions.reshape(-1),
            },
        )
