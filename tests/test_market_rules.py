"""Market rules applied by the env: circuit breaker, transaction tax, short-sale ban, tick size."""

from __future__ import annotations

import numpy as np
import pytest

from market.envs.market_config import CircuitBreakerConfig, MarketConfig, PopulationConfig, RulesConfig
from market.envs.market_v0 import parallel_env
from market.errors import ConfigError
from market.exchange import TAX_ACCOUNT, check_invariants

POPULATIONS = (
    PopulationConfig(name="maker", role="maker", count=2),
    PopulationConfig(name="taker", role="taker", count=4),
)


def random_run(config: MarketConfig, seed: int = 0, steps: int | None = None):
    """Step with uniform random actions; yield (env, outputs) after every step."""
    env = parallel_env(config, check=True)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    n = 0
    while env.agents and (steps is None or n < steps):
        actions = {a: rng.uniform(-1, 1, env.action_space(a).shape).astype(np.float32) for a in env.agents}
        out = env.step(actions)
        n += 1
        yield env, out


def crash_actions(env, step: int) -> dict[str, np.ndarray]:
    """Makers quote tight and deep; from step 5 the takers sell hard through the bids."""
    actions = {}
    for agent in env.agents:
        if agent.startswith("maker"):
            actions[agent] = np.array([-1.0, -1.0, 0.0], np.float32)
        else:
            actions[agent] = np.array([-1.0, 1.0] if step >= 5 else [0.0, 0.0], np.float32)
    return actions


def run_crash(rules: RulesConfig) -> tuple[list[bool], list[int], list[float]]:
    config = MarketConfig(populations=POPULATIONS, rules=rules, max_steps=40, max_short=10_000)
    env = parallel_env(config, check=True)
    env.reset(seed=0)
    halted, trades, mids = [], [], []
    for step in range(40):
        _, _, _, _, infos = env.step(crash_actions(env, step))
        halted.append(infos["maker_0"]["halted"])
        trades.append(len(env.last_fills))
        mids.append(env.mid)
    return halted, trades, mids


def test_circuit_breaker_halts_trading_after_a_large_move_and_reopens():
    breaker = CircuitBreakerConfig(move=0.001, window=3, halt_steps=4)
    halted, trades, mids = run_crash(RulesConfig(circuit_breaker=breaker))
    first = halted.index(True)
    assert halted[first : first + 4] == [True] * 4, "halted for exactly halt_steps steps"
    assert all(t == 0 for t in trades[first : first + 4]), "nothing trades during a halt"
    assert mids[first : first + 4] == [mids[first - 1]] * 4, "the mid is frozen while halted"
    assert sum(trades[first + 4 :]) > 0, "trading resumes after the halt"
    halted_off, trades_off, _ = run_crash(RulesConfig())
    assert not any(halted_off) and all(t > 0 for t in trades_off[5:12]), "without the breaker the selling goes on"


def test_transaction_tax_is_paid_by_both_sides_of_every_fill_to_the_tax_account():
    config = MarketConfig(populations=POPULATIONS, rules=RulesConfig(transaction_tax_bps=20), max_steps=200)
    expected = 0
    for env, _ in random_run(config):
        expected += sum(2 * (f.price * f.qty * 20 // 10_000) for f in env.last_fills)
        ledger = env.exchange.ledger
        assert ledger.cash(TAX_ACCOUNT) == expected
        assert ledger.total_cash() == ledger.deposited_cash
    assert expected > 0


def test_short_sale_ban_keeps_every_inventory_non_negative():
    config = MarketConfig(populations=POPULATIONS, rules=RulesConfig(short_sale_ban=True), initial_inventory=5, max_steps=300)
    rejected = 0
    for env, (_, _, _, _, infos) in random_run(config):
        assert all(env.exchange.ledger.inventory(a) >= 0 for a in env.all_agents)
        rejected += sum(info["rejected"].count("inventory_limit") for info in infos.values())
    assert rejected > 0, "some sells were refused"
    free = MarketConfig(populations=POPULATIONS, initial_inventory=5, max_steps=300)
    lowest = min(min(env.exchange.ledger.inventory(a) for a in env.all_agents) for env, _ in random_run(free))
    assert lowest < 0, "without the ban someone goes short"


def test_tick_size_puts_every_order_and_trade_on_the_grid():
    config = MarketConfig(populations=POPULATIONS, rules=RulesConfig(tick_size=5), max_steps=200)
    trades = 0
    for env, _ in random_run(config):
        assert all(o.price % 5 == 0 for o in env.exchange.book.orders())
        assert all(f.price % 5 == 0 for f in env.last_fills)
        trades += len(env.last_fills)
        check_invariants(env.exchange.book, env.exchange.ledger)
    assert trades > 0


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"tick_size": 0}, "rules.tick_size: expected a positive integer number of ticks, got 0"),
        ({"transaction_tax_bps": -1}, "rules.transaction_tax_bps: expected an integer in [0, 10000), got -1"),
        ({"circuit_breaker": {"move": 2.0}}, "rules.circuit_breaker.move: expected a fraction in (0, 1), got 2.0"),
        ({"circuit_breaker": {"move": 0.1, "window": 50}}, "rules.circuit_breaker.window: expected at most window (10), got 50"),
        ({"short_sale_ban": "yes"}, "rules.short_sale_ban: expected true or false, got 'yes'"),
    ],
)
def test_bad_rules_name_the_key_and_value(rules, message):
    data = {"populations": [{"name": "maker", "role": "maker", "count": 1}], "rules": rules}
    with pytest.raises(ConfigError) as info:
        parallel_env(data)
    assert str(info.value) == message
