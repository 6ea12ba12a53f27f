"""Ratings of strategies from played episodes, with the Weng-Lin Plackett-Luce model of ``openskill``.

Each episode is a free-for-all among the strategies that played in it, ranked by their payoffs (a
strategy played by several agents scores their mean). Ratings are updated episode by episode in the
order given, so the same episodes in the same order give the same standings. A standing's
``ordinal`` is ``mu - 3 sigma``, the conservative skill estimate standings are sorted by.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from openskill.models import PlackettLuce

from market.errors import ConfigError

__all__ = ["Standing", "rate_strategies"]


@dataclass(frozen=True, slots=True)
class Standing:
    """One strategy's rating after every episode.

    Attributes:
        strategy: Its name.
        mu: The mean of its skill estimate.
        sigma: The estimate's standard deviation.
        ordinal: ``mu - 3 sigma``.
        episodes: Episodes it played in.
        mean_payoff: Its mean payoff over those episodes.
    """

    strategy: str
    mu: float
    sigma: float
    ordinal: float
    episodes: int
    mean_payoff: float


def rate_strategies(episodes: Iterable[Mapping[str, float]]) -> list[Standing]:
    """Rate every strategy from episodes of ``{strategy: payoff}`` and return the standings, best first.

    Raises:
        ConfigError: An episode has fewer than two strategies or a payoff that is not a finite number.
    """
    model = PlackettLuce()
    ratings: dict = {}
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    for number, episode in enumerate(episodes):
        if len(episode) < 2:
            raise ConfigError(f"episode {number}: a rating needs at least two strategies in an episode, got {len(episode)}")
        names = sorted(episode)
        scores = [float(episode[name]) for name in names]
        if not all(score == score and abs(score) != float("inf") for score in scores):
            raise ConfigError(f"episode {number}: payoffs must be finite numbers, got {dict(zip(names, scores, strict=True))}")
        teams = [[ratings[name] if name in ratings else model.rating(name=name)] for name in names]
        rated = model.rate(teams, scores=scores)
        for name, [rating], score in zip(names, rated, scores, strict=True):
            ratings[name] = rating
            totals[name] = totals.get(name, 0.0) + score
            counts[name] = counts.get(name, 0) + 1
    standings = [
        Standing(strategy=name, mu=float(r.mu), sigma=float(r.sigma), ordinal=float(r.ordinal()), episodes=counts[name], mean_payoff=totals[name] / counts[name])
        for name, r in ratings.items()
    ]
    return sorted(standings, key=lambda s: (-s.ordinal, s.strategy))
