"""The environment contract as checks: ``explore check env=NAME`` and the test suite run these.

:func:`check_env` runs, in order (``cheap=True`` stops after the first two, which compile
nothing, and is what ``explore train`` runs before training):

``spaces``
    ``observation_space()`` is a :class:`~envs.spaces.Box`, ``action_space()`` a
    :class:`~envs.spaces.Discrete`; a multi-objective env's ``reward_space()`` a ``Box [m]``;
    the declarations agents read (``num_agents``, ``vector_reward``) match the kind.
``shapes``
    ``reset`` and ``step`` traced abstractly (``jax.eval_shape``), alone and under
    ``jax.vmap``: observation, reward, ``terminated``/``truncated`` and the required ``info``
    keys (:func:`required_info`) with their shapes and dtypes.
``rollout``
    a jitted, vmapped random rollout with short episodes (``max_steps_in_episode`` lowered
    where the params have it, so episodes end and auto-reset within it): finite rewards,
    ``info["final_observation"]`` equal to the observation wherever no episode ended, and
    the same seed giving the same trajectory bit for bit.
``door``
    by kind: Gymnasium's env checker (``gymnasium.make("explore/<Name>-v<version>")``),
    MO-Gymnasium's wrappers (``LinearReward``, ``MORecordEpisodeStatistics``), or
    PettingZoo's ``parallel_api_test`` plus a multi-step determinism test through the door.
``solvable``
    gridworlds: every sampled layout solvable by the planner (:mod:`envs.gridworld.solver`).

A failure raises :class:`ContractError`, one line naming the env, what is wrong, what was
expected (key, shape, dtype) and the docs page.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from envs.registry import KINDS, make, spec
from envs.spaces import Box, Discrete

DOCS = "docs/extending.md"
ROLLOUT_STEPS = 48
ROLLOUT_BATCH = 4
# Short episodes in the rollout check (when the env's params have the field), so that
# auto-reset is exercised within ROLLOUT_STEPS; it is a traced parameter, nothing recompiles.
SHORT_EPISODE = 12
LAYOUTS = 32


class ContractError(ValueError):
    """An env or bonus breaks the contract; the message is one line ending with the docs page."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message} (see {DOCS})")
        self.name = name


def _kind_of(name: str, env: Any) -> str:
    try:
        return spec(name).kind
    except KeyError:  # gymnax ids and envs built by hand
        if getattr(env, "num_agents", 1) >= 2:
            return "multi-agent"
        return "multi-objective" if getattr(env, "vector_reward", False) else "single-agent"


def num_agents(env: Any, kind: str) -> int | None:
    """N for a multi-agent env (its ``num_agents``), else None."""
    return int(env.num_agents) if kind == "multi-agent" else None


def required_info(
    kind: str, obs: jax.ShapeDtypeStruct, n: int | None
) -> dict[str, tuple[tuple[int, ...], str, str]]:
    """The ``info`` keys ``step`` must return: key → (shape, dtype, meaning)."""
    per_agent = () if n is None else (n,)
    return {
        "success": ((), "bool", "whether the episode's goal was reached at this step"),
        "event": (per_agent, "int32", "caption code of what happened (0: nothing)"),
        "final_observation": (
            tuple(obs.shape),
            str(obs.dtype),
            "the last observation of the step before any auto-reset",
        ),
    }


def _fmt(shape: tuple[int, ...], dtype: Any) -> str:
    return f"{np.dtype(dtype).name}[{', '.join(str(s) for s in shape)}]"


def _expect(name: str, what: str, value: Any, shape: tuple, dtype: str, why: str = "") -> None:
    got_shape = tuple(getattr(value, "shape", ()))
    got_dtype = getattr(value, "dtype", type(value))
    try:
        dtype_ok = np.dtype(got_dtype) == np.dtype(dtype)
    except TypeError:
        dtype_ok = False
    if got_shape != tuple(shape) or not dtype_ok:
        got = _fmt(got_shape, got_dtype) if hasattr(value, "dtype") else type(value).__name__
        meaning = f" — {why}" if why else ""
        raise ContractError(name, f"{what} is {got}, expected {_fmt(shape, dtype)}{meaning}")


