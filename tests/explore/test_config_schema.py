"""One source of truth for agent settings: the CLI schema is derived from the agents' own
settings classes (``agents.configs``), so a default is declared once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

import agents.configs as configs
from agents.configs import AGENTS, PPOConfig
from explore.config import RunConfig, apply_overrides, build_config, field_help

EXPLORE = str(Path(sys.executable).with_name("explore"))


def _config(*overrides: str) -> RunConfig:
    return build_config(apply_overrides({}, list(overrides)))


def test_every_default_comes_from_the_agent_settings_class():
    cfg = _config()
    settings = cfg.agent_settings
    for name, info in PPOConfig.model_fields.items():
        if name != "total_steps":
            assert getattr(settings, name) == info.default, name
    # The run's total_steps default is the agent's, and reaches the agent.
    assert cfg.total_steps == PPOConfig.model_fields["total_steps"].default
    assert _config("total_steps=5e6").agent_settings.total_steps == 5_000_000


def test_the_defaults_are_the_tuned_minigrid_settings():
    """The settings that solved DoorKey-8x8 with RND are the defaults."""
    cfg = PPOConfig()
    assert (cfg.lr, cfg.ent_coef, cfg.ext_coef, cfg.int_coef) == (1e-3, 0.05, 2.0, 0.5)


def test_resolved_config_holds_only_the_chosen_agents_section():
    dumped = _config("bonus=rnd", "lr=3e-4").model_dump(mode="json")
    assert dumped["ppo"]["lr"] == 3e-4 and "total_steps" not in dumped["ppo"]
    assert not any(section in dumped for section in ("ippo", "mo_ppo"))
    # Round trip through the resolved form (what config.yaml holds).
    assert build_config(dumped) == _config("bonus=rnd", "lr=3e-4")


def test_bare_fields_address_the_chosen_agents_section():
    for agent, entry in AGENTS.items():
        if entry.runner is None:
            continue
        cfg = _config(f"agent={agent}", "lr=3e-4")
        assert getattr(cfg, entry.section).lr == 3e-4
        assert cfg.agent_settings.lr == 3e-4


def test_settings_of_another_agent_are_refused_with_the_right_section():
    other = next(e.section for e in AGENTS.values() if e.section != "ppo")
    with pytest.raises(ValueError, match=f"{other}.*agent=ppo reads ppo"):
        _config(f"{other}.lr=1e-3")
    with pytest.raises(ValueError, match="set the run's total_steps"):
        _config("ppo.total_steps=10")
    with pytest.raises(ValueError, match="Did you mean: lr"):
        _config("ppo.lrr=1")
    with pytest.raises(ValueError, match=r"Unknown agent 'ipo'.*Did you mean: ippo"):
        _config("agent=ipo")


def test_a_new_agent_needs_one_settings_class_and_one_registry_line(monkeypatch):
    """The derivation is generic: a subclass adds only its own field, the rest is PPO's."""

    class ToyConfig(PPOConfig):
        toy_width: int = Field(3, ge=1, description="a field of the toy agent")

    assert issubclass(ToyConfig, BaseModel)
    monkeypatch.setitem(AGENTS, "toy", configs.AgentEntry("toy", ToyConfig, None, "toy"))
    rows = {name: default for name, default, _ in field_help("toy")}
    assert rows["toy.toy_width"] == "3" and rows["toy.lr"] == repr(PPOConfig().lr)


def test_help_lists_the_fields_of_the_chosen_agent():
    plain = subprocess.run([EXPLORE, "train", "--help"], capture_output=True, text=True)
    assert plain.returncode == 0
    assert "ppo.lr" in plain.stdout and "0.001" in plain.stdout
    for agent, entry in AGENTS.items():
        if entry.section == "ppo":
            continue
        own = set(entry.config.model_fields) - set(PPOConfig.model_fields)
        shown = subprocess.run(
            [EXPLORE, "train", f"agent={agent}", "--help"], capture_output=True, text=True
        )
        assert shown.returncode == 0
        assert f"fields of agent={agent}" in shown.stdout
        assert f"{entry.section}.lr" in shown.stdout
        for field in own:
            assert f"{entry.section}.{field}" in shown.stdout
            assert f"{entry.section}.{field}" in plain.stdout  # additions listed in the plain help


def test_a_bonus_brings_its_own_agent_settings_unless_the_run_sets_them(tmp_path):
    """A bonus that needs its own coefficients carries them (``Bonus.agent_defaults``),
    visible in ``--help`` and in the resolved config.yaml; the run's own values win."""
    from agents.bonuses.social import UTILITY_SETTINGS

    plain = _config("agent=ippo", "env=Coins").agent_settings
    assert (plain.ext_coef, plain.int_coef) == (2.0, 0.5)  # no bonus: the agent's defaults

    cfg = _config("agent=ippo", "env=Coins", "bonus=inequity_aversion", "ippo.gamma_ext=0.95")
    settings = cfg.agent_settings
    assert (settings.ext_coef, settings.int_coef) == (1.0, 1.0)
    assert settings.normalize_int_reward is False and settings.int_episodic is True
    assert settings.gamma_int == 0.95  # SameAs("gamma_ext") follows the run's own gamma_ext
    assert set(UTILITY_SETTINGS) <= set(cfg.model_dump()["ippo"])  # written to config.yaml

    own = _config("agent=ippo", "env=Coins", "bonus=svo", "int_coef=0.3").agent_settings
    assert own.int_coef == 0.3 and own.ext_coef == 1.0  # the run's value wins, the rest stays

    # A composite collects its parts' settings; the resolved config round-trips unchanged.
    composite = _config("agent=ippo", "env=Coins", "bonus=product(svo,inequity_aversion)")
    assert composite.agent_settings.int_coef == 1.0
    again = build_config(cfg.model_dump())
    assert again.config_hash() == cfg.config_hash()

    shown = subprocess.run(
        [EXPLORE, "train", "agent=ippo", "--help"], capture_output=True, text=True
    )
    assert shown.returncode == 0
    assert "bonus=inequity_aversion: ext_coef=1.0, int_coef=1.0" in shown.stdout
