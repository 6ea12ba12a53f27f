"""What the run-record writer and reader share: JSON conversion (the one place values become JSON), file
hashing and syncing, run names, and the library versions a manifest records.

Conversion to JSON-safe values (numpy scalars, paths, enums, dataclasses, non-finite floats) happens in
:func:`to_jsonable`, at the edge where values leave the program; the CLI, the runner, Tune and the
dashboard call it instead of converting on their own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import math
import os
import platform
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from enum import Enum
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from market import __version__ as market_version
from market.errors import RecordError
from market.records import schema as s

_OPTIONAL_DISTRIBUTIONS = ("ray", "torch", "gymnasium", "pettingzoo")
"""Libraries whose versions go into the manifest when installed (read from metadata, never imported)."""

DEFAULT_FLUSH_ROWS = 65_536
"""Rows buffered per table before a row group is written."""
MAX_NAME_LENGTH = 200
"""The longest run name: one folder name, with room for the ``.partial`` suffix."""


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (new, renamed or removed files) to disk. A no-op where unsupported."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_of(path: Path, *, fsync: bool = False) -> str:
    """Hash a file in a streamed pass, optionally fsyncing it through the same descriptor.

    Args:
        path: The file to hash.
        fsync: Also flush the file's data to disk before returning.

    Returns:
        The hexadecimal SHA-256 digest.
    """
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
        if fsync:
            os.fsync(handle.fileno())
    return digest


def _json_key(key: Any, where: str) -> str:
    """Turn a mapping key into a JSON object key."""
    if isinstance(key, Enum):
        key = key.value
    if isinstance(key, np.generic):
        key = key.item()
    if isinstance(key, str):
        return key
    if isinstance(key, bool | int | float):
        return str(key)
    raise RecordError(f"{where}: cannot store a key of type {type(key).__name__} in {s.MANIFEST_FILE}")


def to_jsonable(value: Any, where: str) -> Any:
    """Convert a value into plain JSON types, at the edge where it leaves the program.

    Enums become their values, numpy scalars and arrays become Python numbers and lists, paths and
    times become strings, dataclasses become dicts, and NaN or infinite floats become ``None``.

    Args:
        value: The value to convert.
        where: Its key path, for the error message (for example ``"config.fees"``).

    Returns:
        The value as ``None``, ``bool``, ``int``, ``float``, ``str``, ``list`` or ``dict``.

    Raises:
        RecordError: The value (or a part of it) has no JSON form.
    """
    if isinstance(value, Enum):
        return to_jsonable(value.value, where)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):
        return to_jsonable(value.item(), where)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist(), where)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, datetime | date | clock_time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name), f"{where}.{f.name}") for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        converted: dict[str, Any] = {}
        for key, item in value.items():
            name = _json_key(key, where)
            if name in converted:
                raise RecordError(f"{where}: two keys both read as {name!r} in {s.MANIFEST_FILE}")
            converted[name] = to_jsonable(item, f"{where}.{name}")
        return converted
    if isinstance(value, list | tuple):
        return [to_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        items = [to_jsonable(item, f"{where}[]") for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    raise RecordError(f"{where}: cannot store a {type(value).__name__} in {s.MANIFEST_FILE}")


def library_versions() -> dict[str, str]:
    """Return the versions of Python and of the libraries a run depends on.

    Optional libraries (Ray, torch, Gymnasium, PettingZoo) are read from installed package metadata,
    never imported, and left out when not installed.

    Returns:
        A mapping of name to version string.
    """
    versions = {
        "python": platform.python_version(),
        "market": market_version,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "pyarrow": pa.__version__,
    }
    for distribution in _OPTIONAL_DISTRIBUTIONS:
        try:
            versions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def check_run_name(name: str) -> None:
    """Refuse a run name that is not one plain folder name."""
    if not isinstance(name, str) or not name:
        raise RecordError(f"run name must be a non-empty string, got {name!r}")
    if (
        len(name) > MAX_NAME_LENGTH
        or name.startswith(".")
        or name.endswith(s.PARTIAL_SUFFIX)
        or any(char in name for char in ("/", "\\", "\0"))
    ):
        raise RecordError(
            f"run name {name!r} must be one folder name: no '/', no leading '.', "
            f"not ending in {s.PARTIAL_SUFFIX!r}, at most {MAX_NAME_LENGTH} characters"
        )
