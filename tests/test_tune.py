"""Hyperparameter search: a tiny Tune search writes its best trial, drawn from the space; bad spaces fail in one line."""

from __future__ import annotations

import json
import math

import pytest

ray = pytest.importorskip("ray")

from market.errors import ConfigError  # noqa: E402
from market.training.configs import TrainingConfig, training_config_from  # noqa: E402
from market.training.tuning import BEST_FILE, run_tune, search_space  # noqa: E402

# episodes of 20 steps in 2 envs, 100 steps per iteration: every trial's first iteration ends episodes
TINY = TrainingConfig(
    env_config={"window": 10, "max_steps": 20, "end": "2020-12-31"},
    num_envs_per_env_runner=2,
    train_batch_size=100,
    minibatch_size=50,
    num_epochs=1,
    hidden=(8,),
)
SPACE = {"lr": {"loguniform": [1e-4, 1e-2]}, "hidden": [[8], [16]]}




@pytest.mark.slow
def test_tiny_search_writes_its_best_trial_drawn_from_the_space(ray_session, tmp_path):
    result = run_tune(TINY, SPACE, samples=2, iterations=1, metric="env_runners/episode_return_mean", out=tmp_path, name="tiny")

    best = json.loads((tmp_path / "tiny" / BEST_FILE).read_text())
    assert result.path == tmp_path / "tiny" / BEST_FILE
    # the best values come from the space, and the settings are the base ones with those values
    assert set(best["params"]) == {"lr", "hidden"}
    assert 1e-4 <= best["params"]["lr"] <= 1e-2
    assert best["params"]["hidden"] in ([8], [16])
    assert training_config_from(best["settings"]) == result.settings
    assert result.settings.lr == best["params"]["lr"] and list(result.settings.hidden) == best["params"]["hidden"]
    assert result.settings.train_batch_size == TINY.train_batch_size
    # two trials ran; the best score is finite and the highest of them
    assert len(best["trials"]) == 2 and all(t["error"] is None for t in best["trials"])
    assert math.isfinite(best["score"]) and best["score"] == result.score
    assert best["score"] == max(t["score"] for t in best["trials"])


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"lrr": [1e-3]}, "space.lrr: not a TrainingConfig field (did you mean 'lr'?)"),
        ({"lr": {"uniform": [0.0, 2.0]}}, "space.lr.uniform: expected a number in (0, 1], got 0.0"),
        ({"lr": {"uniforn": [1e-4, 1e-3]}}, "space.lr.uniforn: unknown kind, expected one of ['choice', 'grid', 'uniform', 'loguniform'] (did you mean 'uniform'?)"),
        ({"lr": {"loguniform": [1e-3, 1e-4]}}, "space.lr.loguniform: expected [low, high], numbers with low < high, got [0.001, 0.0001]"),
        ({"train_batch_size": {"uniform": [64.5, 128]}}, "space.train_batch_size.uniform: expected [low, high], integers with low < high"),
        ({"hidden": {"uniform": [8, 16]}}, "space.hidden.uniform: hidden is not a number; give a list of values instead"),
        ({"hidden": [[8], [0]]}, "space.hidden[1]: expected positive integer layer sizes, got (0,)"),
        ({"algo": ["ppo", "ppx"]}, "space.algo[1]: expected one of ['ppo', 'sac', 'dqn', 'appo'], got 'ppx'"),
        ({}, "space: expected a table of TrainingConfig fields to search, got {}"),
    ],
    ids=["unknown-field", "value-out-of-range", "unknown-kind", "reversed-range", "float-bound-for-int", "range-on-list-field", "bad-choice", "bad-enum", "empty"],
)
def test_bad_space_is_one_line_config_error_before_any_trial(tmp_path, space, message):
    with pytest.raises(ConfigError) as caught:
        run_tune(TINY, space, samples=1, iterations=1, out=tmp_path, name="bad")
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert not (tmp_path / "bad").exists()


def test_integer_ranges_draw_integers_inside_the_bounds():
    domain = search_space(TINY, {"train_batch_size": {"uniform": [64, 128]}, "num_epochs": {"loguniform": [1, 4]}})
    batch, epochs = domain["train_batch_size"], domain["num_epochs"]
    draws = [(batch.sample(), epochs.sample()) for _ in range(200)]
    assert all(type(b) is int and 64 <= b <= 128 and type(e) is int and 1 <= e <= 4 for b, e in draws)
    assert {e for _, e in draws} == {1, 2, 3, 4}


@pytest.mark.slow
def test_metric_missing_from_results_is_one_line_config_error(ray_session, tmp_path):
    with pytest.raises(ConfigError) as caught:
        run_tune(TINY, {"lr": [1e-3]}, samples=1, iterations=1, metric="env_runners/episode_return_men", out=tmp_path, name="typo")
    assert str(caught.value) == "metric: 'env_runners/episode_return_men' is not in RLlib's results (did you mean 'env_runners/episode_return_mean'?)"
