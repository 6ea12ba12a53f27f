"""The dashboard page: pick a run from the runs folder, replay it step by step, or compare two runs.

``streamlit run`` executes this file (see :mod:`market.dashboard.server`), or the repository's
``dashboard/app.py``, which calls :func:`main`. The runs folder comes from ``--runs DIR`` after
``--`` on the streamlit command line, else the ``MARKET_RUNS`` environment variable, else ``./runs``.

Replay shows, at the step the slider (or the play control) chooses: the price, best bid and ask and
the chosen agent's equity, position, cash and reward as metrics; the price with trades marked; the
order book depth; equity, position and drawdown per agent or per population; the trade tape. Further
tabs hold the leaderboard, training curves, metrics and the run's config. Compare shows two runs
side by side.

Every section is wrapped so that an error shows as one line (``st.error``), never a traceback; the
server also runs with ``client.showErrorDetails`` set to ``none``. Run folders are read only from
inside the runs folder (:func:`market.dashboard.run_data.resolve_run`). This module imports nothing
from ``market.training``: replaying a run needs no Ray or torch.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import streamlit as st

from market.dashboard import charts
from market.dashboard import run_data as rd
from market.errors import RecordError
from market.records import RunReader, RunSummary
from market.records import schema as s

RUNS_FLAG = "--runs"
RUNS_ENV = "MARKET_RUNS"
DEFAULT_RUNS = "runs"
# This file is the script Streamlit runs, where a bare string is drawn on the page ("magic"):
# constants are documented with comments, not docstrings.
QUERY_RUN = "run"  # query parameter naming the run to open (?run=NAME); kept in sync with the picker

PAGE_TITLE = "market runs"
PLAY_INTERVAL_S = 0.6  # seconds between steps while playing

# --- widget and session-state keys (tests find widgets by these) ----------------------------------
VIEW = "view"
RUN = "run"
STEP = "step"
AGENT = "agent"
GROUPING = "grouping"
LINES = "lines"
WINDOW = "window"
TRADES_OF = "trades_of"
TAPE_SPAN = "tape_span"
STRIDE = "stride"
PLAY = "play"
PREV = "prev"
NEXT = "next"
TRAINING_KEYS = "training_keys"
PORTFOLIO_AGENT = "portfolio_agent"
TRAINING_X = "training_x"
FLOW_HORIZON = "flow_horizon"
FLOW_STEPS = "flow_steps"
FLOW_BY = "flow_by"
COMPARE_A = "compare_a"
COMPARE_B = "compare_b"
REFRESH = "refresh"
PLAYING = "_playing"
LAST_TICK = "_last_tick"
PENDING_STEP = "_pending_step"
OPEN_RUN = "_open_run"
# keys that belong to one run, cleared when another run is opened
RUN_STATE = (STEP, AGENT, GROUPING, WINDOW, TRADES_OF, TRAINING_KEYS, PORTFOLIO_AGENT, FLOW_HORIZON, FLOW_STEPS, FLOW_BY, STRIDE, PLAYING, LAST_TICK, PENDING_STEP)

REPLAY_VIEW = "Replay"
COMPARE_VIEW = "Compare"
BY_POPULATION = "population"
BY_AGENT = "agent"
ALL_AGENTS = "all agents"

# --- metric labels (tests read the figures by these) ----------------------------------------------
STEP_LABEL = "Step"
PRICE_LABEL = "Price"
EQUITY_LABEL = "Equity"
POSITION_LABEL = "Position"
BEST_BID_LABEL = "Best bid"
BEST_ASK_LABEL = "Best ask"
SPREAD_LABEL = "Spread"
TIME_LABEL = "Time"
CASH_LABEL = "Cash"
REWARD_LABEL = "Reward"

WINDOWS = (50, 200, 1_000, 0)  # price chart windows, in steps either side of the chosen step; 0 is the whole run
TAPE_SPANS = (0, 2, 5, 20)
MAX_DEFAULT_LINES = 8

_LOG = logging.getLogger("market.dashboard")


# --- plumbing --------------------------------------------------------------------------------------


def runs_root(argv: Sequence[str], environ: Mapping[str, str]) -> Path:
    """Return the runs folder: ``--runs DIR`` (or ``--runs=DIR``) in ``argv``, else ``MARKET_RUNS``, else ``./runs``.

    Args:
        argv: The script's arguments (what follows ``--`` on the streamlit command line).
        environ: The environment.

    Returns:
        The folder as an absolute path (it need not exist yet).
    """
    chosen: str | None = None
    for i, arg in enumerate(argv):
        if arg == RUNS_FLAG and i + 1 < len(argv):
            chosen = argv[i + 1]
        elif arg.startswith(f"{RUNS_FLAG}="):
            chosen = arg.split("=", 1)[1]
    if chosen is None:
        chosen = environ.get(RUNS_ENV) or DEFAULT_RUNS
    return Path(chosen).expanduser().absolute()


@contextmanager
def section(title: str) -> Iterator[None]:
    """Run part of the page; an exception becomes a one-line ``st.error`` and the page goes on.

    Streamlit's own rerun and stop signals are ``BaseException`` and pass through untouched.
    """
    try:
        yield
    except RecordError as exc:
        st.error(f"{title}: {rd.one_line(exc)}")
    except Exception as exc:  # keep tracebacks out of the page; the server log keeps the details
        _LOG.exception("dashboard section %r failed", title)
        st.error(f"{title}: {type(exc).__name__}: {rd.one_line(exc)}")


def _folder_signature(root: Path) -> tuple[tuple[str, int], ...]:
    """Names and modification times of the runs folder's entries: changes when a run appears or goes."""
    try:
        with os.scandir(root) as entries:
            return tuple(sorted((entry.name, entry.stat(follow_symlinks=False).st_mtime_ns) for entry in entries))
    except OSError:
        return ()


