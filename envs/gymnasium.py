"""Gymnasium front door: every gridworld and single-agent env as ``explore/<Name>-v<version>``.

The ids follow from each env's registered kind and version (:func:`envs.register`), so an env
registered later, by a plugin, gets its id at once; the suite's envs are at version 0.

>>> import gymnasium, envs  # ``import envs`` registers the ids (as ``import minigrid`` does)
>>> env = gymnasium.make("explore/DoorKey-8x8-v0", contexts=0)
>>> venv = gymnasium.make_vec("explore/DoorKey-8x8-v0", num_envs=64)  # one jitted, vmapped step

Keyword arguments of ``make`` / ``make_vec`` go to ``envs.make`` (``contexts``,
``noisy_tv``, ``sticky_actions``, ``env_seed``, ...). Observations are NumPy ``uint8``
images; ``info`` carries ``success``, ``event`` and its ``caption``.

Seeding: ``reset(seed=s)`` fixes every later layout and transition, so trajectories are
reproducible; without a seed, keys follow Gymnasium's ``np_random``.

Time limits follow Gymnasium's ``TimeLimit`` (and MiniGrid's own ``step``): the step that
reaches the episode limit returns ``truncated=True`` even when it also terminates the
episode (``terminated=True, truncated=True``). The core's ``step`` reports ``truncated``
only where the limit cut an episode that did not end (see :mod:`envs.core`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs import GYMNASIUM_NAMESPACE, register_gymnasium
from envs.core import Environment
from envs.registry import make

NAMESPACE = GYMNASIUM_NAMESPACE
_MAX_SEED = 2**31 - 1


def _spaces(env: Environment) -> tuple[gymnasium.spaces.Box, gymnasium.spaces.Discrete]:
    obs = env.observation_space()
    low = np.broadcast_to(np.asarray(obs.low, obs.dtype), obs.shape)
    high = np.broadcast_to(np.asarray(obs.high, obs.dtype), obs.shape)
    observation_space = gymnasium.spaces.Box(low, high, obs.shape, np.dtype(obs.dtype))
    return observation_space, gymnasium.spaces.Discrete(env.action_space().n)


def _time_limit(terminated: Any, truncated: Any, elapsed: Any, limit: int) -> Any:
    """Gymnasium's ``TimeLimit``: truncated wherever the limit is reached, terminated or not."""
    return truncated | (terminated & (elapsed >= limit))


def _check_render_mode(render_mode: str | None) -> None:
    if render_mode not in (None, "rgb_array"):
        raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")


