"""Empty-N: an empty room, the agent in the top-left corner, the goal bottom-right
(MiniGrid ``EmptyEnv``). The easiest task; a smoke test for agents."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.gridworld import objects as O
from envs.gridworld.layout import Layout, Task, room


class Empty(Task):
    """MiniGrid Empty-NxN; ``max_steps = 4·N²``."""

    description = "get to the green goal square"

    def __init__(self, size: int = 8) -> None:
        if size < 3:
            raise ValueError(f"size must be ≥ 3, got {size}")
        self.height = self.width = size
        self.max_steps = 4 * size * size

    def generate(self, key: jax.Array) -> Layout:
        grid = room(self.height, self.width).at[self.height - 2, self.width - 2].set(O.GOAL)
        return Layout(
            grid=grid,
            agent_pos=jnp.array([1, 1], jnp.int32),
            agent_dir=jnp.zeros((), jnp.int32),
            target=jnp.zeros((), jnp.uint8),
        )
