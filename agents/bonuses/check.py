"""The intrinsic-reward contract as checks: ``explore check bonus=SPEC`` and the tests run these.

:func:`check_bonus` builds the bonus from its spec (with the env context it declares,
:attr:`Bonus.env_context`) and checks, on scripted grid observations ``[T, N, 7, 7, 3]``
(for a social bonus, ``N = E·agents`` with every agent's reward and policy logits):

``shapes``
    ``init`` vmapped over seeds and ``reward_and_update`` jitted and vmapped, on NumPy
    batches: rewards ``float32 [seeds, T, N]`` and finite, metrics one scalar per seed.
``purity``
    ``reward_and_update`` twice on the same state and batch gives the same rewards and state
    (no hidden Python-side state).
``episodic``
    (when :attr:`Bonus.episodic`) after a ``done``, an env's rewards are those of a fresh
    episodic state: env 0's second episode, moved to the start of the batch, scores the same.
``checkpoint``
    the state survives a round trip through :mod:`agents.bonuses.checkpoint`.
``vmapped-init``
    (``subprocess=True``) ``init`` vmapped over 8 seeds in a fresh process with a timeout: an
    initialiser that deadlocks under ``vmap`` (a batched QR on the CPU; use
    ``agents.networks.orthogonal``) fails instead of hanging.

A failure raises :class:`envs.check.ContractError`: one line with the docs page.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from agents.bonuses import _declared, env_context, make, parse_spec
from agents.bonuses.base import Bonus, Transitions
from envs.check import ContractError
from envs.spaces import Box, Discrete

GRID = Box(0, 15, (7, 7, 3), np.uint8)
ACTIONS = Discrete(4)
T, ENVS, SEEDS, AGENTS = 4, 3, 2, 2
INIT_SEEDS = 8
INIT_TIMEOUT = 240
# Caption table and task handed to bonuses that declare they read them (env_context).
CAPTIONS = ("", "You pick up the key.", "You open the door.", "You reach the goal.")
TASK = "reach the goal"


def _line(err: BaseException) -> str:
    return " ".join(str(err).split())[:300]


def build(spec: str) -> Bonus:
    """The bonus of ``spec`` with the env context it declares (captions, task)."""
    context = {"captions": CAPTIONS, "task": TASK}
    kwargs = {k: v for k, v in context.items() if k in env_context(spec)}
    return make(spec, **kwargs)


def _is_social(spec: str) -> bool:
    try:
        return any(_declared(name).social for name in _parts(spec))
    except ValueError:
        return False


def _parts(spec: str) -> list[str]:
    name, args, _ = parse_spec(spec)
    names = [name]
    for arg in args:
        if isinstance(arg, str):
            with contextlib.suppress(ValueError):
                names += _parts(arg)
    return names


#: Network sizes :func:`small_spec` sets, for whichever of these fields a bonus has.
SMALL_FIELDS = {"hidden": 16, "out_dim": 8, "latent_dim": 8, "embed_dim": 8, "feature_dim": 8}


def small_spec(name: str) -> str:
    """The registered example of bonus ``name`` with small networks (cheap to compile): the
    :data:`SMALL_FIELDS` its constructor takes; the example itself when it has arguments."""
    from agents.bonuses import info

    entry = info(name)
    example = entry["example"]
    if example != name:
        return example
    small = [f"{k}={v}" for k, v in SMALL_FIELDS.items() if k in entry["fields"]]
    return f"{name}({','.join(small)})" if small else name


def batch(seed: int, envs: int, done_env0_at: int | None = 1, unique_env0: bool = False):
    """A NumPy batch ``[SEEDS, T, envs, 7, 7, 3]`` of uint8 grids (the seed axis leads).

    ``unique_env0``: env 0's observations after its ``done`` are drawn from prototypes no
    other transition uses, so global parts of a bonus (counts over the batch) see them as new
    wherever they sit in the batch.
    """
    rng = np.random.default_rng(seed)
    protos = rng.integers(0, 11, (5 + 2 * T, 7, 7, 3)).astype(np.uint8)
    obs = protos[rng.integers(0, 5, (SEEDS, T, envs))]
    next_obs = protos[rng.integers(0, 5, (SEEDS, T, envs))]
    done = np.zeros((SEEDS, T, envs), bool)
    if done_env0_at is not None:
        done[:, done_env0_at, 0] = True
        if unique_env0:
            after = np.arange(done_env0_at + 1, T)
            obs[:, after, 0] = protos[5 + after]
            next_obs[:, after, 0] = protos[5 + T + after]
    action = rng.integers(0, ACTIONS.n, (SEEDS, T, envs))
    event = rng.integers(0, len(CAPTIONS), (SEEDS, T, envs))
    out = Transitions.from_arrays(obs, action, next_obs, done, event)
    return out


def _social_fields(tr: Transitions, seed: int, envs: int) -> Transitions:
    """Every agent's reward and policy logits (what a multi-agent agent fills)."""
    rng = np.random.default_rng(100 + seed)
    a = ACTIONS.n
    return tr.replace(
        reward=jnp.asarray(rng.normal(size=(SEEDS, T, envs)), jnp.float32),
        logits=jnp.asarray(rng.normal(size=(SEEDS, T, envs, a)), jnp.float32),
        counterfactual_logits=jnp.asarray(
            rng.normal(size=(SEEDS, T, envs, AGENTS, a, a)), jnp.float32
        ),
    )


