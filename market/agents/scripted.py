"""Scripted background traders for the market env, and the factory that builds them by name.

Five traders, each a :class:`~market.agents.policy.Policy` for one role of the market env:

========================  =========  ===========================================================
name                      role       behaviour
========================  =========  ===========================================================
``noise``                 taker      zero intelligence: random sign, size (uniform or Pareto) and
                                     aggressiveness; optionally more active when volatile
``market_maker``          maker      quotes around the mid, skewed against inventory, dispersed
                                     at random, widened and thinned by volatility, withdrawn at
                                     random or in high volatility
``momentum``              taker      follows the mean of the last ``lookback`` mid returns
``value``                 taker      trades toward the fundamental when the gap leaves a band
``shock``                 taker      one full-size, fully aggressive order flow in a set window
========================  =========  ===========================================================

The textbook baselines (:mod:`market.agents.baselines`) are registered beside them:
``avellaneda_stoikov`` (maker), and the executors ``twap``, ``passive``, ``all_at_once`` and
``almgren_chriss``.

Every trader reads its features by name through
:func:`~market.envs.market_config.observation_index` (indices computed once, in ``__init__``) and
returns a ``float32`` action inside its role's space, with the encodings published in
:mod:`market.envs.market_config`. Sizes, offsets and inventories in the parameters are in the
encodings' units, so one parameter set works for any ``max_qty`` and ``max_offset``:

* a taker's ``size`` is a fraction of the population's ``max_qty`` (``0.5`` sends half of it) and
  its ``aggression`` is a fraction of ``max_offset`` (positive crosses the spread, negative rests);
* a maker's offsets are in ``[0, 1]``, ``0`` one tick from the mid and ``1`` ``max_offset`` ticks
  away, and its ``size`` is a fraction of ``max_qty`` per side;
* inventories are in multiples of ``max_qty``, as in the ``inventory`` feature.

All randomness comes from the ``rng`` passed to ``act``; nothing here holds random state.

Each trader class names its role and its parameter class (``role``, ``params_class``);
:data:`SCRIPTED_POLICIES` maps policy names to classes (these five, and the textbook makers of
:mod:`market.agents.baselines`: ``avellaneda_stoikov`` and ``cartea_jaimungal``), and
:func:`build_policy` builds one from a scenario's ``params`` table, naming
``populations.<population>.params.<key>`` in any error.

>>> import numpy as np
>>> from market.envs.market_config import observation_index, observation_names
>>> policy = build_policy("value", {"threshold": 0.5, "size_scale": 0.2}, window=4)
>>> obs = np.zeros(len(observation_names(4)), dtype=np.float32)
>>> obs[observation_index("fundamental_gap", 4)] = 2.0  # the fundamental is 2% above the mid
>>> policy.act(obs, np.random.default_rng(0))  # buy 0.2 x 2 = 0.4 of max_qty, aggression 0.2
array([0.4, 0.2], dtype=float32)
>>> policy_role("value")
<Role.TAKER: 'taker'>
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from market.agents.baselines.avellaneda_stoikov import AvellanedaStoikovMaker
from market.agents.baselines.cartea_jaimungal import CarteaJaimungalMaker
from market.agents.baselines.execution import AllAtOnceExecutor, AlmgrenChrissExecutor, PassiveExecutor, TWAPExecutor
from market.agents.policy import Policy
from market.agents.vectorized import capped_sizes, maker_actions, row_mean, row_std, taker_actions
from market.config import from_mapping, suggest
from market.envs.market_config import (
    Role,
    observation_index,
)
from market.agents.scripting import (
    ParamError,
    ScriptedTrader,
    capped_size,
    check_integer,
    check_number,
    maker_action,
    return_indices,
    taker_action,
    volatility,
)
from market.errors import ConfigError
from market.exchange.types import Side

__all__ = [
    "SCRIPTED_POLICIES",
    "MarketMaker",
    "MarketMakerParams",
    "MomentumParams",
    "MomentumTrader",
    "NoiseParams",
    "NoiseTrader",
    "ShockParams",
    "ShockTrader",
    "ValueParams",
    "ValueTrader",
    "build_policy",
    "policy_role",
]



# ---------------------------------------------------------------------------- parameters
@dataclass(frozen=True, slots=True, kw_only=True)
class NoiseParams:
    """Zero-intelligence taker.

    Attributes:
        activity: probability of sending an order in a step.
        min_size: smallest order size, as a fraction of ``max_qty``.
        max_size: largest order size, as a fraction of ``max_qty``; sizes are uniform in between
            unless ``size_tail`` is set.
        max_aggression: aggressiveness is uniform in ``[-max_aggression, max_aggression]``, so
            about half the orders cross the spread and half rest passively.
        vol_activity: how activity rises with recent volatility ``vol``, the standard deviation of
            the observation's mid returns (percent): the probability of acting is
            ``min(1, activity * (1 + vol_activity * vol))``. 0 keeps it at ``activity``.
        size_tail: 0 draws sizes uniformly in ``[min_size, max_size]``; a positive value draws them
            from a Pareto law with this tail exponent, ``min_size * u ** (-1 / size_tail)`` for
            ``u`` uniform in ``(0, 1]``, capped at ``max_size``: mostly small orders and a few large
            ones, as in real order flow.
    """

    activity: float = 0.5
    min_size: float = 0.1
    max_size: float = 0.5
    max_aggression: float = 1.0
    vol_activity: float = 0.0
    size_tail: float = 0.0

    def __post_init__(self) -> None:
        check_number(self, "activity", 0.0, 1.0)
        check_number(self, "vol_activity", 0.0, math.inf, high_open=True)
        check_number(self, "size_tail", 0.0, math.inf, high_open=True)
        check_number(self, "min_size", 0.0, 1.0)
        if self.size_tail > 0.0 and self.min_size == 0.0:
            raise ParamError("min_size", "a number in (0.0, 1.0] when size_tail > 0", self.min_size)
        check_number(self, "max_size", self.min_size, 1.0)
        check_number(self, "max_aggression", 0.0, 1.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketMakerParams:
    """Market maker quoting both sides around the mid.

    Attributes:
        half_spread: base offset of each quote from the mid, in ``[0, 1]`` (0 is one tick, 1 is
            ``max_offset`` ticks).
        size: quote size per side, as a fraction of ``max_qty``.
        inventory_skew: offset moved per unit of inventory (in multiples of ``max_qty``) away from
            ``neutral_inventory``: long inventory tightens the ask and widens the bid, so the maker
            sells down; short inventory does the opposite.
        neutral_inventory: the inventory (``inventory`` feature units) the maker skews toward.
        vol_widen: offset added to both quotes per percent of volatility, the standard deviation
            of the observation's mid returns (``ret_0 .. ret_{window-1}``, in percent).
        withdraw_vol: volatility (percent) above which the maker withdraws its quotes (size 0);
            ``inf`` never withdraws for volatility.
        withdraw_prob: probability of withdrawing in any step.
        vol_thin: how the quote size shrinks with volatility: ``size / (1 + vol_thin * vol)``
            (rounded to lots by the env, so thin enough quotes vanish). 0 keeps it at ``size``.
        jitter: each quote's offset is moved out by ``jitter * u``, ``u`` uniform in ``[0, 1)``
            and drawn per side and step, so that makers' quotes differ and the inside quotes are
            rarely symmetric around the mid.
    """

    half_spread: float = 0.2
    size: float = 0.5
    inventory_skew: float = 0.1
    neutral_inventory: float = 0.0
    vol_widen: float = 0.5
    withdraw_vol: float = math.inf
    withdraw_prob: float = 0.0
    vol_thin: float = 0.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        check_number(self, "half_spread", 0.0, 1.0)
        check_number(self, "size", 0.0, 1.0, low_open=True)
        check_number(self, "inventory_skew", 0.0, math.inf, high_open=True)
        check_number(self, "neutral_inventory", -math.inf, math.inf, low_open=True, high_open=True)
        check_number(self, "vol_widen", 0.0, math.inf, high_open=True)
        check_number(self, "withdraw_vol", 0.0, math.inf, low_open=True)
        check_number(self, "withdraw_prob", 0.0, 1.0)
        check_number(self, "vol_thin", 0.0, math.inf, high_open=True)
        check_number(self, "jitter", 0.0, 1.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class MomentumParams:
    """Trend follower on recent mid returns.

    Attributes:
        lookback: number of recent returns averaged (``ret_0 .. ret_{lookback-1}``); at most the
            env's ``window``.
        threshold: the mean return (percent per step) must exceed this in absolute value to trade.
        size_scale: order size (fraction of ``max_qty``) per percent of mean return.
        max_size: cap on the order size, as a fraction of ``max_qty``.
        aggression: aggressiveness of every order, in ``[-1, 1]`` (positive crosses the spread).
        max_inventory: cap on ``|inventory - neutral_inventory|`` (multiples of ``max_qty``): an
            order never takes the inventory beyond it, to within one lot of rounding.
        neutral_inventory: the inventory (``inventory`` feature units) the cap is measured from.
    """

    lookback: int = 5
    threshold: float = 0.01
    size_scale: float = 5.0
    max_size: float = 0.5
    aggression: float = 0.5
    max_inventory: float = 5.0
    neutral_inventory: float = 0.0

    def __post_init__(self) -> None:
        check_integer(self, "lookback", 1)
        check_number(self, "threshold", 0.0, math.inf, high_open=True)
        check_number(self, "size_scale", 0.0, math.inf, low_open=True, high_open=True)
        check_number(self, "max_size", 0.0, 1.0, low_open=True)
        check_number(self, "aggression", -1.0, 1.0)
        check_number(self, "max_inventory", 0.0, math.inf, high_open=True)
        check_number(self, "neutral_inventory", -math.inf, math.inf, low_open=True, high_open=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class ValueParams:
    """Fundamental trader on the ``fundamental_gap`` feature (log(fundamental / mid) in percent).

    Attributes:
        threshold: half-width of the no-trade band, in percent of the mid.
        size_scale: order size (fraction of ``max_qty``) per percent of gap.
        max_size: cap on the order size, as a fraction of ``max_qty``.
        aggression: aggressiveness of every order, in ``[-1, 1]`` (positive crosses the spread).
        max_inventory: cap on ``|inventory - neutral_inventory|`` (multiples of ``max_qty``): an
            order never takes the inventory beyond it, to within one lot of rounding.
        neutral_inventory: the inventory (``inventory`` feature units) the cap is measured from.
    """

    threshold: float = 0.5
    size_scale: float = 0.2
    max_size: float = 0.5
    aggression: float = 0.2
    max_inventory: float = 5.0
    neutral_inventory: float = 0.0

    def __post_init__(self) -> None:
        check_number(self, "threshold", 0.0, math.inf, high_open=True)
        check_number(self, "size_scale", 0.0, math.inf, low_open=True, high_open=True)
        check_number(self, "max_size", 0.0, 1.0, low_open=True)
        check_number(self, "aggression", -1.0, 1.0)
        check_number(self, "max_inventory", 0.0, math.inf, high_open=True)
        check_number(self, "neutral_inventory", -math.inf, math.inf, low_open=True, high_open=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class ShockParams:
    """A large one-sided order flow at a set time (a fire sale, or a buying spree).

    Attributes:
        at_step: first step (0-based) of the shock.
        max_steps: the env's ``max_steps``; it must match the market config, since the trader
            reads the step from ``time_left`` (see :class:`ShockTrader`).
        side: ``"sell"`` or ``"buy"``.
        size: order size per step, as a fraction of ``max_qty``.
        duration: number of consecutive steps of the shock.
    """

    at_step: int
    max_steps: int
    side: Side = Side.SELL
    size: float = 1.0
    duration: int = 1

    def __post_init__(self) -> None:
        check_integer(self, "max_steps", 1)
        check_integer(self, "at_step", 0)
        if self.at_step >= self.max_steps:
            raise ParamError("at_step", f"a step before max_steps={self.max_steps}", self.at_step)
        if self.side not in tuple(Side):
            raise ParamError("side", f"one of {[s.value for s in Side]}", self.side)
        object.__setattr__(self, "side", Side(self.side))
        check_number(self, "size", 0.0, 1.0, low_open=True)
        check_integer(self, "duration", 1)



class NoiseTrader(ScriptedTrader):
    """Zero-intelligence taker: random orders of random sign, size and aggressiveness.

    Each step draws four uniforms from ``rng`` (whether to act, the sign, the size, the
    aggressiveness), whatever the outcome, so the stream a trader consumes does not depend on its
    parameters. When inactive it returns ``[0, 0]`` (no order). With ``vol_activity > 0`` the
    chance of acting rises with the volatility of the observation's mid returns, so busy periods
    draw more orders (a source of volatility clustering).

    Args:
        params: the trader's :class:`NoiseParams`.
        window: the env's mid-return window.
    """

    role: ClassVar[Role] = Role.TAKER
    params_class: ClassVar[type] = NoiseParams
    uniforms_per_step: ClassVar[int] = 4

    def __init__(self, params: NoiseParams, window: int) -> None:
        super().__init__(params, window)
        self._returns = return_indices(self.window)

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return ``[size, aggressiveness]``: a random order with probability ``activity``, else nothing.

        Args:
            obs: the agent's observation.
            rng: the agent's random stream.

        Returns:
            The taker action, ``float32`` of shape ``(TAKER_ACTION_DIM,)``.
        """
        self._check(obs)
        p = self.params
        active, sign, size, aggression = rng.random(4)
        activity = p.activity
        if p.vol_activity > 0.0:
            activity = min(1.0, activity * (1.0 + p.vol_activity * volatility(obs, self._returns)))
        if active >= activity:
            return taker_action(0.0, 0.0)
        if p.size_tail > 0.0:
            magnitude = min(p.max_size, p.min_size * (1.0 - size) ** (-1.0 / p.size_tail))
        else:
            magnitude = p.min_size + (p.max_size - p.min_size) * size
        signed_size = (1.0 if sign < 0.5 else -1.0) * magnitude
        return taker_action(signed_size, p.max_aggression * (2.0 * aggression - 1.0))

    def act_batch(self, obs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """:meth:`act` for a population at once: ``(N, D)`` observations and the ``(N, 4)`` uniforms of its agents' streams."""
        self._check_batch(obs, uniforms, self.uniforms_per_step)
        p = self.params
        active, sign, size, aggression = uniforms.T
        activity: float | np.ndarray = p.activity
        if p.vol_activity > 0.0:
            activity = np.minimum(1.0, p.activity * (1.0 + p.vol_activity * row_std(obs[:, self._returns])))
        acting = active < activity
        if p.size_tail > 0.0:
            magnitude = np.minimum(p.max_size, p.min_size * (1.0 - size) ** (-1.0 / p.size_tail))
        else:
            magnitude = p.min_size + (p.max_size - p.min_size) * size
        signed_size = np.where(sign < 0.5, 1.0, -1.0) * magnitude
        return taker_actions(np.where(acting, signed_size, 0.0), np.where(acting, p.max_aggression * (2.0 * aggression - 1.0), 0.0))


class MarketMaker(ScriptedTrader):
    """Maker quoting both sides around the mid: skewed by inventory, widened and thinned by volatility.

    With ``vol`` the standard deviation of the observation's mid returns (percent), ``inv`` the
    ``inventory`` feature minus ``neutral_inventory`` and ``u_bid``, ``u_ask`` uniform draws in
    ``[0, 1)``, the offsets in ``[0, 1]`` units are::

        bid = half_spread + vol_widen * vol + inventory_skew * inv + jitter * u_bid
        ask = half_spread + vol_widen * vol - inventory_skew * inv + jitter * u_ask

    clipped to ``[0, 1]``. The quote size is ``size / (1 + vol_thin * vol)``: the book widens and
    thins as volatility rises, so a burst of volatility feeds on itself for a while. The maker
    withdraws (quote size 0) when ``vol > withdraw_vol`` or, each step, with probability
    ``withdraw_prob``. It draws three uniforms from ``rng`` per step (withdrawal, bid, ask),
    whatever its parameters.

    Args:
        params: the maker's :class:`MarketMakerParams`.
        window: the env's mid-return window.
    """

    role: ClassVar[Role] = Role.MAKER
    params_class: ClassVar[type] = MarketMakerParams
    uniforms_per_step: ClassVar[int] = 3

    def __init__(self, params: MarketMakerParams, window: int) -> None:
        super().__init__(params, window)
        self._returns = return_indices(self.window)
        self._inventory = observation_index("inventory", self.window)

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return ``[bid_offset, ask_offset, size]`` for this step's quotes.

        Args:
            obs: the agent's observation.
            rng: the agent's random stream.

        Returns:
            The maker action, ``float32`` of shape ``(MAKER_ACTION_DIM,)``.
        """
        self._check(obs)
        p = self.params
        vol = volatility(obs, self._returns)
        skew = p.inventory_skew * (float(obs[self._inventory]) - p.neutral_inventory)
        offset = p.half_spread + p.vol_widen * vol
        withdraw_draw, bid_draw, ask_draw = rng.random(3)
        withdraw = withdraw_draw < p.withdraw_prob or vol > p.withdraw_vol
        size = p.size / (1.0 + p.vol_thin * vol)
        bid = offset + skew + p.jitter * bid_draw
        ask = offset - skew + p.jitter * ask_draw
        return maker_action(bid, ask, 0.0 if withdraw else size)

    def act_batch(self, obs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """:meth:`act` for a population at once: ``(N, D)`` observations and the ``(N, 3)`` uniforms of its agents' streams."""
        self._check_batch(obs, uniforms, self.uniforms_per_step)
        p = self.params
        vol = row_std(obs[:, self._returns])
        skew = p.inventory_skew * (obs[:, self._inventory].astype(np.float64) - p.neutral_inventory)
        offset = p.half_spread + p.vol_widen * vol
        withdraw_draw, bid_draw, ask_draw = uniforms.T
        withdraw = (withdraw_draw < p.withdraw_prob) | (vol > p.withdraw_vol)
        size = p.size / (1.0 + p.vol_thin * vol)
        bid = offset + skew + p.jitter * bid_draw
        ask = offset - skew + p.jitter * ask_draw
        return maker_actions(bid, ask, np.where(withdraw, 0.0, size))


class MomentumTrader(ScriptedTrader):
    """Taker that follows the trend of the last ``lookback`` mid returns.

    The signal is the mean of ``ret_0 .. ret_{lookback-1}`` (percent per step). Above
    ``threshold`` it buys, below ``-threshold`` it sells, with size ``size_scale * |signal|``
    capped at ``max_size``, then shrunk so the inventory stays within ``max_inventory`` of
    ``neutral_inventory``. It draws nothing from ``rng``.

    Args:
        params: the trader's :class:`MomentumParams`.
        window: the env's mid-return window; ``params.lookback`` must not exceed it.

    Raises:
        ConfigError: if ``lookback`` exceeds ``window``.
    """

    role: ClassVar[Role] = Role.TAKER
    params_class: ClassVar[type] = MomentumParams
    uniforms_per_step: ClassVar[int] = 0

    def __init__(self, params: MomentumParams, window: int) -> None:
        super().__init__(params, window)
        if params.lookback > self.window:
            raise ParamError("lookback", f"an integer in [1, window={self.window}]", params.lookback)
        self._returns = np.array([observation_index(f"ret_{k}", self.window) for k in range(params.lookback)])
        self._inventory = observation_index("inventory", self.window)

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return ``[size, aggressiveness]``: with the trend, or nothing inside the threshold.

        Args:
            obs: the agent's observation.
            rng: the agent's random stream (unused: the trader is deterministic).

        Returns:
            The taker action, ``float32`` of shape ``(TAKER_ACTION_DIM,)``.
        """
        self._check(obs)
        p = self.params
        signal = float(np.mean(obs[self._returns], dtype=np.float64))
        if abs(signal) <= p.threshold:
            return taker_action(0.0, 0.0)
        size = math.copysign(min(p.max_size, p.size_scale * abs(signal)), signal)
        size = capped_size(size, float(obs[self._inventory]) - p.neutral_inventory, p.max_inventory)
        return taker_action(size, p.aggression if size else 0.0)

    def act_batch(self, obs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """:meth:`act` for a population at once (``uniforms`` has no columns: the trader draws nothing)."""
        self._check_batch(obs, uniforms, self.uniforms_per_step)
        p = self.params
        signal = row_mean(obs[:, self._returns])
        return _toward(signal, p.threshold, p, obs[:, self._inventory])


class ValueTrader(ScriptedTrader):
    """Taker that trades toward the fundamental when the price strays from it.

    With ``gap`` the ``fundamental_gap`` feature (log(fundamental / mid), percent): above
    ``threshold`` it buys, below ``-threshold`` it sells, inside the band it does nothing. The size
    is ``size_scale * |gap|`` capped at ``max_size``, then shrunk so the inventory stays within
    ``max_inventory`` of ``neutral_inventory``. It draws nothing from ``rng``. Without a fundamental
    in the market config the gap is 0, and the trader never trades.

    Args:
        params: the trader's :class:`ValueParams`.
        window: the env's mid-return window.
    """

    role: ClassVar[Role] = Role.TAKER
    params_class: ClassVar[type] = ValueParams
    uniforms_per_step: ClassVar[int] = 0

    def __init__(self, params: ValueParams, window: int) -> None:
        super().__init__(params, window)
        self._gap = observation_index("fundamental_gap", self.window)
        self._inventory = observation_index("inventory", self.window)

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return ``[size, aggressiveness]``: toward the fundamental, or nothing inside the band.

        Args:
            obs: the agent's observation.
            rng: the agent's random stream (unused: the trader is deterministic).

        Returns:
            The taker action, ``float32`` of shape ``(TAKER_ACTION_DIM,)``.
        """
        self._check(obs)
        p = self.params
        gap = float(obs[self._gap])
        if abs(gap) <= p.threshold:
            return taker_action(0.0, 0.0)
        size = math.copysign(min(p.max_size, p.size_scale * abs(gap)), gap)
        size = capped_size(size, float(obs[self._inventory]) - p.neutral_inventory, p.max_inventory)
        return taker_action(size, p.aggression if size else 0.0)

    def act_batch(self, obs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """:meth:`act` for a population at once (``uniforms`` has no columns: the trader draws nothing)."""
        self._check_batch(obs, uniforms, self.uniforms_per_step)
        p = self.params
        return _toward(obs[:, self._gap].astype(np.float64), p.threshold, p, obs[:, self._inventory])


class ShockTrader(ScriptedTrader):
    """Taker that sends ``size`` at full aggressiveness on one side, from ``at_step`` for ``duration`` steps.

    The observation carries no step counter, so the trader recovers the step from the
    ``time_left`` feature (``1 - step / max_steps``) as ``step = round((1 - time_left) * max_steps)``,
    which is why ``params.max_steps`` must equal the market config's ``max_steps``. The step is the
    number of steps already taken (0 in the observation that ``reset`` returns), so the orders go
    out in steps ``at_step .. at_step + duration - 1``. Outside that window it returns ``[0, 0]``.
    It draws nothing from ``rng``.

    Args:
        params: the trader's :class:`ShockParams`.
        window: the env's mid-return window.
    """

    role: ClassVar[Role] = Role.TAKER
    params_class: ClassVar[type] = ShockParams
    uniforms_per_step: ClassVar[int] = 0

    def __init__(self, params: ShockParams, window: int) -> None:
        super().__init__(params, window)
        self._time_left = observation_index("time_left", self.window)
        self._sign = 1.0 if params.side is Side.BUY else -1.0

    def step_of(self, obs: np.ndarray) -> int:
        """The env step an observation was taken at, read from ``time_left``."""
        return round((1.0 - float(obs[self._time_left])) * self.params.max_steps)

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return ``[±size, 1]`` inside the shock window, ``[0, 0]`` outside it.

        Args:
            obs: the agent's observation.
            rng: the agent's random stream (unused: the trader is deterministic).

        Returns:
            The taker action, ``float32`` of shape ``(TAKER_ACTION_DIM,)``.
        """
        self._check(obs)
        p = self.params
        if p.at_step <= self.step_of(obs) < p.at_step + p.duration:
            return taker_action(self._sign * p.size, 1.0)
        return taker_action(0.0, 0.0)

    def act_batch(self, obs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """:meth:`act` for a population at once (``uniforms`` has no columns: the trader draws nothing)."""
        self._check_batch(obs, uniforms, self.uniforms_per_step)
        p = self.params
        step = np.rint((1.0 - obs[:, self._time_left].astype(np.float64)) * p.max_steps)
        shocking = (p.at_step <= step) & (step < p.at_step + p.duration)
        return taker_actions(np.where(shocking, self._sign * p.size, 0.0), np.where(shocking, 1.0, 0.0))


def _toward(signal: np.ndarray, threshold: float, p: MomentumParams | ValueParams, inventory: np.ndarray) -> np.ndarray:
    """The momentum and value traders' batch rule: trade with ``signal`` beyond ``threshold``, sized and capped.

    Row by row what their ``act`` does: nothing inside the band; else ``size_scale * |signal|`` capped at
    ``max_size`` with the signal's sign, shrunk to keep inventory within ``max_inventory``, at
    ``aggression`` (none when the cap leaves no size).
    """
    trading = np.abs(signal) > threshold
    size = np.copysign(np.minimum(p.max_size, p.size_scale * np.abs(signal)), signal)
    size = capped_sizes(size, inventory.astype(np.float64) - p.neutral_inventory, p.max_inventory)
    size = np.where(trading, size, 0.0)
    return taker_actions(size, np.where(size != 0.0, p.aggression, 0.0))


# ---------------------------------------------------------------------------- factory
SCRIPTED_POLICIES: dict[str, type] = {
    "noise": NoiseTrader,
    "market_maker": MarketMaker,
    "momentum": MomentumTrader,
    "value": ValueTrader,
    "shock": ShockTrader,
    "avellaneda_stoikov": AvellanedaStoikovMaker,
    "cartea_jaimungal": CarteaJaimungalMaker,
    "twap": TWAPExecutor,
    "passive": PassiveExecutor,
    "all_at_once": AllAtOnceExecutor,
    "almgren_chriss": AlmgrenChrissExecutor,
}
"""Scripted trader classes by policy name, the name a scenario's population gives as ``policy``."""


def _policy_class(name: str, population: str) -> type:
    """The class registered under ``name``, or a ConfigError naming the population's ``policy`` key."""
    if name not in SCRIPTED_POLICIES:
        choices = list(SCRIPTED_POLICIES)
        raise ConfigError(
            f"populations.{population}.policy: unknown scripted policy {name!r}{suggest(str(name), choices)}; "
            f"known: {', '.join(choices)}"
        )
    return SCRIPTED_POLICIES[name]


def policy_role(name: str, *, population: str = "?") -> Role:
    """The role (maker or taker) of the scripted policy called ``name``.

    Args:
        name: a key of :data:`SCRIPTED_POLICIES`.
        population: the population's name, for the error message.

    Returns:
        The policy's :class:`~market.envs.market_config.Role`.

    Raises:
        ConfigError: if ``name`` is not a scripted policy (with a "did you mean" for near misses).
    """
    return _policy_class(name, population).role


POPULATION_LIMITS = ("max_qty", "max_offset", "min_offset", "quantity", "horizon", "max_pace", "aggression_center")
"""Parameters some policies take from their population: they quote in lots and ticks, not in fractions
(``max_qty``, ``max_offset``, ``min_offset``), or work its parent order (``quantity``, ``horizon``,
``max_pace``, ``aggression_center``: executors only)."""


def population_limits(population: Any) -> dict[str, Any]:
    """A population's :data:`POPULATION_LIMITS` by name, for :func:`build_policy`'s keywords."""
    limits = {key: getattr(population, key) for key in ("max_qty", "max_offset", "min_offset")}
    order = getattr(population, "execution", None)
    if order is not None:
        limits.update(quantity=order.quantity, horizon=order.horizon, max_pace=order.pace_range, aggression_center=order.aggression_center)
    return limits


def build_policy(
    name: str,
    params: Mapping[str, Any],
    *,
    window: int,
    population: str = "?",
    **limits: Any,
) -> Policy:
    """Build the scripted trader called ``name`` from a table of parameters.

    Args:
        name: a key of :data:`SCRIPTED_POLICIES`.
        params: the trader's parameters by name (missing ones take their defaults), for example a
            population's ``param_dict``.
        window: the market env's mid-return window.
        population: the population's name, for error messages.
        **limits: the population's :data:`POPULATION_LIMITS` (:func:`population_limits`), given to policies whose parameters include
            them (the textbook makers quote in lots and ticks) unless ``params`` sets them; a value in
            ``params`` that differs from the population's is an error.

    Returns:
        The trader, a :class:`~market.agents.policy.Policy` for the role :func:`policy_role` gives.

    Raises:
        ConfigError: for an unknown name, or an unknown, missing or bad parameter, naming
            ``populations.<population>.params.<key>`` and the value.
    """
    cls = _policy_class(name, population)
    path = f"populations.{population}.params"
    fields = {f.name for f in dataclasses.fields(cls.params_class)}
    params = dict(params)
    unknown = set(limits) - set(POPULATION_LIMITS)
    if unknown:
        raise TypeError(f"build_policy: unknown population limits {sorted(unknown)}; known: {POPULATION_LIMITS}")
    for key, value in limits.items():
        if key not in fields or value is None:
            continue
        if key in params and params[key] != value:
            raise ConfigError(f"{path}.{key}: {params[key]!r} differs from the population's {key} ({value}); leave it out to take the population's")
        params[key] = value
    try:
        return cls(from_mapping(cls.params_class, params, path), window)
    except ParamError as error:
        raise ConfigError(error.message(path)) from None



def strategy_policy_of(key: str, name: str, params: Mapping[str, Any], population: Any, *, window: int) -> Policy:
    """The scripted policy ``name`` playing in ``population``'s place, checked as a strategy entry.

    A scenario's baselines and league strategies name a policy for a learning population; this checks
    that the policy exists, is of the population's role and takes these parameters, with every error
    naming the entry's ``key`` (``evaluation.baselines.<name>``, ``league.strategies.<name>``).

    Args:
        key: the entry's key, for error messages.
        name: a key of :data:`SCRIPTED_POLICIES`.
        params: the policy's parameters.
        population: the population (a :class:`~market.envs.market_config.PopulationConfig`).
        window: the market env's mid-return window.

    Raises:
        ConfigError: an unknown policy (with a "did you mean"), one of the other role, or bad parameters.
    """
    try:
        role = policy_role(name, population=population.name)
    except ConfigError as error:
        raise ConfigError(f"{key}.policy: {str(error).partition(': ')[2]}") from None
    if role is not population.role:
        raise ConfigError(f"{key}.policy: {name!r} is not a {population.role} policy, and {population.name!r} are {population.role}s")
    try:
        return build_policy(name, dict(params), window=window, population=population.name, **population_limits(population))
    except ConfigError as error:
        raise ConfigError(f"{key}: {error}") from None
