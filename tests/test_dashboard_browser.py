"""Dashboard end to end: the real server (the command ``market dashboard`` runs) driven by a real headless Chromium.

Chromium is Debian's ``/usr/bin/chromium`` (``scripts/ensure_chromium.sh`` installs it), driven
through Playwright for Python; Playwright's own browser download is not used. The test fails (it
does not skip) when either is missing, since the test setup installs both.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from market.dashboard.server import dashboard_command
from market.records import schema as s
from test_dashboard import MARKET_RUN, record_quotes, record_row, write_backtest_like_run, write_market_run

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SERVER_START_TIMEOUT_S = 45.0
UI_TIMEOUT_MS = 20_000
AGENT = "maker_0"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll the server's health endpoint until it answers ``ok``; fail with its log if it dies or hangs."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the dashboard server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the dashboard server did not answer within {SERVER_START_TIMEOUT_S:.0f} s:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and everything it started (its own process group)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A dashboard server on a free port over a runs folder with a backtest-like and a multi-agent run."""
    home = tmp_path_factory.mktemp("dashboard")
    root = home / "runs"
    write_backtest_like_run(root)
    write_market_run(root)
    port = free_port()
    log = home / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            dashboard_command(root, port), cwd=home, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, log)
        yield url, root
    finally:
        stop(process)


def launch_chromium(playwright: Any) -> Any:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure_chromium.sh (as root) to install Debian's chromium")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def metric(page: Any, label: str) -> Any:
    """The value element of the ``st.metric`` with this label."""
    labelled = page.locator('[data-testid="stMetricLabel"]', has_text=label)
    return page.locator('[data-testid="stMetric"]', has=labelled).locator('[data-testid="stMetricValue"]')


def wait_for(
    description: str, read: Callable[[], Any], expected: Callable[[Any], bool], timeout_s: float = 20.0
) -> Any:
    """Poll ``read()`` until ``expected`` holds (the page redraws after each rerun); fail with the last value."""
    deadline = time.monotonic() + timeout_s
    value: Any = None
    while time.monotonic() < deadline:
        try:
            value = read()
        except Exception as exc:  # the element is being redrawn
            value = exc
        else:
            if expected(value):
                return value
        time.sleep(0.1)
    pytest.fail(f"{description}: last seen {value!r}")


def shown_number(page: Any, label: str) -> float:
    return float(metric(page, label).inner_text(timeout=2_000).replace(",", ""))


def assert_figures_match_record(page: Any, root: Path, step: int) -> None:
    """The step, equity, position, best bid and best ask shown equal the record's at ``step``."""
    row = record_row(root / MARKET_RUN, AGENT, step)
    bid, ask = record_quotes(root / MARKET_RUN, step)
    wait_for("step shown", lambda: metric(page, "Step").inner_text(timeout=2_000), lambda text: text == str(step))
    expected = {"Equity": row[s.EQUITY], "Position": row[s.POSITION], "Best bid": bid, "Best ask": ask}
    for label, value in expected.items():
        wait_for(
            f"{label} at step {step} (record: {value})",
            lambda label=label: shown_number(page, label),
            lambda shown, value=value: abs(shown - value) <= 0.005,
        )


def test_dashboard_in_a_real_browser_opens_a_run_and_replays_it(dashboard: tuple[str, Path], tmp_path: Path) -> None:
    url, root = dashboard
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: pip install playwright (a dev extra); its browser download is not needed")

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1800})
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.goto(url)

            # The page loads and lists both runs in the picker.
            picker = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first
            picker.click()
            options = page.get_by_role("option")
            wait_for("run picker options", lambda: options.all_inner_texts(), lambda texts: len(texts) == 2)
            names = [text.split(" · ")[0].strip() for text in options.all_inner_texts()]
            assert names == [MARKET_RUN, "backtest-sma"], names

            # A run opens.
            page.get_by_role("option", name=MARKET_RUN).click()
            page.get_by_role("heading", name=MARKET_RUN).wait_for()
            slider = page.locator('input[type="range"][aria-label="Step"]')
            assert slider.get_attribute("max") == "59"
            assert_figures_match_record(page, root, 0)

            # The slider moves with the keyboard; the figures follow.
            for step in (1, 2, 3):
                slider.focus()
                page.keyboard.press("ArrowRight")
                wait_for("slider value", lambda: slider.input_value(), lambda value, step=step: value == str(step))
                assert_figures_match_record(page, root, step)

            # Play advances the slider on its own; pause stops it where the figures are checked.
            page.get_by_role("button", name="▶ Play").click()
            wait_for("playing past step 5", lambda: int(slider.input_value()), lambda value: value >= 6)
            page.get_by_role("button", name="⏸ Pause").click()
            page.get_by_role("button", name="▶ Play").wait_for()
            # a redraw already on its way when the click landed may still reach the page: wait for it to settle
            stopped, deadline = int(slider.input_value()), time.monotonic() + 10
            while time.monotonic() < deadline:
                time.sleep(0.5)
                now = int(slider.input_value())
                if now == stopped:
                    break
                stopped = now
            time.sleep(1.5)
            assert int(slider.input_value()) == stopped, "the slider kept moving after pause"
            assert_figures_match_record(page, root, stopped)

            assert page.locator('[data-testid="stException"]').count() == 0
            assert "Traceback" not in page.inner_text("body")
            screenshot = tmp_path / "dashboard.png"
            page.screenshot(path=str(screenshot))
            assert screenshot.stat().st_size > 10_000
        finally:
            browser.close()


def test_dashboard_server_listens_on_loopback_only(dashboard: tuple[str, Path]) -> None:
    url, _ = dashboard
    port = int(url.rsplit(":", 1)[1])
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
        assert response.read().strip() == b"ok"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # picks the outward interface; a UDP connect sends nothing
            address = probe.getsockname()[0]
    except OSError:
        address = "127.0.0.1"
    if address.startswith("127."):
        pytest.skip("this machine has no non-loopback interface to try the dashboard's port on")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        client.settimeout(2)
        assert client.connect_ex((address, port)) != 0, f"the dashboard answers on {address}:{port}"
