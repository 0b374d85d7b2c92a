"""Focal-vs-background evaluation (Melting Pot's protocol) in JAX: specs, rollouts, results.

A *scenario* puts ``k`` agents of a focal population and ``N − k`` agents of a background
population into one social env and measures the focal per-capita return, the mean episode
return of the focal agents (Leibo et al. 2021; Agapiou et al. 2022, Melting Pot 2.0). A
population is a set of members: scripted bots (``envs.social.scripted``: ``cooperator``,
``defector``) and trained IPPO policies read from run directories' checkpoints. Every
episode the focal agents take ``k`` random slots and each slot draws its member uniformly
from its population, as Melting Pot samples its populations per episode.

Scenarios are declared in YAML (``experiments/evaluate_*.yaml``)::

    name: evaluate_social
    runs: runs                       # where run directories are found (--runs overrides)
    defaults: {episodes: 8, seeds: 0-2}
    scenarios:
      harvest_ippo_vs_cooperators:
        env: Harvest-Open
        env_options: {ascii_map: small, num_agents: 3}
        steps: 200
        focal: {runs: "social_harvest/Harvest-Open__none__*"}
        background: {scripted: cooperator}
        focal_agents: [1, 2]

Episodes have a fixed length of ``steps`` steps. Each scenario is one jitted program: every
(mix, episode) of one seed is one row of a ``jax.vmap`` over the episode rollout. Episode
keys are those of :func:`envs.social.schelling.schelling`: seed ``s`` splits
``PRNGKey(s)`` into ``(N + 1) · episodes`` keys and the ``e``-th episode of the mix with ``k``
focal agents takes key ``k · episodes + e``; inside an episode the reset, role and step keys
are split as there too. So scripted cooperators as the focal population against scripted
defectors give the Schelling payoffs exactly: focal per-capita return at ``k`` = the
cooperator's payoff with ``k − 1`` other cooperators, background per-capita return = the
defector's with ``k`` cooperators.

Results go to ``<out>/<name>/<scenario>.json`` (and ``.csv``), written atomically, with a
fingerprint of the scenario, the env version and the checkpoints' contents: a scenario whose
result carries the current fingerprint is skipped on a rerun; a changed one runs again.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import io
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from envs.names import did_you_mean
from explore.config import parse_seeds, read_yaml_file
from explore.runs import RunDir, atomic_write_text, now, versions

#: Bumped when the protocol changes what a result means (key layout, statistics): results
#: with another version are computed again.
PROTOCOL_VERSION = 1
SPEC_KEYS = ("name", "runs", "defaults", "scenarios", "description", "notes")
SCENARIO_KEYS = (
    "env",
    "env_options",
    "agents",
    "bot_options",
    "focal",
    "background",
    "focal_agents",
    "episodes",
    "steps",
    "seeds",
    "description",
)
POPULATION_KEYS = ("scripted", "runs")
SCRIPTED_BOTS = ("cooperator", "defector")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
#: Bootstrap replicates of each interval.
DEFAULT_REPS = 10_000


# ----------------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class Member:
    """One member of a population: a scripted bot, or a run's latest checkpoint."""

    kind: str  # "scripted" | "checkpoint"
    name: str  # the bot ("cooperator", "defector") or the run directory
    run: Path | None = None

    @property
    def label(self) -> str:
        return self.name if self.run is None else self.run.name


@dataclass(frozen=True)
class Scenario:
    """One validated scenario: the env, the two populations and the mixes to play."""

    name: str
    env: str
    env_options: dict[str, Any]
    agents: int | None
    bot_options: dict[str, Any]
    focal: tuple[Member, ...]
    background: tuple[Member, ...]
    focal_agents: tuple[int, ...]
    episodes: int
    steps: int
    seeds: tuple[int, ...]
    description: str = ""
    focal_text: str = ""  # the population as written, for the table
    background_text: str = ""


@dataclass(frozen=True)
class EvaluationSpec:
    """A parsed spec: its name, where runs are found and its scenarios in spec order."""

    name: str
    runs: Path
    scenarios: tuple[Scenario, ...]
    path: Path | None = None
    text: str = ""


def _where(path: Path | None) -> str:
    return f"{path}: " if path else ""


def load_spec(path: str | Path, runs: str | Path | None = None) -> EvaluationSpec:
    """Read and validate an evaluation spec; ``runs`` overrides the spec's ``runs`` root."""
    path = Path(path)
    data = read_yaml_file(path, "evaluation spec")
    return parse_spec(data, path.stem, runs=runs, path=path, text=path.read_text())


