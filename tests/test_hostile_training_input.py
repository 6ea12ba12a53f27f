"""Bad training and scenario input is refused at once, in one line naming the key, value and limit.

Every refusal here must come before Ray starts or anything is allocated: the CLI cases run the real
command and assert that it exits 1 with exactly one ``error:`` line and wrote nothing.
"""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from market import limits
from market.errors import ConfigError
from market.scenario import load_scenario, resolve
from market.training.configs import TrainingConfig
from market.training.runner import StopConfig

MARKET = str(Path(sys.executable).with_name("market"))


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MARKET, *args], capture_output=True, text=True, timeout=timeout, check=False)


def assert_one_error_line(result: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in parts:
        assert part in lines[0], lines[0]


# ---------------------------------------------------------------------------- training settings
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hidden": (1_000_000_000,)}, f"hidden (layer width): 1,000,000,000 is over the limit of {limits.MAX_LAYER_WIDTH:,}"),
        ({"hidden": (8,) * 100}, f"hidden (number of layers): 100 is over the limit of {limits.MAX_LAYERS:,}"),
        ({"train_batch_size": 10**12}, f"train_batch_size: 1,000,000,000,000 is over the limit of {limits.MAX_BATCH:,}"),
        ({"num_envs_per_env_runner": 10**6}, "num_envs_per_env_runner: 1,000,000 is over the limit"),
        ({"minibatch_size": 4096, "train_batch_size": 2048}, "minibatch_size: 4,096 is larger than train_batch_size (2,048)"),
        ({"seed": -1}, "seed: expected a non-negative integer, got -1"),
        ({"seed": 2**40}, "seed: 1,099,511,627,776 is over the limit"),
        ({"training_intensity": math.nan}, "training_intensity: expected a finite number, got nan"),
    ],
)
def test_training_sizes_beyond_their_limits_are_refused_naming_key_value_and_limit(changes, message):
    with pytest.raises(ConfigError) as caught:
        TrainingConfig(**changes)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"iterations": 0}, "iterations: expected a positive integer, got 0"),
        ({"iterations": 10**20}, "iterations: 100,000,000,000,000,000,000 is over the limit"),
        ({"timesteps": 10**15}, "timesteps: 1,000,000,000,000,000 is over the limit"),
        ({"target_reward": math.nan}, "target_reward: expected a finite number, got nan"),
    ],
)
def test_stop_criteria_that_could_never_hold_or_never_end_are_refused(changes, message):
    with pytest.raises(ConfigError) as caught:
        StopConfig(**changes)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("args", "parts"),
    [
        (("--iterations", "0"), ("iterations: expected a positive integer, got 0",)),
        (("--iterations", "-1"), ("iterations: expected a positive integer, got -1",)),
        (("--checkpoint-every", "-3"), ("--checkpoint-every", "-3")),
        (("--eval-every", "-3"), ("--eval-every", "-3")),
        (("--target-reward", "nan"), ("target_reward: expected a finite number, got nan",)),
        (("--minibatch-size", "4096"), ("minibatch_size: 4,096 is larger than train_batch_size (2,048)",)),
        (("--iterations", "99999999999999999999"), ("iterations", "over the limit")),
    ],
)
def test_market_train_refuses_bad_options_in_one_line_before_ray_starts(tmp_path, args, parts):
    result = run("train", *args, "--out", str(tmp_path / "runs"))
    assert_one_error_line(result, *parts)
    assert not (tmp_path / "runs").exists()


def test_an_out_folder_that_is_a_file_is_named_before_ray_starts(tmp_path):
    taken = tmp_path / "runs"
    taken.write_text("not a folder")
    for command in (("train", "--iterations", "1"), ("run", "market_makers", "--quick")):
        assert_one_error_line(run(*command, "--out", str(taken)), f"--out {taken}: is a file, not a folder")
    assert taken.read_text() == "not a folder"


