"""Explicit contracts: what a bonus declares, which envs an agent accepts, SB3's own settings.

The declarations live on :class:`agents.bonuses.base.Bonus` (class attributes and no-op
methods) and on :class:`envs.core.Environment` (``num_agents``, ``vector_reward``); agents
read them (``PPO.accepts`` / ``accepts_bonus``) and say which registered agents would take a
refused env or bonus. ``tests/test_layers.py`` checks that nobody probes instead.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

import agents.bonuses
import envs
from agents.bonuses.base import Bonus, EmptyState, NoBonus
from agents.configs import JAX_ONLY_FIELDS, IPPOConfig, PPOConfig, SB3Config
from agents.ippo import IPPO
from agents.mo_ppo import MOPPO
from agents.ppo import PPO
from envs.core import Environment
from envs.spaces import Box, Discrete
from explore.config import load_config

EXPLORE = str(Path(sys.executable).with_name("explore"))
BOOLEAN_DECLARATIONS = ("episodic", "host_work", "social", "utility", "needs_counterfactuals")


def _spec(name: str) -> str:
    return f"{name}(rnd,e3b)" if name in ("product", "sum") else name


# ------------------------------------------------------------------------------ bonuses
def test_the_base_declares_every_capability_as_a_no_op():
    bonus = NoBonus()
    state = bonus.init(jax.random.PRNGKey(0), Box(0, 1, (3,)), Discrete(2), 4)
    assert not any(getattr(bonus, flag) for flag in BOOLEAN_DECLARATIONS)
    assert bonus.env_context == () and bonus.agent_defaults == {}
    assert bonus.sync(state) is state and bonus.sync(state, events=[1]) is state
    assert bonus.host_metrics() == {} and bonus.services() == []
    assert bonus.vocabulary is None
    assert bonus.bind(3) is None and bonus.close() is None and bonus.close(wait=False) is None


@pytest.mark.parametrize("name", agents.bonuses.registered())
def test_every_registered_bonus_declares_with_the_right_types(name):
    bonus = agents.bonuses.make(_spec(name))
    for flag in BOOLEAN_DECLARATIONS:
        assert isinstance(getattr(bonus, flag), bool), flag
    assert set(bonus.env_context) <= {"captions", "task"}
    assert bonus.host_metrics() == {} or bonus.host_work


def test_the_declarations_of_the_builtin_methods():
    make = agents.bonuses.make
    assert make("oni").host_work and make("oni").env_context == ("captions", "task")
    assert make("svo").social and make("svo").utility
    assert make("social_influence").needs_counterfactuals
    assert not make("rnd").social and not make("rnd").host_work


def test_a_composite_declares_what_either_part_declares_and_forwards_the_hooks():
    both = agents.bonuses.make("product(rnd,svo)")
    assert both.social and both.utility and not both.host_work
    both.bind(3)  # reaches the social part, which needs the agent count
    assert both.second.num_agents == 3
    influence = agents.bonuses.make("sum(social_influence,count)")
    assert influence.needs_counterfactuals and influence.episodic is False
    labelled = agents.bonuses.make("product(rnd,oni)", captions=("", "a key"), task="t")
    assert labelled.host_work and labelled.vocabulary is None
    assert labelled.host_metrics() == {}  # no labelling service started yet
    labelled.close()


def test_env_context_is_collected_from_the_parts_of_a_spec():
    assert agents.bonuses.env_context("rnd") == ()
    assert agents.bonuses.env_context("none") == ()
    assert agents.bonuses.env_context("oni(retrieval)") == ("captions", "task")
    nested = "product(rnd,sum(count,oni(retrieval,annotator=rules)))"
    assert agents.bonuses.env_context(nested) == ("captions", "task")
    assert agents.bonuses.env_context("product(rnd") == ()  # make() reports the bad spec


class _NeedsCaptions(NoBonus):
    """A user bonus that declares it takes the env's captions (no spec-name sniffing)."""

    name = "needs_captions"
    env_context = ("captions",)

    def __init__(self, captions: Any = None) -> None:
        self.captions = captions


def test_the_training_loop_passes_what_a_bonus_declares(monkeypatch):
    from explore.train import build

    monkeypatch.setitem(agents.bonuses._REGISTRY, "needs_captions", _NeedsCaptions)
    cfg = load_config(None, ["env=Empty-5x5", "bonus=needs_captions", "num_envs=2"])
    env, _, bonus, _ = build(cfg)
    assert bonus.captions == env.captions
    # A bonus that declares nothing gets nothing (its constructor would refuse it).
    assert build(load_config(None, ["env=Empty-5x5", "bonus=rnd", "num_envs=2"]))[2].name == "rnd"


# ------------------------------------------------------------------------------ envs
@struct.dataclass
class _Clock:
    t: jax.Array


class TwoAgentClock(Environment):
    """A two-agent env that is not one of the social dilemmas (no ``info["social"]``): every
    agent is paid for action 1; episodes last 4 steps."""

    num_agents = 2

    def observation_space(self, params=None) -> Box:
        return Box(0.0, 1.0, (4,), jnp.float32)

    def action_space(self, params=None) -> Discrete:
        return Discrete(2)

    def _obs(self, t):
        return jnp.broadcast_to(jax.nn.one_hot(t, 4), (2, 4)).astype(jnp.float32)

    def reset_env(self, key, params):
        t = jnp.zeros((), jnp.int32)
        return self._obs(t), _Clock(t)

    def step_env(self, key, state, action, params):
        t = state.t + 1
        done = t >= 4
        info = {"event": jnp.zeros(2, jnp.int32), "success": jnp.asarray(False)}
        reward = action.astype(jnp.float32)
        return self._obs(jnp.minimum(t, 3)), _Clock(t), reward, done, jnp.asarray(False), info