def parse_spec(
    data: Any,
    default_name: str = "evaluation",
    runs: str | Path | None = None,
    path: Path | None = None,
    text: str = "",
) -> EvaluationSpec:
    """Validate a spec mapping; every error is one ``ValueError`` line naming the field."""
    where = _where(path)
    if not isinstance(data, dict):
        raise ValueError(f"{where}an evaluation spec must be a YAML mapping")
    for key in data:
        if key not in SPEC_KEYS:
            hint = (
                " Scenario fields go under a scenario (scenarios: {name: {...}}) or defaults:."
                if key in SCENARIO_KEYS
                else did_you_mean(str(key), SPEC_KEYS)
            )
            raise ValueError(
                f"{where}unknown spec key {key!r}.{hint} Known: {', '.join(SPEC_KEYS)}"
            )
    name = str(data.get("name") or default_name)
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{where}name {name!r}: use letters, digits, '.', '_' and '-' (it names the folder)"
        )
    root = Path(runs if runs is not None else data.get("runs") or "runs")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ValueError(f"{where}defaults: expected a mapping of scenario fields")
    _check_fields(defaults, SCENARIO_KEYS, f"{where}defaults")
    scenarios_in = data.get("scenarios")
    if not isinstance(scenarios_in, dict) or not scenarios_in:
        raise ValueError(f"{where}scenarios: expected a mapping of scenario name → fields")
    scenarios = []
    for scenario_name, fields in scenarios_in.items():
        scenario_name = str(scenario_name)
        at = f"{where}scenarios.{scenario_name}"
        if not _NAME.fullmatch(scenario_name):
            raise ValueError(
                f"{at}: use letters, digits, '.', '_' and '-' in a scenario name (it names a file)"
            )
        if not isinstance(fields, dict):
            raise ValueError(f"{at}: expected a mapping of scenario fields")
        _check_fields(fields, SCENARIO_KEYS, at)
        scenarios.append(_scenario(scenario_name, {**defaults, **fields}, root, at))
    return EvaluationSpec(name, root, tuple(scenarios), path, text)


def _check_fields(fields: dict, known: tuple[str, ...], at: str) -> None:
    for key in fields:
        if key not in known:
            raise ValueError(
                f"{at}: unknown field {key!r}.{did_you_mean(str(key), known)} "
                f"Known: {', '.join(known)}"
            )


def _positive(fields: dict, key: str, at: str, default: int | None = None) -> int:
    value = fields.get(key, default)
    if value is None:
        raise ValueError(f"{at}.{key}: missing (a positive integer)")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{at}.{key}: expected a positive integer, got {value!r}")
    return value


def _scenario(name: str, fields: dict, root: Path, at: str) -> Scenario:
    env = fields.get("env")
    if not isinstance(env, str) or not env:
        raise ValueError(f"{at}.env: missing (a social env, e.g. Harvest-Open)")
    options = fields.get("env_options") or {}
    if not isinstance(options, dict):
        raise ValueError(f"{at}.env_options: expected a mapping of env options")
    bot_options = fields.get("bot_options") or {}
    if not isinstance(bot_options, dict):
        raise ValueError(f"{at}.bot_options: expected a mapping of scripted-bot options")
    agents = fields.get("agents")
    if agents is not None:
        agents = _positive(fields, "agents", at)
    episodes = _positive(fields, "episodes", at, 8)
    steps = _positive(fields, "steps", at)
    try:
        seeds = tuple(parse_seeds(fields.get("seeds", 0)))
    except ValueError as err:
        raise ValueError(f"{at}.{err}") from None
    if not seeds:
        raise ValueError(f"{at}.seeds: no seeds")
    if episodes * len(seeds) < 2:
        raise ValueError(f"{at}.episodes: episodes × seeds must be at least 2 for an interval")
    ks = fields.get("focal_agents", [1])
    ks = [ks] if isinstance(ks, int) and not isinstance(ks, bool) else ks
    if (
        not isinstance(ks, list)
        or not ks
        or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks)
        or len(set(ks)) != len(ks)
    ):
        raise ValueError(
            f"{at}.focal_agents: expected distinct positive integers (k focal agents), got {ks!r}"
        )
    if "focal" not in fields:
        raise ValueError(f"{at}.focal: missing (e.g. {{runs: 'sweep/Env__none__*'}})")
    focal = _population(fields["focal"], root, f"{at}.focal")
    background: tuple[Member, ...] = ()
    if fields.get("background") is not None:
        background = _population(fields["background"], root, f"{at}.background")
    description = fields.get("description") or ""
    return Scenario(
        name=name,
        env=env,
        env_options=dict(options),
        agents=agents,
        bot_options=dict(bot_options),
        focal=focal,
        background=background,
        focal_agents=tuple(sorted(ks)),
        episodes=episodes,
        steps=steps,
        seeds=seeds,
        description=str(description),
        focal_text=_population_text(fields["focal"]),
        background_text=_population_text(fields.get("background")),
    )


