"""IPPO through the `explore` console script: train, report, bad input; bit-identical resume."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from explore.config import load_config
from explore.runs import RunDir
from explore.train import train

EXPLORE = str(Path(sys.executable).parent / "explore")
TINY = [
    "env=Coins",
    "env.min_width=4",
    "env.max_width=4",
    "env.min_height=4",
    "env.max_height=4",
    "env.regrow_rate=0.05",
    "env.episode_length=12",
    "agent=ippo",
    "bonus=inequity_aversion",
    "total_steps=256",  # agent-steps: 4 updates of 4 envs × 8 steps × 2 agents
    "log_every=2",
    "ippo.num_envs=4",
    "ippo.num_steps=8",
    "ippo.hidden=8",
    "ippo.update_epochs=1",
    "ippo.num_minibatches=2",
]


def explore(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EXPLORE, *args], capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory) -> list[RunDir]:
    out = tmp_path_factory.mktemp("ippo_cli")
    result = explore("train", *TINY, "seeds=0-1", f"out={out}", "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    cfg = load_config(None, TINY)
    return [RunDir.for_config(out, cfg.model_copy(update={"seed": s})) for s in (0, 1)]


def test_train_writes_runs_that_report_reads(cli_runs):
    for run in cli_runs:
        assert run.is_complete()
        config = yaml.safe_load((run.path / "config.yaml").read_text())
        assert config["agent"] == "ippo" and config["ippo"]["share"] is True
        assert config["bonus"] == "inequity_aversion"
        # The utility settings the bonus brings, resolved into the run's config.yaml.
        assert config["ippo"]["int_coef"] == config["ippo"]["ext_coef"] == 1.0
        assert config["ippo"]["normalize_int_reward"] is False
        assert config["ippo"]["int_episodic"] is True
        metrics = pd.read_parquet(run.path / "metrics.parquet")
        assert metrics.step.max() == 256
        names = set(metrics.metric)
        assert {"episode_return", "episode_group_return", "intrinsic_reward_mean"} <= names
        assert {"social/efficiency", "social/equality", "social/coins_own/1"} <= names
        # The inequity penalty is never positive.
        r_int = metrics[metrics.metric == "intrinsic_reward_mean"].value
        assert (r_int <= 0).all()
    root = cli_runs[0].path.parent
    report = explore(
        "report",
        str(root),
        "--out",
        str(root / "report"),
        "--score",
        "episode_group_return",
        "--reps",
        "200",
    )
    assert report.returncode == 0, report.stderr[-2000:]
    # The social outcomes over training, beside the return: a figure and the table's final
    # medians, read back from the runs' own logs.
    text = (root / "report" / "report.md").read_text()
    assert "## Social outcomes over training" in text
    assert (root / "report" / "figures" / "social_Coins.png").exists()
    for metric, label in [("social/equality", "equality"), ("social/peace", "peace")]:
        finals = []
        for run in cli_runs:
            m = pd.read_parquet(run.path / "metrics.parquet")
            values = m[m.metric == metric].sort_values("step").value.dropna().to_numpy()
            finals.append(values[-1])
        row = f"| {label} | 2 |"
        assert row in text, label
        line = next(x for x in text.splitlines() if row in x)
        assert f"→ {np.median(finals):.3g} [{min(finals):.3g}, {max(finals):.3g}]" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["env=Empty-5x5", "agent=ippo"], "agent=ppo"),
        (["env=Coins", "agent=ppo"], "agent=ippo"),
        (["env=Empty-5x5", "bonus=inequity_aversion"], "agent=ippo"),
        (["env=Empty-5x5", "bonus=social_influence"], "agent=ippo"),
    ],
)
def test_wrong_agent_or_social_bonus_is_a_one_line_error(tmp_path, args, expected):
    result = explore("train", *args, f"out={tmp_path}", "--no-progress")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())  # refused before any run directory is made


def test_resume_after_one_chunk_is_bit_identical(cli_runs, tmp_path):
    cfg = load_config(None, TINY)
    part = train(cfg, [0, 1], tmp_path, progress=False, max_chunks=1)
    assert all(r.status()["status"] == "running" for r in part)
    assert part[0].checkpoint_steps() == 2 * 64
    train(cfg, [0, 1], tmp_path, progress=False)
    for full, resumed in zip(cli_runs, part, strict=True):
        assert resumed.is_complete()
        a = np.load(full.checkpoint_dir / full.checkpoints()[max(full.checkpoints())]["file"])
        b = np.load(
            resumed.checkpoint_dir / resumed.checkpoints()[max(resumed.checkpoints())]["file"]
        )
        assert a.files == b.files
        for name in a.files:  # network, optimiser, env, inequity-aversion state: all of it
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        ma = pd.read_parquet(full.path / "metrics.parquet").query("metric != 'steps_per_second'")
        mb = pd.read_parquet(resumed.path / "metrics.parquet").query("metric != 'steps_per_second'")
        key = ["step", "metric"]
        ma, mb = (
            ma.sort_values(key).reset_index(drop=True),
            mb.sort_values(key).reset_index(drop=True),
        )
        pd.testing.assert_frame_equal(ma, mb)
