"""The Avellaneda-Stoikov market maker: closed-form quotes, and a scripted maker policy that posts them.

Avellaneda and Stoikov (2008), "High-frequency trading in a limit order book", Quantitative Finance
8(3): a dealer with exponential utility (risk aversion ``gamma``) quotes around a mid that follows an
arithmetic Brownian motion (volatility ``sigma``) until ``T``; market orders reach a quote at distance
``delta`` from the mid as a Poisson process of intensity ``A * exp(-kappa * delta)``. To first order in
the inventory ``q`` (their section 3.3) the optimal quotes are symmetric around the *reservation price*

    r(s, q, t) = s - q * gamma * sigma**2 * (T - t)                                  (eq. 29)

with a total spread (bid to ask) of

    delta_a + delta_b = gamma * sigma**2 * (T - t) + (2 / gamma) * ln(1 + gamma / kappa)    (eq. 30)

The paper's benchmark, the *symmetric* strategy, quotes the same spread around the mid itself.
Units: prices and distances in one unit (here ticks), ``kappa`` per that unit, ``sigma`` in that unit
per square root of model time, ``T - t`` in model time, ``gamma`` per unit of money.

>>> round(reservation_price(100.0, 2.0, gamma=0.1, sigma=2.0, time_left=0.5), 6)
99.6
>>> round(optimal_spread(gamma=0.1, sigma=2.0, time_left=0.0, kappa=1.5), 4)  # at T: the arrival term alone
1.2908
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from market.agents.scripting import ParamError, ScriptedTrader, check_integer, check_number, quote_action, return_indices
from market.agents.vectorized import quote_actions, row_std
from market.envs.market_config import Role, observation_index

__all__ = [
    "AvellanedaStoikovMaker",
    "AvellanedaStoikovParams",
    "optimal_quotes",
    "optimal_spread",
    "reservation_price",
]


def reservation_price(mid: float, inventory: float, *, gamma: float, sigma: float, time_left: float) -> float:
    """The dealer's indifference price of its inventory: ``mid - q * gamma * sigma**2 * (T - t)`` (eq. 29).

    Args:
        mid: the mid price ``s``.
        inventory: the inventory ``q`` (positive long).
        gamma: risk aversion, above 0.
        sigma: the mid's volatility per square root of model time.
        time_left: ``T - t`` in model time, at least 0.

    Returns:
        The reservation price: below the mid when long, above it when short, the mid at ``T``.
    """
    return mid - inventory * gamma * sigma * sigma * time_left


def optimal_spread(*, gamma: float, sigma: float, time_left: float, kappa: float) -> float:
    """The total bid-ask spread: ``gamma * sigma**2 * (T - t) + (2 / gamma) * ln(1 + gamma / kappa)`` (eq. 30).

    The first term pays for holding inventory until ``T``; the second, the arrival term, is what a
    dealer with no time left still asks of the order flow, and tends to ``2 / kappa`` as ``gamma -> 0``.

    Args:
        gamma: risk aversion, above 0.
        sigma: the mid's volatility per square root of model time.
        time_left: ``T - t`` in model time, at least 0.
        kappa: decay of the fill intensity with distance from the mid, above 0.
    """
    return gamma * sigma * sigma * time_left + (2.0 / gamma) * math.log1p(gamma / kappa)


def optimal_quotes(
    mid: float,
    inventory: float,
    *,
    gamma: float,
    sigma: float,
    time_left: float,
    kappa: float,
    symmetric: bool = False,
    time_spread: bool = True,
) -> tuple[float, float]:
    """The bid and ask: half the optimal spread either side of the reservation price (or of the mid).

    Args:
        mid: the mid price.
        inventory: the inventory, positive long.
        gamma: risk aversion.
        sigma: the mid's volatility per square root of model time.
        time_left: ``T - t`` in model time.
        kappa: decay of the fill intensity with distance.
        symmetric: the paper's benchmark: the same spread centred on the mid, whatever the inventory.
        time_spread: include the inventory-risk term ``gamma * sigma**2 * (T - t)`` in the spread
            (eq. 30); without it the spread is the arrival term alone (see :class:`AvellanedaStoikovParams`).

    Returns:
        ``(bid, ask)``.
    """
    half = optimal_spread(gamma=gamma, sigma=sigma, time_left=time_left if time_spread else 0.0, kappa=kappa) / 2.0
    centre = mid if symmetric else reservation_price(mid, inventory, gamma=gamma, sigma=sigma, time_left=time_left)
    return centre - half, centre + half


@dataclass(frozen=True, slots=True, kw_only=True)
class AvellanedaStoikovParams:
    """Parameters of the Avellaneda-Stoikov maker, in ticks and lots.

    Attributes:
        gamma: risk aversion, per tick x lot.
        kappa: decay of the fill intensity with distance from the mid, per tick.
        sigma: the mid's volatility in ticks per square root of model time; 0 estimates it each step from
            the observation's mid returns, which are in percent and so need ``price``.
        price: the price level in ticks that turns the observed percent returns into ticks (only when
            ``sigma`` is estimated).
        horizon: the episode's length ``T`` in model time (the paper: 1).
        steps: the episode's steps (the env's ``max_steps``): one step is ``horizon / steps`` of model
            time; needed only to estimate ``sigma`` from per-step returns.
        max_qty: the population's ``max_qty``: lots per side at full size, and the unit of the
            observation's inventory.
        max_offset: the population's ``max_offset``: the farthest quote from the mid, in ticks.
        min_offset: the population's ``min_offset``: the nearest quote to the mid, in ticks (0 or less
            reaches the mid or goes through it, in ``poisson`` clearing only).
        size: lots quoted on each side.
        symmetric: quote around the mid instead of the reservation price (the paper's benchmark).
        time_spread: include ``gamma * sigma**2 * (T - t)`` in the spread, as eq. 30 has it. The paper's
            own simulations report the arrival term alone as the spread (1.29 at gamma 0.1, 1.33 at
            0.01, 1.15 at 0.5) and their symmetric strategy's profits fit a spread of that size, so
            the ``avellaneda_stoikov`` scenario, which replays them, sets this to false.
    """

    gamma: float
    kappa: float
    sigma: float = 0.0
    price: float = 0.0
    horizon: float = 1.0
    steps: int = 0
    max_qty: int
    max_offset: int
    min_offset: int = 1
    size: int = 1
    symmetric: bool = False
    time_spread: bool = True

    def __post_init__(self) -> None:
        check_number(self, "gamma", 0.0, math.inf, low_open=True, high_open=True)
        check_number(self, "kappa", 0.0, math.inf, low_open=True, high_open=True)
        check_number(self, "sigma", 0.0, math.inf, high_open=True)
        check_number(self, "price", 0.0, math.inf, high_open=True)
        check_number(self, "horizon", 0.0, math.inf, low_open=True, high_open=True)
        check_integer(self, "steps", 0)
        if self.sigma == 0.0 and (self.price <= 0.0 or self.steps == 0):
            key, value = ("price", self.price) if self.price <= 0.0 else ("steps", self.steps)
            raise ParamError(key, "a value above 0 when sigma is estimated (sigma = 0): the price in ticks and the episode's steps", value)
        check_integer(self, "max_qty", 1)
        check_integer(self, "max_offset", 2)
        check_integer(self, "min_offset", -self.max_offset, self.max_offset - 1)
        check_integer(self, "size", 0)
        if self.size > self.max_qty:
            raise ParamError("size", f"at most max_qty ({self.max_qty}) lots", self.size)
        for key in ("symmetric", "time_spread"):
            if not isinstance(getattr(self, key), bool):
                raise ParamError(key, "true or false", getattr(self, key))


class AvellanedaStoikovMaker(ScriptedTrader):
    """A maker that posts the Avellaneda-Stoikov quotes (or the symmetric benchmark) every step.

    Each step it reads its inventory (``inventory`` feature times ``max_qty``, relative to the start)
    and the time left (``time_left`` times ``horizon``), takes ``sigma`` as given or estimates it as
    the standard deviation of the observation's mid returns (percent per step, times ``price / 100``
    ticks, over the square root of one step's model time), and quotes ``size`` lots at the bid and ask
    of :func:`optimal_quotes` around the current mid.

    The market env quotes whole ticks at ``min_offset`` (1 by default) to ``max_offset`` ticks from the
    mid: each quote's distance is clipped into that range, so with the default a reservation price
    beyond the mid (a large inventory) still leaves the bid at least one tick below the mid and the ask
    one tick above, where the closed form would cross it; and a spread wider than ``2 * max_offset`` is
    cut. Choose ``max_offset`` well beyond half the spread, and in ``poisson`` clearing a negative
    ``min_offset``, to leave the strategy as the paper has it.

    Args:
        params: its :class:`AvellanedaStoikovParams`.
        window: the env's mid-return window.
    """

    role: ClassVar[Role] = Role.MAKER
    params_class: ClassVar[type] = AvellanedaStoikovParams
    uniforms_per_step: ClassVar[int] = 0

    def __init__(self, params: AvellanedaStoikovParams, window: int) -> None:
        super().__init__(params, window)
        self._returns = return_indices(self.window)
        self._inventory = observation_index("inventory", self.window)
        self._time_left = observation_index("time_left", self.window)
        self._step_time = params.horizon / params.steps if params.steps else math.nan

    def sigma(self, obs: np.ndarray) -> float:
        """The mid's volatility in ticks per square root of model time: given, or estimated from ``obs``."""
        p = self.params
        if p.sigma > 0.0:
            return p.sigma
        per_step = float(np.std(obs[self._returns], dtype=np.float64)) / 100.0 * p.price
        return per_step / math.sqrt(self._step_time)

    def quote_distances(self, obs: np.ndarray) -> tuple[float, float]:
        """How far below and above the mid the closed-form bid and ask lie, in ticks (before clipping)."""
        p = self.params
        inventory = float(obs[self._inventory]) * p.max_qty
        time_left = max(0.0, float(obs[self._time_left])) * p.horizon
        bid, ask = optimal_quotes(
            0.0, inventory, gamma=p.gamma, sigma=self.sigma(obs), time_left=time_left, kappa=p.kappa, symmetric=p.symmetric, time_spread=p.time_spread
        )
        return -bid, ask

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return ``[bid_offset, ask_offset, size]``: the closed-form quotes in the maker encoding.

        Args:
            obs: the agent's observation.
            rng: the agent's random stream (unused: the strategy is deterministic).

        Returns:
            The maker action, ``float32`` of shape ``(MAKER_ACTION_DIM,)``.
        """
        self._check(obs)
        p = self.params
        below, above = self.quote_distances(obs)
        return quote_action(below, above, p.size, max_qty=p.max_qty, max_offset=p.max_offset, min_offset=p.min_offset)

    def act_batch(self, obs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """:meth:`act` for a population at once, the same float64 operations in the same order (it draws nothing)."""
        self._check_batch(obs, uniforms, self.uniforms_per_step)
        p = self.params
        inventory = obs[:, self._inventory].astype(np.float64) * p.max_qty
        time_left = np.maximum(0.0, obs[:, self._time_left].astype(np.float64)) * p.horizon
        if p.sigma > 0.0:
            sigma: float | np.ndarray = p.sigma
        else:
            sigma = row_std(obs[:, self._returns]) / 100.0 * p.price / math.sqrt(self._step_time)
        gamma_sigma2 = p.gamma * sigma * sigma
        spread = gamma_sigma2 * (time_left if p.time_spread else 0.0) + (2.0 / p.gamma) * math.log1p(p.gamma / p.kappa)
        half = spread / 2.0
        centre = 0.0 if p.symmetric else 0.0 - inventory * p.gamma * sigma * sigma * time_left
        return quote_actions(-(centre - half), centre + half, p.size, max_qty=p.max_qty, max_offset=p.max_offset, min_offset=p.min_offset)
