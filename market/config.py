"""Building the frozen config dataclasses from plain mappings (TOML, JSON, RLlib's env_config).

One place turns nested dicts into the typed config tree: an unknown key fails naming its full path
(``populations.makers.qty``) with a "did you mean" for near misses, and a value of the wrong kind
fails naming the key and value. Each dataclass still validates its own values in ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from market.errors import ConfigError

T = TypeVar("T")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def suggest(key: str, choices: list[str]) -> str:
    """A ``" (did you mean 'x'?)"`` hint for a near miss, or an empty string."""
    close = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def from_mapping(cls: type[T], data: Any, path: str = "") -> T:
    """Build the dataclass ``cls`` from ``data``, recursively, rejecting unknown keys.

    Args:
        cls: a dataclass type.
        data: a mapping of field names to values (nested mappings for nested dataclasses), or
            already an instance of ``cls``.
        path: the key path of ``data`` inside a larger file, for messages.

    Raises:
        ConfigError: naming the full key path and the bad value.
    """
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or cls.__name__}: expected a table of settings, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(f"{_join(path, str(key))}: unknown key with value {value!r}{suggest(str(key), list(fields))}")
        values[key] = _convert(hints[key], value, _join(path, key))
    try:
        return cls(**values)
    except ConfigError as error:  # the dataclass's own check: put its message under this table's path
        message = str(error)
        if not path or message.startswith(path):
            raise
        last = path.rsplit(".", 1)[-1]
        if message.startswith(f"{last}."):  # the dataclass already named its own table
            raise ConfigError(f"{path}{message[len(last):]}") from None
        raise ConfigError(f"{path}.{message}") from None
    except TypeError as error:  # a required key is missing
        missing = [name for name, f in fields.items() if name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            raise ConfigError(f"{_join(path, missing[0])}: required key is missing") from error
        raise ConfigError(f"{path or cls.__name__}: {error}") from error


def with_overrides(cls: type[T], config: T | Mapping[str, Any] | None, overrides: Mapping[str, Any]) -> T:
    """An env's ``config`` argument (an instance of ``cls``, a mapping or None) with keyword ``overrides``, validated.

    Raises:
        ConfigError: If ``config`` is of another kind, a key is not a setting or a value is invalid.
    """
    if config is None:
        return from_mapping(cls, overrides)
    if isinstance(config, cls):
        if not overrides:
            return config
        settings = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}  # type: ignore[arg-type]
        return from_mapping(cls, {**settings, **overrides})
    if isinstance(config, Mapping):
        return from_mapping(cls, {**config, **overrides})
    raise ConfigError(f"config must be a {cls.__name__}, a mapping or None, got {type(config).__name__}: {config!r}")


def _item_path(path: str, index: int, item: Any) -> str:
    """``populations.makers`` for a list item with a name, else ``populations[0]``."""
    name = item.get("name") if isinstance(item, Mapping) else None
    return f"{path}.{name}" if isinstance(name, str) else f"{path}[{index}]"


def _convert(hint: Any, value: Any, path: str) -> Any:
    """Convert one value to the field's declared type, where the conversion is unambiguous."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, path)  # type: ignore[arg-type]
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if dataclasses.is_dataclass(arg) and isinstance(value, Mapping):
                return from_mapping(arg, value, path)
        return value
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            choices = [str(m.value) for m in hint]
            raise ConfigError(f"{path}: expected one of {choices}, got {value!r}{suggest(str(value), choices)}") from None
    if origin is tuple:
        if isinstance(value, Mapping) and args and typing.get_origin(args[0]) is tuple:
            return tuple(value.items())  # a table of parameters, kept as (key, value) pairs
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], item, _item_path(path, i, item)) for i, item in enumerate(value))
        return tuple(value)
    return value
