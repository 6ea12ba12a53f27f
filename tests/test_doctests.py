"""Every docstring example in the package runs and prints what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import market

MODULES = sorted(
    name
    for info in pkgutil.walk_packages(market.__path__, "market.")
    if not (name := info.name).startswith("market.training")  # imports Ray; exercised by its own tests
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
