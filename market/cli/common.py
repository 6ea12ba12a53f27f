"""What every ``market`` subcommand shares: the typer app and its sub-apps, the console, the common
options and helpers, and :func:`main`, the entry point that ends every failure on purpose in one line.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
# typer 0.29 (pinned) vendors click; its exceptions are not re-exported (but BadParameter)
from typer._click import exceptions as click_errors

from market import __version__
from market.errors import Interrupted, MarketError
from market.records import RunReader
from market.records import schema as s
from market.records.schema import LOGS_DIR


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


VERBOSE_OPTION = typer.Option(False, "--verbose", help="Show Ray's and RLlib's own messages (they always go to OUT/logs/).")


def _show_version(value: bool) -> None:
    if value:
        console.print(f"market {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", callback=_show_version, is_eager=True),
) -> None:
    """A multi-agent market simulator: order book, RL envs, training, backtests, dashboard."""


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


def _print_flows(path: Path) -> None:
    """The compact who-profits-from-whom matrix and P&L parts of a run record's first recorded episode, when it has them."""
    from market.analysis import END, format_matrix, format_parts, matrix_from_table, parts_from_table

    reader = RunReader(path)
    if s.FLOWS in reader.tables:
        console.print(format_matrix(*matrix_from_table(reader.read(s.FLOWS), END), END), soft_wrap=True, markup=False)
    if s.FLOW_PARTS in reader.tables:
        console.print(format_parts(parts_from_table(reader.read(s.FLOW_PARTS), END), END), soft_wrap=True, markup=False)


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
