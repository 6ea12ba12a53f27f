"""The fitted ecology file: what ``market calibrate`` writes and ``market simulate --ecology`` reads.

The file is a fragment of a market scenario: a ``[market]`` table with the market's
``initial_price`` (its tick scale, the key of a scenario's market table: pasted into a scenario, it
joins that scenario's own ``[market]`` keys), one ``[[background]]`` table per population of the
default ecology (name, role, count, policy, order limits and the policy's parameters, the keys of a
scenario's background tables) and a ``[fundamental]`` table (the Ornstein-Uhlenbeck model and its
parameters, the keys of a scenario's fundamental table). So the same text runs in
``market simulate --ecology FILE`` and, pasted into a scenario, as that scenario's background.
A ``[bars]`` table says how many steps of the market make one bar of the data fitted
(``steps_per_bar``): ``market simulate`` measures its facts per bar of that many steps. It is the
fit's own table, not a scenario's (a scenario has no bars): leave it out when pasting. A file without
a ``[market]`` or ``[bars]`` table has the default starting price, or one step per bar.

Reading checks every key and value as a scenario does (unknown keys fail naming their path), and
refuses populations that ``market simulate`` cannot size (it has one count option per population
of the default ecology).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from market.config import from_mapping, suggest
from market.envs.market_config import PopulationConfig
from market.errors import ConfigError
from market.simulation.ecology import (
    COUNT_FIELDS,
    ECOLOGY,
    FUNDAMENTAL_MODEL,
    FUNDAMENTAL_PARAMS,
    INITIAL_PRICE,
    MAX_INITIAL_PRICE,
    MAX_STEPS_PER_BAR,
    MIN_INITIAL_PRICE,
    Archetype,
    default_fundamental,
)

__all__ = ["FittedEcology", "format_ecology", "read_ecology", "write_atomically"]

MAX_FILE_BYTES = 64 * 1024
"""Largest ecology file read (as for scenario files: ``tomllib`` has no size limit of its own)."""
BACKGROUND_KEYS = ("name", "role", "count", "policy", "max_qty", "max_offset", "params")
"""The keys of a background table an ecology carries (a scenario's tables may have more)."""
FUNDAMENTAL_KEYS = ("source", "params")
MARKET_KEYS = ("initial_price",)
"""The keys of the ecology's ``[market]`` table (a scenario's market table has more)."""
BARS_KEYS = ("steps_per_bar",)
"""The keys of the ecology's ``[bars]`` table."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FittedEcology:
    """An ecology: the trader of each population, how many of each, and the fundamental's parameters.

    Attributes:
        archetypes: the trader of each population, by the default ecology's population names.
        counts: agents per population (0 for a population the file leaves out).
        fundamental_params: the default fundamental's Ornstein-Uhlenbeck parameters.
        initial_price: the market's starting price in ticks, its tick scale (the traders' offsets
            are in ticks, so at a lower price each tick is a larger relative move).
        steps_per_bar: simulated steps per bar of the data fitted: the fit compared the mid
            sampled every ``steps_per_bar`` steps with the data's closes.
    """

    archetypes: Mapping[str, Archetype] = field(default_factory=lambda: dict(ECOLOGY))
    counts: Mapping[str, int] = field(default_factory=dict)
    fundamental_params: Mapping[str, float] = field(default_factory=lambda: dict(FUNDAMENTAL_PARAMS))
    initial_price: int = INITIAL_PRICE
    steps_per_bar: int = 1

    def count_options(self) -> dict[str, int]:
        """The ``SimulationSpec`` fields the ecology sets: its counts (``makers``, ``takers``, ...),
        which count options may override, its ``initial_price`` and its ``steps_per_bar``."""
        counts = {key: int(self.counts.get(population, 0)) for key, population in COUNT_FIELDS.items()}
        return {**counts, "initial_price": int(self.initial_price), "steps_per_bar": int(self.steps_per_bar)}


def _toml_value(value: Any) -> str:
    """One TOML value: strings quoted, floats in full precision, inline tables for mappings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def format_ecology(ecology: FittedEcology, header: str = "") -> str:
    """The ecology as the text of an ecology file, with ``header`` as comment lines at the top.

    The text is parsed back before it is returned, so a file that cannot be read is never written.
    """
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines += ["", "[market]  # in a scenario, these keys join its own [market] table", f"initial_price = {int(ecology.initial_price)}"]
    lines += [
        "",
        "[bars]  # not a scenario table (leave it out when pasting): one bar of the data fitted is this many steps of the market",
        f"steps_per_bar = {int(ecology.steps_per_bar)}",
    ]
    lines += ["", "[fundamental]", f"source = {_toml_value(FUNDAMENTAL_MODEL)}", f"params = {_toml_value(dict(ecology.fundamental_params))}"]
    for name, archetype in ecology.archetypes.items():
        count = int(ecology.counts.get(name, 0))
        if count == 0:
            continue
        lines += [
            "",
            "[[background]]",
            f"name = {_toml_value(name)}",
            f"role = {_toml_value(archetype.role.value)}",
            f"count = {count}",
            f"policy = {_toml_value(archetype.policy)}",
            f"max_qty = {archetype.max_qty}",
            f"max_offset = {archetype.max_offset}",
            f"params = {_toml_value(dict(archetype.params))}",
        ]
    text = "\n".join(lines).lstrip("\n") + "\n"
    tomllib.loads(text)
    return text


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``,
    so that a reader (or a crash) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_ecology(path: Path | str) -> FittedEcology:
    """Read and check an ecology file.

    Raises:
        ConfigError: one line naming the file and the key: a missing or oversized file, bad TOML,
            an unknown key, a population the default ecology does not have, a bad value (checked
            as a scenario's background table is, the policy's parameters included), or bad
            fundamental parameters.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: ecology file not found")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: {size:,} bytes is larger than an ecology file may be ({MAX_FILE_BYTES:,})")
    try:
        raw = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None
    try:
        return _ecology(raw)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def _ecology(raw: Mapping[str, Any]) -> FittedEcology:
    """The ecology of a parsed file, checked."""
    from market.agents.scripted import build_policy, population_limits
    from market.simulation.ecology import WINDOW

    sections = ("market", "bars", "background", "fundamental")
    for key in raw:
        if key not in sections:
            raise ConfigError(
                f"{key}: unknown key; an ecology file has [market] and [bars] tables, [[background]] tables and a [fundamental] table{suggest(key, list(sections))}"
            )
    initial_price = _initial_price(raw.get("market", {}))
    steps_per_bar = _steps_per_bar(raw.get("bars", {}))
    tables = raw.get("background", [])
    if not isinstance(tables, list) or not tables:
        raise ConfigError("background: expected one or more [[background]] tables")
    archetypes: dict[str, Archetype] = {}
    counts: dict[str, int] = {}
    for index, table in enumerate(tables):
        if not isinstance(table, Mapping):
            raise ConfigError(f"background[{index}]: expected a table, got {table!r}")
        name = table.get("name")
        where = f"background.{name}" if isinstance(name, str) else f"background[{index}]"
        for key in table:
            if key not in BACKGROUND_KEYS:
                raise ConfigError(f"{where}.{key}: unknown key{suggest(str(key), list(BACKGROUND_KEYS))}; an ecology's tables have {list(BACKGROUND_KEYS)}")
        if name not in ECOLOGY:
            raise ConfigError(f"{where}.name: {name!r} is not a population of the default ecology{suggest(str(name), list(ECOLOGY))}; populations: {list(ECOLOGY)}")
        if name in archetypes:
            raise ConfigError(f"{where}: the population appears twice")
        if "policy" not in table:
            raise ConfigError(f"{where}.policy: required key is missing")
        population = from_mapping(PopulationConfig, table, "background")
        build_policy(population.policy, population.param_dict, window=WINDOW, population=population.name, **population_limits(population))  # type: ignore[arg-type]
        archetypes[population.name] = Archetype(
            role=population.role,
            policy=population.policy,  # type: ignore[arg-type]
            max_qty=population.max_qty,
            max_offset=population.max_offset,
            params=tuple(population.params),
        )
        counts[population.name] = population.count
    fundamental = raw.get("fundamental", {"source": FUNDAMENTAL_MODEL, "params": dict(FUNDAMENTAL_PARAMS)})
    if not isinstance(fundamental, Mapping):
        raise ConfigError(f"fundamental: expected a table, got {fundamental!r}")
    for key in fundamental:
        if key not in FUNDAMENTAL_KEYS:
            raise ConfigError(f"fundamental.{key}: unknown key{suggest(str(key), list(FUNDAMENTAL_KEYS))}; expected {list(FUNDAMENTAL_KEYS)}")
    if fundamental.get("source", FUNDAMENTAL_MODEL) != FUNDAMENTAL_MODEL:
        raise ConfigError(f"fundamental.source: expected {FUNDAMENTAL_MODEL!r} (the default fundamental's model), got {fundamental.get('source')!r}")
    params = fundamental.get("params", dict(FUNDAMENTAL_PARAMS))
    if not isinstance(params, Mapping):
        raise ConfigError(f"fundamental.params: expected a table, got {params!r}")
    try:
        default_fundamental(0, 2, params=params)  # the generator checks every parameter
    except ConfigError as error:
        raise ConfigError(f"fundamental.params: {error}") from None
    # populations the file leaves out keep the default trader, with no agents (a count option can add them)
    merged = {name: archetypes.get(name, default) for name, default in ECOLOGY.items()}
    return FittedEcology(archetypes=merged, counts=counts, fundamental_params=dict(params), initial_price=initial_price, steps_per_bar=steps_per_bar)


def _initial_price(market: Any) -> int:
    """The ``[market]`` table's starting price in ticks, checked (the default when the table leaves it out)."""
    if not isinstance(market, Mapping):
        raise ConfigError(f"market: expected a table, got {market!r}")
    for key in market:
        if key not in MARKET_KEYS:
            raise ConfigError(f"market.{key}: unknown key{suggest(str(key), list(MARKET_KEYS))}; an ecology's market table has {list(MARKET_KEYS)}")
    value = market.get("initial_price", INITIAL_PRICE)
    if type(value) is not int or not MIN_INITIAL_PRICE <= value <= MAX_INITIAL_PRICE:
        raise ConfigError(f"market.initial_price: expected an integer number of ticks in [{MIN_INITIAL_PRICE:,}, {MAX_INITIAL_PRICE:,}], got {value!r}")
    return value


def _steps_per_bar(bars: Any) -> int:
    """The ``[bars]`` table's steps per bar, checked (1 when the table leaves it out)."""
    if not isinstance(bars, Mapping):
        raise ConfigError(f"bars: expected a table, got {bars!r}")
    for key in bars:
        if key not in BARS_KEYS:
            raise ConfigError(f"bars.{key}: unknown key{suggest(str(key), list(BARS_KEYS))}; an ecology's bars table has {list(BARS_KEYS)}")
    value = bars.get("steps_per_bar", 1)
    if type(value) is not int or not 1 <= value <= MAX_STEPS_PER_BAR:
        raise ConfigError(f"bars.steps_per_bar: expected an integer number of steps in [1, {MAX_STEPS_PER_BAR:,}], got {value!r}")
    return value
