"""The replay dashboard: a Streamlit page over the run records in a runs folder.

:mod:`market.dashboard.run_data` reads runs (safe paths, lazy column and row reads, downsampling),
:mod:`market.dashboard.charts` draws them, :mod:`market.dashboard.app` is the page and
:mod:`market.dashboard.server` starts it. The package reads run records only: it imports nothing
from ``market.training``. Importing it does not import Streamlit.
"""
