"""Scenario files: every bundled one loads; bad keys and values fail with their full path; hostile files are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from market.errors import ConfigError
from market.scenario import MAX_FILE_BYTES, SCENARIOS_DIR, bundled_scenarios, load_scenario, resolve

GOOD = (SCENARIOS_DIR / "market_makers.toml").read_text()


@pytest.mark.parametrize("name", list(bundled_scenarios()))
def test_every_bundled_scenario_loads_in_full_and_quick_mode(name):
    full = load_scenario(name)
    quick = load_scenario(name, quick=True)
    assert full.name == quick.name == name
    assert quick.iterations() <= full.iterations()


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("count = 4", "count = -2", "populations.maker.count: expected a positive integer, got -2"),
        ("count = 4", "cuont = 4", "populations.maker.cuont: unknown key with value 4 (did you mean 'count'?)"),
        ('clearing = "book"', 'clearing = "auction"', "market.clearing: expected one of ['book', 'call', 'impact', 'poisson'], got 'auction'"),
        ("max_steps = 300", "max_step = 300", "market.max_step: unknown key with value 300 (did you mean 'max_steps'?)"),
        ('algo = "ppo"', 'algo = "ppx"', "training.algo: expected one of ['ppo', 'sac', 'dqn', 'appo'], got 'ppx'"),
        ("activity = 0.6", "activty = 0.6", "populations.noise.params.activty: unknown key"),
        ('policy = "noise"', 'policy = "noize"', "unknown scripted policy 'noize' (did you mean 'noise'?)"),
        ("[evaluation]", "[evaluaton]", "evaluaton: unknown key"),
        ("episodes = 1", "episodes = 0", "evaluation.episodes: expected a positive integer, got 0"),
    ],
)
def test_a_bad_key_or_value_names_the_file_path_and_value(tmp_path, old, new, message):
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert path in str(info.value) and message in str(info.value), str(info.value)
    assert "\n" not in str(info.value)


def test_quick_overrides_lay_over_the_full_settings(tmp_path):
    quick = load_scenario(write(tmp_path, GOOD), quick=True)
    assert quick.market["max_steps"] == 60 and quick.market["clearing"] == "book"
    assert quick.training["iterations"] == 2 and quick.training["algo"] == "ppo"


def test_oversized_files_are_refused_before_parsing(tmp_path):
    path = write(tmp_path, GOOD + "\n" + "\n".join(f"x.k{i} = {i}" for i in range(20_000)))
    assert Path(path).stat().st_size > MAX_FILE_BYTES
    with pytest.raises(ConfigError, match="larger than a scenario file may be"):
        load_scenario(path)


def test_deeply_nested_files_are_one_line(tmp_path):
    path = write(tmp_path, "x = " + "[" * 5000 + "]" * 5000)
    with pytest.raises(ConfigError, match="nested too deeply|scenario.toml"):
        load_scenario(path)


def test_broken_toml_and_unknown_names_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="scenario.toml: "):
        load_scenario(write(tmp_path, "[scenario\nname = 1"))
    with pytest.raises(ConfigError, match=r"scenario 'market_makerz' not found \(did you mean 'market_makers'\?\)"):
        load_scenario("market_makerz")
    with pytest.raises(ConfigError, match="missing.toml: scenario file not found"):
        load_scenario(str(tmp_path / "missing.toml"))


def test_readme_scenario_table_has_every_bundled_scenario_with_its_headline_metrics():
    from pathlib import Path

    from market.scenario import bundled_scenarios, load_scenario

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    table = readme.split("<!-- scenario-figures:begin -->", 1)[1].split("<!-- scenario-figures:end -->", 1)[0]
    rows = {line.split("|")[1].strip().strip("`"): line for line in table.strip().splitlines()[2:]}
    assert set(rows) == set(bundled_scenarios()), "run scripts/scenario_figures.py --write README.md"
    for name, row in rows.items():
        headline = load_scenario(name).scenario.headline
        assert headline, f"{name} names no headline metrics"
        assert all(f"`{key}`" in row for key in headline), f"{name}: the README row is stale; run scripts/scenario_figures.py --write README.md"


def test_without_rules_names_known_market_rules():
    from market.scenario import EvaluationConfig

    assert EvaluationConfig(without_rules=("circuit_breaker",)).without_rules == ("circuit_breaker",)
    with pytest.raises(ConfigError, match=r"evaluation.without_rules: unknown rule 'circuit_braker' \(did you mean 'circuit_breaker'\?\)"):
        EvaluationConfig(without_rules=("circuit_braker",))


@pytest.mark.parametrize(
    ("baseline", "message"),
    [
        ('name = "x"\npopulation = "makers"\npolicy = "market_maker"', "evaluation.baselines.x.population: 'makers' is not a population of this market (did you mean 'maker'?)"),
        ('name = "x"\npopulation = "maker"\npolicy = "noise"', "evaluation.baselines.x.policy: 'noise' is not a maker policy"),
        ('name = "x"\npopulation = "maker"\npolicy = "market_maker"\nparams = { half_spread = 7.0 }', "half_spread"),
        ('name = "learned"\npopulation = "maker"\npolicy = "market_maker"', "expected unique names, not the same as evaluation.label"),
        ('name = "x"\npopulation = "noise"\npolicy = "market_maker"', "evaluation.baselines.x.policy: 'market_maker' is not a taker policy"),
    ],
)
def test_a_baseline_must_name_a_population_and_a_policy_of_its_role(tmp_path, baseline, message):
    from market.scenario import resolve

    path = tmp_path / "with_baseline.toml"
    text = resolve("market_makers").read_text()
    path.write_text(text + f"\n[[evaluation.baselines]]\n{baseline}\n")  # a second baseline, after the bundled one
    with pytest.raises(ConfigError) as caught:
        load_scenario(str(path))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        ('name = "y"\npopulation = "makers"\npolicy = "market_maker"', "league.strategies.y.population: 'makers' is not a learning population of this market (did you mean 'maker'?)"),
        ('name = "y"\npopulation = "maker"\npolicy = "noise"', "league.strategies.y.policy: 'noise' is not a maker policy"),
        ('name = "y"\npopulation = "maker"\npolicy = "market_maker"\nparams = { half_spread = 7.0 }', "half_spread"),
    ],
)
def test_a_league_strategy_is_checked_when_the_scenario_loads(tmp_path, strategy, message):
    from market.scenario import resolve

    path = tmp_path / "with_strategy.toml"
    path.write_text(resolve("market_makers").read_text() + f"\n[[league.strategies]]\n{strategy}\n")
    with pytest.raises(ConfigError) as caught:
        load_scenario(str(path))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"gae_lambda": 0}, "gae_lambda: expected a number in (0, 1], got 0"),
        ({"vf_clip": -1.0}, "vf_clip: expected a number above 0, got -1.0"),
        ({"vf_clip": float("inf")}, "vf_clip: expected a finite number, got inf"),
        ({"entropy_coeff": -0.1}, "entropy_coeff: expected a number >= 0, got -0.1"),
    ],
)
def test_ppo_settings_are_checked(settings, message):
    from market.config import from_mapping
    from market.training.configs import TrainingConfig

    with pytest.raises(ConfigError) as caught:
        from_mapping(TrainingConfig, settings)
    assert str(caught.value) == message


def test_training_seeds_and_rules_are_checked():
    from market.scenario import EvaluationConfig

    with pytest.raises(ConfigError, match="evaluation.training_seeds"):
        EvaluationConfig(training_seeds=0)
    assert EvaluationConfig(training_seeds=3, rules=("sma_crossover",)).training_seeds == 3


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        ("historical_trading", 'rules = ["sma_crossover"]', 'rules = ["sma_crosover"]', r"evaluation.rules: unknown rule 'sma_crosover' \(did you mean 'sma_crossover'\?\)"),
        ("portfolio", '"min_variance", "momentum"]', '"min_varaince", "momentum"]', r"evaluation.rules: unknown rule 'min_varaince' \(did you mean 'min_variance'\?\)"),
        ("portfolio", "[portfolio]\nwindow = 20", "[portfolio]\nwindow = 1", r"portfolio.window must be an integer >= 2"),
        ("historical_trading", 'rules = ["sma_crossover"]', 'rules = ["min_variance"]', r"evaluation.rules: unknown rule 'min_variance'"),
    ],
)
def test_evaluation_rules_are_checked_against_the_scenarios_kind(tmp_path, name, old, new, message):
    text = resolve(name).read_text()
    assert old in text
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError, match=message):
        load_scenario(str(path))
