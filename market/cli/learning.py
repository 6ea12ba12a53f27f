"""``market backtest``, ``train``, ``run`` and ``tune``: policies measured on prices, agents trained
with RLlib, scenarios trained and evaluated against their baselines, hyperparameter searches.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from market.comparison import STRATEGY_PREFIX, VERSUS_PREFIX, comparison_rows, evaluation_record
from market.errors import ConfigError, MarketError
from market.records.files import to_jsonable
from market.training.tracking import Tracker, TrackingConfig
from market.cli.common import DAYFIRST_OPTION, DECIMAL_OPTION, DEFAULT_RUNS, DELIMITER_OPTION, TIME_FORMAT_OPTION, TIME_UNIT_OPTION, VERBOSE_OPTION, _check_out, _log_file, _print_flows, _progress_table, _read_options, _run_name, app, console


TENSORBOARD_OPTION = typer.Option(True, "--tensorboard/--no-tensorboard", help="Write TensorBoard event files to OUT/tensorboard/<run>/.")


MLFLOW_OPTION = typer.Option(None, "--mlflow", help="Also log to this MLflow tracking URI, e.g. sqlite:///runs/mlflow.db (needs market[mlflow]).")


DEFAULT_ITERATIONS = 10
"""Training iterations of ``market train`` when no stop criterion is given."""


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
    from market.scenario import load_scenario
    from market.scenario_run import run_scenario, scenario_record_mode
    from market.training.runner import connect

    loaded = load_scenario(scenario, quick=quick)
    record = scenario_record_mode(loaded, record, key="--record")
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
