"""market/Portfolio-v0: the portfolio env and its native vector env, on real panels."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from gymnasium.utils.env_checker import check_env

import market.envs  # noqa: F401  (registers the envs)
from market.data.panel import Panel, panel_from_closes, panel_from_frames
from market.data.synthetic import factor_panel
from market.envs import PortfolioEnv, PortfolioVectorEnv, action_from_weights, portfolio_observation_layout, weights_from_action
from market.errors import ActionError, ConfigError


def small_panel(n: int = 80, seed: int = 0, sectors: tuple[int, ...] = (2, 1)) -> Panel:
    return panel_from_closes(factor_panel(np.random.default_rng(seed), n, sectors=sectors))


def ohlc_panel(opens: dict[str, list[float]], closes: dict[str, list[float]]) -> Panel:
    times = pd.bdate_range("2024-01-01", periods=len(next(iter(opens.values()))), name="time", unit="us")
    tables = {}
    for asset in opens:
        o, c = np.array(opens[asset], dtype=float), np.array(closes[asset], dtype=float)
        tables[asset] = pd.DataFrame({"open": o, "high": np.maximum(o, c), "low": np.minimum(o, c), "close": c}, index=times)
    return panel_from_frames(tables)


@pytest.mark.parametrize("settings", [{}, {"long_only": False, "gross_leverage": 2.0}, {"reward": "differential_sharpe", "turnover_penalty": 0.1, "drawdown_penalty": 1.0}])
def test_passes_gymnasiums_checker_with_warnings_as_errors(settings):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(PortfolioEnv(data=small_panel(), window=5, **settings), skip_render_check=True)


def test_every_point_of_the_simplex_is_an_action_and_back():
    rng = np.random.default_rng(0)
    targets = [rng.dirichlet(np.ones(4)) for _ in range(50)] + [np.eye(4)[0], np.eye(4)[3], np.full(4, 0.25)]
    for w in targets:
        back = weights_from_action(action_from_weights(w))
        assert np.allclose(back, w, atol=1e-6) and back.sum() == pytest.approx(1.0)
    assert weights_from_action(np.array([-1.0, -1.0, -1.0])).tolist() == [0.0, 0.0, 1.0]  # nothing asked: all cash
    for _ in range(50):
        assets = rng.uniform(-1, 1, 3)
        assets *= rng.uniform(0, 2.0) / np.abs(assets).sum()  # gross exposure up to 2
        w = np.append(assets, 1 - assets.sum())
        back = weights_from_action(action_from_weights(w, long_only=False, gross_leverage=2.0), long_only=False, gross_leverage=2.0)
        assert np.allclose(back, w, atol=1e-6) and np.abs(back[:-1]).sum() <= 2.0 + 1e-9
    with pytest.raises(ActionError, match="NaN"):
        weights_from_action(np.array([np.nan, 0.0, 0.0]))
    with pytest.raises(ActionError, match=r"weights must be finite and sum to 1 \(cash last\), got \[0.5, 0.4, 0.0\]"):
        action_from_weights(np.array([0.5, 0.4, 0.0]))  # a custom policy's weights that miss 1
    with pytest.raises(ActionError, match="gross exposure"):
        action_from_weights(np.array([1.5, 1.5, -2.0]), long_only=False, gross_leverage=2.0)


def test_all_cash_keeps_the_value_and_pays_nothing():
    env = PortfolioEnv(data=small_panel(), window=5, random_start=False)
    env.reset(seed=0)
    cash = np.full(env.action_space.shape, -1.0, dtype=np.float32)
    cash[-1] = 1.0
    for _ in range(20):
        _, reward, _, _, info = env.step(cash)
        assert info["value"] == 1_000_000.0 and reward == 0.0 and info["total_cost"] == 0.0


def test_one_asset_alone_holds_its_units_and_tracks_its_price():
    opens = {"A": [10, 10, 11, 12, 13, 12, 14], "B": [5.0] * 7}
    closes = {"A": [10, 10, 12, 12, 12, 13, 15], "B": [5.0] * 7}
    env = PortfolioEnv(data=ohlc_panel(opens, closes), window=2, random_start=False, commission_bps=0.0, slippage_bps=0.0, initial_cash=1000.0)
    env.reset(seed=0)  # decides at bar 2's close (12): 1000 / 12 units of A, bought at bar 3's open (12)
    action = action_from_weights(np.array([1.0, 0.0, 0.0]))
    units = 1000.0 / 12
    cash = 1000.0 - units * 12
    for bar in range(3, 7):
        _, _, _, _, info = env.step(action)
        assert info["value"] == pytest.approx(cash + units * closes["A"][bar], rel=1e-12)
        assert info["turnover"] == (1.0 if bar == 3 else 0.0)  # the weights held are the units held: no trade


def test_costs_are_commission_and_slippage_per_asset_on_traded_notional():
    # two assets; from all cash to half and half at the next open (prices 10 and 40)
    panel = ohlc_panel({"A": [10, 10, 10, 10, 10], "B": [40, 40, 40, 40, 40]}, {"A": [10, 10, 10, 10, 11], "B": [40, 40, 40, 40, 44]})
    env = PortfolioEnv(data=panel, window=2, random_start=False, commission_bps=(1.0, 3.0), slippage_bps=(2.0, 4.0), initial_cash=1000.0)
    env.reset(seed=0)
    half = action_from_weights(np.array([0.5, 0.5, 0.0]))
    _, reward, _, _, info = env.step(half)
    expected_cost = 500.0 * (1.0 + 2.0) / 1e4 + 500.0 * (3.0 + 4.0) / 1e4
    assert info["step_cost"] == pytest.approx(expected_cost, rel=1e-12)
    assert info["value"] == pytest.approx(1000.0 - expected_cost, rel=1e-12)  # prices closed where they opened
    assert info["turnover"] == pytest.approx(1.0)
    assert reward == pytest.approx(np.log((1000.0 - expected_cost) / 1000.0))


def test_an_asset_whose_bar_was_filled_forward_does_not_trade(tmp_path):
    from market.data.panel import load_panel

    times = pd.bdate_range("2024-01-01", periods=8)
    for asset, skip in (("A", None), ("B", 4)):
        rows = [(t, 10.0 + i) for i, t in enumerate(times) if i != skip]
        (tmp_path / f"{asset}.csv").write_text("Date,Open,High,Low,Close\n" + "".join(f"{t:%Y-%m-%d},{c},{c},{c},{c}\n" for t, c in rows))
    panel = load_panel(tmp_path, align="ffill", max_fill=1)
    assert not panel.available[4, 1]
    env = PortfolioEnv(data=panel, window=2, random_start=False)
    env.reset(options={"start": 3})
    _, _, _, _, info = env.step(action_from_weights(np.array([0.5, 0.5, 0.0])))  # fills at bar 4, where B has no bar
    assert info["weights"][1] == 0.0 and 0.45 < info["weights"][0] < 0.6  # A bought, B untouched (its cash stays cash)
    assert info["weights"][2] > 0.4


def test_nothing_before_a_bar_depends_on_the_bars_after_it():
    closes = factor_panel(np.random.default_rng(3), 120, sectors=(2, 2))
    full, cut = panel_from_closes(closes), panel_from_closes(closes.iloc[:70])
    actions = np.random.default_rng(4).uniform(-1, 1, (60, 5)).astype(np.float32)
    seen = []
    for panel in (full, cut):
        env = PortfolioEnv(data=panel, window=10, random_start=False, max_steps=59)  # the same episode length in both
        obs, _ = env.reset(options={"start": 10})
        trail = [obs]
        for action in actions[:59]:  # the last decision at bar 68 fills at bar 69, the cut panel's last
            obs, reward, _, _, info = env.step(action)
            trail.append((obs, reward, info["value"]))
        seen.append(trail)
    for a, b in zip(*seen, strict=True):
        assert np.array_equal(np.asarray(a[0] if isinstance(a, tuple) else a), np.asarray(b[0] if isinstance(b, tuple) else b))
        if isinstance(a, tuple):
            assert a[1:] == b[1:]


def test_seeded_episodes_repeat_exactly():
    def trail(seed: int) -> list:
        env = PortfolioEnv(data=small_panel(), window=5, max_steps=30)
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        out = [obs.tobytes()]
        for _ in range(30):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            out.append((obs.tobytes(), reward, terminated, truncated, info["value"]))
            if terminated or truncated:
                break
        return out

    assert trail(7) == trail(7)
    assert trail(7) != trail(8)


def test_the_vector_env_equals_single_envs_bit_for_bit_across_resets():
    panel = small_panel(100)
    n, steps = 3, 70
    vector = PortfolioVectorEnv(data=panel, window=5, max_steps=17, num_envs=n, turnover_penalty=0.05)
    singles = [PortfolioEnv(data=panel, window=5, max_steps=17, turnover_penalty=0.05) for _ in range(n)]
    obs, infos = vector.reset(seed=11)
    single_obs = [env.reset(seed=11 + i)[0] for i, env in enumerate(singles)]
    assert np.array_equal(obs, np.stack(single_obs))
    actions = np.random.default_rng(5).uniform(-1, 1, (steps, n, 4)).astype(np.float32)
    restart, restarts = [False] * n, 0
    for t in range(steps):
        obs, rewards, terminated, truncated, infos = vector.step(actions[t])
        for i, env in enumerate(singles):
            if restart[i]:
                restarts += 1
                expected_obs, _ = env.reset()
                expected = (expected_obs, 0.0, False, False)
            else:
                o, r, te, tr, info = env.step(actions[t, i])
                expected = (o, r, te, tr)
                assert infos["value"][i] == info["value"] and np.array_equal(infos["weights"][i], info["weights"])
            assert np.array_equal(obs[i], expected[0]) and rewards[i] == expected[1]
            assert (bool(terminated[i]), bool(truncated[i])) == expected[2:]
            restart[i] = bool(terminated[i] or truncated[i])
    assert restarts >= n  # every sub-env's 17-step episodes ended and restarted within 70 steps
    made = gym.make_vec("market/Portfolio-v0", num_envs=2, vectorization_mode="vector_entry_point", data=panel, window=5)
    assert isinstance(made.unwrapped if hasattr(made, "unwrapped") else made, PortfolioVectorEnv)


def test_the_observation_layout_names_the_returns_and_the_weights():
    panel = small_panel()
    env = PortfolioEnv(data=panel, window=5, random_start=False)
    obs, info = env.reset(options={"start": 20})
    layout = portfolio_observation_layout(3, 5)
    returns = obs[layout["returns"]].reshape(5, 3)
    expected = np.diff(np.log(panel.fields["close"][15:21]), axis=0)
    assert np.allclose(returns, 100 * expected, atol=1e-4)  # in percent, oldest row first
    assert obs[layout["weights"]].tolist() == [0.0, 0.0, 0.0, 1.0]
    assert obs.shape == (layout["value_return"].stop,)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"window": 200}, "window: 200 bars of returns need a panel of at least 202 bars, got 80"),
        ({"commission_bps": -1.0}, "commission_bps must be >= 0"),
        ({"gross_leverage": 0.5}, "gross_leverage must be >= 1"),
        ({"slippage_bps": [1.0, 2.0]}, "slippage_bps: 2 values for a panel of 3 assets"),
        ({"reward": "pnl"}, "reward must be one of log_return, differential_sharpe"),
        ({"windw": 5}, "windw"),
    ],
)
def test_bad_settings_are_one_line_naming_the_key(settings, message):
    with pytest.raises(ConfigError) as caught:
        PortfolioEnv(data=small_panel(), **settings)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_nan_or_misshapen_action_is_refused():
    env = PortfolioEnv(data=small_panel(), window=5)
    env.reset(seed=0)
    with pytest.raises(ActionError, match="NaN"):
        env.step(np.array([np.nan, 0, 0, 0], dtype=np.float32))
    with pytest.raises(ActionError, match="expected numbers of shape"):
        env.step(np.zeros(3, dtype=np.float32))


def test_reset_options_pin_starts_and_an_unknown_option_is_refused():
    panel = small_panel()
    vector = PortfolioVectorEnv(data=panel, window=5, num_envs=3, max_steps=5)
    _, infos = vector.reset(seed=0, options={"start": [10, 20, 30]})
    np.testing.assert_array_equal(infos["bar"], [10, 20, 30])
    with pytest.raises(ConfigError, match="3 starts"):
        vector.reset(options={"start": [10, 20]})
    for env in (vector, PortfolioEnv(data=panel, window=5)):
        with pytest.raises(ConfigError, match="unknown reset option 'strat'"):
            env.reset(options={"strat": 10})
