"""A user's package outside the repository registers an env and a bonus, and every command
loads it: ``explore check``, ``train``, ``sweep --launcher pool`` and ``report`` through the
console script (``--import``, the ``imports:`` config field, ``$EXPLORE_PLUGINS`` and the
``explore.plugins`` entry-point group); a plugin that fails to load is one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from cli_testlib import EXPLORE, TINY_ANY_ENV

TINY = TINY_ANY_ENV

ENV_MODULE = '''
"""A user's env: a corridor whose right end pays 1."""
import jax
import jax.numpy as jnp
from flax import struct

import envs
from envs.core import Environment, EnvParams
from envs.spaces import Box, Discrete


@struct.dataclass
class State:
    pos: jax.Array
    t: jax.Array


class Plugged(Environment):
    def __init__(self, length=5, drop_key=None):
        self.length, self.drop_key = length, drop_key

    @property
    def default_params(self):
        return EnvParams(max_steps_in_episode=12)

    def observation_space(self, params=None):
        return Box(0.0, 1.0, (self.length,), jnp.float32)

    def action_space(self, params=None):
        return Discrete(2)

    def reset_env(self, key, params):
        state = State(pos=jnp.int32(1), t=jnp.int32(0))
        return jax.nn.one_hot(state.pos, self.length), state

    def step_env(self, key, state, action, params):
        pos = jnp.clip(state.pos + 2 * action - 1, 0, self.length - 1).astype(jnp.int32)
        t = state.t + 1
        done = pos == self.length - 1
        info = {"success": done, "event": jnp.zeros((), jnp.int32)}
        info.pop(self.drop_key, None)
        obs = jax.nn.one_hot(pos, self.length)
        reward = done.astype(jnp.float32)
        return obs, State(pos=pos, t=t), reward, done, (t >= params.max_steps_in_episode) & ~done, info


def make(length=5):
    env = Plugged(length)
    return env, env.default_params


def make_broken(length=5):
    env = Plugged(length, drop_key="success")
    return env, env.default_params


envs.register("Plugged", make, description="a user's corridor")
envs.register("Plugged-Broken", make_broken)
'''

BONUS_MODULE = '''
"""A user's bonus: 1 on every step where the observation changes."""
import jax.numpy as jnp

from agents.bonuses import register
from agents.bonuses.base import Bonus, EmptyState


class Plugged(Bonus):
    name = "plugged_bonus"

    def __init__(self, scale: float = 1.0, per_env: bool = True):
        self.scale, self.per_env = scale, per_env

    def init(self, key, obs_space, action_space, num_envs):
        return EmptyState(step=jnp.zeros((), jnp.int32))

    def reward(self, state, batch):
        changed = (jnp.asarray(batch.obs) != jnp.asarray(batch.next_obs)).any(
            axis=tuple(range(2, batch.obs.ndim))
        )
        r = self.scale * changed.astype(jnp.float32)
        return r if self.per_env else r[:, 0]  # per_env=False breaks the contract

    def update(self, state, batch):
        return state.replace(step=state.step + 1), {}


