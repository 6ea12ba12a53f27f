"""Equilibria of empirical games and strategy ratings (market.league)."""

from __future__ import annotations

import numpy as np
import pytest

from market.errors import ConfigError
from market.league import Game, rate_strategies, regret, replicator, solve, strategy_regrets, zero_sum

RPS = np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])


def test_rock_paper_scissors_by_linear_program_is_uniform_with_value_zero():
    found = zero_sum(Game((RPS, -RPS)))
    for mixture in found.mixtures:
        assert np.allclose(mixture, 1 / 3, atol=1e-9)
    assert abs(found.values[0]) < 1e-9 and found.regret < 1e-9 and found.method == "linear program"


def test_replicator_dynamics_cycle_in_rock_paper_scissors_but_their_average_is_the_equilibrium():
    found = replicator(Game((RPS, -RPS)), np.random.default_rng(0), starts=4, steps=4_000)
    assert found.regret < 1e-2
    assert np.allclose(found.mixtures[0], 1 / 3, atol=0.02)


@pytest.mark.parametrize("seed", range(5))
def test_on_random_zero_sum_games_the_linear_program_has_no_regret_and_replicator_nearly_agrees(seed):
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(4, 5))
    game = Game((matrix, -matrix))
    exact = solve(game, rng)
    assert exact.method == "linear program" and exact.regret < 1e-8
    # the game's value is unique: maximin of the row player = minus maximin of the column player
    assert exact.values[0] == pytest.approx(-exact.values[1], abs=1e-9)
    approximate = replicator(game, rng, starts=4, steps=3_000)
    assert approximate.regret < 0.05
    assert approximate.values[0] == pytest.approx(exact.values[0], abs=0.05)


def test_symmetric_prisoners_dilemma_settles_on_defection():
    # rows: cooperate, defect; the payoff of the row strategy against the column strategy
    game = Game((np.array([[3.0, 0.0], [5.0, 1.0]]),), symmetric=True)
    found = solve(game, np.random.default_rng(1))
    assert found.mixtures[0][1] > 1 - 1e-6 and found.regret < 1e-6 and found.method == "replicator"


def test_symmetric_hawk_dove_settles_on_the_mixed_equilibrium_share_of_hawks_v_over_c():
    value, cost = 2.0, 5.0
    game = Game((np.array([[(value - cost) / 2, value], [0.0, value / 2]]),), symmetric=True)
    found = solve(game, np.random.default_rng(2))
    assert found.mixtures[0][0] == pytest.approx(value / cost, abs=1e-4)
    assert found.regret < 1e-6
    assert np.allclose(strategy_regrets(game, found.mixtures)[0], 0.0, atol=1e-6)  # both strategies in the support earn the same


def test_battle_of_the_sexes_finds_an_equilibrium_with_no_regret():
    game = Game((np.array([[2.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0.0], [0.0, 2.0]])))
    found = solve(game, np.random.default_rng(3))
    assert found.regret < 1e-6


def test_three_populations_with_dominant_strategies_play_them():
    rng = np.random.default_rng(4)
    payoffs = []
    for p, dominant in enumerate((1, 0, 2)):
        array = rng.normal(size=(3, 3, 3))
        index = [slice(None)] * 3
        index[p] = dominant
        array[tuple(index)] += 10.0  # this strategy beats the others whatever the rest play
        payoffs.append(array)
    found = solve(Game(tuple(payoffs)), rng)
    assert [int(np.argmax(m)) for m in found.mixtures] == [1, 0, 2]
    assert found.regret < 1e-6
    assert regret(Game(tuple(payoffs)), [np.eye(3)[0]] * 3) > 1.0  # and playing something else has regret


def test_games_of_the_wrong_shape_are_one_clear_error():
    with pytest.raises(ConfigError, match="one axis per population"):
        Game((np.zeros((2, 2)), np.zeros((2, 3))))
    with pytest.raises(ConfigError, match="one square payoff matrix"):
        Game((np.zeros((2, 3)),), symmetric=True)
    with pytest.raises(ConfigError, match="finite"):
        Game((np.array([[np.nan]]),), symmetric=True)
    with pytest.raises(ConfigError, match="not a two-population zero-sum game"):
        zero_sum(Game((np.ones((2, 2)), np.ones((2, 2)))))


def test_a_strategy_that_wins_every_episode_is_rated_first_and_the_standings_repeat():
    rng = np.random.default_rng(5)
    episodes = [{"strong": 2.0 + rng.normal(), "middle": rng.normal(), "weak": -2.0 + rng.normal()} for _ in range(40)]
    standings = rate_strategies(episodes)
    assert [s.strategy for s in standings] == ["strong", "middle", "weak"]
    assert standings[0].episodes == 40 and standings[0].mean_payoff > standings[1].mean_payoff
    assert standings[0].sigma < 8.3  # fewer doubts after 40 episodes than the prior's 25/3
    again = rate_strategies(episodes)
    assert [(s.mu, s.sigma) for s in again] == [(s.mu, s.sigma) for s in standings]


def test_an_episode_with_one_strategy_cannot_be_rated():
    with pytest.raises(ConfigError, match="episode 1: a rating needs at least two strategies"):
        rate_strategies([{"a": 1.0, "b": 0.0}, {"a": 1.0}])
