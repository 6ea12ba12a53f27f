"""Experiment tracking: the curves land in real TensorBoard event files and a real local MLflow store."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from market.errors import ConfigError
from market.training.tracking import EXPERIMENT, RUN_TAG, Tracker, TrackingConfig

MARKET = str(Path(sys.executable).with_name("market"))

ROWS = [
    (1, 100, 0.5, "return/maker", 1.5),
    (1, 100, 0.5, "loss/maker/total_loss", 0.25),
    (2, 200, 1.0, "return/maker", 2.5),
    (2, 200, 1.0, "loss/maker/total_loss", 0.125),
    (2, 200, 1.0, "eval/sharpe_ratio", math.nan),  # not finite: left out, as the run record's NaN is
]


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series in a TensorBoard folder, read back with TensorBoard's own reader."""
    accumulator = EventAccumulator(str(folder))
    accumulator.Reload()
    return {tag: [(event.step, event.value) for event in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}


def test_training_rows_and_the_evaluation_reach_tensorboard_and_mlflow(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with Tracker(TrackingConfig(mlflow_uri=uri), out=tmp_path / "runs", name="run_a", params={"algo": "ppo", "hidden": [16, 16], "env_config": {"max_steps": 60}}) as tracker:
        tracker.log_rows(ROWS[:2])
        tracker.log_rows(ROWS[2:])
        tracker.log_evaluation({"maker_pnl": 12.0}, {"maker_pnl": 3.0}, step=2)
    series = scalars(tmp_path / "runs" / "tensorboard" / "run_a")
    assert series["return/maker"] == [(1, 1.5), (2, 2.5)]
    assert series["loss/maker/total_loss"] == [(1, 0.25), (2, 0.125)]
    assert series["env_steps"] == [(1, 100.0), (2, 200.0)]
    assert series["evaluation/maker_pnl"] == [(2, 12.0)] and series["evaluation_ci95/maker_pnl"] == [(2, 3.0)]
    assert "eval/sharpe_ratio" not in series

    client = MlflowClient(tracking_uri=uri)
    [run] = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert run.info.run_name == "run_a" and run.info.status == "FINISHED"
    assert run.data.tags[RUN_TAG] == str((tmp_path / "runs" / "run_a").resolve())
    assert run.data.params["algo"] == "ppo" and run.data.params["hidden"] == "[16, 16]" and run.data.params["env_config.max_steps"] == "60"
    history = client.get_metric_history(run.info.run_id, "return/maker")
    assert [(m.step, m.value) for m in history] == [(1, 1.5), (2, 2.5)]
    assert run.data.metrics["evaluation/maker_pnl"] == 12.0


def test_an_interrupted_run_ends_as_killed_and_tensorboard_can_be_turned_off(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(KeyboardInterrupt):
        with Tracker(TrackingConfig(tensorboard=False, mlflow_uri=uri), out=tmp_path / "runs", name="run_b", params={}) as tracker:
            tracker.log_rows(ROWS[:1])
            raise KeyboardInterrupt
    client = MlflowClient(tracking_uri=uri)
    [run] = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert run.info.status == "KILLED"
    assert not (tmp_path / "runs" / "tensorboard").exists()


def test_a_file_store_works_too(tmp_path):
    uri = f"file:{tmp_path / 'mlruns'}"
    with Tracker(TrackingConfig(tensorboard=False, mlflow_uri=uri), out=tmp_path, name="run_c", params={"seed": 3}) as tracker:
        tracker.log_rows(ROWS[:1])
    client = MlflowClient(tracking_uri=uri)
    [run] = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert run.data.metrics["return/maker"] == 1.5 and run.data.params["seed"] == "3"


def test_a_tracking_uri_of_another_kind_is_refused():
    with pytest.raises(ConfigError, match=r"--mlflow: expected a tracking URI starting with one of"):
        TrackingConfig(mlflow_uri="mlruns")


@pytest.mark.slow
def test_market_train_writes_tensorboard_curves_and_logs_to_mlflow(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "runs"
    result = subprocess.run(
        [MARKET, "train", "--iterations", "2", "--train-batch-size", "256", "--minibatch-size", "64", "--num-epochs", "1", "--mlflow", uri, "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    [folder] = list((out / "tensorboard").iterdir())
    series = scalars(folder)
    assert [step for step, _ in series["loss/default_policy/total_loss"]] == [1, 2]  # one point per iteration
    assert [value for _, value in series["env_steps"]] == [256.0, 512.0]
    assert "evaluation/sharpe_ratio" in series and "eval/sharpe_ratio" in series
    client = MlflowClient(tracking_uri=uri)
    [run] = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert run.info.run_name == folder.name and run.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss/default_policy/total_loss")] == [1, 2]
    assert run.data.params["train_batch_size"] == "256"
    assert [p.name for p in out.iterdir() if not p.name.startswith(("tensorboard", "checkpoints", "logs"))] == [folder.name]