register("plugged_bonus", Plugged)
'''


@pytest.fixture
def user(tmp_path: Path) -> Path:
    """A directory outside the repository holding the user's package ``my_pkg``."""
    root = tmp_path / "user"
    package = root / "my_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "my_envs.py").write_text(textwrap.dedent(ENV_MODULE))
    (package / "my_bonus.py").write_text(textwrap.dedent(BONUS_MODULE))
    (package / "bad.py").write_text("import not_a_module_anywhere\n")
    return root


def explore(*args: str, cwd: Path, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """The installed console script, run in ``cwd`` (the user's directory)."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "400"}
    env.pop("EXPLORE_PLUGINS", None)
    env.update(extra_env or {})
    return subprocess.run(
        [EXPLORE, *args], cwd=cwd, capture_output=True, text=True, timeout=900, env=env
    )


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    return proc.stdout


IMPORTS = ["--import", "my_pkg.my_envs", "--import", "my_pkg.my_bonus"]


def test_a_user_package_through_check_train_sweep_and_report(user):
    out = ok(explore("check", "env=Plugged", "bonus=plugged_bonus", *IMPORTS, cwd=user))
    assert "env Plugged: 4 checks passed" in out and "bonus plugged_bonus:" in out

    ok(
        explore(
            "train",
            "env=Plugged",
            "bonus=plugged_bonus",
            *IMPORTS,
            *TINY,
            "out=runs",
            "--no-progress",
            cwd=user,
        )
    )
    (config,) = (user / "runs").glob("*/config.yaml")
    recorded = yaml.safe_load(config.read_text())["plugins"]
    assert recorded == {
        "my_pkg.my_envs": str((user / "my_pkg" / "my_envs.py").resolve()),
        "my_pkg.my_bonus": str((user / "my_pkg" / "my_bonus.py").resolve()),
    }

    # A sweep records its plugins as a config field; pool workers load them from it.
    base = {"imports": ["my_pkg.my_envs", "my_pkg.my_bonus"], "env": "Plugged"}
    base.update(dict(item.split("=") for item in TINY))
    spec = {"name": "plugged", "base": base, "grid": {"bonus": ["none", "plugged_bonus"]}}
    spec["seeds"] = "0-1"  # report needs two seeds for its intervals
    (user / "plugged.yaml").write_text(yaml.safe_dump(spec))
    sweep = ok(
        explore(
            "sweep",
            "plugged.yaml",
            "--launcher",
            "pool",
            "--workers",
            "1",
            "--no-progress",
            cwd=user,
        )
    )
    assert "4 completed, 0 failed" in sweep, sweep
    configs = list((user / "runs" / "plugged").glob("*/config.yaml"))
    assert len(configs) == 4
    for path in configs:
        assert yaml.safe_load(path.read_text())["imports"] == base["imports"]
    report = ok(explore("report", "runs/plugged", cwd=user))
    assert "plugged_bonus" in report

    # Reporting reads run files only: runs whose recorded plugins cannot be imported any
    # more (the package moved) still report, and the same.
    (user / "my_pkg").rename(user / "moved_away")
    again = ok(explore("report", "runs/plugged", "--out", "report-again", cwd=user))
    assert again.replace("report-again", "report") == report
    assert (user / "report-again" / "report.md").is_file()


@pytest.mark.slow  # Ray's start-up makes this ~50 s on a 2-core machine
def test_ray_workers_load_the_plugins(user):
    """``--launcher ray``: each Ray worker loads the parent's ``--import`` modules and the
    ``$EXPLORE_PLUGINS`` ones before it runs a task."""
    base = {"env": "Plugged", **dict(item.split("=") for item in TINY)}
    spec = {"name": "on_ray", "base": base, "grid": {"bonus": ["plugged_bonus"]}, "seeds": "0"}
    (user / "on_ray.yaml").write_text(yaml.safe_dump(spec))
    sweep = ok(
        explore(
            "sweep",
            "on_ray.yaml",
            "--launcher",
            "ray",
            "--address",
            "local",
            "--workers",
            "1",
            "--no-progress",
            "--import",
            "my_pkg.my_bonus",
            cwd=user,
            extra_env={"EXPLORE_PLUGINS": "my_pkg.my_envs"},
        )
    )
    assert "1 completed, 0 failed" in sweep, sweep
    (config,) = (user / "runs" / "on_ray").glob("*/config.yaml")
    assert set(yaml.safe_load(config.read_text())["plugins"]) == {
        "my_pkg.my_envs",
        "my_pkg.my_bonus",
    }


def test_environment_variable_and_entry_point_load_plugins(user, tmp_path):
    via_env = explore(
        "check", "env=Plugged", "--cheap", cwd=user, extra_env={"EXPLORE_PLUGINS": "my_pkg.my_envs"}
    )
    assert "env Plugged: 2 checks passed" in ok(via_env)
    # An installed distribution declaring the entry point (what pip writes for
    # [project.entry-points."explore.plugins"] in the user's pyproject.toml).
    dist = user / "my_pkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-pkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[explore.plugins]\nenvs = my_pkg.my_envs\n")
    via_entry_point = explore(
        "check", "env=Plugged", "--cheap", cwd=tmp_path, extra_env={"PYTHONPATH": str(user)}
    )
    assert "env Plugged: 2 checks passed" in ok(via_entry_point)


def test_a_plugin_that_fails_to_load_is_one_line(user):
    proc = explore("train", "env=Plugged", "--import", "my_pkg.bad", cwd=user)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("explore train: error: plugin 'my_pkg.bad' (--import) failed")
    assert "not_a_module_anywhere" in lines[0]
    debug = explore("train", "env=Plugged", "--import", "my_pkg.bad", "--debug", cwd=user)
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_a_broken_user_env_fails_before_training_in_one_line(user):
    proc = explore(
        "train", "env=Plugged-Broken", "--import", "my_pkg.my_envs", *TINY, "out=runs", cwd=user
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "missing the key 'success'" in lines[0] and "bool[]" in lines[0]
    assert "docs/extending.md" in lines[0]
    assert not (user / "runs").exists()  # nothing was created
    debug = explore(
        "check", "env=Plugged-Broken", "--import", "my_pkg.my_envs", "--debug", cwd=user
    )
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_a_broken_user_bonus_fails_check_in_one_line(user):
    proc = explore(
        "check", "bonus=plugged_bonus(per_env=false)", "--import", "my_pkg.my_bonus", cwd=user
    )
    assert proc.returncode == 2, proc.stdout[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("explore check: error: bonus plugged_bonus(per_env=false): ")
    assert "expected float32" in lines[0] and "docs/extending.md" in lines[0]
