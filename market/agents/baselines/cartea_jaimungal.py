"""The Cartea-Jaimungal market maker: closed-form depths, and a scripted maker policy that posts them.

Cartea, Jaimungal and Penalva (2015), "Algorithmic and High-Frequency Trading", section 10.2: a
risk-neutral dealer posts a bid and an ask at depths ``delta_b`` and ``delta_a`` from the mid until
``T``. Market orders arrive on each side as a Poisson process of intensity ``lambda`` and fill a quote
at depth ``delta`` with probability ``exp(-kappa * delta)``, one unit each; the dealer pays a running
penalty ``phi * q**2`` per unit of time and a terminal penalty ``alpha * q**2`` on its inventory ``q``,
which it keeps in ``[-Q, Q]``. The mid is a Brownian motion without drift; its volatility does not
enter the depths (``phi`` stands for the inventory risk). The dealer's value is ``x + q * s + h(t, q)``
with

    h(t, q) = (1 / kappa) * log(omega(t, q)),    omega(t) = expm(A * (T - t)) @ z

where ``A`` is the ``(2Q + 1) x (2Q + 1)`` tridiagonal matrix with ``A[q, q] = -phi * kappa * q**2``
and ``A[q, q + 1] = A[q, q - 1] = lambda * exp(-1)``, and ``z[q] = exp(-alpha * kappa * q**2)``. Here
rows run from ``q = -Q`` (row 0) up to ``q = Q`` (row ``2Q``); with the same intensity on both sides
``A`` and ``z`` are symmetric in ``q``, so the book's order (``Q`` down to ``-Q``) gives the same
``omega``. The optimal depths are

    delta_b(t, q) = 1 / kappa + h(t, q) - h(t, q + 1)    for q < Q   (no bid at q = Q)
    delta_a(t, q) = 1 / kappa + h(t, q) - h(t, q - 1)    for q > -Q  (no ask at q = -Q)

A depth below 0 quotes through the mid, to be rid of inventory at a loss. Units: depths in one unit
(here ticks), ``kappa`` per that unit, ``lambda`` per unit of model time, ``T - t`` in model time,
``phi`` in that unit per unit of inventory per unit of model time, ``alpha`` in that unit per unit
of inventory, ``q`` in units of inventory (here lots).

Computing ``omega``: the entries of ``omega`` can span hundreds of orders of magnitude (``z`` falls
as ``exp(-alpha * kappa * q**2)``), and a general matrix exponential such as
``scipy.linalg.expm`` is accurate relative to its largest entries only, so near the inventory cap
and close to ``T`` its small entries, and the depths taken from their ratios, can be off by tenths
of a tick (0.36 ticks at ``phi = 0.01``, ``alpha = 2``, ``kappa = 1``, ``lambda = 100``, ``Q = 10``,
``T - t = 1e-4``, against a 60-digit computation). :func:`cj_log_omega` therefore works with the
non-negative matrix ``A + c * I`` (``c = phi * kappa * Q**2``): a Taylor series of
``expm((A + c * I) * tau / 2**s)`` summed until every entry has converged, then squared ``s`` times,
adds non-negative numbers only, so every entry keeps its relative accuracy; ``log(omega)`` is then
summed in logarithms with ``log(z) = -alpha * kappa * q**2`` exact. The cost is 30 to 120 products
of ``(2Q + 1) x (2Q + 1)`` matrices: about 2 ms at ``Q = 20``, 15 ms at ``Q = 50`` and 80 ms at
``Q = 100`` on one core.

>>> bid, ask = cj_depths(0.0, 2, phi=0.0, alpha=1.0, kappa=0.5, intensity=1.0, max_inventory=3)
>>> round(bid, 6), round(ask, 6)  # at T: 1/kappa + alpha * (2q + 1) and 1/kappa - alpha * (2q - 1)
(7.0, -1.0)
>>> cj_depths(0.5, 3, phi=0.0, alpha=1.0, kappa=0.5, intensity=1.0, max_inventory=3)[0] is None  # at Q: no bid
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from market.agents.scripting import ParamError, ScriptedTrader, check_integer, check_number, quote_action
from market.agents.vectorized import quote_actions
from market.envs.market_config import OBS_BOUND, Role, observation_index

__all__ = [
    "CarteaJaimungalMaker",
    "CarteaJaimungalParams",
    "cj_depths",
    "cj_h",
    "cj_log_omega",
    "cj_matrix",
    "depths_from_h",
]

_SERIES_NORM = 0.5
"""The Taylor series runs on ``(A + c * I) * tau / 2**s`` scaled to at most this norm."""
_SERIES_TOLERANCE = 1e-17
"""The series stops when every new term is below this share of the sum, entry by entry."""
_FLOOR = 1e-280
"""Entries below this (of terms, and of the squares scaled to a largest entry of 1) are set to 0, so
that no product falls into the slow subnormal range."""


def cj_matrix(*, phi: float, kappa: float, intensity: float, max_inventory: int) -> np.ndarray:
    """The matrix ``A``: ``-phi * kappa * q**2`` on the diagonal, ``intensity * exp(-1)`` beside it.

    Args:
        phi: running inventory penalty, at least 0.
        kappa: decay of the fill probability with depth, above 0.
        intensity: arrival rate ``lambda`` of market orders on each side, per unit of model time.
        max_inventory: the inventory cap ``Q``, a positive integer.

    Returns:
        ``A`` as a ``(2Q + 1, 2Q + 1)`` float array, row ``i`` for inventory ``q = i - Q``.
    """
    q = np.arange(-max_inventory, max_inventory + 1, dtype=np.float64)
    n = q.size
    arrival = intensity * math.exp(-1.0)
    return np.diag(-phi * kappa * q * q) + arrival * (np.eye(n, k=1) + np.eye(n, k=-1))


def cj_log_omega(time_left: float, *, phi: float, alpha: float, kappa: float, intensity: float, max_inventory: int) -> np.ndarray:
    """``log(omega(t, q))`` for ``q = -Q .. Q``, with ``omega(t) = expm(A * (T - t)) @ z``.

    Computed with non-negative arithmetic only (see the module docstring), so that small entries are
    as accurate as large ones. Entries of ``expm(A * (T - t))`` below ``1e-280`` times its largest
    entry are taken as 0, and an inventory whose row is all such entries comes out as ``-inf``
    (this takes a running penalty ``phi * kappa * Q**2 * (T - t)`` in the hundreds of thousands
    with a small ``lambda``).

    Args:
        time_left: ``T - t`` in model time, at least 0.
        phi: running inventory penalty, at least 0.
        alpha: terminal inventory penalty, at least 0.
        kappa: decay of the fill probability with depth, above 0.
        intensity: arrival rate ``lambda`` of market orders on each side, per unit of model time.
        max_inventory: the inventory cap ``Q``, a positive integer.

    Returns:
        A float array of length ``2Q + 1``, entry ``i`` for inventory ``q = i - Q``.
    """
    q = np.arange(-max_inventory, max_inventory + 1, dtype=np.float64)
    log_z = -alpha * kappa * q * q
    if time_left <= 0.0:
        return log_z
    # 1. shift A by c = phi * kappa * Q**2 so that every entry is >= 0: expm(A tau) = exp(-c tau) expm(B tau)
    shift = phi * kappa * max_inventory * max_inventory
    b = cj_matrix(phi=phi, kappa=kappa, intensity=intensity, max_inventory=max_inventory) + shift * np.eye(q.size)
    # 2. scale the time step so that the series converges fast: ||B theta|| <= 0.5 (infinity norm)
    norm = float(np.abs(b).sum(axis=1).max()) * time_left
    squarings = max(0, math.ceil(math.log2(norm / _SERIES_NORM))) if norm > _SERIES_NORM else 0
    theta = time_left / 2.0**squarings
    step = b * theta
    # 3. Taylor series of expm(B theta), term by term until every entry has converged: an entry at
    #    distance d from the diagonal first appears in term d (where the term equals the sum), so the
    #    series runs on until the farthest entries are reached or their terms underflow to 0
    total = np.eye(q.size)
    term = np.eye(q.size)
    k = 0
    while True:
        k += 1
        term = term @ step / k
        term[term < _FLOOR] = 0.0
        total += term
        if bool(np.all(term <= _SERIES_TOLERANCE * total)):
            break
    # 4. square s times, dividing by the largest entry each time and keeping the scale in log_scale
    log_scale = -shift * theta
    for _ in range(squarings):
        total = total @ total
        largest = float(total.max())
        total /= largest
        total[total < _FLOOR] = 0.0
        log_scale = 2.0 * log_scale + math.log(largest)
    # 5. log(expm(A tau) @ z), row by row, summed in logarithms (z itself may underflow)
    with np.errstate(divide="ignore"):
        terms = np.log(total) + log_z[np.newaxis, :]
    peak = terms.max(axis=1)
    log_omega = np.full(q.size, -math.inf)
    finite = np.isfinite(peak)
    log_omega[finite] = peak[finite] + np.log(np.exp(terms[finite] - peak[finite, np.newaxis]).sum(axis=1)) + log_scale
    return log_omega


def cj_h(time_left: float, *, phi: float, alpha: float, kappa: float, intensity: float, max_inventory: int) -> np.ndarray:
    """``h(t, q) = log(omega(t, q)) / kappa`` for ``q = -Q .. Q`` (entry ``i`` for ``q = i - Q``).

    Args:
        time_left: ``T - t`` in model time, at least 0.
        phi: running inventory penalty, at least 0.
        alpha: terminal inventory penalty, at least 0.
        kappa: decay of the fill probability with depth, above 0.
        intensity: arrival rate ``lambda`` of market orders on each side, per unit of model time.
        max_inventory: the inventory cap ``Q``, a positive integer.

    Returns:
        ``h`` in the depths' unit, ``-alpha * q**2`` at ``T``.
    """
    log_omega = cj_log_omega(time_left, phi=phi, alpha=alpha, kappa=kappa, intensity=intensity, max_inventory=max_inventory)
    return log_omega / kappa


def _depth(h_here: float, h_there: float, kappa: float, toward_zero: bool) -> float | None:
    """``1 / kappa + h(q) - h(q')`` for a fill moving the inventory from ``q`` to ``q'``; None for an infinite depth.

    ``h = -inf`` marks an inventory whose ``omega`` underflowed: moving there is never worth it
    (no quote), moving away from it is worth any price (depth ``-inf``); between two such
    inventories the move toward zero is taken at any price and the other not quoted.
    """
    if math.isinf(h_here) and math.isinf(h_there):
        return -math.inf if toward_zero else None
    depth = 1.0 / kappa + h_here - h_there
    return None if depth == math.inf else depth


def depths_from_h(h: np.ndarray, inventory: int, kappa: float) -> tuple[float | None, float | None]:
    """The optimal bid and ask depths at ``inventory`` from ``h`` on the inventory grid.

    Args:
        h: ``h(t, q)`` for ``q = -Q .. Q``, as :func:`cj_h` gives it.
        inventory: the inventory ``q``, an integer in ``[-Q, Q]``.
        kappa: decay of the fill probability with depth, above 0.

    Returns:
        ``(delta_b, delta_a)``: ``1 / kappa + h(q) - h(q + 1)`` and ``1 / kappa + h(q) - h(q - 1)``;
        None for the bid at ``Q`` and the ask at ``-Q``, where the dealer does not quote.

    Raises:
        ValueError: if ``inventory`` is not an integer in ``[-Q, Q]``.
    """
    cap = (len(h) - 1) // 2
    if not (isinstance(inventory, (int, np.integer)) and -cap <= inventory <= cap):
        raise ValueError(f"inventory: expected an integer in [-{cap}, {cap}], got {inventory!r}")
    i = int(inventory) + cap
    here = float(h[i])
    bid = None if inventory == cap else _depth(here, float(h[i + 1]), kappa, toward_zero=inventory < 0)
    ask = None if inventory == -cap else _depth(here, float(h[i - 1]), kappa, toward_zero=inventory > 0)
    return bid, ask


def cj_depths(
    time_left: float, inventory: int, *, phi: float, alpha: float, kappa: float, intensity: float, max_inventory: int
) -> tuple[float | None, float | None]:
    """The optimal bid and ask depths ``(delta_b, delta_a)`` at time ``T - time_left`` and inventory ``q``.

    Args:
        time_left: ``T - t`` in model time, at least 0.
        inventory: the inventory ``q``, an integer in ``[-Q, Q]``.
        phi: running inventory penalty, at least 0.
        alpha: terminal inventory penalty, at least 0.
        kappa: decay of the fill probability with depth, above 0.
        intensity: arrival rate ``lambda`` of market orders on each side, per unit of model time.
        max_inventory: the inventory cap ``Q``, a positive integer.

    Returns:
        The depths from the mid; None for a side not quoted (the bid at ``Q``, the ask at ``-Q``).
    """
    h = cj_h(time_left, phi=phi, alpha=alpha, kappa=kappa, intensity=intensity, max_inventory=max_inventory)
    return depths_from_h(h, inventory, kappa)


@dataclass(frozen=True, slots=True, kw_only=True)
class CarteaJaimungalParams:
    """Parameters of the Cartea-Jaimungal maker, in ticks and lots.

    Attributes:
        phi: running inventory penalty, in ticks per lot per unit of model time (the dealer pays
            ``phi * q**2`` ticks x lots per unit of time).
        alpha: terminal inventory penalty, in ticks per lot (``alpha * q**2`` ticks x lots at ``T``).
        kappa: decay of the fill probability with depth, per tick.
        intensity: arrival rate ``lambda`` of market orders on each side, per unit of model time.
        max_inventory: the inventory cap ``Q`` in lots, relative to the starting inventory; at most
            ``OBS_BOUND * max_qty``, the largest inventory the observation shows.
        horizon: the episode's length ``T`` in model time, the unit of time of ``phi`` and ``intensity``.
        max_qty: the population's ``max_qty``: the unit of the observation's inventory.
        max_offset: the population's ``max_offset``: the farthest quote from the mid, in ticks.
        size: lots quoted on each side, 1 to ``max_qty`` (the model's fills are one lot each).
    """

    phi: float
    alpha: float
    kappa: float
    intensity: float
    max_inventory: int
    horizon: float = 1.0
    max_qty: int
    max_offset: int
    size: int = 1

    def __post_init__(self) -> None:
        check_number(self, "phi", 0.0, math.inf, high_open=True)
        check_number(self, "alpha", 0.0, math.inf, high_open=True)
        check_number(self, "kappa", 0.0, math.inf, low_open=True, high_open=True)
        check_number(self, "intensity", 0.0, math.inf, low_open=True, high_open=True)
        check_number(self, "horizon", 0.0, math.inf, low_open=True, high_open=True)
        check_integer(self, "max_qty", 1)
        check_integer(self, "max_offset", 2)
        check_integer(self, "max_inventory", 1)
        if self.max_inventory > OBS_BOUND * self.max_qty:
            largest = int(OBS_BOUND * self.max_qty)
            expected = f"at most {int(OBS_BOUND)} x max_qty ({largest}) lots, the largest inventory observed"
            raise ParamError("max_inventory", expected, self.max_inventory)
        check_integer(self, "size", 1)
        if self.size > self.max_qty:
            raise ParamError("size", f"at most max_qty ({self.max_qty}) lots", self.size)


class CarteaJaimungalMaker(ScriptedTrader):
    """A maker that posts the Cartea-Jaimungal depths every step.

    Each step it reads its inventory (``inventory`` feature times ``max_qty``, relative to the start,
    rounded to whole lots) and the time left (``time_left`` times ``horizon``), and quotes ``size``
    lots at the depths of :func:`cj_depths` from the current mid. ``h`` is computed once per distinct
    ``time_left`` and kept (see the module docstring for its cost).

    The inventory cap: an inventory at or beyond ``Q`` is treated as ``Q`` (only the ask is quoted)
    and one at or beyond ``-Q`` as ``-Q`` (only the bid).

    What the market env's maker action cannot express, and what it does instead:

    * A one-sided quote. The action has one size for both sides (0 lots withdraws both), so the side
      the model does not quote is posted ``size`` lots at ``max_offset`` ticks, the farthest quote.
      An order that reaches that far (a large taker order, or a fast move of the mid) fills it and
      takes the inventory beyond the cap.
    * Quotes at any depth. Each depth is clipped into ``[1, max_offset]`` ticks: a depth below 1 (the
      model quoting through the mid to unwind) is posted one tick from the mid, and a depth beyond
      ``max_offset`` at ``max_offset``.
    * Fills of one lot at a time. A fill of ``size`` lots moves the inventory by ``size`` model units.

    The observation is taken at the end of the previous step and the previous quotes rest until the
    maker's turn in the step, so even when no order reaches ``max_offset`` the inventory can exceed
    the cap by up to ``2 * size - 1`` lots.

    Args:
        params: its :class:`CarteaJaimungalParams`.
        window: the env's mid-return window.
    """

    role: ClassVar[Role] = Role.MAKER
    params_class: ClassVar[type] = CarteaJaimungalParams
    uniforms_per_step: ClassVar[int] = 0

    _CACHE_SIZE: ClassVar[int] = 4096
    """Distinct ``time_left`` values whose ``h`` is kept (an episode has one per step)."""

    def __init__(self, params: CarteaJaimungalParams, window: int) -> None:
        super().__init__(params, window)
        self._inventory = observation_index("inventory", self.window)
        self._time_left = observation_index("time_left", self.window)
        self._h: dict[float, np.ndarray] = {}

    def h(self, time_left: float) -> np.ndarray:
        """``h(t, q)`` for ``q = -Q .. Q`` at ``time_left`` of model time, computed once per value."""
        h = self._h.get(time_left)
        if h is None:
            if len(self._h) >= self._CACHE_SIZE:
                self._h.clear()
            p = self.params
            h = cj_h(time_left, phi=p.phi, alpha=p.alpha, kappa=p.kappa, intensity=p.intensity, max_inventory=p.max_inventory)
            self._h[time_left] = h
        return h

    def depths(self, obs: np.ndarray) -> tuple[float | None, float | None]:
        """The model's bid and ask depths in ticks at ``obs`` (before clipping); None for a side not quoted."""
        p = self.params
        lots = round(float(obs[self._inventory]) * p.max_qty)
        inventory = min(max(lots, -p.max_inventory), p.max_inventory)
        time_left = max(0.0, float(obs[self._time_left])) * p.horizon
        return depths_from_h(self.h(time_left), inventory, p.kappa)

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return ``[bid_offset, ask_offset, size]``: the model's depths in the maker encoding.

        Args:
            obs: the agent's observation.
            rng: the agent's random stream (unused: the strategy is deterministic).

        Returns:
            The maker action, ``float32`` of shape ``(MAKER_ACTION_DIM,)``.
        """
        self._check(obs)
        p = self.params
        bid, ask = self.depths(obs)  # a side the model leaves out goes to max_offset
        return quote_action(bid, ask, p.size, max_qty=p.max_qty, max_offset=p.max_offset)

    def act_batch(self, obs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """:meth:`act` for a population at once (it draws nothing): the depths are computed once per
        distinct (time left, inventory) of the rows, at most ``2 Q + 1`` a step, and spread to the rows."""
        self._check_batch(obs, uniforms, self.uniforms_per_step)
        p = self.params
        lots = np.round(obs[:, self._inventory].astype(np.float64) * p.max_qty)  # half to even, as round()
        inventory = np.clip(lots, -p.max_inventory, p.max_inventory)
        time_left = np.maximum(0.0, obs[:, self._time_left].astype(np.float64)) * p.horizon
        keys, rows = np.unique(np.stack([time_left, inventory], axis=1), axis=0, return_inverse=True)
        depths = np.array([[math.nan if d is None else d for d in depths_from_h(self.h(float(t)), int(q), p.kappa)] for t, q in keys], dtype=np.float64)
        rows = rows.ravel()
        return quote_actions(depths[rows, 0], depths[rows, 1], p.size, max_qty=p.max_qty, max_offset=p.max_offset)
