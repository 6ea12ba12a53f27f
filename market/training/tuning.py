"""Hyperparameter search with Ray Tune over the fields of a TrainingConfig.

A search space names TrainingConfig fields, each with one of:

* a list of values, or ``{"choice": [...]}``: one value drawn per trial;
* ``{"grid": [...]}``: every value, each in ``samples`` trials;
* ``{"uniform": [low, high]}`` or ``{"loguniform": [low, high]}``: a number drawn from the range
  (integers, inclusive of ``high``, for integer fields such as ``train_batch_size``).

Every trial is a Tune function trainable that lays its drawn values over the base settings, builds
the algorithm with :func:`market.training.configs.build_config` (so any algorithm and env train the
same way they do in ``market train``), trains a fixed number of iterations and reports the metric
after each. The trial asks Tune for the resources that algorithm needs. The search sampler is seeded
with the base settings' seed. The best trial (highest finite metric in its last iteration) is
written with every trial's score to ``out/<name>/best.json``, beside Tune's own files.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from market import limits
from market.config import from_mapping, suggest
from market.records.files import to_jsonable
from market.errors import ConfigError, MarketError
from market.training.configs import TrainingConfig, build_algorithm, build_config, stop_algorithm

DEFAULT_METRIC = "env_runners/episode_return_mean"
BEST_FILE = "best.json"
SPACE_PATH = "space"
ENV_STEPS_KEY = "env_runners/num_env_steps_sampled_lifetime"
LIST_KINDS = ("choice", "grid")
RANGE_KINDS = ("uniform", "loguniform")
_MAX_WRAPPERS = 10


@dataclass(frozen=True, slots=True)
class TrialScore:
    """One trial: the values it drew, its metric in its last iteration (NaN: none), and its error."""

    params: dict[str, Any]
    score: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TuneResult:
    """The best trial of a search and where it was written.

    Attributes:
        settings: the base settings with the best trial's values laid over them.
        params: the best trial's drawn values, by TrainingConfig field.
        score: the best trial's metric in its last iteration.
        metric: the metric that was maximized.
        path: the ``best.json`` file.
        trials: every trial, in Tune's order.
    """

    settings: TrainingConfig
    params: dict[str, Any]
    score: float
    metric: str
    path: Path
    trials: tuple[TrialScore, ...]


# ---------------------------------------------------------------------------- the space
def trial_settings(settings: TrainingConfig, values: Mapping[str, Any], path: str = SPACE_PATH) -> TrainingConfig:
    """``settings`` with ``values`` laid over it, converted and validated like a settings file.

    Raises:
        ConfigError: naming the field under ``path`` when a value is invalid.
    """
    base = {f.name: getattr(settings, f.name) for f in dataclasses.fields(TrainingConfig)}
    return from_mapping(TrainingConfig, {**base, **values}, path)


def search_space(settings: TrainingConfig, space: Mapping[str, Any]) -> dict[str, Any]:
    """Tune search domains for ``space``, every name and value checked before any trial starts.

    Args:
        settings: the base settings the drawn values are laid over.
        space: TrainingConfig field names to a list of values or a one-key mapping
            (``choice``, ``grid``, ``uniform`` or ``loguniform``).

    Returns:
        The field names mapped to Tune domains (``tune.choice``, ``tune.grid_search``, ...).

    Raises:
        ConfigError: one line naming ``space.<field>`` for an unknown field (with a near miss), a
            malformed entry, or a value TrainingConfig refuses.
    """
    fields = [f.name for f in dataclasses.fields(TrainingConfig)]
    if not isinstance(space, Mapping) or not space:
        raise ConfigError(f"{SPACE_PATH}: expected a table of TrainingConfig fields to search, got {space!r}")
    domains: dict[str, Any] = {}
    for key, entry in space.items():
        path = f"{SPACE_PATH}.{key}"
        if key not in fields:
            raise ConfigError(f"{path}: not a TrainingConfig field{suggest(str(key), fields)}")
        domains[key] = _domain(settings, key, entry, path)
    return domains


def _domain(settings: TrainingConfig, key: str, entry: Any, path: str) -> Any:
    """One field's Tune domain, its values checked against TrainingConfig."""
    from ray import tune

    # 1. the kind of entry: a bare list is a choice
    if isinstance(entry, list | tuple):
        kind, values = "choice", entry
    elif isinstance(entry, Mapping) and len(entry) == 1:
        kind, values = next(iter(entry.items()))
    else:
        raise ConfigError(f"{path}: expected a list of values or one of {{{', '.join(LIST_KINDS + RANGE_KINDS)}}}: [...], got {entry!r}")
    kinds = list(LIST_KINDS + RANGE_KINDS)
    if kind not in kinds:
        raise ConfigError(f"{path}.{kind}: unknown kind, expected one of {kinds}{suggest(str(kind), kinds)}")
    path = f"{path}.{kind}" if isinstance(entry, Mapping) else path

    # 2. a list of values: each one must make valid settings
    if kind in LIST_KINDS:
        if not isinstance(values, list | tuple) or not values:
            raise ConfigError(f"{path}: expected a non-empty list of values, got {values!r}")
        for i, value in enumerate(values):
            _check_value(settings, key, value, f"{path}[{i}]")
        return tune.choice(list(values)) if kind == "choice" else tune.grid_search(list(values))

    # 3. a range: a numeric field, two valid bounds, low < high (and low > 0 for loguniform)
    hint = typing.get_type_hints(TrainingConfig)[key]
    integer = hint is int
    if not (integer or hint in (float, float | None)):
        raise ConfigError(f"{path}: {key} is not a number; give a list of values instead")
    if (
        not isinstance(values, list | tuple)
        or len(values) != 2
        or any(isinstance(v, bool) or not isinstance(v, int if integer else int | float) for v in values)
        or not values[0] < values[1]
    ):
        kind_of = "integers" if integer else "numbers"
        raise ConfigError(f"{path}: expected [low, high], {kind_of} with low < high, got {values!r}")
    low, high = values
    if kind == "loguniform" and low <= 0:
        raise ConfigError(f"{path}: loguniform needs low > 0, got {low!r}")
    for bound in (low, high):
        _check_value(settings, key, bound, path)
    if integer:  # tune's integer ranges exclude the upper bound
        return tune.randint(low, high + 1) if kind == "uniform" else tune.lograndint(low, high + 1)
    return tune.uniform(low, high) if kind == "uniform" else tune.loguniform(low, high)