class GridWorldEnv(gymnasium.Env):
    """One environment of the suite behind Gymnasium's ``Env`` API (jitted reset/step)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, name: str, render_mode: str | None = None, **overrides: Any) -> None:
        _check_render_mode(render_mode)
        self.env, self.params = make(name, **overrides)
        self.name = name
        self.render_mode = render_mode
        self.observation_space, self.action_space = _spaces(self.env)
        self._reset = jax.jit(self.env.reset)
        # The raw transition: Gymnasium returns the episode's last observation and leaves
        # resetting to the caller, so the core's auto-reset is not wanted here.
        self._step = jax.jit(self.env.step_env)
        self._key: jax.Array | None = None
        self._state: Any = None
        self._limit = int(self.params.max_steps_in_episode)
        self._elapsed = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; the JAX key comes from Gymnasium's seeded ``np_random``."""
        super().reset(seed=seed)
        self._elapsed = 0
        self._key = jax.random.PRNGKey(int(self.np_random.integers(0, _MAX_SEED)))
        self._key, key = jax.random.split(self._key)
        obs, self._state = self._reset(key, self.params)
        return np.asarray(obs), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Advance one step; call ``reset`` after ``terminated`` or ``truncated``."""
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(_as_int(action)):
            raise ValueError(
                f"action {action!r} is outside the action space Discrete({self.action_space.n})"
            )
        self._key, key = jax.random.split(self._key)
        obs, self._state, reward, terminated, truncated, info = self._step(
            key, self._state, jnp.asarray(int(action), jnp.int32), self.params
        )
        event = int(info["event"])
        out = {"success": bool(info["success"]), "event": event, "caption": self.env.caption(event)}
        self._elapsed += 1
        truncated = _time_limit(bool(terminated), bool(truncated), self._elapsed, self._limit)
        return np.asarray(obs), float(reward), bool(terminated), truncated, out

    def render(self) -> np.ndarray | None:
        """RGB picture of the whole grid (``render_mode="rgb_array"``)."""
        if self.render_mode != "rgb_array" or self._state is None:
            return None
        return self.env.render(self._state)


def _as_int(action: Any) -> Any:
    # Discrete.contains accepts Python ints and NumPy integer scalars only.
    if (
        isinstance(action, np.ndarray)
        and action.shape == ()
        and np.issubdtype(action.dtype, np.integer)
    ):
        return np.int64(action)
    return action


class GridWorldVectorEnv(VectorEnv):
    """``num_envs`` copies stepped together in one jitted, vmapped call.

    The core auto-resets inside the step (``AutoresetMode.SAME_STEP``): an episode's last
    observation is in ``infos["final_obs"]`` (an object array, ``None`` where the episode
    goes on; mask ``infos["_final_obs"]``) and its info in ``infos["final_info"]``.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["rgb_array"],
        "render_fps": 10,
        "autoreset_mode": AutoresetMode.SAME_STEP,
    }

    def __init__(
        self, name: str, num_envs: int = 1, render_mode: str | None = None, **overrides: Any
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer ≥ 1, got {num_envs!r}")
        _check_render_mode(render_mode)
        self.env, self.params = make(name, **overrides)
        self.name = name
        self.num_envs = int(num_envs)
        self.render_mode = render_mode
        self.single_observation_space, self.single_action_space = _spaces(self.env)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._reset = jax.jit(jax.vmap(self.env.reset, in_axes=(0, None)))
        self._step = jax.jit(jax.vmap(self.env.step, in_axes=(0, 0, 0, None)))
        self._keys: jax.Array | None = None
        self._state: Any = None
        self._limit = int(self.params.max_steps_in_episode)
        self._elapsed = np.zeros(self.num_envs, np.int64)

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every copy; ``seed`` is one int (split per copy) or one int per copy."""
        self._elapsed = np.zeros(self.num_envs, np.int64)
        if isinstance(seed, list | tuple):
            if len(seed) != self.num_envs:
                raise ValueError(
                    f"seed must have num_envs={self.num_envs} entries, got {len(seed)}"
                )
            super().reset(seed=int(seed[0]))
            keys = jnp.stack([jax.random.PRNGKey(int(s)) for s in seed])
        else:
            super().reset(seed=seed)
            base = jax.random.PRNGKey(int(self.np_random.integers(0, _MAX_SEED)))
            keys = jax.random.split(base, self.num_envs)
        split = jax.vmap(jax.random.split)(keys)
        self._keys = split[:, 0]
        obs, self._state = self._reset(split[:, 1], self.params)
        return np.asarray(obs), {}

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every copy with ``actions`` (shape ``[num_envs]``), auto-resetting finished ones."""
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(
                f"actions must be integers of shape ({self.num_envs},), got {actions.dtype} {actions.shape}"
            )
        n = self.single_action_space.n
        if np.any((actions < 0) | (actions >= n)):
            raise ValueError(f"actions {actions.tolist()} fall outside Discrete({n})")
        split = jax.vmap(jax.random.split)(self._keys)
        self._keys = split[:, 0]
        obs, self._state, reward, terminated, truncated, info = self._step(
            split[:, 1], self._state, jnp.asarray(actions, jnp.int32), self.params
        )
        terminated, truncated = np.asarray(terminated), np.asarray(truncated)
        self._elapsed += 1
        truncated = _time_limit(terminated, truncated, self._elapsed, self._limit)
        done = terminated | truncated
        self._elapsed[done] = 0
        success, event = np.asarray(info["success"]), np.asarray(info["event"])
        final_obs = np.full(self.num_envs, None, dtype=object)
        final = np.asarray(info["final_observation"])
        for i in np.flatnonzero(done):
            final_obs[i] = final[i]
        everywhere = np.ones(self.num_envs, bool)
        infos = {
            "success": success,
            "_success": everywhere,
            "event": event,
            "_event": everywhere,
            "final_obs": final_obs,
            "_final_obs": done,
            "final_info": {"success": success, "_success": done, "event": event, "_event": done},
            "_final_info": done,
        }
        return np.asarray(obs), np.asarray(reward), terminated, truncated, infos

    def render(self) -> tuple[np.ndarray, ...] | None:
        """RGB pictures of every copy (``render_mode="rgb_array"``)."""
        if self.render_mode != "rgb_array" or self._state is None:
            return None
        return tuple(
            self.env.render(jax.tree.map(lambda x, i=i: x[i], self._state))
            for i in range(self.num_envs)
        )


def register_all() -> list[str]:
    """The ``explore/<Name>-v<version>`` ids of the gridworld tasks (idempotent).

    ``import envs`` already did (:func:`envs.register_gymnasium`); kept for callers of the
    Gymnasium front door.
    """
    return register_gymnasium("gridworld")