# --- cached reads: keyed on the run's real path and its manifest's checksum -------------------------


@st.cache_data(show_spinner=False, max_entries=8)
def _listing(root: str, signature: tuple[tuple[str, int], ...]) -> rd.RunListing:
    return rd.scan_runs(root)


@st.cache_resource(show_spinner="Checking the run's files...", max_entries=16)
def _reader(path: str, fingerprint: str) -> RunReader:
    return RunReader(path, verify=True)


@st.cache_data(show_spinner=False, max_entries=32)
def _overview(path: str, fingerprint: str) -> rd.Overview:
    return rd.load_overview(_reader(path, fingerprint))


@st.cache_data(show_spinner=False, max_entries=64)
def _price(path: str, fingerprint: str, agent: str, lo: int | None, hi: int | None) -> pd.DataFrame:
    return rd.load_price(_reader(path, fingerprint), agent, lo, hi)


@st.cache_data(show_spinner=False, max_entries=64)
def _curves(path: str, fingerprint: str, groups: tuple[tuple[str, tuple[str, ...]], ...]) -> pd.DataFrame:
    return rd.load_curves(_reader(path, fingerprint), dict(groups))


@st.cache_data(show_spinner=False, max_entries=32)
def _leaderboard(path: str, fingerprint: str) -> pd.DataFrame:
    return rd.leaderboard(_reader(path, fingerprint))


@st.cache_data(show_spinner=False, max_entries=512)
def _state(path: str, fingerprint: str, step: int) -> pd.DataFrame:
    return rd.state_at(_reader(path, fingerprint), step)


@st.cache_data(show_spinner=False, max_entries=512)
def _book(path: str, fingerprint: str, step: int) -> pd.DataFrame:
    return rd.book_at(_reader(path, fingerprint), step)


@st.cache_data(show_spinner=False, max_entries=256)
def _trades(
    path: str, fingerprint: str, lo: int | None, hi: int | None, agent: str | None, limit: int
) -> tuple[pd.DataFrame, int]:
    return rd.trades_between(_reader(path, fingerprint), lo, hi, agent, limit)


@st.cache_data(show_spinner=False, max_entries=32)
def _strategy_tables(path: str, fingerprint: str) -> list[tuple[str, pd.DataFrame]]:
    return rd.strategy_tables(_reader(path, fingerprint))


@st.cache_data(show_spinner=False, max_entries=32)
def _schedules(path: str, fingerprint: str) -> pd.DataFrame:
    return rd.schedules_frame(_reader(path, fingerprint))


@st.cache_data(show_spinner=False, max_entries=32)
def _portfolio_agents(path: str, fingerprint: str) -> list[str]:
    return rd.portfolio_agents(_reader(path, fingerprint))


