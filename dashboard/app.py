"""Entry point for ``streamlit run dashboard/app.py [-- --runs DIR]``: the page lives in market.dashboard.app."""

from market.dashboard.app import main

main()
