"""Equilibria of an empirical game: replicator dynamics from many starts with a regret check, and a
linear program for two-population zero-sum games.

A :class:`Game` has one or more populations, each with its own strategies. ``payoffs[p]`` is an
array with one axis per population, ``payoffs[p][s_1, ..., s_n]`` the mean payoff to population
``p`` when each population plays its strategy of the profile. A *symmetric* game has one population
whose agents each draw a strategy from the same mixture: its one matrix ``payoffs[0][i, j]`` is the
payoff of strategy ``i`` against strategy ``j`` (a market with one learning population whose agents
play each other).

A mixture profile is an equilibrium when no population gains by switching to a pure strategy: its
*regret* (the best pure strategy's expected payoff minus the mixture's, the largest over
populations) is zero. :func:`solve` returns the profile with the smallest regret it finds and says
what that regret is; a league reports it beside the mixture.

* :func:`replicator`: discrete-time replicator dynamics in exponential form (each strategy's weight
  grows with ``exp(step * payoff advantage)``, payoffs scaled to [0, 1]) from the uniform mixture and
  seeded random starts; both the last iterate and the running average of each run are candidates,
  since in zero-sum games the iterates cycle while their average converges (Freund and Schapire 1999).
* :func:`zero_sum`: the maximin mixtures of a two-population zero-sum game by linear programming
  (von Neumann; ``scipy.optimize.linprog`` with HiGHS), exact up to the solver's tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy.optimize import linprog

from market.errors import ConfigError

__all__ = ["Equilibrium", "Game", "expected_payoffs", "regret", "replicator", "solve", "strategy_regrets", "zero_sum"]

ZERO_SUM_TOLERANCE: Final = 1e-9
"""A two-population game is zero-sum when ``payoffs[0] + payoffs[1]`` is within this of 0 (scaled)."""


@dataclass(frozen=True, slots=True)
class Game:
    """An empirical normal-form game (see the module docstring).

    Attributes:
        payoffs: One array per population, each with one axis per population (symmetric: one square matrix).
        symmetric: One population whose agents play each other.
    """

    payoffs: tuple[np.ndarray, ...]
    symmetric: bool = False

    def __post_init__(self) -> None:
        arrays = tuple(np.asarray(p, dtype=np.float64) for p in self.payoffs)
        object.__setattr__(self, "payoffs", arrays)
        if not arrays:
            raise ConfigError("game: no payoff arrays")
        if self.symmetric:
            if len(arrays) != 1 or arrays[0].ndim != 2 or arrays[0].shape[0] != arrays[0].shape[1]:
                raise ConfigError(f"game: a symmetric game has one square payoff matrix, got shapes {[a.shape for a in arrays]}")
        else:
            shape = arrays[0].shape
            if len(shape) != len(arrays) or any(a.shape != shape for a in arrays):
                raise ConfigError(f"game: each of the {len(arrays)} populations needs a payoff array of one axis per population, got shapes {[a.shape for a in arrays]}")
        for array in arrays:
            if not np.isfinite(array).all():
                raise ConfigError("game: payoffs must be finite numbers")
        if min(self.sizes) < 1:
            raise ConfigError(f"game: every population needs a strategy, got sizes {self.sizes}")

    @property
    def sizes(self) -> tuple[int, ...]:
        """The number of strategies of each population."""
        return (self.payoffs[0].shape[0],) if self.symmetric else self.payoffs[0].shape

    def is_zero_sum(self) -> bool:
        """Two populations whose payoffs add to zero at every profile."""
        if self.symmetric or len(self.payoffs) != 2:
            return False
        scale = max(1.0, float(np.abs(self.payoffs[0]).max()))
        return bool(np.abs(self.payoffs[0] + self.payoffs[1]).max() <= ZERO_SUM_TOLERANCE * scale)


@dataclass(frozen=True, slots=True)
class Equilibrium:
    """A mixture per population, how far it is from an equilibrium, and how it was found.

    Attributes:
        mixtures: One probability vector per population.
        values: Each population's expected payoff under the mixtures.
        regret: The largest gain any population has from switching to a pure strategy (0 at an equilibrium).
        method: ``"replicator"`` or ``"linear program"``.
    """

    mixtures: tuple[np.ndarray, ...]
    values: tuple[float, ...]
    regret: float
    method: str


def expected_payoffs(game: Game, mixtures: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each population's expected payoff of each of its pure strategies against the others' mixtures."""
    if game.symmetric:
        return [game.payoffs[0] @ np.asarray(mixtures[0])]
    out = []
    for p, array in enumerate(game.payoffs):
        values = array
        # contract every other population's axis with its mixture, last axis first so indices stay put
        for q in reversed(range(len(game.payoffs))):
            if q != p:
                values = np.tensordot(values, mixtures[q], axes=([q], [0]))
        out.append(np.asarray(values, dtype=np.float64))
    return out


def strategy_regrets(game: Game, mixtures: Sequence[np.ndarray]) -> list[np.ndarray]:
    """For each population, each strategy's shortfall against that population's best reply (>= 0)."""
    return [values.max() - values for values in expected_payoffs(game, mixtures)]


