"""``market dashboard``, ``scenarios`` and ``runs``: the bundled scenarios and the recorded runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table

from market.records import RunReader, list_runs
from market.cli.common import RUNS_OPTION, app, console, runs_app, scenarios_app


HEADLINE_METRICS = 3


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
