"""Run records: the on-disk format that backtests, scenarios and training write and the dashboard reads."""
