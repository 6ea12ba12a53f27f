"""Environments: TradingEnv (Gymnasium, one agent) and the market env (PettingZoo, many agents)."""
