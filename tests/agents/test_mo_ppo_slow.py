"""MO-PPO's learning claim on Deep Sea Treasure (slow: about 2-5 min on a 2-core CPU)."""

from __future__ import annotations

import numpy as np
import pytest

import envs
from analysis.load import read_fronts
from explore.cli import main
from explore.runs import RunDir


@pytest.mark.slow
def test_extreme_weights_find_the_end_treasures(tmp_path):
    """Weight (1, 0) (treasure only) finds the farthest treasure, 23.7 after 19 steps;
    weight (0, 1) (time only) the nearest, 0.7 after 1 step: the two ends of the front."""
    args = [
        "train",
        "env=DeepSeaTreasure",
        "agent=mo_ppo",
        "mo_ppo.weights=[[1,0],[0,1]]",
        "gamma_ext=1.0",
        "total_steps=153600",  # 15 chunks of 10 updates of 1024 steps
        "num_steps=64",
        "num_minibatches=2",
        "hidden=32",
        "log_every=10",
        "seeds=0-1",
        f"out={tmp_path}",
        "--no-progress",
    ]
    assert main(args) == 0
    env, _ = envs.make("DeepSeaTreasure")
    far, near = env.pareto_front(1.0)[-1], env.pareto_front(1.0)[0]
    np.testing.assert_allclose([far, near], [[23.7, -19.0], [0.7, -1.0]], rtol=1e-6)
    for path in sorted(p for p in tmp_path.iterdir() if p.is_dir()):
        assert RunDir(path).is_complete()
        final = read_fronts(path / "metrics.parquet").points[-1]
        np.testing.assert_allclose(final, [far, near], rtol=1e-5, err_msg=path.name)
