"""MO-Gymnasium front door: every multi-objective task as ``explore/<Name>-v0``.

>>> import mo_gymnasium
>>> import envs  # registers the ids
>>> env = mo_gymnasium.make("explore/DeepSeaTreasure-Concave-v0")
>>> env.unwrapped.reward_space, env.unwrapped.reward_dim     # Box(..., (2,), float32), 2
>>> env = mo_gymnasium.wrappers.LinearReward(env, weight=np.array([0.7, 0.3]))
>>> venv = gymnasium.make_vec("explore/DeepSeaTreasure-v0", num_envs=4096)  # one jitted call

The door adds nothing to the envs: the reward is the env's float32 vector
``[m]`` as a NumPy array, ``unwrapped.reward_space`` / ``reward_dim`` / ``pareto_front(gamma)``
are the env's, ``info`` carries ``success``, ``event`` and its ``caption``. Keyword
arguments of ``make`` go to ``envs.make`` (``float_state``, ``env_seed``, ...). Episode limits
are the envs' own (no ``TimeLimit`` wrapper; DST and Resource Gathering truncate at 100 steps
as MO-Gymnasium's registrations do; Fruit Tree, registered there without a limit, never
reaches ours) and follow Gymnasium's ``TimeLimit``: a step that ends the episode on the
limit's last step returns ``terminated=True, truncated=True``, as MO-Gymnasium's do. Use ``mo_gymnasium.make`` (it turns off Gymnasium's
env checker, which insists on scalar rewards).

The vector env steps the whole batch in one jitted, vmapped call. Its default
``autoreset_mode`` is Gymnasium's ``NEXT_STEP`` — MO-Gymnasium's ``MOSyncVectorEnv``
semantics, which its vector ``MORecordEpisodeStatistics`` assumes: the step after an
episode ends returns the reset observation with a zero reward. ``autoreset_mode=SAME_STEP``
(``gymnasium.make_vec(..., autoreset_mode=AutoresetMode.SAME_STEP)``) uses the core's own
auto-reset, as the gridworld door does.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium.vector import AutoresetMode

from envs import register_gymnasium
from envs.gymnasium import NAMESPACE, GridWorldEnv, GridWorldVectorEnv, _as_int, _time_limit
from envs.multiobjective.base import MOEnvironment, is_multiobjective


def _reward_space(env: MOEnvironment) -> gymnasium.spaces.Box:
    space = env.reward_space()
    low = np.broadcast_to(np.asarray(space.low, np.float32), space.shape)
    high = np.broadcast_to(np.asarray(space.high, np.float32), space.shape)
    return gymnasium.spaces.Box(low, high, space.shape, np.float32)


def _check_multiobjective(env: Any, name: str, render_mode: str | None) -> None:
    if not is_multiobjective(env):
        raise ValueError(
            f"{name} is not a multi-objective environment; use gymnasium.make('{NAMESPACE}/{name}-v0')"
        )
    if render_mode is not None and not hasattr(env, "render"):
        raise ValueError(f"{name} has no renderer: render_mode must be None")


class MOEnv(GridWorldEnv):
    """One multi-objective env behind MO-Gymnasium's API (jitted reset/step, vector reward)."""

    def __init__(self, name: str, render_mode: str | None = None, **overrides: Any) -> None:
        super().__init__(name, render_mode=render_mode, **overrides)
        _check_multiobjective(self.env, name, render_mode)
        self.reward_space = _reward_space(self.env)
        self.reward_dim = self.env.reward_dim

    def step(self, action: Any) -> tuple[np.ndarray, np.ndarray, bool, bool, dict[str, Any]]:
        """Advance one step; the reward is a float32 vector ``[reward_dim]``."""
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
        return np.asarray(obs), np.asarray(reward), bool(terminated), truncated, out

    def pareto_front(self, gamma: float) -> np.ndarray:
        """The env's true front of discounted returns, ``[k, reward_dim]``."""
        return self.env.pareto_front(gamma)


