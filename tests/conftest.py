"""Shared test setup: the tests folder is importable (for the reference book), Ctrl-C reaches the commands the
tests start, and torch stays on one thread."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


def pytest_configure(config: pytest.Config) -> None:
    """Take SIGINT back if the run started with it ignored (a shell's background job without job control,
    as CI may start it): commands the tests start inherit an ignored SIGINT, and the tests that press
    Ctrl-C on them would see it do nothing. A handled signal is reset to the default in a child."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray session per test module that asks for it (two CPUs, no dashboard, one torch thread)."""
    import ray
    import torch

    torch.set_num_threads(1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
