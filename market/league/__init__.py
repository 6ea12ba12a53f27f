"""Population science: empirical games between strategies, their equilibria and the strategies' ratings.

* :mod:`market.league.equilibrium`: equilibrium mixtures of an empirical payoff matrix (replicator
  dynamics with a regret check; a linear program for two-population zero-sum games).
* :mod:`market.league.ratings`: Plackett-Luce ratings of strategies from played episodes.
* :mod:`market.league.pool`: each learning population's pool of strategies (scripted, checkpoints).
* :mod:`market.league.payoffs`: profiles played over held-out seeds as Ray tasks; the empirical game.
* :mod:`market.league.best_response`: PPO best responses against opponents drawn from a mixture.
* :mod:`market.league.loop`: the generations of ``market league``, kept durably and resumable.
"""

from __future__ import annotations

from market.league.equilibrium import Equilibrium, Game, expected_payoffs, regret, replicator, solve, strategy_regrets, zero_sum
from market.league.ratings import Standing, rate_strategies

__all__ = ["Equilibrium", "Game", "Standing", "expected_payoffs", "rate_strategies", "regret", "replicator", "solve", "strategy_regrets", "zero_sum"]