def _spaces(name: str, env: Any, params: Any, kind: str) -> tuple[Box, Discrete]:
    try:
        obs_space = env.observation_space(params)
        act_space = env.action_space(params)
    except NotImplementedError:
        raise ContractError(
            name, "observation_space() and action_space() must be implemented"
        ) from None
    if not isinstance(obs_space, Box):
        raise ContractError(
            name,
            f"observation_space() returned {type(obs_space).__name__}, expected envs.spaces.Box",
        )
    if not isinstance(act_space, Discrete):
        raise ContractError(
            name,
            f"action_space() returned {type(act_space).__name__}, expected envs.spaces.Discrete",
        )
    if int(act_space.n) < 1:
        raise ContractError(name, f"action_space().n is {act_space.n}, expected ≥ 1")
    if kind == "multi-objective":
        reward_space = getattr(env, "reward_space", None)
        if reward_space is None:
            raise ContractError(name, "a multi-objective env needs reward_space() -> Box [m]")
        rs = reward_space(params) if _takes_args(reward_space) else reward_space()
        if not isinstance(rs, Box) or len(rs.shape) != 1:
            raise ContractError(name, f"reward_space() is {rs!r}, expected a Box of shape [m]")
    # The declarations agents read (envs.core.Environment) must match the registered kind.
    n = getattr(env, "num_agents", 1)
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 1:
        raise ContractError(name, f"num_agents is {n!r}, expected an integer ≥ 1")
    if (kind == "multi-agent") != (n >= 2):
        expected = "≥ 2" if kind == "multi-agent" else "1"
        raise ContractError(
            name, f"registered as kind={kind!r} but num_agents is {n}, expected {expected}"
        )
    vector = bool(getattr(env, "vector_reward", False))
    if (kind == "multi-objective") != vector:
        raise ContractError(
            name,
            f"registered as kind={kind!r} but vector_reward is {vector}, expected "
            f"{kind == 'multi-objective'} (multi-objective envs return a reward vector [m])",
        )
    return obs_space, act_space


