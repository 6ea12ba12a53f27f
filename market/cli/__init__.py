"""The ``market`` command: one function per subcommand, grouped by what they work on.

:mod:`market.cli.common` holds the app, the shared options and :func:`main`; the subcommands register
on the app when their modules are imported here: :mod:`market.cli.learning` (backtest, train, run,
tune), :mod:`market.cli.markets` (demo, league, simulate, calibrate, facts) and
:mod:`market.cli.browse` (dashboard, scenarios, runs).

Errors the product raises on purpose (:class:`market.errors.MarketError`) print as one line on
stderr with a non-zero exit; nothing else is caught, so a bug keeps its traceback.
"""

# importing a module registers its commands, in this order in `market --help`
from market.cli import markets, learning, browse  # noqa: F401, I001
from market.cli.common import app, main

__all__ = ["app", "main"]