def _population_text(value: Any) -> str:
    if value is None:
        return "—"
    parts = value if isinstance(value, list) else [value]
    out = []
    for part in parts:
        for key, entry in part.items():
            entries = entry if isinstance(entry, list) else [entry]
            out.append(f"{key}: {', '.join(str(e) for e in entries)}")
    return "; ".join(out)


def _population(value: Any, root: Path, at: str) -> tuple[Member, ...]:
    """The members of ``{scripted: ...}`` / ``{runs: ...}`` (or a list of such mappings)."""
    parts = value if isinstance(value, list) else [value]
    members: list[Member] = []
    for i, part in enumerate(parts):
        here = f"{at}[{i}]" if isinstance(value, list) else at
        if not isinstance(part, dict) or not part:
            raise ValueError(
                f"{here}: expected a mapping such as {{scripted: cooperator}} or "
                "{runs: 'sweep/Env__none__*'}"
            )
        _check_fields(part, POPULATION_KEYS, here)
        for key, entry in part.items():
            entries = entry if isinstance(entry, list) else [entry]
            if not entries or not all(isinstance(e, str) and e for e in entries):
                raise ValueError(f"{here}.{key}: expected a name or a list of names")
            for e in entries:
                if key == "scripted":
                    if e not in SCRIPTED_BOTS:
                        raise ValueError(
                            f"{here}.scripted: unknown bot {e!r}.{did_you_mean(e, SCRIPTED_BOTS)}"
                            f" Known: {', '.join(SCRIPTED_BOTS)}"
                        )
                    members.append(Member("scripted", e))
                else:
                    members += [Member("checkpoint", str(p), p) for p in _runs(e, root, here)]
    if len(set(members)) != len(members):
        raise ValueError(f"{at}: a member is listed twice")
    return tuple(members)


def _runs(pattern: str, root: Path, at: str) -> list[Path]:
    """Run directories (with a checkpoint) matching ``pattern`` under ``root`` (or absolute)."""
    base = Path(pattern) if Path(pattern).is_absolute() else root / pattern
    found = sorted(Path(p) for p in glob.glob(str(base)) if Path(p).is_dir())
    if not found:
        parent = base.parent
        names = [p.name for p in parent.iterdir() if p.is_dir()] if parent.is_dir() else []
        hint = did_you_mean(base.name, names) if names else f" ({parent} has no run directories)"
        raise ValueError(f"{at}.runs: no run directory matches {str(base)!r}.{hint}")
    runs = []
    for path in found:
        run = RunDir(path)
        if not (path / "config.yaml").is_file() or not run.checkpoints():
            raise ValueError(f"{at}.runs: {path} is not a run directory with a checkpoint")
        status = (run.status() or {}).get("status")
        if status != "completed":
            raise ValueError(
                f"{at}.runs: {path} is not complete (status {status}); evaluate finished runs"
            )
        runs.append(path)
    return runs


# ----------------------------------------------------------------------------- policies
@dataclass
class CheckpointGroup:
    """Checkpoint members that share one network shape: their parameters stacked."""

    runner: Any  # the IPPO agent built from the first member's config (network + packing)
    params: Any  # pytree, leaves [M, ...] (one network per agent: [M, N, ...])
    members: list[Member] = field(default_factory=list)


def _runner_for(run: Path) -> tuple[Any, Any]:
    """The IPPO agent of a run's config.yaml and its config (``explore.train.build``)."""
    from explore.config import build_config
    from explore.train import build

    data = yaml.safe_load((run / "config.yaml").read_text())
    cfg = build_config(data)
    if cfg.agent != "ippo":
        raise ValueError(f"{run}: agent {cfg.agent!r}; focal/background runs must be IPPO runs")
    return build(cfg)[3], cfg


def checkpoint_file(run: Path) -> tuple[Path, dict[str, Any]]:
    """The latest checkpoint of a run and its meta.json record."""
    meta = json.loads((run / "checkpoint" / "meta.json").read_text())
    return run / "checkpoint" / meta["file"], meta


