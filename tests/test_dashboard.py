"""Dashboard: the page (Streamlit AppTest) and its data layer, on real run records written in ``tmp_path``.

The runs are written with the real :class:`RunWriter` (and one with the real backtest engine); the
figures the page shows at a step are compared with the record read back independently.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from market.dashboard import app as page
from market.dashboard import run_data as rd
from market.dashboard.server import APP_FILE, dashboard_command, serve
from market.errors import ConfigError, RecordError
from market.records import RunReader, RunWriter, list_runs
from market.records import schema as s

APP_SCRIPT = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
APP_TIMEOUT_S = 30.0

BACKTEST_RUN = "backtest-sma"
MARKET_RUN = "market-20"
TRAIN_RUN = "train-ppo"
POPULATIONS = {"maker": 4, "taker": 8, "noise": 8}
MARKET_STEPS = 60
BOOK_LEVELS = 5
TRAINING_KEYS = ("env_runners/episode_return_mean", "learners/policy_loss", "num_env_steps_sampled_lifetime")


# --- run records -----------------------------------------------------------------------------------


def market_agents() -> list[str]:
    return [f"{population}_{i}" for population, count in POPULATIONS.items() for i in range(count)]


def mid_at(step: int) -> float:
    return 100_000.0 + 7.0 * step + (step % 5) * 3.0


def write_backtest_like_run(root: Path, name: str = BACKTEST_RUN, steps: int = 120) -> Path:
    """A single-agent run shaped like a backtest: ``sma_crossover`` beside ``buy_and_hold``, daily bars."""
    t = np.arange(steps, dtype=np.int64)
    times = pd.date_range("2020-01-01", periods=steps, freq="D").to_numpy()
    price = 100.0 + 0.25 * t + np.sin(t / 5.0)
    config = {"policy": "sma_crossover", "data": "sample", "window": 30, "commission_bps": 1.0}
    with RunWriter(root, name, kind=s.KIND_BACKTEST, config=config, seed=3) as writer:
        for k, agent in enumerate(("buy_and_hold", "sma_crossover")):
            writer.append(
                s.STEPS,
                {
                    s.STEP: t,
                    s.TIME: times,
                    s.AGENT: [agent] * steps,
                    s.PRICE: price,
                    s.CASH: 10_000.0 - 13.0 * t * (k + 1),
                    s.POSITION: np.round(0.1 + 0.003 * t + 0.2 * k, 4),
                    s.EQUITY: 10_000.0 + 37.5 * t * (k + 1) + 0.01 * t**2 - 50.0 * np.sin(t / 3.0),
                    s.ACTION: np.full((steps, 1), 0.5 * k),
                    s.REWARD: np.full(steps, 0.001 * (k + 1)),
                },
            )
        writer.set_metrics({"total_return": 0.47, "sharpe_ratio": 0.34, "buy_and_hold": {"total_return": 2.83}})
    return root / name


def write_market_run(root: Path, name: str = MARKET_RUN, steps: int = MARKET_STEPS) -> Path:
    """A multi-agent run: 20 agents in three populations, trades every step, five book levels a side."""
    agents = market_agents()
    n = len(agents)
    step = np.repeat(np.arange(steps, dtype=np.int64), n)
    index = np.tile(np.arange(n), steps)
    trades: dict[str, list[Any]] = {c: [] for c in s.TRADES_SCHEMA.names if c != s.TIME}
    book: dict[str, list[Any]] = {c: [] for c in (s.STEP, s.SIDE, s.LEVEL, s.PRICE, s.QTY)}
    order_id = 0
    for k in range(steps):
        for j in range(3):
            order_id += 2
            trades[s.STEP].append(k)
            trades[s.PRICE].append(mid_at(k) + (j - 1) * 2.0)
            trades[s.QTY].append(1 + (k + j) % 4)
            trades[s.MAKER].append(f"maker_{(k + j) % 4}")
            trades[s.TAKER].append(agents[4 + (k * 3 + j) % 16])
            trades[s.MAKER_ORDER_ID].append(order_id - 1)
            trades[s.TAKER_ORDER_ID].append(order_id)
            trades[s.TAKER_SIDE].append(s.BUY if (k + j) % 2 == 0 else s.SELL)
        for side, sign in ((s.BID, -1), (s.ASK, 1)):
            best = mid_at(k) + sign * (1 + (k % 3 if side == s.BID else k % 4))
            for level in range(BOOK_LEVELS):
                book[s.STEP].append(k)
                book[s.SIDE].append(side)
                book[s.LEVEL].append(level)
                book[s.PRICE].append(best + sign * 2.0 * level)
                book[s.QTY].append(3 + (k + level) % 7)
    config = {"simulation": {"makers": 4, "takers": 8, "noise": 8, "steps": steps}, "market": {"clearing": "book"}}
    with RunWriter(root, name, kind=s.KIND_SIMULATE, config=config, seed=11, flush_rows=300) as writer:
        writer.append(
            s.STEPS,
            {
                s.STEP: step,
                s.AGENT: [agents[i] for i in index],
                s.PRICE: np.array([mid_at(k) for k in step]),
                s.CASH: 1_000_000.0 - 50.0 * step * index,
                s.POSITION: ((step * (index + 1)) % 23 - 11).astype(np.float64),
                s.EQUITY: 1_000_000.0 + 1_000.0 * index + 3.7 * step * (index - 10) + 0.25 * (step % 7),
                s.ACTION: np.stack([np.sin(step + index), np.cos(step - index)], axis=1),
                s.REWARD: 0.01 * (index - 10.0),
            },
        )
        writer.append(s.TRADES, trades)
        writer.append(s.BOOK, book)
        writer.set_metrics({"steps": steps, "trades": steps * 3, "mean_return": {"maker": 0.01, "taker": -0.02}})
    return root / name


def write_train_run(root: Path, name: str = TRAIN_RUN, iterations: int = 15) -> Path:
    """A training run: a long-format training table and no steps."""
    rows: dict[str, list[Any]] = {c: [] for c in (s.ITERATION, s.ENV_STEPS, s.TIME_S, s.KEY, s.VALUE)}
    for i in range(1, iterations + 1):
        for j, key in enumerate(TRAINING_KEYS):
            rows[s.ITERATION].append(i)
            rows[s.ENV_STEPS].append(4_000 * i)
            rows[s.TIME_S].append(2.5 * i)
            rows[s.KEY].append(key)
            rows[s.VALUE].append(math.log(i) * (j + 1) - j)
    config = {"algorithm": "ppo", "env": "trading", "stop": {"iterations": iterations}}
    with RunWriter(root, name, kind=s.KIND_TRAIN, config=config, seed=5) as writer:
        writer.append(s.TRAINING, rows)
        writer.set_metrics({"iterations": iterations, "env_steps": 4_000 * iterations})
    return root / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder with a backtest-like run, a multi-agent run and a training run (newest last)."""
    root = tmp_path_factory.mktemp("runs")
    write_backtest_like_run(root)
    write_market_run(root)
    write_train_run(root)
    return root


