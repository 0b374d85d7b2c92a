"""Seeds on the CPU: each seed runs its own single-seed program, on whichever device.

The property that defines ``agents.seeds.run_seeds``: a seed's numbers do not depend on how
many seeds run beside it, nor on how they are dealt to devices (padding included). Checked
in-process on the two CPU devices the test session has (tests/conftest.py), and through
``explore train``.
"""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd

from agents.seeds import configure_cpu_devices, run_seeds, seed_devices
from explore.cli import main
from explore.config import load_config
from explore.train import build

TINY = [
    "env=Empty-5x5",
    "total_steps=512",
    "log_every=2",
    "ppo.num_envs=4",
    "ppo.num_steps=16",
    "ppo.hidden=8",
    "ppo.update_epochs=1",
    "ppo.num_minibatches=1",
]


def _leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(tree))]


def test_seeds_dealt_to_devices_match_single_seed_runs():
    assert jax.device_count() == 2, "the test session sets JAX_NUM_CPU_DEVICES=2"
    _, _, _, ppo = build(load_config(None, [*TINY, "bonus=rnd"]))
    states = ppo.init_seeds([jax.random.PRNGKey(k) for k in (0, 1, 2)])
    # Three seeds on two devices: two per device, the fourth slot a skipped copy.
    assert len(seed_devices(3)) == 2 and len(seed_devices(1)) == 1
    together = run_seeds(lambda s: ppo.run(s, 2), 3)(states)
    alone = run_seeds(lambda s: ppo.run(s, 2), 1)
    for i in range(3):
        single = alone(jax.tree.map(lambda x, i=i: x[i : i + 1], states))
        for a, b in zip(_leaves(together), _leaves(single), strict=True):
            np.testing.assert_array_equal(a[i], b[0])
    # Each seed learned something of its own (the comparison above is not of copies).
    params = _leaves(together[0].train.params)
    assert any(not np.array_equal(p[0], p[1]) for p in params)


def test_explore_train_seed_alone_equals_seed_in_group(tmp_path):
    """Through the console: seed 2 trained with seeds 0-2 is seed 2 trained alone."""
    for out, seeds in (("group", "0-2"), ("alone", "2")):
        args = ["train", *TINY, "bonus=count", f"seeds={seeds}", f"out={tmp_path / out}"]
        assert main([*args, "--no-progress"]) == 0
    [group] = (tmp_path / "group").glob("*__s2")
    [alone] = (tmp_path / "alone").glob("*__s2")
    frames = []
    for run in (group, alone):
        metrics = pd.read_parquet(run / "metrics.parquet")
        metrics = metrics[metrics.metric != "steps_per_second"]  # wall-clock, not a result
        frames.append(metrics.sort_values(["step", "metric"]).reset_index(drop=True))
    assert len(frames[0]) > 0
    pd.testing.assert_frame_equal(frames[0], frames[1])


def test_configure_cpu_devices_leaves_a_started_jax_alone():
    jax.devices()  # the backend is up: the device count can no longer change
    assert configure_cpu_devices(4) is None
    assert jax.device_count() == 2