def file_digest(path: Path) -> str:
    """SHA-256 (16 hex digits) of a file's contents."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def load_params(path: Path, like: Any, prefix: str = ".train.params") -> Any:
    """The network parameters of a checkpoint (``agents.bonuses.checkpoint`` format: leaves
    under their key paths in an ``.npz``, read with ``allow_pickle=False``), shaped like
    ``like``; only the entries under ``prefix`` are read, the training state is not needed."""
    import jax

    leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
    out = []
    with np.load(path, allow_pickle=False) as data:
        for key_path, leaf in leaves:
            name = prefix + jax.tree_util.keystr(key_path)
            if name not in data.files:
                raise ValueError(f"{path}: no entry {name!r}: not this network's checkpoint")
            value = data[name]
            if value.shape != tuple(leaf.shape) or value.dtype != leaf.dtype:
                raise ValueError(
                    f"{path}: entry {name!r} is {value.dtype}{list(value.shape)}, the network "
                    f"needs {leaf.dtype}{list(leaf.shape)}"
                )
            out.append(value)
    return jax.tree_util.tree_unflatten(treedef, out)


def _network_key(runner: Any) -> str:
    s = runner.settings
    return json.dumps(
        [s.network, s.hidden, s.activation, s.gru, s.share, bool(runner.joint_action)]
    )


def checkpoint_groups(
    members: list[Member], env: Any, env_params: Any, at: Callable[[Member], str]
) -> list[CheckpointGroup]:
    """Load every checkpoint member, grouped by network shape (one forward pass per group)."""
    import jax

    groups: dict[str, CheckpointGroup] = {}
    stacks: dict[str, list[Any]] = {}
    obs_shape = tuple(env.observation_space(env_params).shape)
    num_actions = env.action_space(env_params).n
    for member in members:
        runner, cfg = _runner_for(member.run)
        trained_obs = tuple(runner.obs_space.shape)
        if (
            runner.num_agents != env.num_agents
            or trained_obs != obs_shape
            or runner.action_space.n != num_actions
        ):
            raise ValueError(
                f"{at(member)}: {member.run.name} was trained with {runner.num_agents} agents, "
                f"observations {list(trained_obs)} and {runner.action_space.n} actions "
                f"({cfg.env}); this scenario has {env.num_agents}, {list(obs_shape)} and "
                f"{num_actions}"
            )
        like = jax.eval_shape(runner.init, jax.random.PRNGKey(0)).train.params
        params = load_params(checkpoint_file(member.run)[0], like)
        key = _network_key(runner)
        if key not in groups:
            groups[key] = CheckpointGroup(runner, None)
            stacks[key] = []
        elif jax.tree.structure(params) != jax.tree.structure(stacks[key][0]):
            raise ValueError(f"{at(member)}: {member.run.name}: network differs from its group")
        groups[key].members.append(member)
        stacks[key].append(params)
    for key, group in groups.items():
        group.params = jax.tree.map(lambda *xs: np.stack(xs), *stacks[key])
    return list(groups.values())


# ----------------------------------------------------------------------------- rollouts
def make_env(scenario: Scenario, at: str = "") -> tuple[Any, Any]:
    """The scenario's social env (``agents`` checked against, or passed as, ``num_agents``)."""
    from envs.social.base import GridSocialEnv
    from explore.sweep.spec import make_env as make_checked

    options = dict(scenario.env_options)
    try:
        env, params = make_checked(scenario.env, options)
    except ValueError as err:
        raise ValueError(f"{at}.env_options: {err}") from None
    except KeyError as err:
        message = str(err.args[0] if err.args else err)
        field_name = "env_options" if message.startswith("Unknown option") else "env"
        raise ValueError(f"{at}.{field_name}: {message}") from None
    if not isinstance(env, GridSocialEnv):
        raise ValueError(f"{at}.env: {scenario.env!r} is not a social (multi-agent) env")
    if scenario.agents is not None and env.num_agents != scenario.agents:
        if "num_agents" in options:
            raise ValueError(
                f"{at}.agents: {scenario.agents}, but env_options.num_agents is "
                f"{options['num_agents']}"
            )
        try:
            env, params = make_checked(scenario.env, {**options, "num_agents": scenario.agents})
        except ValueError:
            raise ValueError(
                f"{at}.agents: {scenario.env} has {env.num_agents} agents (no num_agents option)"
            ) from None
    return env, params


#: Compiled rollout programs by what they close over (env, episode length, scripted bots,
#: network shapes): scenarios that differ only in their members' parameters or bots' roles
#: (IPPO vs cooperators, IPPO vs defectors, SVO vs either) share one compilation.
_PROGRAMS: dict[str, Callable] = {}