@pytest.fixture(scope="module")
def real_backtest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder holding one record written by the real backtest engine on the bundled sample."""
    from market.agents.baselines import make_baseline
    from market.backtest.engine import run_backtest, write_backtest_record
    from market.data import load_sample
    from market.envs.trading import TradingEnvConfig

    root = tmp_path_factory.mktemp("real_runs")
    result = run_backtest(make_baseline("sma_crossover"), TradingEnvConfig(data=load_sample()), seed=3)
    write_backtest_record(result, root, "real-backtest", policy="sma_crossover", data="sample", seed=3)
    return root


def record_row(run: Path, agent: str, step: int) -> pd.Series:
    """One agent's row at one step, read from the record with pandas (independently of the page)."""
    frame = RunReader(run).read(s.STEPS)
    rows = frame[(frame[s.AGENT] == agent) & (frame[s.STEP] == step)]
    assert len(rows) == 1
    return rows.iloc[0]


def record_quotes(run: Path, step: int) -> tuple[float, float]:
    book = RunReader(run).read(s.BOOK)
    at = book[book[s.STEP] == step]
    return float(at[at[s.SIDE] == s.BID][s.PRICE].max()), float(at[at[s.SIDE] == s.ASK][s.PRICE].min())


# --- AppTest helpers -------------------------------------------------------------------------------


def open_app(root: Path, monkeypatch: pytest.MonkeyPatch, query: dict[str, str] | None = None) -> AppTest:
    monkeypatch.setenv(page.RUNS_ENV, str(root))
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=APP_TIMEOUT_S)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def shown(at: AppTest, label: str) -> str:
    values = [metric.value for metric in at.metric if metric.label == label]
    assert len(values) == 1, f"expected one metric {label!r}, found {len(values)}"
    return values[0]


def run_options(at: AppTest) -> list[str]:
    """The run names the picker offers (its labels are ``name · kind · date``)."""
    return [label.split(" · ")[0] for label in at.selectbox(key=page.RUN).options]


def number(text: str) -> float:
    return float(text.replace(",", ""))


