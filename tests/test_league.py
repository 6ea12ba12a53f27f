"""market league: strategy pools, payoff estimation as Ray tasks, the loop's generations, ratings, the command.

Real envs, real Ray (one session for the module, tests/conftest.py), tiny markets of a few dozen steps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from market.errors import ConfigError, Interrupted
from market.league.equilibrium import solve
from market.league.loop import LeagueSettings, read_state, run_league, state_path
from market.league.payoffs import Job, estimate, play_episodes, profiles
from market.league.pool import build_pools
from market.records import RunReader
from market.scenario import load_scenario
from market.scenario_run import training_config

pytestmark = pytest.mark.usefixtures("ray_session")

HEADER = """
[scenario]
name = "tiny_league"
kind = "market"
description = "Learning makers against noise takers, in a market of forty steps"

[market]
clearing = "book"
max_steps = 40
initial_price = 10000
window = 5

[fundamental]
source = "constant"

[[background]]
name = "noise"
role = "taker"
count = 6
policy = "noise"
params = { activity = 0.8, max_aggression = 1.0 }
"""

MAKERS = """
[[populations]]
name = "maker"
role = "maker"
count = 3
max_offset = 10
initial_inventory = 0
"""

TOUCH = """
[[league.strategies]]
name = "touch"
population = "maker"
policy = "market_maker"
params = { half_spread = 0.0, vol_widen = 0.0, inventory_skew = 0.0 }
"""

WIDE = """
[[league.strategies]]
name = "wide"
population = "maker"
policy = "market_maker"
params = { half_spread = 1.0, vol_widen = 0.0, inventory_skew = 0.0 }
"""

TAKERS = """
[[populations]]
name = "taker"
role = "taker"
count = 2

[[league.strategies]]
name = "noisy"
population = "taker"
policy = "noise"
params = { activity = 0.5 }