def _takes_args(fn: Callable) -> bool:
    import inspect

    try:
        return bool(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return False


def _reward_shape(env: Any, params: Any, kind: str, n: int | None) -> tuple[int, ...]:
    if kind == "multi-objective":
        rs = env.reward_space(params) if _takes_args(env.reward_space) else env.reward_space()
        return tuple(rs.shape)
    return () if n is None else (n,)


def _action(act_space: Discrete, n: int | None) -> jax.Array:
    return jnp.zeros(() if n is None else (n,), jnp.int32)


def _check_step_outputs(
    name: str,
    kind: str,
    out: tuple,
    obs_expected: jax.ShapeDtypeStruct,
    reward_shape: tuple[int, ...],
    n: int | None,
    lead: tuple[int, ...] = (),
) -> None:
    if not isinstance(out, tuple) or len(out) != 6:
        raise ContractError(
            name, "step must return (obs, state, reward, terminated, truncated, info)"
        )
    obs, _, reward, terminated, truncated, info = out
    where = "under jax.vmap, " if lead else ""
    _expect(name, f"{where}step's obs", obs, lead + obs_expected.shape, obs_expected.dtype)
    _expect(name, f"{where}step's reward", reward, lead + reward_shape, "float32")
    _expect(name, f"{where}step's terminated", terminated, lead, "bool")
    _expect(name, f"{where}step's truncated", truncated, lead, "bool")
    if not isinstance(info, dict):
        raise ContractError(name, f"step's info is {type(info).__name__}, expected a dict")
    for key, (shape, dtype, why) in required_info(kind, obs_expected, n).items():
        if key not in info:
            raise ContractError(
                name,
                f"step's info is missing the key {key!r} (expected {_fmt(shape, dtype)}: {why})",
            )
        _expect(name, f"{where}info[{key!r}]", info[key], lead + shape, dtype, why)


def check_shapes(name: str, env: Any, params: Any, kind: str) -> str:
    """Trace reset and step abstractly (nothing compiles); raise on a contract breach."""
    obs_space, act_space = _spaces(name, env, params, kind)
    n = num_agents(env, kind)
    obs_shape = tuple(obs_space.shape) if n is None else (n, *obs_space.shape)
    expected = jax.ShapeDtypeStruct(obs_shape, np.dtype(obs_space.dtype))
    key = jax.random.PRNGKey(0)
    try:
        obs, state = jax.eval_shape(env.reset, key, params)
    except ContractError:
        raise
    except Exception as err:
        raise ContractError(name, f"reset failed: {type(err).__name__}: {_line(err)}") from err
    _expect(name, "reset's obs", obs, expected.shape, expected.dtype)
    reward_shape = _reward_shape(env, params, kind, n)
    action = _action(act_space, n)
    try:
        out = jax.eval_shape(env.step, key, state, action, params)
    except Exception as err:
        raise ContractError(
            name, f"step failed under jax tracing: {type(err).__name__}: {_line(err)}"
        ) from err
    _check_step_outputs(name, kind, out, expected, reward_shape, n)
    keys = jax.random.split(key, 2)
    try:
        _, batched_state = jax.eval_shape(jax.vmap(env.reset, (0, None)), keys, params)
        actions = jnp.stack([action, action])
        out = jax.eval_shape(
            jax.vmap(env.step, (0, 0, 0, None)), keys, batched_state, actions, params
        )
    except Exception as err:
        raise ContractError(
            name, f"reset/step fail under jax.vmap: {type(err).__name__}: {_line(err)}"
        ) from err
    _check_step_outputs(name, kind, out, expected, reward_shape, n, lead=(2,))
    info = "" if n is None else f", {n} agents"
    if kind == "multi-objective":
        info = f", {reward_shape[0]} objectives"
    return (
        f"obs {_fmt(expected.shape, expected.dtype)}, {act_space.n} actions{info}; "
        "reset/step trace alone and under vmap with the required info keys"
    )


def _line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text[:300]


def _short_params(params: Any) -> Any:
    if hasattr(params, "replace") and hasattr(params, "max_steps_in_episode"):
        try:
            limit = int(params.max_steps_in_episode)
        except (TypeError, jax.errors.ConcretizationTypeError):
            return params
        return params.replace(max_steps_in_episode=min(limit, SHORT_EPISODE))
    return params


def check_rollout(name: str, env: Any, params: Any, kind: str) -> str:
    """Jitted, vmapped random rollout: final observations, auto-reset, jit = vmap, seeds."""
    _, act_space = _spaces(name, env, params, kind)
    n = num_agents(env, kind)
    params = _short_params(params)
    action_shape = () if n is None else (n,)

    def rollout(key):
        key, reset_key = jax.random.split(key)
        obs, state = jax.vmap(env.reset, (0, None))(
            jax.random.split(reset_key, ROLLOUT_BATCH), params
        )

        def body(carry, k):
            _, state = carry
            k_act, k_step = jax.random.split(k)
            actions = jax.random.randint(
                k_act, (ROLLOUT_BATCH, *action_shape), 0, act_space.n, jnp.int32
            )
            step_keys = jax.random.split(k_step, ROLLOUT_BATCH)
            new_obs, new_state, reward, term, trunc, info = jax.vmap(env.step, (0, 0, 0, None))(
                step_keys, state, actions, params
            )
            out = {
                "obs": new_obs,
                "final": info["final_observation"],
                "reward": reward,
                "done": term | trunc,
                "success": info["success"],
                "event": info["event"],
            }
            return (new_obs, new_state), out

        _, trace = jax.lax.scan(body, (obs, state), jax.random.split(key, ROLLOUT_STEPS))
        return trace

    # One compiled program, run twice: the second run must repeat the first bit for bit.
    try:
        run = jax.jit(rollout)
        trace = jax.device_get(run(jax.random.PRNGKey(0)))
        again = jax.device_get(run(jax.random.PRNGKey(0)))
    except Exception as err:
        raise ContractError(
            name, f"jitted, vmapped rollout failed: {type(err).__name__}: {_line(err)}"
        ) from err
    if not np.all(np.isfinite(trace["reward"])):
        raise ContractError(name, "step returned a non-finite reward")
    done = np.asarray(trace["done"])
    obs_axes = tuple(range(2, np.ndim(trace["obs"])))
    same = np.all(trace["obs"] == trace["final"], axis=obs_axes)
    if not np.all(same[~done]):
        raise ContractError(
            name,
            "info['final_observation'] differs from the observation on a step where no "
            "episode ended (it must be the step's own observation before any auto-reset)",
        )
    for key in trace:
        if not np.array_equal(trace[key], again[key]):
            raise ContractError(
                name,
                f"the same seed gave another trajectory ({key} differs): keep all "
                "randomness in the JAX key",
            )
    ended = int(done.sum())
    return (
        f"jit(vmap) rollout of {ROLLOUT_STEPS}×{ROLLOUT_BATCH} random steps ({ended} episode "
        "ends): final_observation right, same seed → same trajectory"
    )


def check_door(name: str, env: Any, params: Any, kind: str) -> str:
    """The kind's door: Gymnasium's checker, MO-Gymnasium's wrappers, PettingZoo's tests."""
    if kind in ("gridworld", "single-agent"):
        import gymnasium
        from gymnasium.utils.env_checker import check_env as gymnasium_check

        env_id = spec(name).gymnasium_id
        door = gymnasium.make(env_id, disable_env_checker=True)
        try:
            gymnasium_check(door.unwrapped, skip_render_check=True)
        except Exception as err:
            raise ContractError(
                name, f"Gymnasium's env checker: {type(err).__name__}: {_line(err)}"
            ) from err
        finally:
            door.close()
        return f"gymnasium.make({env_id!r}) passes Gymnasium's env checker"
    if kind == "multi-objective":
        import mo_gymnasium
        from mo_gymnasium.wrappers import LinearReward, MORecordEpisodeStatistics

        env_id = spec(name).gymnasium_id
        try:
            door = mo_gymnasium.make(env_id)
            m = int(door.unwrapped.reward_dim)
            wrapped = MORecordEpisodeStatistics(
                LinearReward(door, weight=np.full(m, 1.0 / m, np.float32)), gamma=0.9
            )
            wrapped.reset(seed=0)
            wrapped.action_space.seed(0)
            for _ in range(2 * SHORT_EPISODE):
                _, reward, term, trunc, _ = wrapped.step(wrapped.action_space.sample())
                if not np.isscalar(reward) and np.ndim(reward) != 0:
                    raise ValueError(f"LinearReward gave a reward of shape {np.shape(reward)}")
                if term or trunc:
                    wrapped.reset()
            wrapped.close()
        except Exception as err:
            raise ContractError(
                name, f"MO-Gymnasium door: {type(err).__name__}: {_line(err)}"
            ) from err
        return (
            f"mo_gymnasium.make({env_id!r}) works with LinearReward and MORecordEpisodeStatistics"
        )
    if kind == "multi-agent":
        from pettingzoo.test import parallel_api_test

        from envs.pettingzoo import parallel_env

        try:
            door = parallel_env(name)  # one door: its jitted reset and step compile once
            with contextlib.redirect_stdout(io.StringIO()):  # its "Passed ..." line
                parallel_api_test(door, num_cycles=2 * SHORT_EPISODE)
            traces = []
            for _ in range(2):
                observations, _ = door.reset(seed=3)
                rng = np.random.default_rng(0)
                trace = []
                for _ in range(2 * SHORT_EPISODE):
                    if not door.agents:
                        observations, _ = door.reset()
                    actions = {a: int(rng.integers(door.action_space(a).n)) for a in door.agents}
                    observations, rewards, *_ = door.step(actions)
                    trace.append((observations, rewards))
                traces.append(trace)
            for (o1, r1), (o2, r2) in zip(*traces, strict=True):
                if r1 != r2 or any(not np.array_equal(o1[a], o2[a]) for a in o1):
                    raise ValueError("reset(seed=3) twice gave different trajectories")
        except Exception as err:
            raise ContractError(
                name, f"PettingZoo door: {type(err).__name__}: {_line(err)}"
            ) from err
        return "parallel_env passes PettingZoo's parallel_api_test; reset(seed) is deterministic"
    return "no door for this kind"


def check_solvable(name: str, env: Any, params: Any, kind: str, layouts: int = LAYOUTS) -> str:
    """Gridworlds: ``layouts`` sampled layouts are all solvable by the planner."""
    from envs.gridworld.solver import preview, solvable

    task = getattr(env, "task", None)
    if task is None:
        raise ContractError(name, "a gridworld env needs .task (an envs.gridworld.Task)")
    keys = jax.random.split(jax.random.PRNGKey(2024), layouts)
    lay = jax.device_get(jax.jit(jax.vmap(task.generate))(keys))
    for i in range(layouts):
        if not solvable(lay.grid[i], lay.agent_pos[i], int(lay.target[i])):
            picture = preview(lay.grid[i], lay.agent_pos[i]).replace("\n", "/")
            raise ContractError(
                name, f"layout {i} of {layouts} cannot be solved by the planner: {picture}"
            )
    return f"{layouts} sampled layouts solvable by the planner"


CHEAP = ("spaces", "shapes")
CHECKS = ("spaces", "shapes", "rollout", "door", "solvable")


def check_env(
    name: str,
    *,
    cheap: bool = False,
    skip: tuple[str, ...] = (),
    env: tuple[Any, Any] | None = None,
    **overrides: Any,
) -> list[tuple[str, str]]:
    """Run the contract's checks on env ``name``; returns ``[(check, what it showed)]``.

    ``cheap``: only the checks that compile nothing (``explore train`` runs these first).
    ``skip``: names of checks to leave out. ``env``: an already built ``(env, params)``.
    Raises :class:`ContractError` (one line) at the first breach.
    """
    try:
        built, params = env if env is not None else make(name, **overrides)
    except (KeyError, ContractError):
        raise
    except Exception as err:
        raise ContractError(name, f"envs.make failed: {type(err).__name__}: {_line(err)}") from err
    kind = _kind_of(name, built)
    if kind not in KINDS:
        raise ContractError(name, f"unknown kind {kind!r}")
    done: list[tuple[str, str]] = []
    obs_space, act_space = _spaces(name, built, params, kind)
    shown = _fmt(tuple(obs_space.shape), obs_space.dtype)
    done.append(("spaces", f"{kind}: Box {shown}, Discrete({act_space.n})"))
    steps: list[tuple[str, Callable[..., str]]] = [("shapes", check_shapes)]
    if not cheap:
        steps += [("rollout", check_rollout)]
        if not name.startswith("gymnax:"):
            steps += [("door", check_door)]
        if kind == "gridworld":
            steps += [("solvable", check_solvable)]
    for check, fn in steps:
        if check in skip:
            continue
        done.append((check, fn(name, built, params, kind)))
    return done


__all__ = [
    "CHECKS",
    "DOCS",
    "ContractError",
    "check_door",
    "check_env",
    "check_rollout",
    "check_shapes",
    "check_solvable",
    "required_info",
]
