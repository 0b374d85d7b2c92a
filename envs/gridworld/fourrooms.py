"""FourRooms: four 8×8 rooms in a 19×19 grid joined by one gap in each inner wall
(MiniGrid ``FourRoomsEnv``, Sutton, Precup & Singh 1999). Agent and goal are placed
uniformly on free cells anywhere, gaps included; ``max_steps = 100`` as in MiniGrid."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.gridworld import objects as O
from envs.gridworld.layout import Layout, Task, place, sample_cell


class FourRooms(Task):
    """MiniGrid FourRooms-v0."""

    description = "reach the goal"

    def __init__(self, size: int = 19, max_steps: int = 100) -> None:
        if size < 7 or size % 2 == 0:
            raise ValueError(f"size must be odd and ≥ 7 for FourRooms, got {size}")
        self.height = self.width = size
        self.max_steps = max_steps

    def generate(self, key: jax.Array) -> Layout:
        n = self.height
        mid = n // 2  # MiniGrid's room_w = room_h = size // 2: the inner walls' index
        k_gaps, k_agent, k_goal = jax.random.split(key, 3)
        grid = jnp.full((n, n), O.EMPTY, jnp.uint8)
        idx = jnp.arange(n)
        walls = (idx[:, None] % (n - 1) == 0) | (idx[None, :] % (n - 1) == 0)
        walls = walls | (idx[:, None] == mid) | (idx[None, :] == mid)
        grid = jnp.where(walls, jnp.uint8(O.WALL), grid)
        # One gap per wall segment, never at a segment's ends: rows/cols in [1, mid) or (mid, n-1).
        lo = jnp.array([1, mid + 1, 1, mid + 1])
        offsets = jax.random.randint(k_gaps, (4,), 0, mid - 1) + lo
        gaps = jnp.stack(
            [
                jnp.stack([offsets[0], jnp.asarray(mid)]),  # vertical wall, top half
                jnp.stack([offsets[1], jnp.asarray(mid)]),  # vertical wall, bottom half
                jnp.stack([jnp.asarray(mid), offsets[2]]),  # horizontal wall, left half
                jnp.stack([jnp.asarray(mid), offsets[3]]),  # horizontal wall, right half
            ]
        )
        grid = grid.at[gaps[:, 0], gaps[:, 1]].set(jnp.uint8(O.EMPTY))
        k_pos, k_dir = jax.random.split(k_agent)
        agent_pos = sample_cell(k_pos, grid == O.EMPTY)
        free = (grid == O.EMPTY).at[agent_pos[0], agent_pos[1]].set(False)
        grid = place(grid, sample_cell(k_goal, free), O.GOAL)
        return Layout(
            grid=grid,
            agent_pos=agent_pos,
            agent_dir=jax.random.randint(k_dir, (), 0, 4),
            target=jnp.zeros((), jnp.uint8),
        )
