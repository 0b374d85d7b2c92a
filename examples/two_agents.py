"""A two-agent social env: two agents at the ends of a corridor are paid when they meet.

Shows the multi-agent contract of :mod:`envs.core`: ``num_agents`` (≥ 2) and arrays stacked
on a leading agent axis (obs ``[N, ...]``, action ``[N]``, reward ``[N]``,
``info["event"] [N]``), and ``kind="multi-agent"``, which opens the PettingZoo door
(``envs.pettingzoo.parallel_env("Meet")``) and lets ``agent=ippo`` train it.

    explore check env=Meet --import examples/two_agents.py
    explore train env=Meet agent=ippo --import examples/two_agents.py total_steps=2e4
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

import envs
from envs.core import Environment, EnvParams
from envs.spaces import Box, Discrete


@struct.dataclass
class MeetState:
    pos: jax.Array  # int32 [2]: each agent's cell
    t: jax.Array  # int32


class Meet(Environment):
    """Two agents on a corridor of ``length`` cells; both get 1 when they share a cell."""

    num_agents = 2  # declared: agents and doors read it

    def __init__(self, length: int = 6) -> None:
        self.length = length

    @property
    def name(self) -> str:
        return "Meet"

    @property
    def default_params(self) -> EnvParams:
        return EnvParams(max_steps_in_episode=3 * self.length)

    def observation_space(self, params=None) -> Box:
        # ONE agent's observation: its own position and the other's, one-hot.
        return Box(0.0, 1.0, (2 * self.length,), jnp.float32)

    def action_space(self, params=None) -> Discrete:
        return Discrete(3)  # left, stay, right

    @property
    def captions(self) -> tuple[str, ...]:
        return ("", "The agents meet.")

    def caption(self, event: int) -> str:
        return self.captions[int(event)]

    def _obs(self, pos: jax.Array) -> jax.Array:
        one_hot = jax.nn.one_hot(pos, self.length, dtype=jnp.float32)  # [2, L]
        return jnp.concatenate([one_hot, one_hot[::-1]], axis=-1)  # own first, [2, 2L]

    def reset_env(self, key, params):
        state = MeetState(pos=jnp.array([0, self.length - 1], jnp.int32), t=jnp.int32(0))
        return self._obs(state.pos), state

    def step_env(self, key, state, action, params):
        pos = jnp.clip(state.pos + action - 1, 0, self.length - 1).astype(jnp.int32)
        t = state.t + 1
        met = pos[0] == pos[1]
        reward = jnp.full((self.num_agents,), jnp.where(met, 1.0, 0.0), jnp.float32)
        truncated = (t >= params.max_steps_in_episode) & ~met
        info = {
            "success": met,  # one flag per episode (all agents end together)
            "event": jnp.full((self.num_agents,), jnp.where(met, 1, 0), jnp.int32),
        }
        return self._obs(pos), MeetState(pos=pos, t=t), reward, met, truncated, info


def make_meet(length: int = 6):
    env = Meet(length)
    return env, env.default_params


envs.register("Meet", make_meet, kind="multi-agent", description="two agents meet in a corridor")
