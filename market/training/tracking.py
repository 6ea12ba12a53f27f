"""Experiment tracking as RLlib users know it: TensorBoard event files, and MLflow on request.

A :class:`Tracker` receives what the run record's training table receives (the rows of each
iteration: ``return/<module>``, ``loss/<module>/<name>``, ``eval/<metric>``, ``steps_per_s``) and the
run's final evaluation (``evaluation/<metric>``, with ``evaluation_ci95/<metric>`` where an interval
exists), and writes them:

* as TensorBoard event files under ``<runs>/tensorboard/<run>/`` (``tensorboard --logdir runs/tensorboard``),
  one scalar per key against the training iteration, unless turned off;
* to an MLflow tracking store when a URI is given: one MLflow run per market run, with the training
  settings as params, every key as a metric with its iteration as the step, and the run record's path as
  the tag ``market.run``. A local ``sqlite:///path/mlflow.db`` works offline; a ``file:`` store also works
  (MLflow 3 keeps the file store in maintenance mode and refuses it unless ``MLFLOW_ALLOW_FILE_STORE`` is
  set, which this module sets for ``file:`` URIs only).

Metric names are the constants of :mod:`market.training.runner` and of this module; they are stable.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from market.errors import ConfigError, MarketError, one_line
from market.records.files import to_jsonable
from market.records.schema import TENSORBOARD_DIR

EVALUATION_PREFIX = "evaluation/"
"""The final evaluation's metrics (a scenario's held-out figures, a training run's held-out backtest)."""
INTERVAL_PREFIX = "evaluation_ci95/"
"""The half-width of the 95% interval of each final evaluation metric that has one."""
ENV_STEPS = "env_steps"
"""Env steps sampled so far, logged with every iteration."""
EXPERIMENT = "market"
"""The MLflow experiment every run goes to."""
RUN_TAG = "market.run"
"""The MLflow tag holding the run record's path."""
MLFLOW_SCHEMES = ("sqlite:", "file:", "http:", "https:")
"""Tracking URIs accepted: local stores (offline) and tracking servers."""
_MAX_PARAM = 6_000
"""MLflow's longest parameter value; longer settings are cut, with a marker."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackingConfig:
    """Where a run's curves go besides its run record.

    Attributes:
        tensorboard: write TensorBoard event files under ``<runs>/tensorboard/<run>/``.
        mlflow_uri: an MLflow tracking URI (``sqlite:///runs/mlflow.db``, ``file:./mlruns``, a server),
            or None for no MLflow.
    """

    tensorboard: bool = True
    mlflow_uri: str | None = None

    def __post_init__(self) -> None:
        if type(self.tensorboard) is not bool:
            raise ConfigError(f"tensorboard: expected true or false, got {self.tensorboard!r}")
        uri = self.mlflow_uri
        if uri is not None and (not isinstance(uri, str) or not uri.startswith(MLFLOW_SCHEMES)):
            raise ConfigError(f"--mlflow: expected a tracking URI starting with one of {list(MLFLOW_SCHEMES)}, got {uri!r}")

    def check(self) -> None:
        """Refuse, before a run starts, an MLflow URI when MLflow is not installed."""
        if self.mlflow_uri is None:
            return
        try:
            import mlflow  # noqa: F401
        except ImportError:
            raise MarketError("--mlflow: MLflow is not installed; install it with: pip install 'market[mlflow]'") from None


class Tracker:
    """Sends one run's training rows and final evaluation to TensorBoard and MLflow.

    Use it as a context manager around the run: leaving the block closes the event files and ends the
    MLflow run as finished, failed, or killed (Ctrl-C).

    Args:
        config: where to send the figures.
        out: the runs folder (TensorBoard files go to ``out/tensorboard/<name>/``).
        name: the run's name.
        params: the run's settings, logged as MLflow params (flattened, JSON values).
    """

    def __init__(self, config: TrackingConfig, *, out: Path, name: str, params: Mapping[str, Any]) -> None:
        config.check()
        self.config = config
        self.run_path = Path(out) / name
        self._writer = None
        self._client = None
        self._run_id: str | None = None
        if config.tensorboard:
            from tensorboardX import SummaryWriter

            self.tensorboard_dir = Path(out) / TENSORBOARD_DIR / name
            self._writer = SummaryWriter(logdir=str(self.tensorboard_dir))
        if config.mlflow_uri is not None:
            self._open_mlflow(config.mlflow_uri, name, params)

    def _open_mlflow(self, uri: str, name: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        if uri.startswith("file:"):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        try:
            client = MlflowClient(tracking_uri=uri)
            experiment = client.get_experiment_by_name(EXPERIMENT)
            experiment_id = experiment.experiment_id if experiment is not None else client.create_experiment(EXPERIMENT)
            run = client.create_run(experiment_id, run_name=name, tags={RUN_TAG: str(self.run_path.resolve())})
            flat = _flatten(to_jsonable(dict(params), "params"))
            client.log_batch(run.info.run_id, params=[Param(key, _param_value(value)) for key, value in flat.items()])
        except MlflowException as error:
            raise MarketError(f"--mlflow {uri}: {one_line(error)}") from None
        self._client, self._run_id = client, run.info.run_id

    def log_rows(self, rows: Iterable[tuple[int, int, float, str, float]]) -> None:
        """Log training-table rows ``(iteration, env_steps, time_s, key, value)``: one scalar per key and iteration."""
        rows = list(rows)
        steps = {iteration: env_steps for iteration, env_steps, *_ in rows}
        points = [(key, value, iteration) for iteration, _, _, key, value in rows] + [(ENV_STEPS, float(n), it) for it, n in steps.items()]
        self._log(points)

    def log_evaluation(self, metrics: Mapping[str, float], intervals: Mapping[str, float], *, step: int) -> None:
        """Log the final evaluation: ``evaluation/<key>`` and, where given, ``evaluation_ci95/<key>``."""
        points = [(EVALUATION_PREFIX + key, value, step) for key, value in metrics.items()]
        points += [(INTERVAL_PREFIX + key, value, step) for key, value in intervals.items()]
        self._log(points)

    def _log(self, points: list[tuple[str, float, int]]) -> None:
        finite = [(key, float(value), step) for key, value, step in points if isinstance(value, int | float) and math.isfinite(value)]
        if self._writer is not None:
            for key, value, step in finite:
                self._writer.add_scalar(key, value, global_step=step)
            self._writer.flush()
        if self._client is not None:
            import time

            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            metrics = [Metric(_metric_name(key), value, now, step) for key, value, step in finite]
            for start in range(0, len(metrics), 1000):  # MLflow's batch limit
                self._client.log_batch(self._run_id, metrics=metrics[start : start + 1000])

    def close(self, status: str = "FINISHED") -> None:
        """Close the event files and end the MLflow run with ``status`` (FINISHED, FAILED or KILLED)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._client is not None:
            self._client.set_terminated(self._run_id, status=status)
            self._client = None

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None) -> None:
        status = "FINISHED" if kind is None else "KILLED" if issubclass(kind, KeyboardInterrupt) else "FAILED"
        self.close(status)


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as ``a.b`` keys."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= _MAX_PARAM else text[: _MAX_PARAM - 3] + "..."


def _metric_name(key: str) -> str:
    """A metric key as MLflow accepts it (letters, digits, ``_ - . / space``); other characters become ``_``."""
    return "".join(char if char.isalnum() or char in "_-./ " else "_" for char in key)
