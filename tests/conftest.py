"""Shared test setup: the tests folder is importable (for the reference book) and torch stays on one thread."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray session per test module that asks for it (two CPUs, no dashboard, one torch thread)."""
    import ray
    import torch

    torch.set_num_threads(1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
