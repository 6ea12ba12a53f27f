"""The market env is identical under the same seed across processes, whatever Python's hash seed.

Each child process builds the same market (16 learner agents driven by actions drawn from a seeded
generator, plus scripted background traders driven inside the env), plays 600 steps, and prints a
SHA-256 digest per step of every agent's observation bytes, rewards and the step's fills. Two
children with the same seed and different ``PYTHONHASHSEED`` must print the same lines; a child
with another seed must not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

STEPS = 600
LEARNERS = 16
ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import hashlib
import sys

import numpy as np

from market.agents.scripted import build_policy
from market.data import synthetic
from market.envs.market_config import MarketConfig, PopulationConfig
from market.envs.market_v0 import MarketEnv

seed, steps = int(sys.argv[1]), int(sys.argv[2])
fundamental = synthetic.ou(np.random.default_rng(seed), steps + 1, s0=10_000.0, mean=10_000.0, theta=5.0, sigma=0.3)["close"]
config = MarketConfig(
    populations=(
        PopulationConfig(name="maker", role="maker", count=4),
        PopulationConfig(name="taker", role="taker", count=12),
        PopulationConfig(name="bg_maker", role="maker", count=2, policy="market_maker"),
        PopulationConfig(name="bg_noise", role="taker", count=4, policy="noise"),
        PopulationConfig(name="bg_momentum", role="taker", count=2, policy="momentum"),
        PopulationConfig(name="bg_value", role="taker", count=2, policy="value", params=(("threshold", 0.1),)),
    ),
    max_steps=steps,
    fundamental=tuple(float(v) for v in fundamental),
)
policies = {
    p.name: build_policy(p.policy, p.param_dict, window=config.window, population=p.name)
    for p in config.populations
    if not p.learner
}
env = MarketEnv(config, policies)
observations, _ = env.reset(seed=seed)
actions_rng = np.random.default_rng(seed + 1)
print("agents", len(env.agents), "driven", len(env.driven_agents), flush=True)
step = 0
while env.agents:
    actions = {a: actions_rng.uniform(-1.0, 1.0, env.action_space(a).shape).astype(np.float32) for a in env.agents}
    observations, rewards, terminations, truncations, _ = env.step(actions)
    digest = hashlib.sha256()
    for agent in env.possible_agents:
        if agent in observations:
            digest.update(agent.encode())
            digest.update(observations[agent].tobytes())
            digest.update(np.float64(rewards[agent]).tobytes())
            digest.update(bytes([terminations[agent], truncations[agent]]))
    for fill in env.last_fills:
        digest.update(repr(tuple(fill)).encode())
    print(step, len(env.last_fills), env.mid, digest.hexdigest())
    step += 1
"""


def run_child(seed: int, hash_seed: str) -> subprocess.Popen[str]:
    """Start one child process playing the market with ``seed`` under ``PYTHONHASHSEED=hash_seed``."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(seed), str(STEPS)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def lines_of(child: subprocess.Popen[str]) -> list[str]:
    """Wait for a child and return its output lines; fail with its stderr if it failed."""
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    return out.splitlines()


@pytest.fixture(scope="module")
def outputs() -> dict[str, list[str]]:
    """Three children at once: seed 7 under two hash seeds, and seed 8."""
    children = {"a": run_child(7, "0"), "b": run_child(7, "4242"), "other": run_child(8, "0")}
    return {key: lines_of(child) for key, child in children.items()}


def test_same_seed_gives_identical_observations_and_fills_in_separate_processes_and_hash_seeds(outputs):
    first, second = outputs["a"], outputs["b"]
    assert first[0].split()[:4] == ["agents", str(LEARNERS), "driven", "10"]
    assert len(first) == STEPS + 1
    assert first == second


def test_the_digests_cover_a_market_that_trades(outputs):
    steps = [line.split() for line in outputs["a"][1:]]
    fills = [int(fields[1]) for fields in steps]
    assert sum(fills) > 5 * STEPS, "plenty of fills are hashed"
    assert len({fields[2] for fields in steps}) > 20, "the mid moves"
    assert len({fields[3] for fields in steps}) == STEPS, "every step's digest is distinct"


def test_another_seed_gives_another_market(outputs):
    differing = sum(a != b for a, b in zip(outputs["a"][1:], outputs["other"][1:], strict=True))
    assert differing > 0.99 * STEPS
