"""Regenerate the bundled sample price data in ``market/data/sample/`` from fixed seeds.

Run from anywhere: ``python scripts/make_sample_data.py`` (or ``--out DIR`` to write elsewhere).
The output is byte-identical on every run, and a test checks that the bundled files match it.

* ``sample_daily.csv``: 2,520 business-day bars (ten years) of a stock-like series from the
  regime-switching generator (calm bull and volatile bear spells, so returns have fat tails),
  prices to 4 decimals.
* ``sample_hourly.csv``: 5,000 hourly bars of an FX-like rate (around 1.10, 23 hours a weekday)
  from the jump-diffusion generator, prices to 5 decimals.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from market.data import SAMPLE_DIR, SAMPLES
from market.data.loading import PRICE_COLUMNS, VOLUME
from market.data.synthetic import factor_panel, generate

SEED: Final = 20_240_101
"""Root seed of the sample data; each data set gets its own spawned stream."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleSpec:
    """How one bundled data set is generated and written.

    Attributes:
        name: Key in :data:`market.data.SAMPLES`, which gives the file name.
        generator: Name of the generator in :data:`market.data.synthetic.GENERATORS`.
        n: Number of bars.
        params: Keyword parameters of the generator.
        decimals: Decimal places of the written prices.
        time_format: ``strftime`` format of the written times.
    """

    name: str
    generator: str
    n: int
    params: dict[str, object]
    decimals: int
    time_format: str


SPECS: Final[tuple[SampleSpec, ...]] = (
    SampleSpec(
        name="daily",
        generator="regime_switching",
        n=2_520,
        params={
            "s0": 50.0,
            "mu": (0.12, -0.25),
            "sigma": (0.14, 0.38),
            "transition": ((0.99, 0.01), (0.04, 0.96)),
            "start": "2014-01-02",
            "freq": "B",
            "periods_per_year": 252.0,
            "volume": 2_000_000.0,
        },
        decimals=4,
        time_format="%Y-%m-%d",
    ),
    SampleSpec(
        name="hourly",
        generator="jump_diffusion",
        n=5_000,
        params={
            "s0": 1.10,
            "mu": 0.0,
            "sigma": 0.08,
            "jump_rate": 24.0,
            "jump_mean": 0.0,
            "jump_std": 0.003,
            "start": "2023-01-02 00:00",
            "freq": pd.offsets.BusinessHour(start="00:00", end="23:00"),
            "periods_per_year": 23.0 * 261.0,
            "volume": 5_000.0,
        },
        decimals=5,
        time_format="%Y-%m-%d %H:%M:%S",
    ),
)
"""The bundled data sets, in the order their random streams are spawned."""


def build_sample(spec: SampleSpec, rng: np.random.Generator) -> pd.DataFrame:
    """Generate one data set and round it as it will be written.

    Rounding to a fixed number of decimals is monotone, so rounded bars still have
    ``low <= open, close <= high``.

    Args:
        spec: What to generate.
        rng: The data set's own random stream.

    Returns:
        The price table with prices rounded to ``spec.decimals`` and whole-number volumes.
    """
    prices = generate(spec.generator, rng, spec.n, **spec.params)
    prices[list(PRICE_COLUMNS)] = prices[list(PRICE_COLUMNS)].round(spec.decimals)
    prices[VOLUME] = prices[VOLUME].round()
    return prices


def write_samples(out_dir: Path) -> list[Path]:
    """Generate every data set in :data:`SPECS` and write it as CSV into ``out_dir``.

    Args:
        out_dir: Folder to write into; created if missing.

    Returns:
        The written files, in the order of :data:`SPECS`.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    streams = np.random.SeedSequence(SEED).spawn(len(SPECS))
    written = []
    for spec, stream in zip(SPECS, streams, strict=True):
        prices = build_sample(spec, np.random.default_rng(stream))
        table = prices.astype({VOLUME: np.int64})
        path = out_dir / SAMPLES[spec.name]
        table.to_csv(path, float_format=f"%.{spec.decimals}f", date_format=spec.time_format, lineterminator="\n")
        written.append(path)
    panel = factor_panel(np.random.default_rng(PANEL_SEED), PANEL_DAYS)
    path = out_dir / PANEL_FILE
    panel.to_csv(path, float_format="%.2f", date_format="%Y-%m-%d", lineterminator="\n")
    written.append(path)
    return written


PANEL_SEED: Final = 1
"""The first seed from 1 up whose equal-weight index rises over the 1,000 days (by 34%), as stock
markets have on average; the panel is a sample for examples and tests, not evidence of anything."""
PANEL_DAYS: Final = 1_000
PANEL_FILE: Final = "sample_panel.csv"
"""The bundled panel: closes of 12 assets in 3 sectors (see :func:`market.data.synthetic.factor_panel`)."""


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: write the sample data into ``--out`` (the package's sample folder by default)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help=f"output folder (default: {SAMPLE_DIR})")
    args = parser.parse_args(argv)
    for path in write_samples(args.out):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