def assert_clean(at: AppTest) -> None:
    """No uncaught exception and no section error in the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


# --- the page --------------------------------------------------------------------------------------


def test_replay_shows_the_recorded_figures_at_the_chosen_step(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_app(runs, monkeypatch)
    at.selectbox(key=page.RUN).select(MARKET_RUN).run()
    at.selectbox(key=page.AGENT).select("taker_3").run()
    assert_clean(at)
    assert at.slider(key=page.STEP).value == 0
    for step in (17, 42, MARKET_STEPS - 1):
        at.slider(key=page.STEP).set_value(step).run()
        assert_clean(at)
        row = record_row(runs / MARKET_RUN, "taker_3", step)
        bid, ask = record_quotes(runs / MARKET_RUN, step)
        assert shown(at, page.STEP_LABEL) == str(step)
        assert number(shown(at, page.EQUITY_LABEL)) == pytest.approx(row[s.EQUITY], abs=0.005)
        assert number(shown(at, page.POSITION_LABEL)) == row[s.POSITION]
        assert number(shown(at, page.BEST_BID_LABEL)) == bid
        assert number(shown(at, page.BEST_ASK_LABEL)) == ask
    tape = next(frame.value for frame in at.dataframe if s.TAKER_SIDE in frame.value.columns)
    assert set(tape[s.STEP]) <= set(range(MARKET_STEPS - 1 - 5, MARKET_STEPS))
    assert (tape.loc[tape["now"] == "▶", s.STEP] == MARKET_STEPS - 1).all()


def test_another_agent_and_the_next_button_update_the_figures(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_app(runs, monkeypatch, query={page.QUERY_RUN: MARKET_RUN})
    at.slider(key=page.STEP).set_value(30).run()
    at.selectbox(key=page.AGENT).select("noise_7").run()
    at.button(key=page.NEXT).click().run()
    assert_clean(at)
    assert at.slider(key=page.STEP).value == 31
    row = record_row(runs / MARKET_RUN, "noise_7", 31)
    assert number(shown(at, page.EQUITY_LABEL)) == pytest.approx(row[s.EQUITY], abs=0.005)
    assert number(shown(at, page.POSITION_LABEL)) == row[s.POSITION]
    at.button(key=page.PREV).click().run()
    assert at.slider(key=page.STEP).value == 30
    at.button(key=page.PLAY).click().run()
    assert at.session_state[page.PLAYING] is True
    assert at.button(key=page.PLAY).label.endswith("Pause")
    at.button(key=page.PLAY).click().run()
    assert at.session_state[page.PLAYING] is False
    assert_clean(at)


def test_real_backtest_record_replays_with_its_policy_and_benchmark(
    real_backtest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_app(real_backtest, monkeypatch)
    assert at.selectbox(key=page.AGENT).options == ["buy_and_hold", "sma_crossover"]
    at.selectbox(key=page.AGENT).select("sma_crossover").run()
    at.slider(key=page.STEP).set_value(1_000).run()
    assert_clean(at)
    row = record_row(real_backtest / "real-backtest", "sma_crossover", 1_000)
    assert number(shown(at, page.EQUITY_LABEL)) == pytest.approx(row[s.EQUITY], abs=0.005)
    assert number(shown(at, page.POSITION_LABEL)) == pytest.approx(row[s.POSITION], abs=5e-5)
    assert shown(at, page.TIME_LABEL) == str(pd.Timestamp(row[s.TIME]).date())
    assert number(shown(at, page.PRICE_LABEL)) == pytest.approx(row[s.PRICE], abs=0.005)
    assert not [m for m in at.metric if m.label in (page.BEST_BID_LABEL, page.BEST_ASK_LABEL)], "a backtest has no book"
    metrics = next(frame.value for frame in at.dataframe if rd.METRIC in frame.value.columns)
    assert "buy_and_hold.sharpe_ratio" in set(metrics[rd.METRIC]), "nested metrics are flattened"


def test_newest_run_first_and_training_curves_for_a_train_run(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_app(runs, monkeypatch)
    assert run_options(at) == [TRAIN_RUN, MARKET_RUN, BACKTEST_RUN]
    assert at.selectbox(key=page.RUN).value == TRAIN_RUN
    assert_clean(at)
    keys = at.multiselect(key=page.TRAINING_KEYS)
    assert keys.options == sorted(TRAINING_KEYS)
    assert keys.value == ["env_runners/episode_return_mean"]
    keys.select("learners/policy_loss").run()
    assert_clean(at)
    assert at.multiselect(key=page.TRAINING_KEYS).value == ["env_runners/episode_return_mean", "learners/policy_loss"]
    assert any("nothing to replay" in info.value for info in at.info)


def test_broken_and_foreign_folders_warn_and_good_runs_stay_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "runs"
    write_backtest_like_run(root)
    (root / "broken").mkdir()
    (root / "broken" / s.MANIFEST_FILE).write_text("{ not json", encoding="utf-8")
    (root / "holiday-photos").mkdir()
    (root / "holiday-photos" / "beach.jpg").write_bytes(b"\xff\xd8")
    write_market_run(root)
    (root / MARKET_RUN / s.table_file(s.BOOK)).write_bytes(b"damaged")
    write_train_run(root)
    at = open_app(root, monkeypatch)
    assert not at.exception
    warnings = [warning.value for warning in at.warning]
    assert any("broken" in text and s.MANIFEST_FILE in text for text in warnings), warnings
    assert any("holiday-photos" in text for text in warnings), warnings
    assert any(MARKET_RUN in text and "book.parquet" in text for text in warnings), warnings
    assert not any("Traceback" in text for text in warnings)
    assert run_options(at) == [TRAIN_RUN, BACKTEST_RUN]
    at.selectbox(key=page.RUN).select(BACKTEST_RUN).run()
    assert_clean(at)
    assert at.slider(key=page.STEP).max == 119


def test_paths_outside_the_runs_folder_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "runs"
    write_backtest_like_run(root)
    outside = write_backtest_like_run(tmp_path / "elsewhere", "secret")
    (root / "escape").symlink_to(outside, target_is_directory=True)
    broken_outside = tmp_path / "elsewhere" / "broken"
    broken_outside.mkdir()
    (broken_outside / s.MANIFEST_FILE).write_text("{ not json", encoding="utf-8")
    (root / "escape-broken").symlink_to(broken_outside, target_is_directory=True)
    (root / "inside-link").symlink_to(root / BACKTEST_RUN, target_is_directory=True)
    table = write_train_run(root, "leaky") / s.table_file(s.TRAINING)
    copy = tmp_path / "elsewhere" / "training-copy.parquet"
    copy.write_bytes(table.read_bytes())
    table.unlink()
    table.symlink_to(copy)  # same bytes, so the record itself checks out; only its path is wrong

    for name in ("..", "../elsewhere/secret", "escape", "leaky", "/etc", ".hidden", "a/b", ""):
        with pytest.raises(RecordError, match="refused"):
            rd.resolve_run(root, name)
    assert rd.resolve_run(root, "inside-link") == (root / BACKTEST_RUN).resolve()

    at = open_app(root, monkeypatch, query={page.QUERY_RUN: "../elsewhere/secret"})
    assert not at.exception
    warnings = [warning.value for warning in at.warning]
    assert any("refused" in text and "../elsewhere/secret" in text for text in warnings), warnings
    assert any("escape" in text and "outside the runs folder" in text for text in warnings), warnings
    assert any("leaky" in text and "outside the runs folder" in text for text in warnings), warnings
    escaped = [text for text in warnings if "escape-broken" in text]
    assert len(escaped) == 1 and "refused" in escaped[0] and "malformed" not in escaped[0], "opened before refusing"
    assert "escape" not in run_options(at)
    assert "secret" not in run_options(at)
    assert at.selectbox(key=page.RUN).value in {BACKTEST_RUN, "inside-link"}


def test_listing_equals_list_runs_when_nothing_points_outside(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    write_backtest_like_run(root)
    (root / "broken").mkdir()
    (root / "broken" / s.MANIFEST_FILE).write_text("[]", encoding="utf-8")
    (root / "killed.partial").mkdir()
    write_market_run(root)
    (root / "notes.txt").write_text("not a run", encoding="utf-8")
    (root / ".hidden").mkdir()
    write_train_run(root)
    listing = rd.scan_runs(root)
    assert listing.runs + listing.problems == tuple(summary for summary in list_runs(root) if summary.ok) + tuple(
        summary for summary in list_runs(root) if not summary.ok
    )
    assert [run.name for run in listing.runs] == [TRAIN_RUN, MARKET_RUN, BACKTEST_RUN]
    assert {problem.name for problem in listing.problems} == {"broken", "killed"}


def test_compare_view_shows_both_runs(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_app(runs, monkeypatch)
    at.radio(key=page.VIEW).set_value(page.COMPARE_VIEW).run()
    at.selectbox(key=page.COMPARE_A).select(MARKET_RUN).run()
    at.selectbox(key=page.COMPARE_B).select(BACKTEST_RUN).run()
    assert_clean(at)
    headers = [header.value for header in at.subheader]
    assert f"A: {MARKET_RUN}" in headers and f"B: {BACKTEST_RUN}" in headers
    table = next(frame.value for frame in at.dataframe if f"A: {MARKET_RUN}" in frame.value.columns)
    assert f"B: {BACKTEST_RUN}" in table.columns
    by_metric = table.set_index(rd.METRIC)
    assert by_metric.loc["trades", f"A: {MARKET_RUN}"] == f"{MARKET_STEPS * 3:,}"
    assert by_metric.loc["trades", f"B: {BACKTEST_RUN}"] == "—"
    assert by_metric.loc["buy_and_hold.total_return", f"B: {BACKTEST_RUN}"] == "2.83"


def test_the_served_page_file_draws_no_stray_text(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The server runs market/dashboard/app.py itself, where Streamlit's "magic" would draw any bare string.
    monkeypatch.setenv(page.RUNS_ENV, str(runs))
    at = AppTest.from_file(str(APP_FILE), default_timeout=APP_TIMEOUT_S)
    at.query_params[page.QUERY_RUN] = MARKET_RUN
    at.run()
    assert_clean(at)
    assert [markdown.value for markdown in at.markdown] == []
    assert at.header[0].value == MARKET_RUN


def test_a_failing_section_shows_one_line_and_the_page_goes_on() -> None:
    def script() -> None:
        import streamlit as st

        from market.dashboard.app import section

        with section("Broken part"):
            raise ValueError("bad value in column x\nsecond line that must not show")
        st.write("after")

    at = AppTest.from_function(script, default_timeout=APP_TIMEOUT_S).run()
    assert not at.exception
    assert [error.value for error in at.error] == ["Broken part: ValueError: bad value in column x"]
    assert at.markdown[0].value == "after"


def test_dashboard_imports_nothing_from_training() -> None:
    code = (
        "import sys, market.dashboard.app, market.dashboard.server, market.dashboard.run_data;"
        "bad = sorted(m for m in sys.modules if m.startswith(('market.training', 'ray', 'torch')));"
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip() == "", f"the dashboard imported {result.stdout.strip()}"


# --- launching -------------------------------------------------------------------------------------


def test_dashboard_command_binds_localhost_and_keeps_errors_out_of_the_page(tmp_path: Path) -> None:
    command = dashboard_command(tmp_path / "runs", 8765)
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(APP_FILE)]
    options = dict(zip(command[5:command.index("--"):2], command[6:command.index("--"):2]))
    assert options == {
        "--server.address": "127.0.0.1",
        "--server.port": "8765",
        "--server.headless": "true",
        "--browser.gatherUsageStats": "false",
        "--client.showErrorDetails": "none",
    }
    assert command[command.index("--") + 1:] == ["--runs", str(tmp_path / "runs")]
    assert APP_FILE.is_file()


def test_serve_refuses_a_bad_port_or_a_file_as_runs_folder(tmp_path: Path) -> None:
    (tmp_path / "runs").write_text("not a folder", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a directory"):
        serve(tmp_path / "runs", 8765)
    for port in (0, 70_000, True):
        with pytest.raises(ConfigError, match="port"):
            dashboard_command(tmp_path, port)


def test_runs_folder_from_flag_then_environment_then_default(tmp_path: Path) -> None:
    assert page.runs_root(["--runs", str(tmp_path / "a")], {page.RUNS_ENV: str(tmp_path / "b")}) == tmp_path / "a"
    assert page.runs_root([f"--runs={tmp_path / 'a'}"], {}) == tmp_path / "a"
    assert page.runs_root(["-q", "tests"], {page.RUNS_ENV: str(tmp_path / "b")}) == tmp_path / "b"
    assert page.runs_root([], {}) == Path("runs").absolute()


# --- the data layer --------------------------------------------------------------------------------


def test_downsampling_bounds_points_and_keeps_ends_and_extremes() -> None:
    rng = np.random.default_rng(0)
    values = np.cumsum(rng.standard_normal(1_000_003))
    values[123_457] = 1e6
    values[765_432] = -1e6
    values[5] = np.nan
    picked = rd.downsample_indices(values, rd.MAX_POINTS)
    assert len(picked) <= rd.MAX_POINTS
    assert np.all(np.diff(picked) > 0)
    assert {0, len(values) - 1, 123_457, 765_432} <= set(picked.tolist())
    assert rd.downsample_indices(values[:50], rd.MAX_POINTS).tolist() == list(range(50))


def test_leaderboard_equals_a_plain_loop(runs: Path) -> None:
    reader = RunReader(runs / MARKET_RUN)
    board = rd.leaderboard(reader).set_index(s.AGENT)
    frame = reader.read(s.STEPS)
    for agent in market_agents():
        equity = frame[frame[s.AGENT] == agent].sort_values(s.STEP)[s.EQUITY].to_list()
        returns = [b / a - 1.0 for a, b in zip(equity, equity[1:])]
        mean = sum(returns) / len(returns)
        std = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
        peak, deepest = equity[0], 0.0
        for value in equity:
            peak = max(peak, value)
            deepest = min(deepest, value / peak - 1.0)
        assert board.loc[agent, rd.RETURN] == pytest.approx(equity[-1] / equity[0] - 1.0)
        assert board.loc[agent, rd.SHARPE] == pytest.approx(mean / std)
        assert board.loc[agent, rd.MAX_DRAWDOWN] == pytest.approx(deepest)
        assert board.loc[agent, rd.POPULATION] == agent.split("_")[0]
    assert board[rd.RETURN].is_monotonic_decreasing


def test_population_curves_are_means_of_their_agents(runs: Path) -> None:
    reader = RunReader(runs / MARKET_RUN)
    overview = rd.load_overview(reader)
    assert overview.populations["maker"] == ("maker_0", "maker_1", "maker_2", "maker_3")
    assert (overview.first_step, overview.last_step) == (0, MARKET_STEPS - 1)
    curves = rd.load_curves(reader, {"taker": overview.populations["taker"]})
    frame = reader.read(s.STEPS)
    takers = frame[frame[s.AGENT].str.startswith("taker_")].groupby(s.STEP)[s.EQUITY].mean()
    equity = curves[(curves[rd.NAME] == "taker") & (curves["measure"] == s.EQUITY)].set_index(s.STEP)["value"]
    pd.testing.assert_series_equal(equity, takers, check_names=False)


class CountingReader(RunReader):
    """The real reader, noting which columns and filters every table read asks for."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, verify=True)
        self.reads: list[tuple[str, tuple[str, ...] | None, bool]] = []

    def read(self, table: str, columns: Sequence[str] | None = None, filters: Any = None) -> pd.DataFrame:
        self.reads.append((table, tuple(columns) if columns is not None else None, filters is not None))
        return super().read(table, columns=columns, filters=filters)