class MOVectorEnv(GridWorldVectorEnv):
    """``num_envs`` copies in one jitted, vmapped step; rewards ``[num_envs, reward_dim]``."""

    def __init__(
        self,
        name: str,
        num_envs: int = 1,
        render_mode: str | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        **overrides: Any,
    ) -> None:
        super().__init__(name, num_envs=num_envs, render_mode=render_mode, **overrides)
        _check_multiobjective(self.env, name, render_mode)
        modes = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)
        try:
            autoreset_mode = AutoresetMode(autoreset_mode)
        except ValueError:
            autoreset_mode = None
        if autoreset_mode not in modes:
            raise ValueError(
                f"autoreset_mode must be one of {[m.value for m in modes]}, got {autoreset_mode!r}"
            )
        self.metadata = {**self.metadata, "autoreset_mode": autoreset_mode}
        self.reward_space = _reward_space(self.env)
        self.reward_dim = self.env.reward_dim
        self._autoreset = np.zeros(self.num_envs, bool)
        self._next_step = jax.jit(self._batched_next_step)

    def _batched_next_step(self, keys, state, actions, autoreset, params):
        """Step the copies that go on, reset those whose episode ended at the last step."""
        split = jax.vmap(lambda k: jax.random.split(k, 3))(keys)
        obs_s, state_s, reward, terminated, truncated, info = jax.vmap(
            self.env.step_env, (0, 0, 0, None)
        )(split[:, 1], state, actions, params)
        obs_r, state_r = jax.vmap(self.env.reset_env, (0, None))(split[:, 2], params)

        def pick(reset_value, step_value):
            mask = autoreset.reshape(autoreset.shape + (1,) * (step_value.ndim - 1))
            return jnp.where(mask, reset_value, step_value)

        state = jax.tree.map(pick, state_r, state_s)
        obs = pick(obs_r, obs_s)
        going = ~autoreset
        reward = jnp.where(going[:, None], reward, 0.0)
        return (
            split[:, 0],
            obs,
            state,
            reward,
            terminated & going,
            truncated & going,
            info["success"] & going,
            jnp.where(going, info["event"], 0),
        )

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every copy; ``seed`` is one int (split per copy) or one int per copy."""
        self._autoreset = np.zeros(self.num_envs, bool)
        return super().reset(seed=seed, options=options)

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every copy with ``actions`` (shape ``[num_envs]``)."""
        if self.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP:
            return super().step(actions)
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions)
        n = self.single_action_space.n
        if actions.shape != (self.num_envs,) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(
                f"actions must be integers of shape ({self.num_envs},), got {actions.dtype} {actions.shape}"
            )
        if np.any((actions < 0) | (actions >= n)):
            raise ValueError(f"actions {actions.tolist()} fall outside Discrete({n})")
        # One jitted call per batched step: key splits included (eager splits cost more here).
        self._keys, obs, self._state, reward, terminated, truncated, success, event = (
            self._next_step(
                self._keys,
                self._state,
                jnp.asarray(actions, jnp.int32),
                self._autoreset,
                self.params,
            )
        )
        terminated, truncated = np.asarray(terminated), np.asarray(truncated)
        # The copies reset on this step start counting again (Gymnasium's TimeLimit per copy).
        self._elapsed = np.where(self._autoreset, 0, self._elapsed + 1)
        truncated = _time_limit(terminated, truncated, self._elapsed, self._limit)
        self._autoreset = terminated | truncated
        everywhere = np.ones(self.num_envs, bool)
        infos = {
            "success": np.asarray(success),
            "_success": everywhere,
            "event": np.asarray(event),
            "_event": everywhere,
        }
        return np.asarray(obs), np.asarray(reward), terminated, truncated, infos


def register_all() -> list[str]:
    """The multi-objective tasks' ids; ``import envs`` registered them
    (:func:`envs.register_gymnasium`, one loop for every family)."""
    return register_gymnasium("multi-objective")
