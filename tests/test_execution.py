"""The executor role: parent orders worked through child orders, the execution baselines, impact estimation,
and the execution scenario."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from market.agents.baselines.execution import almgren_chriss_holdings, almgren_chriss_kappa, executor_action
from market.agents.scripted import build_policy, population_limits
from market.comparison import comparison_rows, evaluation_record
from market.config import from_mapping
from market.envs.execution import EXECUTION_FEATURES
from market.envs.market_config import Clearing, MarketConfig
from market.envs.market_v0 import MarketEnv
from market.errors import ConfigError
from market.execution_impact import estimate_impact
from market.records import RunReader
from market.scenario import load_scenario
from market.scenario_run import _evaluate_market, run_scenario, training_config
from market.simulation import run_market
from market.training.envs import market_policies

Q, T = 120, 30


def market(side: str = "buy", clearing: str = "book", executor_policy: str | None = None, params: dict | None = None, **changes) -> tuple[MarketConfig, dict]:
    executor = {"name": "ex", "role": "executor", "count": 1, "max_qty": 20, "max_offset": 10, "initial_inventory": 200, "execution": {"side": side, "quantity": Q, "horizon": T}}
    if executor_policy is not None:
        executor.update(policy=executor_policy, params=params or {})
    data = {
        "populations": [
            executor,
            {"name": "mm", "role": "maker", "count": 4, "policy": "market_maker", "params": {"jitter": 0.1}, "initial_inventory": 0},
            {"name": "noise", "role": "taker", "count": 6, "policy": "noise", "params": {"activity": 0.6}},
        ],
        "clearing": clearing,
        "max_steps": T + 10,
        **changes,
    }
    config = from_mapping(MarketConfig, data)
    return config, market_policies(config)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"side": "hold"}, "populations.ex.execution.side: expected one of ['buy', 'sell'], got 'hold'"),
        ({"horizon": 0}, "populations.ex.execution.horizon: expected a positive integer number of steps (T >= 1), got 0"),
        ({"horizon": 41}, "populations.ex.execution.horizon: expected at most max_steps (40), got 41"),
        ({"quantity": 2_000}, "populations.ex.execution.quantity: expected lots the account can carry: at most 1,000 (initial_cash + credit at the initial price), got 2000"),
        ({"side": "sell", "quantity": 1_300}, "populations.ex.execution.quantity: expected lots the account can sell: at most 1,200 (starting inventory + max_short), got 1300"),
    ],
)
def test_a_bad_parent_order_is_one_line_naming_the_key(changes, message):
    executor = {"name": "ex", "role": "executor", "count": 1, "initial_inventory": 200, "execution": {"side": "buy", "quantity": Q, "horizon": T, **changes}}
    with pytest.raises(ConfigError) as caught:
        from_mapping(MarketConfig, {"populations": [executor], "max_steps": T + 10})
    assert str(caught.value) == message


def test_an_executor_needs_a_parent_order_and_only_an_executor_has_one():
    with pytest.raises(ConfigError, match="populations.ex.execution: expected a parent order"):
        from_mapping(MarketConfig, {"populations": [{"name": "ex", "role": "executor", "count": 1}]})
    with pytest.raises(ConfigError, match="populations.mm.execution: expected no parent order"):
        from_mapping(MarketConfig, {"populations": [{"name": "mm", "role": "maker", "count": 1, "execution": {"side": "buy", "quantity": 1, "horizon": 1}}]})


@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("seed", range(3))
def test_random_actions_never_execute_more_than_the_parent_order(side, seed):
    config, policies = market(side)
    env = MarketEnv(config, policies, check=True)
    rng = np.random.default_rng(seed)
    observations, _ = env.reset(seed=seed)
    sign = 1 if side == "buy" else -1
    while env.agents:
        action = rng.choice([-1.0, 1.0], size=2).astype(np.float32) if rng.random() < 0.5 else rng.uniform(-1, 1, 2).astype(np.float32)
        observations, *_ = env.step({"ex_0": action})
        executed = (env.account_arrays()[1][0] - 200) * sign
        assert 0 <= executed <= Q
        if env.agents:
            assert observations["ex_0"].shape == (len(env.feature_names) + len(EXECUTION_FEATURES),)
    assert env.last_orders["mm_0"] and not env.last_orders.get("ex_0")  # after the horizon the executor sends nothing


def test_twap_executes_all_of_it_and_its_rewards_add_up_to_minus_the_shortfall():
    config, policies = market(executor_policy="twap", params={"aggression": 1.0})
    policy = build_policy("twap", {"aggression": 1.0}, window=config.window, population="ex", **population_limits(config.populations[0]))
    env = MarketEnv(config, {**policies, "ex": policy}, check=True)
    env.reset(seed=4)
    rewards, children = [], []
    while env.step_count < config.max_steps:
        env.step({})
        rewards.append(env.account_arrays()[3][0])
        children.append(sum(qty for _, _, qty in env.last_orders.get("ex_0", [])))
    cash, inventory, _, _ = env.account_arrays()
    assert inventory[0] - 200 == Q  # all of it, and no more
    assert children[0] == Q // T  # the even pace: 4 lots a step
    assert sum(children[: T - 1]) >= (T - 1) * Q // T  # and it keeps to it (a short fill is made up later)
    shortfall = ((config.initial_cash - cash[0]) - config.initial_price * Q) / (Q * config.initial_price) * 1e4
    assert sum(rewards) == pytest.approx(-shortfall, abs=1e-9)
    assert all(r == 0.0 for r in rewards[T:])  # nothing happens to it after the horizon


class _Zero:
    def act(self, obs, rng):
        return np.zeros(2, dtype=np.float32)


def test_around_an_aggression_center_the_zero_action_is_twap_and_the_baselines_do_not_change():
    def centered(center: float) -> MarketConfig:
        config, _ = market()
        executor = dataclasses.replace(config.populations[0], execution=dataclasses.replace(config.populations[0].execution, aggression_center=center))
        return dataclasses.replace(config, populations=(executor, *config.populations[1:]))

    def shortfalls(config: MarketConfig, policy) -> list[float]:
        return [run_market(MarketEnv(config, market_policies(config)), {"ex": policy}, seed=seed).execution["ex"]["shortfall_bps"] for seed in range(3)]

    def twap(config: MarketConfig):
        return build_policy("twap", {"aggression": 0.5}, window=config.window, population="ex", **population_limits(config.populations[0]))

    plain, half = centered(0.0), centered(0.5)
    reference = shortfalls(plain, twap(plain))
    assert shortfalls(half, twap(half)) == reference  # a baseline asks for the same orders whatever the center
    assert shortfalls(half, _Zero()) == reference  # the zero action is TWAP at 0.5
    assert shortfalls(plain, _Zero()) != reference  # (without the center it rests at the mid)
    executor = {"name": "ex", "role": "executor", "count": 1, "execution": {"side": "buy", "quantity": Q, "horizon": T, "aggression_center": 1.0}}
    with pytest.raises(ConfigError, match=r"populations.ex.execution.aggression_center: expected a number in \(-1, 1\), got 1.0"):
        from_mapping(MarketConfig, {"populations": [executor], "max_steps": T + 10})


def test_what_the_last_sweep_cannot_fill_is_charged_at_its_limit():
    # a buyer resting far below the mid never fills; with no one offering, the last step's sweep fills nothing either
    executor = {"name": "ex", "role": "executor", "count": 1, "initial_inventory": 0, "execution": {"side": "buy", "quantity": 10, "horizon": 5, "sweep_offset": 50}}
    config = from_mapping(MarketConfig, {"populations": [executor], "max_steps": 6})
    env = MarketEnv(config, {})
    env.reset(seed=0)
    total = 0.0
    while env.agents:
        _, rewards, *_ = env.step({"ex_0": np.array([0.0, -1.0], dtype=np.float32)})
        total += rewards.get("ex_0", 0.0)
    assert env.account_arrays()[1][0] == 0  # nothing filled
    assert total == pytest.approx(-10 * 50 / (10 * config.initial_price) * 1e4)  # 10 lots charged 50 ticks above the arrival mid
    summary = run_market(MarketEnv(config, {}), {"ex": build_policy("passive", {}, window=config.window, population="ex", **population_limits(config.populations[0]))}, seed=0)
    assert summary.execution["ex"]["fill_completion"] == 0.0
    assert summary.execution["ex"]["shortfall_bps"] == pytest.approx(50.0)


@pytest.mark.parametrize("clearing", list(Clearing))
def test_every_baseline_works_its_order_in_every_clearing_mode(clearing):
    changes = {"poisson": {"sigma": 20.0, "intensity": 500.0, "kappa": 0.1, "dt": 0.01, "fill_size": 10}} if clearing is Clearing.POISSON else {}
    for name, params in (("twap", {"aggression": 1.0}), ("all_at_once", {"aggression": 1.0}), ("almgren_chriss", {"risk_aversion": 0.001, "eta": 0.3, "gamma": 0.1, "sigma": 2.0, "aggression": 1.0}), ("passive", {})):
        config, policies = market(clearing=clearing.value, executor_policy=name, params=params, **changes)
        summary = run_market(MarketEnv(config, policies, check=True), {}, seed=1)
        figures = summary.execution["ex"]
        assert 0.0 <= figures["fill_completion"] <= 1.0 and math.isfinite(figures["shortfall_bps"])
        if name != "passive":
            assert figures["fill_completion"] == 1.0, (name, clearing)


def test_the_executor_sees_its_progress():
    config, policies = market()
    env = MarketEnv(config, policies)
    observations, _ = env.reset(seed=0)
    extra = observations["ex_0"][len(env.feature_names) :]
    assert extra.tolist() == [1.0, 1.0, 0.0, 0.0]  # all of it left, all the horizon left, on schedule, no fills
    for _ in range(T):
        observations, *_ = env.step({"ex_0": np.array([0.0, 1.0], dtype=np.float32)})
    remaining, horizon_left, schedule_gap, price_gap = observations["ex_0"][len(env.feature_names) :].tolist()
    assert remaining == 0.0 and horizon_left == 0.0 and schedule_gap == 0.0 and price_gap > 0.0  # done, and it paid above the arrival mid


def test_almgren_chriss_holdings_solve_the_discrete_euler_equation():
    eta, gamma, sigma, risk = 0.3, 0.2, 2.0, 0.01
    kappa = almgren_chriss_kappa(risk_aversion=risk, sigma=sigma, eta=eta, gamma=gamma)
    kappa_tilde_sq = risk * sigma**2 / (eta - gamma / 2)
    x = almgren_chriss_holdings(100, 20, risk_aversion=risk, sigma=sigma, eta=eta, gamma=gamma)
    assert x[0] == pytest.approx(100) and x[-1] == pytest.approx(0, abs=1e-9)
    for j in range(1, 20):  # their eq. 16: x_{j-1} - 2 x_j + x_{j+1} = kappa_tilde^2 x_j (tau = 1)
        assert x[j - 1] - 2 * x[j] + x[j + 1] == pytest.approx(kappa_tilde_sq * x[j], rel=1e-9)
    assert 2 * (math.cosh(kappa) - 1) == pytest.approx(kappa_tilde_sq)
    assert almgren_chriss_holdings(100, 4, risk_aversion=0.0, sigma=sigma, eta=eta, gamma=gamma) == [100, 75, 50, 25, 0]
    with pytest.raises(ValueError, match="eta tilde"):
        almgren_chriss_kappa(risk_aversion=1.0, sigma=1.0, eta=0.1, gamma=0.4)
    action = executor_action(1.0, 0.5, 30.0)
    assert action.tolist() == [0.0, 0.5]  # the even pace is size 0


def test_impact_is_measured_with_positive_slopes_and_repeats_for_a_seed():
    config = load_scenario("execution").market_config()
    policies = {k: v for k, v in market_policies(config).items() if k != "executor"}
    first = estimate_impact(config, policies, population="executor", seeds=6)
    assert first.eta > 2 * first.eta_se and first.gamma > 2 * first.gamma_se and first.sigma > 0
    assert estimate_impact(config, policies, population="executor", seeds=6) == first
    with pytest.raises(ConfigError, match="'maker' is not an executor population of this market; executors: \\['executor'\\]"):
        estimate_impact(config, policies, population="maker")


def test_execution_quick_run_compares_the_learned_executor_with_every_baseline_on_paired_seeds(ray_session, tmp_path):
    scenario = load_scenario("execution", quick=True)
    result = run_scenario(scenario, out=tmp_path, name="ex")
    metrics = result.metrics
    for name in ("twap", "passive", "all_at_once", "almgren_chriss"):
        assert f"vs/{name}/executor_shortfall_bps" in metrics and f"strategy/{name}/executor_fill_completion" in metrics
    assert metrics["strategy/twap/executor_fill_completion"][0] == 1.0
    assert metrics["strategy/all_at_once/executor_impact_bps"][0] != metrics["strategy/twap/executor_impact_bps"][0]
    learned, twap = metrics["executor_shortfall_bps"][0], metrics["strategy/twap/executor_shortfall_bps"][0]
    assert metrics["vs/twap/executor_shortfall_bps"][0] == pytest.approx(learned - twap)
    reader = RunReader(result.run_path)
    rows = comparison_rows(reader.metrics, reader.metrics["ci95"], reader.manifest["config"]["evaluation"])
    assert [(r.strategy, r.role) for r in rows] == [(s, "executor") for s in ("learned", "twap", "passive", "all_at_once", "almgren_chriss")]
    assert evaluation_record(scenario)["compared"] == {"executor": "executor"}
    # a second training seed reuses the baselines' episodes (no trained policy plays in them): the same figures
    settings = training_config(scenario)
    fresh = _evaluate_market(scenario, settings, result.checkpoint, 2, None)
    reuse: dict = {}
    first = _evaluate_market(scenario, settings, result.checkpoint, 2, None, reuse)
    again = _evaluate_market(scenario, settings, result.checkpoint, 2, None, reuse)
    assert sorted(reuse) == ["all_at_once", "almgren_chriss", "passive", "twap"]
    assert fresh == first == again


def test_the_seller_variant_sells_its_order_with_every_baseline():
    scenario = load_scenario("execution_sell", quick=True)
    config = scenario.market_config()
    assert config.populations[0].execution.side == "sell" and config.starting_inventory_of(config.populations[0]) == 200
    policies = {k: v for k, v in market_policies(config).items() if k != "executor"}
    for baseline in scenario.evaluation.baselines:
        own = build_policy(baseline.policy, dict(baseline.params), window=config.window, population="executor", **population_limits(config.populations[0]))
        summary = run_market(MarketEnv(config, policies), {"executor": own}, seed=3)
        figures = summary.execution["executor"]
        assert summary.final_inventory["executor"] <= 0 and figures["fill_completion"] == pytest.approx(-summary.final_inventory["executor"] / 200)
        if baseline.policy != "passive":
            assert figures["fill_completion"] == 1.0 and figures["impact_bps"] != 0.0
