"""explore bench: the timed functions do the work an agent needs, and peers run as shipped.

A rollout that kept only rewards let XLA delete the observation code as dead. These
tests change each env's observation function (every observation + 1) and check that the
benchmarked function's result moves by exactly the number of observation entries it
produced — so the observations are computed and consumed, for us and for each peer.
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from explore.bench import envs as bench_envs
from explore.bench import train as bench_train

BATCH, STEPS = 2, 3
KEY = jax.random.PRNGKey(1)


def _shift_by_one(fn):
    def shifted(*args, **kwargs):
        obs = fn(*args, **kwargs)
        return obs + jnp.ones_like(obs)

    return shifted


def _result_moves_with_observation(build, patch, obs_size: int) -> None:
    before = float(build()(KEY))
    patch()
    after = float(build()(KEY))
    # The reset's observations and one per step, each entry + 1, summed exactly.
    assert after - before == (STEPS + 1) * BATCH * obs_size


@pytest.mark.parametrize(
    ("view", "obs_size"),
    [("occluded", 7 * 7 * 3), ("see_through_walls", 7 * 7 * 3), ("fully_observable", 8 * 8 * 3)],
)
def test_ours_consumes_observations(monkeypatch, view, obs_size):
    from envs.gridworld.env import GridWorld

    def build():
        options = {} if view == "occluded" else {view: True}
        return bench_envs.ours("DoorKey-8x8", BATCH, STEPS, **options)

    def patch():
        monkeypatch.setattr(GridWorld, "observe", _shift_by_one(GridWorld.observe))

    _result_moves_with_observation(build, patch, obs_size)


def test_xminigrid_consumes_observations(monkeypatch):
    import xminigrid.environment

    def build():
        return bench_envs.xminigrid_rollout("MiniGrid-DoorKey-8x8", BATCH, STEPS)

    def patch():
        original = xminigrid.environment.transparent_field_of_view
        monkeypatch.setattr(
            xminigrid.environment, "transparent_field_of_view", _shift_by_one(original)
        )

    _result_moves_with_observation(build, patch, 7 * 7 * 2)


def test_navix_consumes_observations(monkeypatch):
    import navix

    def build():
        return bench_envs.navix_rollout("Navix-DoorKey-8x8-v0", BATCH, STEPS)

    def patch():
        make = navix.make

        def make_shifted(*args, **kwargs):
            env = make(*args, **kwargs)
            return env.replace(observation_fn=_shift_by_one(env.observation_fn))

        monkeypatch.setattr(navix, "make", make_shifted)

    _result_moves_with_observation(build, patch, 8 * 8 * 3)


def test_bench_envs_rejects_unknown_task():
    import argparse

    args = argparse.Namespace(tasks=["DoorKey-8x9"], batches=[2], steps=1, repeats=1, no_peers=True)
    with pytest.raises(KeyError, match="DoorKey-8x8"):
        bench_envs.run(args)


# --- PureJaxRL, adapted at the boundary -------------------------------------------------------
TINY_PUREJAXRL = {"NUM_ENVS": 4, "NUM_STEPS": 16, "UPDATE_EPOCHS": 1, "NUM_MINIBATCHES": 1}


def test_purejaxrl_runs_through_the_adapter():
    """PureJaxRL's own ppo.py trains on gymnax 1.0 CartPole, episodes end, nothing leaks."""
    peer_dir = bench_train.resolve_purejaxrl(None)
    # Deliberately a failure, not a skip, so the peer comparison cannot vanish unnoticed.
    assert peer_dir is not None, (
        "PureJaxRL's files not found: put the shared peers next to this checkout "
        f"({bench_train.DEFAULT_PUREJAXRL}) or set ${bench_train.PUREJAXRL_ENV} to the "
        "folder holding purejaxrl/"
    )
    path_before = list(sys.path)
    module = bench_train.load_purejaxrl(peer_dir)
    assert sys.path == path_before
    assert "wrappers" not in sys.modules and "brax" not in sys.modules
    config = dict(bench_train.PUREJAXRL_CONFIG, **TINY_PUREJAXRL, TOTAL_TIMESTEPS=256)
    out = jax.jit(module.make_train(config))(jax.random.PRNGKey(0))
    metrics = out["metrics"]
    assert metrics["returned_episode"].shape == (4, 16, 4)  # updates × steps × envs
    # done = terminated | truncated reaches its LogWrapper: random CartPole episodes end.
    ended = np.asarray(metrics["returned_episode"])
    assert ended.any()
    assert np.all(np.asarray(metrics["returned_episode_returns"])[ended] >= 1)


def test_purejaxrl_found_through_the_environment_variable(monkeypatch, tmp_path):
    (tmp_path / "purejaxrl").mkdir()
    (tmp_path / "purejaxrl" / "ppo.py").write_text("")
    monkeypatch.setattr(bench_train, "DEFAULT_PUREJAXRL", tmp_path / "absent")
    monkeypatch.setenv(bench_train.PUREJAXRL_ENV, str(tmp_path))
    assert bench_train.resolve_purejaxrl(None) == tmp_path.resolve()
    monkeypatch.setenv(bench_train.PUREJAXRL_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="EXPLORE_PUREJAXRL"):
        bench_train.resolve_purejaxrl(None)


def test_cartpole_row_labels_the_recorded_fallback(monkeypatch, tmp_path):
    monkeypatch.delenv(bench_train.PUREJAXRL_ENV, raising=False)
    monkeypatch.setattr(bench_train, "DEFAULT_PUREJAXRL", tmp_path / "absent")
    row = bench_train.cartpole_row(2048, None, config=TINY_PUREJAXRL)
    assert row["peer source"] == bench_train.RECORDED_LABEL
    assert "NOT measured in this run" in row["peer source"]
    assert row["PureJaxRL steps/s"] == bench_train.PUREJAXRL_RECORDED_STEPS_PER_S
    assert row["ours wall s"] > 0 and row["PureJaxRL walls s"] == []


def test_purejaxrl_dir_without_ppo_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="--purejaxrl"):
        bench_train.resolve_purejaxrl(str(tmp_path))


def test_bench_tables_group_rows_by_kind_and_transpose_wide_ones(capsys):
    """One table per kind of row (a row whose fields are a subset of another's joins it);
    a table too wide for the terminal is printed a line per field, a column per row."""
    from explore.commands.bench import print_rows

    cartpole = {"bench": "CartPole", "ours wall s": 27.6, "peer wall s": 28.8}
    rnd = {"bench": "DoorKey ×5", "bonus": "rnd", "cost": 1.15}
    count = {"bench": "DoorKey ×5", "bonus": "count", "cost": 1.02}
    no_cost = {"bench": "DoorKey ×5", "bonus": "e3b"}  # a subset of the bonus rows' fields
    print_rows([cartpole, rnd, count, no_cost])
    out = capsys.readouterr().out
    assert out.count("┏") == 2  # two tables
    header = next(line for line in out.splitlines() if "bonus" in line and "cost" in line)
    assert "ours wall s" not in header  # the CartPole fields stay in their own table

    wide = [{"task": f"Task{i}", **{f"field {j}": float(j) for j in range(30)}} for i in range(2)]
    print_rows(wide, width=120)
    lines = capsys.readouterr().out.splitlines()
    assert any("Task0" in line and "Task1" in line for line in lines)  # tasks head columns
    assert sum("field " in line for line in lines) == 30  # a line per field