def build_rollout(
    env: Any,
    params: Any,
    steps: int,
    episodes: int,
    focal: list[Member],
    background: list[Member],
    groups: list[CheckpointGroup],
    env_key: str = "",
    bot_options: dict[str, Any] | None = None,
) -> Callable[[int, list[int]], dict[str, np.ndarray]]:
    """``run(seed, ks)``: per-episode returns of every (k, episode) of one seed, one program.

    Returns arrays ``[len(ks), episodes]``: ``focal`` and ``background`` per-capita returns
    (NaN without background agents) and ``all`` (every agent). The members' parameters and
    roles are arguments of the jitted program, not constants in it, so ``env_key`` (the env
    and its options, as text) lets later scenarios of the same shape reuse its compilation.
    """
    import jax
    import jax.numpy as jnp

    members = [*focal, *background]
    group_of = {m: g for g, grp in enumerate(groups) for m in grp.members}
    index_in = {m: grp.members.index(m) for grp in groups for m in grp.members}
    # Per member (focal members first): its group (-1: scripted), its index in the group's
    # parameter stack, and whether a scripted bot cooperates; then the population sizes.
    tables = (
        jnp.asarray([group_of.get(m, -1) for m in members], jnp.int32),
        jnp.asarray([index_in.get(m, 0) for m in members], jnp.int32),
        jnp.asarray([m.kind == "scripted" and m.name == "cooperator" for m in members]),
        jnp.asarray(len(focal), jnp.int32),
        jnp.asarray(max(len(background), 1), jnp.int32),
    )
    stacks = [jax.tree.map(jnp.asarray, g.params) for g in groups]
    scripted = any(m.kind == "scripted" for m in members)
    bot_options = dict(bot_options or {}) if scripted else {}
    networks = [_network_key(g.runner) for g in groups]
    key = json.dumps([env_key, steps, bot_options, scripted, networks], sort_keys=True)
    fresh = not env_key or key not in _PROGRAMS
    if fresh:
        program = _program(env, params, steps, bot_options if scripted else None, groups)
    else:
        program = _PROGRAMS[key]
    if env_key:
        _PROGRAMS[key] = program
    return _runner(program, env.num_agents, episodes, tables, stacks, fresh)


def _runner(program, n, episodes, tables, stacks, fresh):
    import jax
    import jax.numpy as jnp

    def run(seed: int, ks: list[int]) -> dict[str, np.ndarray]:
        keys = jax.random.split(jax.random.PRNGKey(seed), (n + 1) * episodes)
        rows = np.concatenate([np.arange(episodes) + k * episodes for k in ks])
        counts = np.repeat(np.asarray(ks), episodes)
        out = program(keys[rows], jnp.asarray(counts), tables, stacks)
        shape = (len(ks), episodes)
        names = ("focal", "background", "all")
        return {name: np.asarray(x).reshape(shape) for name, x in zip(names, out, strict=True)}

    run.compiles = fresh  # whether the first call compiles (for progress lines)
    return run


