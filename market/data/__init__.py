"""Price data: loading and validating OHLCV files, synthetic generators, and the bundled sample data.

This package owns every price table that enters the simulator. :func:`load_prices` reads files,
:mod:`market.data.synthetic` makes seeded ones, and :func:`load_sample` reads the small data sets
shipped inside the package (made by ``scripts/make_sample_data.py``), so every command runs with no
download. All of them return the same shape; see :mod:`market.data.loading`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pandas as pd

from market.data.loading import (
    CLOSE,
    HIGH,
    LOW,
    OHLCV_COLUMNS,
    OPEN,
    PRICE_COLUMNS,
    TIME,
    TIME_UNIT,
    VOLUME,
    ReadOptions,
    check_bars,
    check_prices,
    load_prices,
    read_long_prices,
)
from market.data.panel import Panel, load_panel
from market.data.synthetic import GENERATORS, generate
from market.errors import ConfigError

__all__ = [
    "CLOSE",
    "GENERATORS",
    "HIGH",
    "LOW",
    "OHLCV_COLUMNS",
    "OPEN",
    "PANEL_SAMPLE",
    "PRICE_COLUMNS",
    "Panel",
    "ReadOptions",
    "SAMPLES",
    "SAMPLE_DIR",
    "TIME",
    "TIME_UNIT",
    "VOLUME",
    "check_bars",
    "check_prices",
    "generate",
    "load_panel",
    "load_prices",
    "load_sample",
    "load_sample_panel",
    "read_long_prices",
    "sample_path",
]

SAMPLE_DIR: Final = Path(__file__).resolve().parent / "sample"
"""Folder of the bundled sample data, found from this file (never from the current directory)."""

SAMPLES: Final[dict[str, str]] = {
    "daily": "sample_daily.csv",
    "hourly": "sample_hourly.csv",
}
"""Bundled data sets by name: ``daily`` is ten years of a stock-like series in business-day bars,
``hourly`` about 5,000 hourly bars of an FX-like rate on weekdays."""

PANEL_SAMPLE: Final = "sample_panel.csv"
"""The bundled panel: daily closes of 12 assets in 3 sectors over 1,000 business days, one column
per asset (see ``scripts/make_sample_data.py``)."""


def sample_path(name: str = "daily") -> Path:
    """Path of a bundled sample data file.

    Args:
        name: A key of :data:`SAMPLES`.

    Returns:
        The absolute path of the file inside the installed package.

    Raises:
        ConfigError: ``name`` is not a bundled data set.
    """
    if name not in SAMPLES:
        raise ConfigError(f"unknown sample data set {name!r}, expected one of {', '.join(SAMPLES)}")
    return SAMPLE_DIR / SAMPLES[name]


def load_sample(name: str = "daily") -> pd.DataFrame:
    """Load a bundled sample data set with :func:`load_prices`.

    Args:
        name: A key of :data:`SAMPLES`.

    Returns:
        The validated price table.

    Raises:
        ConfigError: ``name`` is not a bundled data set.
        DataError: The bundled file is missing or damaged (a broken install).
    """
    return load_prices(sample_path(name))


def load_sample_panel() -> Panel:
    """Load the bundled panel (:data:`PANEL_SAMPLE`, wide closes) with :func:`load_panel`.

    Returns:
        The 12-asset panel; close-only, so open = high = low = close.

    Raises:
        DataError: The bundled file is missing or damaged (a broken install).
    """
    return load_panel(SAMPLE_DIR / PANEL_SAMPLE, wide=True)
