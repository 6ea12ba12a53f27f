"""Vectorized background populations: one call per population plays exactly what one call per agent plays.

Every scripted kind's ``act_batch`` (the execution baselines' too) equals its ``act`` row by row on the
same streams, the desk's batch decode of executor actions gives each executor's child row by row, and a market
driven through the batch path (``MarketEnv(vectorized=True)``, the default) is the per-agent market
(``vectorized=False``) step for step in every clearing mode: observations, rewards, fills, every
agent's action and orders, every account.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from market.agents.policy import BatchPolicy
from market.agents.scripted import build_policy, population_limits
from market.agents.vectorized import row_mean, row_std
from market.data import synthetic
from market.envs.batch import BATCH_MIN, BLOCK, UniformBlocks, decode_executors
from market.envs.execution import ExecutionConfig, ExecutionDesk
from market.envs.market_config import OBS_BOUND, Clearing, MarketConfig, PopulationConfig, Role, RulesConfig, executor_observation_names, observation_index, observation_names
from market.envs.market_v0 import COMPILED_FROM, MarketEnv
from market.errors import ConfigError
from market.exchange import FeeConfig

WINDOW = 10
STEPS = 120  # more than BLOCK: the uniforms are refilled on the way
KINDS = {  # kind: (policy, role, params)
    "noise": ("noise", Role.TAKER, {}),
    "noise_tail": ("noise", Role.TAKER, {"activity": 0.3, "min_size": 0.02, "max_size": 1.0, "size_tail": 2.0, "vol_activity": 100.0, "max_aggression": 0.5}),
    "maker": ("market_maker", Role.MAKER, {"half_spread": 0.05, "jitter": 0.3, "vol_thin": 30.0, "withdraw_prob": 0.1, "withdraw_vol": 0.2}),
    "momentum": ("momentum", Role.TAKER, {"lookback": 5, "threshold": 0.005, "max_inventory": 0.5}),
    "value": ("value", Role.TAKER, {"threshold": 0.1, "size_scale": 0.5, "max_inventory": 0.5}),
    "shock": ("shock", Role.TAKER, {"at_step": 40, "max_steps": STEPS, "duration": 5, "size": 0.5}),
    # the textbook makers: sigma estimated from the observation's returns, and the closed form of Cartea-Jaimungal
    "avellaneda_stoikov": ("avellaneda_stoikov", Role.MAKER, {"gamma": 0.01, "kappa": 0.3, "price": 10_000.0, "steps": STEPS, "size": 2, "max_qty": 10, "max_offset": 20}),
    "cartea_jaimungal": ("cartea_jaimungal", Role.MAKER, {"phi": 0.001, "alpha": 0.01, "kappa": 0.3, "intensity": 1.0, "max_inventory": 5, "size": 1, "max_qty": 10, "max_offset": 20}),
}
ALWAYS_QUOTING = {"avellaneda_stoikov", "cartea_jaimungal"}  # a fixed size: never quiet


def test_row_statistics_equal_numpys_own_on_each_row_for_every_width():
    rng = np.random.default_rng(0)
    for width in (1, 5, 8, 10, 17, 130, 300):
        x = (rng.standard_normal((200, width)) * rng.uniform(0.0, 0.1, (200, 1))).astype(np.float32)
        assert np.array_equal(row_std(x), [np.std(row, dtype=np.float64) for row in x]), width
        assert np.array_equal(row_mean(x), [np.mean(row, dtype=np.float64) for row in x]), width


def test_uniform_blocks_give_each_agent_what_its_own_stream_draws_step_by_step():
    seeds = np.random.SeedSequence(3).spawn(4)
    blocks = UniformBlocks([np.random.default_rng(s) for s in seeds], 3)
    reference = [np.random.default_rng(s) for s in seeds]
    for step in range(2 * BLOCK + 5):
        rows = np.array([0, 2, 3]) if step > BLOCK else np.arange(4)  # agent 1 leaves; the others keep their streams
        expected = [reference[i].random(3) for i in range(4)]
        assert np.array_equal(blocks.take(rows), np.array(expected)[rows]), step


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_act_batch_equals_act_row_by_row_on_the_same_streams(kind):
    name, role, params = KINDS[kind]
    policy = build_policy(name, params, window=WINDOW)
    assert isinstance(policy, BatchPolicy)
    rng = np.random.default_rng(1)
    n, width = 400, len(observation_names(WINDOW))
    obs = np.zeros((n, width), dtype=np.float32)
    obs[:, :WINDOW] = rng.standard_normal((n, WINDOW)) * rng.choice([0.001, 0.01, 0.05, 0.3], (n, 1))
    obs[:, WINDOW:] = rng.uniform(-2.0, 2.0, (n, width - WINDOW))
    obs[:, -1] = 1.0 - rng.integers(0, STEPS, n) / STEPS  # time_left at every step, the shock window included
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(2).spawn(n)]
    k = policy.uniforms_per_step
    uniforms = np.array([np.random.default_rng(s).random(k) for s in np.random.SeedSequence(2).spawn(n)]).reshape(n, k)
    batch = policy.act_batch(obs, uniforms)
    single = np.array([policy.act(row, stream) for row, stream in zip(obs, streams)])
    assert batch.dtype == np.float32 and batch.shape == single.shape
    assert np.array_equal(batch, single)
    quiet = single[:, 2] == -1.0 if role is Role.MAKER else single[:, 0] == 0.0  # no quote (size 0 maps to -1), no order
    if kind not in ALWAYS_QUOTING:
        assert 0 < np.count_nonzero(quiet) < n  # some send orders, some do not
    else:  # the quotes move with each row's inventory, volatility and time left
        assert len(np.unique(batch[:, :2], axis=0)) > n // 4


def _market(clearing: Clearing, **overrides) -> tuple[MarketConfig, dict]:
    fundamental = synthetic.ou(np.random.default_rng(5), STEPS + 1, s0=10_000.0, mean=10_000.0, theta=5.0, sigma=0.3)["close"]
    background = [
        PopulationConfig(name=f"bg_{kind}", role=role, count=4 if role is Role.TAKER else 3, policy=name, params=tuple(params.items()), max_qty=10, max_offset=20)
        for kind, (name, role, params) in KINDS.items()
    ]
    config = MarketConfig(
        populations=(
            PopulationConfig(name="maker", role=Role.MAKER, count=2),
            PopulationConfig(name="taker", role=Role.TAKER, count=3),
            *background,
        ),
        clearing=clearing,
        max_steps=STEPS,
        window=WINDOW,
        fundamental=tuple(float(v) for v in fundamental),
        **overrides,
    )
    policies = {p.name: build_policy(p.policy, p.param_dict, window=WINDOW, population=p.name) for p in background}
    return config, policies


def _play(config: MarketConfig, policies: dict, vectorized: bool, batches: int = len(KINDS), engine: str = "python", check: bool = False) -> list:
    env = MarketEnv(config, policies, vectorized=vectorized, batch_min=1, engine=engine, check=check)  # these small populations too
    assert len(env._batches) == (batches if vectorized else 0)  # the path under test is the one taken
    observations, _ = env.reset(seed=9)
    assert type(env.exchange).__name__ == ("CompiledExchange" if engine == "compiled" else "Exchange")
    actions_rng = np.random.default_rng(10)
    trace = [{a: o.tobytes() for a, o in observations.items()}]
    while env.agents:
        actions = {a: actions_rng.uniform(-1.0, 1.0, env.action_space(a).shape).astype(np.float32) for a in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)
        trace.append(
            (
                {a: o.tobytes() for a, o in observations.items()},
                rewards, terminations, truncations, infos,
                [tuple(f) for f in env.last_fills],
                {a: np.asarray(v, dtype=np.float32).tolist() for a, v in env.last_actions.items()},
                dict(env.last_orders.items()),
                [array.tobytes() for array in env.account_arrays()],
                env.mid,
            )
        )
    return trace


@pytest.mark.parametrize("clearing", list(Clearing))
def test_the_batch_path_plays_the_per_agent_market_exactly_in_every_clearing_mode(clearing):
    config, policies = _market(clearing)
    vectorized = _play(config, policies, True)
    assert vectorized == _play(config, policies, False)
    assert len(vectorized) == STEPS + 1 and sum(len(step[5]) for step in vectorized[1:]) > 0  # it traded
    acted = vectorized[1][6]
    assert {f"bg_{kind}_0" for kind in KINDS} <= set(acted)  # every batch agent's action is recorded


def test_the_batch_path_plays_bankruptcies_exactly_too():
    config, policies = _market(Clearing.BOOK, initial_cash=20_000, initial_inventory=0, credit=10**9, fees=FeeConfig(taker_bps=3000))
    vectorized = _play(config, policies, True)
    assert vectorized == _play(config, policies, False)
    assert any(any(step[2].values()) for step in vectorized[1:])  # learners went bankrupt


@pytest.mark.parametrize("vectorized", [True, False])
def test_the_compiled_exchange_plays_the_python_market_exactly(vectorized):
    config, policies = _market(Clearing.BOOK, fees=FeeConfig(maker_bps=2, taker_bps=5), rules=RulesConfig(transaction_tax_bps=3), max_short=3, initial_inventory=2, initial_cash=60_000)
    compiled = _play(config, policies, vectorized, engine="compiled", check=not vectorized)  # and its invariants hold every step
    assert compiled == _play(config, policies, vectorized)
    assert sum(len(step[5]) for step in compiled[1:]) > 100 and any(step[4][a]["rejected"] for step in compiled[1:] for a in step[4])  # traded, refused


def test_the_compiled_exchange_plays_bankruptcies_exactly_too():
    config, policies = _market(Clearing.BOOK, initial_cash=20_000, initial_inventory=0, credit=10**9, fees=FeeConfig(taker_bps=3000))
    compiled = _play(config, policies, True, engine="compiled")
    assert compiled == _play(config, policies, True)
    assert any(any(step[2].values()) for step in compiled[1:])  # learners went bankrupt


def test_the_engine_is_compiled_for_large_book_markets_and_checked_by_name():
    config, policies = _market(Clearing.BOOK)
    assert MarketEnv(config, policies).engine == "python"  # a small market: the reference exchange
    big = replace(config, populations=tuple(replace(p, count=COMPILED_FROM) if p.name == "bg_noise" else p for p in config.populations))
    assert MarketEnv(big, policies).engine == "compiled"
    assert MarketEnv(replace(big, clearing=Clearing.CALL), policies).engine == "python"
    with pytest.raises(ConfigError, match="engine: expected one of python, compiled, auto, got 'fast'"):
        MarketEnv(config, policies, engine="fast")
    with pytest.raises(ConfigError, match="the compiled exchange clears a book"):
        MarketEnv(replace(config, clearing=Clearing.CALL), policies, engine="compiled")


def test_only_populations_of_batch_min_agents_or_more_decide_in_one_call():
    config, policies = _market(Clearing.BOOK)
    assert not MarketEnv(config, policies)._batches  # populations of 3 and 4: one call per agent is faster
    big = replace(config, populations=tuple(replace(p, count=BATCH_MIN) if p.name == "bg_noise" else p for p in config.populations))
    assert [b.names[0] for b in MarketEnv(big, policies)._batches] == ["bg_noise_0"]


# ---------------------------------------------------------------------------- executors
EXECUTORS = {  # kind: (policy, params, parent order)
    "twap": ("twap", {"aggression": 0.3}, ExecutionConfig(side="buy", quantity=97, horizon=23, max_pace=7.0)),
    "twap_centered": ("twap", {"aggression": 0.7, "pace": 1.5}, ExecutionConfig(side="sell", quantity=60, horizon=20, aggression_center=0.4)),
    "passive": ("passive", {}, ExecutionConfig(side="sell", quantity=50, horizon=15)),
    "all_at_once": ("all_at_once", {"aggression": 0.2}, ExecutionConfig(side="buy", quantity=30, horizon=10)),
    "almgren_chriss": ("almgren_chriss", {"risk_aversion": 0.01, "eta": 0.3, "gamma": 0.1, "sigma": 2.0, "aggression": 0.4}, ExecutionConfig(side="sell", quantity=80, horizon=25)),
}
EXECUTOR_STEPS = 30  # past every horizon: the executors fall idle


def _executor_population(kind: str, count: int) -> PopulationConfig:
    name, params, order = EXECUTORS[kind]
    return PopulationConfig(name=f"ex_{kind}", role=Role.EXECUTOR, count=count, policy=name, params=tuple(params.items()), max_qty=20, max_offset=10, initial_inventory=200, execution=order)


@pytest.mark.parametrize("kind", sorted(EXECUTORS))
def test_executor_act_batch_equals_act_row_by_row(kind):
    population = _executor_population(kind, 1)
    order = population.execution
    policy = build_policy(population.policy, population.param_dict, window=WINDOW, population=population.name, **population_limits(population))
    assert isinstance(policy, BatchPolicy) and policy.uniforms_per_step == 0
    rng = np.random.default_rng(3)
    n, width = 500, len(executor_observation_names(WINDOW))
    obs = rng.uniform(-2.0, 2.0, (n, width)).astype(np.float32)
    spread = observation_index("spread", WINDOW)
    obs[:, spread] = np.where(rng.random(n) < 0.2, OBS_BOUND, rng.uniform(0.0, 3.0, n))  # one side of the book empty, or a spread
    step = rng.integers(0, order.horizon + 3, n)  # within the horizon, its last step, and after it
    executed = np.minimum(rng.integers(0, order.quantity + 1, n), order.quantity)
    obs[:, observation_index("remaining", WINDOW)] = 1.0 - executed / order.quantity  # as the env writes them, float32
    obs[:, observation_index("horizon_left", WINDOW)] = 1.0 - np.minimum(step, order.horizon) / order.horizon
    batch = policy.act_batch(obs, np.empty((n, 0)))
    single = np.array([policy.act(row, rng) for row in obs])
    assert batch.dtype == np.float32 and batch.shape == single.shape == (n, 2)
    assert np.array_equal(batch, single)
    if kind in ("passive", "almgren_chriss"):  # the rows' own spread or progress shows in their actions
        assert len(np.unique(batch, axis=0)) > 20


def test_the_desks_batch_decode_gives_each_executor_its_own_child_row_by_row():
    rng = np.random.default_rng(4)
    orders = [
        ExecutionConfig(side=str(rng.choice(["buy", "sell"])), quantity=int(rng.integers(1, 200)), horizon=int(rng.integers(1, 12)),
                        max_pace=None if rng.random() < 0.5 else float(rng.uniform(1.5, 40.0)), sweep_offset=None if rng.random() < 0.5 else int(rng.integers(1, 60)),
                        aggression_center=float(rng.uniform(-0.9, 0.9)) if rng.random() < 0.5 else 0.0)
        for _ in range(300)
    ]
    rows = np.arange(300) * 2 + 5  # executors among other agents
    max_offsets = rng.integers(1, 30, 300).tolist()
    desk = ExecutionDesk(rows.tolist(), orders, max_offsets, rng.integers(0, 300, 300).astype(float).tolist())
    desk.start(10_000.0)
    quantity = np.array([o.quantity for o in orders])
    sign = np.array([o.sign for o in orders])
    sent = last_steps = 0
    for step in range(13):
        for tick in (1, 5):
            actions = rng.uniform(-1.0, 1.0, (300, 2)).astype(np.float32)
            ends = rng.random((300, 2)) < 0.2
            actions[ends] = rng.choice([-1.0, 0.0, 1.0], ends.sum())  # the ends and the middle of the range
            executed = np.minimum(rng.integers(0, 250, 300), quantity) * (rng.random(300) < 0.9)
            inventory = desk.start_inventory + executed * sign
            resting = rng.integers(0, 40, 300) * (rng.random(300) < 0.3)
            reference = int(rng.integers(5, 20_000))
            sending, placed = decode_executors(actions, desk, rows, reference=reference, step=step, inventory=inventory, resting=resting, tick=tick)
            one_by_one = [desk.child(int(row), float(a[0]), float(a[1]), reference=reference, step=step, inventory=float(inv), resting=int(r), tick=tick) for row, a, inv, r in zip(rows, actions, inventory, resting)]
            expected = {k: child for k, child in enumerate(one_by_one) if child is not None}
            assert sending.tolist() == sorted(expected)
            assert [[(side.value, price, qty)] for [(side, price, qty)] in placed.lists()] == [[("buy" if s > 0 else "sell", price, qty)] for s, price, qty in expected.values()]
            assert all(type(v) is int for [(_, price, qty)] in placed.lists() for v in (price, qty))
            left = quantity - executed
            lots = np.zeros(300, dtype=np.int64)
            lots[sending] = [qty for [(_, _, qty)] in placed.lists()]
            horizon = np.array([o.horizon for o in orders])
            assert (lots <= np.maximum(0, left - resting)).all() and not lots[horizon <= step].any()  # never beyond the room, nothing after the horizon
            ending = (horizon - step == 1) & (left - resting > 0)
            assert np.array_equal(lots[ending], (left - resting)[ending])  # the last step sweeps all the room
            sent, last_steps = sent + len(sending), last_steps + int(ending.sum())
    assert sent > 1_000 and last_steps > 100


def _executor_market(clearing: Clearing) -> tuple[MarketConfig, dict]:
    executors = [_executor_population(kind, 3) for kind in EXECUTORS]
    background = [
        PopulationConfig(name="bg_maker", role=Role.MAKER, count=4, policy="market_maker", params=(("jitter", 0.1),), initial_inventory=0),
        PopulationConfig(name="bg_noise", role=Role.TAKER, count=6, policy="noise", params=(("activity", 0.6),)),
    ]
    learners = PopulationConfig(name="executor", role=Role.EXECUTOR, count=2, max_qty=20, initial_inventory=200, execution=ExecutionConfig(side="sell", quantity=60, horizon=20))
    config = MarketConfig(populations=(learners, *executors, *background), clearing=clearing, max_steps=EXECUTOR_STEPS, window=WINDOW)
    policies = {p.name: build_policy(p.policy, p.param_dict, window=WINDOW, population=p.name, **population_limits(p)) for p in (*executors, *background)}
    return config, policies


@pytest.mark.parametrize("clearing", [Clearing.BOOK, Clearing.CALL])
def test_the_batch_path_plays_the_per_agent_market_of_executors_exactly(clearing):
    config, policies = _executor_market(clearing)
    batches = len(EXECUTORS) + 2
    vectorized = _play(config, policies, True, batches)
    assert vectorized == _play(config, policies, False, batches)
    assert len(vectorized) == EXECUTOR_STEPS + 1
    executors = {f"ex_{kind}_{i}" for kind in EXECUTORS for i in range(3)}
    traded = {name for step in vectorized[1:] for _, _, maker, taker, *_ in step[5] for name in (maker, taker)}
    assert executors <= traded  # every batch executor worked its order
    assert not any(step[7].get(name) for step in vectorized[-3:] for name in executors)  # and sent nothing after its horizon


def test_the_compiled_exchange_plays_the_market_of_executors_exactly():
    config, policies = _executor_market(Clearing.BOOK)
    batches = len(EXECUTORS) + 2
    assert _play(config, policies, True, batches, engine="compiled") == _play(config, policies, True, batches)