def _program(
    env: Any,
    params: Any,
    steps: int,
    bot_options: dict[str, Any] | None,
    groups: list[CheckpointGroup],
) -> Callable:
    """The jitted, episode-vmapped rollout: ``(keys, ks, tables, stacks)`` → returns.
    ``bot_options``: the scripted bots' options, None when no member is a bot."""
    import jax
    import jax.numpy as jnp

    from agents.networks import ScannedGRU
    from envs.social.scripted import scripted_policy

    n = env.num_agents
    params = params.replace(max_steps_in_episode=steps, min_steps=steps, end_probability=0.0)
    bots = scripted_policy(env, **bot_options) if bot_options is not None else None

    def hidden0(group: CheckpointGroup) -> jax.Array:
        return ScannedGRU.initial_carry(n, max(group.runner.settings.gru, 1))

    def act_group(group, stack, key, index, obs, prev, hidden, first):
        runner, net = group.runner, group.runner.agent_network
        packed = runner._pack(obs[None], prev[None])  # [N, ...] with id / previous actions
        if runner.settings.share:
            slot_params = jax.tree.map(lambda x: x[index], stack)
        else:  # one network per agent: a slot plays its own agent's network
            slot_params = jax.tree.map(lambda x: x[index, jnp.arange(n)], stack)

        def one(p, h, o):
            h, logits, _, _ = net.apply(p, h[None], o[None, None], first[None, None])
            return h[0], logits[0, 0]

        hidden, logits = jax.vmap(one)(slot_params, hidden, packed)
        return jax.random.categorical(key, logits), hidden

    def episode(key, k, tables, stacks):
        member_group, member_index, member_coop, nf, nb = tables
        # The keys of envs.social.schelling: the same episode for the same key.
        k_reset, k_roles, k_run = jax.random.split(key, 3)
        obs, state = env.reset_env(k_reset, params)
        focal_slot = jax.random.permutation(k_roles, jnp.arange(n) < k)
        k_focal, k_background = jax.random.split(jax.random.fold_in(k_roles, 1))
        drawn_focal = jax.random.randint(k_focal, (n,), 0, nf)
        drawn_background = nf + jax.random.randint(k_background, (n,), 0, nb)
        member = jnp.where(focal_slot, drawn_focal, drawn_background)
        member = jnp.minimum(member, member_group.shape[0] - 1)  # no background: never used
        slot_group, slot_index = member_group[member], member_index[member]
        cooperator = member_coop[member]

        def body(carry, step_key):
            state, obs, prev, hiddens, first = carry
            k_act, k_step = jax.random.split(step_key)
            action = jnp.zeros(n, jnp.int32)
            if bots is not None:
                action = bots(k_act, state, cooperator)
            new_hiddens = []
            for g, (group, stack) in enumerate(zip(groups, stacks, strict=True)):
                a, h = act_group(
                    group,
                    stack,
                    jax.random.fold_in(k_act, g + 1),
                    slot_index,
                    obs,
                    prev,
                    hiddens[g],
                    first,
                )
                action = jnp.where(slot_group == g, a, action)
                new_hiddens.append(h)
            obs, state, reward, *_ = env.step_env(k_step, state, action, params)
            return (state, obs, action, new_hiddens, jnp.zeros((), bool)), reward

        # Previous actions -1: IPPO's packing gives 0, "no previous action", at a start.
        prev = jnp.full(n, -1, jnp.int32)
        carry = (state, obs, prev, [hidden0(g) for g in groups], jnp.ones((), bool))
        rewards = jax.lax.scan(body, carry, jax.random.split(k_run, steps))[1].sum(0)
        background_slot = ~focal_slot
        focal_return = jnp.where(focal_slot, rewards, 0).sum() / jnp.maximum(focal_slot.sum(), 1)
        background_return = jnp.where(background_slot, rewards, 0).sum() / jnp.maximum(
            background_slot.sum(), 1
        )
        background_return = jnp.where(background_slot.any(), background_return, jnp.nan)
        return focal_return, background_return, rewards.mean()

    return jax.jit(jax.vmap(episode, in_axes=(0, 0, None, None)))


# ----------------------------------------------------------------------------- statistics
def interval(samples: np.ndarray, reps: int = DEFAULT_REPS) -> tuple[float, float, float]:
    """Mean and 95% stratified percentile-bootstrap interval of ``samples [seeds, episodes]``
    (episodes resampled within each seed, ``analysis.bootstrap``)."""
    from analysis.bootstrap import interval_estimates
    from analysis.metrics import mean

    matrix = np.asarray(samples, np.float64).T  # runs (episodes) × tasks (seeds)
    points, intervals = interval_estimates({"x": matrix}, mean, reps=reps, seed=0)
    return float(points["x"][0]), float(intervals["x"][0, 0]), float(intervals["x"][1, 0])


def result_rows(
    scenario: Scenario, samples: dict[str, np.ndarray], num_agents: int, reps: int
) -> list[dict[str, Any]]:
    """One row per k: focal and background per-capita returns with 95% intervals."""
    rows = []
    for i, k in enumerate(scenario.focal_agents):
        row: dict[str, Any] = {
            "scenario": scenario.name,
            "env": scenario.env,
            "agents": num_agents,
            "focal_agents": k,
        }
        for name in ("focal", "background"):
            values = samples[name][:, i]
            if np.isnan(values).any():
                row.update({name: None, f"{name}_lo": None, f"{name}_hi": None})
                continue
            m, lo, hi = interval(values, reps)
            row.update({name: m, f"{name}_lo": lo, f"{name}_hi": hi})
        row["episodes"] = int(samples["focal"][:, i].size)
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- the store
def member_identity(member: Member) -> dict[str, Any]:
    """What a member is: a bot's name, or a checkpoint's run, steps and content digest."""
    if member.kind == "scripted":
        return {"scripted": member.name}
    path, meta = checkpoint_file(member.run)
    return {
        "run": str(member.run),
        "checkpoint": path.name,
        "steps": int(meta["steps"]),
        "sha256": file_digest(path),
    }


