"""explore train: run store, resume, failures, config validation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from explore.cli import main
from explore.config import build_config, load_config, parse_seeds
from explore.train import train

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
    """Seeds of one vmapped program left one chunk apart resume together, bit-identically."""
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
