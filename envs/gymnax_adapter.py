"""Any gymnax environment under the suite's contract: ``envs.make("gymnax:CartPole-v1")``.

gymnax 1.0 already returns ``(obs, state, reward, terminated, truncated, info)`` with
auto-reset and ``info["final_observation"]``; the adapter adds the keys every env of the
suite provides (``success``, ``event``, ``privileged``) and exposes the spaces as
``envs.spaces`` objects, so agents treat gymnax envs like our own.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from envs.core import Environment
from envs.registry import unknown_name_error
from envs.spaces import Box, Discrete


class GymnaxEnv(Environment):
    """Adapter around a gymnax environment instance."""

    def __init__(self, gymnax_env: Any, name: str) -> None:
        self._env = gymnax_env
        self._name = name

    @property
    def name(self) -> str:
        return f"gymnax:{self._name}"

    @property
    def default_params(self):
        return self._env.default_params

    def reset(self, key, params=None):
        params = self.default_params if params is None else params
        return self._env.reset(key, params)

    def step(self, key, state, action, params=None):
        params = self.default_params if params is None else params
        obs, state, reward, terminated, truncated, info = self._env.step(key, state, action, params)
        info = {
            "final_observation": info["final_observation"],
            # gymnax envs define no success; CartPole-style tasks can read the return instead.
            "success": jnp.zeros((), bool),
            "event": jnp.zeros((), jnp.int32),
            "privileged": {},
        }
        return obs, state, reward.astype(jnp.float32), terminated, truncated, info

    def observation_space(self, params=None) -> Box:
        space = self._env.observation_space(self.default_params if params is None else params)
        low = np.asarray(space.low, np.float32)
        high = np.asarray(space.high, np.float32)
        return Box(low, high, tuple(space.shape), jnp.float32)

    def action_space(self, params=None) -> Discrete:
        space = self._env.action_space(self.default_params if params is None else params)
        if not hasattr(space, "n"):
            raise ValueError(
                f"gymnax:{self._name} has a continuous action space; agents here need discrete actions"
            )
        return Discrete(int(space.n))


def make_gymnax(name: str, **overrides: Any) -> tuple[GymnaxEnv, Any]:
    """Build ``gymnax.make(name)``; overrides replace fields of its default params."""
    import gymnax

    if name not in gymnax.registered_envs:
        raise unknown_name_error("gymnax environment", name, list(gymnax.registered_envs))
    env, params = gymnax.make(name)
    if overrides:
        unknown = [k for k in overrides if not hasattr(params, k)]
        if unknown:
            raise ValueError(
                f"gymnax:{name}: unknown param(s) {unknown}; fields: {list(vars(params))}"
            )
        params = params.replace(**overrides)
    adapter = GymnaxEnv(env, name)
    return adapter, params