def _check_value(settings: TrainingConfig, key: str, value: Any, path: str) -> None:
    try:
        trial_settings(settings, {key: value}, SPACE_PATH)
    except ConfigError as error:
        message = str(error).removeprefix(f"{SPACE_PATH}.{key}: ").removeprefix(f"{key}: ")
        raise ConfigError(f"{path}: {message}") from None


# ---------------------------------------------------------------------------- one trial
def _run_trial(values: dict[str, Any], *, settings: TrainingConfig, iterations: int, metric: str) -> None:
    """A Tune function trainable: train the trial's settings and report ``metric`` every iteration.

    Raises:
        ConfigError: when RLlib's results hold no ``metric`` (with a near miss among their keys).
    """
    from ray import tune
    from ray.tune.utils import flatten_dict

    # Tune starts each trial inside its trial folder: go back to the worker's own folder, so that
    # relative paths in the settings mean what they mean to the env runners of `market train`
    os.chdir(os.environ["TUNE_ORIG_WORKING_DIR"])
    algo = build_algorithm(trial_settings(settings, values))
    try:
        for _ in range(iterations):
            result = flatten_dict(algo.train(), delimiter="/")
            if metric not in result:
                raise ConfigError(f"metric: {metric!r} is not in RLlib's results{suggest(metric, list(result))}")
            tune.report({metric: float(result[metric]), ENV_STEPS_KEY: int(result[ENV_STEPS_KEY])})
    finally:
        stop_algorithm(algo)


def _trial_resources(values: dict[str, Any], *, settings: TrainingConfig) -> Any:
    """The placement group the trial's algorithm needs (driver, env runners, learners)."""
    config = build_config(trial_settings(settings, values))
    return config.algo_class.default_resource_request(config)


