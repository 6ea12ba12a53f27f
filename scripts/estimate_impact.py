"""Measure a market scenario's price impact for the Almgren-Chriss executor (see market/execution_impact.py).

Usage: ``.venv/bin/python scripts/estimate_impact.py [SCENARIO] [--population NAME] [--seeds N]``

Plays the scenario's market with its executor population driven by the random probe of
:func:`market.execution_impact.estimate_impact` and prints ``eta``, ``gamma`` (with standard errors),
``epsilon`` and ``sigma`` in ticks, lots and steps, and the parameters to give the ``almgren_chriss``
baseline.
"""

from __future__ import annotations

import argparse


def main() -> None:
    from market.scenario import load_scenario
    from market.training.envs import market_policies

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="execution")
    parser.add_argument("--population", default="executor")
    parser.add_argument("--seeds", type=int, default=30)
    args = parser.parse_args()
    from market.execution_impact import estimate_impact

    config = load_scenario(args.scenario).market_config()
    policies = {name: policy for name, policy in market_policies(config).items() if name != args.population}
    estimate = estimate_impact(config, policies, population=args.population, seeds=args.seeds)
    print(f"{args.scenario}, population {args.population}, seeds 0-{args.seeds - 1}, {estimate.steps:,} steps with a fill:")
    print(f"  eta     {estimate.eta:.4f} +/- {estimate.eta_se:.4f} ticks per lot traded in a step (temporary)")
    print(f"  epsilon {estimate.epsilon:.3f} ticks (fixed cost of crossing)")
    print(f"  gamma   {estimate.gamma:.4f} +/- {estimate.gamma_se:.4f} ticks per lot (permanent)")
    print(f"  sigma   {estimate.sigma:.3f} ticks per square root of a step")
    print(f"params = {{ eta = {estimate.eta:.3g}, gamma = {max(estimate.gamma, 0.0):.3g}, sigma = {estimate.sigma:.3g} }}")


if __name__ == "__main__":
    main()
