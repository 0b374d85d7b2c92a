"""Run identity includes the code: stale runs through `explore train`, `explore sweep` and
`explore report` (the console script's entry point, as the other CLI tests).

The code fingerprint hashes the package sources under ``explore.runs.SOURCE_ROOT``; these
tests point it at a copy of the sources in a temporary folder and edit that copy, so the
real hashing, comparison and set-aside path runs while the installed code stays untouched.
Every training is the tiny Empty-5x5 program that the other CLI tests compile too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cli_testlib import TINY_TRAIN

import envs
import explore.runs
from explore.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = TINY_TRAIN


@pytest.fixture
def sources(tmp_path, monkeypatch) -> Path:
    """A copy of the package sources that the fingerprint reads (edited by the tests)."""
    copy = tmp_path / "src"
    for package in explore.runs.SOURCE_PACKAGES:
        shutil.copytree(
            ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    monkeypatch.setattr(explore.runs, "SOURCE_ROOT", copy)
    return copy


def edit(path: Path, text: str = "\n# edited\n") -> None:
    path.write_text(path.read_text() + text)


def lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_train_retrains_stale_runs_and_keeps_the_old_ones(sources, tmp_path, capsys):
    out = tmp_path / "runs"
    command = ["train", *TINY, "bonus=count", "seeds=0", f"out={out}", "--no-progress"]
    assert main(command) == 0
    (first,) = [line for line in lines(capsys) if "Empty-5x5" in line]
    assert first.split()[0] == "completed"
    run = out / Path(first.split()[-1]).name
    recorded = json.loads((run / "versions.json").read_text())
    assert len(recorded["fingerprint"]) == 16 and "git_commit" in recorded
    assert recorded["code"]["env"] == "Empty-5x5" and recorded["code"]["env_version"] == 0
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["env"] == "Empty-5x5" and config["env_version"] == 0

    # Unchanged code, or a change to documentation only: reused, and said so.
    (sources / "agents" / "NOTES.md").write_text("# Notes on the agents\n")
    (sources / "envs" / "README.md").write_text("# Environments\n")
    assert main(command) == 0
    assert lines(capsys) == [f"skipped (already complete)  {run}"]

    # A bonus's source edited: stale, trained again, the old run kept aside.
    edit(sources / "agents" / "bonuses" / "counts.py")
    assert main(command) == 0
    out_lines = lines(capsys)
    stale = [line for line in out_lines if line.startswith("stale: made by other code (")]
    assert len(stale) == 1 and "package sources" in stale[0] and run.name in stale[0]
    assert f"completed  {run}" in out_lines
    (aside,) = (out / ".stale").iterdir()
    assert aside.name.startswith(run.name + "@")
    assert json.loads((aside / "status.json").read_text())["status"] == "completed"
    assert json.loads((run / "versions.json").read_text())["fingerprint"] != recorded["fingerprint"]

    # Edited again, with --reuse-stale: named, kept as it is, reported as skipped.
    edit(sources / "envs" / "registry.py")
    assert main([*command, "--reuse-stale"]) == 0
    out_lines = lines(capsys)
    stale = [line for line in out_lines if line.startswith("stale: made by other code (")]
    assert len(stale) == 1 and stale[0].endswith("kept as it is (--reuse-stale)")
    assert out_lines[-1] == f"skipped (already complete)  {run}"
    assert "completed" not in out_lines[-1]
    assert len(list((out / ".stale").iterdir())) == 1


def _spec(path: Path, seeds: str) -> Path:
    base = dict(item.split("=", 1) for item in TINY)
    spec = {"name": "stale", "base": base, "grid": {"bonus": ["count"]}, "seeds": seeds}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_sweep_stale_runs_and_report_refusing_mixed_versions(
    sources, tmp_path, capsys, monkeypatch
):
    sweep_dir = tmp_path / "runs" / "stale"
    one = _spec(tmp_path / "one.yaml", "0")
    sweep = ["sweep", "--dir", str(sweep_dir), "--no-progress"]
    assert main([*sweep[:1], str(one), *sweep[1:]]) == 0
    capsys.readouterr()

    # The env's version is bumped (its dynamics changed); a second seed is added while the
    # first is kept with --reuse-stale: the cell now mixes env versions.
    registered = envs.env_version
    monkeypatch.setattr(
        envs, "env_version", lambda name: 1 if name == "Empty-5x5" else registered(name)
    )
    two = _spec(tmp_path / "two.yaml", "0-1")
    assert main([*sweep[:1], str(two), *sweep[1:], "--reuse-stale"]) == 0
    out = capsys.readouterr().out
    assert "stale: made by other code (env Empty-5x5 v0 → v1)" in out and "kept as it is" in out
    assert "1 completed, 0 failed, 1 skipped (already complete)" in out
    versions = sorted(
        yaml.safe_load((d / "config.yaml").read_text())["env_version"]
        for d in sweep_dir.iterdir()
        if (d / "config.yaml").exists()
    )
    assert versions == [0, 1]

    report = ["report", str(sweep_dir), "--out", str(tmp_path / "rep"), "--reps", "200"]
    assert main(report) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "different env versions (v0: " in err[0] and "--allow-mixed" in err[0]
    assert main([*report, "--allow-mixed"]) == 0
    capsys.readouterr()

    # The code changes: both runs are stale, trained again, and the old ones kept aside.
    edit(sources / "envs" / "gridworld" / "env.py")
    assert main(["sweep", str(two), "--dir", str(sweep_dir), "--dry-run"]) == 0
    assert "2 stale" in capsys.readouterr().out  # the plan says so before anything runs
    assert main([*sweep[:1], str(two), *sweep[1:]]) == 0
    out = capsys.readouterr().out
    assert out.count("stale: made by other code (") == 2 and "package sources" in out
    assert "2 completed" in out and "2 stale (made by other code; trained again)" in out
    assert len(list((sweep_dir / ".stale").iterdir())) == 2
    # One code and one env version again: the report pools them without --allow-mixed, and
    # the .stale folder is not read as runs.
    assert main(report) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "| 2 | 0, 1 | 1 |" in text


@pytest.mark.slow
def test_edited_clone_makes_runs_stale_through_the_console_script(tmp_path):
    """The same, end to end in other processes: a temporary clone of the packages runs
    `python -m explore.cli train`, a bonus's source is edited in the clone, and the run made
    before the edit is trained again (the old one kept aside)."""
    clone = tmp_path / "clone"
    for package in (*explore.runs.SOURCE_PACKAGES, "analysis"):
        shutil.copytree(
            ROOT / package, clone / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    env = {**os.environ, "PYTHONPATH": str(clone)}
    out = tmp_path / "runs"
    command = [sys.executable, "-m", "explore.cli", "train", *TINY, "seeds=0", f"out={out}"]
    command.append("--no-progress")

    def train() -> str:
        done = subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "completed" in train()
    assert train().startswith("skipped (already complete)")
    edit(clone / "agents" / "ppo.py")
    again = train()
    assert again.startswith("stale: made by other code (package sources ")
    assert again.splitlines()[-1].startswith("completed  ")
    assert len(list((out / ".stale").iterdir())) == 1
