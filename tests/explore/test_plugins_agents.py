"""Agents register like envs and bonuses: ``agents.register(name, runner, config)`` from a
user's module, loaded as a plugin. The worked example (examples/grid_ppo.py) trains through
the console script, its settings section is validated with one-line errors, and it is
listed wherever agents are (``--help``, ``explore envs``, close matches); the contract is
checked when an agent registers."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from cli_testlib import EXPLORE, TINY_ANY_ENV
from pydantic import Field

import agents
from agents.configs import AGENTS, PPOConfig
from explore.config import build_config, field_help, run_config_class

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "grid_ppo.py")


@pytest.fixture
def scratch_agents():
    """Agents registered in a test are removed afterwards (other tests list the registry)."""
    before = dict(AGENTS)
    yield
    AGENTS.clear()
    AGENTS.update(before)


class ToyConfig(PPOConfig):
    """A plugin agent's settings: PPO's plus one field."""

    toy_width: int = Field(3, ge=1, description="a field of the toy agent")


def _ppo():
    from agents.ppo import PPO

    class Toy(PPO):
        """A toy agent: PPO under another name."""

    return Toy


def test_a_registered_agent_gets_its_own_settings_section(scratch_agents):
    agents.register("toy", _ppo(), ToyConfig)
    assert "toy" in agents.registered() and AGENTS["toy"].section == "toy"
    assert AGENTS["toy"].help == "A toy agent: PPO under another name."
    schema = run_config_class()
    assert "toy" in schema.model_fields
    cfg = build_config({"agent": "toy", "toy": {"toy_width": 5, "lr": 3e-4}})
    assert cfg.agent_settings.toy_width == 5 and cfg.agent_settings.lr == 3e-4
    dumped = cfg.model_dump(mode="json")
    assert dumped["toy"]["toy_width"] == 5 and "ppo" not in dumped
    assert build_config(dumped) == cfg  # config.yaml round trip
    rows = {name: default for name, default, _ in field_help("toy")}
    assert rows["toy.toy_width"] == "3"
    agent_row = next(doc for name, _, doc in field_help() if name == "agent")
    assert "toy" in agent_row
    with pytest.raises(ValueError, match=r"field 'toy.toy_width': .*greater than or equal to 1"):
        build_config({"agent": "toy", "toy": {"toy_width": 0}})
    with pytest.raises(ValueError, match=r"toy.\* settings given, but agent=ppo reads ppo"):
        build_config({"agent": "ppo", "toy": {"toy_width": 2}})
    with pytest.raises(ValueError, match=r"Unknown agent 'tyo'\. Did you mean: toy"):
        build_config({"agent": "tyo"})
    # The same entry again (a module imported twice) is no error.
    agents.register("toy", AGENTS["toy"].runner, ToyConfig)


def test_no_section_can_shadow_a_run_field():
    from agents.configs import RESERVED_SECTIONS
    from explore.config import _RunFields

    assert set(_RunFields.model_fields) <= RESERVED_SECTIONS


def test_the_agent_contract_is_checked_when_registering(scratch_agents):
    toy = _ppo()
    with pytest.raises(TypeError, match=re.escape("runner must be a subclass of agents.ppo.PPO")):
        agents.register("toy", object, ToyConfig)
    with pytest.raises(
        TypeError, match=re.escape("config must be agents.configs.PPOConfig or a subclass")
    ):
        agents.register("toy", toy, dict)
    with pytest.raises(ValueError, match="agent name 'my agent'"):
        agents.register("my agent", toy)
    with pytest.raises(ValueError, match="section 'env' must be a Python identifier other than"):
        agents.register("toy", toy, section="env")
    with pytest.raises(
        ValueError, match=re.escape("runner 'agents.ppo.PPO' is not 'module:Class'")
    ):
        agents.register("toy", "agents.ppo.PPO")
    with pytest.raises(ValueError, match="agent 'ppo' is already registered"):
        agents.register("ppo", toy)
    with pytest.raises(ValueError, match="section 'ppo' is already used by ppo"):
        agents.register("toy", toy, ToyConfig, section="ppo")
    assert "toy" not in AGENTS  # a refused agent leaves nothing behind
    # A "module:Class" runner is checked when first used.
    agents.register("lazy", "agents.configs:PPOConfig")
    from agents.configs import runner_class

    with pytest.raises(TypeError, match=re.escape("runner must be a subclass of agents.ppo.PPO")):
        runner_class("lazy")


def test_explore_envs_lists_a_plugin_agent_where_it_accepts(scratch_agents):
    from explore.commands.envs import accepting_agents

    spec = importlib.util.spec_from_file_location("grid_ppo_example", EXAMPLE)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    import envs

    grid, _ = envs.make("Empty-5x5")
    assert accepting_agents(grid) == ["ppo", "grid_ppo"]
    assert "grid_ppo" not in accepting_agents(envs.make("DeepSeaTreasure")[0])


def explore(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The installed console script, run in ``cwd`` (outside the repository)."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "400"}
    env.pop("EXPLORE_PLUGINS", None)
    return subprocess.run(
        [EXPLORE, *args], cwd=cwd, capture_output=True, text=True, timeout=900, env=env
    )


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_a_plugin_agent_trains_through_the_console_script(tmp_path):
    """As docs/extending.md runs it; bare fields (``num_envs=2``) address its section."""
    train = explore(
        "train",
        "agent=grid_ppo",
        "env=Empty-5x5",
        "grid_ppo.lr_ref_envs=4",
        *TINY_ANY_ENV,
        "out=runs",
        "--no-progress",
        "--import",
        EXAMPLE,
        cwd=tmp_path,
    )
    assert train.returncode == 0, train.stderr[-3000:]
    assert "completed" in train.stdout
    (path,) = (tmp_path / "runs").glob("*/config.yaml")
    config = yaml.safe_load(path.read_text())
    assert config["agent"] == "grid_ppo" and config["plugins"] == {"grid_ppo": EXAMPLE}
    assert config["grid_ppo"]["lr_ref_envs"] == 4 and config["grid_ppo"]["num_envs"] == 2


def test_a_plugin_agents_settings_are_validated_and_listed(tmp_path):
    imports = ["--import", EXAMPLE]
    bad = one_line_error(
        explore("train", "agent=grid_ppo", "grid_ppo.lr_ref_envs=-1", *imports, cwd=tmp_path)
    )
    assert bad.startswith("explore train: error: invalid config: field 'grid_ppo.lr_ref_envs'")
    assert "greater than or equal to 0" in bad
    misspelt = one_line_error(
        explore("train", "agent=grid_ppo", "grid_ppo.lr_ref_env=2", *imports, cwd=tmp_path)
    )
    assert "unknown field 'grid_ppo.lr_ref_env'. Did you mean: lr_ref_envs" in misspelt
    refused = one_line_error(
        explore("train", "agent=grid_ppo", "env=DeepSeaTreasure", *imports, cwd=tmp_path)
    )
    assert "DeepSeaTreasure" in refused and "GridPPO" in refused

    shown = explore("train", "agent=grid_ppo", "--help", *imports, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "fields of agent=grid_ppo" in shown.stdout
    assert "grid_ppo.lr_ref_envs" in shown.stdout and "grid_ppo.lr " in shown.stdout
    assert f"{EXAMPLE}: agents grid_ppo" in shown.stdout