def check_bonus(
    spec: str, *, subprocess: bool = True, plugins: list[str] | None = None
) -> list[tuple[str, str]]:
    """Run the contract's checks on the bonus ``spec``; returns ``[(check, what it showed)]``.

    ``subprocess``: also the vmapped init in a fresh process (``plugins``: modules it imports
    first, so a plugin's bonus exists there). Raises :class:`ContractError` at the first breach.
    """
    try:
        bonus = build(spec)
    except (KeyError, ValueError):
        raise
    except Exception as err:
        raise ContractError(
            f"bonus {spec}", f"building it failed: {type(err).__name__}: {_line(err)}"
        ) from err
    name = f"bonus {spec}"
    if not isinstance(bonus, Bonus):
        raise ContractError(name, f"the factory returned {type(bonus).__name__}, not a Bonus")
    social = _is_social(spec) or bonus.social
    envs = ENVS * AGENTS if social else ENVS
    if social:
        bonus.bind(AGENTS)

    def data(seed: int, **kw: Any) -> Transitions:
        tr = batch(seed, envs, **kw)
        return _social_fields(tr, seed, envs) if social else tr

    done: list[tuple[str, str]] = []
    keys = jax.random.split(jax.random.PRNGKey(0), SEEDS)
    try:
        init = jax.jit(jax.vmap(lambda k: bonus.init(k, GRID, ACTIONS, envs)))
        step = jax.jit(jax.vmap(bonus.reward_and_update))
        fresh = init(keys)
        r, state, _ = step(fresh, data(0))
        r2, state, metrics = step(state, data(1))
    except Exception as err:
        raise ContractError(
            name,
            f"init/reward_and_update under jit and vmap failed: {type(err).__name__}: {_line(err)}",
        ) from err
    for out in (r, r2):
        if out.shape != (SEEDS, T, envs) or out.dtype != jnp.float32:
            raise ContractError(
                name,
                f"the reward is {np.dtype(out.dtype).name}{list(out.shape)} for batches "
                f"[T={T}, N={envs}] over {SEEDS} seeds, expected float32"
                f"{[SEEDS, T, envs]} (one reward per transition)",
            )
        if not np.all(np.isfinite(np.asarray(out))):
            raise ContractError(name, "the reward has non-finite values")
    if not isinstance(metrics, dict):
        raise ContractError(name, f"update's metrics are {type(metrics).__name__}, expected dict")
    for key, value in metrics.items():
        if np.shape(value) != (SEEDS,):
            raise ContractError(
                name,
                f"metric {key!r} has shape {list(np.shape(value))} per seed-batch, "
                f"expected one scalar per seed ({[SEEDS]} under vmap)",
            )
    done.append(
        (
            "shapes",
            f"init and reward_and_update jit and vmap over {SEEDS} seeds; "
            f"reward float32[T, N], {len(metrics)} scalar metrics",
        )
    )

    b = data(2)
    first, state_a, _ = step(state, b)
    again, state_b, _ = step(state, b)
    if not np.array_equal(np.asarray(first), np.asarray(again)) or not all(
        np.array_equal(np.asarray(x), np.asarray(y))
        for x, y in zip(jax.tree.leaves(state_a), jax.tree.leaves(state_b), strict=True)
    ):
        raise ContractError(
            name,
            "reward_and_update is not pure: the same state and batch gave other results "
            "(keep all state in the pytree init returns)",
        )
    done.append(("purity", "the same state and batch give the same rewards and state"))

    if bonus.episodic:
        b = data(3, done_env0_at=1, unique_env0=True)
        rolled = jax.tree.map(lambda x: jnp.roll(jnp.asarray(x), -2, axis=1), b)
        r_b, _, _ = step(fresh, b)
        r_fresh, _, _ = step(fresh, rolled)
        columns = range(AGENTS) if social else [0]
        for c in columns:
            if not np.allclose(
                np.asarray(r_b)[:, 2:, c], np.asarray(r_fresh)[:, :2, c], rtol=1e-4, atol=1e-6
            ):
                raise ContractError(
                    name,
                    "episodic: after done, an env's rewards are not those of a fresh episode "
                    "(reset its per-env state where batch.done, e.g. with episodic_reset)",
                )
        done.append(("episodic", "after done, an env scores as in a fresh episode"))

    from agents.bonuses.checkpoint import load_state, save_state

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = save_state(Path(tmp) / "bonus", state)
            loaded = load_state(path, init(jax.random.split(jax.random.PRNGKey(9), SEEDS)))
        except Exception as err:
            raise ContractError(
                name, f"checkpoint round trip failed: {type(err).__name__}: {_line(err)}"
            ) from err
    for a, c in zip(jax.tree.leaves(loaded), jax.tree.leaves(state), strict=True):
        if a.dtype != c.dtype or not np.array_equal(np.asarray(a), np.asarray(c)):
            raise ContractError(name, "the state changed in a checkpoint round trip")
    done.append(("checkpoint", f"{len(jax.tree.leaves(state))} state leaves round-trip"))

    if subprocess:
        done.append(("vmapped-init", check_vmapped_init([spec], plugins=plugins)))
    return done


