"""The ``market`` command: one function per subcommand.

Errors the product raises on purpose (:class:`market.errors.MarketError`) print as one line on
stderr with a non-zero exit; nothing else is caught, so a bug keeps its traceback.
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from market import __version__
from market.errors import MarketError
from market.exchange import EXCHANGE_ACCOUNT, AccountLimits, Exchange, FeeConfig, check_invariants
from market.exchange.flow import FlowKind, random_order_flow

app = typer.Typer(
    name="market",
    help="A multi-agent market simulator: order book, RL envs, training, backtests, dashboard.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()


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


def main() -> None:
    """Entry point of the ``market`` command."""
    try:
        app()
    except MarketError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
