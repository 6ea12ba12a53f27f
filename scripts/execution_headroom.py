"""How much better than TWAP can a simple state-aware executor do in an execution scenario's market?

Usage: ``.venv/bin/python scripts/execution_headroom.py [SCENARIO] [--seeds N]``

Plays the scenario's executor population, on its held-out evaluation seeds, with TWAP (the even pace
of what is left, aggressiveness 0.5) and with scripted variants that each change one thing using what
the executor observes: its aggressiveness, its pace, and pace or aggressiveness driven by the spread,
the top-of-book depth and imbalance, the last mid return, the gap to the fundamental, or how far
behind the straight line it is. Prints each variant's implementation shortfall and its paired
difference with TWAP (seed by seed) with a Student-t 95% interval. A variant that beats TWAP with an
interval below zero is room a learned executor could use; when none does, TWAP is close to the best
these signals allow in that market. Nothing here trains.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

import numpy as np

Decide = Callable[[dict[str, float]], tuple[float, float]]

VARIANTS: dict[str, Decide] = {
    "aggressiveness 0.3": lambda o: (1.0, 0.3),
    "aggressiveness 0.8": lambda o: (1.0, 0.8),
    "at the touch + 1 tick": lambda o: (1.0, o["spread"] / 2 + 0.1),
    "front-loaded (1.3x pace)": lambda o: (1.3, 0.5),
    "pace with the ask depth": lambda o: (math.exp(0.5 * (o["ask_depth"] - 1.5)), 0.5),
    "more when the spread is tight": lambda o: (1.5 if o["spread"] < 0.5 else 0.7, 0.5),
    "pace against the imbalance": lambda o: (math.exp(-o["imbalance"]), 0.5),
    "pace with the imbalance": lambda o: (math.exp(o["imbalance"]), 0.5),
    "pace against the last return": lambda o: (math.exp(-2.0 * o["ret_0"]), 0.5),
    "pace with the fundamental gap": lambda o: (max(0.0, 1.0 + 2.0 * o["fundamental_gap"]), 0.5),
    "aggressiveness with the fundamental gap": lambda o: (1.0, 0.5 + o["fundamental_gap"]),
    "at the mid unless behind": lambda o: (1.0, 0.5) if o["schedule_gap"] < -0.02 else (1.0, 0.0),
}
FEATURES = ("spread", "ask_depth", "bid_depth", "imbalance", "ret_0", "fundamental_gap", "schedule_gap")


def main() -> None:
    from market import stats
    from market.agents.baselines.execution import executor_action
    from market.config import from_mapping
    from market.envs.market_config import MarketConfig, Role, observation_index
    from market.envs.market_v0 import MarketEnv
    from market.scenario import load_scenario
    from market.scenario_run import training_config
    from market.simulation import run_market
    from market.training.envs import market_policies

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="execution")
    parser.add_argument("--seeds", type=int, default=None, help="held-out episodes (default: the scenario's evaluation.seeds)")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    settings = training_config(scenario)
    config = from_mapping(MarketConfig, settings.env_config)
    [population] = [p for p in config.populations if p.role is Role.EXECUTOR]
    order = population.execution
    index = {name: observation_index(name, config.window) for name in FEATURES}
    seeds = [settings.eval_seed + k for k in range(args.seeds or scenario.evaluation.seeds)]

    class Scripted:
        def __init__(self, decide: Decide) -> None:
            self.decide = decide

        def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            multiple, aggression = self.decide({name: float(obs[i]) for name, i in index.items()})
            return executor_action(max(multiple, 0.0), aggression, order.pace_range, order.aggression_center)

    policies = market_policies(config)

    def shortfalls(decide: Decide) -> np.ndarray:
        own = {population.name: Scripted(decide)}
        return np.array([run_market(MarketEnv(config, policies), own, seed=s).execution[population.name]["shortfall_bps"] for s in seeds])

    twap = shortfalls(lambda o: (1.0, 0.5))
    mean, half = stats.mean_interval(twap)
    print(f"{args.scenario}: {len(seeds)} held-out episodes (seeds {seeds[0]:,}-{seeds[-1]:,}); shortfall in bps")
    print(f"  {'TWAP (aggressiveness 0.5)':42s} {mean:7.2f} ± {half:.2f}")
    best = math.inf
    for name, decide in VARIANTS.items():
        values = shortfalls(decide)
        diff, diff_half = stats.mean_interval(values - twap)
        best = min(best, diff)
        print(f"  {name:42s} {values.mean():7.2f}   minus TWAP {diff:+6.2f} ± {diff_half:.2f}", flush=True)
    print(f"best variant minus TWAP: {best:+.2f} bps")


if __name__ == "__main__":
    main()
