"""MarketEnv: many agents trading one instrument through one exchange (PettingZoo ParallelEnv).

One step is one trading interval. Learners' actions (and the actions of the policies that drive
the other populations inside the env) become orders; the agents arrive in an order shuffled with
the env's own seeded stream; the exchange clears (continuous book, call auction, or price impact);
then every agent is marked to market at the mid. Envs never import ``market.agents``: policies for
the internally driven populations are passed in.
"""

from __future__ import annotations

import math
from dataclasses import replace
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

from market.config import from_mapping
from market.envs import rewards
from market.envs.execution import ExecutionDesk
from market.envs.market_config import (
    CLEARING_MODES,
    EXECUTOR_ACTION_DIM,
    EXECUTOR_AGGRESSION,
    EXECUTOR_SIZE,
    MAKER_ACTION_DIM,
    MAKER_ASK_OFFSET,
    MAKER_BID_OFFSET,
    MAKER_SIZE,
    OBS_BOUND,
    TAKER_ACTION_DIM,
    TAKER_AGGRESSION,
    TAKER_SIZE,
    MarketConfig,
    PopulationConfig,
    Role,
    executor_observation_names,
    observation_names,
)
from market.envs.batch import BATCH_MIN, BatchPopulation, OrderArrays, StepRecord, decode_executors
from market.envs.policy import BatchPolicy, Policy
from market.errors import ActionError, ConfigError, MarketError, ResetNeeded
from market.exchange import AccountLimits, Exchange, Fill, Side
from market.exchange.compiled import MAX_AMOUNT, CompiledExchange, OrderTable
from market.exchange.clearing import DEALER_ACCOUNT, CompiledBookClearing, Order

__all__ = ["DEALER_ACCOUNT", "MarketEnv", "default_config", "env", "parallel_env"]

_PERCENT = 100.0
_FLOAT32 = np.dtype(np.float32)
CLEARING_STREAM = 0x5EED_C1
"""Spawn key, under each episode's seed, of the clearing mode's random stream."""

ENGINE_PYTHON, ENGINE_COMPILED, ENGINE_AUTO = "python", "compiled", "auto"
ENGINES = (ENGINE_PYTHON, ENGINE_COMPILED, ENGINE_AUTO)
COMPILED_FROM = 64
"""The number of agents from which ``engine="auto"`` clears a book market on the compiled exchange.
Below it the compiled step gains little (about 1.2x at 16 to 64 agents) for what numba costs a
process (about 140 MiB and 0.6 s to import and load the kernels; the first compile on a machine
about 8 s): RL training runs small markets in many worker processes. From it the gain grows with
the orders sent: 1.6x at 116 agents, 4x at 1,016, 11x at 10,016 (``bench/scale.py``)."""


def _engine(config: MarketConfig, engine: str) -> str:
    """The exchange a market runs on: ``engine`` checked, and ``auto`` resolved."""
    if engine not in ENGINES:
        raise ConfigError(f"engine: expected one of {', '.join(ENGINES)}, got {engine!r}")
    book = config.clearing == "book"
    if engine == ENGINE_COMPILED and not book:
        raise ConfigError(f"engine: the compiled exchange clears a book; clearing {config.clearing!r} runs on the python engine")
    if engine != ENGINE_AUTO:
        return engine
    agents = sum(p.count for p in config.populations)
    within = max(config.initial_cash, config.credit, config.max_short, *(config.starting_inventory_of(p) for p in config.populations)) <= MAX_AMOUNT
    return ENGINE_COMPILED if book and agents >= COMPILED_FROM and within else ENGINE_PYTHON


