"""Playing and recording market episodes: the record matches the env, money and shares add up, seeds repeat.

Also the headline property of the default ecology: its mid's returns show the stylized facts of real prices.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from market.agents.scripted import build_policy
from market.data.facts import EXCESS_KURTOSIS, FACT_KEYS, HILL_TAIL_INDEX, MAX_ABS_ACF_2_20, MEAN_ABS_ACF_1_10, MIN_RETURNS, autocorrelation
from market.envs.market_config import Clearing, MarketConfig, PopulationConfig
from market.envs.market_v0 import DEALER_ACCOUNT, MarketEnv
from market.errors import ConfigError, RecordError
from market.exchange import EXCHANGE_ACCOUNT, FeeConfig, Fill, Side
from market.records import RunReader
from market.records import schema as s
from market.records.io import RunWriter
from market.simulation import (
    DEFAULT_STEPS,
    ECOLOGY,
    FLUSH_STEPS,
    INITIAL_INVENTORY,
    INITIAL_PRICE,
    M_MEAN_RETURN,
    M_STEPS,
    M_TRADES,
    M_VOLUME,
    SimulationSpec,
    SummaryCollector,
    default_fundamental,
    play_episode,
    run_market,
    scripted_market,
    simulate,
)

SMALL = {"makers": 2, "takers": 2, "noise": 3, "momentum": 2, "value": 2}
SMALL_AGENTS = sum(SMALL.values())
BPS = 10_000


def small_market(steps: int = 300, clearing: str = "book", seed: int = 11) -> tuple[MarketEnv, dict]:
    config, policies = scripted_market(SimulationSpec(**SMALL, steps=steps, clearing=clearing, seed=seed))
    return MarketEnv(config), policies


def record(tmp_path: Path, env: MarketEnv, policies: dict, *, seed: int, name: str = "run") -> tuple[Path, list[list[Fill]]]:
    """Run and record an episode; also return the fills the env reported after every step."""
    fills: list[list[Fill]] = []
    with RunWriter(tmp_path, name, kind=s.KIND_SIMULATE, config={}, seed=seed) as writer:
        run_market(env, policies, seed=seed, writer=writer, progress=lambda step, total: fills.append(list(env.last_fills)))
    return tmp_path / name, fills


# ---------------------------------------------------------------------------- the record
def test_simulate_writes_a_complete_run_record_with_summary_and_facts(tmp_path):
    result = simulate(SimulationSpec(**SMALL, steps=400, clearing="book", seed=3), out=tmp_path, name="sim")
    reader = RunReader(result.path)  # verifies every table's checksum
    assert result.path == tmp_path / "sim"
    assert reader.kind == s.KIND_SIMULATE and reader.manifest[s.M_SEED] == 3
    assert set(reader.tables) == {s.STEPS, s.TRADES, s.BOOK, s.FLOWS, s.FLOW_PARTS}
    metrics = reader.metrics
    assert metrics[M_STEPS] == 400
    assert metrics[M_TRADES] == reader.num_rows(s.TRADES) == result.summary.trades > 0
    assert metrics[M_VOLUME] == int(reader.read(s.TRADES)[s.QTY].sum())
    assert set(FACT_KEYS) <= set(metrics)
    assert set(metrics[M_MEAN_RETURN]) == set(ECOLOGY)
    config = reader.manifest[s.M_CONFIG]
    assert config["simulation"]["makers"] == SMALL["makers"] and config["simulation"]["clearing"] == "book"
    assert config["ecology"]["maker"]["policy"] == "market_maker"
    assert config["market"]["fundamental"] == [] and config["fundamental"]["source"] == "ou"


def test_default_run_name_is_kind_seed_and_utc_time(tmp_path):
    result = simulate(SimulationSpec(makers=1, takers=1, noise=0, momentum=0, value=0, steps=20, seed=42), out=tmp_path)
    assert result.path.parent == tmp_path
    assert result.path.name.startswith("simulate-seed42-") and result.path.name.endswith("Z")
    RunReader(result.path)


def test_steps_table_has_one_row_per_agent_per_step_with_each_roles_action(tmp_path):
    env, policies = small_market(steps=FLUSH_STEPS + 50)  # crosses a flush boundary
    path, _ = record(tmp_path, env, policies, seed=5)
    steps = RunReader(path).read(s.STEPS)
    assert len(steps) == (FLUSH_STEPS + 50) * SMALL_AGENTS
    per_step = steps.groupby(s.STEP)[s.AGENT].apply(list)
    assert list(per_step.index) == list(range(FLUSH_STEPS + 50))
    assert all(agents == env.all_agents for agents in per_step)
    widths = steps.groupby(s.AGENT)[s.ACTION].apply(lambda actions: {len(a) for a in actions})
    assert widths["maker_0"] == {3} and widths["taker_0"] == {2} and widths["value_1"] == {2}


def test_recorded_price_is_the_mid_and_the_last_row_is_the_env_state(tmp_path):
    env, policies = small_market(steps=200)
    path, _ = record(tmp_path, env, policies, seed=6)
    steps = RunReader(path).read(s.STEPS)
    last = steps[steps[s.STEP] == 199].set_index(s.AGENT)
    cash, position, equity, reward = env.account_arrays()
    assert np.array_equal(last.loc[env.all_agents, s.CASH].to_numpy(), cash)
    assert np.array_equal(last.loc[env.all_agents, s.POSITION].to_numpy(), position)
    assert np.array_equal(last.loc[env.all_agents, s.EQUITY].to_numpy(), equity)
    assert np.array_equal(last.loc[env.all_agents, s.REWARD].to_numpy(), reward)
    assert set(last[s.PRICE]) == {env.mid}


def test_trade_rows_are_exactly_the_fills_the_env_produced(tmp_path):
    env, policies = small_market(steps=300)
    path, fills = record(tmp_path, env, policies, seed=7)
    trades = RunReader(path).read(s.TRADES)
    expected = [(step, *fill) for step, step_fills in enumerate(fills) for fill in step_fills]
    recorded = list(
        zip(
            trades[s.STEP],
            trades[s.PRICE],
            trades[s.QTY],
            trades[s.MAKER],
            trades[s.TAKER],
            trades[s.MAKER_ORDER_ID],
            trades[s.TAKER_ORDER_ID],
            trades[s.TAKER_SIDE],
            strict=True,
        )
    )
    assert len(expected) > 100
    assert recorded == [(step, float(price), qty, m, t, mo, to, str(side)) for step, price, qty, m, t, mo, to, side in expected]


def test_spread_capture_is_each_makers_edge_against_the_mid_before_its_fills(tmp_path):
    env, policies = small_market(steps=300)
    config, _ = scripted_market(SimulationSpec(**SMALL, steps=300, clearing="book", seed=11))
    fresh = MarketEnv(config)
    summary = run_market(fresh, policies, seed=8)
    path, _ = record(tmp_path, env, policies, seed=8)
    reader = RunReader(path)
    mids = reader.read(s.STEPS).groupby(s.STEP)[s.PRICE].first()
    before = [summary.initial_mid, *mids.to_numpy()[:-1]]  # the mid each step started from
    trades = reader.read(s.TRADES)
    sign = np.where(trades[s.TAKER_SIDE] == s.BUY, 1.0, -1.0)  # the maker sold to a buyer, or bought from a seller
    trades["edge"] = sign * (trades[s.PRICE] - np.asarray(before)[trades[s.STEP]]) * trades[s.QTY]
    per_agent = trades.groupby(s.MAKER)["edge"].sum()
    for population in config.populations:
        expected = np.mean([per_agent.get(agent, 0.0) for agent in population.agent_names()])
        assert summary.spread_capture[population.name] == pytest.approx(expected, abs=1e-9), population.name
    assert summary.spread_capture["maker"] > 0  # scripted makers quote around the mid and earn from takers


def test_drawdown_and_fundamental_gaps_are_those_of_the_recorded_mids(tmp_path):
    env, policies = small_market(steps=250)
    path, _ = record(tmp_path, env, policies, seed=9)
    summary = run_market(small_market(steps=250)[0], policies, seed=9)
    mids = np.r_[summary.initial_mid, RunReader(path).read(s.STEPS).groupby(s.STEP)[s.PRICE].first().to_numpy()]
    # drawdowns are negative fractions everywhere (market.stats): the deepest fall below a running peak
    assert summary.max_drawdown == pytest.approx(np.min(mids / np.maximum.accumulate(mids) - 1))
    assert -1 < summary.max_drawdown < 0
    fundamental = np.asarray(env.config.fundamental[1 : len(mids)])
    assert len(summary.fundamental_gaps) == len(mids) - 1 == 250
    np.testing.assert_allclose(summary.fundamental_gaps, np.abs(np.log(mids[1:] / fundamental)))
    assert summary.halted_steps == 0  # no circuit breaker in this market


def test_book_rows_are_the_top_levels_after_each_step(tmp_path):
    env, policies = small_market(steps=150)
    path, _ = record(tmp_path, env, policies, seed=8)
    book = RunReader(path).read(s.BOOK)
    assert set(book[s.STEP]) <= set(range(150)) and book[s.LEVEL].max() <= 4
    last = book[book[s.STEP] == 149]
    depth = env.exchange.book.depth(5)
    for side, levels in ((s.BID, depth.bids), (s.ASK, depth.asks)):
        rows = last[last[s.SIDE] == side].sort_values(s.LEVEL)
        assert list(zip(rows[s.PRICE], rows[s.QTY])) == [(float(p), q) for p, q in levels]
    bids, asks = book[book[s.SIDE] == s.BID], book[book[s.SIDE] == s.ASK]
    best = pd.concat([bids[bids[s.LEVEL] == 0].set_index(s.STEP)[s.PRICE], asks[asks[s.LEVEL] == 0].set_index(s.STEP)[s.PRICE]], axis=1).dropna()
    assert (best.iloc[:, 0] < best.iloc[:, 1]).all(), "the recorded book is never crossed"


def test_cash_and_shares_in_the_final_rows_are_conserved_and_match_the_trades(tmp_path):
    config, policies = scripted_market(SimulationSpec(**SMALL, steps=400, clearing="book", seed=9))
    env = MarketEnv(replace(config, fees=FeeConfig(maker_bps=1, taker_bps=4)))
    path, _ = record(tmp_path, env, policies, seed=9)
    reader = RunReader(path)
    steps, trades = reader.read(s.STEPS), reader.read(s.TRADES)
    final = steps[steps[s.STEP] == steps[s.STEP].max()].set_index(s.AGENT)
    config, fees = env.config, env.exchange.ledger.fees
    # replay every fill from the trades table: shares move, cash moves, both sides pay their fee
    cash = dict.fromkeys(env.all_agents, config.initial_cash)
    position = dict.fromkeys(env.all_agents, config.initial_inventory)
    fees_paid = 0
    for row in trades.itertuples(index=False):
        notional = int(row.price) * row.qty
        maker_fee, taker_fee = notional * fees.maker_bps // BPS, notional * fees.taker_bps // BPS
        buyer, seller = (row.taker, row.maker) if row.taker_side == Side.BUY else (row.maker, row.taker)
        buyer_fee, seller_fee = (taker_fee, maker_fee) if buyer == row.taker else (maker_fee, taker_fee)
        cash[buyer] -= notional + buyer_fee
        cash[seller] += notional - seller_fee
        position[buyer] += row.qty
        position[seller] -= row.qty
        fees_paid += buyer_fee + seller_fee
    assert fees_paid > 0
    assert final[s.CASH].to_dict() == cash and final[s.POSITION].to_dict() == position
    # conservation: the agents' cash plus the fees equals what was deposited; shares only moved
    ledger = env.exchange.ledger
    assert int(final[s.CASH].sum()) + fees_paid == len(env.all_agents) * config.initial_cash == ledger.deposited_cash
    assert fees_paid == ledger.cash(EXCHANGE_ACCOUNT)
    assert int(final[s.POSITION].sum()) == len(env.all_agents) * config.initial_inventory == ledger.deposited_inventory


def test_same_seed_gives_identical_tables_and_another_seed_does_not(tmp_path):
    runs = [simulate(SimulationSpec(**SMALL, steps=300, seed=seed), out=tmp_path, name=name).path for seed, name in ((21, "a"), (21, "b"), (22, "c"))]
    readers = [RunReader(path) for path in runs]
    for table in (s.STEPS, s.TRADES, s.BOOK):
        first, second, other = (reader.read(table) for reader in readers)
        pd.testing.assert_frame_equal(first, second)
        assert not first.equals(other)
    assert readers[0].metrics == readers[1].metrics


@pytest.mark.parametrize("clearing", list(Clearing))
def test_each_clearing_mode_trades_moves_the_price_and_conserves_the_ledger(tmp_path, clearing):
    result = simulate(SimulationSpec(**SMALL, steps=300, clearing=clearing, seed=4), out=tmp_path, name=str(clearing))
    reader = RunReader(result.path)
    trades, steps = reader.read(s.TRADES), reader.read(s.STEPS)
    assert len(trades) == result.summary.trades > 50
    assert steps[s.PRICE].nunique() > 10, "the price moves"
    assert np.all(np.isfinite([result.summary.facts[key] for key in (EXCESS_KURTOSIS, MEAN_ABS_ACF_1_10)]))
    if clearing is Clearing.IMPACT:
        assert set(trades[s.MAKER]) == {DEALER_ACCOUNT}
    if clearing is Clearing.POISSON:  # the outside order flow is on one side of every fill
        assert ((trades[s.MAKER] == DEALER_ACCOUNT) | (trades[s.TAKER] == DEALER_ACCOUNT)).all()
    if clearing is not Clearing.BOOK:
        assert reader.num_rows(s.BOOK) == 0, "nothing rests between steps in batch clearing"
    # every lot an agent bought, another sold; in impact and poisson clearing the dealer may be on the other side
    final = steps[steps[s.STEP] == 299]
    buys = trades[s.TAKER_SIDE] == s.BUY
    dealer_sold = trades[s.QTY].where(buys, -trades[s.QTY]).where(trades[s.MAKER] == DEALER_ACCOUNT, 0).sum()
    dealer_sold += trades[s.QTY].where(~buys, -trades[s.QTY]).where(trades[s.TAKER] == DEALER_ACCOUNT, 0).sum()
    assert int(final[s.POSITION].sum()) == SMALL_AGENTS * INITIAL_INVENTORY + int(dealer_sold)


def test_progress_is_called_after_every_step_with_the_total(tmp_path):
    calls: list[tuple[int, int]] = []
    simulate(SimulationSpec(makers=1, takers=2, noise=0, momentum=0, value=0, steps=30, seed=1), out=tmp_path, name="p", progress=lambda i, n: calls.append((i, n)))
    assert calls == [(i, 30) for i in range(1, 31)]


def test_mixed_market_records_env_driven_agents_beside_the_pettingzoo_ones(tmp_path):
    populations = (
        PopulationConfig(name="bg_maker", role="maker", count=2, policy="market_maker"),
        PopulationConfig(name="bg_noise", role="taker", count=3, policy="noise"),
        PopulationConfig(name="learner", role="taker", count=2),
    )
    config = MarketConfig(populations=populations, max_steps=120, seed=0)
    env = MarketEnv(config, {"bg_maker": build_policy("market_maker", {}, window=10), "bg_noise": build_policy("noise", {}, window=10)})
    path, _ = record(tmp_path, env, {"learner": build_policy("noise", {"activity": 1.0}, window=10)}, seed=2)
    steps = RunReader(path).read(s.STEPS)
    assert len(steps) == 120 * 7
    assert set(steps[s.AGENT]) == {"bg_maker_0", "bg_maker_1", "bg_noise_0", "bg_noise_1", "bg_noise_2", "learner_0", "learner_1"}
    acted = steps[steps[s.AGENT].str.startswith("learner")][s.ACTION]
    assert all(np.all(np.isfinite(a)) and np.any(a != 0) for a in acted), "every learner acted every step"


def test_default_fundamental_is_seeded_and_stays_near_the_starting_price():
    first, again, other = default_fundamental(3, 5000), default_fundamental(3, 5000), default_fundamental(4, 5000)
    assert len(first) == 5001 and np.array_equal(first, again) and not np.array_equal(first, other)
    assert np.all(np.abs(first / INITIAL_PRICE - 1.0) < 0.05)
    assert np.std(np.diff(np.log(first))) > 0


def test_value_traders_follow_a_given_fundamental(tmp_path):
    steps = 200
    rich = [INITIAL_PRICE * 1.03] * (steps + 1)  # 3% above the market all along: value traders buy
    result = simulate(SimulationSpec(makers=2, takers=2, noise=0, momentum=0, value=2, steps=steps, seed=0), out=tmp_path, name="v", fundamental=rich)
    reader = RunReader(result.path)
    steps_table = reader.read(s.STEPS)
    final = steps_table[steps_table[s.STEP] == steps - 1].set_index(s.AGENT)
    assert (final.loc[["value_0", "value_1"], s.POSITION] > INITIAL_INVENTORY).all()
    assert reader.manifest[s.M_CONFIG]["fundamental"]["source"] == "given"
    assert result.summary.final_mid > INITIAL_PRICE, "their buying lifts the price toward the fundamental"


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"makers": -1}, r"^makers: expected a non-negative integer, got -1$"),
        ({"noise": 2.5}, r"^noise: expected a non-negative integer, got 2\.5$"),
        ({"makers": 0, "takers": 0, "noise": 0, "momentum": 0, "value": 0}, r"^populations: expected at least one trader"),
        ({"steps": 0}, r"^steps: expected a positive integer, got 0$"),
        ({"clearing": "auction"}, r"^clearing: expected one of \['book', 'call', 'impact', 'poisson'\], got 'auction'$"),
    ],
)
def test_bad_simulation_settings_name_the_key(overrides, message):
    settings = {**SMALL, "steps": 10, "clearing": "book", "seed": 0, **overrides}
    with pytest.raises(ConfigError, match=message):
        SimulationSpec(**settings)


def test_run_market_refuses_a_population_without_a_policy():
    env, policies = small_market(steps=10)
    with pytest.raises(ConfigError, match=r"no policy for the population\(s\) \['value'\]"):
        run_market(env, {k: v for k, v in policies.items() if k != "value"}, seed=0)


def test_a_market_driven_wholly_inside_the_env_plays_to_max_steps():
    driven = MarketConfig(
        populations=(
            PopulationConfig(name="bg", role="taker", count=4, policy="noise"),
            PopulationConfig(name="mm", role="maker", count=1, policy="market_maker"),
        ),
        max_steps=12,
    )
    policies = {"bg": build_policy("noise", {}, window=10), "mm": build_policy("market_maker", {}, window=10)}
    summary = run_market(MarketEnv(driven, policies), {}, seed=0)
    assert summary.steps == 12 and summary.trades > 0
    assert summary == run_market(MarketEnv(driven, policies), {}, seed=0)  # seeded: the same episode again


def test_an_existing_run_name_is_refused_and_left_untouched(tmp_path):
    first = simulate(SimulationSpec(makers=1, takers=1, noise=0, momentum=0, value=0, steps=10, seed=0), out=tmp_path, name="taken")
    before = (first.path / s.MANIFEST_FILE).read_bytes()
    with pytest.raises(RecordError, match="already exists"):
        simulate(SimulationSpec(makers=1, takers=1, noise=0, momentum=0, value=0, steps=10, seed=1), out=tmp_path, name="taken")
    assert (first.path / s.MANIFEST_FILE).read_bytes() == before


def test_population_counts_and_steps_beyond_the_limits_are_refused_before_anything_is_built():
    from market.limits import MAX_AGENTS, MAX_AGENTS_PER_POPULATION, MAX_STEPS

    with pytest.raises(ConfigError, match=rf"^makers: 1,000,000,000 is over the limit of {MAX_AGENTS_PER_POPULATION:,}$"):
        SimulationSpec(makers=10**9)
    with pytest.raises(ConfigError, match=rf"^populations: .* is over the limit of {MAX_AGENTS:,}$"):
        SimulationSpec(makers=MAX_AGENTS_PER_POPULATION, takers=MAX_AGENTS_PER_POPULATION)
    with pytest.raises(ConfigError, match=rf"^steps: .* is over the limit of {MAX_STEPS:,}$"):
        SimulationSpec(steps=MAX_STEPS + 1)
    with pytest.raises(ConfigError, match=r"^seed: expected a non-negative integer, got -1$"):
        SimulationSpec(seed=-1)


def test_the_default_spec_is_the_default_ecology_and_a_full_run():
    spec = SimulationSpec()
    assert spec.counts() == {"maker": 4, "taker": 4, "noise": 8, "momentum": 4, "value": 4}
    assert spec.steps == DEFAULT_STEPS and spec.clearing is Clearing.BOOK and spec.seed == 0


def test_a_run_too_short_for_the_facts_records_none_and_a_long_enough_one_records_all(tmp_path):
    short = simulate(SimulationSpec(makers=1, takers=1, noise=0, momentum=0, value=0, steps=MIN_RETURNS - 1, seed=0), out=tmp_path, name="short")
    enough = simulate(SimulationSpec(makers=1, takers=1, noise=0, momentum=0, value=0, steps=MIN_RETURNS, seed=0), out=tmp_path, name="enough")
    assert short.summary.facts == {} and not set(FACT_KEYS) & set(RunReader(short.path).metrics)
    assert set(enough.summary.facts) == set(FACT_KEYS) <= set(RunReader(enough.path).metrics)


class _StepLog:
    """An observer that notes what the loop told it: the reset, each step with its mid, the end."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, float]] = []

    def start(self, env: MarketEnv) -> None:
        self.events.append(("start", env.step_count, env.mid))

    def observe(self, step: int, env: MarketEnv) -> None:
        self.events.append(("step", step, env.mid))

    def finish(self, env: MarketEnv) -> None:
        self.events.append(("finish", env.step_count, env.mid))


