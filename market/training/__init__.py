"""Ray RLlib configs and runners: PPO and SAC, single agent and populations, checkpoints, Tune."""
