"""`market calibrate`: the ecology fitted to data of a known ecology reproduces its moments; a seed
gives the same fit; bad input is one line, exit 1, and nothing written; the fitted ecology runs in
`market simulate --ecology`.

Real simulations throughout, kept short (a few hundred steps, a handful of candidates) so the file
runs in well under a minute.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from market.calibration import MIN_RETURNS, MOMENT_KEYS, PARAMETERS, calibrate, ecology_of, format_ecology, read_ecology
from market.calibration.fit import default_values, simulated_returns
from market.data import synthetic
from market.errors import ConfigError
from market.records import RunReader
from market.scenario import load_scenario
from test_cli_simulate import assert_one_line_error, run  # the CLI tests' helpers

BY_NAME = {p.name: p for p in PARAMETERS}


def write_prices(path: Path, closes: np.ndarray) -> Path:
    """A price file with these closes (open = high = low = close), hourly bars."""
    frame = pd.DataFrame(
        {"open": closes, "high": closes, "low": closes, "close": closes, "volume": 1000.0},
        index=pd.date_range("2024-01-01", periods=len(closes), freq="h", name="time"),
    )
    frame.to_csv(path)
    return path


# ---------------------------------------------------------------------------- ground truth
def test_the_fit_to_a_known_ecology_reproduces_its_moments_within_their_intervals():
    # data from the product itself with known parameters: a maker spread three times the default's
    # and a fundamental four times as volatile, on a seed the calibration never simulates
    truth = {**default_values(), "maker.half_spread": 0.05, "fundamental.sigma": 0.12}
    returns = simulated_returns(ecology_of(truth), 500, seed=10_007)
    searched = (BY_NAME["maker.half_spread"], BY_NAME["fundamental.sigma"])

    result = calibrate(returns, budget=12, seeds=2, seed=0, workers=1, parameters=searched)

    # the default ecology is far from the data (so the test can fail), the fit is within the noise
    z_before, z_after = result.z_scores(result.before), result.z_scores(result.after)
    assert np.max(np.abs(z_before)) > 3
    assert np.all(np.abs(z_after) < 1.96), dict(zip(MOMENT_KEYS, z_after))
    assert result.loss_after < result.loss_before / 5
    assert result.fit_note.startswith("within the noise")
    # the parameters are recovered to within a factor of two
    assert 0.025 < result.fitted["maker.half_spread"] < 0.1
    assert 0.06 < result.fitted["fundamental.sigma"] < 0.24
    # the parameters not searched kept their defaults, and the fitted ecology carries the fit
    assert result.fitted["size_tail"] == default_values()["size_tail"]
    assert result.ecology.fundamental_params["sigma"] == result.fitted["fundamental.sigma"]
    assert dict(result.ecology.archetypes["maker"].params)["half_spread"] == result.fitted["maker.half_spread"]


def test_the_fit_recovers_a_known_tick_scale():
    # data of the default traders in a market at 40,000 ticks (a tick 2.5 times the default's relative
    # size); only the tick scale is searched, from the default 100,000
    truth = {**default_values(), "market.initial_price": 40_000}
    returns = simulated_returns(ecology_of(truth), 300, seed=10_009)

    result = calibrate(returns, budget=16, seeds=2, seed=0, workers=1, parameters=(BY_NAME["market.initial_price"],))

    z_before = result.z_scores(result.before)
    assert abs(z_before[MOMENT_KEYS.index("volatility")]) > 10, "the default tick scale is far from the data"
    assert result.loss_after < result.loss_before / 10
    assert result.fit_note.startswith("within the noise"), result.fit_note
    assert 36_000 < result.fitted["market.initial_price"] < 44_000, "within 10% of the truth"
    assert result.ecology.initial_price == result.fitted["market.initial_price"]


def test_a_seed_gives_the_same_calibration_with_one_worker_or_two():
    returns = simulated_returns(ecology_of(default_values()), 250, seed=4_242)
    searched = (BY_NAME["maker.size"], BY_NAME["value.size_scale"])
    first = calibrate(returns, budget=3, seeds=2, seed=5, workers=1, parameters=searched).report()
    again = calibrate(returns, budget=3, seeds=2, seed=5, workers=2, parameters=searched).report()
    first.pop("seconds"), again.pop("seconds")
    assert first == again
    assert len(first["trials"]) == 3 and first["trials"][0]["params"] == default_values()  # the default goes first
    assert first["trials"][1]["params"] != first["trials"][2]["params"]


def test_a_budget_below_one_is_refused():
    returns = simulated_returns(ecology_of(default_values()), MIN_RETURNS, seed=1)
    with pytest.raises(ConfigError, match="budget: expected a positive number of candidate ecologies, got 0"):
        calibrate(returns, budget=0)


# ---------------------------------------------------------------------------- the command
def test_calibrate_writes_an_ecology_that_simulate_runs_and_a_strict_json_report(tmp_path):
    closes = synthetic.gbm(np.random.default_rng(3), MIN_RETURNS + 1)["close"].to_numpy()
    data = write_prices(tmp_path / "prices.csv", closes)
    out = tmp_path / "fit"
    result = run("calibrate", "--data", str(data), "--budget", "2", "--seeds", "2", "--workers", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "Moments of prices.csv" in result.stdout and "fitted ecology:" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["calibration.json", "ecology.toml"]  # no temporary file left
    report = json.loads((out / "calibration.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert report["bars"] == MIN_RETURNS + 1 and set(report["moments"]) == set(MOMENT_KEYS)
    assert set(report["parameters"]) == {p.name for p in PARAMETERS}
    fitted = read_ecology(out / "ecology.toml")
    assert fitted.fundamental_params["sigma"] == report["parameters"]["fundamental.sigma"]["fitted"]
    assert fitted.initial_price == report["parameters"]["market.initial_price"]["fitted"]
    assert report["parameters"]["steps_per_bar"]["range"] == [1, 8], "200 returns leave room for 8 steps a bar"

    runs = tmp_path / "runs"
    simulated = run("simulate", "--ecology", str(out / "ecology.toml"), "--steps", "80", "--seed", "1", "--out", str(runs))
    assert simulated.returncode == 0, simulated.stderr
    [folder] = list(runs.iterdir())
    config = RunReader(folder).manifest["config"]
    assert config["fundamental"]["params"]["sigma"] == report["parameters"]["fundamental.sigma"]["fitted"]
    assert config["ecology"]["maker"]["params"][0] == ["half_spread", report["parameters"]["maker.half_spread"]["fitted"]]
    assert config["market"]["initial_price"] == report["parameters"]["market.initial_price"]["fitted"]


def test_the_fitted_ecology_pasted_into_a_scenario_is_that_scenarios_background(tmp_path):
    values = {**default_values(), "maker.half_spread": 0.04, "fundamental.sigma": 0.2, "market.initial_price": 40_000}
    fragment = format_ecology(ecology_of(values), "fitted")
    scenario = tmp_path / "fitted_market.toml"
    # pasted without its [bars] table (the fit's own), the scenario's market keys joining the fragment's [market] table
    pasted = re.sub(r"\[bars\][^\n]*\n[^\n]*\n", "", fragment)
    assert "steps_per_bar" not in pasted
    scenario.write_text(
        '[scenario]\nname = "fitted_market"\nkind = "market"\ndescription = "the fitted ecology alone"\n\n'
        + pasted.replace("initial_price =", 'clearing = "book"\nmax_steps = 50\ninitial_price =', 1)
    )
    config = load_scenario(str(scenario)).market_config()
    assert config.initial_price == 40_000 and config.max_steps == 50
    populations = {p.name: p for p in config.populations}
    assert list(populations) == ["maker", "taker", "noise", "momentum", "value"]
    assert populations["maker"].param_dict["half_spread"] == 0.04 and populations["noise"].count == 8
    # the scenario's fundamental follows the fitted OU parameters around the fitted price: a path, not the constant price
    assert len(set(config.fundamental)) > 1 and 0.9 < config.fundamental[0] / 40_000 < 1.1


def test_calibrate_on_a_file_too_short_names_the_bars_needed_and_writes_nothing(tmp_path):
    data = write_prices(tmp_path / "short.csv", np.linspace(100.0, 101.0, 150))
    out = tmp_path / "fit"
    assert_one_line_error(
        run("calibrate", "--data", str(data), "--out", str(out)),
        f"{data}: 150 bars; a calibration needs at least {MIN_RETURNS + 1} (the moments need {MIN_RETURNS} returns)",
    )
    assert not out.exists()


def test_calibrate_on_constant_prices_says_so_and_writes_nothing(tmp_path):
    data = write_prices(tmp_path / "flat.csv", np.full(400, 100.0))
    out = tmp_path / "fit"
    assert_one_line_error(run("calibrate", "--data", str(data), "--out", str(out)), f"{data}: the closes are constant; there are no price moves to calibrate to")
    assert not out.exists()


def test_calibrate_with_a_budget_of_zero_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "fit"
    assert_one_line_error(run("calibrate", "--data", "missing.csv", "--budget", "0", "--out", str(out)), "--budget: expected a positive number of candidate ecologies, got 0")
    assert not out.exists()


def test_simulate_with_an_ecology_file_of_an_unknown_population_is_one_line(tmp_path):
    ecology = tmp_path / "ecology.toml"
    ecology.write_text('[[background]]\nname = "sniper"\nrole = "taker"\ncount = 1\npolicy = "noise"\n')
    result = run("simulate", "--ecology", str(ecology), "--steps", "10", "--out", str(tmp_path / "runs"))
    assert_one_line_error(
        result, f"{ecology}: background.sniper.name: 'sniper' is not a population of the default ecology; populations: ['maker', 'taker', 'noise', 'momentum', 'value']"
    )
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------------------- the time and price scales
def test_a_bar_of_k_steps_is_the_sum_of_k_consecutive_step_returns_of_the_same_run():
    # the same seed and the same number of simulated steps: one episode, sampled every step or every third
    values = default_values()
    per_step = simulated_returns(ecology_of(values), 3 * 80, seed=21)
    per_bar = simulated_returns(ecology_of({**values, "steps_per_bar": 3}), 80, seed=21)
    assert len(per_bar) == 80
    np.testing.assert_allclose(per_bar, per_step.reshape(80, 3).sum(axis=1), rtol=0, atol=1e-12)
    assert np.std(per_bar) > np.std(per_step), "a bar of three steps moves more than one step"


def test_the_fitted_tick_scale_is_the_market_that_simulate_runs(tmp_path):
    values = {**default_values(), "market.initial_price": 40_000, "steps_per_bar": 3}
    ecology = tmp_path / "ecology.toml"
    ecology.write_text(format_ecology(ecology_of(values), "a market at 40,000 ticks, three steps a bar"))
    assert read_ecology(ecology).initial_price == 40_000 and read_ecology(ecology).steps_per_bar == 3
    runs = tmp_path / "runs"
    result = run("simulate", "--ecology", str(ecology), "--steps", "30", "--seed", "2", "--out", str(runs))
    assert result.returncode == 0, result.stderr
    [folder] = list(runs.iterdir())
    reader = RunReader(folder)
    assert reader.manifest["config"]["market"]["initial_price"] == 40_000
    assert reader.manifest["config"]["simulation"]["steps_per_bar"] == 3
    mids = reader.read("steps")["price"]
    assert 0.95 < mids.iloc[0] / 40_000 < 1.05, "the market trades around the fitted price, not the default 100,000 ticks"
    # a lower price in ticks is a coarser market: the same ecology moves more per step in relative terms
    coarse = np.std(simulated_returns(ecology_of({**values, "steps_per_bar": 1}), 300, seed=2))
    fine = np.std(simulated_returns(ecology_of(default_values()), 300, seed=2))
    assert coarse > 2 * fine, (coarse, fine)
    # a price file as the fundamental is scaled to the fitted price, not to the default 100,000 ticks
    prices = tmp_path / "prices.csv"
    prices.write_text("date,open,high,low,close\n" + "".join(f"2024-01-{d:02d},{p},{p},{p},{p}\n" for d, p in ((d, 1.1 + 0.001 * d) for d in range(1, 29))))
    followed = run("simulate", "--ecology", str(ecology), "--fundamental", str(prices), "--steps", "30", "--seed", "2", "--out", str(tmp_path / "followed"))
    assert followed.returncode == 0, followed.stderr
    [folder] = list((tmp_path / "followed").iterdir())
    assert 0.95 < RunReader(folder).read("steps")["price"].iloc[0] / 40_000 < 1.05


def test_simulate_with_an_ecology_of_a_bad_initial_price_is_one_line_and_writes_nothing(tmp_path):
    ecology = tmp_path / "ecology.toml"
    text = format_ecology(ecology_of(default_values()), "")
    ecology.write_text(text.replace("initial_price = 100000", "initial_price = 10"))
    result = run("simulate", "--ecology", str(ecology), "--steps", "10", "--out", str(tmp_path / "runs"))
    assert_one_line_error(result, f"{ecology}: market.initial_price: expected an integer number of ticks in [1,000, 10,000,000], got 10")
    assert not (tmp_path / "runs").exists()


def test_simulate_with_an_ecology_of_a_bad_steps_per_bar_is_one_line_and_writes_nothing(tmp_path):
    ecology = tmp_path / "ecology.toml"
    ecology.write_text(format_ecology(ecology_of(default_values()), "").replace("steps_per_bar = 1", "steps_per_bar = 0"))
    result = run("simulate", "--ecology", str(ecology), "--steps", "10", "--out", str(tmp_path / "runs"))
    assert_one_line_error(result, f"{ecology}: bars.steps_per_bar: expected an integer number of steps in [1, 1,000], got 0")
    assert not (tmp_path / "runs").exists()


def test_a_simulation_of_bars_of_three_steps_reports_the_facts_of_its_bars(tmp_path):
    from market.data.facts import stylized_facts
    from market.simulation import SimulationSpec, run_facts, simulate

    result = simulate(SimulationSpec(steps=3 * 210, steps_per_bar=3, seed=4), out=tmp_path, name="bars")
    reader = RunReader(result.path)
    # recomputed from the record: the mid before the first step, then after every step; each bar's volume
    mids = np.concatenate(([reader.metrics["initial_mid"]], reader.read("steps").groupby("step")["price"].first().to_numpy()))
    trades = reader.read("trades").groupby("step")["qty"].sum().reindex(range(630), fill_value=0).to_numpy(dtype=float)
    returns, volume = np.diff(np.log(mids[::3])), trades.reshape(210, 3).sum(axis=1)
    expected = stylized_facts(returns, volume)
    assert result.summary.facts == pytest.approx(expected, rel=1e-12)
    assert reader.metrics["excess_kurtosis"] == pytest.approx(expected["excess_kurtosis"], rel=1e-12)
    assert result.summary.facts["excess_kurtosis"] != pytest.approx(stylized_facts(np.diff(np.log(mids)))["excess_kurtosis"], rel=1e-3), "not the per-step facts"
    # market facts RUN measures the same bars but the first (the mid before step 0 is not in the steps table)
    assert run_facts(result.path) == pytest.approx(stylized_facts(returns[1:], volume[1:]), rel=1e-12)


def test_a_fundamental_on_another_tick_scale_than_the_market_is_refused():
    from market.simulation import SimulationSpec, scripted_market

    with pytest.raises(ConfigError, match=r"^fundamental: starts at 100,000 ticks but the market at 40,000 \(its tick scale\)"):
        scripted_market(SimulationSpec(steps=5, initial_price=40_000), [100_000.0] * 6)
    config, _ = scripted_market(SimulationSpec(steps=5, initial_price=40_000), [41_000.0] * 6)
    assert config.initial_price == 40_000 and config.fundamental[0] == 41_000.0
