"""Upper bounds on every size a user can set, checked before anything is allocated or Ray starts.

One extra digit in a setting must not take the machine down: a population of 10^9 agents, a layer
of 10^9 units or a file of many gigabytes is refused at once with one line naming the key, the value
and the limit. The limits are generous for this product's purpose (a workstation or a small Ray
cluster) and are documented here, in one place; code that validates a size calls :func:`check_size`
with the matching constant.
"""

from __future__ import annotations

import math
from typing import Any

from market.errors import ConfigError

# ---------------------------------------------------------------------------- markets
MAX_AGENTS_PER_POPULATION = 20_000
"""Agents in one population. The scale target is 10,000 background agents in a market."""
MAX_AGENTS = 20_000
"""Agents in one market, over all populations (each needs an account and an observation row)."""
MAX_STEPS = 10_000_000
"""Steps in one episode (a market run records a row per agent per step)."""
MAX_WINDOW = 10_000
"""Length of an observation's return window, in bars or steps."""
MAX_EVALUATION_COUNTS = 32
"""Population sizes compared in one scenario evaluation (``evaluation.counts``)."""

# ---------------------------------------------------------------------------- training
MAX_ITERATIONS = 1_000_000
"""Training iterations in one run."""
MAX_SEEDS = 100_000
"""Seeds (episodes or training runs) in one evaluation."""
MAX_TRAINING_SEEDS = 64
"""Training runs (seeds) one scenario run may train and evaluate, one after another."""
MAX_SEED = 2**32 - 1
"""The largest root seed: RLlib seeds numpy's legacy global generator, which takes 32 bits."""
MAX_TIMESTEPS = 10**11
"""Env steps a training run may be asked to sample (about a year of this machine's fastest rate)."""
MAX_EPOCHS = 10_000
"""Passes over one training batch (PPO's ``num_epochs``)."""
MAX_LAYER_WIDTH = 8_192
"""Units in one hidden layer of a policy or value network."""
MAX_LAYERS = 16
"""Hidden layers in one network."""
MAX_BATCH = 10_000_000
"""Env steps in one training batch (``train_batch_size``)."""
MAX_ENV_RUNNERS = 1_024
"""Remote env runners (``num_env_runners``); on one machine the CPU count caps it further."""
MAX_ENVS_PER_RUNNER = 1_024
"""Envs vectorised in one env runner."""
MAX_LEARNERS = 256
"""Learner workers (``num_learners``)."""
MAX_TRIALS = 10_000
"""Trials in one Tune search."""

# ---------------------------------------------------------------------------- data
MAX_FILE_BYTES = 256 * 2**20
"""Size of one price file on disk (256 MiB, about 5 million minute bars of OHLCV text): parsing a CSV
takes about 13 times its size in memory (measured: 2.6 GB for 200 MB), so this caps a load near 3.5 GB."""
MAX_BARS = 20_000_000
"""Bars in one price series."""


def check_size(key: str, value: Any, limit: int, *, minimum: int = 1) -> int:
    """Check that ``value`` is an integer in ``[minimum, limit]`` and return it.

    Args:
        key: the setting's full name as the user wrote it (``populations.makers.count``, ``--seeds``).
        value: the value given.
        limit: the largest value allowed (one of this module's constants).
        minimum: the smallest value allowed.

    Returns:
        ``value``, unchanged.

    Raises:
        ConfigError: one line naming the key, the value and what is allowed.
    """
    if type(value) is not int or value < minimum:
        expected = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum:,}")
        raise ConfigError(f"{key}: expected {expected}, got {value!r}")
    if value > limit:
        raise ConfigError(f"{key}: {value:,} is over the limit of {limit:,}")
    return value


def check_finite(key: str, value: Any) -> float:
    """Check that ``value`` is a finite real number (not a bool, NaN or infinity) and return it as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{key}: expected a finite number, got {value!r}")
    return float(value)
