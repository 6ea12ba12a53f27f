"""Scripted populations deciding for N agents in one numpy call: the batch forms of the traders' building blocks.

A scripted trader of :mod:`market.agents.scripted` decides for one agent in ``act(obs, rng)``; the
same trader's ``act_batch(obs, uniforms)`` decides for a whole population at once, from the
population's observation rows ``obs`` (``(N, D)``, float32) and the uniforms each agent would have
drawn from its own stream (``(N, uniforms_per_step)``: row ``i`` is what ``rng_i.random(k)`` returns),
and returns the ``(N, A)`` float32 actions. Row ``i`` equals ``act(obs[i], rng_i)`` bit for bit (a
zero may come out as ``-0.0`` where ``act`` gives ``0.0``; the env decodes both to no order), so the
env's batch path (:class:`~market.envs.policy.BatchPolicy`) keeps every seeded run exactly as the
per-agent path plays it: no random stream changes.

Exactness needs the same float64 operations in the same order as the per-agent code. The one place
numpy itself differs is a reduction along the rows of a matrix (it does not sum the way a 1-d
reduction does), so the mean and standard deviation of each row come from :func:`row_sum`, numpy's
own pairwise summation of one contiguous vector, carried out column-wise over all rows.

>>> import numpy as np
>>> returns = np.array([[0.1, -0.2, 0.05], [0.0, 0.3, 0.3]], dtype=np.float32)
>>> bool(np.array_equal(row_std(returns), [np.std(r, dtype=np.float64) for r in returns]))
True
"""

from __future__ import annotations

import numpy as np

from market.envs.market_config import (
    MAKER_ACTION_DIM,
    MAKER_ASK_OFFSET,
    MAKER_BID_OFFSET,
    MAKER_SIZE,
    TAKER_ACTION_DIM,
    TAKER_AGGRESSION,
    TAKER_SIZE,
)

__all__ = ["capped_sizes", "maker_actions", "quote_actions", "row_mean", "row_std", "row_sum", "taker_actions"]

_BLOCK = 128
"""numpy's pairwise summation block: longer vectors are split in two halves (a multiple of 8 first)."""


def row_sum(x: np.ndarray) -> np.ndarray:
    """The sum of each row of a float64 matrix, exactly as ``np.sum`` adds one contiguous float64 vector.

    numpy's pairwise summation, column-wise: under 8 values a running sum from ``-0.0``; up to 128, eight
    running sums over the columns ``j, j + 8, ...`` combined as a tree, then the columns left over; beyond
    that the two halves (the first a multiple of 8 long) summed apart and added.
    """
    n = x.shape[1]
    if n < 8:
        total = np.full(x.shape[0], -0.0)
        for j in range(n):
            total = total + x[:, j]
        return total
    if n <= _BLOCK:
        whole = n - n % 8
        lanes = [x[:, j].copy() for j in range(8)]
        for start in range(8, whole, 8):
            for j in range(8):
                lanes[j] += x[:, start + j]
        total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
        for j in range(whole, n):
            total = total + x[:, j]
        return total
    half = n // 2
    half -= half % 8
    return row_sum(x[:, :half]) + row_sum(x[:, half:])


def row_mean(values: np.ndarray) -> np.ndarray:
    """``np.mean(row, dtype=np.float64)`` of every row, bit for bit."""
    x = values.astype(np.float64)
    return row_sum(x) / x.shape[1]


def row_std(values: np.ndarray) -> np.ndarray:
    """``np.std(row, dtype=np.float64)`` of every row, bit for bit (what :func:`~market.agents.scripting.volatility` gives one row)."""
    x = values.astype(np.float64)
    n = x.shape[1]
    deviation = x - (row_sum(x) / n)[:, None]
    return np.sqrt(row_sum(deviation * deviation) / n)


def capped_sizes(signed_size: np.ndarray, inventory: np.ndarray, max_inventory: float) -> np.ndarray:
    """:func:`~market.agents.scripting.capped_size` of every row: keep inventory within ``±max_inventory``."""
    buying = np.minimum(signed_size, np.maximum(0.0, max_inventory - inventory))
    selling = np.maximum(signed_size, np.minimum(0.0, -max_inventory - inventory))
    return np.where(signed_size > 0, buying, selling)


def taker_actions(size: np.ndarray, aggression: np.ndarray) -> np.ndarray:
    """Taker actions ``[size, aggressiveness]`` of every row, clipped into [-1, 1], as ``float32`` (:func:`~market.agents.scripting.taker_action`)."""
    actions = np.empty((len(size), TAKER_ACTION_DIM), dtype=np.float32)
    actions[:, TAKER_SIZE] = np.clip(size, -1.0, 1.0)
    actions[:, TAKER_AGGRESSION] = np.clip(aggression, -1.0, 1.0)
    return actions


def maker_actions(bid_offset: np.ndarray, ask_offset: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Maker actions of every row from ``[0, 1]`` units, mapped onto [-1, 1], as ``float32`` (:func:`~market.agents.scripting.maker_action`)."""
    actions = np.empty((len(size), MAKER_ACTION_DIM), dtype=np.float32)
    for index, unit in ((MAKER_BID_OFFSET, bid_offset), (MAKER_ASK_OFFSET, ask_offset), (MAKER_SIZE, size)):
        actions[:, index] = 2.0 * np.clip(unit, 0.0, 1.0) - 1.0
    return actions


def quote_actions(bid_depth: np.ndarray, ask_depth: np.ndarray, lots: int, *, max_qty: int, max_offset: int, min_offset: int = 1) -> np.ndarray:
    """:func:`~market.agents.scripting.quote_action` of every row: depths in ticks (NaN: the side is not
    quoted, so at ``max_offset``) clipped into ``[min_offset, max_offset]`` and encoded, as ``float32``."""
    low, high = float(min_offset), float(max_offset)
    actions = np.empty((len(bid_depth), MAKER_ACTION_DIM), dtype=np.float32)
    for index, depth in ((MAKER_BID_OFFSET, bid_depth), (MAKER_ASK_OFFSET, ask_depth)):
        ticks = np.where(np.isnan(depth), high, np.clip(depth, low, high))
        actions[:, index] = 2.0 * (ticks - low) / (high - low) - 1.0
    actions[:, MAKER_SIZE] = 2.0 * lots / max_qty - 1.0
    return actions
