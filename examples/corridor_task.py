"""A gridworld task: a walled corridor with the goal at its far end, and a step cost.

Shows a :class:`envs.gridworld.Task` (``generate`` builds a layout with the layout helpers),
the reward hook (``Task.reward``), and registration with ``register_task``.

    explore check env=Corridor-9 --import examples/corridor_task.py
    explore train env=Corridor-9 --import examples/corridor_task.py total_steps=2e4
    python examples/corridor_task.py          # prints a layout
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.gridworld import Layout, Task, preview, register_task
from envs.gridworld import objects as O
from envs.gridworld.layout import place, region_mask, room, sample_cell


class Corridor(Task):
    """A 3-row corridor of ``length`` cells; the agent starts in its left half."""

    description = "walk down the corridor to the goal; every step costs a little"

    def __init__(self, length: int = 9) -> None:
        self.height, self.width = 3, length
        self.max_steps = 4 * length

    def generate(self, key: jax.Array) -> Layout:
        grid = room(self.height, self.width)  # walls all round
        grid = place(grid, jnp.array([1, self.width - 2]), O.GOAL)
        # Rows [1, 2) and columns [1, width // 2): the left half of the corridor.
        start = sample_cell(key, region_mask(self.height, self.width, 1, 1, 2, self.width // 2))
        return Layout(
            grid=grid,
            agent_pos=start,
            agent_dir=jnp.zeros((), jnp.int32),  # facing right
            target=jnp.zeros((), jnp.uint8),  # 0: reach the goal
        )

    def reward(self, before, after, action, success, reward, params):
        # A step cost instead of MiniGrid's time-discounted success reward.
        return jnp.where(success, 1.0, -0.01).astype(jnp.float32)


register_task("Corridor-9", Corridor(9))

if __name__ == "__main__":
    print(preview(Corridor(9).generate(jax.random.PRNGKey(0))))
