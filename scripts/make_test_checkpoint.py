"""Regenerate tests/data/ppo_trading_checkpoint: a tiny PPO checkpoint made with the pinned versions.

The tests keep loading it, so that an upgrade of Ray, torch or gymnasium that breaks old
checkpoints shows up in CI. Run: ``.venv/bin/python scripts/make_test_checkpoint.py``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch

from market.training.configs import TrainingConfig
from market.training.runner import StopConfig, train

TARGET = Path(__file__).resolve().parents[1] / "tests" / "data" / "ppo_trading_checkpoint"


def main() -> None:
    torch.set_num_threads(1)
    settings = TrainingConfig(
        env_config={"window": 10, "max_steps": 100, "end": "2020-12-31"},
        eval_env_config={"start": "2021-01-01", "end": None},
        train_batch_size=400,
        minibatch_size=100,
        num_epochs=1,
        hidden=(16,),
    )
    with tempfile.TemporaryDirectory() as scratch:
        result = train(settings, StopConfig(iterations=2), out=Path(scratch), name="checkpoint")
        shutil.rmtree(TARGET, ignore_errors=True)
        shutil.copytree(result.checkpoint, TARGET)
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
