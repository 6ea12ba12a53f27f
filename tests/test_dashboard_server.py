"""`market dashboard` as a supervisor sees it: a signal to the command takes its server down with it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

MARKET = str(Path(sys.executable).with_name("market"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGHUP, 128 + signal.SIGHUP), (signal.SIGINT, 130)])
def test_a_signal_to_market_dashboard_stops_its_streamlit_server(tmp_path, signum, code):
    port = free_port()
    process = subprocess.Popen(
        [MARKET, "dashboard", "--runs", str(tmp_path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # like a supervisor's child: the signal goes to this process alone
    )
    deadline = time.monotonic() + 60
    while not listening(port) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert listening(port), "the server came up"
    servers = children_of(process.pid)
    assert servers, "streamlit runs as a child process"
    os.kill(process.pid, signum)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == code, stderr
    assert not any(alive(pid) for pid in servers), "no orphaned server"
    assert not listening(port), "nothing listens on the port any more"
    last = stderr.strip().splitlines()[-1]  # the server's own log lines come first
    assert "Traceback" not in stderr and last.startswith("stopped: " if signum != signal.SIGINT else "interrupted: "), stderr