def _tiny(config, **extra):
    fields = dict(num_envs=2, num_steps=8, num_minibatches=1, update_epochs=1, hidden=8)
    return config(**{**fields, **extra})


def test_each_agent_declares_the_envs_it_accepts():
    single, _ = envs.make("Empty-5x5")
    social, _ = envs.make("Coins")
    vector, _ = envs.make("DeepSeaTreasure")
    clock = TwoAgentClock()
    accepted = {
        agent: [env.name for env in (single, social, vector, clock) if agent.accepts(env) is None]
        for agent in (PPO, IPPO, MOPPO)
    }
    assert accepted == {
        PPO: ["Empty-5x5"],
        IPPO: ["Coins", "TwoAgentClock"],
        MOPPO: ["DeepSeaTreasure"],
    }
    assert "2 agents" in PPO.accepts(clock) and "vector rewards" in PPO.accepts(vector)


def test_an_env_outside_the_contract_gets_a_clear_refusal():
    class DuckTyped:  # reset/step alike, but declares nothing
        name = "DuckTyped"

    assert "envs.core.Environment" in PPO.accepts(DuckTyped())


def test_a_refusal_names_the_agents_that_accept_the_env():
    clock = TwoAgentClock()
    with pytest.raises(ValueError, match=r"TwoAgentClock has 2 agents.*\(use agent=ippo\)"):
        PPO(clock, clock.default_params, None, _tiny(PPOConfig))
    single, params = envs.make("Empty-5x5")
    with pytest.raises(ValueError, match=r"single-agent env.*\(use agent=ppo\)"):
        IPPO(single, params, None, _tiny(IPPOConfig))


def test_agents_accept_the_bonuses_whose_needs_they_meet():
    svo, oni = agents.bonuses.make("svo"), agents.bonuses.make("oni")
    assert PPO.accepts_bonus(svo) and IPPO.accepts_bonus(svo) is None
    assert MOPPO.accepts_bonus(oni) and PPO.accepts_bonus(oni) is None
    single, params = envs.make("Empty-5x5")
    with pytest.raises(ValueError, match=r"social reward.*\(use agent=ippo\)"):
        PPO(single, params, svo, _tiny(PPOConfig))


def test_ippo_trains_any_env_with_the_multi_agent_contract():
    clock = TwoAgentClock()
    ippo = IPPO(clock, clock.default_params, agents.bonuses.make("count"), _tiny(IPPOConfig))
    state, metrics = jax.jit(ippo.update)(ippo.init(jax.random.PRNGKey(0)))
    assert ippo.num_agents == 2 and int(state.update) == 1
    assert np.isfinite(float(metrics["loss/total"]))
    assert not any(k.startswith("social/") for k in metrics)  # the env reports none


# ------------------------------------------------------------------------------ SB3 settings
def test_sb3_agents_have_their_own_settings_without_the_jax_only_fields():
    assert not set(JAX_ONLY_FIELDS) & set(SB3Config.model_fields)
    cfg = load_config(None, ["agent=sb3_ppo", "env=gym:CartPole-v1", "ppo.lr=3e-4"])
    assert type(cfg.agent_settings) is SB3Config and cfg.agent_settings.lr == 3e-4
    section = cfg.model_dump(mode="json")["ppo"]
    assert section["lr"] == 3e-4 and not set(JAX_ONLY_FIELDS) & set(section)
    # A utility bonus brings int_episodic for the JAX agents, not for SB3's.
    utility = load_config(None, ["agent=sb3_a2c", "env=gym:CartPole-v1", "bonus=svo"])
    assert utility.agent_settings.int_coef == 1.0


def test_an_sb3_config_file_listing_jax_only_defaults_still_loads():
    # config.yaml files of SB3 runs written before SB3Config listed PPO's whole section.
    from explore.config import build_config

    old = {"agent": "sb3_ppo", "env": "gym:CartPole-v1", "ppo": {"gru": 0, "network": "auto"}}
    assert "gru" not in build_config(old).model_dump()["ppo"]


@pytest.mark.parametrize("field", ["ppo.gru=8", "network=cnn", "int_episodic=true"])
def test_jax_only_fields_are_refused_for_sb3_agents(field):
    with pytest.raises(ValueError, match=rf"ppo\.{field.split('=')[0].split('.')[-1]}: agent="):
        load_config(None, ["agent=sb3_ppo", "env=gym:CartPole-v1", field])


def test_a_jax_only_field_for_sb3_is_a_one_line_cli_error(tmp_path):
    result = subprocess.run(
        [EXPLORE, "train", "agent=sb3_ppo", "env=gym:CartPole-v1", "gru=8", f"out={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "ppo.gru" in lines[0] and "sb3_ppo" in lines[0], result.stderr
    assert not any(tmp_path.iterdir())


def test_the_empty_state_is_what_no_bonus_keeps():
    # The no-op sync of the base hands the state back untouched, pytree and all.
    state = EmptyState(step=jnp.zeros((), jnp.int32))
    assert Bonus.sync(NoBonus(), state) is state
