"""Measure how a maker population's quotes fill with distance from the mid (see market/fill_intensity.py).

Usage: ``.venv/bin/python scripts/estimate_intensity.py [SCENARIO] [--population NAME] [--seeds N]``

Plays the scenario's market with one agent of its maker population quoting at random distances (the
probe of :func:`market.fill_intensity.estimate_fill_intensity`; the population's other agents are the
heuristic maker) and prints ``kappa`` per tick and ``A`` (fills per step, and per unit of model time
for makers whose episode lasts one unit) with standard errors, and the fill rate at each distance:
the ``kappa`` and ``intensity`` the ``avellaneda_stoikov`` and ``cartea_jaimungal`` makers take.
"""

from __future__ import annotations

import argparse


def main() -> None:
    from market.fill_intensity import estimate_fill_intensity, fill_probability
    from market.scenario import load_scenario
    from market.training.envs import market_policies

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="market_makers")
    parser.add_argument("--population", default="maker")
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    config = load_scenario(args.scenario).market_config()
    policies = {name: policy for name, policy in market_policies(config).items() if name != args.population}
    e = estimate_fill_intensity(config, policies, population=args.population, seeds=args.seeds)
    print(f"{args.scenario}, population {args.population}, seeds 0-{args.seeds - 1}, {sum(e.quotes):,} quotes:")
    print(f"  kappa {e.kappa:.4f} +/- {1.96 * e.kappa_se:.4f} per tick (95%)")
    print(f"  A     {e.intensity:.4f} +/- {1.96 * e.intensity_se:.4f} fills per step at the mid; {e.intensity * config.max_steps:.4g} per episode of {config.max_steps} steps")
    print("  distance  quotes  filled  model")
    for distance, quotes, rate in zip(e.distances, e.quotes, e.fill_rates):
        print(f"  {distance:8d}  {quotes:6d}  {rate:6.3f}  {fill_probability(distance, intensity=e.intensity, kappa=e.kappa):5.3f}")
    print(f"params = {{ kappa = {e.kappa:.3g}, intensity = {e.intensity * config.max_steps:.4g} }}  # intensity per unit of model time (horizon 1)")


if __name__ == "__main__":
    main()