def test_an_added_observer_sees_every_step_and_leaves_the_summary_unchanged():
    env, policies = small_market(steps=120)
    log, again = _StepLog(), _StepLog()
    collector = SummaryCollector()
    play_episode(env, policies, seed=3, observers=[log, collector])
    plain = run_market(small_market(steps=120)[0], policies, seed=3, observers=[again])
    assert again.events == log.events
    assert [kind for kind, _, _ in log.events] == ["start", *["step"] * 120, "finish"]
    assert [step for kind, step, _ in log.events if kind == "step"] == list(range(120))
    mids = [mid for kind, _, mid in log.events if kind == "step"]
    summary = collector.summary()
    assert summary == plain and summary.final_mid == mids[-1] and summary.initial_mid == log.events[0][2]


# ---------------------------------------------------------------------------- the default ecology
FACTS_STEPS = 10_000
FACTS_SEED = 0


@pytest.mark.slow
@pytest.mark.parametrize("driven", [False, True], ids=["acted_for_by_the_runner", "driven_inside_the_env"])
def test_default_ecology_mid_returns_show_the_stylized_facts_of_real_prices(driven):
    """Measured on the mid's per-step log returns of the default market (4/4/8/4/4 traders, book clearing).

    Driven inside the env (how ``market simulate --record populations`` runs it) the traders draw from
    the env's streams, not the runner's: another episode of the same market, in the same band.
    """
    spec = SimulationSpec(steps=FACTS_STEPS, seed=FACTS_SEED)
    config, policies = spec.market(driven=driven)
    env = MarketEnv(config, policies) if driven else MarketEnv(config)
    mids = [float(config.initial_price)]
    facts = run_market(env, {} if driven else policies, seed=spec.seed, progress=lambda step, total: mids.append(env.mid)).facts
    assert 2.0 <= facts[HILL_TAIL_INDEX] <= 5.0, facts  # fat tails, near the cubic law
    assert facts[EXCESS_KURTOSIS] >= 3.0, facts
    assert facts[MEAN_ABS_ACF_1_10] >= 0.04, facts  # volatility clustering
    assert facts[MAX_ABS_ACF_2_20] < 0.06, facts  # no linear memory beyond lag 1
    lag_1 = autocorrelation(np.diff(np.log(mids)), 1)[0]
    assert -0.1 < lag_1 < 0.06, lag_1  # a little bid-ask bounce at most