@st.cache_data(max_entries=32, show_spinner=False)
def _portfolio(path: str, fingerprint: str, agent: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return rd.portfolio_frames(_reader(path, fingerprint), agent)


@st.cache_data(max_entries=32, show_spinner=False)
def _training_keys(path: str, fingerprint: str) -> list[str]:
    return rd.training_keys(_reader(path, fingerprint))


@st.cache_data(show_spinner=False, max_entries=32)
def _training(path: str, fingerprint: str, keys: tuple[str, ...]) -> pd.DataFrame:
    return rd.training_curves(_reader(path, fingerprint), keys)


@st.cache_data(show_spinner=False, max_entries=32)
def _flow_horizons(path: str, fingerprint: str) -> list[str]:
    return rd.flow_horizons(_reader(path, fingerprint))


@st.cache_data(show_spinner=False, max_entries=128)
def _flow_matrix(path: str, fingerprint: str, horizon: str, lo: int, hi: int, by: str) -> pd.DataFrame:
    return rd.flow_matrix(_reader(path, fingerprint), horizon, lo, hi, by)


@st.cache_data(show_spinner=False, max_entries=32)
def _flow_accounts(path: str, fingerprint: str) -> int:
    return rd.flow_accounts(_reader(path, fingerprint))


@st.cache_data(show_spinner=False, max_entries=32)
def _flow_parts(path: str, fingerprint: str, horizon: str) -> pd.DataFrame:
    return rd.flow_parts(_reader(path, fingerprint), horizon)


@st.cache_data(show_spinner=False, max_entries=32)
def _league(path: str, fingerprint: str) -> rd.LeagueTables | None:
    return rd.league_tables(_reader(path, fingerprint))


@st.cache_data(show_spinner=False, max_entries=32)
def _population_aggregates(path: str, fingerprint: str) -> pd.DataFrame:
    return rd.population_aggregates(_reader(path, fingerprint))


class _Run:
    """One opened run: its real path, manifest checksum and reader (all from the caches above)."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.path = str(rd.resolve_run(root, name))
        self.fingerprint = rd.fingerprint(Path(self.path))
        self.reader = _reader(self.path, self.fingerprint)
        self.overview = _overview(self.path, self.fingerprint)

    @property
    def key(self) -> tuple[str, str]:
        return (self.path, self.fingerprint)


def _table_height(rows: int, most: int = 25) -> int:
    """Pixels for a table showing every row up to ``most`` (then it scrolls)."""
    return 38 + 35 * max(1, min(rows, most))


# --- the page ---------------------------------------------------------------------------------------


def main() -> None:
    """Draw the page (Streamlit reruns this on every interaction)."""
    st.set_page_config(page_title=PAGE_TITLE, page_icon="📈", layout="wide")
    st.set_option("client.showErrorDetails", "none")
    root = runs_root(sys.argv[1:], os.environ)
    with st.sidebar:
        st.title(PAGE_TITLE)
        st.caption(f"Runs folder: `{root}`")
        view = st.radio("View", [REPLAY_VIEW, COMPARE_VIEW], key=VIEW, horizontal=True)
        if st.button("Refresh the list", key=REFRESH):
            _listing.clear()
    listing: rd.RunListing | None = None
    with section("Runs folder"):
        listing = _listing(str(root), _folder_signature(root))
    if listing is None:
        return
    for problem in listing.problems:
        if problem.incomplete:
            st.info(problem.error)
        else:
            st.warning(problem.error)
    if not listing.runs:
        st.info(f"No runs in `{root}` yet: write one with `market backtest`, `market simulate` or `market train`.")
        return
    with st.expander(f"Runs in this folder ({len(listing.runs)}), newest first", expanded=False):
        st.dataframe(rd.runs_frame(listing.runs), hide_index=True, key="runs_table")
    if view == COMPARE_VIEW:
        compare_page(root, listing)
    else:
        replay_page(root, listing)


def _run_label(runs: Mapping[str, RunSummary]) -> Callable[[str], str]:
    """The picker's label of a run: name, kind, scenario and date."""

    def label(name: str) -> str:
        run = runs[name]
        created = run.created.strftime("%Y-%m-%d %H:%M") if run.created else "?"
        scenario = f" · {run.scenario}" if run.scenario else ""
        return f"{name} · {run.kind}{scenario} · {created}"

    return label


def replay_page(root: Path, listing: rd.RunListing) -> None:
    """Replay one run: the picker, the step controls and every view at the chosen step."""
    runs = {run.path.name: run for run in listing.runs}
    names = list(runs)
    requested = st.query_params.get(QUERY_RUN)
    if requested is not None and requested not in runs:
        try:
            rd.resolve_run(root, requested)
            shown = requested if len(requested) <= 80 else f"{requested[:40]}... ({len(requested):,} characters)"
            st.warning(f"Run {shown!r} from the address is not a readable run in `{root}`.")
        except RecordError as exc:
            st.warning(str(exc))
    index = names.index(requested) if requested in runs else 0
    name = st.sidebar.selectbox("Run", names, index=index, format_func=_run_label(runs), key=RUN)
    st.query_params[QUERY_RUN] = name

    run: _Run | None = None
    with section(f"Run {name}"):
        run = _Run(root, name)
    if run is None:
        return
    state = st.session_state
    if state.get(OPEN_RUN) != run.key:
        for key in RUN_STATE:
            state.pop(key, None)
        state[OPEN_RUN] = run.key

    reader, overview = run.reader, run.overview
    st.header(name)
    details = [f"kind **{reader.kind}**", f"created {reader.created:%Y-%m-%d %H:%M:%S} UTC"]
    if reader.scenario:
        details.insert(1, f"scenario **{reader.scenario}**")
    if reader.manifest.get(s.M_SEED) is not None:
        details.append(f"seed {reader.manifest[s.M_SEED]}")
    details.append(rd.count_of(len(overview.agents), "agent") if overview.agents else "no steps table")
    unit = rd.price_unit(reader)
    if unit is not None:  # a market run: recorded in ticks, shown in price units
        details.append(f"prices and money in price units, one tick = {unit:g}")
    st.caption(" · ".join(details))

    replay_tab, board_tab, flows_tab, strategies_tab, league_tab, portfolio_tab, training_tab, metrics_tab, config_tab = st.tabs(
        ["Replay", "Leaderboard", "Flows", "Strategies", "League", "Portfolio", "Training", "Metrics", "Config"]
    )
    with replay_tab:
        if overview.agents or s.BOOK in overview.tables or s.TRADES in overview.tables:
            _replay(run)
        else:
            st.info("This run has no steps, trades or book table: nothing to replay. See Training, Metrics and Config.")
    with board_tab, section("Leaderboard"):
        _leaderboard_view(run)
    with flows_tab, section("Flows"):
        _flows_view(run)
    with strategies_tab, section("Strategies"):
        _strategies_view(run)
    with league_tab, section("League"):
        _league_view(run)
    with portfolio_tab, section("Portfolio"):
        _portfolio_view(run)
    with training_tab, section("Training"):
        _training_view(run)
    with metrics_tab, section("Metrics"):
        metrics = rd.metrics_frame(reader.metrics)
        st.dataframe(metrics, hide_index=True, key="metrics_table", height=_table_height(len(metrics)))
    with config_tab, section("Config"):
        manifest = reader.manifest
        st.json(manifest[s.M_CONFIG], expanded=2)
        extra = {k: v for k, v in manifest.items() if k not in s.RESERVED_MANIFEST_KEYS}
        st.json({s.M_SEED: manifest[s.M_SEED], s.M_VERSIONS: manifest[s.M_VERSIONS], **extra}, expanded=1)


# --- replay -----------------------------------------------------------------------------------------


def _nudge(delta: int, first: int, last: int) -> None:
    state = st.session_state
    state[STEP] = min(last, max(first, int(state.get(STEP, first)) + delta))
    state[PLAYING] = False


def _toggle_play(first: int, last: int) -> None:
    state = st.session_state
    playing = not state.get(PLAYING, False)
    if playing and int(state.get(STEP, first)) >= last:
        state[STEP] = first
    state[PLAYING] = playing
    state[LAST_TICK] = 0.0
    if not playing:  # a tick computed just before the pause must not move the slider after it
        state.pop(PENDING_STEP, None)


def _step_controls(first: int, last: int) -> int:
    """The step slider with previous, play/pause and next buttons; returns the chosen step."""
    state = st.session_state
    if PENDING_STEP in state:
        state[STEP] = state.pop(PENDING_STEP)
    if STEP not in state or not first <= int(state[STEP]) <= last:
        state[STEP] = first
    if first == last:
        st.caption(f"One step: {first}")
        return first
    with st.sidebar:
        most, usual = max(1, last - first), max(1, (last - first) // 200)
        st.number_input("Steps per tick while playing", min_value=1, max_value=most, value=usual, key=STRIDE)
    previous, play, following, slider = st.columns([1, 2, 1, 12], vertical_alignment="bottom")
    previous.button("◀", key=PREV, on_click=_nudge, args=(-1, first, last), help="Previous step")
    playing = bool(state.get(PLAYING, False))
    play.button("⏸ Pause" if playing else "▶ Play", key=PLAY, on_click=_toggle_play, args=(first, last))
    following.button("▶|", key=NEXT, on_click=_nudge, args=(1, first, last), help="Next step")
    return int(slider.slider("Step", min_value=first, max_value=last, key=STEP))


def _play_ticker(first: int, last: int) -> None:
    """While playing, advance the slider every :data:`PLAY_INTERVAL_S` seconds and redraw the page."""
    playing = bool(st.session_state.get(PLAYING, False))

    @st.fragment(run_every=PLAY_INTERVAL_S if playing else None)
    def ticker() -> None:
        state = st.session_state
        if not state.get(PLAYING, False):
            return
        now = time.monotonic()
        if now - float(state.get(LAST_TICK, 0.0)) < PLAY_INTERVAL_S * 0.8:
            return  # the fragment also runs inside each full run; advance only on its timer
        state[LAST_TICK] = now
        following = min(last, int(state.get(STEP, first)) + max(1, int(state.get(STRIDE, 1))))
        state[PENDING_STEP] = following
        if following >= last:
            state[PLAYING] = False
        st.rerun()

    ticker()


def _replay(run: _Run) -> None:
    overview = run.overview
    step = overview.first_step
    with section("Step"):
        step = _step_controls(overview.first_step, overview.last_step)
    at_step = pd.DataFrame()
    with section(f"Step {step}"):
        at_step = _figures_at_step(run, step)
    chart, depth = st.columns([3, 2])
    with chart, section("Price"):
        _price_view(run, step)
    with depth, section("Order book"):
        _book_view(run, step)
    with section("Equity, position and drawdown"):
        _curves_view(run, step, at_step)
    with section("Trade tape"):
        _tape_view(run, step)
    _play_ticker(overview.first_step, overview.last_step)


def _figures_at_step(run: _Run, step: int) -> pd.DataFrame:
    """Two rows of figures at the step: the market's (price, best bid and ask, spread), then one agent's.

    Returns:
        Every agent's row at the step (empty when the run has no steps table).
    """
    overview = run.overview
    at_step = _state(run.path, run.fingerprint, step) if overview.agents else pd.DataFrame()
    market = st.columns(5)
    market[0].metric(STEP_LABEL, f"{step}")
    if len(at_step):
        market[1].metric(PRICE_LABEL, rd.format_price(float(at_step[s.PRICE].iloc[0])))
    if s.BOOK in overview.tables:
        bid, ask = rd.best_quotes(_book(run.path, run.fingerprint, step))
        market[2].metric(BEST_BID_LABEL, rd.format_price(bid))
        market[3].metric(BEST_ASK_LABEL, rd.format_price(ask))
        market[4].metric(SPREAD_LABEL, rd.format_price(ask - bid) if bid is not None and ask is not None else "—")
    elif len(at_step) and at_step[s.TIME].notna().any():
        when = pd.Timestamp(at_step[s.TIME].dropna().iloc[0])
        market[2].metric(TIME_LABEL, str(when.date()) if when == when.normalize() else str(when))
    if not overview.agents:
        return at_step
    chooser, *figures = st.columns([2, 3, 1.5, 3, 2])
    agent = chooser.selectbox("Agent", overview.agents, key=AGENT)
    row = at_step[at_step[s.AGENT] == agent]
    if not len(row):
        chooser.caption(f"{agent} has no row at step {step}.")
    values = {c: float(row[c].iloc[0]) if len(row) else None for c in (s.EQUITY, s.POSITION, s.CASH, s.REWARD)}
    after = f"{agent}'s, after step {step}"
    figures[0].metric(EQUITY_LABEL, rd.format_money(values[s.EQUITY]), help=f"Equity: {after}")
    figures[1].metric(POSITION_LABEL, rd.format_position(values[s.POSITION]), help=f"Position: {after}")
    figures[2].metric(CASH_LABEL, rd.format_money(values[s.CASH]), help=f"Cash: {after}")
    reward = values[s.REWARD]
    figures[3].metric(REWARD_LABEL, "—" if reward is None else f"{reward:.4g}", help=f"Reward: {after}")
    return at_step


def _window_label(window: int) -> str:
    return "whole run" if window == 0 else f"±{window:,} steps"


def _price_view(run: _Run, step: int) -> None:
    overview = run.overview
    if not overview.agents:
        st.info("No step rows: no price to draw.")
        return
    span = overview.last_step - overview.first_step
    whole = s.TRADES not in overview.tables or span <= 400  # price lines downsample; trade markers crowd
    default = WINDOWS.index(0) if whole else WINDOWS.index(200)
    options, who = st.columns(2)
    window = options.selectbox("Price window", WINDOWS, index=default, format_func=_window_label, key=WINDOW)
    lo, hi = None, None
    if window:
        lo, hi = max(overview.first_step, step - window), min(overview.last_step, step + window)
    trades = pd.DataFrame()
    total = 0
    trader: str | None = None
    if s.TRADES in overview.tables:
        chosen = who.selectbox("Trades of", [ALL_AGENTS, *overview.agents], key=TRADES_OF)
        trader = None if chosen == ALL_AGENTS else chosen
        trades, total = _trades(run.path, run.fingerprint, lo, hi, trader, rd.MAX_TRADE_MARKERS)
    price = _price(run.path, run.fingerprint, overview.agents[0], lo, hi)
    title = "Mid price" if s.BOOK in overview.tables else "Price"
    figure = charts.price_figure(price, trades, step, agent=trader, title=title)
    st.plotly_chart(figure, key="price_chart")
    if total > len(trades):
        st.caption(f"{len(trades):,} of {total:,} trades marked (thinned evenly).")


def _book_view(run: _Run, step: int) -> None:
    if s.BOOK not in run.overview.tables:
        st.info("No order book in this run (a backtest trades against a price series).")
        return
    book = _book(run.path, run.fingerprint, step)
    if book.empty:
        st.info(f"The book is empty at step {step} (or no snapshot was recorded).")
        return
    st.plotly_chart(charts.book_figure(book, step), key="book_chart")


def _curves_view(run: _Run, step: int, at_step: pd.DataFrame) -> None:
    overview = run.overview
    if not overview.agents:
        return
    groupings = [BY_POPULATION, BY_AGENT]
    grouping = st.radio(
        "Lines per", groupings, index=0 if overview.grouped else 1, key=GROUPING, horizontal=True
    )
    if grouping == BY_POPULATION:
        groups = {name: tuple(members) for name, members in overview.populations.items()}
    else:
        groups = {agent: (agent,) for agent in overview.agents}
    names = list(groups)
    chosen = st.multiselect("Show", names, default=names[:MAX_DEFAULT_LINES], key=f"{LINES}_{grouping}")
    if not chosen:
        st.info("Choose at least one line.")
        return
    selected = tuple((name, groups[name]) for name in chosen)
    curves = _curves(run.path, run.fingerprint, selected)
    points: dict[str, dict[str, float]] = {s.EQUITY: {}, s.POSITION: {}}
    if len(at_step):
        for name, members in selected:
            rows = at_step[at_step[s.AGENT].isin(list(members))]
            if len(rows):
                points[s.EQUITY][name] = float(rows[s.EQUITY].mean())
                points[s.POSITION][name] = float(rows[s.POSITION].mean())
    panels = st.columns(3)
    for panel, measure in zip(panels, (s.EQUITY, s.POSITION, rd.DRAWDOWN)):
        figure = charts.curve_figure(curves, measure, step, points.get(measure))
        panel.plotly_chart(figure, key=f"curve_{measure}")
    note = "Against step; the dashed line is the chosen step."
    if grouping == BY_POPULATION:
        note += " A population's line is the mean over its agents (equity, position); its drawdown is that mean's."
    st.caption(note)


def _tape_view(run: _Run, step: int) -> None:
    if s.TRADES not in run.overview.tables:
        return
    span = st.select_slider("Tape: steps either side", TAPE_SPANS, value=5, key=TAPE_SPAN)
    lo, hi = max(run.overview.first_step, step - span), min(run.overview.last_step, step + span)
    tape, total = _trades(run.path, run.fingerprint, lo, hi, None, rd.MAX_TAPE_ROWS)
    st.subheader(f"Trades in steps {lo}–{hi}" if lo < hi else f"Trades at step {step}")
    if tape.empty:
        st.caption("No trades.")
        return
    tape.insert(0, "now", ["▶" if value == step else "" for value in tape[s.STEP]])
    if tape[s.TIME].isna().all():
        tape = tape.drop(columns=[s.TIME])
    st.dataframe(tape, hide_index=True, key="tape_table", height=_table_height(len(tape), 12))
    if total > len(tape):
        st.caption(f"Showing {len(tape):,} of {total:,} trades.")


def _leaderboard_view(run: _Run) -> None:
    aggregates = _population_aggregates(run.path, run.fingerprint)
    if len(aggregates):
        st.subheader("Populations recorded in aggregate")
        st.dataframe(rd.population_board(aggregates), hide_index=True, key="population_aggregates_table", column_config={rd.RETURN: st.column_config.NumberColumn(format="%.4f")})
        curves = rd.population_curves(aggregates)
        st.plotly_chart(charts.curve_figure(curves, s.EQUITY, None), key="population_equity_chart")
        st.plotly_chart(charts.curve_figure(curves, s.POSITION, None), key="population_position_chart")
        st.caption("Each population's cash, position and equity summed over its agents, per step (the run recorded them in aggregate, not agent by agent); orders and fills over the whole run.")
    if not run.overview.agents:
        if not len(aggregates):
            st.info("No step rows: no agents to rank.")
        return
    board = _leaderboard(run.path, run.fingerprint)
    number = st.column_config.NumberColumn
    percent = number(format="%.3f%%")
    shown = board.assign(**{rd.RETURN: board[rd.RETURN] * 100, rd.MAX_DRAWDOWN: board[rd.MAX_DRAWDOWN] * 100})
    st.dataframe(
        shown,
        hide_index=True,
        key="leaderboard_table",
        height=_table_height(len(shown)),
        column_config={
            rd.RETURN: percent,
            rd.MAX_DRAWDOWN: percent,
            rd.SHARPE: number(format="%.4f"),
            rd.FINAL_EQUITY: number(format="localized"),
        },
    )
    st.caption(
        "Return: last over first recorded equity. Sharpe: mean over standard deviation of step returns, "
        "not annualized. Max drawdown: the deepest fall from a running peak."
    )
    if run.overview.grouped:
        by_population = shown.groupby(rd.POPULATION, sort=False).agg(
            agents=(s.AGENT, "count"),
            mean_return=(rd.RETURN, "mean"),
            best_return=(rd.RETURN, "max"),
            worst_return=(rd.RETURN, "min"),
            mean_max_drawdown=(rd.MAX_DRAWDOWN, "mean"),
        )
        st.subheader("By population")
        st.dataframe(
            by_population.reset_index().sort_values("mean_return", ascending=False),
            hide_index=True,
            key="population_table",
            column_config={name: percent for name in by_population.columns if name != "agents"},
        )


def _flows_view(run: _Run) -> None:
    horizons = _flow_horizons(run.path, run.fingerprint)
    if not horizons:
        st.info("This run has no flows table (only market runs record who profits from whom).")
        return
    first, last = run.overview.first_step, run.overview.last_step
    horizon = st.radio("Markout horizon (steps after the fill)", horizons, index=len(horizons) - 1, key=FLOW_HORIZON, horizontal=True)
    lo, hi = st.slider("Fills in steps", min_value=first, max_value=max(last, first + 1), value=(first, max(last, first + 1)), key=FLOW_STEPS)
    by = "population"
    if _flow_accounts(run.path, run.fingerprint) <= rd.MAX_FLOW_AGENTS:
        by = st.radio("Between", ["population", "agent"], key=FLOW_BY, horizontal=True)
    matrix = _flow_matrix(run.path, run.fingerprint, horizon, lo, hi, by)
    st.plotly_chart(charts.flow_figure(matrix, f"Who profits from whom, horizon {horizon}"), key="flow_chart")
    st.dataframe(matrix, key="flow_table")
    st.caption(
        "Each cell is what the row gained from the column over the fills in the chosen steps: the fill's "
        "transfer marked at the mid the horizon later (the last mid near the end), plus fees and taxes to "
        "the exchange and tax accounts. The matrix is antisymmetric and sums to zero."
    )
    parts = _flow_parts(run.path, run.fingerprint, horizon)
    if len(parts):
        st.subheader("Where each population's P&L came from")
        st.dataframe(parts, hide_index=True, key="flow_parts_table", column_config={c: st.column_config.NumberColumn(format="%.4g") for c in parts.columns[1:]})
        st.caption(
            f"Over the whole episode, in price units. Spread: each fill against the mid when it happened. Adverse "
            f"selection: how the mid moved against the population's maker fills by the horizon ({horizon}). Fees: "
            f"fees and tax paid. Inventory: the rest of its equity change. The four add up to the total."
        )


def _strategies_view(run: _Run) -> None:
    tables = _strategy_tables(run.path, run.fingerprint)
    if not tables:
        st.info("This run's evaluation played no baseline: nothing to compare.")
        return
    label = run.reader.manifest.get(s.M_CONFIG, {}).get("evaluation", {}).get("label", "scenario")
    st.caption(
        f"Each strategy on the same held-out seeds (baselines in one population's place, everything else equal): "
        f"mean and 95% half-width per episode, money in price units; “{label} − it” is the paired difference."
    )
    for role, table in tables:
        st.subheader(f"{role.capitalize()}s")
        st.dataframe(table, hide_index=True, key=f"strategies_{role}", column_config={c: st.column_config.NumberColumn(format="%.4g") for c in table.columns[2:]})
    schedules = _schedules(run.path, run.fingerprint)
    if len(schedules):
        st.subheader("Execution schedules")
        st.plotly_chart(charts.schedule_figure(schedules), key="schedule_chart")
        st.caption("The share of the parent order left after each step, the mean over the evaluation's episodes.")


def _league_view(run: _Run) -> None:
    tables = _league(run.path, run.fingerprint)
    if tables is None:
        st.info("This run is not a league (`market league SCENARIO` writes one).")
        return
    st.subheader("Exploitability")
    st.plotly_chart(charts.exploitability_figure(tables.curve), key="exploitability_chart")
    st.caption(
        "How much a population gains by leaving each generation's equilibrium mixture for its best reply, in P&L per "
        "agent per episode: as the league measured it then (its pool and that generation's best responses), and "
        "against the final pool (every best response added later too) on the final payoff estimate."
    )
    st.subheader("Mixtures")
    st.plotly_chart(charts.mixture_figure(tables.mixtures), key="mixture_chart")
    st.subheader("Payoffs")
    for number, (title, mean, half, counts) in enumerate(tables.payoffs):
        if not tables.matrices:  # three or more populations: a table of profiles
            st.dataframe(mean.assign(ci95=half["value"], episodes=counts["value"]), hide_index=True, key=f"payoff_table_{number}")
            continue
        st.plotly_chart(charts.payoff_figure(mean, half, title), key=f"payoff_chart_{number}")
        st.dataframe(mean, key=f"payoff_table_{number}")
    episodes = int(min(counts.select_dtypes("number").to_numpy().min() for _, _, _, counts in tables.payoffs)) if tables.payoffs else 0
    st.caption(f"Mean P&L per agent per episode and its 95% half-width, last generation; at least {episodes} episodes per cell.")
    st.subheader("Standings")
    st.dataframe(tables.standings, hide_index=True, key="standings_table", column_config={c: st.column_config.NumberColumn(format="%.4g") for c in ("mu", "sigma", "ordinal", "mean_payoff")})
    st.caption("Plackett-Luce ratings (openskill) from every episode the league played, best ordinal (mu - 3 sigma) first.")


def _portfolio_view(run: _Run) -> None:
    agents = _portfolio_agents(run.path, run.fingerprint)
    if not agents:
        st.info("This run holds no portfolio (no holdings table).")
        return
    agent = st.selectbox("Portfolio", agents, key=PORTFOLIO_AGENT)
    weights, contributions, traded = _portfolio(run.path, run.fingerprint, agent)
    st.subheader("Weights")
    st.plotly_chart(charts.weights_figure(weights), key="weights_chart")
    st.subheader("Contributions")
    st.plotly_chart(charts.contributions_figure(contributions), key="contributions_chart")
    last = contributions.drop(columns=s.STEP).iloc[-1]
    totals = pd.DataFrame({s.ASSET: [str(a) for a in last.index], "contribution": last.to_numpy()})
    st.dataframe(totals, hide_index=True, key="contributions_table")
    st.caption("Each asset's part of the portfolio's simple returns, summed over the steps; cash's is minus the costs.")
    st.subheader("Turnover")
    st.plotly_chart(charts.turnover_figure(traded), key="turnover_chart")
    st.caption(f"Weights traded per step (target minus held before): {traded['traded'].mean():.4f} on average.")


def _training_view(run: _Run) -> None:
    if s.TRAINING not in run.overview.tables:
        st.info("No training table in this run.")
        return
    keys = _training_keys(run.path, run.fingerprint)
    if not keys:
        st.info("The training table is empty.")
        return
    preferred = [key for key in keys if "return" in key] or keys
    chosen = st.multiselect("Curves", keys, default=preferred[:4], key=TRAINING_KEYS)
    x = st.radio("Against", [s.ITERATION, s.ENV_STEPS, s.TIME_S], key=TRAINING_X, horizontal=True)
    if not chosen:
        st.info("Choose at least one curve.")
        return
    curves = _training(run.path, run.fingerprint, tuple(chosen))
    st.plotly_chart(charts.training_figure(curves, chosen, x), key="training_chart")


# --- compare ---------------------------------------------------------------------------------------


def compare_page(root: Path, listing: rd.RunListing) -> None:
    """Two runs side by side: equity and drawdown per population, then their metrics in one table."""
    runs = {run.path.name: run for run in listing.runs}
    names = list(runs)
    label = _run_label(runs)
    first = st.sidebar.selectbox("Run A", names, index=0, format_func=label, key=COMPARE_A)
    second = st.sidebar.selectbox("Run B", names, index=min(1, len(names) - 1), format_func=label, key=COMPARE_B)
    st.header("Compare runs")
    metrics: dict[str, Mapping[str, object]] = {}
    for column, (tag, name) in zip(st.columns(2), (("A", first), ("B", second))):
        with column, section(f"Run {tag} ({name})"):
            run = _Run(root, name)
            st.subheader(f"{tag}: {name}")
            st.caption(f"kind **{run.reader.kind}** · created {run.reader.created:%Y-%m-%d %H:%M:%S} UTC")
            metrics[f"{tag}: {name}"] = run.reader.metrics
            populations = run.overview.populations
            if not populations:
                st.info("No steps table: no equity to draw.")
                continue
            curves = _curves(run.path, run.fingerprint, tuple(populations.items()))
            for measure in (s.EQUITY, rd.DRAWDOWN):
                figure = charts.curve_figure(curves, measure, None)
                st.plotly_chart(figure, key=f"compare_{tag}_{measure}")
    if metrics:
        st.subheader("Metrics")
        table = rd.compare_metrics(metrics)
        st.dataframe(table, hide_index=True, key="compare_metrics", height=_table_height(len(table)))


if __name__ == "__main__":
    main()