def write_large_run(root: Path, agents: int = 20, steps: int = 50_000, chunk_steps: int = 2_500) -> Path:
    """A run of ``agents * steps`` step-rows (plus trades and book snapshots), written in chunks.

    Equity, cash and reward are random walks, so the file is as hard to compress as a real run's.
    """
    names = [f"{population}_{i}" for population in ("maker", "taker", "noise", "value") for i in range(agents // 4)]
    rng = np.random.default_rng(7)
    level = np.full(agents, 1e6)
    with RunWriter(root, "large", kind=s.KIND_SIMULATE, config={"steps": steps}, seed=1) as writer:
        for start in range(0, steps, chunk_steps):
            step = np.repeat(np.arange(start, start + chunk_steps, dtype=np.int64), agents)
            index = np.tile(np.arange(agents), chunk_steps)
            rows = len(step)
            moves = rng.normal(0.0, 50.0, size=(chunk_steps, agents))
            equity = (level + np.cumsum(moves, axis=0)).ravel()
            level = equity[-agents:]
            writer.append(
                s.STEPS,
                {
                    s.STEP: step,
                    s.AGENT: pa.array(names).take(pa.array(index)),
                    s.PRICE: 100_000.0 + np.sin(step / 500.0) * 300.0,
                    s.CASH: equity - 1e5 * rng.random(rows),
                    s.POSITION: (index - 10.0) * (step % 13),
                    s.EQUITY: equity,
                    s.ACTION: pa.ListArray.from_arrays(pa.array(np.arange(rows + 1, dtype=np.int32)), rng.random(rows)),
                    s.REWARD: moves.ravel() / 1e6,
                },
            )
            trade_steps = np.arange(start, start + chunk_steps, dtype=np.int64)
            writer.append(
                s.TRADES,
                {
                    s.STEP: trade_steps,
                    s.PRICE: 100_000.0 + (trade_steps % 9),
                    s.QTY: np.ones(chunk_steps, dtype=np.int64),
                    s.MAKER: ["maker_0"] * chunk_steps,
                    s.TAKER: ["taker_1"] * chunk_steps,
                    s.MAKER_ORDER_ID: 2 * trade_steps,
                    s.TAKER_ORDER_ID: 2 * trade_steps + 1,
                    s.TAKER_SIDE: np.where(trade_steps % 2 == 0, s.BUY, s.SELL),
                },
            )
            book_steps = np.repeat(trade_steps, 4)
            writer.append(
                s.BOOK,
                {
                    s.STEP: book_steps,
                    s.SIDE: np.tile([s.BID, s.BID, s.ASK, s.ASK], chunk_steps),
                    s.LEVEL: np.tile(np.array([0, 1, 0, 1], dtype=np.int32), chunk_steps),
                    s.PRICE: 100_000.0 + np.tile([-1.0, -2.0, 1.0, 2.0], chunk_steps) + (book_steps % 5),
                    s.QTY: np.full(4 * chunk_steps, 5, dtype=np.int64),
                },
            )
    return root / "large"


@pytest.mark.slow
def test_a_million_step_rows_open_fast_reading_only_needed_columns_and_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_large_run(tmp_path / "runs")
    started = time.perf_counter()
    reader = CountingReader(path)
    overview = rd.load_overview(reader)
    chosen = (overview.first_step + overview.last_step) // 2
    price = rd.load_price(reader, overview.agents[0], chosen - 200, chosen + 200)
    whole = rd.load_price(reader, overview.agents[0])
    at_step = rd.state_at(reader, chosen)
    book = rd.book_at(reader, chosen)
    trades, total = rd.trades_between(reader, chosen - 200, chosen + 200)
    curves = rd.load_curves(reader, {name: tuple(m) for name, m in overview.populations.items()})
    board = rd.leaderboard(reader)
    loading = time.perf_counter() - started

    assert reader.num_rows(s.STEPS) == 1_000_000
    assert len(overview.agents) == 20 and (overview.first_step, overview.last_step) == (0, 49_999)
    assert len(price) == 401 and len(whole) <= rd.MAX_POINTS
    assert len(at_step) == 20 and s.ACTION not in at_step.columns
    assert rd.best_quotes(book) == (100_000.0 - 1 + chosen % 5, 100_000.0 + 1 + chosen % 5)
    assert total == len(trades) == 401
    assert curves.groupby([rd.NAME, "measure"]).size().max() <= rd.MAX_POINTS
    assert len(board) == 20
    # Every read names its columns, never the heavy action list; every read but the leaderboard's
    # (which ranks every agent over every step) is filtered to the rows it needs.
    for table, columns, _ in reader.reads:
        assert columns is not None and s.ACTION not in columns, (table, columns)
    unfiltered = [(table, columns) for table, columns, filtered in reader.reads if not filtered]
    assert unfiltered == [(s.STEPS, (s.STEP, s.AGENT, s.EQUITY))], unfiltered

    # The whole first page, checksums of every file included, then one move of the slider.
    started = time.perf_counter()
    at = open_app(tmp_path / "runs", monkeypatch)
    first_page = time.perf_counter() - started
    started = time.perf_counter()
    at.slider(key=page.STEP).set_value(chosen).run()
    slider_move = time.perf_counter() - started
    assert_clean(at)
    assert number(shown(at, page.BEST_BID_LABEL)) == 100_000.0 - 1 + chosen % 5
    size_mb = sum(f.stat().st_size for f in path.iterdir()) / 1e6
    print(
        f"\n{reader.num_rows(s.STEPS):,} step-rows ({size_mb:.0f} MB): data for the first page {loading:.2f} s, "
        f"first page in the app {first_page:.2f} s, slider move {slider_move:.2f} s"
    )
    assert loading < 10.0 and first_page < 10.0 and slider_move < 5.0, (loading, first_page, slider_move)


def test_metrics_are_flattened_for_the_table() -> None:
    frame = rd.metrics_frame({"sharpe": 1.25, "benchmark": {"sharpe": 0.5, "deep": {"x": None}}, "n": 1200})
    assert frame.to_dict("records") == [
        {rd.METRIC: "sharpe", "value": "1.25"},
        {rd.METRIC: "benchmark.sharpe", "value": "0.5"},
        {rd.METRIC: "benchmark.deep.x", "value": "—"},
        {rd.METRIC: "n", "value": "1,200"},
    ]


def test_population_of_agent_names() -> None:
    assert [rd.population_of(a) for a in ("maker_0", "taker_17", "buy_and_hold", "sma_crossover", "x_1_2")] == [
        "maker",
        "taker",
        "buy_and_hold",
        "sma_crossover",
        "x_1",
    ]
    ordered = sorted(["maker_10", "maker_2", "buy_and_hold"], key=rd.agent_sort_key)
    assert ordered == ["buy_and_hold", "maker_2", "maker_10"]


def test_a_huge_or_junk_run_in_the_address_is_one_warning_not_an_error_page(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for junk in ("x" * 5_000, "%00", "a" * 300 + "/b"):
        at = open_app(runs, monkeypatch, query={page.QUERY_RUN: junk})
        assert not at.exception
        warnings = [warning.value for warning in at.warning]
        assert len(warnings) == 1 and len(warnings[0]) < 400, warnings


def test_a_market_run_is_shown_in_price_units_with_its_tick_stated_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from market.simulation import SimulationSpec, simulate

    root = tmp_path / "runs"
    spec = SimulationSpec(makers=2, takers=2, noise=2, momentum=1, value=1, steps=30, seed=4)
    path = simulate(spec, out=root, name="sim").path
    reader = RunReader(path)
    assert reader.manifest[s.M_TICK_VALUE] == 0.001 and rd.price_unit(reader) == 0.001
    at = open_app(root, monkeypatch, query={page.QUERY_RUN: "sim"})
    at.selectbox(key=page.AGENT).select("maker_0").run()
    at.slider(key=page.STEP).set_value(12).run()
    assert_clean(at)
    row = record_row(path, "maker_0", 12)
    bid, ask = record_quotes(path, 12)
    assert number(shown(at, page.EQUITY_LABEL)) == pytest.approx(row[s.EQUITY] * 0.001, abs=0.005)  # ticks x lots -> money
    assert number(shown(at, page.BEST_BID_LABEL)) == pytest.approx(bid * 0.001) and number(shown(at, page.BEST_ASK_LABEL)) == pytest.approx(ask * 0.001)
    captions = [caption.value for caption in at.caption if "one tick" in caption.value]
    assert len(captions) == 1 and "one tick = 0.001" in captions[0]


# --- strategy comparison ---------------------------------------------------------------------------

STUDY = """
[scenario]
name = "schedules"
kind = "market"
description = "scripted executors side by side"

[market]
max_steps = 30

[[background]]
name = "ex"
role = "executor"
count = 1
policy = "twap"
initial_inventory = 0
params = { aggression = 1.0 }
execution = { side = "buy", quantity = 40, horizon = 20 }

[[background]]
name = "mm"
role = "maker"
count = 3
policy = "market_maker"

[[background]]
name = "noise"
role = "taker"
count = 4
policy = "noise"

[evaluation]
seeds = 3
label = "twap"

[[evaluation.baselines]]
name = "all_at_once"
population = "ex"
policy = "all_at_once"
params = { aggression = 1.0 }

[[evaluation.baselines]]
name = "passive"
population = "ex"
policy = "passive"
"""


def test_strategies_tab_compares_the_baselines_and_draws_the_executors_schedules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from market.scenario import load_scenario
    from market.scenario_run import run_scenario

    path = tmp_path / "schedules.toml"
    path.write_text(STUDY)
    result = run_scenario(load_scenario(str(path)), out=tmp_path / "runs", name="study")
    reader = RunReader(result.run_path)
    [(role, table)] = rd.strategy_tables(reader)
    assert role == "executor" and table["strategy"].tolist() == ["twap", "all_at_once", "passive"]
    assert table.loc[0, "shortfall (bps)"] == pytest.approx(result.metrics["ex_shortfall_bps"][0])
    assert table.loc[1, "twap − it (shortfall_bps)"] == pytest.approx(result.metrics["vs/all_at_once/ex_shortfall_bps"][0])
    schedules = rd.schedules_frame(reader)
    assert set(schedules["strategy"]) == {"twap", "all_at_once", "passive"}
    first = schedules[schedules[s.STEP] == 1].set_index("strategy")["remaining"]
    assert first["all_at_once"] < first["twap"] < 1.0  # all at once is done (or nearly) after one step; TWAP took a slice
    assert schedules[schedules["strategy"] == "twap"]["remaining"].iloc[-1] == 0.0
    at = open_app(tmp_path / "runs", monkeypatch, query={page.QUERY_RUN: "study"})
    assert_clean(at)
    frames = [frame.value for frame in at.dataframe if "strategy" in frame.value.columns]
    assert frames and frames[0]["strategy"].tolist() == ["twap", "all_at_once", "passive"]
    assert any(header.value == "Execution schedules" for header in at.subheader)


# --- portfolios -------------------------------------------------------------------------------------


def test_portfolio_tab_shows_weights_contributions_and_turnover_of_a_portfolio_backtest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from market.backtest.portfolio import baseline_policy, run_portfolio_backtest, write_portfolio_record
    from market.data.panel import panel_from_closes
    from market.data.synthetic import factor_panel
    from market.envs import PortfolioEnv
    from market.envs.portfolio_config import PortfolioEnvConfig

    config = PortfolioEnvConfig(data=panel_from_closes(factor_panel(np.random.default_rng(2), 120, sectors=(2, 1))), window=10)
    result = run_portfolio_backtest(baseline_policy("momentum", PortfolioEnv(config)), config)
    write_portfolio_record(result, tmp_path / "runs", "pf", policy="momentum", data="synthetic", seed=0)
    reader = RunReader(tmp_path / "runs" / "pf")
    assert rd.portfolio_agents(reader) == ["equal_weight", "momentum"]
    weights, contributions, traded = rd.portfolio_frames(reader, "momentum")
    assert np.allclose(weights.drop(columns=s.STEP).sum(axis=1), 1.0)
    frame = result.play.frame
    # the contributions, with cash's (minus costs), compound to nothing but add to the simple returns' sum
    simple = frame["value"].to_numpy() / np.concatenate([[frame.attrs["initial_value"]], frame["value"].to_numpy()[:-1]]) - 1
    assert contributions.drop(columns=s.STEP).iloc[-1].sum() == pytest.approx(simple.sum())
    assert traded["traded"].iloc[0] == pytest.approx(1.0)  # from all cash into one asset
    at = open_app(tmp_path / "runs", monkeypatch, query={page.QUERY_RUN: "pf"})
    assert_clean(at)
    assert {header.value for header in at.subheader} >= {"Weights", "Contributions", "Turnover"}
    at.selectbox(key=page.PORTFOLIO_AGENT).set_value("momentum").run()
    assert_clean(at)
    tables = [frame.value for frame in at.dataframe if "contribution" in frame.value.columns]
    assert tables and tables[0]["contribution"].sum() == pytest.approx(simple.sum())


def test_populations_recorded_in_aggregate_are_ranked_and_drawn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from market.simulation import RECORD_POPULATIONS, SimulationSpec, simulate

    result = simulate(SimulationSpec(makers=2, takers=2, noise=40, momentum=2, value=2, steps=60, seed=2), out=tmp_path, name="aggregated", record=RECORD_POPULATIONS)
    reader = RunReader(result.path)
    table = reader.read(s.POPULATIONS)
    at = open_app(tmp_path, monkeypatch)
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    board = next(f.value for f in at.dataframe if "orders" in f.value.columns and "final position" in f.value.columns)
    noise = board.set_index("population").loc["noise"]
    rows = table[table[s.POPULATION] == "noise"].sort_values(s.STEP)
    assert noise["agents"] == 40 and noise["orders"] == rows[s.ORDERS].sum() and noise["fills"] == rows[s.FILLS].sum()
    assert noise[rd.FINAL_EQUITY] == pytest.approx(rows[s.EQUITY].iloc[-1] * reader.manifest[s.M_TICK_VALUE])


def test_a_league_of_three_populations_shows_one_payoff_row_per_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from market.league.loop import KIND_LEAGUE, LEAGUE_FIELD

    shape = (2, 2, 2)
    payoffs = {
        "populations": ["a", "b", "c"],
        "strategies": {p: ["value", "momentum"] for p in "abc"},  # a strategy may share a column's name
        "symmetric": False,
        "counts": np.full(shape, 3).tolist(),
        "mean": {p: (np.arange(8).reshape(shape) + k).tolist() for k, p in enumerate("abc")},
        "ci95": {p: np.ones(shape).tolist() for p in "abc"},
    }
    mixtures = {p: {"value": 0.25, "momentum": 0.75} for p in "abc"}
    generation = {"generation": 1, "payoffs": payoffs, "mixtures": mixtures, "exploitability": 0.5}
    league = {"pools": {p: [{"name": "value"}, {"name": "momentum"}] for p in "abc"}, "generations": [generation], "standings": [], "curve": []}
    with RunWriter(tmp_path, "three", kind=KIND_LEAGUE, config={}, seed=0) as writer:
        writer.set_field(LEAGUE_FIELD, league)
    tables = rd.league_tables(RunReader(tmp_path / "three"))
    assert tables is not None and not tables.matrices and len(tables.payoffs) == 3
    title, mean, half, counts = tables.payoffs[2]
    assert list(mean.columns) == ["a", "b", "c", "value"] and len(mean) == 8
    assert mean["value"].tolist() == [float(v + 2) for v in range(8)] and (counts["value"] == 3).all()
    at = open_app(tmp_path, monkeypatch)
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    assert any(len(f.value) == 8 and "ci95" in f.value.columns for f in at.dataframe)
