"""DoorKey-N: a wall splits the room; the key lies on the agent's side, the goal behind a
locked door (MiniGrid ``DoorKeyEnv``). Needs pickup, toggle and navigation in order."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.gridworld import objects as O
from envs.gridworld.layout import Layout, Task, place, region_mask, room, sample_cell_from_bits


class DoorKey(Task):
    """MiniGrid DoorKey-NxN; ``max_steps = 10·N²``."""

    description = "use the key to open the door and then get to the goal"

    def __init__(self, size: int = 8) -> None:
        if size < 5:
            raise ValueError(f"size must be ≥ 5 for DoorKey, got {size}")
        self.height = self.width = size
        self.max_steps = 10 * size * size

    def generate(self, key: jax.Array) -> Layout:
        h, w = self.height, self.width
        # All five draws from one threefry call (the reset runs at every vmapped step).
        bits = jax.random.bits(key, (5,), jnp.uint32)
        # Same ranges as MiniGrid: wall column in [2, w-3], door row in [1, h-3].
        split = (2 + bits[0] % (w - 4)).astype(jnp.int32)
        door_row = (1 + bits[1] % (h - 3)).astype(jnp.int32)
        grid = room(h, w)
        grid = jnp.where(jnp.arange(w)[None, :] == split, jnp.uint8(O.WALL), grid)
        grid = place(grid, jnp.stack([door_row, split]), O.door(O.COLOUR["yellow"], O.DOOR_LOCKED))
        grid = grid.at[h - 2, w - 2].set(O.GOAL)
        left = region_mask(h, w, 1, 1, h - 1, split)
        key_pos = sample_cell_from_bits(bits[2], left)
        grid = place(grid, key_pos, O.key(O.COLOUR["yellow"]))
        free = left & (grid == O.EMPTY)
        agent_pos = sample_cell_from_bits(bits[3], free)
        return Layout(
            grid=grid,
            agent_pos=agent_pos,
            agent_dir=(bits[4] % 4).astype(jnp.int32),
            target=jnp.zeros((), jnp.uint8),
        )