def test_market_run_refuses_a_billion_seeds_at_once(tmp_path):
    result = run("run", "market_makers", "--quick", "--seeds", "1000000000", "--out", str(tmp_path / "runs"))
    assert_one_error_line(result, f"--seeds: 1,000,000,000 is over the limit of {limits.MAX_SEEDS:,}")
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------------------- scenario files
def scenario_with(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """A copy of a bundled scenario with one line changed."""
    text = resolve(name).read_text()
    assert old in text, f"{old!r} not in {name}"
    path = tmp_path / f"{name}_changed.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("quick", [False, True])
def test_a_bad_value_that_quick_mode_overrides_still_fails_in_quick_mode(tmp_path, quick):
    path = scenario_with(tmp_path, "market_makers", "max_steps = 300", "max_steps = 0")
    with pytest.raises(ConfigError) as caught:
        load_scenario(str(path), quick=quick)
    assert "max_steps" in str(caught.value) and str(path) in str(caught.value)


def test_a_bad_quick_override_is_named_as_one(tmp_path):
    path = scenario_with(tmp_path, "market_makers", "market = { max_steps = 60 }", 'market = { max_steps = "60" }')
    load_scenario(str(path))  # the full run is fine
    with pytest.raises(ConfigError, match=r"quick\.market\.max_steps"):
        load_scenario(str(path), quick=True)


@pytest.mark.parametrize(
    ("name", "old", "new", "parts"),
    [
        ("market_makers", 'vary = "maker"', 'vary = "makers"', ("evaluation.vary: 'makers' is not a population", "did you mean 'maker'")),
        ("market_makers", "counts = [1, 2, 4, 8]", "counts = [1, 1000000000]", ("evaluation.counts", "over the limit")),
        ("news_shock", "jump_at = 50", "jump_at = 100000", ("fundamental.jump_at: step 100,000 is not within the episode's 300 steps",)),
        ("flash_crash", "iterations = 10", "iterations = 0", ("training.iterations: expected a positive integer, got 0",)),
        ("market_makers", "seeds = 20", "seeds = 1000000000", ("evaluation.seeds: 1,000,000,000 is over the limit",)),
    ],
)
def test_scenario_values_that_would_run_a_wrong_or_endless_experiment_are_refused_at_load(tmp_path, name, old, new, parts):
    path = scenario_with(tmp_path, name, old, new)
    with pytest.raises(ConfigError) as caught:
        load_scenario(str(path))
    assert str(caught.value).startswith(f"{path}: ")
    for part in parts:
        assert part in str(caught.value)


@pytest.mark.parametrize(
    ("new", "parts"),
    [
        ('source = "constnt"', ("fundamental.source: 'constnt' is neither one of", "did you mean 'constant'")),
        ('source = "ou"\nparams = { thetaa = 1.0 }', ("fundamental.params: ou: unknown parameter 'thetaa'",)),
    ],
)
def test_a_misspelt_fundamental_source_or_generator_parameter_names_its_key(tmp_path, new, parts):
    path = scenario_with(tmp_path, "news_shock", 'source = "constant"', new)
    with pytest.raises(ConfigError) as caught:
        load_scenario(str(path))
    for part in parts:
        assert part in str(caught.value)


def test_a_background_checkpoint_that_does_not_exist_is_refused_at_load_in_one_line(tmp_path):
    text = resolve("market_makers").read_text()
    path = tmp_path / "frozen.toml"
    path.write_text(text + '\n[[background]]\nname = "frozen"\nrole = "maker"\ncount = 1\npolicy = "checkpoint:/missing/run"\n')
    with pytest.raises(ConfigError) as caught:
        load_scenario(str(path))
    assert "background.frozen.policy: checkpoint /missing/run: not found" in str(caught.value)
    result = run("run", str(path), "--quick", "--out", str(tmp_path / "runs"))
    assert_one_error_line(result, "background.frozen.policy: checkpoint /missing/run: not found")
    assert "Traceback" not in result.stderr and not (tmp_path / "runs").exists()


# ---------------------------------------------------------------------------- interruption
@pytest.mark.slow
def test_ctrl_c_during_training_ends_with_one_line_exit_130_and_no_half_run(tmp_path):
    out = tmp_path / "runs"
    ray_results = Path.home() / "ray_results"
    before = set(ray_results.iterdir()) if ray_results.is_dir() else set()
    process = subprocess.Popen(
        [MARKET, "run", "market_makers", "--quick", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    def ray_started() -> bool:  # the run's log says so once Ray is up; the algorithm is being built or trains
        return any("Started a local Ray" in log.read_text() for log in out.glob("logs/*"))

    while not (any(out.glob("*.partial")) and ray_started()) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the quick run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=90)
    assert process.returncode == 130, stderr
    lines = stderr.strip().splitlines()
    assert lines and lines[-1].startswith("interrupted: the unfinished run was not recorded"), stderr
    assert "Traceback" not in stderr and "WARNING" not in stderr  # Ray's own noise stays in the log file
    assert not any(p.name.endswith(".partial") for p in out.iterdir())
    assert not [p for p in out.iterdir() if p.name.startswith("scenario_")]  # no run record
    checkpoints = list((out / "checkpoints").glob("*/iter_*")) if (out / "checkpoints").exists() else []
    for checkpoint in checkpoints:  # what is kept is complete, and the message says how to resume it
        assert (checkpoint / "market_training.json").is_file() and f"--resume {checkpoint}" in lines[-1]
    assert [p.name for p in (out / "logs").iterdir()] and "Started a local Ray" in next((out / "logs").iterdir()).read_text()
    assert (set(ray_results.iterdir()) if ray_results.is_dir() else set()) == before  # no empty folder left by RLlib


@pytest.mark.parametrize("command", [("run", "{long}.toml"), ("runs", "show", "{long}"), ("backtest", "--data", "{long}.csv")])
def test_a_path_longer_than_the_system_allows_is_one_line_naming_it(tmp_path, command):
    long = str(tmp_path / ("x" * 300))
    result = run(*(part.format(long=long) for part in command), "--out" if command[0] != "runs" else "--runs", str(tmp_path / "runs"))
    assert_one_error_line(result, "File name too long", "(3")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", [("simulate", "--steps", "100"), ("backtest",)])
def test_every_command_names_a_runs_folder_that_is_a_file(tmp_path, command):
    taken = tmp_path / "runs"
    taken.write_text("not a folder")
    assert_one_error_line(run(*command, "--out", str(taken)), f"{taken}: is a file, not a folder")
    assert taken.read_text() == "not a folder"
