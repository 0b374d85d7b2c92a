"""``explore bench gpu`` through the console script, at a tiny size on the CPU.

The full-size run needs a GPU; here the parts run at a tiny size and the rows must name the
device, so a CPU figure is never taken for a GPU one. The PPO+RND part runs its seeds
through ``run_seeds(..., vectorize=True)``: the vmapped path an accelerator takes (checked
cheaply here; the whole script with the peers, CartPole and PPO+RND is the slow test).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from agents.seeds import run_seeds

EXPLORE = str(Path(sys.executable).with_name("explore"))
TINY = ["--batches", "8", "--steps", "2", "--repeats", "1", "--tasks", "Empty-8x8"]
TINY_RND = ["--seeds", "2", "--num-envs", "4", "--updates", "1"]


def _bench_gpu(tmp_path: Path, *extra: str) -> list[dict]:
    out = tmp_path / "rows.json"
    done = subprocess.run(
        [EXPLORE, "bench", "gpu", *TINY, *extra, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "no accelerator (cpu" in done.stdout
    return json.loads(out.read_text())


def test_bench_gpu_env_rows_name_the_device(tmp_path):
    (row,) = _bench_gpu(tmp_path, "--no-peers", "--skip", "cartpole", "rnd")
    assert row["device"].startswith("cpu") and row["batch"] == 8
    assert row["ours step_batch steps/s"] > 0 and row["ours vmap(step) steps/s"] > 0


def test_run_seeds_vectorized_is_one_vmapped_program():
    """The accelerator path of run_seeds (taken by the bench's PPO+RND rows) on the CPU."""

    def run_one(state):
        return state + 1, {"twice": 2 * state}

    states = jnp.arange(3.0)
    new, metrics = run_seeds(run_one, 3, vectorize=True)(states)
    np.testing.assert_array_equal(np.asarray(new), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(np.asarray(metrics["twice"]), [0.0, 2.0, 4.0])
    # The same numbers as the CPU's per-device split.
    split_new, split_metrics = run_seeds(run_one, 3, vectorize=False)(states)
    np.testing.assert_array_equal(np.asarray(split_new), np.asarray(new))
    np.testing.assert_array_equal(np.asarray(split_metrics["twice"]), np.asarray(metrics["twice"]))


@pytest.mark.slow
def test_bench_gpu_every_part_with_peers(tmp_path):
    extra = ["--cartpole-steps", "256", "--cartpole-envs", "4", "--cartpole-num-steps", "8"]
    rows = _bench_gpu(tmp_path, *extra, *TINY_RND)
    env_row, cartpole_row, rnd_row = rows
    assert {"xminigrid steps/s", "navix steps/s"} <= set(env_row)
    assert cartpole_row["steps"] == 256 and cartpole_row["device"].startswith("cpu")
    assert "2 seeds vmapped" in rnd_row["bench"]
    assert rnd_row["plain PPO steps/s"] > 0 and rnd_row["PPO+RND steps/s"] > 0


def test_bench_gpu_rejects_unknown_part(tmp_path):
    done = subprocess.run(
        [EXPLORE, "bench", "gpu", "--skip", "cartpol"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2
    assert "cartpole" in done.stderr
