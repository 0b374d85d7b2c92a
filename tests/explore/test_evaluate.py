"""``explore evaluate`` through the console script: Schelling payoffs, checkpoints, resume, errors."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import yaml

from tests.cli_testlib import EXPLORE

# A 4×4 Coins room and short episodes: compiled and played in seconds.
COINS = {
    "min_width": 4,
    "max_width": 4,
    "min_height": 4,
    "max_height": 4,
    "regrow_rate": 0.05,
    "episode_length": 12,
}
TINY_IPPO = [
    "env=Coins",
    *(f"env.{k}={v}" for k, v in COINS.items()),
    "agent=ippo",
    "total_steps=256",  # agent-steps: 4 updates of 4 envs × 8 steps × 2 agents
    "log_every=2",
    "ippo.num_envs=4",
    "ippo.num_steps=8",
    "ippo.hidden=8",
    "ippo.update_epochs=1",
    "ippo.num_minibatches=2",
    "ippo.joint_action_input=true",  # the policy also reads the background's actions
]


def explore(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EXPLORE, *args], capture_output=True, text=True, timeout=900)


def write_spec(path, scenarios: dict, **top) -> str:
    path.write_text(yaml.safe_dump({"name": "ev", **top, "scenarios": scenarios}))
    return str(path)


def test_scripted_focal_reproduces_schelling_payoffs(tmp_path):
    """Cooperators (focal) with defectors (background) are the Schelling diagram's points:
    focal at k = C(k − 1), background at k = D(k), episode for episode."""
    import envs
    from envs.social.schelling import schelling

    steps, episodes, seeds = 25, 3, 2
    spec = write_spec(
        tmp_path / "spec.yaml",
        {
            "coins": {
                "env": "Coins",
                "env_options": COINS,
                "steps": steps,
                "episodes": episodes,
                "seeds": f"0-{seeds - 1}",
                "focal": {"scripted": "cooperator"},
                "background": {"scripted": "defector"},
                "focal_agents": [1, 2],
            }
        },
    )
    result = explore("evaluate", spec, "--out", str(tmp_path / "out"), "--reps", "200")
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads((tmp_path / "out" / "ev" / "coins.json").read_text())
    focal = np.asarray(record["samples"]["focal"], float)  # [seed, k, episode]
    background = np.asarray(record["samples"]["background"], float)

    env, params = envs.make("Coins", **COINS)
    diagram = schelling(env, params, steps, episodes, seeds=seeds, seed=0)
    for i, k in enumerate([1, 2]):
        np.testing.assert_allclose(focal[:, i].ravel(), diagram.cooperator[k - 1], rtol=1e-6)
    np.testing.assert_allclose(background[:, 0].ravel(), diagram.defector[1], rtol=1e-6)
    assert np.isnan(background[:, 1]).all()  # k = N: no background agents
    rows = {r["focal_agents"]: r for r in record["rows"]}
    schelling_rows = diagram.rows()
    assert rows[1]["focal"] == pytest.approx(schelling_rows[0]["cooperator"])
    assert rows[2]["focal"] == pytest.approx(schelling_rows[1]["cooperator"])
    assert rows[1]["background"] == pytest.approx(schelling_rows[1]["defector"])
    assert rows[2]["background"] is None
    assert rows[1]["focal_lo"] <= rows[1]["focal"] <= rows[1]["focal_hi"]
    csv_lines = (tmp_path / "out" / "ev" / "coins.csv").read_text().splitlines()
    assert csv_lines[0].startswith("scenario,env,agents,focal_agents,focal") and len(csv_lines) == 3


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """Two seeds of a tiny IPPO run on Coins, trained through the console script."""
    out = tmp_path_factory.mktemp("evaluate_runs")
    result = explore("train", *TINY_IPPO, "seeds=0-1", f"out={out}", "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    return out


def checkpoint_scenario(**changes) -> dict:
    scenario = {
        "env": "Coins",
        "env_options": COINS,
        "steps": 12,
        "episodes": 2,
        "seeds": "0-1",
        "focal": {"runs": "Coins__none__*"},
        "background": {"scripted": "defector"},
        "focal_agents": [1, 2],
    }
    return {**scenario, **changes}


def test_checkpoint_focal_runs_and_resumes(tiny_runs, tmp_path):
    spec = write_spec(
        tmp_path / "spec.yaml", {"ippo_vs_defector": checkpoint_scenario()}, runs=str(tiny_runs)
    )
    out = tmp_path / "out"
    first = explore("evaluate", spec, "--out", str(out), "--reps", "200")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "1 scenarios run" in first.stdout and "ippo_vs_defector" in first.stdout
    path = out / "ev" / "ippo_vs_defector.json"
    record = json.loads(path.read_text())
    members = record["members"]["focal"]
    assert len(members) == 2 and all(len(m["sha256"]) == 16 for m in members)
    assert [r["focal_agents"] for r in record["rows"]] == [1, 2]
    assert all(np.isfinite(r["focal"]) for r in record["rows"])
    assert record["rows"][0]["background"] is not None and record["rows"][1]["background"] is None
    assert (out / "ev" / "evaluation.csv").is_file()
    before = path.stat().st_mtime_ns

    again = explore("evaluate", spec, "--out", str(out), "--reps", "200")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "done before, skipped" in again.stdout and "0 scenarios run, 1 skipped" in again.stdout
    assert path.stat().st_mtime_ns == before  # not rewritten
    assert "ippo_vs_defector" in again.stdout  # the table still lists it


def test_changed_scenario_or_checkpoint_changes_the_fingerprint(tiny_runs, tmp_path):
    from explore.evaluate import fingerprint, member_identity, parse_spec

    def digest(scenario: dict, runs=tiny_runs) -> str:
        spec = parse_spec({"scenarios": {"s": scenario}}, runs=runs)
        s = spec.scenarios[0]
        identities = {
            "focal": [member_identity(m) for m in s.focal],
            "background": [member_identity(m) for m in s.background],
        }
        return fingerprint(s, identities, 1)

    base = digest(checkpoint_scenario())
    assert digest(checkpoint_scenario()) == base
    assert digest(checkpoint_scenario(episodes=3)) != base
    assert digest(checkpoint_scenario(background={"scripted": "cooperator"})) != base
    assert digest(checkpoint_scenario(focal={"runs": "Coins__none__*s0"})) != base
    # The bots' options and source are part of a scenario with bots.
    spec = parse_spec({"scenarios": {"s": checkpoint_scenario()}}, runs=tiny_runs)
    s = spec.scenarios[0]
    identities = {"focal": [member_identity(m) for m in s.focal], "background": [{}]}
    with_bots = fingerprint(s, identities, 1, {"options": {}, "source": "a"})
    assert with_bots != fingerprint(s, identities, 1, {"options": {}, "source": "b"})


def test_misspelt_scenario_field_exits_2_with_one_line(tiny_runs, tmp_path):
    spec = write_spec(
        tmp_path / "spec.yaml", {"bad": checkpoint_scenario(episods=3)}, runs=str(tiny_runs)
    )
    result = explore("evaluate", spec, "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "scenarios.bad: unknown field 'episods'. Did you mean: episodes" in lines[0]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"background": {"scripted": "defecter"}},
            "unknown bot 'defecter'. Did you mean: defector?",
        ),
        ({"focal": {"runs": "Coins__nne__*"}}, "focal.runs: no run directory matches"),
        ({"focal_agents": [3]}, "focal_agents: 3 > the env's 2 agents"),
        ({"bot_options": {"kep": 3}}, "bot_options: policy option 'kep': unknown for Coins"),
        (
            {"env_options": {"regrow_rat": 0.1}},
            "env_options: Unknown option of Coins 'regrow_rat'. Did you mean: regrow_rate?",
        ),
    ],
)
def test_bad_scenario_values_exit_2_with_one_line(tiny_runs, tmp_path, capsys, change, expected):
    """The same errors in-process (the console script's path is the test above)."""
    from explore.cli import main

    spec = write_spec(
        tmp_path / "spec.yaml", {"bad": checkpoint_scenario(**change)}, runs=str(tiny_runs)
    )
    assert main(["evaluate", spec, "--out", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "scenarios.bad" in lines[0], lines
