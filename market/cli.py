"""The ``market`` command: one function per subcommand.

Errors the product raises on purpose (:class:`market.errors.MarketError`) print as one line on
stderr with a non-zero exit; nothing else is caught, so a bug keeps its traceback.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

# typer 0.29 (pinned) vendors click; its exceptions are not re-exported (but BadParameter)
from typer._click import exceptions as click_errors

from market import __version__
from market.calibration.fit import DEFAULT_BUDGET, DEFAULT_SEEDS
from market.comparison import STRATEGY_PREFIX, VERSUS_PREFIX, comparison_rows, evaluation_record
from market.errors import ConfigError, Interrupted, MarketError
from market.exchange import EXCHANGE_ACCOUNT, AccountLimits, Exchange, FeeConfig, check_invariants
from market.exchange.flow import FlowKind, random_order_flow
from market.records import RunReader, list_runs
from market.records.files import to_jsonable
from market.records import schema as s
from market.records.schema import LOGS_DIR
from market.training.tracking import Tracker, TrackingConfig

app = typer.Typer(
    name="market",
    help="A multi-agent market simulator: order book, RL envs, training, backtests, dashboard.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
runs_app = typer.Typer(help="List and inspect run records.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
scenarios_app = typer.Typer(help="List and show the bundled scenarios.", no_args_is_help=True)
app.add_typer(scenarios_app, name="scenarios")

DEFAULT_RUNS = Path("runs")
RUNS_OPTION = typer.Option(DEFAULT_RUNS, "--runs", help="Folder of run records (default: ./runs).")
TENSORBOARD_OPTION = typer.Option(True, "--tensorboard/--no-tensorboard", help="Write TensorBoard event files to OUT/tensorboard/<run>/.")
MLFLOW_OPTION = typer.Option(None, "--mlflow", help="Also log to this MLflow tracking URI, e.g. sqlite:///runs/mlflow.db (needs market[mlflow]).")
VERBOSE_OPTION = typer.Option(False, "--verbose", help="Show Ray's and RLlib's own messages (they always go to OUT/logs/).")
DEFAULT_ITERATIONS = 10
"""Training iterations of ``market train`` when no stop criterion is given."""
HEADLINE_METRICS = 3


def _show_version(value: bool) -> None:
    if value:
        console.print(f"market {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", callback=_show_version, is_eager=True),
) -> None:
    """A multi-agent market simulator: order book, RL envs, training, backtests, dashboard."""


@app.command()
def demo(
    orders: int = typer.Option(20_000, min=1, help="Orders in the random flow."),
    agents: int = typer.Option(4, min=1, max=26, help="Agents sending orders."),
    seed: int = typer.Option(0, help="Root seed of the order flow."),
) -> None:
    """Run a seeded random order flow through the exchange and print what happened."""
    if seed < 0:
        raise ConfigError(f"--seed: expected a non-negative integer, got {seed}")
    names = [f"trader_{chr(ord('a') + i)}" for i in range(agents)]
    fees = FeeConfig(maker_bps=1, taker_bps=5)
    exchange = Exchange(fees=fees)
    for name in names:
        exchange.open_account(name, cash=2_000_000_000, inventory=200_000, limits=AccountLimits(max_short=200_000))
    flow = random_order_flow(np.random.default_rng(seed), orders, names, ioc_share=0.05, market_share=0.15)

    # replay the flow; a cancel names an earlier entry, which maps to the id the exchange gave it
    order_ids: dict[int, int] = {}
    outcomes: Counter[str] = Counter()
    trades = volume = 0
    for i, order in enumerate(flow):
        if order.kind is FlowKind.CANCEL:
            result = exchange.cancel(order.agent, order_ids.get(order.target, -1))
        elif order.kind is FlowKind.MARKET:
            result = exchange.submit_market(order.agent, order.side, order.qty)
        else:
            result = exchange.submit_limit(order.agent, order.side, order.price, order.qty, ioc=order.kind is FlowKind.IOC)
        outcomes[order.kind if result.ok else f"rejected: {result.reject.reason}"] += 1  # type: ignore[union-attr]
        if result.order_id is not None:
            order_ids[i] = result.order_id
        trades += len(result.fills)
        volume += sum(f.qty for f in result.fills)
    check_invariants(exchange.book, exchange.ledger)

    console.print(f"[bold]market demo[/bold]: {orders:,} orders from {agents} agents, seed {seed}, fees {fees.maker_bps}/{fees.taker_bps} bps")
    flow_table = Table("outcome", "count", title="Order flow")
    for key, count in sorted(outcomes.items()):
        flow_table.add_row(str(key), f"{count:,}")
    console.print(flow_table)
    console.print(f"trades: {trades:,}   volume: {volume:,} lots   resting orders: {len(exchange.book):,}")

    depth = exchange.book.depth(5)
    book_table = Table("bid qty", "bid", "ask", "ask qty", title="Final book (top 5 levels)")
    for level in range(max(len(depth.bids), len(depth.asks))):
        bid = depth.bids[level] if level < len(depth.bids) else ("", "")
        ask = depth.asks[level] if level < len(depth.asks) else ("", "")
        book_table.add_row(str(bid[1]), str(bid[0]), str(ask[0]), str(ask[1]))
    console.print(book_table)

    ledger = exchange.ledger
    accounts = Table("account", "cash (ticks x lots)", "inventory (lots)", title="Accounts")
    for name in [*names, EXCHANGE_ACCOUNT]:
        accounts.add_row(name, f"{ledger.cash(name):,}", f"{ledger.inventory(name):,}")
    console.print(accounts)
    console.print(f"conservation: cash {ledger.total_cash():,} = deposited {ledger.deposited_cash:,}", soft_wrap=True)
    console.print(
        f"conservation: shares {ledger.total_inventory():,} = deposited {ledger.deposited_inventory:,}: [green]OK[/green]",
        soft_wrap=True,
    )


def _run_name(kind: str, label: str) -> str:
    """A run folder name: kind, label and the UTC time to the millisecond."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")[:-3]
    return f"{kind}_{label}_{stamp}"


def _check_out(out: Path, name: str) -> None:
    """Refuse a runs folder the run cannot be written under, before anything starts (Ray included)."""
    if out.exists() and not out.is_dir():
        raise MarketError(f"--out {out}: is a file, not a folder")


def _log_file(out: Path, name: str) -> Path:
    """Where a run's Ray and RLlib messages go."""
    return Path(out) / LOGS_DIR / f"{name}.log"  # records.schema: a service folder, not a run


