"""CompiledExchange equals Exchange: the same batches give the same fills, ids, refusals, book and balances."""

from __future__ import annotations

import numpy as np
import pytest

from market.errors import InvariantViolation, MarketError
from market.exchange import AccountLimits, Exchange, FeeConfig, RejectReason, Side
from market.exchange.compiled import MAX_AMOUNT, CompiledExchange
from market.exchange.exchange import Turn
from test_exchange_batch import AGENTS, _random_turn, _state


def _pair(fees: FeeConfig, check: bool = False) -> tuple[Exchange, CompiledExchange]:
    pair = Exchange(fees=fees, check=check), CompiledExchange(fees=fees, check=check)
    for exchange in pair:
        for i, agent in enumerate(AGENTS):
            exchange.open_account(agent, cash=40_000 + 20_000 * i, inventory=5 * i, limits=AccountLimits(max_short=4 * i, max_long=60 if i == 3 else None, cash_floor=-500 * i))
    return pair


def _views(exchange) -> tuple:
    book = exchange.book
    return (
        [(side, book.owners_at_best(side), [book.best_excluding(side, agent) for agent in (*AGENTS, "nobody")]) for side in Side],
        [book.level_orders(side, price) for side in Side for price in range(94, 108)],
        len(book),
        exchange.ledger.total_cash(),
        exchange.ledger.total_inventory(),
    )


@pytest.mark.parametrize("fees", [FeeConfig(maker_bps=3, taker_bps=7), FeeConfig(maker_bps=0, taker_bps=25, tax_bps=10)])
def test_compiled_batches_equal_the_python_exchange_over_random_turns(fees):
    rng = np.random.default_rng(5)
    python, compiled = _pair(fees)
    resting: dict[str, list[int]] = {}
    all_ids: list[int] = []
    n_fills, reasons = 0, set()
    for step in range(1500):
        turns = [_random_turn(rng, resting, all_ids) for _ in range(int(rng.integers(1, 8)))]
        expected, got = python.submit_batch(turns), compiled.submit_batch(turns)
        assert got.fills == expected.fills
        assert got.turns == expected.turns
        n_fills += len(got.fills)
        reasons |= {reject.reason for result in got.turns for reject in result.rejects}
        for turn, result in zip(turns, got.turns):
            resting[turn.agent] = result.resting
            all_ids += result.resting
        if step % 50 == 0:
            assert _state(compiled) == _state(python)
            assert _views(compiled) == _views(python)
            compiled.verify()
        if step % 97 == 0 and all_ids:  # single cancels, someone's or not, live or not
            order_id, agent = all_ids[int(rng.integers(len(all_ids)))], AGENTS[int(rng.integers(len(AGENTS)))]
            assert compiled.cancel(agent, order_id) == python.cancel(agent, order_id)
    assert _state(compiled) == _state(python)
    assert len(python.book) > 0 and n_fills > 500  # the stream traded, and left a live book
    assert reasons == set(RejectReason) - {RejectReason.UNKNOWN_ORDER}  # every refusal a batch can give


def test_a_batch_that_grows_every_array_at_once_matches():
    fees = FeeConfig(maker_bps=1, taker_bps=2)
    python, compiled = _pair(fees)
    for exchange in (python, compiled):
        for name in [f"x{i}" for i in range(40)] + ["s0", "s1"]:
            exchange.open_account(name, cash=10**9, inventory=1_000, limits=AccountLimits(max_short=1_000))
    turns = [Turn(f"x{i}", [], [(Side.BUY, 1_000 - i - k, 3) for k in range(5)] + [(Side.SELL, 1_001 + i + k, 3) for k in range(5)]) for i in range(40)]
    turns.append(Turn("s0", [], [(Side.BUY, 2_000, 500)]))  # sweeps many levels and rests the rest
    turns.append(Turn("s1", [], [(Side.SELL, 1, 700)]))
    expected, got = python.submit_batch(turns), compiled.submit_batch(turns)
    assert got == expected and len(got.fills) > 100
    assert _state(compiled) == _state(python) and compiled.book.depth(30) == python.book.depth(30)
    compiled.verify()


def test_the_invariant_check_sees_a_broken_book_and_a_broken_ledger():
    _, compiled = _pair(FeeConfig(), check=True)
    compiled.submit_batch([Turn("a", [], [(Side.BUY, 100, 2)]), Turn("b", [], [(Side.SELL, 103, 1)])])
    compiled._levels[0, 3, compiled._meta[2] - 1] += 1  # the best bid level's quantity, off by one
    with pytest.raises(InvariantViolation, match="level 100"):
        compiled.verify()
    compiled._levels[0, 3, compiled._meta[2] - 1] -= 1
    compiled._accounts[0, 1] += 7  # cash from nowhere
    with pytest.raises(InvariantViolation, match="cash not conserved"):
        compiled.verify()


def test_balances_and_orders_beyond_64_bit_safety_are_refused_in_one_line():
    compiled = CompiledExchange()
    with pytest.raises(MarketError, match="cash 10000000000000000000 is beyond"):
        compiled.open_account("a", cash=10**19)
    compiled.open_account("a", cash=10**6)
    with pytest.raises(MarketError, match="in notional"):
        compiled.submit_batch([Turn("a", [], [(Side.BUY, MAX_AMOUNT, 2)])])
    assert len(compiled.book) == 0 and compiled.ledger.cash("a") == 10**6
