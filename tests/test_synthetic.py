"""Synthetic generators: loadable shape, seeding, statistical signatures, parameter errors, sample data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.data import (
    CLOSE,
    OHLCV_COLUMNS,
    SAMPLES,
    TIME,
    TIME_UNIT,
    VOLUME,
    check_prices,
    load_prices,
    load_sample,
    sample_path,
)
from market.data.synthetic import GENERATORS, gbm, generate, jump_diffusion, ou, regime_switching
from market.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def log_returns(prices: pd.DataFrame) -> np.ndarray:
    """Close-to-close log returns."""
    return np.diff(np.log(prices[CLOSE].to_numpy()))


def kurtosis(values: np.ndarray) -> float:
    """Plain (not excess) kurtosis: 3 for a normal sample."""
    centred = values - values.mean()
    return float(np.mean(centred**4) / np.mean(centred**2) ** 2)


# Shape and seeding ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(GENERATORS))
def test_generated_table_has_the_loaded_shape(name: str) -> None:
    prices = generate(name, np.random.default_rng(1), 500)
    check_prices(prices, source=name)
    assert list(prices.columns) == list(OHLCV_COLUMNS)
    assert prices.index.name == TIME and prices.index.unit == TIME_UNIT and prices.index.freq is None
    assert len(prices) == 500
    assert prices.index[0] == pd.Timestamp("2015-01-02")
    assert (prices.index.day_of_week < 5).all()


@pytest.mark.parametrize("name", list(GENERATORS))
def test_generated_table_survives_csv_and_parquet_round_trips(name: str, tmp_path: Path) -> None:
    prices = generate(name, np.random.default_rng(2), 300)
    csv_path, parquet_path = tmp_path / "prices.csv", tmp_path / "prices.parquet"
    prices.to_csv(csv_path)
    prices.to_parquet(parquet_path)
    pd.testing.assert_frame_equal(load_prices(csv_path), prices)
    pd.testing.assert_frame_equal(load_prices(parquet_path), prices)


@pytest.mark.parametrize("name", list(GENERATORS))
def test_same_seed_gives_identical_tables_and_different_seeds_differ(name: str) -> None:
    first = generate(name, np.random.default_rng(7), 200)
    again = generate(name, np.random.default_rng(7), 200)
    other = generate(name, np.random.default_rng(8), 200)
    pd.testing.assert_frame_equal(first, again, check_exact=True)
    assert not np.array_equal(first.to_numpy(), other.to_numpy())


def test_generate_equals_calling_the_generator() -> None:
    direct = ou(np.random.default_rng(3), 100, theta=2.0)
    dispatched = generate("ou", np.random.default_rng(3), 100, theta=2.0)
    pd.testing.assert_frame_equal(direct, dispatched, check_exact=True)


def test_start_and_freq_set_the_bar_times() -> None:
    prices = gbm(np.random.default_rng(0), 48, start="2024-03-01 00:00", freq="h", periods_per_year=24 * 365)
    assert prices.index[0] == pd.Timestamp("2024-03-01")
    assert (np.diff(prices.index.asi8) == 3_600_000_000).all()
    check_prices(prices)


def test_volume_parameter_is_the_mean_volume() -> None:
    prices = gbm(np.random.default_rng(4), 5000, volume=1e6)
    assert prices[VOLUME].mean() == pytest.approx(1e6, rel=0.05)
    assert (prices[VOLUME] >= 0).all() and (prices[VOLUME] == prices[VOLUME].round()).all()


def test_zero_volatility_gives_a_smooth_valid_path() -> None:
    prices = gbm(np.random.default_rng(0), 252, s0=100.0, mu=0.1, sigma=0.0)
    check_prices(prices)
    assert prices[CLOSE].iloc[-1] == pytest.approx(100.0 * np.exp(0.1), rel=1e-9)


POSITIVE = st.floats(1e-3, 1e4)
PARAMETERS = {
    "gbm": st.fixed_dictionaries({"s0": POSITIVE, "mu": st.floats(-2, 2), "sigma": st.floats(0, 3)}),
    "ou": st.fixed_dictionaries(
        {"s0": POSITIVE, "mean": POSITIVE, "theta": st.floats(1e-3, 1e3), "sigma": st.floats(0, 3)}
    ),
    "jump_diffusion": st.fixed_dictionaries(
        {"s0": POSITIVE, "sigma": st.floats(0, 2), "jump_rate": st.floats(0, 200), "jump_mean": st.floats(-0.5, 0.5),
         "jump_std": st.floats(0, 0.5)}
    ),
    "regime_switching": st.fixed_dictionaries(
        {"s0": POSITIVE, "mu": st.tuples(st.floats(-2, 2), st.floats(-2, 2)),
         "sigma": st.tuples(st.floats(0, 3), st.floats(0, 3)),
         "transition": st.floats(0, 1).map(lambda p: ((1 - p, p), (p, 1 - p)))}
    ),
}


@settings(max_examples=80, deadline=None)
@given(data=st.data(), name=st.sampled_from(list(GENERATORS)), n=st.integers(2, 400), seed=st.integers(0, 2**32))
def test_any_valid_parameters_give_a_table_that_passes_validation(
    data: st.DataObject, name: str, n: int, seed: int
) -> None:
    params = data.draw(PARAMETERS[name])
    prices = generate(name, np.random.default_rng(seed), n, **params)
    check_prices(prices, source=name)
    assert len(prices) == n


# Statistical signatures (generous bounds, fixed seeds) ----------------------------------------


def test_gbm_log_return_std_is_sigma_sqrt_dt() -> None:
    sigma, periods = 0.3, 252.0
    returns = log_returns(gbm(np.random.default_rng(10), 5000, sigma=sigma, periods_per_year=periods))
    assert returns.std() == pytest.approx(sigma / np.sqrt(periods), rel=0.05)
    assert kurtosis(returns) == pytest.approx(3.0, abs=0.4)


def test_ou_reverts_toward_its_mean() -> None:
    theta, periods = 10.0, 252.0
    prices = ou(np.random.default_rng(11), 5000, s0=200.0, mean=100.0, theta=theta, sigma=0.2, periods_per_year=periods)
    deviation = np.log(prices[CLOSE].to_numpy()) - np.log(100.0)
    # Lag-1 autocorrelation of deviations is about exp(-theta dt) < 1: a random walk's is 1.
    phi = np.dot(deviation[1:], deviation[:-1]) / np.dot(deviation[:-1], deviation[:-1])
    assert phi == pytest.approx(np.exp(-theta / periods), abs=0.02)
    assert phi < 0.99
    # Started at twice the mean, the path comes back: within a few half-lives it is near the mean.
    assert deviation[0] > 0.5
    assert abs(deviation[1000:].mean()) < 0.05
    # Moves push back toward the mean: the next change is negatively related to the deviation.
    slope = np.polyfit(deviation[:-1], np.diff(deviation), 1)[0]
    assert slope < 0


def test_jump_diffusion_has_fatter_tails_than_gbm() -> None:
    plain = kurtosis(log_returns(gbm(np.random.default_rng(12), 5000, sigma=0.15)))
    jumpy = kurtosis(log_returns(jump_diffusion(np.random.default_rng(12), 5000, sigma=0.15, jump_rate=10.0)))
    assert jumpy > plain + 2.0


def test_regime_switching_shows_two_volatility_levels() -> None:
    def spread_of_rolling_vol(prices: pd.DataFrame) -> float:
        rolling = pd.Series(log_returns(prices)).rolling(20).std().dropna()
        return float(rolling.quantile(0.9) / rolling.quantile(0.1))

    switching = regime_switching(
        np.random.default_rng(13), 5000, mu=(0.0, 0.0), sigma=(0.1, 0.5), transition=((0.98, 0.02), (0.02, 0.98))
    )
    single = gbm(np.random.default_rng(13), 5000, mu=0.0, sigma=0.3)
    assert spread_of_rolling_vol(switching) > 3.0
    assert spread_of_rolling_vol(single) < 2.0
    # The calm and the volatile regime are both visible: bars near 0.1 and near 0.5 annual vol.
    rolling = pd.Series(log_returns(switching)).rolling(20).std().dropna() * np.sqrt(252)
    assert ((rolling > 0.07) & (rolling < 0.15)).mean() > 0.2
    assert ((rolling > 0.35) & (rolling < 0.7)).mean() > 0.2


# Parameter errors -----------------------------------------------------------------------------


def config_error(name: str, n: int = 10, **params: object) -> str:
    """The message of the ConfigError that ``generate`` raises."""
    with pytest.raises(ConfigError) as caught:
        generate(name, np.random.default_rng(0), n, **params)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_unknown_generator_names_the_known_ones() -> None:
    message = config_error("brownian")
    assert message == "unknown generator 'brownian', expected one of gbm, ou, jump_diffusion, regime_switching"


def test_unknown_parameter_is_named() -> None:
    assert config_error("gbm", sigmaa=0.1).startswith("gbm: unknown parameter 'sigmaa', expected one of s0, mu, sigma")


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("gbm", {"sigma": -0.1}, "gbm: sigma must be >= 0, got -0.1"),
        ("gbm", {"s0": 0.0}, "gbm: s0 must be > 0, got 0.0"),
        ("gbm", {"mu": float("nan")}, "gbm: mu must be a finite number, got nan"),
        ("gbm", {"sigma": "0.2"}, "gbm: sigma must be a finite number, got '0.2'"),
        ("gbm", {"periods_per_year": 0}, "gbm: periods_per_year must be > 0, got 0"),
        ("gbm", {"freq": "fortnightly"}, "gbm: freq must be a pandas frequency such as 'B' or 'h', got 'fortnightly'"),
        ("gbm", {"freq": None}, "gbm: freq must be a pandas frequency such as 'B' or 'h', got None"),
        ("gbm", {"start": "someday"}, "gbm: start must be a date or time, got 'someday'"),
        ("gbm", {"start": "2024-01-02T00:00Z"}, "gbm: start must be a timezone-naive date or time"),
        ("gbm", {"freq": "100000YE"}, "gbm: 10 bars from start '2015-01-02' at freq '100000YE' leave"),
        ("ou", {"theta": 0.0}, "ou: theta must be > 0, got 0.0"),
        ("ou", {"mean": -5.0}, "ou: mean must be > 0, got -5.0"),
        ("jump_diffusion", {"jump_rate": -1.0}, "jump_diffusion: jump_rate must be >= 0, got -1.0"),
        ("jump_diffusion", {"jump_std": -0.1}, "jump_diffusion: jump_std must be >= 0, got -0.1"),
        ("regime_switching", {"sigma": (0.1, -0.2)}, "regime_switching: sigma[1] must be >= 0, got -0.2"),
        ("regime_switching", {"sigma": (0.1,)}, "regime_switching: sigma has 1 regimes but mu has 2"),
        ("regime_switching", {"transition": ((0.5, 0.6), (0.5, 0.5))}, "regime_switching: transition[0] must sum to 1"),
        ("regime_switching", {"transition": ((1.0,),)}, "regime_switching: transition must have 2 rows"),
        ("regime_switching", {"initial_regime": 2}, "regime_switching: initial_regime must be an int in [0, 1], got 2"),
    ],
)
def test_bad_parameter_is_named_with_its_value(name: str, params: dict[str, object], expected: str) -> None:
    assert config_error(name, **params).startswith(expected)


@pytest.mark.parametrize("n", [1, 0, -5, 2.5, True])
def test_too_few_bars_is_refused(n: object) -> None:
    assert config_error("ou", n=n).startswith(f"ou: n must be an int >= 2, got {n!r}")  # type: ignore[arg-type]


def test_a_path_that_overflows_float64_is_refused() -> None:
    assert "leaves float64 range" in config_error("gbm", n=10_000, sigma=200.0)


# Bundled sample data --------------------------------------------------------------------------


def test_sample_script_regenerates_the_bundled_files_byte_for_byte(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "make_sample_data.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, capture_output=True, cwd=tmp_path)
    for file_name in SAMPLES.values():
        assert (tmp_path / file_name).read_bytes() == (ROOT / "market" / "data" / "sample" / file_name).read_bytes()


@pytest.mark.parametrize(("name", "bars"), [("daily", 2520), ("hourly", 5000)])
def test_bundled_samples_load_cleanly(name: str, bars: int) -> None:
    prices = load_sample(name)
    check_prices(prices, source=name)
    assert list(prices.columns) == list(OHLCV_COLUMNS)
    assert len(prices) == bars
    assert (prices.index.day_of_week < 5).all()
    assert sample_path(name).stat().st_size < 1_000_000


def test_daily_sample_is_ten_years_of_fat_tailed_business_days() -> None:
    prices = load_sample("daily")
    assert (prices.index.day_of_week < 5).all()
    assert 9.5 < (prices.index[-1] - prices.index[0]).days / 365.25 < 10.5
    assert kurtosis(log_returns(prices)) > 4.0


def test_sample_path_does_not_depend_on_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = sample_path()
    assert path.is_absolute() and path.is_file()
    assert path == ROOT / "market" / "data" / "sample" / SAMPLES["daily"]


def test_unknown_sample_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown sample data set 'weekly', expected one of daily, hourly"):
        sample_path("weekly")
