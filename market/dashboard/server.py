"""Starting the dashboard: the ``streamlit run`` command line and :func:`serve`, behind ``market dashboard``.

The server binds to 127.0.0.1 (Streamlit's own default is every interface), sends no usage
statistics, runs headless (no browser is opened) and shows no error details in the page
(``client.showErrorDetails=none``: in Streamlit 1.67 the legacy value ``false`` means
``stacktrace``, which still shows tracebacks).
"""

from __future__ import annotations

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


def serve(runs: Path, port: int = DEFAULT_PORT) -> int:
    """Serve the dashboard until interrupted (Ctrl-C), printing where it listens.

    Args:
        runs: The runs folder (it need not exist yet: the page says it holds no runs).
        port: The TCP port.

    Returns:
        The server's exit code (0 after Ctrl-C).

    Raises:
        ConfigError: The port is out of range, or ``runs`` exists and is not a folder.
    """
    runs = Path(runs).expanduser().absolute()
    if runs.exists() and not runs.is_dir():
        raise ConfigError(f"{runs}: the runs folder is not a directory")
    command = dashboard_command(runs, port)
    print(f"market dashboard: http://{HOST}:{port} over {runs} (Ctrl-C stops it)", flush=True)
    try:
        return subprocess.run(command, check=False).returncode
    except KeyboardInterrupt:
        return 0