# ---------------------------------------------------------------------------- the search
def run_tune(
    settings: TrainingConfig,
    space: Mapping[str, Any],
    *,
    samples: int,
    iterations: int,
    metric: str = DEFAULT_METRIC,
    out: Path,
    name: str,
    address: str | None = None,
    verbose: bool = False,
) -> TuneResult:
    """Search ``space`` with Ray Tune and write the best trial to ``out/<name>/best.json``.

    Args:
        settings: the base settings; every trial lays its drawn values over them.
        space: TrainingConfig fields to search (see the module docstring for the forms).
        samples: trials to draw (with ``grid`` entries: repeats of the whole grid).
        iterations: training iterations per trial.
        metric: the RLlib result key to maximize, ``/``-separated; its value in a trial's last
            iteration is the trial's score.
        out: the folder the search goes under; Tune's files and ``best.json`` go to ``out/<name>``.
        name: the search's name.
        address: a Ray cluster to join instead of starting a local Ray.
        verbose: show Ray's and RLlib's own messages on the terminal.

    Returns:
        The best trial's settings, values and score, the file, and every trial's score.

    Raises:
        ConfigError: for a bad space, count, metric or name, or an existing ``out/<name>``.
        MarketError: when every trial failed or none reported a finite metric.
    """
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    from market.training.runner import connect

    # 1. check everything before starting Ray
    limits.check_size("samples", samples, limits.MAX_TRIALS)
    limits.check_size("iterations", iterations, limits.MAX_ITERATIONS)
    if not isinstance(metric, str) or not metric:
        raise ConfigError(f"metric: expected an RLlib result key such as {DEFAULT_METRIC!r}, got {metric!r}")
    if not name or Path(name).name != name:
        raise ConfigError(f"name: expected a plain folder name, got {name!r}")
    domains = search_space(settings, space)
    folder = Path(out).resolve() / name
    if folder.exists():
        raise ConfigError(f"{folder}: already exists; choose another search name")

    # 2. one function trainable per trial, asking for the resources its algorithm needs
    connect(address, verbose=verbose)
    trainable = tune.with_resources(
        tune.with_parameters(_run_trial, settings=settings, iterations=iterations, metric=metric),
        resources=lambda values: _trial_resources(values, settings=settings),
    )
    tuner = tune.Tuner(
        trainable,
        param_space=domains,
        tune_config=tune.TuneConfig(
            metric=metric,
            mode="max",
            num_samples=samples,
            search_alg=BasicVariantGenerator(random_state=settings.seed),
        ),
        run_config=tune.RunConfig(name=name, storage_path=str(folder.parent), stop={"training_iteration": iterations}),
    )
    grid = tuner.fit()

    # 3. every trial's score: its metric in its last report
    trials = []
    for trial in grid:
        reported = trial.metrics or {}
        score = float(reported[metric]) if metric in reported else math.nan
        trials.append(TrialScore(params=dict(trial.config), score=score, error=None if trial.error is None else _one_line(trial.error)))
    _raise_when_nothing_scored(trials, grid.errors, metric)

    # 4. the best finite score (the first on ties), written beside Tune's files
    best = max((t for t in trials if math.isfinite(t.score)), key=lambda t: t.score)
    best_settings = trial_settings(settings, best.params)
    path = folder / BEST_FILE
    _write_best(path, metric, best, best_settings, trials)
    return TuneResult(settings=best_settings, params=best.params, score=best.score, metric=metric, path=path, trials=tuple(trials))


def _raise_when_nothing_scored(trials: list[TrialScore], errors: list[BaseException], metric: str) -> None:
    """Refuse a search with no finite score: re-raise a trial's ConfigError, else say what happened."""
    if any(math.isfinite(t.score) for t in trials):
        return
    for error in errors:
        cause = _config_error_in(error)
        if cause is not None:
            raise ConfigError(str(cause)) from None
    if errors:
        raise MarketError(f"every trial failed; the first: {_one_line(errors[0])}")
    raise MarketError(f"metric: no trial reported a finite {metric!r} (no episode ended? train more iterations or shorten episodes)")


def _config_error_in(error: BaseException) -> ConfigError | None:
    """The ConfigError a trial raised, found through Tune's and Ray's wrappers.

    Ray's wrapper is itself an instance of the error it wraps, with a traceback for a message: the
    innermost ConfigError is the one the trial raised.
    """
    found = None
    seen: BaseException | None = error
    for _ in range(_MAX_WRAPPERS):
        if seen is None:
            break
        if isinstance(seen, ConfigError):
            found = seen
        seen = getattr(seen, "cause", None) or seen.__cause__
    return found


def _one_line(error: BaseException) -> str:
    cause = _config_error_in(error)
    if cause is not None:
        return str(cause)
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(error).__name__


def _write_best(path: Path, metric: str, best: TrialScore, settings: TrainingConfig, trials: list[TrialScore]) -> None:
    """Write best.json through a temporary file (NaN scores become null, as :func:`to_jsonable` makes them)."""
    payload = {
        "metric": metric,
        "score": best.score,
        "params": best.params,
        "settings": dataclasses.asdict(settings),
        "trials": [{"params": t.params, "score": t.score, "error": t.error} for t in trials],
    }
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(to_jsonable(payload, BEST_FILE), indent=2) + "\n")
    temporary.replace(path)