def bots_identity(env: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The scripted bots a scenario plays: their options with the defaults filled in, and a
    hash of their source (the bots have no version number; a redesign changes the hash)."""
    import envs.social.scripted as scripted

    resolved = {**scripted.policy_options(env), **options}
    return {"options": resolved, "source": file_digest(Path(scripted.__file__))}


def fingerprint(
    scenario: Scenario,
    identities: dict[str, list[dict]],
    env_version: Any,
    bots: dict[str, Any] | None = None,
) -> str:
    """Hash of what a result depends on: the scenario's fields, the env version, the members
    (checkpoints by content, so a retrained or moved run is recognised as such) and, when
    bots play, :func:`bots_identity`."""
    body = {
        "bots": bots,
        "protocol": PROTOCOL_VERSION,
        "env": scenario.env,
        "env_options": scenario.env_options,
        "env_version": env_version,
        "agents": scenario.agents,
        "focal_agents": list(scenario.focal_agents),
        "episodes": scenario.episodes,
        "steps": scenario.steps,
        "seeds": list(scenario.seeds),
        "focal": [_content(i) for i in identities["focal"]],
        "background": [_content(i) for i in identities["background"]],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def _content(identity: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in identity.items() if k not in ("run", "checkpoint")}


def read_result(path: Path) -> dict[str, Any] | None:
    """A stored result (None when absent or unreadable: it is computed again)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


CSV_FIELDS = (
    "scenario",
    "env",
    "agents",
    "focal_agents",
    "focal",
    "focal_lo",
    "focal_hi",
    "background",
    "background_lo",
    "background_hi",
    "episodes",
)


def csv_text(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV (empty cells for missing background returns)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in CSV_FIELDS})
    return buffer.getvalue()


class Heartbeat:
    """A plain progress line every ``interval`` seconds while a long call runs (readable in a
    log file as on a terminal), as ``explore sweep`` does without a terminal."""

    def __init__(self, say: Callable[[str], None], what: str, interval: float = 30.0) -> None:
        self.say, self.what, self.interval = say, what, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="evaluate-progress")
        self._started = time.monotonic()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.say(f"  … {self.what}: running, {time.monotonic() - self._started:.0f} s")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class Outcome:
    """What :func:`evaluate_spec` did: every scenario's rows, and which ran or were skipped."""

    rows: list[dict[str, Any]]
    ran: list[str]
    skipped: list[str]
    folder: Path


def evaluate_spec(
    spec: EvaluationSpec,
    out: str | Path,
    say: Callable[[str], None] = print,
    reps: int = DEFAULT_REPS,
    only: list[str] | None = None,
    heartbeat: float = 30.0,
) -> Outcome:
    """Run every scenario of ``spec`` whose stored result is missing or out of date."""
    import envs

    folder = Path(out) / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    if spec.text:
        atomic_write_text(folder / "evaluate.yaml", spec.text)
    scenarios = list(spec.scenarios)
    if only:
        names = [s.name for s in scenarios]
        for name in only:
            if name not in names:
                raise ValueError(
                    f"--scenario: no scenario {name!r} in {spec.name}.{did_you_mean(name, names)}"
                )
        scenarios = [s for s in scenarios if s.name in only]
    all_rows: list[dict[str, Any]] = []
    ran, skipped = [], []
    for number, scenario in enumerate(scenarios, 1):
        at = f"{_where(spec.path)}scenarios.{scenario.name}"
        env, env_params = make_env(scenario, at)
        n = env.num_agents
        for k in scenario.focal_agents:
            if k > n:
                raise ValueError(f"{at}.focal_agents: {k} > the env's {n} agents")
        if not scenario.background and min(scenario.focal_agents) < n:
            raise ValueError(
                f"{at}.background: missing; mixes with fewer than {n} focal agents need one"
            )
        bots = _check_bots(scenario, env, at)
        identities = {
            "focal": [member_identity(m) for m in scenario.focal],
            "background": [member_identity(m) for m in scenario.background],
        }
        env_version = envs.env_version(scenario.env)
        digest = fingerprint(scenario, identities, env_version, bots)
        path = folder / f"{scenario.name}.json"
        previous = read_result(path)
        if previous is not None and previous.get("fingerprint") == digest:
            say(f"[{number}/{len(scenarios)}] {scenario.name}: done before, skipped ({digest})")
            all_rows += previous["rows"]
            skipped.append(scenario.name)
            continue
        if previous is not None:
            say(f"[{number}/{len(scenarios)}] {scenario.name}: scenario or checkpoints changed")
        samples, rows, seconds = _run_scenario(
            scenario, env, env_params, at, (number, len(scenarios)), say, reps, heartbeat
        )
        record = {
            "name": scenario.name,
            "spec": spec.name,
            "fingerprint": digest,
            "protocol": PROTOCOL_VERSION,
            "scenario": {
                "env": scenario.env,
                "env_options": scenario.env_options,
                "env_version": env_version,
                "agents": n,
                "bots": bots,
                "focal": scenario.focal_text,
                "background": scenario.background_text,
                "focal_agents": list(scenario.focal_agents),
                "episodes": scenario.episodes,
                "steps": scenario.steps,
                "seeds": list(scenario.seeds),
                "description": scenario.description,
            },
            "members": identities,
            "rows": rows,
            # Per-episode returns [seed][k][episode], for other statistics later.
            "samples": {
                name: [[[_plain(v) for v in ep] for ep in seed] for seed in values]
                for name, values in samples.items()
            },
            "seconds": seconds,
            "finished": now(),
            "versions": versions(),
        }
        atomic_write_text(path, json.dumps(record, indent=1))
        atomic_write_text(folder / f"{scenario.name}.csv", csv_text(rows))
        all_rows += rows
        ran.append(scenario.name)
    if not only:
        atomic_write_text(folder / "evaluation.csv", csv_text(all_rows))
    return Outcome(all_rows, ran, skipped, folder)


