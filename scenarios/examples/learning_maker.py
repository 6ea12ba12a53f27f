"""One learning market maker among scripted noise traders, judged against two textbook makers.

The story in code: build a market through the Python API (a population of one learning maker and a
background of scripted noise takers), train the maker with PPO for a few iterations, then play the same
held-out seeds three times: with the trained maker, with the heuristic scripted maker in its place, and
with the Avellaneda-Stoikov maker in its place. Prints each strategy's mean P&L and the paired
difference, learned minus each baseline, with its 95% interval.

Run it: ``python scenarios/examples/learning_maker.py`` (about a minute; ``EXAMPLE_ITERATIONS=1`` for a
quicker, weaker run).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

from market.agents.scripted import build_policy
from market.agents.trained import load_policy
from market.envs.market_config import MarketConfig, PopulationConfig, Role
from market.simulation import run_market
from market.stats import mean_interval, paired_difference
from market.training.configs import TrainingConfig
from market.training.envs import make_market_env
from market.training.runner import StopConfig, connect, train

ITERATIONS = int(os.environ.get("EXAMPLE_ITERATIONS", "4"))
HELD_OUT_SEEDS = range(1_000, 1_006)

# 1. the market: one learning maker (no policy: it is a PettingZoo agent) and eight scripted noise takers
market = MarketConfig(
    populations=(
        PopulationConfig(name="maker", role=Role.MAKER, count=1, max_offset=10, inventory_penalty=0.001),
        PopulationConfig(name="noise", role=Role.TAKER, count=8, policy="noise", params=(("activity", 0.6), ("max_aggression", 1.0))),
    ),
    initial_price=10_000,
    max_steps=100,
)

# 2. train the maker with PPO (RLlib); the env config is the market as a plain mapping
settings = TrainingConfig(
    env="market",
    env_config={
        "populations": [dataclasses.asdict(p) for p in market.populations],
        "initial_price": market.initial_price,
        "max_steps": market.max_steps,
    },
    train_batch_size=400,
    minibatch_size=100,
    num_epochs=2,
    hidden=(32,),
)
connect(None)
with tempfile.TemporaryDirectory() as runs:
    result = train(settings, StopConfig(iterations=ITERATIONS), out=Path(runs), name="learning_maker")
    trained = load_policy(result.checkpoint, module="maker")

    # 3. the same held-out seeds with each strategy in the maker's place; everything else equal
    strategies = {
        "learned": trained,
        "heuristic": build_policy("market_maker", {"jitter": 0.1}, window=market.window, population="maker", max_qty=10, max_offset=10),
        "avellaneda_stoikov": build_policy(
            "avellaneda_stoikov", {"gamma": 0.001, "kappa": 0.3, "price": 10_000.0, "steps": 100, "size": 5},
            window=market.window, population="maker", max_qty=10, max_offset=10,
        ),
    }
    pnl = {
        name: [run_market(make_market_env(settings.env_config), {"maker": policy}, seed=seed).pnl["maker"] for seed in HELD_OUT_SEEDS]
        for name, policy in strategies.items()
    }

# 4. the comparison: mean P&L per episode (ticks x lots) and the paired differences
for name, values in pnl.items():
    mean, half = mean_interval(values)
    print(f"{name:>20}: P&L {mean:10.1f} +/- {half:.1f}")
for baseline in ("heuristic", "avellaneda_stoikov"):
    mean, half = paired_difference(pnl["learned"], pnl[baseline])
    print(f"learned - {baseline}: {mean:.1f} +/- {half:.1f} (95% interval over {len(HELD_OUT_SEEDS)} paired seeds)")