def regret(game: Game, mixtures: Sequence[np.ndarray]) -> float:
    """The largest gain any population has from switching from its mixture to a pure strategy."""
    gains = [values.max() - float(values @ mixture) for values, mixture in zip(expected_payoffs(game, mixtures), mixtures, strict=True)]
    return max(0.0, max(gains))


def _equilibrium(game: Game, mixtures: Sequence[np.ndarray], method: str) -> Equilibrium:
    """Package a profile with its values and regret."""
    mixtures = tuple(np.asarray(m, dtype=np.float64) for m in mixtures)
    values = tuple(float(v @ m) for v, m in zip(expected_payoffs(game, mixtures), mixtures, strict=True))
    return Equilibrium(mixtures=mixtures, values=values, regret=regret(game, mixtures), method=method)


def replicator(
    game: Game, rng: np.random.Generator, *, starts: int = 16, steps: int = 5_000, step_size: float = 0.5, tolerance: float = 1e-9
) -> Equilibrium:
    """Replicator dynamics (exponential form) from the uniform mixture and ``starts - 1`` random ones.

    Args:
        game: The game.
        rng: Draws the random starts (Dirichlet(1) mixtures).
        starts: Runs, the first from the uniform mixture.
        steps: Updates per run.
        step_size: The update's rate on payoffs scaled to [0, 1].
        tolerance: A run stops once its iterate's regret (on payoffs scaled to [0, 1]) is below
            this, and no further run starts once a candidate's is.

    Returns:
        The candidate (a run's last iterate or its running average) with the smallest regret.
    """
    if starts < 1 or steps < 1 or not step_size > 0:
        raise ConfigError(f"replicator: starts and steps must be >= 1 and step_size > 0, got {starts}, {steps}, {step_size}")
    low = min(float(p.min()) for p in game.payoffs)
    span = max(float(p.max()) for p in game.payoffs) - low
    scaled = Game(tuple((p - low) / span if span > 0 else np.zeros_like(p) for p in game.payoffs), game.symmetric)
    best: Equilibrium | None = None
    for start in range(starts):
        mixtures = [np.full(k, 1.0 / k) if start == 0 else rng.dirichlet(np.ones(k)) for k in game.sizes]
        average = [np.zeros(k) for k in game.sizes]
        done = 0
        for done in range(1, steps + 1):
            values = expected_payoffs(scaled, mixtures)
            if max(v.max() - float(v @ m) for v, m in zip(values, mixtures, strict=True)) < tolerance:
                average = [a + m for a, m in zip(average, mixtures, strict=True)]
                break
            updated = []
            for mixture, value in zip(mixtures, values, strict=True):
                # x_i <- x_i exp(eta (u_i - u_max)); subtracting the max keeps exp in range
                weights = mixture * np.exp(step_size * (value - value.max()))
                updated.append(weights / weights.sum())
            mixtures = updated
            average = [a + m for a, m in zip(average, mixtures, strict=True)]
        for candidate in (mixtures, [a / done for a in average]):
            found = _equilibrium(game, candidate, "replicator")
            if best is None or found.regret < best.regret:
                best = found
        if best is not None and best.regret < tolerance * span:
            break
    assert best is not None
    return best


def zero_sum(game: Game) -> Equilibrium:
    """The maximin mixtures of a two-population zero-sum game, by linear programming.

    Population 0 maximises ``v`` subject to ``x' A[:, j] >= v`` for every column ``j``, ``x`` on the
    simplex; population 1 does the same with ``-A'``.
    """
    if not game.is_zero_sum():
        raise ConfigError("zero_sum: the game is not a two-population zero-sum game")
    matrix = game.payoffs[0]
    row = _maximin(matrix)
    column = _maximin(-matrix.T)
    return _equilibrium(game, (row, column), "linear program")


def _maximin(matrix: np.ndarray) -> np.ndarray:
    """The row player's maximin mixture of ``matrix`` (rows: own strategies, columns: the opponent's)."""
    rows, columns = matrix.shape
    # variables (x_1..x_rows, v): minimise -v; for each column j: v - x' A[:, j] <= 0; sum x = 1; x >= 0
    cost = np.zeros(rows + 1)
    cost[-1] = -1.0
    upper = np.hstack([-matrix.T, np.ones((columns, 1))])
    equal = np.hstack([np.ones((1, rows)), np.zeros((1, 1))])
    bounds = [(0.0, None)] * rows + [(None, None)]
    result = linprog(cost, A_ub=upper, b_ub=np.zeros(columns), A_eq=equal, b_eq=[1.0], bounds=bounds, method="highs")
    if not result.success:  # pragma: no cover - a bounded, feasible LP always solves
        raise ConfigError(f"zero_sum: the linear program failed: {result.message}")
    mixture = np.clip(result.x[:rows], 0.0, None)
    return mixture / mixture.sum()


def solve(game: Game, rng: np.random.Generator, *, starts: int = 16, steps: int = 5_000) -> Equilibrium:
    """An equilibrium mixture: by linear program for a two-population zero-sum game, else by replicator dynamics.

    The regret of the result is always measured on ``game`` and reported; replicator dynamics may stop
    short of an equilibrium in games where they cycle, and the regret says by how much.
    """
    if game.is_zero_sum():
        return zero_sum(game)
    return replicator(game, rng, starts=starts, steps=steps)
