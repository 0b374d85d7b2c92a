"""The contract checks (``explore check``) over every registered env (every registered
bonus: tests/bonuses/test_bonus_contract.py), the doors that follow an env's kind, and the
five worked examples of docs/extending.md run as a user runs them: ``explore check`` and a
tiny ``explore train`` through the console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from cli_testlib import EXPLORE, TINY_ANY_ENV

import envs
from envs.check import ContractError, check_env, required_info
from envs.registry import _REGISTRY

ROOT = Path(__file__).resolve().parents[2]
TINY = [*TINY_ANY_ENV, "--no-progress"]


@pytest.mark.parametrize("name", envs.registered())
def test_every_registered_env_passes_the_contract(name):
    """Spaces, traced shapes and info keys, a jitted vmapped rollout (final observations,
    determinism) and the kind's door. The gridworld planner runs in test_gridworld_tasks
    over more layouts, so it is skipped here."""
    done = dict(check_env(name, skip=("solvable",)))
    assert {"spaces", "shapes", "rollout", "door"} <= set(done), done


def test_required_info_names_shapes_and_dtypes():
    obs = np.zeros((2, 5), np.float32)
    keys = required_info("multi-agent", obs, 2)
    assert keys["event"][:2] == ((2,), "int32")
    assert keys["success"][:2] == ((), "bool")
    assert keys["final_observation"][:2] == ((2, 5), "float32")


@pytest.fixture
def scratch_registry():
    """Registrations made in a test are removed afterwards (other tests list registered())."""
    before = set(_REGISTRY)
    ids = set(gymnasium.registry)
    yield
    for name in set(_REGISTRY) - before:
        del _REGISTRY[name]
    for env_id in set(gymnasium.registry) - ids:
        del gymnasium.registry[env_id]


def test_door_ids_follow_kind_and_version(scratch_registry):
    from envs.gridworld import register_task
    from envs.gridworld.tasks import TASKS

    cls, kwargs = TASKS["Empty-5x5"]
    register_task("Scratch-Empty", cls(**kwargs), version=3)
    assert "explore/Scratch-Empty-v3" in gymnasium.registry
    door = gymnasium.make("explore/Scratch-Empty-v3", disable_env_checker=True)
    obs, _ = door.reset(seed=0)
    assert obs.shape == (7, 7, 3) and envs.env_version("Scratch-Empty") == 3
    assert envs.spec("Scratch-Empty").kind == "gridworld"
    # Existing ids keep their -v0 where the version is 0; multi-agent envs have none.
    assert "explore/DoorKey-8x8-v0" in gymnasium.registry
    assert envs.spec("Coins").gymnasium_id is None
    with pytest.raises(ValueError, match="already registered"):
        register_task("Scratch-Empty", cls(**kwargs))
    with pytest.raises(ValueError, match=r"unknown kind 'gridwrld'.*gridworld"):
        envs.register("Scratch-Bad", lambda: None, kind="gridwrld")


def test_the_pettingzoo_door_takes_any_multi_agent_env(scratch_registry):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import two_agents  # noqa: F401  (registers Meet)
    finally:
        sys.path.remove(str(ROOT / "examples"))
    from envs.pettingzoo import BatchedParallelEnv, parallel_env

    door = parallel_env("Meet")
    observations, _ = door.reset(seed=0)
    assert door.possible_agents == ["player_0", "player_1"]
    assert observations["player_0"].shape == (12,)
    _, rewards, *_ = door.step({"player_0": 2, "player_1": 0})
    assert set(rewards) == {"player_0", "player_1"}
    batch = BatchedParallelEnv("Meet", batch_size=3)
    assert batch.reset().shape == (3, 2, 12)
    with pytest.raises(ValueError, match="not a multi-agent environment"):
        parallel_env("Empty-5x5")
    sys.modules.pop("two_agents", None)


def test_describe_reads_counts_from_the_env():
    assert envs.describe("Coins")["agents"] == 2
    assert envs.describe("DeepSeaTreasure")["objectives"] == 2
    info = envs.describe("DoorKey-5x5")
    assert info["kind"] == "gridworld" and info["description"]


def test_an_env_missing_an_info_key_fails_in_one_line():
    from envs.gridworld.env import GridWorld

    env, params = envs.make("Empty-5x5")

    class NoEvent(GridWorld):
        def step_env(self, key, state, action, params):
            *out, info = super().step_env(key, state, action, params)
            return (*out, {k: v for k, v in info.items() if k != "event"})

    broken = NoEvent(env.task, name="Empty-5x5")
    with pytest.raises(ContractError) as err:
        check_env("Empty-5x5", cheap=True, env=(broken, params))
    message = str(err.value)
    assert "missing the key 'event'" in message and "int32[]" in message
    assert message.endswith("(see docs/extending.md)") and "\n" not in message


# ------------------------------------------------------------------ the worked examples
EXAMPLES = {
    "corridor_task.py": (["env=Corridor-9"], ["env=Corridor-9"]),
    "two_ends.py": (["env=TwoEnds"], ["env=TwoEnds"]),
    "two_objectives.py": (["env=TwoEnds-MO"], ["env=TwoEnds-MO", "agent=mo_ppo"]),
    "two_agents.py": (["env=Meet"], ["env=Meet", "agent=ippo"]),
    "change_bonus.py": (["bonus=obs_change"], ["env=Empty-5x5", "bonus=obs_change"]),
    # An agent, not an env or a bonus: `explore check` has nothing to check; it trains, and
    # its settings and listings are tested, in tests/explore/test_plugins_agents.py.
    "grid_ppo.py": None,
}


def explore(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "400"}
    env.pop("EXPLORE_PLUGINS", None)
    return subprocess.run(
        [EXPLORE, *args], cwd=cwd, capture_output=True, text=True, timeout=900, env=env
    )


def test_every_example_is_covered():
    assert sorted(EXAMPLES) == sorted(p.name for p in (ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("example", sorted(k for k, v in EXAMPLES.items() if v is not None))
def test_example_checks_and_trains(example, tmp_path):
    """As docs/extending.md runs it: ``explore check`` then a tiny ``explore train``."""
    check_targets, train_args = EXAMPLES[example]
    module = str(ROOT / "examples" / example)
    check = explore("check", *check_targets, "--import", module, cwd=tmp_path)
    assert check.returncode == 0, check.stderr[-3000:]
    assert "checks passed" in check.stdout
    train = explore("train", *train_args, *TINY, "out=runs", "--import", module, cwd=tmp_path)
    assert train.returncode == 0, train.stderr[-3000:]
    assert "completed" in train.stdout


def test_check_names_a_bad_target_in_one_line(capsys):
    from explore.cli import main

    assert main(["check"]) == 2
    assert main(["check", "evn=Empty-5x5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "explore check: error: name what to check: env=NAME and/or bonus=SPEC"
    assert err[1].startswith("explore check: error: unknown target 'evn'. Did you mean: env?")