[[league.strategies]]
name = "trend"
population = "taker"
policy = "momentum"
params = { lookback = 3, threshold = 0.001, size_scale = 20.0 }
"""

QUICK_TRAINING = """
[training]
iterations = 1
train_batch_size = 80
minibatch_size = 40
num_epochs = 1
hidden = [8]
num_envs_per_env_runner = 1
"""

LEAGUE = """
[league]
generations = 2
seeds = 3
"""


def scenario_file(tmp_path: Path, *parts: str, name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(parts))
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The ``market`` command of this checkout, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "market.cli", *args], capture_output=True, text=True, timeout=600, check=False, env={**os.environ})


# ---------------------------------------------------------------------------- pools
def test_pool_holds_baselines_then_league_strategies_of_each_learning_population():
    pools = build_pools(load_scenario("market_makers", quick=True))
    assert list(pools) == ["maker"]
    assert [s.name for s in pools["maker"]] == ["heuristic", "avellaneda_stoikov", "touch", "wide"]
    assert dict(pools["maker"][3].params)["half_spread"] == 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('policy = "market_maker"\nparams = { half_spread = 1.0', 'policy = "market_makr"\nparams = { half_spread = 1.0'), r"league\.strategies\.wide\.policy: unknown scripted policy 'market_makr' \(did you mean 'market_maker'\?\)"),
        (('population = "maker"\npolicy = "market_maker"\nparams = { half_spread = 1.0', 'population = "makers"\npolicy = "market_maker"\nparams = { half_spread = 1.0'), r"league\.strategies\.wide\.population: 'makers' is not a learning population.*did you mean 'maker'"),
        (('policy = "market_maker"\nparams = { half_spread = 1.0, vol_widen = 0.0, inventory_skew = 0.0 }', 'policy = "noise"'), r"league\.strategies\.wide\.policy: 'noise' is not a maker policy"),
        (("half_spread = 1.0", "half_spread = 7.0"), r"league\.strategies\.wide: .*half_spread"),
        (('name = "wide"', 'name = "touch"'), r"league\.strategies\.touch: 'maker' already has a strategy of this name"),
    ],
)
def test_bad_strategy_is_refused_naming_its_key(tmp_path, change, message):
    path = scenario_file(tmp_path, MAKERS, TOUCH, WIDE.replace(*change))
    with pytest.raises(ConfigError, match=message):
        build_pools(load_scenario(str(path)))


def test_pool_of_one_strategy_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"the pool of 'maker' has 1 strategy \(touch\); a league needs at least 2"):
        build_pools(load_scenario(str(scenario_file(tmp_path, MAKERS, TOUCH))))


def test_checkpoint_trained_on_other_spaces_is_refused(tmp_path):
    checkpoint = Path(__file__).parent / "data" / "ppo_trading_checkpoint"  # a TradingEnv policy, not a maker's
    other = WIDE.replace('policy = "market_maker"', f'policy = "checkpoint:{checkpoint}#default_policy"').replace("params = { half_spread = 1.0, vol_widen = 0.0, inventory_skew = 0.0 }", "")
    with pytest.raises(ConfigError, match=r"checkpoint .*ppo_trading_checkpoint.*trained on observations .* but population 'maker' has"):
        build_pools(load_scenario(str(scenario_file(tmp_path, MAKERS, TOUCH, other))))


# ---------------------------------------------------------------------------- payoffs
def test_payoffs_of_two_populations_have_an_axis_each_and_are_identical_for_one_or_two_workers(tmp_path):
    scenario = load_scenario(str(scenario_file(tmp_path, MAKERS, TOUCH, WIDE, TAKERS)))
    pools = build_pools(scenario)
    settings = training_config(scenario)
    jobs = [Job(profile, k) for k in range(2) for profile in profiles(pools)]
    one = play_episodes(settings.env_config, jobs, eval_seed=settings.eval_seed, workers=1)
    two = play_episodes(settings.env_config, jobs, eval_seed=settings.eval_seed, workers=2)
    assert one == two, "the same episodes in the same order, whatever the number of workers"
    first, second = estimate(list(pools), pools, one), estimate(list(pools), pools, two)
    assert first.populations == ("maker", "taker") and first.strategies == (("touch", "wide"), ("noisy", "trend"))
    assert [m.shape for m in first.means] == [(2, 2), (2, 2)]
    assert (first.counts == 2).all()
    for a, b in zip(first.means + first.ci95, second.means + second.ci95, strict=True):
        np.testing.assert_array_equal(a, b)
    assert all(np.isfinite(m).all() for m in first.means + first.ci95)
    assert len({e.payoffs for e in one}) > 1, "profiles and seeds give different payoffs"


def test_makers_quoting_at_the_touch_dominate_wide_quoters_and_the_equilibrium_picks_them(tmp_path):
    scenario = load_scenario(str(scenario_file(tmp_path, MAKERS, TOUCH, WIDE)))
    pools = build_pools(scenario)
    settings = training_config(scenario)
    jobs = [Job(profile, k) for k in range(6) for profile in profiles(pools)]
    payoffs = estimate(["maker"], pools, play_episodes(settings.env_config, jobs, eval_seed=settings.eval_seed, workers=2))
    [matrix] = payoffs.means
    touch, wide = 0, 1
    assert payoffs.symmetric and (payoffs.counts == 6).all()
    assert (matrix[touch] > matrix[wide]).all(), f"touch must beat wide against either opponent: {matrix}"
    equilibrium = solve(payoffs.game(), np.random.default_rng(0))
    assert equilibrium.mixtures[0][touch] > 0.999 and equilibrium.regret < 1e-3


# ---------------------------------------------------------------------------- the loop
def test_league_generations_add_seeds_rate_every_strategy_and_write_one_record(tmp_path):
    scenario = load_scenario(str(scenario_file(tmp_path, MAKERS, TOUCH, WIDE, LEAGUE)))
    seen = []
    result = run_league(scenario, LeagueSettings(generations=2, seeds=2, workers=2), out=tmp_path / "runs", name="lg", source="tiny", on_generation=seen.append)
    assert [g.number for g in seen] == [1, 2] and [g.seeds for g in seen] == [2, 4]
    assert int(seen[0].payoffs.counts.min()) == 2 and int(seen[1].payoffs.counts.min()) == 4
    assert result.episodes == 4 * 4, "generation 2 plays only the new seeds"
    reader = RunReader(result.run_path)
    league = reader.manifest["league"]
    assert reader.kind == "league" and len(league["generations"]) == 2
    last = league["generations"][-1]
    assert last["payoffs"]["counts"] == [[4, 4], [4, 4]] and len(last["payoffs"]["ci95"]["maker"]) == 2
    assert last["mixtures"]["maker"]["touch"] > 0.999 and last["regrets"]["maker"]["wide"] > 0
    assert [s["strategy"] for s in league["standings"]] == ["maker/touch", "maker/wide"]
    assert league["standings"][0]["episodes"] == 8, "touch met wide in 4 profiles-seeds as focal and 4 as the others"
    assert reader.metrics["exploitability"] == last["exploitability"] < 1e-3


def test_interrupted_league_keeps_finished_generations_and_resumes_to_the_same_record(tmp_path):
    scenario = load_scenario(str(scenario_file(tmp_path, MAKERS, TOUCH, WIDE, LEAGUE)))
    settings = LeagueSettings(generations=3, seeds=2, workers=2)

    def ctrl_c(generation):
        if generation.number == 1:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted, match=r"generations 1\.\.1 are kept in .*league\.json; continue with: market league tiny --resume lg"):
        run_league(scenario, settings, out=tmp_path / "runs", name="lg", source="tiny", on_generation=ctrl_c)
    assert not (tmp_path / "runs" / "lg").exists(), "no run record until the league has finished"
    state = read_state(tmp_path / "runs", "lg")
    assert len(state["generations"]) == 1 and len(state["episodes"]) == 4 * 2
    resumed = run_league(scenario, settings, out=tmp_path / "runs", name="lg", source="tiny", resume=True)
    whole = run_league(scenario, settings, out=tmp_path / "runs", name="whole", source="tiny")
    assert [g["generation"] for g in resumed.generations] == [1, 2, 3]
    assert resumed.generations[0] == state["generations"][0], "the finished generation is kept, not replayed"
    assert json.dumps(resumed.generations) == json.dumps(whole.generations), "resuming gives what an uninterrupted league gives"
    with pytest.raises(ConfigError, match="already exists; the league had finished"):
        run_league(scenario, settings, out=tmp_path / "runs", name="lg", source="tiny", resume=True)


# ---------------------------------------------------------------------------- best responses
def test_mixture_opponents_draw_a_strategy_per_agent_per_episode_with_the_mixtures_weights():
    from market.agents.mixture import MixturePolicy
    from market.agents.scripted import build_policy
    from market.envs.market_config import observation_index

    window = 5
    quiet = build_policy("market_maker", {"size": 0.1}, window=window)
    loud = build_policy("market_maker", {"size": 1.0}, window=window)
    mixture = MixturePolicy([quiet, loud], [0.25, 0.75], window)
    first, later = np.zeros(14, dtype=np.float32), np.zeros(14, dtype=np.float32)  # window 5: 14 features
    first[observation_index("time_left", window)], later[observation_index("time_left", window)] = 1.0, 0.5
    sizes = []
    for episode in range(400):
        rngs = [np.random.default_rng([episode, agent]) for agent in range(2)]  # new streams at every reset, as the env makes them
        drawn = [float(mixture.act(first, rng)[2]) for rng in rngs]
        assert [float(mixture.act(later, rng)[2]) for rng in rngs] == drawn, "an agent keeps its strategy for the episode"
        sizes.extend(drawn)
    loud_share = np.mean(np.array(sizes) > 0.5)
    assert abs(loud_share - 0.75) < 0.06, loud_share
    with pytest.raises(ConfigError, match="mixture: expected one non-negative weight per strategy summing to 1"):
        MixturePolicy([quiet, loud], [0.5, 0.6], window)


def test_best_response_learns_as_one_agent_against_fellows_driven_by_the_mixture(tmp_path):
    from market.league.best_response import best_response_env_config
    from market.training.envs import make_market_env

    scenario = load_scenario(str(scenario_file(tmp_path, MAKERS, TOUCH, WIDE)))
    pools = build_pools(scenario)
    config = best_response_env_config(training_config(scenario).env_config, "maker", pools, [np.array([0.3, 0.7])])
    env = make_market_env(config)
    assert env.possible_agents == ["maker_0"], "one maker learns"
    opponents = next(p for p in env.config.populations if p.name == "maker_opponents")
    assert opponents.count == 2 and opponents.policy == "mixture"
    assert dict(opponents.params)["weights"] == pytest.approx([0.3, 0.7])
    assert [s["params"]["half_spread"] for s in dict(opponents.params)["strategies"]] == [0.0, 1.0]
    # two learning populations: the makers learn whole while the takers play their mixture, and the other way round
    scenario = load_scenario(str(scenario_file(tmp_path, MAKERS, TOUCH, WIDE, TAKERS, name="two.toml")))
    pools = build_pools(scenario)
    mixtures = [np.array([1.0, 0.0]), np.array([0.5, 0.5])]
    makers_learn = make_market_env(best_response_env_config(training_config(scenario).env_config, "maker", pools, mixtures))
    assert makers_learn.possible_agents == ["maker_0", "maker_1", "maker_2"]
    takers = next(p for p in makers_learn.config.populations if p.name == "taker")
    assert takers.policy == "mixture" and [s["policy"] for s in dict(takers.params)["strategies"]] == ["noise", "momentum"]
    takers_learn = make_market_env(best_response_env_config(training_config(scenario).env_config, "taker", pools, mixtures))
    makers = next(p for p in takers_learn.config.populations if p.name == "maker")
    assert takers_learn.possible_agents == ["taker_0", "taker_1"] and dict(makers.params)["weights"] == [1.0], "a strategy of no weight is left out"


def test_league_trains_a_best_response_per_generation_measures_its_gain_and_adds_it_to_the_pool(tmp_path):
    scenario = load_scenario(str(scenario_file(tmp_path, MAKERS, TOUCH, WIDE, LEAGUE, QUICK_TRAINING)))
    result = run_league(scenario, LeagueSettings(generations=1, seeds=2, workers=2, iterations=1), out=tmp_path / "runs", name="lg", source="tiny")
    [generation] = result.generations
    response = generation["best_responses"]["maker"]
    assert [s.name for s in result.pools["maker"]] == ["touch", "wide", "br1"]
    assert Path(response["policy"].removeprefix("checkpoint:").partition("#")[0]).is_dir() and (tmp_path / "runs" / "lg_br1_maker").is_dir(), "the best response's own training record"
    assert np.isfinite(response["payoff"]) and response["gain"] == pytest.approx(response["payoff"] - response["mixture_value"])
    assert response["mixture_value"] == pytest.approx(generation["values"]["maker"]), "the mixture's value on the same seeds"
    assert generation["exploitability"] == pytest.approx(max(0.0, response["gain"], generation["pool_regret"]), abs=1e-6)
    assert RunReader(result.run_path).manifest["league"]["checkpoints"] == [result.pools["maker"][2].policy]


def test_exploitability_is_the_best_replys_gain_and_falls_once_the_pool_holds_the_reply(tmp_path):
    from market.league.pool import Strategy

    far = WIDE.replace('name = "wide"', 'name = "far"').replace("half_spread = 1.0", "half_spread = 0.8")
    scenario = load_scenario(str(scenario_file(tmp_path, MAKERS, WIDE, far)))
    # an oracle of scripted replies: a maker quoting half as far (it beats the far quoters), then one at the touch
    replies = {1: ("mid", 0.5), 2: ("touch", 0.0)}

    def respond(population, pools, mixtures, generation):
        name, half_spread = replies[generation]
        return Strategy(name=name, population=population, policy="market_maker", params=(("half_spread", half_spread), ("vol_widen", 0.0), ("inventory_skew", 0.0)))

    result = run_league(scenario, LeagueSettings(generations=2, seeds=3, workers=2), out=tmp_path / "runs", name="lg", source="tiny", respond=respond)
    first, second = result.generations
    assert first["mixtures"]["maker"]["far"] > 0.999 and first["best_responses"]["maker"]["strategy"] == "mid"
    assert first["best_responses"]["maker"]["gain"] > 50
    assert first["exploitability"] == pytest.approx(first["best_responses"]["maker"]["gain"]), "mid is the best reply to the first mixture"
    assert second["mixtures"]["maker"]["mid"] > 0.999, "the pool holds the reply, and the next mixture plays it"
    assert second["exploitability"] == pytest.approx(max(0.0, second["best_responses"]["maker"]["gain"], second["pool_regret"]))
    assert second["exploitability"] < first["exploitability"] / 2, "the mixture of a pool that holds the first reply is far less exploitable"
    assert [s.name for s in result.pools["maker"]] == ["wide", "far", "mid", "touch"]
    # the curve measures both mixtures against the final pool (mid and touch included), on every seed played
    curve = RunReader(result.run_path).manifest["league"]["curve"]
    assert curve == result.curve and [p["exploitability"] for p in curve] == [first["exploitability"], second["exploitability"]]
    assert curve[0]["final_pool_exploitability"] > 50 and curve[1]["final_pool_exploitability"] < curve[0]["final_pool_exploitability"] / 2

    # the dashboard's League tab shows the curve, the last generation's payoff matrix and the standings
    from streamlit.testing.v1 import AppTest

    from market.dashboard import app as page

    os.environ[page.RUNS_ENV] = str(tmp_path / "runs")
    try:
        at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py"), default_timeout=30.0)
        at.query_params[page.QUERY_RUN] = "lg"
        at.run()
    finally:
        del os.environ[page.RUNS_ENV]
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    frames = [f.value for f in at.dataframe]
    payoffs = next(f for f in frames if list(f.columns) == ["wide", "far", "mid"])
    assert np.allclose(payoffs.to_numpy(), np.array(second["payoffs"]["mean"]["maker"], dtype=float), equal_nan=True)
    standings = next(f for f in frames if "ordinal" in f.columns)
    assert list(standings["strategy"]) == [s["strategy"] for s in second["standings"]]


# ---------------------------------------------------------------------------- the command
def test_league_command_quick_prints_generations_and_standings_and_writes_a_readable_record(tmp_path):
    result = cli("league", "market_makers", "--quick", "--workers", "2", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Generation 1" in result.stdout and "Generation 2" in result.stdout and "Standings" in result.stdout
    runs = [p for p in tmp_path.iterdir() if p.name.startswith("league_market_makers_")]
    [run] = [p for p in runs if RunReader(p).kind == "league"]
    assert sorted(RunReader(p).kind for p in runs) == ["league", "train", "train"], "each best response's training has its own record"
    league = RunReader(run).manifest["league"]
    assert [s["name"] for s in league["pools"]["maker"]] == ["heuristic", "avellaneda_stoikov", "touch", "wide", "br1", "br2"]
    assert len(league["generations"]) == 2 and league["generations"][-1]["seeds"] == 4
    first, last = league["generations"]
    assert np.array(first["payoffs"]["counts"]).shape == (4, 4) and np.array(last["payoffs"]["counts"]).shape == (5, 5), "generation 1's best response joined the pool"
    assert len(league["checkpoints"]) == 2 and all(Path(c.removeprefix("checkpoint:").partition("#")[0]).is_dir() for c in league["checkpoints"])
    for generation in league["generations"]:
        response = generation["best_responses"]["maker"]
        assert np.isfinite(response["gain"]) and generation["exploitability"] >= max(0.0, response["gain"]) - 1e-9
    assert {s["strategy"] for s in league["standings"]} == {"maker/heuristic", "maker/avellaneda_stoikov", "maker/touch", "maker/wide", "maker/br1"}
    assert league["standings"][0]["strategy"] in result.stdout and "exploitability" in result.stdout and "best response maker/br1" in result.stdout


@pytest.mark.parametrize(
    ("parts", "args", "message"),
    [
        ((MAKERS, TOUCH, WIDE.replace('policy = "market_maker"', 'policy = "market_makr"')), (), "error: league.strategies.wide.policy: unknown scripted policy 'market_makr' (did you mean 'market_maker'?)"),
        ((MAKERS, TOUCH), (), "error: league.strategies: the pool of 'maker' has 1 strategy (touch)"),
        ((MAKERS, TOUCH, WIDE.replace('policy = "market_maker"', f'policy = "checkpoint:{Path(__file__).parent / "data" / "ppo_trading_checkpoint"}#default_policy"')), (), "but population 'maker' has"),
        ((MAKERS, TOUCH, WIDE), ("--generations", "0"), "error: --generations: "),
        ((MAKERS, TOUCH, WIDE), ("--workers", "0"), "error: --workers: "),
        ((MAKERS, TOUCH, WIDE), ("--resume", "nothing"), "error: --resume nothing: no league state"),
    ],
)
def test_league_command_refuses_bad_input_in_one_line_and_writes_nothing(tmp_path, parts, args, message):
    out = tmp_path / "runs"
    result = cli("league", str(scenario_file(tmp_path, *parts)), *args, "--out", str(out))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message.removeprefix("error: ") in lines[0], result.stderr
    assert not out.exists(), "nothing written"


def test_ctrl_c_during_a_league_keeps_its_finished_generations_readable_and_resumable(tmp_path):
    import signal
    import time

    out = tmp_path / "runs"
    path = scenario_file(tmp_path, MAKERS, TOUCH, WIDE)
    league = subprocess.Popen(
        [sys.executable, "-m", "market.cli", "league", str(path), "--generations", "500", "--seeds", "1", "--iterations", "0", "--workers", "1", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
    )
    deadline = time.monotonic() + 300
    states = []
    while time.monotonic() < deadline and not states and league.poll() is None:
        states = list((out / "checkpoints").glob("*/league.json")) if (out / "checkpoints").is_dir() else []
        time.sleep(0.2)
    assert states, "a generation finished"
    league.send_signal(signal.SIGINT)
    _, stderr = league.communicate(timeout=120)
    assert league.returncode == 130, stderr[-2000:]
    [line] = [x for x in stderr.strip().splitlines() if x.startswith("interrupted: ")]
    name = states[0].parent.name
    state = read_state(out, name)
    finished = len(state["generations"])
    assert f"generations 1..{finished} are kept" in line and f"--resume {name}" in line
    assert not (out / name).exists(), "no run record for an unfinished league"
    resumed = cli("league", str(path), "--resume", name, "--generations", str(finished + 1), "--iterations", "0", "--workers", "1", "--out", str(out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    generations = RunReader(out / name).manifest["league"]["generations"]
    assert [g["generation"] for g in generations] == list(range(1, finished + 2))
    assert generations[:finished] == state["generations"], "the finished generations are kept as they were"
    assert generations[-1]["seeds"] == finished + 1
