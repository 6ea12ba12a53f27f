"""Cluster mode: ``market train --address`` joins a running Ray head, trains, records and checkpoints there.

The test starts a real head with ``ray start`` in its own session, so every process the head starts
(gcs_server, raylet, the agents and the workers the raylet forks) shares one process group; the
fixture kills exactly those processes by PID when the test ends, passed or failed. ``ray stop``
is never used: it would stop every Ray on the machine. Head and driver run with
``RAY_AUTH_MODE=disabled`` (a token written by an earlier ``ray.init`` would otherwise turn token
auth on for the head and refuse the driver).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")
import psutil  # noqa: E402  (ships with Ray: importing ray puts its third-party folder on sys.path)

from market.records import RunReader  # noqa: E402
from market.training.runner import SETTINGS_FILE  # noqa: E402

BIN = Path(sys.executable).parent
MARKET = str(BIN / "market")
RAY = str(BIN / "ray")
HEAD_START_TIMEOUT_S = 60
TRAIN_TIMEOUT_S = 300
TERM_GRACE_S = 2.0
pytestmark = pytest.mark.slow


@dataclass(frozen=True, slots=True)
class Head:
    """A Ray head started by the test: its address, temp dir and process group."""

    address: str
    temp_dir: Path
    process_group: int


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _no_auth_env() -> dict[str, str]:
    return {**os.environ, "RAY_AUTH_MODE": "disabled"}


def _head_processes(head: Head) -> list[psutil.Process]:
    """Every live process of the head's group, its descendants, and anything naming its temp dir."""
    found: dict[int, psutil.Process] = {}
    for process in psutil.process_iter(["cmdline"]):
        try:
            in_group = os.getpgid(process.pid) == head.process_group
            names_dir = f"{head.temp_dir}{os.sep}" in " ".join(process.info["cmdline"] or ())
        except (ProcessLookupError, psutil.Error):
            continue
        if in_group or names_dir:
            found[process.pid] = process
            for child in process.children(recursive=True):
                found[child.pid] = child
    found.pop(os.getpid(), None)
    return list(found.values())


def _kill_head(head: Head) -> None:
    """SIGTERM the head's processes by PID, then SIGKILL whatever is left after a short grace."""
    processes = _head_processes(head)
    for process in processes:
        try:
            process.send_signal(signal.SIGTERM)
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(processes, timeout=TERM_GRACE_S)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=10)


@pytest.fixture
def ray_head() -> Iterator[Head]:
    # a short absolute temp dir: Ray's Unix socket paths under it must stay below ~107 characters
    temp_dir = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    port = _free_port()
    command = [RAY, "start", "--head", f"--port={port}", "--num-cpus=2", f"--temp-dir={temp_dir}", "--include-dashboard=false", "--disable-usage-stats"]
    # a new session makes `ray start` the leader of a process group that every head process inherits
    starter = subprocess.Popen(command, env=_no_auth_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    head = Head(address=f"127.0.0.1:{port}", temp_dir=temp_dir, process_group=starter.pid)
    try:
        output, _ = starter.communicate(timeout=HEAD_START_TIMEOUT_S)
        assert starter.returncode == 0, output[-3000:]
        yield head
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait()
        _kill_head(head)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _driver_logs(head: Head) -> list[Path]:
    """The core-driver logs of the drivers that joined the head (one per job)."""
    # session_2*: the session folder itself, not its session_latest link
    return sorted(head.temp_dir.glob("session_2*/logs/python-core-driver-*.log"))


def test_train_command_joins_a_running_head_and_records_its_run(ray_head, tmp_path):
    assert _driver_logs(ray_head) == []
    out = tmp_path / "runs"

    result = _market("train", "--address", ray_head.address, "--iterations", "1", "--train-batch-size", "256", "--minibatch-size", "64", "--num-epochs", "1", "--out", str(out), cwd=tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    # the driver joined this head (its job log is in the head's session), not a Ray of its own
    assert len(_driver_logs(ray_head)) == 1
    # one complete run record of one iteration, and its checkpoint with the settings beside it
    (run,) = [path for path in out.iterdir() if path.name.startswith("train_")]
    record = RunReader(run)
    assert record.kind == "train"
    assert record.metrics["iterations"] == 1
    assert sorted(set(record.read("training")["iteration"])) == [1]
    checkpoint = Path(record.manifest["checkpoint"])
    assert checkpoint == out / "checkpoints" / run.name / "iter_000001"
    assert (checkpoint / SETTINGS_FILE).is_file()
    assert (checkpoint / "learner_group" / "learner" / "rl_module" / "default_policy").is_dir()


def test_killing_the_head_leaves_none_of_its_processes(ray_head):
    assert _head_processes(ray_head), "the head should be running"
    _kill_head(ray_head)
    assert _head_processes(ray_head) == []


def _market(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``market`` command against the test's head (its auth off), capturing its output."""
    return subprocess.run([MARKET, *args], env=_no_auth_env(), cwd=cwd, capture_output=True, text=True, timeout=TRAIN_TIMEOUT_S, check=False)


def test_league_command_joins_a_running_head_plays_and_trains_there(ray_head, tmp_path):
    from test_league import HEADER, MAKERS, QUICK_TRAINING, TOUCH, WIDE  # the league tests' tiny market

    scenario = tmp_path / "league.toml"
    scenario.write_text(HEADER + MAKERS + TOUCH + WIDE + QUICK_TRAINING)
    out = tmp_path / "runs"
    result = _market("league", str(scenario), "--address", ray_head.address, "--generations", "1", "--seeds", "2", "--iterations", "1", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    # one driver joined this head: the league's episodes and its best response's training ran there
    assert len(_driver_logs(ray_head)) == 1
    [run] = [RunReader(p) for p in out.iterdir() if p.is_dir() and p.name.startswith("league_") and not p.name.endswith("_maker")]
    league = run.manifest["league"]
    assert run.kind == "league" and [s["name"] for s in league["pools"]["maker"]] == ["touch", "wide", "br1"]
    assert np.array(league["generations"][0]["payoffs"]["counts"]).min() == 2