class MarketEnv(ParallelEnv):
    """A market of learning and scripted agents trading through one exchange.

    Agents: every population with ``policy=None`` contributes ``{name}_0..`` to ``possible_agents``;
    populations with a policy are driven inside the env by ``policies[population.name]``.

    Action Space (per role, every component in [-1, 1]):
        taker: ``[size, aggressiveness]``; maker: ``[bid_offset, ask_offset, size]``
        (see :mod:`market.envs.market_config` for the encodings).

    Observation Space: ``Box(-10, 10, (window + 9,), float32)``, named by
    :func:`~market.envs.market_config.observation_names`: mid returns, spread, top depth and
    imbalance, fundamental gap, own inventory, cash and equity change, time left.

    Rewards: change in marked-to-market equity over the starting equity, in percent; makers pay
    ``inventory_penalty`` times the value of their inventory change since the start (what they
    started with is not theirs to answer for) over the starting equity, in percent.
    Inventory is marked at the mid of the book without the agent's own orders, so that no agent
    can raise the value of what it holds with its own quotes.

    Episode End: an agent whose equity falls to zero or below is terminated and leaves ``agents``
    for good (its orders are cancelled); every agent is truncated after ``max_steps`` steps.

    Arguments:
        config: the market (a :class:`MarketConfig`).
        policies: policy objects for the internally driven populations, by population name.
        check: run the exchange's invariant checks after every order (slow; for tests).
        vectorized: let each driven population of at least ``batch_min`` agents whose policy has
            ``act_batch`` decide for all its agents in one call; False calls ``act`` once per agent
            (the reference path). Both play the same episode exactly.
        batch_min: the smallest population that decides in one call (:data:`~market.envs.batch.BATCH_MIN`:
            below it one call per agent is faster).
        engine: the exchange: ``"python"`` (:class:`~market.exchange.Exchange`), ``"compiled"``
            (:class:`~market.exchange.compiled.CompiledExchange`, book clearing only: a step's orders
            clear in one compiled call), or ``"auto"``: compiled for book clearing from
            :data:`COMPILED_FROM` agents on, when the market's balances are within its bounds. Both
            play the same episode exactly.

    Version History:
        v0: first version.
    """

    metadata = {"name": "market_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(
        self,
        config: MarketConfig | Mapping[str, Any],
        policies: Mapping[str, Policy] | None = None,
        *,
        check: bool = False,
        vectorized: bool = True,
        batch_min: int = BATCH_MIN,
        engine: str = "auto",
    ) -> None:
        config = from_mapping(MarketConfig, config)
        self.config = config
        self.check = check
        self.vectorized = vectorized
        self.engine = _engine(config, engine)
        self._tick = config.rules.tick_size
        self.render_mode = None
        policies = dict(policies or {})
        for population in config.populations:
            if not population.learner and population.name not in policies:
                raise ConfigError(
                    f"populations.{population.name}.policy: no policy object was given for {population.policy!r}"
                )
        self._policies = policies
        self.clearing = CompiledBookClearing() if self.engine == ENGINE_COMPILED else CLEARING_MODES[config.clearing](config)
        self._reward_of = rewards.MARKET_REWARDS[config.reward]

        # agents: learners first (the PettingZoo agents), then the internally driven ones
        self.possible_agents: list[str] = [a for p in config.populations if p.learner for a in p.agent_names()]
        self.driven_agents: list[str] = [a for p in config.populations if not p.learner for a in p.agent_names()]
        self._all = self.possible_agents + self.driven_agents
        self._index = {agent: i for i, agent in enumerate(self._all)}
        self.population_of: dict[str, PopulationConfig] = {
            agent: p for p in config.populations for agent in p.agent_names()
        }
        pops = [self.population_of[a] for a in self._all]
        self._max_qty = np.array([p.max_qty for p in pops], dtype=np.float64)
        self._max_offset = np.array([p.max_offset for p in pops], dtype=np.float64)
        self._penalty = np.array([p.inventory_penalty for p in pops], dtype=np.float64)
        self._start_inventory = np.array([config.starting_inventory_of(p) for p in pops], dtype=np.float64)
        self._start_equity = np.array([config.starting_equity_of(p) for p in pops], dtype=np.float64)
        # what decoding an agent's action needs: its role, its action length, max_qty, max_offset, min_offset
        dims = {Role.TAKER: TAKER_ACTION_DIM, Role.MAKER: MAKER_ACTION_DIM, Role.EXECUTOR: EXECUTOR_ACTION_DIM}
        self._codec = {agent: (p.role, dims[p.role], p.max_qty, p.max_offset, p.min_offset) for agent, p in zip(self._all, pops)}
        # driven populations whose policy decides for all their agents in one call (unless vectorized=False)
        self._batches: list[BatchPopulation] = []
        self._batch_of_row = np.full(len(self._all), -1, dtype=np.int64)
        for population in config.populations:
            policy = policies.get(population.name)
            batched = vectorized and population.count >= batch_min and not population.learner
            if batched and isinstance(policy, BatchPolicy):
                names = population.agent_names()
                rows = np.array([self._index[a] for a in names], dtype=np.int64)
                self._batch_of_row[rows] = len(self._batches)
                self._batches.append(
                    BatchPopulation(names, rows, policy, population.role, population.max_qty, population.max_offset, population.min_offset)
                )
        # executors: their parent orders, worked by one desk
        executors = [(i, p) for i, p in enumerate(pops) if p.role is Role.EXECUTOR]
        self._desk = (
            ExecutionDesk([i for i, _ in executors], [p.execution for _, p in executors], [p.max_offset for _, p in executors], [self._start_inventory[i] for i, _ in executors])
            if executors
            else None
        )

        # spaces: built once per role, shared by every agent of that role; executors see four features more
        self.feature_names = observation_names(config.window)
        self._width = len(self.feature_names)
        self._full_width = len(executor_observation_names(config.window)) if self._desk is not None else self._width
        role_obs = {role: spaces.Box(-OBS_BOUND, OBS_BOUND, (self._width,), np.float32) for role in Role}
        role_obs[Role.EXECUTOR] = spaces.Box(-OBS_BOUND, OBS_BOUND, (len(executor_observation_names(config.window)),), np.float32)
        role_act = {role: spaces.Box(-1.0, 1.0, (dim,), np.float32) for role, dim in dims.items()}
        self._obs_spaces = {a: role_obs[self.population_of[a].role] for a in self._all}
        self._act_spaces = {a: role_act[self.population_of[a].role] for a in self._all}

        self.agents: list[str] = []
        self._seeds: np.random.SeedSequence | None = None
        self.exchange: Exchange | None = None
        self.last_fills: list[Fill] = []
        self.last_actions: dict[str, Any] = {}
        self.last_orders: dict[str, list[Order]] = {}

    # ------------------------------------------------------------------ PettingZoo API
    def observation_space(self, agent: str) -> spaces.Box:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Box:
        return self._act_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        config = self.config
        # 1. seeds: an explicit seed restarts the streams; otherwise the next episode of the same root
        if seed is not None:
            self._seeds = np.random.SeedSequence(seed)
        elif self._seeds is None:
            self._seeds = np.random.SeedSequence(config.seed)
        episode = self._seeds.spawn(1)[0] if seed is None and self.exchange is not None else self._seeds
        streams = episode.spawn(1 + len(self.driven_agents))
        self._rng = np.random.Generator(np.random.PCG64(streams[0]))
        self._agent_rngs = [np.random.Generator(np.random.PCG64(s)) for s in streams[1:]]
        # the clearing's own stream: a branch far beyond the spawned children, so it shifts none of them
        clearing_seed = np.random.SeedSequence(episode.entropy, spawn_key=(*episode.spawn_key, CLEARING_STREAM))
        clearing_rng = np.random.Generator(np.random.PCG64(clearing_seed))

        # 2. a fresh exchange with one account per agent
        rules = config.rules
        fees = replace(config.fees, tax_bps=rules.transaction_tax_bps) if rules.transaction_tax_bps else config.fees
        self._compiled = isinstance(self.clearing, CompiledBookClearing)  # a clearing mode set on the env after it was built runs on Python
        self.exchange = (CompiledExchange if self._compiled else Exchange)(fees=fees, check=self.check)
        limits = AccountLimits(cash_floor=-config.credit, max_short=0 if rules.short_sale_ban else config.max_short)
        for agent in self._all:
            inventory = config.starting_inventory_of(self.population_of[agent])
            self.exchange.open_account(agent, cash=config.initial_cash, inventory=inventory, limits=limits)
        self.clearing.open(self.exchange, self._all, clearing_rng)
        self._accounts = [self.exchange.ledger.account(a) for a in self._all]
        # the compiled ledger's rows of the agents' accounts, after the fee (and tax) accounts
        self._account_rows = np.arange(len(self._all)) + len(self.exchange.ledger.agents()) - len(self._all)

        # 3. market state
        self.agents = list(self.possible_agents)
        self._live_driven = list(self.driven_agents)
        first = len(self.possible_agents)
        self._live_mask = np.zeros(len(self._all), dtype=bool)  # live driven agents, by row
        self._live_mask[first:] = True
        self._driven_rows = np.arange(first, len(self._all))
        self._acted_learners: list[int] | None = None  # the learners whose rows self._participants starts with
        self._may_rest = np.zeros(len(self._all), dtype=bool)  # sent orders at its last turn: some may rest in the book
        for batch in self._batches:
            batch.start([self._agent_rngs[row - first] for row in batch.rows.tolist()])
        self._driven_plan = self._plan_driven()
        self._step = 0
        self._halt_left = 0
        self._mid = float(config.initial_price)
        self._last_trade = self._mid
        self._mids = np.full(config.window + 1, self._mid)
        self._equity = self._start_equity.copy()
        if self._desk is not None:
            self._desk.start(self._mid)
        self._rewards = np.zeros(len(self._all))
        self.last_fills = []
        self.last_actions = {}
        self.last_orders = {}
        self._step_orders: dict[str, list[Order]] = {}
        self._step_table: OrderTable | None = None
        self._cash, self._inventory = self._balances()
        self._obs = self._observe(self._cash, self._inventory)
        return {a: self._own(self._obs, self._index[a]) for a in self.agents}, {a: {} for a in self.agents}

    def step(
        self, actions: Mapping[str, Any]
    ) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, bool], dict[str, bool], dict[str, dict]]:
        if self.exchange is None:
            raise ResetNeeded("MarketEnv.step called before reset(); call reset()")
        if not isinstance(actions, Mapping):
            raise MarketError(f"actions: expected a dict of actions by agent name, got {type(actions).__name__}")
        live = self.agents
        live_set = set(live)
        unknown = [a for a in actions if a not in live_set]
        if unknown:
            raise MarketError(f"actions for agents that are not live: {unknown}; live agents: {live[:8]}{' ...' if len(live) > 8 else ''}")
        reference = max(1, round(self._mid))

        # 1. every live agent's orders: learners from `actions`, the others from their policies
        orders: dict[str, list[Order]] = {}
        acted: dict[str, Any] = {}
        decode = self._decode
        index = self._index
        learner_rows = []
        for agent in live:
            if agent in actions:
                action = actions[agent]
                acted[agent] = action
                orders[agent] = decode(agent, action, reference)
                learner_rows.append(index[agent])
        obs = self._obs
        own = self._own
        for agent, i, policy, rng in self._driven_plan:
            action = policy.act(own(obs, i), rng)
            acted[agent] = action
            orders[agent] = decode(agent, action, reference)
        sends = np.zeros(len(self._all), dtype=bool)
        sends[[index[agent] for agent, placed in orders.items() if placed]] = True
        names = self._all
        table = None
        if self._compiled:  # the step's orders as arrays, by row, for the compiled exchange
            table = OrderTable(len(names))
            table.put_lists([index[agent] for agent in orders], orders.values())
        for batch in self._batches:  # a population in one call; only the agents that send an order cost Python work
            if batch.live.size:
                if batch.role is Role.EXECUTOR:
                    rows, placed = self._children(*batch.decide(obs, self._full_width), reference)
                else:
                    rows, placed = batch.act(obs, self._width, reference, self._tick)
                sends[rows] = True
                if table is None:
                    orders.update(zip([names[row] for row in rows.tolist()], placed.lists()))
                else:
                    table.put(rows, placed.sides, placed.prices, placed.qtys)
        # everyone who acted, in the per-agent path's order: learners, then the driven agents by row
        if learner_rows != self._acted_learners:  # the same agents act step after step: built again only when they change
            self._acted_learners = learner_rows
            self._participants = np.concatenate((np.array(learner_rows, dtype=np.int64), self._driven_rows))
        participants = self._participants
        self.last_actions = StepRecord(names, index, participants, acted, self._batch_actions())
        self.last_orders = StepRecord(names, index, participants, orders, _no_orders if table is None else table.orders_of)
        self._step_orders = orders
        self._step_table = table

        # 2. arrival order, shuffled with the env's own stream; then the exchange clears, unless halted.
        # An agent with no new order and nothing resting would do nothing in its turn: it is left out.
        arrival_rows = participants[self._rng.permutation(len(participants))]
        arrival_rows = arrival_rows[(sends | self._may_rest)[arrival_rows]]
        rejected: dict[str, list[str]] = {}
        halted = self._halt_left > 0
        if halted:
            self._halt_left -= 1
            fills = []
        else:
            if table is None:
                arrival = [names[row] for row in arrival_rows.tolist()]
                for agent in arrival:
                    orders.setdefault(agent, [])
                fills, rejected = self.clearing.clear(self.exchange, arrival, orders, reference)
            else:
                fills, rejected = self.clearing.clear_table(self.exchange, arrival_rows, table, names)
            self._may_rest[arrival_rows] = sends[arrival_rows]
        self.last_fills = fills
        if fills:
            self._last_trade = float(fills[-1].price)

        # 3. mark to market, rewards, bankruptcies, truncation; a large move trips the circuit breaker
        if not halted:
            self._mid = self.clearing.new_mid(self.exchange, fills, self._mid)
        mids = self._mids
        mids[:-1] = mids[1:]
        mids[-1] = self._mid
        breaker = self.config.rules.circuit_breaker
        if breaker is not None and not halted and abs(self._mid / mids[-1 - breaker.window] - 1.0) > breaker.move:
            self._halt_left = breaker.halt_steps
        self._step += 1
        previous = self._equity
        cash, inventory = self._settled(fills)
        self._equity = cash + inventory * self.clearing.marks(self.exchange, self._index, self._mid, self._last_trade)
        reward = self._reward_of(previous, self._equity, inventory - self._start_inventory, self._mid, self._start_equity, self._penalty)
        desk = self._desk
        if desk is not None:  # executors: their execution P&L against the arrival mid instead
            desk.close_horizon(self._step - 1, inventory, float(reference))
            reward[desk.rows] = desk.rewards(cash - self._cash, inventory - self._inventory, self._step - 1)
        self._cash, self._inventory = cash, inventory
        self._rewards = reward
        broke = self._equity <= 0
        if broke.any():
            self._retire_driven(np.flatnonzero(broke & self._live_mask))
        truncated = self._step >= self.config.max_steps

        self._obs = self._observe(cash, inventory)
        learners = len(self.possible_agents)  # the PettingZoo agents are the first rows
        rows = self._obs
        bankrupt = broke[:learners].tolist()
        rewards_now = reward[:learners].tolist()
        equity = self._equity[:learners].tolist()
        observations, rewards, terminations, truncations, infos = {}, {}, {}, {}, {}
        accounts = self._accounts
        narrow = self._full_width != self._width
        for agent in live:
            i = index[agent]
            observations[agent] = rows[i] if not narrow or i in self._desk.slot else rows[i][: self._width]
            rewards[agent] = rewards_now[i]
            terminations[agent] = bankrupt[i]
            truncations[agent] = truncated
            account = accounts[i]
            infos[agent] = {
                "equity": equity[i],
                "cash": account.cash,
                "inventory": account.inventory,
                "rejected": rejected.get(agent, []),
                "halted": halted,
            }
            if bankrupt[i]:
                self._retire(agent)
        self.agents = [] if truncated else [a for a in live if not terminations[a]]
        if self.check:
            self.exchange.verify()
            for kept, held in zip((self._cash, self._inventory), self._balances()):
                assert np.array_equal(kept, held), "the env's balances differ from the ledger's"
        return observations, rewards, terminations, truncations, infos

    def render(self) -> None:
        """No rendering: the dashboard replays run records."""

    def close(self) -> None:
        """Nothing to release."""

    # ------------------------------------------------------------------ read-only views
    @property
    def mid(self) -> float:
        """The current mid (or last clearing price) in ticks."""
        return self._mid

    @property
    def halted(self) -> bool:
        """True while the circuit breaker halts trading (the next step will not trade)."""
        return self._halt_left > 0

    @property
    def step_count(self) -> int:
        """Steps taken in this episode."""
        return self._step

    def equity(self, agent: str) -> float:
        """Marked-to-market equity of any agent, learner or driven."""
        return float(self._equity[self._index[agent]])

    @property
    def all_agents(self) -> list[str]:
        """Every agent with an account: learners first, then the internally driven ones."""
        return list(self._all)

    @property
    def starting_inventory(self) -> np.ndarray:
        """Every agent's starting inventory in lots, in :attr:`all_agents` order."""
        return self._start_inventory.copy()

    @property
    def starting_equity(self) -> np.ndarray:
        """Every agent's starting equity in ticks x lots, in :attr:`all_agents` order."""
        return self._start_equity.copy()

    def orders_sent(self) -> np.ndarray:
        """Orders each agent sent in the last step, in :attr:`all_agents` order (read from the senders only)."""
        if self._step_table is not None:
            return self._step_table.counts.copy()
        counts = np.zeros(len(self._all), dtype=np.int64)
        index = self._index
        for agent, placed in self._step_orders.items():
            if placed:
                counts[index[agent]] = len(placed)
        return counts

    def driven_live(self) -> np.ndarray:
        """Which driven agents are still in the market (not bankrupt), in :attr:`all_agents` order (False for PettingZoo agents)."""
        return self._live_mask.copy()

    def account_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Cash, inventory, equity and last reward of every agent, in :attr:`all_agents` order.

        Agents that left (bankrupt) keep their last values. For recording runs.
        """
        return self._cash.copy(), self._inventory.copy(), self._equity.copy(), self._rewards.copy()

    # ------------------------------------------------------------------ internals
    def _decode(self, agent: str, action: Any, reference: int) -> list[Order]:
        """Turn one action into orders, after checking it lies in the agent's action space."""
        role, dim, max_qty, max_offset, min_offset = self._codec[agent]
        # the action as float32 values, as Python floats (a float32 array of the right shape is read directly)
        if type(action) is np.ndarray and action.dtype is _FLOAT32 and action.shape == (dim,):
            values = action.tolist()
        else:
            try:
                a = np.asarray(action, dtype=np.float32)
            except (TypeError, ValueError):  # text, None, ragged lists: no numbers to read
                a = np.empty(0, dtype=np.float32)
            values = a.tolist() if a.shape == (dim,) else None
        if values is None or not all([-1.0 <= v <= 1.0 for v in values]):
            raise ActionError(f"action for {agent}: expected {dim} numbers in [-1, 1], got {action!r} (an action is an array of shape ({dim},))")
        tick = self._tick
        if role is Role.EXECUTOR:
            i = self._index[agent]
            inventory = float(self._accounts[i].inventory)
            resting = self.clearing.resting_qty(self.exchange, agent)
            child = self._desk.child(
                i, values[EXECUTOR_SIZE], values[EXECUTOR_AGGRESSION], reference=reference, step=self._step, inventory=inventory, resting=resting, tick=tick
            )
            if child is None:
                return []
            sign, price, qty = child
            return [(Side.BUY if sign > 0 else Side.SELL, price, qty)]
        if role is Role.TAKER:
            size = round(values[TAKER_SIZE] * max_qty)
            if size == 0:
                return []
            offset = round(values[TAKER_AGGRESSION] * max_offset)
            if size > 0:
                return [(Side.BUY, max(tick, (reference + offset) // tick * tick), size)]
            return [(Side.SELL, max(tick, -(-(reference - offset) // tick) * tick), -size)]
        qty = round((values[MAKER_SIZE] + 1.0) / 2.0 * max_qty)
        if qty == 0:
            return []
        span = max_offset - min_offset
        bid_offset = min_offset + round((values[MAKER_BID_OFFSET] + 1.0) / 2.0 * span)
        ask_offset = min_offset + round((values[MAKER_ASK_OFFSET] + 1.0) / 2.0 * span)
        bid = max(tick, (reference - bid_offset) // tick * tick)
        ask = -(-(reference + ask_offset) // tick) * tick
        return [(Side.BUY, bid, qty), (Side.SELL, ask, qty)]

    def _children(self, rows: np.ndarray, actions: np.ndarray, reference: int) -> tuple[np.ndarray, OrderArrays]:
        """The child orders of a batch executor population's live agents at ``rows``, decoded at once: the rows that send one, and their orders.

        Only an executor that sent orders at its last turn can have lots resting: only those are read from the clearing.
        """
        resting = np.zeros(len(rows), dtype=np.int64)
        may_rest = np.flatnonzero(self._may_rest[rows])
        names, clearing, exchange = self._all, self.clearing, self.exchange
        resting[may_rest] = [clearing.resting_qty(exchange, names[row]) for row in rows[may_rest].tolist()]
        sending, orders = decode_executors(
            actions, self._desk, rows, reference=reference, step=self._step, inventory=self._inventory[rows], resting=resting, tick=self._tick
        )
        return rows[sending], orders

    def _retire(self, agent: str) -> None:
        """Take a leaving agent's orders out of the market; its account stays in the ledger."""
        self.clearing.withdraw(self.exchange, agent)

    def _plan_driven(self) -> list[tuple[str, int, Policy, np.random.Generator]]:
        """The live driven agents that act one by one (not in a batch population), with index, policy and random stream."""
        first = len(self.possible_agents)
        plan = []
        batch_of = self._batch_of_row
        for agent in self._live_driven:
            i = self._index[agent]
            if batch_of[i] < 0:
                plan.append((agent, i, self._policies[self.population_of[agent].name], self._agent_rngs[i - first]))
        return plan

    def _retire_driven(self, rows: np.ndarray) -> None:
        """Take the driven agents at ``rows`` (bankrupt, live until now) out of the market, in row order."""
        if not rows.size:
            return
        for row in rows.tolist():
            agent = self._all[row]
            self._retire(agent)
            self._live_driven.remove(agent)
        self._live_mask[rows] = False
        self._driven_rows = np.flatnonzero(self._live_mask)
        self._acted_learners = None
        for batch in self._batches:
            batch.live = np.flatnonzero(self._live_mask[batch.rows])
        self._driven_plan = self._plan_driven()

    def _batch_actions(self) -> Any:
        """How :attr:`last_actions` finds a batch agent's action: its population's action matrix of this step."""
        if not self._batches:  # every agent that acted is in the step's dict of actions
            return _no_batch_action
        batches, batch_of = [(b.acted_rows, b.actions) for b in self._batches], self._batch_of_row

        def action_of(row: int) -> np.ndarray:
            rows, actions = batches[batch_of[row]]
            return actions[int(np.searchsorted(rows, row))]

        return action_of

    def _settled(self, fills: list[Fill]) -> tuple[np.ndarray, np.ndarray]:
        """Cash and inventory after a step's fills: only the agents in a fill changed, so only they are read."""
        if self._compiled:  # every balance, read from the compiled ledger's arrays in one gather
            cash, inventory = self.exchange.ledger.balances(self._account_rows)
            return cash.astype(np.float64), inventory.astype(np.float64)
        cash, inventory = self._cash.copy(), self._inventory.copy()
        index, accounts = self._index, self._accounts
        for agent in {name for fill in fills for name in (fill.maker, fill.taker)}:
            i = index.get(agent)
            if i is not None:
                account = accounts[i]
                cash[i] = account.cash
                inventory[i] = account.inventory
        return cash, inventory

    def _balances(self) -> tuple[np.ndarray, np.ndarray]:
        """Cash and inventory of every agent, as float64 arrays in :attr:`all_agents` order."""
        accounts = self._accounts
        cash = np.array([acc.cash for acc in accounts], dtype=np.float64)
        inventory = np.array([acc.inventory for acc in accounts], dtype=np.float64)
        return cash, inventory

    def _observe(self, cash: np.ndarray, inventory: np.ndarray) -> np.ndarray:
        """Observations of every agent (learners and driven) as one float32 matrix, clipped.

        ``cash`` and ``inventory`` are the current balances, from :meth:`_balances`.
        """
        config = self.config
        n = len(self._all)
        window = config.window
        obs = np.empty((n, self._full_width), dtype=np.float64)
        # market features, shared by all
        obs[:, :window] = np.diff(np.log(self._mids))[::-1] * _PERCENT
        book = self.exchange.book
        bid, ask = book.best_bid(), book.best_ask()
        bid_qty = bid[1] if bid else 0
        ask_qty = ask[1] if ask else 0
        spread = (ask[0] - bid[0]) / self._max_offset if bid and ask else OBS_BOUND
        obs[:, window] = spread
        imbalance = (bid_qty - ask_qty) / (bid_qty + ask_qty) if bid_qty + ask_qty else 0.0
        gap = math.log(self._fundamental() / self._mid) * _PERCENT if config.fundamental else 0.0
        obs[:, window + 1 : window + 5] = (math.log1p(bid_qty), math.log1p(ask_qty), imbalance, gap)
        # own account
        start = self._start_equity
        obs[:, window + 5] = (inventory - self._start_inventory) / self._max_qty
        obs[:, window + 6] = (cash - config.initial_cash) / start * _PERCENT
        obs[:, window + 7] = (self._equity - start) / start * _PERCENT
        obs[:, window + 8] = 1.0 - self._step / config.max_steps
        desk = self._desk
        if desk is not None:  # the executors' own four; the other rows' extra columns are never read
            obs[:, window + 9 :] = 0.0
            obs[desk.rows, window + 9 :] = desk.features(self._step, inventory, cash, float(config.initial_cash))
        # clipped to the observation space (np.clip's checks cost more than the two bounds)
        np.minimum(obs, OBS_BOUND, out=obs)
        np.maximum(obs, -OBS_BOUND, out=obs)
        return obs.astype(np.float32)

    def _own(self, obs: np.ndarray, i: int) -> np.ndarray:
        """Agent ``i``'s observation from the matrix of all: its row, without the executor columns unless it executes."""
        if self._full_width == self._width or i in self._desk.slot:
            return obs[i]
        return obs[i, : self._width]

    def _fundamental(self) -> float:
        values = self.config.fundamental
        return float(values[min(self._step, len(values) - 1)])


def _no_orders(row: int) -> list[Order]:
    """What :attr:`MarketEnv.last_orders` holds for an agent that acted and sent nothing."""
    return []


def _no_batch_action(row: int) -> np.ndarray:
    """:attr:`MarketEnv.last_actions` of a market without batch populations: never asked (every action is in its dict)."""
    raise KeyError(row)


def default_config() -> MarketConfig:
    """The market :func:`parallel_env` builds when given no config: two learning makers and four learning
    takers in a continuous book, 200 steps an episode. Every agent is a PettingZoo agent (an env cannot
    build scripted policies); scripted populations need a config and their policy objects."""
    return MarketConfig(
        populations=(
            PopulationConfig(name="maker", role=Role.MAKER, count=2),
            PopulationConfig(name="taker", role=Role.TAKER, count=4),
        ),
        max_steps=200,
    )


def parallel_env(
    config: MarketConfig | Mapping[str, Any] | None = None,
    policies: Mapping[str, Policy] | None = None,
    *,
    check: bool = False,
    **settings: Any,
) -> MarketEnv:
    """The market as a PettingZoo ParallelEnv.

    With no arguments it is :func:`default_config`'s market (PettingZoo's convention: every env builds
    with defaults); keyword settings override any :class:`MarketConfig` field of the config, given or
    default, for example ``parallel_env(max_steps=100, clearing="call")``.

    Args:
        config: the market, or None for the default one.
        policies: policy objects for the populations driven inside the env, by population name.
        check: run the exchange's invariant checks after every order (slow; for tests).
        **settings: MarketConfig fields to override.

    Raises:
        ConfigError: for an unknown setting (with a near match) or a bad value, naming the key.
    """
    base = default_config() if config is None else from_mapping(MarketConfig, config)
    if settings:
        fields = {name: getattr(base, name) for name in base.__dataclass_fields__}
        base = from_mapping(MarketConfig, {**fields, **settings})
    return MarketEnv(base, policies, check=check)


def env(
    config: MarketConfig | Mapping[str, Any] | None = None,
    policies: Mapping[str, Policy] | None = None,
    *,
    check: bool = False,
    **settings: Any,
):
    """The market as a PettingZoo AEC env, converted from :func:`parallel_env`'s (same arguments)."""
    return parallel_to_aec(parallel_env(config, policies, check=check, **settings))
