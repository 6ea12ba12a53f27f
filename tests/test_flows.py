"""Who profits from whom: fill markouts, fees and taxes as transfers between accounts and populations.

Money is integer half-ticks x lots; the matrices must sum to zero exactly and each population's parts
(spread, adverse selection, inventory, fees) must add up to its equity change exactly.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from market.analysis import END, HORIZONS, FlowObserver, FlowResult, FlowTrade, analyze_flows
from market.naming import population_of
from market.analysis.flows import PART_LABELS, format_matrix, format_parts, half_tick_mid
from market.envs.market_v0 import MarketEnv
from market.exchange import EXCHANGE_ACCOUNT, FeeConfig
from market.exchange.ledger import TAX_ACCOUNT
from market.simulation import SimulationSpec, play_episode, scripted_market

SMALL = {"makers": 2, "takers": 2, "noise": 3, "momentum": 2, "value": 2}
FEES = FeeConfig(maker_bps=3, taker_bps=7, tax_bps=5)


class _Ledger:
    """Every account's cash and inventory, read from the env's ledger at reset and at the end."""

    def start(self, env: MarketEnv) -> None:
        self.before = self._read(env)
        self.mid0 = half_tick_mid(env.mid)

    def observe(self, step: int, env: MarketEnv) -> None:
        pass

    def finish(self, env: MarketEnv) -> None:
        self.after = self._read(env)
        self.mid_end = half_tick_mid(env.mid)

    @staticmethod
    def _read(env: MarketEnv) -> dict[str, tuple[int, int]]:
        ledger = env.exchange.ledger
        return {a: (ledger.cash(a), ledger.inventory(a)) for a in ledger.accounts}


def _played_with_fees(steps: int = 250) -> tuple[FlowResult, _Ledger]:
    config, policies = scripted_market(SimulationSpec(**SMALL, steps=steps, seed=5))
    env = MarketEnv(replace(config, fees=FEES))
    flows, ledger = FlowObserver(), _Ledger()
    play_episode(env, policies, seed=5, observers=[flows, ledger])
    assert flows.result is not None
    return flows.result, ledger


def test_flow_matrices_sum_to_zero_exactly_with_fees_and_taxes() -> None:
    result, _ = _played_with_fees()
    assert result.fees[result.accounts.index(EXCHANGE_ACCOUNT)] > 0
    assert result.fees[result.accounts.index(TAX_ACCOUNT)] > 0
    for horizon in HORIZONS:
        for by in ("agent", "population"):
            names, mat = result.matrix(horizon, by=by)
            assert mat.dtype == np.int64
            assert int(mat.sum()) == 0
            assert np.array_equal(mat, -mat.T)
        # fee and tax accounts only ever gain
        names, mat = result.matrix(horizon)
        assert (mat[names.index(EXCHANGE_ACCOUNT)] >= 0).all() and (mat[names.index(TAX_ACCOUNT)] >= 0).all()


def test_pnl_parts_add_up_to_each_populations_ledger_equity_change() -> None:
    result, ledger = _played_with_fees()
    # equity change from the ledger alone, in half-ticks x lots, marked at the common mid
    change: dict[str, int] = {}
    for account, (cash1, inv1) in ledger.after.items():
        cash0, inv0 = ledger.before.get(account, (0, 0))
        pop = population_of(account)
        change[pop] = change.get(pop, 0) + 2 * (cash1 - cash0) + inv1 * ledger.mid_end - inv0 * ledger.mid0
    # the stock's revaluation is the only money that comes from outside the trades
    stock = sum(inv0 for _, inv0 in ledger.before.values())
    assert sum(change.values()) == stock * (ledger.mid_end - ledger.mid0)
    for horizon in HORIZONS:
        parts = result.parts(horizon)
        for pop, p in parts.items():
            assert p["spread"] + p["adverse_selection"] + p["inventory"] + p["fees"] == p["total"]
            assert p["total"] == change.get(pop, 0), pop
    # at the end horizon a population's row of the matrix is its total less its starting stock's revaluation
    names, mat = result.matrix(END)
    for name, row in zip(names, mat):
        stock0 = sum(inv0 for a, (_, inv0) in ledger.before.items() if population_of(a) == name)
        assert int(row.sum()) == result.parts(END)[name]["total"] - stock0 * (ledger.mid_end - ledger.mid0)


def _toy_informed_market(steps: int = 200) -> FlowResult:
    """An informed taker who knows the next move, noise takers and one maker quoting around the mid.

    The fundamental moves +-2 ticks a step; the maker quotes one tick either side of the last mid and
    refreshes to the new mid each step; the informed buys before an up move and sells before a down.
    """
    rng = np.random.default_rng(3)
    moves = rng.choice([-4, 4], size=steps)  # in half-ticks: two ticks
    mids = np.concatenate(([200], 200 + np.cumsum(moves)))
    trades: list[FlowTrade] = []
    for t in range(steps):
        bid, ask = (int(mids[t]) - 2) // 2, (int(mids[t]) + 2) // 2
        if moves[t] > 0:
            trades.append(FlowTrade(t, ask, 1, "maker_0", "informed_0", "buy"))
        else:
            trades.append(FlowTrade(t, bid, 1, "maker_0", "informed_0", "sell"))
        noise_buys = rng.random() < 0.5
        trades.append(FlowTrade(t, ask if noise_buys else bid, 1, "maker_0", f"noise_{t % 3}", "buy" if noise_buys else "sell"))
    return analyze_flows(trades, mids.tolist(), FeeConfig(maker_bps=0, taker_bps=0), start_inventory={})


def test_informed_trader_gains_from_noise_through_the_makers_adverse_selection() -> None:
    result = _toy_informed_market()
    names, mat = result.matrix(1)
    informed, maker, noise = (names.index(p) for p in ("informed", "maker", "noise"))
    # the informed gains from the maker, the maker gains from the noise takers
    assert mat[informed, maker] > 0
    assert mat[maker, noise] > 0
    parts = result.parts(1)
    # the maker earns the spread from everyone and loses it (and more) to the informed's information
    assert parts["maker"]["spread"] > 0
    assert parts["maker"]["adverse_selection"] < 0
    # ordering of the one-step markout P&L (row sums): informed > maker > noise, noise losing
    gains = mat.sum(axis=1)
    assert gains[noise] < 0 < gains[informed]
    assert gains[informed] > gains[maker] > gains[noise]
    # at one step the informed's edge is exactly the two ticks it foresaw less the one-tick half spread it
    # paid: one tick (two half-ticks) a fill
    assert mat[informed, maker] == 200 * 2
    assert parts["maker"]["adverse_selection"] < -mat[informed, maker]


def _entries(named: tuple[tuple[str, ...], np.ndarray]) -> dict[tuple[str, str], int]:
    names, mat = named
    return {(a, b): int(mat[i, j]) for i, a in enumerate(names) for j, b in enumerate(names) if mat[i, j]}


def test_flows_table_round_trips_through_a_run_record_and_matches_the_trades_table(tmp_path) -> None:
    from market.analysis import flows_from_record, matrix_from_table, parts_from_table
    from market.records import RunReader
    from market.records import schema as s
    from market.records.io import RunWriter
    from market.simulation import run_market

    config, policies = scripted_market(SimulationSpec(**SMALL, steps=150, seed=7))
    env = MarketEnv(replace(config, fees=FEES))
    with RunWriter(tmp_path, "run", kind=s.KIND_SIMULATE, config={}, seed=7) as writer:
        summary = run_market(env, policies, seed=7, writer=writer)
    assert summary.flows is not None
    reader = RunReader(tmp_path / "run")
    table = reader.read(s.FLOWS)
    assert len(table) > 0 and (table[s.AMOUNT] > 0).all()
    # the recorded table gives back the in-memory matrices exactly, at every horizon
    for horizon in HORIZONS:
        assert _entries(matrix_from_table(table, horizon)) == _entries(summary.flows.matrix(horizon))
        assert _entries(matrix_from_table(table, horizon, by="agent")) == _entries(summary.flows.matrix(horizon, by="agent"))
        assert _entries(summary.flows.matrix(horizon))
    # and the flow_parts table gives back every population's P&L parts exactly
    parts = reader.read(s.FLOW_PARTS)
    for horizon in HORIZONS:
        assert parts_from_table(parts, horizon) == summary.flows.parts(horizon)
    # a step range's matrix still sums to zero, and the ranges add up to the whole
    early, late = matrix_from_table(table, END, (0, 60)), matrix_from_table(table, END, (61, 10**9))
    assert int(early[1].sum()) == 0
    assert np.array_equal(early[1] + late[1], matrix_from_table(table, END)[1])
    # rebuilding from the trades and steps tables (and the starting mid) gives the same flows
    rebuilt = flows_from_record(
        reader.read(s.TRADES), reader.read(s.STEPS), FEES, start_mid=config.initial_price, start_inventory={}
    )
    for horizon in HORIZONS:
        assert _entries(rebuilt.matrix(horizon)) == _entries(summary.flows.matrix(horizon))


def test_dashboard_flows_heatmap_shows_the_recorded_matrix_over_the_chosen_steps(tmp_path, monkeypatch) -> None:
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from market.analysis import matrix_from_table, parts_from_table
    from market.dashboard import app as page
    from market.records import RunReader
    from market.records import schema as s
    from market.records.io import RunWriter
    from market.simulation import run_market

    config, policies = scripted_market(SimulationSpec(**SMALL, steps=80, seed=9))
    env = MarketEnv(replace(config, fees=FEES))
    with RunWriter(tmp_path, "flows-run", kind=s.KIND_SIMULATE, config={}, seed=9) as writer:
        run_market(env, policies, seed=9, writer=writer)
    reader = RunReader(tmp_path / "flows-run")
    table, unit = reader.read(s.FLOWS), float(reader.manifest[s.M_TICK_VALUE])

    monkeypatch.setenv(page.RUNS_ENV, str(tmp_path))
    script = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
    at = AppTest.from_file(str(script), default_timeout=30.0).run()
    assert not at.exception, [e.value for e in at.exception]
    for horizon, steps in (("end", (0, 79)), ("1", (10, 40))):
        at.radio(key=page.FLOW_HORIZON).set_value(horizon).run()
        at.slider(key=page.FLOW_STEPS).set_value(steps).run()
        assert not at.exception and not at.error
        frame = next(f.value for f in at.dataframe if f.key == "flow_table" or "maker" in getattr(f.value, "index", []))
        names, expected = matrix_from_table(table, horizon, steps)
        assert list(frame.index) == [n.strip("_") for n in names]
        assert np.allclose(frame.to_numpy(), expected / 2.0 * unit)
        assert abs(frame.to_numpy().sum()) < 1e-6
        at.radio(key=page.FLOW_BY).set_value("agent").run()
        frame = next(f.value for f in at.dataframe if "maker_0" in getattr(f.value, "index", []))
        names, expected = matrix_from_table(table, horizon, steps, by="agent")
        assert list(frame.index) == [n.strip("_") for n in names] and np.allclose(frame.to_numpy(), expected / 2.0 * unit)
        at.radio(key=page.FLOW_BY).set_value("population").run()
        # the populations' P&L parts at the horizon (the whole episode), which add up to their totals
        parts = next(f.value for f in at.dataframe if "adverse_selection" in getattr(f.value, "columns", []))
        expected_parts = parts_from_table(reader.read(s.FLOW_PARTS), horizon)
        assert list(parts["population"]) == [n.strip("_") for n in expected_parts]
        assert np.allclose(parts["adverse_selection"], [v["adverse_selection"] / 2.0 * unit for v in expected_parts.values()])
        assert np.allclose(parts[["spread", "adverse_selection", "inventory", "fees"]].sum(axis=1), parts["total"])
        assert np.abs(expected).sum() > 0


class _Informed:
    """A taker who knows where the fundamental will be ten steps on and trades toward it, one step at a time."""

    def __init__(self, fundamental: tuple[float, ...], window: int) -> None:
        self.fundamental, self.window, self.step = fundamental, window, 0

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        gap = float(obs[self.window + 4])  # log(fundamental / mid) in percent: the env's observation
        mid = self.fundamental[self.step] * np.exp(-gap / 100)
        edge = self.fundamental[min(self.step + 10, len(self.fundamental) - 1)] - mid
        self.step += 1
        return np.array([np.sign(edge) * 0.3 if abs(edge) > 3 else 0.0, 0.3], dtype=np.float32)


def test_in_a_market_env_episode_money_flows_from_noise_takers_through_the_maker_to_the_informed() -> None:
    from market.agents.scripted import build_policy, population_limits
    from market.envs.market_config import MarketConfig, PopulationConfig, Role
    from market.simulation import run_market

    steps = 300
    fundamental = tuple(float(x) for x in 10_000 + np.cumsum(np.random.default_rng(11).choice([-3.0, 3.0], size=steps + 1)))
    config = MarketConfig(
        populations=(
            PopulationConfig(name="informed", role=Role.TAKER, count=1),
            PopulationConfig(name="maker", role=Role.MAKER, count=2, policy="market_maker"),
            PopulationConfig(name="noise", role=Role.TAKER, count=6, policy="noise", params=(("activity", 0.8),)),
        ),
        fundamental=fundamental,
        max_steps=steps,
        initial_inventory=0,
        fees=FEES,
    )
    driven = {p.name: build_policy(p.policy, p.param_dict, window=config.window, population=p.name, **population_limits(p)) for p in config.populations if p.policy}
    flows = run_market(MarketEnv(config, driven), {"informed": _Informed(fundamental, config.window)}, seed=4).flows
    assert flows is not None
    names, mat = flows.matrix(END)
    informed, maker, noise = (names.index(p) for p in ("informed", "maker", "noise"))
    assert int(mat.sum()) == 0
    # the informed gains from the maker, the maker from the noise takers, and the noise takers lose
    assert mat[informed, maker] > 0 and mat[maker, noise] > 0
    assert mat[informed].sum() > 0 > mat[noise].sum()
    # the maker earns the spread and gives it back, and more, through the adverse selection of its fills
    parts = flows.parts(END)
    assert parts["maker"]["spread"] > 0 > parts["maker"]["adverse_selection"]
    assert -parts["maker"]["adverse_selection"] > mat[informed, maker]


def test_the_printed_tables_keep_a_space_between_columns_whatever_the_sums():
    names = ["maker", "noise", "__exchange__"]
    matrix = np.array([[0, 2 * 95_522, 2 * 1_274_787], [-2 * 634_242_001, 0, 0], [0, 0, 0]])
    rows = format_matrix(names, matrix, "end").splitlines()[2:]
    assert [len(row.split()) for row in rows] == [4, 4, 4]  # a name and three numbers, never two run together
    parts = format_parts({"maker": dict.fromkeys(PART_LABELS, -2 * 40_715_683_123)}, "end").splitlines()[2:]
    assert [len(row.split()) for row in parts] == [1 + len(PART_LABELS)]
