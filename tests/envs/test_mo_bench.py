"""``explore bench mo``: the timed function consumes observations and reward vectors; the CLI."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import pytest

from envs.multiobjective.deep_sea_treasure import DeepSeaTreasure
from explore.bench import mo as bench_mo
from explore.cli import main

BATCH, STEPS = 2, 3
KEY = jax.random.PRNGKey(1)


def _total() -> float:
    return float(bench_mo.ours("DeepSeaTreasure", BATCH, STEPS)(KEY))


def test_ours_consumes_observations_and_reward_vectors(monkeypatch):
    before = _total()
    observe, step_env = DeepSeaTreasure._observe, DeepSeaTreasure.step_env

    def more_reward(self, *args):
        obs, state, reward, *rest = step_env(self, *args)
        return (obs, state, reward + jnp.float32(100.0), *rest)

    # Observations + 1 per entry, rewards + 100 per entry: the trajectory is the same, and
    # the result moves by both amounts (one compile for both checks).
    monkeypatch.setattr(DeepSeaTreasure, "_observe", lambda self, pos: observe(self, pos) + 1)
    monkeypatch.setattr(DeepSeaTreasure, "step_env", more_reward)
    obs_entries = (STEPS + 1) * BATCH * 2  # the reset's observations and one per step
    reward_entries = STEPS * BATCH * 2
    assert _total() - before == pytest.approx(obs_entries + 100 * reward_entries, abs=0.05)


def test_bench_mo_runs_through_the_cli(tmp_path, capsys):
    out = tmp_path / "rows.json"
    args = ["bench", "mo", "--batch", "4", "--steps", "3", "--peer-steps", "2", "--repeats", "1"]
    assert main([*args, "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert row["task"] == "DeepSeaTreasure" and row["batch"] == 4
    for column in ("ours steps/s", "ours (door) steps/s", "mo-gymnasium steps/s"):
        assert row[column] > 0
    assert row["ours / mo-gymnasium"] == row["ours steps/s"] / row["mo-gymnasium steps/s"]


def test_bench_mo_rejects_unknown_task(capsys):
    assert main(["bench", "mo", "--tasks", "DeepSeaTresure"]) == 2
    assert "Did you mean: DeepSeaTreasure" in capsys.readouterr().err
