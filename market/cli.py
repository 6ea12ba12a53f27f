"""The ``market`` command: one function per subcommand.

Errors the product raises on purpose (:class:`market.errors.MarketError`) print as one line on
stderr with a non-zero exit; nothing else is caught, so a bug keeps its traceback.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from market import __version__
from market.errors import MarketError
from market.exchange import EXCHANGE_ACCOUNT, AccountLimits, Exchange, FeeConfig, check_invariants
from market.exchange.flow import FlowKind, random_order_flow
from market.records import RunReader, list_runs

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

DEFAULT_RUNS = Path("runs")
RUNS_OPTION = typer.Option(DEFAULT_RUNS, "--runs", help="Folder of run records (default: ./runs).")
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


def _json_safe(value: object) -> object:
    """NaN and infinities become null, so the output is valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


@app.command()
def backtest(
    data: Path | None = typer.Option(None, "--data", help="CSV or Parquet OHLCV file (default: the bundled daily sample)."),
    policy: str = typer.Option("buy_and_hold", "--policy", help="buy_and_hold, sma_crossover, mean_reversion or random."),
    commission_bps: float = typer.Option(1.0, "--commission-bps", help="Commission in bps of traded notional."),
    slippage_bps: float = typer.Option(2.0, "--slippage-bps", help="Slippage in bps against each fill."),
    start: str | None = typer.Option(None, "--start", help="First date of the backtest (earlier bars feed features)."),
    end: str | None = typer.Option(None, "--end", help="Last date of the backtest."),
    seed: int = typer.Option(0, "--seed", help="Seed of the policy's random stream."),
    out: Path = typer.Option(DEFAULT_RUNS, "--out", help="Folder the run record is written under."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON instead of a table."),
) -> None:
    """Backtest one policy over a price file, beside buy and hold, and write a run record."""
    from market.agents.baselines import make_baseline
    from market.backtest.engine import BENCHMARK, Costs, run_backtest, write_backtest_record
    from market.backtest.metrics import METRIC_KEYS
    from market.data import sample_path

    costs = Costs(commission_bps=commission_bps, slippage_bps=slippage_bps)
    player = make_baseline(policy)
    prices = str(data) if data is not None else str(sample_path())
    result = run_backtest(player, prices, costs, start=start, end=end, seed=seed)
    path = write_backtest_record(result, out, _run_name("backtest", policy), policy=policy, data=prices, seed=seed)

    if as_json:
        payload = {"policy": policy, "run": str(path), "settings": result.settings, "metrics": result.metrics, BENCHMARK: result.benchmark_metrics}
        print(json.dumps(_json_safe(payload), indent=2))
        return
    table = Table("metric", policy, BENCHMARK, title=f"Backtest {result.settings['start'][:10]} to {result.settings['end'][:10]} ({result.settings['bars']} bars)")
    for key in METRIC_KEYS:
        table.add_row(key, f"{result.metrics[key]:.4g}", f"{result.benchmark_metrics[key]:.4g}")
    console.print(table)
    console.print(f"run record: {path}", soft_wrap=True)


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


def main() -> None:
    """Entry point of the ``market`` command."""
    try:
        app()
    except MarketError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
