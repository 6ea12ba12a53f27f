"""PortfolioVectorEnv: N portfolios stepped together in numpy, a Gymnasium VectorEnv.

It is the vector entry point of ``market/Portfolio-v0``: RLlib builds it directly
(``gym_env_vectorize_mode="vector_entry_point"``). Its dynamics are the single env's,
:func:`market.envs.portfolio_dynamics.advance` on ``N`` rows instead of one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from market.envs.portfolio_config import PortfolioEnvConfig, make_portfolio_config
from market.envs.portfolio_data import build_portfolio_spaces, load_portfolio_data
from market.envs.portfolio_dynamics import INFO_KEYS, Book, advance, infos, observations, open_books
from market.envs.trading_config import reseed_sub_envs, vector_settings
from market.envs.trading_data import pinned_starts
from market.errors import ActionError, ResetNeeded


class PortfolioVectorEnv(VectorEnv[np.ndarray, np.ndarray, np.ndarray]):
    """N independent :class:`~market.envs.portfolio.PortfolioEnv` portfolios stepped together.

    Sub-env ``i`` reset with ``seed`` behaves exactly like a ``PortfolioEnv`` reset with ``seed + i``
    and then reset without a seed at each episode end: the same arithmetic on ``(N, ...)`` arrays.
    Episodes end independently and reset on the next step (``AutoresetMode.NEXT_STEP``, which RLlib
    assumes): that step ignores the sub-env's action and returns its first observation with reward 0.
    ``infos`` maps every key of :data:`~market.envs.portfolio_dynamics.INFO_KEYS` to an array over
    sub-envs (weights ``(N, assets + 1)``), with the usual all-True ``"_key"`` masks.

    Example:
        >>> import gymnasium as gym
        >>> import market.envs
        >>> envs = gym.make_vec("market/Portfolio-v0", num_envs=3, vectorization_mode="vector_entry_point", window=10)
        >>> obs, infos = envs.reset(seed=0)
        >>> obs.shape[0], infos["weights"].shape
        (3, (3, 13))
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, config: PortfolioEnvConfig | Mapping[str, Any] | None = None, *, num_envs: int | None = None, **settings: Any) -> None:
        config, num_envs = vector_settings(config, num_envs, PortfolioEnvConfig)
        self.config = make_portfolio_config(config, settings)
        self.num_envs = num_envs
        self.data = load_portfolio_data(self.config)
        self.assets = self.data.assets
        self._costs = self.config.costs_bps(len(self.assets))
        self.single_action_space, self.single_observation_space = build_portfolio_spaces(self.config, len(self.assets))
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._book: Book | None = None
        self._autoreset = np.zeros(num_envs, dtype=np.bool_)
        self._masks = {f"_{key}": np.ones(num_envs, dtype=np.bool_) for key in INFO_KEYS}

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-env: ``seed`` None, an int (sub-env ``i`` gets ``seed + i``) or one per sub-env;
        ``options={"start": bar}`` pins every start (one value, or one per sub-env)."""
        reseed_sub_envs(self, self._rngs, seed)
        starts = pinned_starts(options, self.num_envs, self.data.pinned_start)
        if starts is None:
            starts = np.array([self._start(rng) for rng in self._rngs], dtype=np.int64)
        self._book = self._fresh(starts)
        self._autoreset = np.zeros(self.num_envs, dtype=np.bool_)
        return self._observe(self._book, None)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-env; sub-envs whose episode ended on the last step reset instead."""
        if self._book is None:
            raise ResetNeeded("PortfolioVectorEnv.step called before reset()")
        array = np.asarray(actions)
        expected = (self.num_envs, *self.single_action_space.shape)
        if array.shape != expected or array.dtype.kind not in "iuf":
            raise ActionError(f"PortfolioVectorEnv actions: expected numbers of shape {expected}, got shape {array.shape} of {array.dtype}")
        book = self._book
        restarting = np.flatnonzero(self._autoreset)
        if restarting.size:
            # next-step autoreset: those rows start again; the step below runs on them from the fresh
            # state (a valid bar, positive value) and its results there are replaced by the fresh state
            fresh = self._fresh(np.array([self._start(self._rngs[i]) for i in restarting], dtype=np.int64))
            book = _overwrite(book, restarting, fresh)
        moved, step = advance(book, array, self.data, self.config, self._costs)
        if restarting.size:
            moved = _overwrite(moved, restarting, fresh)
            for flow in (step.reward, step.turnover, step.cost):
                flow[restarting] = 0.0
            step.terminated[restarting] = False
            step.truncated[restarting] = False
        self._book = moved
        self._autoreset = step.terminated | step.truncated
        obs, info = self._observe(moved, step)
        return obs, step.reward, step.terminated, step.truncated, info

    def _start(self, rng: np.random.Generator | None) -> int:
        assert rng is not None
        return self.data.draw_start(rng) if self.config.random_start else self.data.first_start

    def _fresh(self, starts: np.ndarray) -> Book:
        ends = np.array([self.data.end_bar(int(s), self.config.max_steps) for s in starts], dtype=np.int64)
        return open_books(starts, ends, len(self.assets), self.config.initial_cash)

    def _observe(self, book: Book, step: Any) -> tuple[np.ndarray, dict[str, Any]]:
        space = self.single_observation_space
        obs = observations(book, self.data, self.config, space.low, space.high)
        return obs, {**infos(book, self.data, step), **self._masks}


def _overwrite(book: Book, rows: np.ndarray, fresh: Book) -> Book:
    """``book`` with ``rows`` replaced by ``fresh``'s rows (in order)."""
    parts = []
    for current, new in zip(book, fresh, strict=True):
        if isinstance(current, tuple):  # the differential Sharpe moments
            parts.append(type(current)(*(_rows(c, rows, n) for c, n in zip(current, new, strict=True))))
        else:
            parts.append(_rows(current, rows, new))
    return Book(*parts)


def _rows(current: np.ndarray, rows: np.ndarray, new: np.ndarray) -> np.ndarray:
    out = current.copy()
    out[rows] = new
    return out