def _check_bots(scenario: Scenario, env: Any, at: str) -> dict[str, Any] | None:
    """The bots' identity when the scenario has scripted members (their options checked by
    ``scripted_policy``'s own one-line errors), else None (and no ``bot_options`` allowed)."""
    from envs.social.scripted import scripted_policy

    members = [*scenario.focal, *scenario.background]
    if not any(m.kind == "scripted" for m in members):
        if scenario.bot_options:
            raise ValueError(f"{at}.bot_options: no scripted bots in this scenario")
        return None
    try:
        scripted_policy(env, **scenario.bot_options)
    except ValueError as err:
        raise ValueError(f"{at}.bot_options: {err}") from None
    return bots_identity(env, scenario.bot_options)


def _plain(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _run_scenario(
    scenario: Scenario,
    env: Any,
    env_params: Any,
    at: str,
    position: tuple[int, int],
    say: Callable[[str], None],
    reps: int,
    heartbeat: float,
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]], float]:
    """Load the checkpoints, compile the scenario's program and play every seed."""
    started = time.monotonic()
    number, total = position
    members = [*scenario.focal, *scenario.background]
    checkpoints = list(dict.fromkeys(m for m in members if m.kind == "checkpoint"))

    def where(member: Member) -> str:
        return f"{at}.{'focal' if member in scenario.focal else 'background'}.runs"

    groups = checkpoint_groups(checkpoints, env, env_params, where)
    n = env.num_agents
    say(
        f"[{number}/{total}] {scenario.name}: {scenario.env}, {n} agents, k = "
        f"{', '.join(map(str, scenario.focal_agents))} focal; {scenario.episodes} episodes × "
        f"{len(scenario.seeds)} seeds × {scenario.steps} steps"
        + (f"; {len(checkpoints)} checkpoints" if checkpoints else "")
    )
    run = build_rollout(
        env,
        env_params,
        scenario.steps,
        scenario.episodes,
        list(scenario.focal),
        list(scenario.background),
        groups,
        env_key=json.dumps([scenario.env, scenario.env_options, n], sort_keys=True),
        bot_options=scenario.bot_options,
    )
    per_seed: list[dict[str, np.ndarray]] = []
    for i, seed in enumerate(scenario.seeds):
        what = f"{scenario.name} seed {seed}" + (" (compiling)" if i == 0 and run.compiles else "")
        t0 = time.monotonic()
        with Heartbeat(say, what, heartbeat):
            per_seed.append(run(seed, list(scenario.focal_agents)))
        say(
            f"  seed {seed} ({i + 1}/{len(scenario.seeds)}): "
            f"{len(scenario.focal_agents) * scenario.episodes} episodes in "
            f"{time.monotonic() - t0:.1f} s"
        )
    samples = {name: np.stack([s[name] for s in per_seed]) for name in per_seed[0]}
    rows = result_rows(scenario, samples, n, reps)
    return samples, rows, round(time.monotonic() - started, 1)
