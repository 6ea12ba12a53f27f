"""Errors the product raises on purpose. Each carries a one-line message for the user.

The CLI prints ``str(error)`` of any :class:`MarketError` as a single line and exits non-zero;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

MAX_SHOWN = 200
"""The longest library message :func:`one_line` passes on."""


def one_line(error: BaseException) -> str:
    """The first non-empty line of an exception's message (its type name if it has none), cut to :data:`MAX_SHOWN`.

    For wrapping a library's error into one of ours: tracebacks and multi-line dumps stay out.
    """
    for line in str(error).splitlines():
        if line.strip():
            text = line.strip()
            return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."
    return type(error).__name__


class MarketError(Exception):
    """Base of every error the product raises for bad input or a broken invariant."""


class ConfigError(MarketError, ValueError):
    """A setting has a bad value or an unknown key; the message names the key and value."""


class OrderRejected(MarketError, ValueError):
    """An order was refused before it touched the book; ``reject`` says why."""

    def __init__(self, reject: object) -> None:
        super().__init__(str(reject))
        self.reject = reject


class InvariantViolation(MarketError, AssertionError):
    """The exchange found its own state inconsistent (crossed book, cash not conserved, ...)."""


class DataError(MarketError, ValueError):
    """Price data could not be loaded; the message names the file, the row or column, and the problem."""


class StatisticsError(MarketError, ValueError):
    """A statistic (``market.stats``) was given bad input; the message names the series and the position."""


class ActionError(MarketError, ValueError):
    """An action is not in the env's action space; the message names the agent and the expected shape."""


class ResetNeeded(MarketError, RuntimeError):
    """An env was stepped before ``reset()`` (or after its episode ended and before the next reset)."""


class RecordError(MarketError):
    """A run record is missing, damaged or of an unknown version; the message names the file."""


class Interrupted(MarketError):
    """The user stopped a command (Ctrl-C); the message says what was kept. The CLI exits with 130."""

    exit_code = 130