# ---------------------------------------------------------------------------- large populations in aggregate
def _driven_market(steps: int) -> tuple[MarketEnv, dict]:
    """Two learning takers and the small ecology driven inside the env (its populations given policies)."""
    config, policies = scripted_market(SimulationSpec(**SMALL, steps=steps, seed=5))
    driven = tuple(replace(p, policy=ECOLOGY[p.name].policy, params=ECOLOGY[p.name].params) for p in config.populations)
    learners = (PopulationConfig(name="learner", role="taker", count=2, max_qty=20, max_offset=50),)
    env = MarketEnv(replace(config, populations=learners + driven), policies)
    return env, {"learner": build_policy("noise", {"activity": 0.5}, window=config.window)}


def test_a_populations_record_holds_each_driven_population_in_aggregate_and_the_learners_row_by_row(tmp_path):
    steps = 60
    runs = {}
    for mode in ("agents", "populations"):
        env, policies = _driven_market(steps)
        orders: list[dict[str, int]] = []
        with RunWriter(tmp_path, mode, kind=s.KIND_SIMULATE, config={}, seed=5) as writer:
            run_market(env, policies, seed=5, writer=writer, record=mode,
                       progress=lambda step, total: orders.append({a: len(o) for a, o in env.last_orders.items()}))
        runs[mode] = (RunReader(tmp_path / mode), orders)
    everyone, orders = runs["agents"]
    aggregate, _ = runs["populations"]
    assert s.POPULATIONS not in everyone.tables
    assert set(aggregate.read(s.STEPS)[s.AGENT]) == {"learner_0", "learner_1"}
    rows = everyone.read(s.STEPS)
    trades = everyone.read(s.TRADES)
    populations = aggregate.read(s.POPULATIONS)
    assert len(populations) == steps * len(SMALL) and set(populations[s.POPULATION]) == set(ECOLOGY)
    rows["population"] = rows[s.AGENT].str.rsplit("_", n=1).str[0]
    sums = rows.groupby([s.STEP, "population"])[[s.CASH, s.POSITION, s.EQUITY]].sum()
    got = populations.set_index([s.STEP, s.POPULATION])
    for column in (s.CASH, s.POSITION, s.EQUITY):
        assert np.array_equal(got[column].to_numpy(), sums.loc[got.index, column].to_numpy())  # the same episode, summed
    sent = populations[s.ORDERS].to_numpy()
    expected = [sum(n for a, n in orders[step].items() if a.rsplit("_", 1)[0] == name) for step, name in got.index]
    assert np.array_equal(sent, expected) and sent.sum() > 0
    took_part = [
        int(((trades[s.STEP] == step) & (trades[s.MAKER].str.startswith(f"{name}_") | trades[s.TAKER].str.startswith(f"{name}_"))).sum())
        for step, name in got.index
    ]
    assert np.array_equal(populations[s.FILLS].to_numpy(), took_part) and sum(took_part) > 0
    assert (populations[s.COUNT] == populations[s.POPULATION].map(SimulationSpec(**SMALL).counts())).all()  # nobody went bankrupt