TIME_FORMAT_OPTION = typer.Option(None, "--time-format", help="strftime format of the price file's times, e.g. '%d.%m.%Y %H:%M:%S.%f'.")
TIME_UNIT_OPTION = typer.Option(None, "--time-unit", help="Read the price file's times as integer epochs in s, ms, us or ns.")
DAYFIRST_OPTION = typer.Option(False, "--dayfirst", help="Read the price file's numeric dates day first (31/01/2024).")
DELIMITER_OPTION = typer.Option(None, "--delimiter", help="CSV field separator (default: comma, semicolon or tab, from the header).")
DECIMAL_OPTION = typer.Option(".", "--decimal", help="Decimal mark of CSV numbers: '.' or ',' (',' needs ';' or tab fields).")


def _read_options(time_format: str | None, time_unit: str | None, dayfirst: bool, delimiter: str | None, decimal: str):  # noqa: ANN202
    """The price-file reading options given on the command line, as one ReadOptions."""
    from market.data.loading import ReadOptions

    return ReadOptions(time_format=time_format, time_unit=time_unit, dayfirst=dayfirst, delimiter=delimiter, decimal=decimal)


MAX_COST_BPS = 10_000
"""Commission and slippage options are below 10,000 bps: a cost of the whole notional is no backtest."""


