"""Every agent's settings, declared once, and the registry of agents.

Each agent has one settings class here: a frozen pydantic model whose fields carry their
default, their constraints and a description. The CLI schema (``explore.config.RunConfig``),
``explore train --help`` and the resolved ``config.yaml`` are derived from these classes, so a
default lives in exactly one place. A new agent subclasses :class:`PPOConfig` (adding only its
own fields) and registers with :func:`register` (``agents.register``), from this package or
from a user's plugin module (docs/extending.md).

This module imports nothing heavy (no JAX), so the CLI can read the schema cheaply.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, create_model


class PPOConfig(BaseModel):
    """PPO hyper-parameters, with defaults that learn MiniGrid-style sparse-reward tasks.

    The defaults are the settings that solved DoorKey-8x8 with RND in 5/5 seeds (README,
    "Defaults"): a larger learning rate and entropy bonus than PureJaxRL's (2.5e-4, 0.01),
    and RND's ``ext_coef=2`` (Burda et al. 2019) with half of RND's intrinsic weight. With
    PureJaxRL's values no RND seed solved DoorKey-8x8 by 1.25 M steps: the policy's entropy
    collapsed within 50 k steps and the agent stayed in the first room.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    num_envs: int = Field(16, ge=1, description="parallel environments per seed")
    num_steps: int = Field(128, ge=1, description="rollout length per update")
    total_steps: int = Field(1_000_000, ge=1, description="environment steps per seed")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    anneal_lr: bool = Field(True, description="linearly anneal the learning rate to 0")
    update_epochs: int = Field(4, ge=1, description="epochs per update")
    num_minibatches: int = Field(4, ge=1, description="minibatches per epoch")
    gamma_ext: float = Field(0.99, gt=0, le=1, description="discount of extrinsic rewards")
    gamma_int: float = Field(0.99, gt=0, le=1, description="discount of intrinsic rewards")
    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE λ")
    clip_eps: float = Field(0.2, gt=0, description="PPO clip range")
    clip_value: bool = Field(True, description="clip value updates as the policy")
    ent_coef: float = Field(0.05, ge=0, description="entropy bonus coefficient")
    vf_coef: float = Field(0.5, ge=0, description="value loss coefficient")
    max_grad_norm: float = Field(0.5, gt=0, description="global gradient-norm clip")
    ext_coef: float = Field(2.0, ge=0, description="weight of extrinsic advantages (RND paper: 2)")
    int_coef: float = Field(0.5, ge=0, description="weight of intrinsic advantages")
    int_episodic: bool = Field(False, description="cut intrinsic returns at episode ends")
    normalize_int_reward: bool = Field(
        True, description="divide r_int by the std of intrinsic returns"
    )
    network: Literal["auto", "mlp", "cnn", "cnn_pooled", "cnn_strided"] = Field(
        "auto",
        description="auto: cnn for grids, else mlp; cnn_pooled: rl-starter-files' pooled CNN "
        "(faster; learns worse at the default settings, docs/performance.md)",
    )
    hidden: int = Field(64, ge=1, description="width of hidden layers")
    activation: Literal["tanh", "relu"] = Field("tanh", description="MLP activation")
    gru: int = Field(0, ge=0, description="GRU memory width (0 = none)")

    @property
    def batch_size(self) -> int:
        """Environment steps per update."""
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        """Number of updates needed to reach ``total_steps`` (at least one)."""
        return max(1, int(self.total_steps) // self.batch_size)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict view (for configs and logs)."""
        return self.model_dump()


class MOPPOConfig(PPOConfig):
    """Multi-objective PPO settings (agents/mo_ppo.py): PPO's plus the weight set and the
    greedy evaluation that records each weight's value vector (the front)."""

    num_weights: int = Field(
        16,
        ge=1,
        description="weight vectors on the simplex trained at once, one policy each",
    )
    weights: list[list[float]] | None = Field(
        None, description="explicit weight vectors instead of the scheme, e.g. [[1,0],[0,1]]"
    )
    weight_scheme: Literal["auto", "grid", "lowdisc"] = Field(
        "auto", description="weight set: auto = grid for 2 objectives, lowdisc for more"
    )
    normalize_weights: bool = Field(
        False, description="rescale explicit weights to sum to 1 (else they must)"
    )
    eval_episodes: int = Field(
        1, ge=1, description="greedy evaluation episodes per weight at each log line"
    )
    eval_steps: int = Field(
        0, ge=0, description="step cap of an evaluation episode (0: the env's episode limit)"
    )


class IPPOConfig(PPOConfig):
    """IPPO settings (agents/ippo.py): PPO's plus parameter sharing, the reward each agent
    trains on and the joint-action input. ``num_envs`` counts env copies (each with N
    agents); steps count agent-steps (env steps × N)."""

    share: bool = Field(
        True,
        description="one network for all agents, with an agent-id input (false: one per agent)",
    )
    reward: Literal["individual", "shared"] = Field(
        "individual", description="train each agent on its own reward or on the group's mean"
    )
    joint_action_input: bool | None = Field(
        None,
        description="policies see every agent's previous action (unset: on when the bonus "
        "needs it, i.e. social_influence)",
    )
    network: Literal["auto", "mlp", "cnn", "cnn_pooled", "cnn_strided"] = Field(
        "auto",
        description="auto: cnn for grid views, else mlp. cnn_strided (first 2×2 layer with "
        "stride 2) gives 1.4–1.9× the steps per CPU-second on 11×11 views but learns a "
        "different function; the published social results use cnn (docs/performance.md)",
    )


#: PPOConfig fields that only the JAX agents read: SB3's algorithms keep one value head (the
#: intrinsic return is episodic there), build their own networks and have no GRU.
JAX_ONLY_FIELDS = ("int_episodic", "network", "gru")


class _SB3Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict view (for configs and logs)."""
        return self.model_dump()


#: Settings of the SB3 agents (``sb3_ppo``, ``sb3_a2c``): PPOConfig's fields (same names,
#: defaults and descriptions, declared there once) without :data:`JAX_ONLY_FIELDS`, so a run
#: that sets one of those is refused instead of silently ignoring it. They share the ``ppo.*``
#: section on the command line; agents/sb3.py maps them onto SB3's arguments.
SB3Config: type[BaseModel] = create_model(
    "SB3Config",
    __base__=_SB3Fields,
    __doc__="Stable-Baselines3 PPO / A2C settings: PPO's, without the JAX-only fields.",
    **{
        name: (info.annotation, info)
        for name, info in PPOConfig.model_fields.items()
        if name not in JAX_ONLY_FIELDS
    },
)


class SameAs(NamedTuple):
    """A bonus's recommended agent setting that copies another field of the agent's section
    (e.g. ``gamma_int = SameAs("gamma_ext")``), resolved after the run's own values."""

    field: str


class AgentEntry(NamedTuple):
    """How the CLI finds an agent.

    ``section`` is the settings group on the command line and in config.yaml (``ppo.lr=…``);
    ``config`` its settings class; ``runner`` the agent's class, or the ``"module:Class"``
    naming it (imported when first used), that ``explore train`` builds as
    ``Runner(env, env_params, bonus, config)`` (``None``: the agent runs outside the JAX
    loop, e.g. the SB3 bridge).
    """

    section: str
    config: type[BaseModel]
    runner: str | type | None
    help: str


# Fields that belong to the run, not to the agent's section (the run's value is passed in).
RUN_LEVEL_FIELDS = ("total_steps",)

AGENTS: dict[str, AgentEntry] = {
    "ppo": AgentEntry("ppo", PPOConfig, "agents.ppo:PPO", "PPO in JAX, seeds vmapped"),
    "sb3_ppo": AgentEntry("ppo", SB3Config, None, "Stable-Baselines3 PPO (Gymnasium envs)"),
    "sb3_a2c": AgentEntry("ppo", SB3Config, None, "Stable-Baselines3 A2C (Gymnasium envs)"),
    "mo_ppo": AgentEntry(
        "mo_ppo", MOPPOConfig, "agents.mo_ppo:MOPPO", "multi-objective PPO, weights vmapped"
    ),
}

AGENTS["ippo"] = AgentEntry("ippo", IPPOConfig, "agents.ippo:IPPO", "independent PPO, social envs")

#: Names a settings section may not take: the run's own fields (explore.config's run-level
#: fields; a test keeps the two in step) and the command line's free-form groups.
RESERVED_SECTIONS = frozenset(
    {
        "env",
        "env_kwargs",
        "agent",
        "bonus",
        "bonus_kwargs",
        "seed",
        "seeds",
        "out",
        "total_steps",
        "log_every",
        "checkpoint_every",
        "tensorboard",
        "wandb",
        "vec_env",
        "imports",
        "plugins",
        "env_version",
    }
)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def register(
    name: str,
    runner: str | type,
    config: type[PPOConfig] = PPOConfig,
    *,
    section: str | None = None,
    help: str = "",
) -> None:
    """Register an agent that ``explore train agent=NAME`` (and sweeps, ``explore envs``,
    ``--help``) can use; call it from your own module and load that as a plugin.

    The contract, checked here (or, for a ``"module:Class"`` string, when first used):

    - ``runner`` is a subclass of :class:`agents.ppo.PPO` (or ``"module:Class"`` naming one).
      ``explore.train`` builds it as ``runner(env, env_params, bonus, settings)`` and drives
      it through PPO's interface: ``init_seeds``, ``run``, ``cfg.num_updates`` /
      ``cfg.batch_size`` and its ``RunnerState`` (checkpoints, coverage). Which envs and
      bonuses it trains is declared by the class (``PPO.multi_agent``,
      ``PPO.vector_reward``, or an overridden ``accepts`` / ``accepts_bonus``).
    - ``config`` is its settings class: :class:`PPOConfig` or a subclass adding fields
      (frozen pydantic, one ``Field`` with default and description per setting). Its
      fields form the settings section ``section`` (default: ``name``) on the command line
      and in config.yaml, validated with one-line errors naming the field.
    - An agent may share a registered section only by reading some of its fields, with the
      same defaults (as the SB3 agents read part of ``ppo.*``).

    Registering the same entry again (a module imported twice) does nothing; another agent
    under a registered name is refused.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"agent name {name!r}: use letters, digits, '_' or '-', starting with a letter"
        )
    section = name.replace("-", "_") if section is None else section
    if (
        not isinstance(section, str)
        or not section.isidentifier()
        or keyword.iskeyword(section)
        or section in RESERVED_SECTIONS
    ):
        raise ValueError(
            f"agent {name!r}: section {section!r} must be a Python identifier other than "
            f"{', '.join(sorted(RESERVED_SECTIONS))}"
        )
    if not (isinstance(config, type) and issubclass(config, PPOConfig)):
        raise TypeError(
            f"agent {name!r}: config must be agents.configs.PPOConfig or a subclass of it, "
            f"got {config!r}"
        )
    if isinstance(runner, str):
        module, colon, attr = runner.partition(":")
        if not (colon and module and attr):
            raise ValueError(f"agent {name!r}: runner {runner!r} is not 'module:Class'")
    else:
        _check_runner(name, runner)
    if not help and not isinstance(runner, str):
        help = next(iter((runner.__doc__ or "").strip().splitlines()), "")
    entry = AgentEntry(section, config, runner, help)
    known = AGENTS.get(name)
    if known is not None:
        if known == entry:
            return
        raise ValueError(f"agent {name!r} is already registered ({_runner_name(known.runner)})")
    shared = sections().get(section)
    if shared is not None and not (
        set(config.model_fields) <= set(shared.model_fields)
        and all(
            info.default == shared.model_fields[field].default
            for field, info in config.model_fields.items()
        )
    ):
        # The schema's class of a section is fixed once built: an agent may share a
        # section only by reading some of its fields (as SB3's agents share ppo.*).
        raise ValueError(
            f"agent {name!r}: section {section!r} is already used by "
            f"{', '.join(a for a, e in AGENTS.items() if e.section == section)}; an agent "
            "sharing it may only read its fields with the same defaults (or use its own section)"
        )
    AGENTS[name] = entry


def _runner_name(runner: str | type | None) -> str:
    if runner is None or isinstance(runner, str):
        return str(runner)
    return f"{runner.__module__}:{runner.__qualname__}"


def _check_runner(name: str, runner: object) -> type:
    """``runner`` itself, when it is a subclass of :class:`agents.ppo.PPO` (the interface
    ``explore.train`` drives); else a one-line TypeError."""
    from agents.ppo import PPO  # JAX: only once an agent class exists anyway

    if not (isinstance(runner, type) and issubclass(runner, PPO)):
        raise TypeError(
            f"agent {name!r}: runner must be a subclass of agents.ppo.PPO (or 'module:Class' "
            f"naming one), got {runner!r}"
        )
    return runner


def registered() -> list[str]:
    """The names of every registered agent (built in and from plugins), in registry order."""
    return list(AGENTS)


def agent_entry(name: str) -> AgentEntry:
    """The registry entry of ``name``; unknown names list the close matches."""
    if name not in AGENTS:
        from envs.registry import unknown_name_error

        raise unknown_name_error("agent", name, list(AGENTS))
    return AGENTS[name]


def runner_class(name: str) -> type | None:
    """The class of agent ``name`` (its module imported now), or None for an agent that runs
    outside the JAX loop (the SB3 bridge)."""
    entry = agent_entry(name)
    if entry.runner is None:
        return None
    if not isinstance(entry.runner, str):
        return entry.runner
    import importlib

    module_name, _, class_name = entry.runner.partition(":")
    cls = vars(importlib.import_module(module_name)).get(class_name)
    if cls is None:
        raise ValueError(f"agent {name!r}: {entry.runner!r}: no class {class_name!r} there")
    return _check_runner(name, cls)


def refusal(reason: str, accepts: Callable[[type], bool]) -> str:
    """An agent's one-line refusal ``reason``, followed by the registered agents whose class
    ``accepts`` (e.g. ``lambda agent: agent.accepts(env) is None``): "(use agent=ippo)". The
    advice comes from each agent's own declaration, not from the refusing agent."""
    names = [name for name in AGENTS if (cls := runner_class(name)) is not None and accepts(cls)]
    if not names:
        return reason
    return f"{reason} (use " + " or ".join(f"agent={name}" for name in names) + ")"


def sections() -> dict[str, type[BaseModel]]:
    """Settings section name → settings class, over every registered agent.

    Agents may share a section while reading a subset of its fields (the SB3 agents read
    ``ppo.*`` without PPO's JAX-only fields): the section's class is then the widest one, and
    each agent's own class says which fields it accepts.
    """
    out: dict[str, type[BaseModel]] = {}
    for entry in AGENTS.values():
        known = out.setdefault(entry.section, entry.config)
        if known is entry.config:
            continue
        wide, narrow = known, entry.config
        if set(narrow.model_fields) > set(wide.model_fields):
            wide, narrow = narrow, wide
        if not set(narrow.model_fields) <= set(wide.model_fields) or any(
            info.default != wide.model_fields[name].default
            for name, info in narrow.model_fields.items()
        ):
            raise TypeError(f"agents sharing section {entry.section!r} disagree on its class")
        out[entry.section] = wide
    return out