def test_simulate_with_populations_drives_the_ecology_inside_the_env_and_records_it_in_aggregate(tmp_path):
    spec = SimulationSpec(**SMALL, steps=40, seed=3)
    result = simulate(spec, out=tmp_path, name="aggregate", record="populations")
    reader = RunReader(result.path)
    config = reader.manifest[s.M_CONFIG]
    assert config["record"] == "populations" and config["market"]["populations"][0]["policy"] == "market_maker"
    assert len(reader.read(s.STEPS)) == 0  # every trader is background: no agent rows
    populations = reader.read(s.POPULATIONS)
    assert len(populations) == 40 * len(SMALL) and populations[s.ORDERS].sum() > 0
    assert result.summary.trades == len(reader.read(s.TRADES)) > 0
    with pytest.raises(ConfigError, match=r"^record: expected one of agents, populations, got 'everyone'$"):
        simulate(spec, out=tmp_path, name="bad", record="everyone")


def test_a_market_record_keeps_a_large_driven_background_in_aggregate_and_learners_row_by_row(tmp_path):
    from market.envs.market_config import Role
    from market.simulation import AGENTS_RECORDED_UP_TO

    def recorded(background: int) -> RunReader:
        noise = PopulationConfig(name="noise", role=Role.TAKER, count=background, policy="noise", params=(("activity", 0.01),))
        config = MarketConfig(populations=(PopulationConfig(name="maker", role=Role.MAKER, count=2), noise), max_steps=4)
        env = MarketEnv(config, {"noise": build_policy("noise", {"activity": 0.01}, window=config.window, population="noise")})
        quoting = build_policy("market_maker", {}, window=config.window, population="maker")
        with RunWriter(tmp_path, f"bg{background}", kind=s.KIND_SCENARIO, config={}, seed=0) as writer:
            run_market(env, {"maker": quoting}, seed=0, writer=writer)
        return RunReader(tmp_path / f"bg{background}")

    large = recorded(AGENTS_RECORDED_UP_TO + 1)
    assert set(large.read(s.STEPS)[s.AGENT]) == {"maker_0", "maker_1"}, "the learners' populations row by row"
    rows = large.read(s.POPULATIONS)
    assert list(rows[s.POPULATION].unique()) == ["noise"] and (rows[s.COUNT] == AGENTS_RECORDED_UP_TO + 1).all()
    small = recorded(20)
    assert s.POPULATIONS not in small.tables and len(set(small.read(s.STEPS)[s.AGENT])) == 22, "a small background agent by agent"
