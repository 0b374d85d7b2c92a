"""A multi-objective env: the corridor of ``two_ends.py`` with one objective per end.

Shows :class:`envs.multiobjective.base.MOEnvironment`: a float32 reward vector ``[m]``,
``reward_space``, named ``objectives``, and ``kind="multi-objective"`` (which opens
``mo_gymnasium.make("explore/TwoEnds-MO-v0")`` and lets ``agent=mo_ppo`` train it).

    explore check env=TwoEnds-MO --import examples/two_objectives.py
    explore train env=TwoEnds-MO agent=mo_ppo --import examples/two_objectives.py total_steps=2e4
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

import envs
from envs.core import EnvParams
from envs.multiobjective.base import MOEnvironment
from envs.spaces import Box, Discrete


@struct.dataclass
class State:
    pos: jax.Array  # int32
    t: jax.Array  # int32


class TwoEndsMO(MOEnvironment):
    """A corridor of ``length`` cells; reaching the left or the right end scores on its own
    objective (the right end is further from the start and worth more)."""

    objectives = ("left", "right")
    event_captions = ("", "You reach the left end.", "You reach the right end.")

    def __init__(self, length: int = 8) -> None:
        self.length = length

    @property
    def name(self) -> str:
        return "TwoEnds-MO"

    @property
    def default_params(self) -> EnvParams:
        return EnvParams(max_steps_in_episode=4 * self.length)

    def observation_space(self, params=None) -> Box:
        return Box(0.0, 1.0, (self.length,), jnp.float32)

    def action_space(self, params=None) -> Discrete:
        return Discrete(2)

    def reward_space(self, params=None) -> Box:
        return Box(0.0, 1.0, (2,), jnp.float32)

    def reset_env(self, key, params):
        state = State(pos=jnp.int32(2), t=jnp.zeros((), jnp.int32))
        return jax.nn.one_hot(state.pos, self.length, dtype=jnp.float32), state

    def step_env(self, key, state, action, params):
        pos = jnp.clip(state.pos + jnp.where(action == 1, 1, -1), 0, self.length - 1)
        t = state.t + 1
        left, right = pos == 0, pos == self.length - 1
        reward = jnp.stack([jnp.where(left, 0.5, 0.0), jnp.where(right, 1.0, 0.0)])
        terminated = left | right
        truncated = (t >= params.max_steps_in_episode) & ~terminated
        state = State(pos=pos.astype(jnp.int32), t=t)
        info = {
            "success": terminated,
            "event": jnp.where(left, 1, jnp.where(right, 2, 0)).astype(jnp.int32),
        }
        obs = jax.nn.one_hot(pos, self.length, dtype=jnp.float32)
        return obs, state, reward.astype(jnp.float32), terminated, truncated, info


def make_two_ends_mo(length: int = 8):
    env = TwoEndsMO(length)
    return env, env.default_params


envs.register("TwoEnds-MO", make_two_ends_mo, kind="multi-objective")
