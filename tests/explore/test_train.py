"""explore train: run store, resume, failures, config validation, seeds dealt to CPU devices.

The property that defines ``agents.seeds.run_seeds``: a seed's numbers do not depend on how
many seeds run beside it, nor on how they are dealt to devices (padding included). Checked
on the two CPU devices the test session has (tests/conftest.py), in-process and through
``explore train``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pandas as pd
import pytest
import yaml
from cli_testlib import TINY_TRAIN

from agents.seeds import (
    configure_cpu_devices,
    device_count_for,
    makespan,
    run_seeds,
    seed_devices,
)
from explore.cli import main
from explore.config import build_config, load_config, parse_seeds
from explore.train import build, train

TINY = TINY_TRAIN


def tiny(*extra: str):
    return load_config(None, [*TINY, *extra])


def _final_states(runs):
    return [np.load(r.checkpoint_dir / r.checkpoints()[max(r.checkpoints())]["file"]) for r in runs]


def test_run_store_files(tmp_path):
    runs = train(tiny("bonus=count"), [0, 1], tmp_path, progress=False)
    assert len(runs) == 2
    for run in runs:
        assert run.is_complete()
        config = yaml.safe_load((run.path / "config.yaml").read_text())
        assert config["env"] == "Empty-5x5" and config["bonus"] == "count"
        versions = json.loads((run.path / "versions.json").read_text())
        assert "jax" in versions["packages"]
        metrics = pd.read_parquet(run.path / "metrics.parquet")
        assert list(metrics.columns) == ["step", "metric", "value"]
        assert {
            "episode_return",
            "success_rate",
            "intrinsic_reward_mean",
            "steps_per_second",
        } <= set(metrics.metric)
        assert metrics.step.max() == 512
        coverage = np.load(run.path / "coverage.npy", allow_pickle=False)
        assert coverage.shape == (5, 5) and coverage.sum() == 512
        assert not list(run.path.glob("**/*.tmp"))
    # Re-running skips completed runs.
    before = (runs[0].path / "metrics.parquet").stat().st_mtime_ns
    train(tiny("bonus=count"), [0, 1], tmp_path, progress=False)
    assert (runs[0].path / "metrics.parquet").stat().st_mtime_ns == before


def test_resume_is_bit_identical(tmp_path):
    cfg = tiny("bonus=rnd")
    full = train(cfg, [3], tmp_path / "full", progress=False)[0]
    part = train(cfg, [3], tmp_path / "part", progress=False, max_chunks=1)[0]
    assert part.status()["status"] == "running"
    assert part.checkpoint_steps() == 2 * 64
    train(cfg, [3], tmp_path / "part", progress=False)
    assert part.is_complete()
    a, b = _final_states([full, part])
    assert a.files == b.files
    for name in a.files:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    ma = (
        pd.read_parquet(full.path / "metrics.parquet")
        .drop(columns="value")
        .sort_values(["step", "metric"])
    )
    mb = (
        pd.read_parquet(part.path / "metrics.parquet")
        .drop(columns="value")
        .sort_values(["step", "metric"])
    )
    assert ma.reset_index(drop=True).equals(mb.reset_index(drop=True))
    va = (
        pd.read_parquet(full.path / "metrics.parquet")
        .query("metric == 'episode_return'")
        .value.to_numpy()
    )
    vb = (
        pd.read_parquet(part.path / "metrics.parquet")
        .query("metric == 'episode_return'")
        .value.to_numpy()
    )
    np.testing.assert_array_equal(va, vb)


def test_resume_after_kill_between_seed_checkpoints_is_bit_identical(tmp_path):
    """Seeds of one program left one chunk apart resume together, bit-identically."""
    cfg = tiny("bonus=rnd")
    full = train(cfg, [0, 1], tmp_path / "full", progress=False)
    part = train(cfg, [0, 1], tmp_path / "part", progress=False, max_chunks=2)
    # A SIGKILL after seed 0's second checkpoint but before seed 1's: seed 1's meta.json
    # still names its first checkpoint (its second file may or may not be on disk).
    meta_path = part[1].checkpoint_dir / "meta.json"
    meta = json.loads(meta_path.read_text())
    assert meta["updates"] == 4 and meta["previous"]["updates"] == 2
    meta_path.write_text(json.dumps({**meta["previous"], "time": meta["time"], "previous": None}))
    assert set(part[0].checkpoints()) == {2, 4} and set(part[1].checkpoints()) == {2}
    train(cfg, [0, 1], tmp_path / "part", progress=False)
    for a_run, b_run in zip(full, part, strict=True):
        assert b_run.is_complete()
        a, b = _final_states([a_run, b_run])
        assert a.files == b.files
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name], err_msg=f"{b_run.path.name}: {name}")
        va = pd.read_parquet(a_run.path / "metrics.parquet").query("metric == 'episode_return'")
        vb = pd.read_parquet(b_run.path / "metrics.parquet").query("metric == 'episode_return'")
        np.testing.assert_array_equal(va.sort_values("step").value, vb.sort_values("step").value)


def test_failing_run_leaves_failed_status(tmp_path):
    def explode(step, metrics):
        raise RuntimeError(f"boom at step {step}")

    with pytest.raises(RuntimeError):
        train(tiny(), [0], tmp_path, progress=False, on_chunk=explode)
    run = next(tmp_path.iterdir())
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "failed" and "boom" in status["error"]
    assert not list(run.glob("**/*.tmp")) and not list(run.glob("**/.*"))
    # Whatever was written is complete and readable.
    pd.read_parquet(run / "metrics.parquet")


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match=r"unknown field 'lrr'.*lr"):
        load_config(None, ["lrr=1"])
    with pytest.raises(ValueError, match=r"ppo.num_envs"):
        load_config(None, ["ppo.num_envs=0"])
    with pytest.raises(ValueError, match=r"ppo.network"):
        load_config(None, ["ppo.network=transformer"])
    with pytest.raises(ValueError, match=r"total_steps"):
        build_config({"total_steps": "many"})
    with pytest.raises(ValueError, match=r"seeds"):
        parse_seeds("3-1")
    assert parse_seeds("0-2") == [0, 1, 2] and parse_seeds("1,5") == [1, 5]
    assert (
        load_config(None, ["total_steps=5e6", "lr=3e-4", "env.contexts=1"]).total_steps == 5_000_000
    )


def test_cli_reports_bad_names(capsys):
    assert main(["train", "env=DoorKy-8x8"]) == 2
    assert "DoorKey-8x8" in capsys.readouterr().err
    assert main(["train", "bonus=rdn"]) == 2
    assert "rnd" in capsys.readouterr().err


def test_config_hash_ignores_seed():
    a, b = tiny("seed=1"), tiny("seed=2")
    assert a.config_hash() == b.config_hash()
    assert a.config_hash() != tiny("ppo.lr=0.1").config_hash()


def test_cli_accepts_options_between_overrides(tmp_path, monkeypatch):
    """``explore train a=1 --no-progress b=2``: options may sit among the overrides."""
    from explore import cli

    seen = {}

    def fake_func(args):
        seen["overrides"] = args.overrides
        return 0

    parser = cli.build_parser()
    args, _ = parser.parse_known_args(["train", "env=Empty-5x5", "--no-progress", "bonus=count"])
    monkeypatch.setattr(cli, "build_parser", lambda: _with_func(parser, fake_func))
    assert cli.main(["train", "env=Empty-5x5", "--no-progress", "bonus=count", "seeds=0"]) == 0
    assert seen["overrides"] == ["env=Empty-5x5", "bonus=count", "seeds=0"]
    assert args.no_progress


def _with_func(parser, func):
    for action in parser._subparsers._group_actions:
        for sub in action.choices.values():
            sub.set_defaults(func=func)
    return parser


def test_summarise_averages_defined_diagnostics_only():
    from explore.train import summarise

    per_update = {
        "finished": np.array([0, 2]),
        "return_sum": np.array([0.0, 1.0]),
        "length_sum": np.array([0, 30]),
        "success_sum": np.array([0.0, 1.0]),
        "events/tv_intrinsic_ratio": np.array([np.nan, 2.0, 4.0]),
        "events/never_intrinsic_ratio": np.array([np.nan, np.nan]),
        "loss/total": np.array([1.0, 3.0]),
    }
    out = summarise(per_update)
    assert out["episodes"] == 2 and out["success_rate"] == 0.5 and out["episode_length"] == 15
    assert out["events/tv_intrinsic_ratio"] == 3.0  # the NaN update is left out
    assert np.isnan(out["events/never_intrinsic_ratio"])
    assert out["loss/total"] == 2.0


def test_noisy_tv_run_logs_tv_diagnostics(tmp_path):
    (run,) = train(tiny("env.noisy_tv=true", "bonus=count"), [0], tmp_path, progress=False)
    frame = pd.read_parquet(run.path / "metrics.parquet")
    tv = frame[frame.metric == "events/tv_fraction"].value
    assert len(tv) > 0 and ((tv > 0) & (tv < 1)).all()
    assert np.isfinite(frame[frame.metric == "events/tv_intrinsic_ratio"].value).all()


def _leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(tree))]


def test_seeds_dealt_to_devices_match_single_seed_runs():
    assert jax.device_count() == 2, "the test session sets JAX_NUM_CPU_DEVICES=2"
    _, _, _, ppo = build(tiny("bonus=rnd"))
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


def test_device_count_is_the_fewest_that_finish_the_seeds_soonest():
    """An uneven split leaves a core idle: 5 seeds on 2 cores finish in 3 seed-times on 2
    devices (3 + 2 in turn), in 2.5 on 3 (2 + 2 + 1 sharing the cores); an even split needs
    no more devices than cores, and one seed gets one device."""
    assert makespan(5, 2, cores=2) == 3.0 and makespan(5, 3, cores=2) == 2.5
    assert makespan(4, 4, cores=2) == makespan(4, 2, cores=2) == 2.0
    assert makespan(7, 1, cores=2) == 7.0
    expected = {1: 1, 2: 2, 3: 3, 4: 2, 5: 3, 6: 2, 7: 3, 8: 2, 10: 2}
    assert {n: device_count_for(n, cores=2) for n in expected} == expected
    assert device_count_for(5, cores=2, most=2) == 2  # never more devices than there are
    for n in range(1, 13):  # the choice is never slower than one device per core
        chosen = makespan(n, device_count_for(n, cores=4), cores=4)
        assert chosen <= makespan(n, min(n, 4), cores=4) and chosen >= n / 4


def test_configure_cpu_devices_sizes_the_devices_for_the_seeds():
    """In a fresh process (JAX not started, no user count): 5 seeds on 2 cores get 3 devices."""
    env = {k: v for k, v in os.environ.items() if k != "JAX_NUM_CPU_DEVICES"}
    code = (
        "from agents.seeds import configure_cpu_devices, seed_devices; import jax; "
        "print(configure_cpu_devices(2, seeds=5), jax.device_count(), len(seed_devices(5)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["3", "3", "3"]


def test_explore_train_fully_observable_gridworld(tmp_path):
    """Through the console: `env.fully_observable=true` trains on the whole grid (5×5 on
    Empty-5x5 instead of the 7×7 view) and is recorded in the run's config."""
    from explore.runs import RunDir

    args = ["train", *TINY, "env.fully_observable=true", f"out={tmp_path}", "--no-progress"]
    assert main(args) == 0
    [run] = tmp_path.glob("*__s0")
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["env_kwargs"] == {"fully_observable": True}
    assert RunDir(run).is_complete()
    env, params, _, ppo = build(build_config(config))
    assert env.observation_space(params).shape == ppo.obs_space.shape == (5, 5, 3)
    assert main(["train", *TINY, "env.fully_observable=maybe", f"out={tmp_path}/bad"]) == 2
