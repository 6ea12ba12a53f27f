"""``market demo``, ``league``, ``simulate``, ``calibrate`` and ``facts``: the exchange on a random
order flow, leagues of strategies, all-scripted markets, and their calibration to a price file.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from market.calibration.fit import DEFAULT_BUDGET, DEFAULT_SEEDS
from market.errors import ConfigError, MarketError
from market.exchange import EXCHANGE_ACCOUNT, AccountLimits, Exchange, FeeConfig, check_invariants
from market.exchange.flow import FlowKind, random_order_flow
from market.records import schema as s
from market.cli.common import DAYFIRST_OPTION, DECIMAL_OPTION, DEFAULT_RUNS, DELIMITER_OPTION, RUNS_OPTION, TIME_FORMAT_OPTION, TIME_UNIT_OPTION, VERBOSE_OPTION, _check_out, _log_file, _read_options, _run_name, app, console


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
    record = simulation.record_mode(record, spec.total_agents, key="--record")
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


def _print_facts(columns: dict[str, dict[str, float]]) -> None:
    """A table of stylized facts, one column per source, beside what real prices show."""
    from market.data.facts import FACT_KEYS, REAL_BANDS

    table = Table("fact", *columns, "real prices", title="Stylized facts of returns")
    for key in FACT_KEYS:
        table.add_row(key, *(f"{values[key]:.3f}" for values in columns.values()), REAL_BANDS[key])
    console.print(table)
