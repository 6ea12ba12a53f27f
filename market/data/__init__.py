"""Price data: CSV/Parquet loading and validation, synthetic generators, bundled sample data."""
