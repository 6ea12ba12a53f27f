"""Starting the dashboard: the ``streamlit run`` command line and :func:`serve`, behind ``market dashboard``.

The server binds to 127.0.0.1 (Streamlit's own default is every interface), sends no usage
statistics, runs headless (no browser is opened) and shows no error details in the page
(``client.showErrorDetails=none``: in Streamlit 1.67 the legacy value ``false`` means
``stacktrace``, which still shows tracebacks).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from market.errors import ConfigError

APP_FILE = Path(__file__).with_name("app.py")
"""The page that ``streamlit run`` executes."""

HOST = "127.0.0.1"
DEFAULT_PORT = 8501


def dashboard_command(runs: Path, port: int = DEFAULT_PORT) -> list[str]:
    """Return the command that serves the dashboard over ``runs`` on ``127.0.0.1:port``.

    Args:
        runs: The runs folder, passed to the page as ``--runs`` after ``--``.
        port: The TCP port, 1 to 65535.

    Returns:
        The argument list, starting with this Python interpreter.

    Raises:
        ConfigError: The port is out of range.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65_535:
        raise ConfigError(f"port: expected an integer from 1 to 65535, got {port!r}")
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_FILE),
        "--server.address",
        HOST,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.showErrorDetails",
        "none",
        "--",
        "--runs",
        str(runs),
    ]


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""Signals that stop ``market dashboard`` (a supervisor's kill, a closed terminal): the server goes with it."""
STOP_WAIT_S = 10.0
"""How long the server may take to stop after it is told to, before it is killed."""


def serve(runs: Path, port: int = DEFAULT_PORT) -> int:
    """Serve the dashboard until interrupted, printing where it listens.

    Streamlit runs as a child process. Ctrl-C (SIGINT), SIGTERM and SIGHUP to this process stop the
    child too (SIGTERM, then SIGKILL after :data:`STOP_WAIT_S`), so no server is left listening, orphaned.

    Args:
        runs: The runs folder (it need not exist yet: the page says it holds no runs).
        port: The TCP port.

    Returns:
        The server's exit code when it stops by itself.

    Raises:
        ConfigError: The port is out of range, or ``runs`` exists and is not a folder.
        KeyboardInterrupt: after Ctrl-C, once the server has stopped (the CLI exits with 130).
        Stopped: after SIGTERM or SIGHUP, once the server has stopped.
    """
    runs = Path(runs).expanduser().absolute()
    if runs.exists() and not runs.is_dir():
        raise ConfigError(f"{runs}: the runs folder is not a directory")
    command = dashboard_command(runs, port)
    print(f"market dashboard: http://{HOST}:{port} over {runs} (Ctrl-C stops it)", flush=True)
    child = subprocess.Popen(command)

    def stop(signum: int, frame: object) -> None:
        raise Stopped(signum)

    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    try:
        return child.wait()
    finally:  # Ctrl-C, SIGTERM, SIGHUP or an error: the server does not outlive this process
        for number, handler in previous.items():
            signal.signal(number, handler)
        _stop(child)


class Stopped(Exception):
    """``market dashboard`` was told to stop by a signal (SIGTERM or SIGHUP); the server has stopped.

    Attributes:
        signum: the signal's number (the shell convention exits with ``128 + signum``).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop(child: subprocess.Popen) -> None:
    """Stop the server if it still runs: SIGTERM, then SIGKILL if it has not ended in time."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