_INIT_SCRIPT = textwrap.dedent(
    """
    import importlib, json, runpy, sys
    from pathlib import Path

    specs, plugins = json.loads(sys.argv[1])
    for target in plugins:  # the plugins that register the bonuses checked
        if target.endswith(".py"):
            runpy.run_path(target, run_name=Path(target).stem)
        else:
            importlib.import_module(target)
    from agents.bonuses.check import init_many

    init_many(specs)
    print("ok", flush=True)
    """
)


def prepare(spec: str) -> tuple[Bonus, int]:
    """The bonus of ``spec`` ready for ``init`` and the number of envs to init it for (a
    social bonus is bound to :data:`AGENTS` agents, folded into the env axis)."""
    bonus = build(spec)
    if _is_social(spec) or bonus.social:
        bonus.bind(AGENTS)
        return bonus, ENVS * AGENTS
    return bonus, ENVS


def init_many(specs: list[str]) -> None:
    """``init`` of each bonus vmapped over :data:`INIT_SEEDS` seeds (run in a subprocess)."""
    keys = jax.random.split(jax.random.PRNGKey(0), INIT_SEEDS)
    for spec in specs:
        bonus, envs = prepare(spec)
        jax.block_until_ready(
            jax.jit(jax.vmap(lambda k, b=bonus, n=envs: b.init(k, GRID, ACTIONS, n)))(keys)
        )


def check_vmapped_init(
    specs: list[str], plugins: list[str] | None = None, timeout: float = INIT_TIMEOUT
) -> str:
    """``init`` vmapped over 8 seeds for every spec, in a fresh process with a timeout;
    ``plugins``: the modules that process imports first (the caller's ``--import`` list:
    agents imports nothing from ``explore``, which knows it)."""
    argument = json.dumps([list(specs), list(plugins or [])])
    try:
        done = subprocess_run([sys.executable, "-c", _INIT_SCRIPT, argument], timeout)
    except TimeoutError:
        raise ContractError(
            f"bonus {', '.join(specs)}",
            f"init vmapped over {INIT_SEEDS} seeds did not finish in {timeout:.0f} s (a batched "
            "QR deadlocks on the CPU: build orthogonal kernels with agents.networks.orthogonal)",
        ) from None
    if done.returncode != 0 or done.stdout.strip() != "ok":
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ContractError(
            f"bonus {', '.join(specs)}", f"init vmapped over {INIT_SEEDS} seeds failed: {tail}"
        )
    return f"init vmapped over {INIT_SEEDS} seeds finishes in a fresh process"


def subprocess_run(command: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run ``command``; ``TimeoutError`` when it outlives ``timeout`` seconds."""
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise TimeoutError(str(err)) from None


__all__ = [
    "SMALL_FIELDS",
    "build",
    "check_bonus",
    "check_vmapped_init",
    "init_many",
    "prepare",
    "small_spec",
]
