"""market: a multi-agent market simulator for training and replaying trading agents."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("market")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
