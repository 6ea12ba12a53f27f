"""Backtest engine and performance metrics."""
