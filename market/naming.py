"""Agent names: an agent of population ``p`` is ``p_<i>`` (``maker_0``, ``taker_17``).

The one place that reads a population back from an agent's name, for the env's RLlib policy mapping,
the flows analysis and the dashboard. It imports nothing, so every part of the product may use it.
"""

from __future__ import annotations

import re

__all__ = ["agent_name", "agent_sort_key", "population_of"]

_AGENT = re.compile(r"^(?P<population>.+)_(?P<index>\d+)$")


def agent_name(population: str, index: int) -> str:
    """The name of agent ``index`` of ``population``: ``{population}_{index}``."""
    return f"{population}_{index}"


def population_of(agent: str) -> str:
    """An agent's population: the name before a trailing ``_<i>`` (``taker_7`` -> ``taker``).

    Names without such a suffix (``buy_and_hold``, the fee account ``__exchange__``) are their own.

    >>> population_of("taker_7"), population_of("x_1_2"), population_of("buy_and_hold")
    ('taker', 'x_1', 'buy_and_hold')
    """
    match = _AGENT.match(agent)
    return match["population"] if match else agent


def agent_sort_key(agent: str) -> tuple[str, int, str]:
    """Order agents by population, then by index as a number (``maker_2`` before ``maker_10``)."""
    match = _AGENT.match(agent)
    if match:
        return (match["population"], int(match["index"]), agent)
    return (agent, -1, agent)