@app.command()
def backtest(
    data: Path | None = typer.Option(None, "--data", help="CSV or Parquet OHLCV file (default: the bundled daily sample)."),
    policy: str = typer.Option("buy_and_hold", "--policy", help="buy_and_hold, sma_crossover, mean_reversion or random."),
    commission_bps: float | None = typer.Option(None, "--commission-bps", help="Commission in bps of traded notional (default: TradingEnv's)."),
    slippage_bps: float | None = typer.Option(None, "--slippage-bps", help="Slippage in bps against each fill (default: TradingEnv's)."),
    start: str | None = typer.Option(None, "--start", help="First date of the backtest (earlier bars feed features)."),
    end: str | None = typer.Option(None, "--end", help="Last date of the backtest."),
    seed: int = typer.Option(0, "--seed", help="Seed of the policy's random stream."),
    out: Path = typer.Option(DEFAULT_RUNS, "--out", help="Folder the run record is written under."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON instead of a table."),
    time_format: str | None = TIME_FORMAT_OPTION,
    time_unit: str | None = TIME_UNIT_OPTION,
    dayfirst: bool = DAYFIRST_OPTION,
    delimiter: str | None = DELIMITER_OPTION,
    decimal: str = DECIMAL_OPTION,
    panel: bool = typer.Option(False, "--panel", help="A portfolio over many assets: --data is a folder of per-asset files (or, with --wide or --symbol, one file); without --data the bundled 12-asset panel."),
    wide: bool = typer.Option(False, "--wide", help="--data is one CSV of closes with a column per asset (implies --panel)."),
    symbol: str | None = typer.Option(None, "--symbol", help="--data is one long file whose column of this name says each row's asset (implies --panel)."),
    align: str = typer.Option("inner", "--align", help="Panel alignment: inner (times every asset has) or ffill (fill up to --max-fill bars)."),
    max_fill: int = typer.Option(0, "--max-fill", help="With --align ffill, the most bars in a row an asset's last close may fill."),
    window: int | None = typer.Option(None, "--window", help="Portfolio: bars of returns the policy sees (default: PortfolioEnv's)."),
) -> None:
    """Backtest one policy over a price file (beside buy and hold) or a panel of assets (beside equal weight), and write a run record."""
    if panel or wide or symbol is not None or (data is not None and data.is_dir()) or _checkpoint_env(policy) == "portfolio":
        _backtest_portfolio(
            data, policy, commission_bps=commission_bps, slippage_bps=slippage_bps, start=start, end=end, seed=seed, out=out, as_json=as_json,
            options=_read_options(time_format, time_unit, dayfirst, delimiter, decimal), wide=wide, symbol=symbol, align=align, max_fill=max_fill, window=window,
        )
        return
    from market.agents.baselines import make_baseline
    from market.backtest.engine import BENCHMARK, run_backtest, write_backtest_record
    from market.backtest.metrics import METRIC_KEYS
    from market.data import load_prices, sample_path
    from market.envs.trading import TradingEnvConfig

    options = _read_options(time_format, time_unit, dayfirst, delimiter, decimal)
    # the options given, named as the user wrote them; the rest are TradingEnvConfig's defaults
    costs = _checked_costs(commission_bps, slippage_bps)
    env_settings: dict = {}
    if _is_checkpoint(policy):  # a checkpoint: act with its module, in the env it was trained on
        player, env_settings = _checkpoint_player(Path(policy))
        label = "trained"
    else:
        player, label = make_baseline(policy), policy
    prices = str(data) if data is not None else str(sample_path())
    given = {key: value for key, value in costs.items() if value is not None}
    # a file read with options is read here, whole and checked, and handed to the env as a frame
    source = load_prices(data, options) if data is not None and options != _read_options(None, None, False, None, ".") else prices
    config = TradingEnvConfig(data=source, start=start, end=end, **given, **env_settings)
    if env_settings:
        from market.envs import TradingEnv

        probe = TradingEnv(config)
        player.check_compatible(probe.observation_space, probe.action_space, "the backtest env")
    result = run_backtest(player, config, seed=seed)
    path = write_backtest_record(result, out, _run_name("backtest", label), policy=label, data=prices, seed=seed)

    if as_json:
        payload = {"policy": label, "run": str(path), "settings": result.settings, "metrics": result.metrics, BENCHMARK: result.benchmark_metrics}
        print(json.dumps(to_jsonable(payload, "--json"), indent=2))
        return
    table = Table("metric", label, BENCHMARK, title=f"Backtest {result.settings['start'][:10]} to {result.settings['end'][:10]} ({result.settings['bars']} bars)")
    for key in METRIC_KEYS:
        table.add_row(key, f"{result.metrics[key]:.4g}", f"{result.benchmark_metrics[key]:.4g}")
    console.print(table)
    console.print(f"run record: {path}", soft_wrap=True)


def _checked_costs(commission_bps: float | None, slippage_bps: float | None) -> dict[str, float | None]:
    """The cost options as given (None: the env's default), each refused outside [0, MAX_COST_BPS)."""
    costs = {"commission_bps": commission_bps, "slippage_bps": slippage_bps}
    for key, value in costs.items():
        if value is not None and not 0 <= value < MAX_COST_BPS:
            raise ConfigError(f"{key.replace('_', '-')}: expected a number in [0, {MAX_COST_BPS}), got {value!r}")
    return costs


def _is_checkpoint(policy: str) -> bool:
    """A ``--policy`` that names a path (a checkpoint), not a built-in policy."""
    return "/" in policy or Path(policy).exists()


def _checkpoint_env(policy: str) -> str | None:
    """The env a ``--policy`` checkpoint was trained on, or None for a name or an unreadable path."""
    if not _is_checkpoint(policy):
        return None
    from market.training.runner import read_checkpoint_settings

    try:
        settings, _ = read_checkpoint_settings(Path(policy), flag="--policy")
    except MarketError:
        return None  # the backtest that follows names the problem
    return settings.env.value


def _backtest_portfolio(
    data: Path | None, policy: str, *, commission_bps: float | None, slippage_bps: float | None, start: str | None, end: str | None,
    seed: int, out: Path, as_json: bool, options: Any, wide: bool, symbol: str | None, align: str, max_fill: int, window: int | None,
) -> None:
    """``market backtest --panel``: a portfolio policy over a panel beside equal weight."""
    from market.backtest.portfolio import BENCHMARK, PORTFOLIO_METRIC_KEYS, baseline_policy, run_portfolio_backtest, write_portfolio_record
    from market.data import load_sample_panel
    from market.data.panel import load_panel
    from market.envs import PortfolioEnv
    from market.envs.portfolio_config import PortfolioEnvConfig

    costs = _checked_costs(commission_bps, slippage_bps)
    if data is None:
        prices, source = load_sample_panel(), "the bundled panel"
    else:
        prices, source = load_panel(data, align=align, max_fill=max_fill, options=options, wide=wide, symbol=symbol), str(data)
    settings = {key: value for key, value in costs.items() if value is not None}
    if window is not None:
        settings["window"] = window
    trained = _is_checkpoint(policy)
    env_settings: dict = {}
    if trained:  # a checkpoint trained on the portfolio env
        player, env_settings = _checkpoint_player(Path(policy), env="portfolio")
        label = "trained"
    config = PortfolioEnvConfig(data=prices, start=start, end=end, **settings, **env_settings)
    probe = PortfolioEnv(config)
    if trained:
        player.check_compatible(probe.observation_space, probe.action_space, "the backtest env")
    else:
        player, label = baseline_policy(policy, probe), policy
    result = run_portfolio_backtest(player, config, seed=seed)
    path = write_portfolio_record(result, out, _run_name("backtest", label), policy=label, data=source, seed=seed)
    if as_json:
        payload = {"policy": label, "run": str(path), "settings": result.settings, "metrics": result.play.metrics, BENCHMARK: result.benchmark.metrics}
        print(json.dumps(to_jsonable(payload, "--json"), indent=2))
        return
    title = f"Portfolio backtest of {len(result.assets)} assets, {result.settings['start'][:10]} to {result.settings['end'][:10]} ({result.settings['bars']} bars)"
    table = Table("metric", label, BENCHMARK, title=title)
    for key in PORTFOLIO_METRIC_KEYS:
        table.add_row(key, f"{result.play.metrics[key]:.4g}", f"{result.benchmark.metrics[key]:.4g}")
    console.print(table)
    console.print(f"run record: {path}", soft_wrap=True)


def _checkpoint_player(path: Path, env: str = "trading") -> tuple[object, dict]:
    """A trained TradingEnv policy and the env settings it was trained with (those that shape its spaces).

    Raises:
        MarketError: when the checkpoint is missing, was not made by market train, or was trained
            on another env.
    """
    from market.agents.trained import load_policy
    from market.training.runner import read_checkpoint_settings

    settings, _ = read_checkpoint_settings(path, flag="--policy")
    if settings.env != env:
        names = {"trading": "TradingEnv", "portfolio": "PortfolioEnv"}
        raise MarketError(f"--policy {path}: the checkpoint was trained on the {settings.env} env, not on {names.get(env, env)}")
    env_config = settings.env_config
    player = load_policy(path)
    shaping = ("window", "allow_short", "leverage") if env == "trading" else ("window", "long_only", "gross_leverage")
    env_settings = {key: env_config[key] for key in shaping if key in env_config}
    return player, env_settings


def _default_env_config(env: str) -> tuple[dict, dict]:
    """Training and held-out evaluation settings when the command line gives none."""
    if env == "market":
        populations = [
            {"name": "maker", "role": "maker", "count": 2},
            {"name": "taker", "role": "taker", "count": 2},
            {"name": "noise", "role": "taker", "count": 4, "policy": "noise"},
        ]
        return {"populations": populations, "max_steps": 200}, {}
    from market.data import load_sample, load_sample_panel

    index = load_sample_panel().times if env == "portfolio" else load_sample().index
    split = index[int(len(index) * 0.7)]
    train_part = {"max_steps": 256, "end": str(split.date())}  # window and costs: the env config's defaults
    return train_part, {"start": str(split.date()), "end": None, "max_steps": None}


@app.command()
def train(
    env: str = typer.Option("trading", "--env", help="trading (TradingEnv on the bundled sample), portfolio (PortfolioEnv on the bundled panel) or market (MarketEnv)."),
    algo: str = typer.Option("ppo", "--algo", help="ppo, sac, dqn (trading only) or appo."),
    iterations: int | None = typer.Option(None, "--iterations", help=f"Stop after N training iterations (default {DEFAULT_ITERATIONS} if no other stop)."),
    timesteps: int | None = typer.Option(None, "--timesteps", help="Stop after N sampled env steps."),
    target_reward: float | None = typer.Option(None, "--target-reward", help="Stop when the mean episode return reaches R."),
    num_env_runners: int = typer.Option(0, "--num-env-runners", help="Remote env runners (0: sample in the driver)."),
    num_learners: int = typer.Option(0, "--num-learners", help="Remote learners (0: learn in the driver)."),
    address: str | None = typer.Option(None, "--address", help="Join the Ray cluster at ADDR instead of starting a local Ray."),
    checkpoint_every: int = typer.Option(0, "--checkpoint-every", min=0, help="Checkpoint every N iterations (always at the end)."),
    resume: Path | None = typer.Option(None, "--resume", help="Continue from a checkpoint written by market train."),
    eval_every: int = typer.Option(0, "--eval-every", min=0, help="Evaluate on held-out data every N iterations (always at the end)."),
    train_batch_size: int = typer.Option(2048, "--train-batch-size", help="Env steps per training iteration."),
    minibatch_size: int = typer.Option(128, "--minibatch-size", help="SGD minibatch (PPO, APPO)."),
    num_epochs: int = typer.Option(10, "--num-epochs", help="Passes over each batch (PPO)."),
    seed: int = typer.Option(0, "--seed", help="Root seed of the run."),
    out: Path = typer.Option(DEFAULT_RUNS, "--out", help="Runs folder: the record and checkpoints/ go here."),
    verbose: bool = VERBOSE_OPTION,
    tensorboard: bool = TENSORBOARD_OPTION,
    mlflow: str | None = MLFLOW_OPTION,
) -> None:
    """Train PPO, SAC, DQN or APPO with Ray RLlib, checkpoint, evaluate and record the run."""
    from market.training.configs import TrainingConfig
    from market.training.runner import StopConfig, connect, read_checkpoint_settings
    from market.training.runner import train as run_training

    env_config, eval_config = _default_env_config(env) if env in ("trading", "market", "portfolio") else ({}, {})
    settings = TrainingConfig(
        algo=algo, env=env, env_config=env_config, eval_env_config=eval_config, num_env_runners=num_env_runners,
        num_learners=num_learners, train_batch_size=train_batch_size, minibatch_size=minibatch_size, num_epochs=num_epochs, seed=seed,
    )
    no_stop_given = iterations is None and timesteps is None and target_reward is None
    stop = StopConfig(iterations=DEFAULT_ITERATIONS if no_stop_given else iterations, timesteps=timesteps, target_reward=target_reward)
    if resume is not None:
        read_checkpoint_settings(resume)  # refuse a missing or foreign checkpoint before starting Ray
    name = _run_name("train", f"{env}_{algo}")
    _check_out(out, name)
    tracking = TrackingConfig(tensorboard=tensorboard, mlflow_uri=mlflow)
    tracking.check()
    connect(address, verbose=verbose, log_file=_log_file(out, name))
    table_columns = ("iter", "env steps", "steps/s", "mean return", "eval sharpe")
    history: list[tuple[str, ...]] = []

    def show(report) -> None:
        history.append(
            (
                str(report.iteration),
                f"{report.env_steps:,}",
                f"{report.steps_per_s:,.0f}",
                f"{report.returns.get('mean', float('nan')):.4g}",
                f"{report.evaluation['sharpe_ratio']:.3f}" if "sharpe_ratio" in report.evaluation else "",
            )
        )
        live.update(_progress_table(table_columns, history, report))

    from rich.live import Live

    with Tracker(tracking, out=out, name=name, params=asdict(settings)) as tracker, Live(_progress_table(table_columns, history, None), console=console, refresh_per_second=4) as live:
        result = run_training(
            settings, stop, out=out, name=name, checkpoint_every=checkpoint_every, eval_every=eval_every, resume=resume, address=address, on_iteration=show, tracker=tracker
        )
    console.print(f"run record: {result.run_path}", soft_wrap=True)
    console.print(f"checkpoint: {result.checkpoint}", soft_wrap=True)
    for key, value in result.evaluation.items():
        if key in ("sharpe_ratio", "total_return", "buy_and_hold_sharpe_ratio") or key.endswith("_mean_return"):
            console.print(f"eval {key}: {value:.4g}")


@app.command("run")
def run_command(
    scenario: str = typer.Argument(..., help="A bundled scenario name (market scenarios list) or a path to a .toml file."),
    quick: bool = typer.Option(False, "--quick", help="The scenario's quick mode: a run of seconds."),
    seeds: int | None = typer.Option(None, "--seeds", help="Held-out evaluation seeds (mean and 95% CI per metric)."),
    address: str | None = typer.Option(None, "--address", help="Join the Ray cluster at ADDR."),
    out: Path = typer.Option(DEFAULT_RUNS, "--out", help="Runs folder: the record and checkpoints/ go here."),
    record: str | None = typer.Option(
        None, "--record",
        help="How a market scenario's recorded evaluation episode keeps its agents. agents: a row each per step, the background's "
        "too; populations: the learners row by row, each background population in aggregate. Default: populations above 1,000 "
        "background agents, else agents.",
    ),
    verbose: bool = VERBOSE_OPTION,
    tensorboard: bool = TENSORBOARD_OPTION,
    mlflow: str | None = MLFLOW_OPTION,
) -> None:
    """Train a scenario's learning populations, evaluate them, and write one run record."""
    from market import limits
    from market.scenario import ScenarioKind, load_scenario
    from market.scenario_run import run_scenario
    from market.simulation.recorder import RECORD_MODES
    from market.training.runner import connect

    if record is not None and record not in RECORD_MODES:
        raise ConfigError(f"--record: expected one of {', '.join(RECORD_MODES)}, got {record!r}")
    loaded = load_scenario(scenario, quick=quick)
    if record is not None and loaded.kind is not ScenarioKind.MARKET:
        raise ConfigError(f"--record: only a market scenario records agents or populations; {loaded.name!r} is a {loaded.kind.value} scenario")
    if seeds is not None:
        limits.check_size("--seeds", seeds, limits.MAX_SEEDS)
    name = _run_name("scenario", loaded.name)
    _check_out(out, name)
    tracking = TrackingConfig(tensorboard=tensorboard, mlflow_uri=mlflow)
    tracking.check()
    if loaded.learns or address is not None:  # a scenario where nothing learns only plays its evaluation, with no Ray
        connect(address, verbose=verbose, log_file=_log_file(out, name))
    history: list[tuple[str, ...]] = []
    columns = ("iter", "env steps", "steps/s", "mean return", "eval sharpe")

    def show(report) -> None:
        history.append((str(report.iteration), f"{report.env_steps:,}", f"{report.steps_per_s:,.0f}", f"{report.returns.get('mean', float('nan')):.4g}", ""))
        live.update(_progress_table(columns, history, report))

    from rich.live import Live

    console.print(f"[bold]{loaded.name}[/bold]{' (quick)' if quick else ''}: {loaded.scenario.description}", soft_wrap=True)
    params = {"scenario": loaded.name, "quick": quick, "training": loaded.training, "evaluation": loaded.evaluation}
    with Tracker(tracking, out=out, name=name, params=params) as tracker:
        if loaded.learns:
            with Live(_progress_table(columns, history, None), console=console, refresh_per_second=4) as live:
                result = run_scenario(loaded, out=out, name=name, seeds=seeds, address=address, on_iteration=show, tracker=tracker, record=record)
        else:
            with console.status(f"playing {loaded.name}: no population learns, so its evaluation alone runs"):
                result = run_scenario(loaded, out=out, name=name, seeds=seeds, address=address, tracker=tracker, record=record)
    rows = comparison_rows({k: v[0] for k, v in result.metrics.items()}, {k: v[1] for k, v in result.metrics.items()}, evaluation_record(loaded))
    table = Table("metric", "mean", "95% CI", title=f"Evaluation of {loaded.name}")
    for key, (mean, half) in result.metrics.items():
        if not rows or not key.startswith((STRATEGY_PREFIX, VERSUS_PREFIX)):  # with a comparison, the strategies are in its table
            table.add_row(key, f"{mean:.4g}", f"+/- {half:.3g}")
    console.print(table)
    for comparison in _comparison_tables(rows, loaded):
        console.print(comparison)
    _print_flows(result.run_path)
    console.print(f"run record: {result.run_path}", soft_wrap=True)
    console.print(f"open it: {sys.argv[0]} dashboard --runs {out}   (then http://127.0.0.1:8501/?run={result.run_path.name})", soft_wrap=True)


@app.command()
def league(
    scenario: str = typer.Argument(..., help="A bundled scenario name (market scenarios list) or a path to a .toml file."),
    quick: bool = typer.Option(False, "--quick", help="The scenario's quick mode: a league of a minute or less."),
    generations: int | None = typer.Option(None, "--generations", help="Rounds of the loop (default: the scenario's league.generations)."),
    seeds: int | None = typer.Option(None, "--seeds", help="Held-out seeds each generation adds to every profile (default: league.seeds)."),
    workers: int | None = typer.Option(None, "--workers", help="Episodes played at once as Ray tasks (default: the number of cores)."),
    iterations: int | None = typer.Option(None, "--iterations", help="PPO iterations of each best response; 0: none (default: league.best_response_iterations)."),
    address: str | None = typer.Option(None, "--address", help="Join the Ray cluster at ADDR."),
    out: Path = typer.Option(DEFAULT_RUNS, "--out", help="Runs folder: the record, best responses' runs, the league's state under checkpoints/."),
    resume: str | None = typer.Option(None, "--resume", help="Continue the league RUN (a run name under --out) from its last finished generation."),
    verbose: bool = VERBOSE_OPTION,
) -> None:
    """Play the scenario's strategy pools against each other: payoffs, equilibrium, regrets, best responses and ratings per generation."""
    import logging
    import os

    import ray  # noqa: F401  (Ray sets up its logger on import; from here its and RLlib's messages go through one router)

    from market.league.loop import LeagueSettings, read_state, run_league
    from market.league.pool import build_pools
    from market.scenario import load_scenario
    from market.training.runner import RayLogRouter, connect, route_ray_logs

    loaded = load_scenario(scenario, quick=quick)
    if resume is not None:
        stored = read_state(out, resume)
        seeds = stored["seeds"] if seeds is None else seeds
    settings = LeagueSettings(
        generations=loaded.league.generations if generations is None else generations,
        seeds=loaded.league.seeds if seeds is None else seeds,
        workers=(os.cpu_count() or 1) if workers is None else workers,
        iterations=loaded.league.best_response_iterations if iterations is None else iterations,
    )
    name = resume or _run_name("league", loaded.name)
    _check_out(out, name)
    route_ray_logs(RayLogRouter(logging.INFO if verbose else logging.ERROR, None))
    build_pools(loaded)  # every strategy checked (checkpoints loaded) before Ray starts or anything is written
    connect(address, verbose=verbose, log_file=_log_file(out, name))
    console.print(f"[bold]{loaded.name}[/bold]{' (quick)' if quick else ''}: league of {settings.generations} generation(s), {settings.seeds} seed(s) each", soft_wrap=True)
    result = run_league(loaded, settings, out=out, name=name, source=scenario, quick=quick, resume=resume is not None, address=address, on_generation=_print_generation)
    table = Table("generation", "exploitability then", "against the final pool", title="Exploitability of each generation's mixture (P&L per agent per episode)")
    for point in result.curve:
        table.add_row(str(point["generation"]), f"{point['exploitability']:.4g}", f"{point['final_pool_exploitability']:.4g}")
    console.print(table)
    console.print(f"run record: {result.run_path}", soft_wrap=True)
    console.print(f"open it: {sys.argv[0]} dashboard --runs {out}   (then http://127.0.0.1:8501/?run={result.run_path.name})", soft_wrap=True)


def _print_generation(generation) -> None:
    """One generation: each strategy's weight in the mixture, its payoff against the mixture and regret."""
    record = generation.as_dict()
    table = Table("population", "strategy", "mixture", "regret", title=f"Generation {generation.number} ({generation.seeds} seeds per profile, {record['method']})")
    for population, mixture in record["mixtures"].items():
        for strategy, weight in mixture.items():
            table.add_row(population, strategy, f"{weight:.3f}", f"{record['regrets'][population][strategy]:.4g}")
    console.print(table)
    values = ", ".join(f"{p} {v:.4g}" for p, v in record["values"].items())
    console.print(f"mixture value (P&L per agent per episode): {values}; regret within the pool: {generation.equilibrium.regret:.4g}", soft_wrap=True)
    for population, response in generation.best_responses.items():
        console.print(
            f"best response {population}/{response['strategy']}: {response['payoff']:.4g} against the mixture, gain {response['gain']:+.4g} ({response['policy']})", soft_wrap=True
        )
    kind = "pool and best responses" if generation.best_responses else "pool only: no best responses trained"
    console.print(f"[bold]exploitability[/bold] of the mixture ({kind}): {generation.exploitability:.4g}", soft_wrap=True)
    console.print(_standings_table(record["standings"]))


def _standings_table(standings: list[dict]) -> Table:
    table = Table("rank", "strategy", "ordinal", "mu", "sigma", "episodes", "mean payoff", title="Standings (Plackett-Luce, every episode so far)")
    for rank, s in enumerate(standings, 1):
        table.add_row(str(rank), s["strategy"], f"{s['ordinal']:.3f}", f"{s['mu']:.3f}", f"{s['sigma']:.3f}", str(s["episodes"]), f"{s['mean_payoff']:.4g}")
    return table


@app.command()
def tune(
    space: Path = typer.Option(..., "--space", help="TOML or JSON file: TrainingConfig fields to search, e.g. lr = {loguniform = [1e-5, 1e-3]}."),
    env: str = typer.Option("trading", "--env", help="trading, portfolio or market."),
    algo: str = typer.Option("ppo", "--algo", help="ppo, sac, dqn (trading only) or appo."),
    samples: int = typer.Option(8, "--samples", help="Trials to draw."),
    iterations: int = typer.Option(10, "--iterations", help="Training iterations per trial."),
    metric: str = typer.Option("env_runners/episode_return_mean", "--metric", help="RLlib result key to maximize."),
    num_env_runners: int = typer.Option(0, "--num-env-runners", help="Remote env runners per trial."),
    address: str | None = typer.Option(None, "--address", help="Join the Ray cluster at ADDR."),
    seed: int = typer.Option(0, "--seed", help="Seed of the search and of every trial."),
    out: Path = typer.Option(DEFAULT_RUNS, "--out", help="The search goes to OUT/<name>, with best.json."),
    verbose: bool = VERBOSE_OPTION,
) -> None:
    """Search hyperparameters with Ray Tune for any env and algorithm; write the best config and its score."""
    from market.scenario import read_toml
    from market.training.configs import TrainingConfig
    from market.training.tuning import run_tune

    if not space.is_file():
        raise MarketError(f"--space {space}: file not found")
    if space.suffix == ".json":
        try:
            table = json.loads(space.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise MarketError(f"--space {space}: not valid JSON ({error})") from None
    else:
        table = read_toml(space)
    env_config, eval_config = _default_env_config(env) if env in ("trading", "market", "portfolio") else ({}, {})
    settings = TrainingConfig(algo=algo, env=env, env_config=env_config, eval_env_config=eval_config, num_env_runners=num_env_runners, seed=seed)
    result = run_tune(settings, table, samples=samples, iterations=iterations, metric=metric, out=out, name=_run_name("tune", f"{env}_{algo}"), address=address, verbose=verbose)
    trials = Table("trial", "values", metric, title="Tune trials")
    for i, trial in enumerate(result.trials):
        trials.add_row(str(i), json.dumps(to_jsonable(trial.params, "params")), f"{trial.score:.4g}" if trial.score is not None else "failed")
    console.print(trials)
    console.print(f"best: {json.dumps(to_jsonable(result.params, 'params'))}  score {result.score:.4g}", soft_wrap=True)
    console.print(f"written: {result.path}", soft_wrap=True)


def _comparison_tables(rows, scenario) -> list[Table]:
    """The strategies of a scenario's evaluation side by side (:func:`market.comparison.comparison_rows`),
    one table per role, with the published figures under each strategy where the scenario gives a reference."""
    import math

    from market.comparison import VERSUS, columns_of

    def cell(value: float, half: float = math.nan) -> str:
        if not math.isfinite(value):
            return "-"
        return f"{value:.4g}" + (f" +/- {half:.2g}" if math.isfinite(half) else "")

    reference = scenario.evaluation.reference
    tables = []
    for role in dict.fromkeys(row.role for row in rows):
        columns = columns_of(role)
        versus = f"{scenario.label} - it ({VERSUS[role].replace('_', ' ')})"
        table = Table("strategy", "population", *(c.heading for c in columns), versus, title=f"Strategies of {scenario.name}, {role}s (money in price units; mean +/- 95% CI per episode)")
        for row in (r for r in rows if r.role == role):
            table.add_row(row.strategy, row.population, *(cell(*row.values[c.metric]) for c in columns), "" if row.versus is None else cell(*row.versus))
            if row.reference:
                table.add_row("  published", "", *(cell(row.reference[c.metric]) if c.metric in row.reference else "" for c in columns), "", style="dim")
        if reference is not None:
            table.caption = f"published: {reference.source}"
        tables.append(table)
    return tables


def _progress_table(columns: tuple[str, ...], history: list[tuple[str, ...]], report) -> Table:
    """The live training display: the last iterations, and the losses of the latest one."""
    table = Table(*columns, title="Training")
    for row in history[-12:]:
        table.add_row(*row)
    if report is not None:
        populations = ", ".join(f"{k} {v:.3g}" for k, v in report.returns.items() if k != "mean")
        losses = ", ".join(f"{k} {v:.3g}" for k, v in list(report.losses.items())[:4])
        table.caption = f"{populations}\n{losses}".strip()
    return table


@app.command()
def simulate(
    makers: int | None = typer.Option(None, "--makers", help="Scripted market makers (default: the default ecology's count)."),
    takers: int | None = typer.Option(None, "--takers", help="Zero-intelligence takers that trade every step (default: the ecology's)."),
    noise: int | None = typer.Option(None, "--noise", help="Noise traders, less active, more when volatile (default: the ecology's)."),
    momentum: int | None = typer.Option(None, "--momentum", help="Momentum traders (default: the ecology's)."),
    value: int | None = typer.Option(None, "--value", help="Value traders following a synthetic fundamental (default: the ecology's)."),
    steps: int | None = typer.Option(None, "--steps", help="Steps (trading intervals) to simulate (default: a full run of the default ecology)."),
    clearing: str | None = typer.Option(None, "--clearing", help="book (the default), call or impact."),
    seed: int | None = typer.Option(None, "--seed", help="Root seed of the run, a non-negative integer."),
    fundamental: Path | None = typer.Option(None, "--fundamental", help="A price file whose closes (one bar per step) value traders follow; default: a seeded OU path."),
    ecology: Path | None = typer.Option(None, "--ecology", help="An ecology file (from market calibrate): its traders, counts and fundamental replace the default ecology's; count options still override its counts."),
    out: Path = typer.Option(DEFAULT_RUNS, "--out", help="Folder the run record is written under."),
    record: str | None = typer.Option(
        None, "--record",
        help="agents: every agent acted for one by one, a row each per step; populations: the ecology driven inside "
        "the market, each population in one call, recorded in aggregate. Default: populations above 1,000 agents, else agents.",
    ),
    time_format: str | None = TIME_FORMAT_OPTION,
    time_unit: str | None = TIME_UNIT_OPTION,
    dayfirst: bool = DAYFIRST_OPTION,
    delimiter: str | None = DELIMITER_OPTION,
    decimal: str = DECIMAL_OPTION,
) -> None:
    """Run an all-scripted market, record it, and print its stylized facts."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from market import simulation
    from market.data import load_prices
    from market.data.facts import MIN_RETURNS

    # the spec checks every setting (and its size limit) before anything is read, allocated or written;
    # an ecology file is read (and checked) first, since its counts are the defaults the options override
    fitted = None
    if ecology is not None:
        from market.calibration import read_ecology

        fitted = read_ecology(ecology)
    given = {"makers": makers, "takers": takers, "noise": noise, "momentum": momentum, "value": value, "steps": steps, "clearing": clearing, "seed": seed}
    counts = fitted.count_options() if fitted is not None else {}
    spec = simulation.SimulationSpec(**{**counts, **{key: value for key, value in given.items() if value is not None}})
    if record is None:
        record = simulation.RECORD_POPULATIONS if spec.total_agents > simulation.AGENTS_RECORDED_UP_TO else simulation.RECORD_AGENTS
    elif record not in simulation.RECORD_MODES:
        raise ConfigError(f"--record: expected one of {', '.join(simulation.RECORD_MODES)}, got {record!r}")
    options = _read_options(time_format, time_unit, dayfirst, delimiter, decimal)
    path = simulation.fundamental_from_prices(load_prices(fundamental, options), spec.initial_price) if fundamental is not None else None  # on the market's tick scale
    traders = {"ecology": fitted.archetypes, "fundamental_params": fitted.fundamental_params} if fitted is not None else {}
    with Progress(TextColumn("simulating"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} steps"), TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task("simulate", total=spec.steps)
        result = simulation.simulate(spec, out=out, fundamental=path, progress=lambda done, total: bar.update(task, completed=done), record=record, **traders)
    summary = result.summary
    console.print(f"steps {summary.steps:,}  trades {summary.trades:,}  volume {summary.volume:,} lots  mid {summary.initial_mid:,.0f} -> {summary.final_mid:,.0f} ticks", soft_wrap=True)
    if summary.flows is not None:
        console.print(summary.flows.format_matrix(), soft_wrap=True, markup=False)
        console.print(summary.flows.format_parts(), soft_wrap=True, markup=False)
    if summary.facts:
        _print_facts({"this run": summary.facts})
    else:
        console.print(f"stylized facts: not measured, they need at least {MIN_RETURNS} steps (this run has {summary.steps:,})", soft_wrap=True)
    console.print(f"run record: {result.path}", soft_wrap=True)


ECOLOGY_FILE = "ecology.toml"
CALIBRATION_REPORT = "calibration.json"


@app.command()
def calibrate(
    data: Path = typer.Option(..., "--data", help="The real price file (CSV or Parquet OHLCV) whose close-to-close returns the ecology is fitted to."),
    budget: int = typer.Option(DEFAULT_BUDGET, "--budget", help="Candidate ecologies to evaluate (a count, not seconds: each is simulated on every fitting seed, so a seed gives the same fit on any machine)."),
    seed: int = typer.Option(0, "--seed", help="Root seed: the bootstrap, the TPE sampler and the simulation seeds come from it."),
    seeds: int = typer.Option(DEFAULT_SEEDS, "--seeds", help="Simulations per candidate (at least 2)."),
    workers: int | None = typer.Option(None, "--workers", help="Processes simulating at once (default: min(seeds, CPUs)); the result does not depend on it."),
    out: Path = typer.Option(Path("calibration"), "--out", help=f"Folder for the fitted ecology ({ECOLOGY_FILE}) and the report ({CALIBRATION_REPORT})."),
    time_format: str | None = TIME_FORMAT_OPTION,
    time_unit: str | None = TIME_UNIT_OPTION,
    dayfirst: bool = DAYFIRST_OPTION,
    delimiter: str | None = DELIMITER_OPTION,
    decimal: str = DECIMAL_OPTION,
) -> None:
    """Fit the background ecology to a real price file's stylized facts (method of simulated moments).

    Writes OUT/ecology.toml (use it with `market simulate --ecology`, or paste its tables into a market scenario) and OUT/calibration.json, and prints each moment real, default and fitted.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from market import calibration
    from market.calibration.fit import check_returns
    from market.data import load_prices

    # 1. every option and the data are checked before the search starts, and nothing is written until it ends
    if budget < 1:
        raise ConfigError(f"--budget: expected a positive number of candidate ecologies, got {budget}")
    if seeds < 2:
        raise ConfigError(f"--seeds: expected at least 2 simulations per candidate (for the intervals), got {seeds}")
    if seed < 0 or seed > 2**32 - 1:
        raise ConfigError(f"--seed: expected an integer in [0, 2^32 - 1], got {seed}")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers: expected a positive number of processes, got {workers}")
    if out.exists() and not out.is_dir():
        raise MarketError(f"--out {out}: is a file, not a folder")
    prices = load_prices(data, _read_options(time_format, time_unit, dayfirst, delimiter, decimal))
    returns = check_returns(np.diff(np.log(prices["close"].to_numpy(dtype=np.float64))), str(data))

    # 2. the search, with a progress bar over every simulation (the default's, the candidates', the fit's)
    columns = (TextColumn("calibrating"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} simulations"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("calibrate", total=(budget + 2) * seeds)
        result = calibration.calibrate(
            returns, budget=budget, seed=seed, seeds=seeds, workers=workers, source=str(data), progress=lambda done, total: bar.update(task, completed=done)
        )

    # 3. the files, each through a temporary file and a rename, then the tables
    report = {"data": str(data), **result.report()}
    header = (
        f"The background ecology fitted by `market calibrate --data {data} --budget {budget} --seed {seed} --seeds {seeds}`.\n"
        f"Loss on held-out seeds: default ecology {result.loss_before:.1f}, fitted {result.loss_after:.1f} ({len(calibration.MOMENT_KEYS)} moments; see {CALIBRATION_REPORT}).\n"
        f"The market's scales: a starting price of {result.ecology.initial_price:,} ticks, and {result.ecology.steps_per_bar} step(s) of it per bar of the data.\n"
        "Run it with `market simulate --ecology THIS_FILE`, or paste its tables into a market scenario."
    )
    calibration.write_atomically(out / CALIBRATION_REPORT, json.dumps(report, indent=2, allow_nan=False) + "\n")
    calibration.write_atomically(out / ECOLOGY_FILE, calibration.format_ecology(result.ecology, header))
    headers, rows = result.moment_table()
    table = Table(*headers, title=f"Moments of {data.name}: real, default ecology and fitted ecology (held-out seeds)")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    headers, rows = result.parameter_table()
    table = Table(*headers, title="Fitted parameters")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(f"fit: {result.fit_note}", soft_wrap=True, markup=False)
    console.print(f"{result.bars:,} bars, budget {budget} candidates x {seeds} seeds, {result.seconds:.0f} s", soft_wrap=True)
    console.print(f"fitted ecology: {out / ECOLOGY_FILE}\nreport: {out / CALIBRATION_REPORT}", soft_wrap=True)


@app.command()
def facts(
    run: str = typer.Argument(..., help="A market run (name under --runs, or a path)."),
    data: Path | None = typer.Option(None, "--data", help="A real price file to compare with."),
    runs: Path = RUNS_OPTION,
    time_format: str | None = TIME_FORMAT_OPTION,
    time_unit: str | None = TIME_UNIT_OPTION,
    dayfirst: bool = DAYFIRST_OPTION,
    delimiter: str | None = DELIMITER_OPTION,
    decimal: str = DECIMAL_OPTION,
) -> None:
    """Stylized facts of a run's mid-price returns beside the bundled sample and a real price file."""
    from market.data import load_prices, load_sample
    from market.data.facts import price_facts
    from market.simulation import run_facts

    path = Path(run) if Path(run).is_dir() or "/" in run else runs / run
    options = _read_options(time_format, time_unit, dayfirst, delimiter, decimal)
    compared = {data.name: price_facts(load_prices(data, options), source=str(data))} if data is not None else {}  # a short file is refused first
    _print_facts({"run": run_facts(path), "bundled sample (daily)": price_facts(load_sample(), source="the bundled sample"), **compared})


def _print_flows(path: Path) -> None:
    """The compact who-profits-from-whom matrix and P&L parts of a run record's first recorded episode, when it has them."""
    from market.analysis import END, format_matrix, format_parts, matrix_from_table, parts_from_table

    reader = RunReader(path)
    if s.FLOWS in reader.tables:
        console.print(format_matrix(*matrix_from_table(reader.read(s.FLOWS), END), END), soft_wrap=True, markup=False)
    if s.FLOW_PARTS in reader.tables:
        console.print(format_parts(parts_from_table(reader.read(s.FLOW_PARTS), END), END), soft_wrap=True, markup=False)


def _print_facts(columns: dict[str, dict[str, float]]) -> None:
    """A table of stylized facts, one column per source, beside what real prices show."""
    from market.data.facts import FACT_KEYS, REAL_BANDS

    table = Table("fact", *columns, "real prices", title="Stylized facts of returns")
    for key in FACT_KEYS:
        table.add_row(key, *(f"{values[key]:.3f}" for values in columns.values()), REAL_BANDS[key])
    console.print(table)


@app.command()
def dashboard(
    runs: Path = RUNS_OPTION,
    port: int = typer.Option(8501, "--port", min=1, max=65535, help="Port on 127.0.0.1 to serve on."),
) -> None:
    """Serve the replay dashboard on http://127.0.0.1:PORT over the runs folder (Ctrl-C stops it)."""
    from market.dashboard.server import Stopped, serve

    try:
        code = serve(runs, port)
    except Stopped as stopped:  # SIGTERM or SIGHUP: the server was stopped with this process
        print(f"stopped: {stopped} ended the dashboard and its server", file=sys.stderr)
        code = 128 + stopped.signum
    raise typer.Exit(code)


@scenarios_app.command("list")
def scenarios_list() -> None:
    """The bundled scenarios, one line each."""
    from market.scenario import bundled_scenarios, load_scenario

    table = Table("scenario", "kind", "what it is", title="Scenarios (market run NAME [--quick])")
    for name in bundled_scenarios():
        scenario = load_scenario(name)
        table.add_row(name, scenario.kind, scenario.scenario.description)
    console.print(table)


@scenarios_app.command("show")
def scenarios_show(name: str = typer.Argument(..., help="A bundled scenario name or a path to a .toml file.")) -> None:
    """A scenario's story and every key it sets (the file, checked)."""
    from market.scenario import load_scenario, read_toml, resolve

    scenario = load_scenario(name)
    console.print(f"[bold]{scenario.name}[/bold] ({scenario.kind}): {scenario.scenario.description}", soft_wrap=True)
    if scenario.scenario.story:
        console.print(scenario.scenario.story, soft_wrap=True)
    table = Table("key", "value", title=str(resolve(name)))
    for key, value in _flatten(read_toml(resolve(name))):
        table.add_row(key, repr(value))
    console.print(table)


@runs_app.command("list")
def runs_list(runs: Path = RUNS_OPTION) -> None:
    """List the run records under the runs folder, newest first; broken folders say why."""
    summaries = list_runs(runs)
    if not summaries:
        console.print(f"no runs under {runs}")
        return
    table = Table("run", "kind", "scenario", "created (UTC)", "headline metrics", title=f"Runs in {runs}")
    for run in summaries:
        if not run.ok:
            table.add_row(run.name, "[red]incomplete[/red]" if run.incomplete else "[red]broken[/red]", "", "", run.error or "")
            continue
        headline = ", ".join(f"{key} {value:.4g}" for key, value in list(run.metrics.items())[:HEADLINE_METRICS])
        created = run.created.strftime("%Y-%m-%d %H:%M:%S") if run.created else ""
        table.add_row(run.name, run.kind or "", run.scenario or "", created, headline)
    console.print(table)


@runs_app.command("show")
def runs_show(run: str = typer.Argument(..., help="A run name under --runs, or a path to a run folder."), runs: Path = RUNS_OPTION) -> None:
    """Show one run's manifest: what ran, its seed and versions, its metrics and tables."""
    path = Path(run) if Path(run).is_dir() or "/" in run else runs / run
    reader = RunReader(path)
    manifest = reader.manifest
    console.print(f"[bold]{reader.name}[/bold]  kind: {reader.kind}  created: {manifest['created']}  seed: {manifest.get('seed')}")
    if reader.scenario:
        console.print(f"scenario: {reader.scenario}")
    console.print("versions: " + ", ".join(f"{k} {v}" for k, v in manifest["versions"].items()), soft_wrap=True)
    tables = Table("table", "rows", title="Tables")
    for name in reader.tables:
        tables.add_row(name, f"{reader.num_rows(name):,}")
    console.print(tables)
    metrics = Table("metric", "value", title="Metrics")
    for key, value in _flatten(reader.metrics):
        metrics.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value))
    console.print(metrics)


def _flatten(mapping: dict, prefix: str = "") -> list[tuple[str, object]]:
    """Nested metric dicts as ``a.b`` keys, in manifest order."""
    rows: list[tuple[str, object]] = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            rows.extend(_flatten(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def _given(error: Exception) -> str:
    """``" (given: VALUE)"`` for a bad option's value as typed, which typer's message leaves out."""
    names = getattr(getattr(error, "param", None), "opts", None) or []
    args = sys.argv[1:]
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return f" (given: {args[i + 1]})"
            if arg.startswith(f"{name}="):
                return f" (given: {arg.partition('=')[2]})"
    return ""


def main() -> None:
    """Entry point of the ``market`` command.

    Every way a command can fail on purpose ends in one line on stderr: ``error: ...`` and exit 1 for
    bad input (our own errors and bad command-line options alike), ``interrupted: ...`` and exit 130
    for Ctrl-C. Anything else is a bug and keeps its traceback.
    """
    try:
        code = app(standalone_mode=False)
    except Interrupted as error:
        print(f"interrupted: {error}", file=sys.stderr)
        sys.exit(Interrupted.exit_code)
    except MarketError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except click_errors.NoArgsIsHelpError:  # `market` or `market runs` alone: the help is printed
        sys.exit(0)
    except click_errors.UsageError as error:  # a bad option or argument, named by typer
        hint = f" (see {error.ctx.command_path} --help)" if error.ctx is not None else ""
        print(f"error: {error.format_message()}{_given(error)}{hint}", file=sys.stderr)
        sys.exit(1)
    except typer.TyperException as error:
        print(f"error: {error.format_message()}", file=sys.stderr)
        sys.exit(1)
    except OSError as error:  # the system refused a path the user gave: too long, not permitted, disk full ...
        if error.filename is None:
            raise
        name = str(error.filename)
        shown = name if len(name) <= 120 else f"{name[:60]}...{name[-40:]} ({len(name):,} characters)"
        print(f"error: {shown}: {error.strerror}", file=sys.stderr)
        sys.exit(1)
    except (KeyboardInterrupt, typer.Abort):
        code = Interrupted.exit_code
    if code == Interrupted.exit_code:  # typer turns a KeyboardInterrupt into exit code 130
        print("interrupted: nothing unfinished was recorded", file=sys.stderr)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
