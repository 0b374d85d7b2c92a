"""Tiny `explore train` settings shared by the console-script tests (seconds per run)."""

from __future__ import annotations

import sys
from pathlib import Path

# The console script of this environment, as a user runs it.
EXPLORE = str(Path(sys.executable).with_name("explore"))

# PPO on Empty-5x5 in a few updates.
TINY_TRAIN = [
    "env=Empty-5x5",
    "total_steps=512",
    "log_every=2",
    "ppo.num_envs=4",
    "ppo.num_steps=16",
    "ppo.hidden=8",
    "ppo.update_epochs=1",
    "ppo.num_minibatches=1",
]

# The smallest run of any env: two envs, eight steps, 128 steps in all.
TINY_ANY_ENV = [
    "total_steps=128",
    "log_every=2",
    "num_envs=2",
    "num_steps=8",
    "hidden=8",
    "update_epochs=1",
    "num_minibatches=1",
]
