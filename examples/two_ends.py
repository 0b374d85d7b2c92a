"""A custom single-agent env (not a gridworld): a corridor whose right end pays 1 and whose
left end pays 0.1, a distractor close to the start.

Shows the env contract of :mod:`envs.core`: ``reset_env`` / ``step_env`` in pure JAX, the
spaces, ``info["success"]`` and ``info["event"]`` (with captions), and ``envs.register``
with ``kind="single-agent"`` (which also opens ``gymnasium.make("explore/TwoEnds-v0")``).

    explore check env=TwoEnds --import examples/two_ends.py
    explore train env=TwoEnds --import examples/two_ends.py total_steps=2e4
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

import envs
from envs.core import Environment, EnvParams
from envs.spaces import Box, Discrete

LEFT, RIGHT = 0, 1


@struct.dataclass
class CorridorState:
    """Everything that changes in an episode (a pytree of arrays)."""

    pos: jax.Array  # int32 cell index
    t: jax.Array  # int32 steps taken


class TwoEnds(Environment):
    """A corridor of ``length`` cells: the right end pays 1, the left end 0.1."""

    def __init__(self, length: int = 8) -> None:
        self.length = length

    @property
    def name(self) -> str:
        return "TwoEnds"

    @property
    def default_params(self) -> EnvParams:
        return EnvParams(max_steps_in_episode=4 * self.length)

    def observation_space(self, params=None) -> Box:
        return Box(0.0, 1.0, (self.length,), jnp.float32)  # one-hot position

    def action_space(self, params=None) -> Discrete:
        return Discrete(2)  # left, right

    @property
    def captions(self) -> tuple[str, ...]:
        return ("", "You reach the right end.", "You reach the left end.")

    def caption(self, event: int) -> str:
        return self.captions[int(event)]

    def _obs(self, state: CorridorState) -> jax.Array:
        return jax.nn.one_hot(state.pos, self.length, dtype=jnp.float32)

    def reset_env(self, key, params):
        start = jax.random.randint(key, (), 1, self.length - 1)
        state = CorridorState(pos=start.astype(jnp.int32), t=jnp.zeros((), jnp.int32))
        return self._obs(state), state

    def step_env(self, key, state, action, params):
        pos = jnp.clip(state.pos + jnp.where(action == RIGHT, 1, -1), 0, self.length - 1)
        t = state.t + 1
        right, left = pos == self.length - 1, pos == 0
        reward = jnp.where(right, 1.0, jnp.where(left, 0.1, 0.0)).astype(jnp.float32)
        terminated = right | left
        truncated = (t >= params.max_steps_in_episode) & ~terminated
        state = CorridorState(pos=pos.astype(jnp.int32), t=t)
        info = {
            "success": right,  # bool[]: the goal of the episode was reached
            "event": jnp.where(right, 1, jnp.where(left, 2, 0)).astype(jnp.int32),
        }
        return self._obs(state), state, reward, terminated, truncated, info


def make_two_ends(length: int = 8):
    """The factory ``envs.make("TwoEnds", length=...)`` calls."""
    env = TwoEnds(length)
    return env, env.default_params


envs.register(
    "TwoEnds",
    make_two_ends,
    kind="single-agent",
    version=0,
    description="a corridor: the far end pays 1, the near end 0.1",
)
