"""KeyCorridor-SsRr: a corridor of r rooms in the middle column of a 3-column room grid;
a locked door on the right side hides a ball, its key lies in a room on the left side
(MiniGrid ``KeyCorridorEnv``, built on ``RoomGrid``). Success is picking up the ball;
``max_steps = 30·s²``.

Generation follows MiniGrid step by step: door positions drawn per room, the middle
column opened into a hallway, a locked door of random colour on the left wall of a random
right-hand room with a ball of random colour behind it, the key in a random left-hand
room, the agent in the middle room of the corridor (never facing the locked door), then
``connect_all``: closed doors of random colours are added on random walls (never into
the locked room) until every room is connected. MiniGrid draws a uniform wall at each
try and skips walls that already have a door, so the doors it adds appear in a uniformly
random order of the candidate walls; we draw that order as one permutation and add walls
until connected, which gives the same distribution without a loop of unbounded length.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.gridworld import objects as O
from envs.gridworld.layout import Layout, Task, place, sample_cell
from envs.gridworld.roomgrid import (
    DoorPositions,
    interior_mask,
    reachable_all,
    rect_mask,
    room_grid_walls,
    sample_pose,
)

NUM_COLS = 3


class KeyCorridor(Task):
    """MiniGrid KeyCorridorS{room_size}R{num_rows}."""

    description = "pick up the ball behind the locked door"

    def __init__(self, room_size: int = 3, num_rows: int = 3, max_steps: int | None = None) -> None:
        if room_size < 3:
            raise ValueError(f"room_size must be ≥ 3 for KeyCorridor, got {room_size}")
        if num_rows < 1:
            raise ValueError(f"num_rows must be ≥ 1 for KeyCorridor, got {num_rows}")
        self.room_size = room_size
        self.num_rows = num_rows
        self._walls = room_grid_walls(num_rows, NUM_COLS, room_size)
        step = room_size - 1
        # The hallway: interior cells of the walls between middle-column rooms.
        for j in range(1, num_rows):
            self._walls[j * step, step + 1 : 2 * step] = O.EMPTY
        self.height, self.width = self._walls.shape
        self.max_steps = max_steps or 30 * room_size**2
        # Walls between neighbouring rooms, as (room a, room b, static door direction of a).
        edges = []
        for j in range(num_rows):
            for i in range(NUM_COLS):
                if i + 1 < NUM_COLS:
                    edges.append(((i, j), (i + 1, j), 0))
                if j + 1 < num_rows:
                    edges.append(((i, j), (i, j + 1), 1))
        self._edges = edges

    def _node(self, i: int, j: int) -> int:
        return j * NUM_COLS + i

    def generate(self, key: jax.Array) -> Layout:
        s, rows = self.room_size, self.num_rows
        shape = (self.height, self.width)
        keys = jax.random.split(key, 10)
        doors = DoorPositions(keys[0], rows, NUM_COLS, s)
        grid = jnp.asarray(self._walls)

        locked_row = jax.random.randint(keys[1], (), 0, rows)
        door_colour = jax.random.randint(keys[2], (), 0, O.NUM_COLOURS)
        locked_pos = jnp.stack([doors.position(1, j, 0) for j in range(rows)])[locked_row]
        grid = place(grid, locked_pos, O.door(0, O.DOOR_LOCKED) + 3 * door_colour)

        ball_colour = jax.random.randint(keys[3], (), 0, O.NUM_COLOURS)
        ball_code = (O.ball(0) + ball_colour).astype(jnp.uint8)
        ball_pos = sample_cell(keys[4], interior_mask(shape, 2, locked_row, s) & (grid == O.EMPTY))
        grid = place(grid, ball_pos, ball_code)
        key_row = jax.random.randint(keys[5], (), 0, rows)
        key_pos = sample_cell(keys[6], interior_mask(shape, 0, key_row, s) & (grid == O.EMPTY))
        grid = place(grid, key_pos, O.key(0) + door_colour)

        agent_pos, agent_dir = sample_pose(keys[7], grid, rect_mask(shape, 1, rows // 2, s))

        grid = self._connect_all(keys[8], keys[9], grid, doors, locked_row)
        return Layout(grid=grid, agent_pos=agent_pos, agent_dir=agent_dir, target=ball_code)

    def _connect_all(
        self,
        k_order: jax.Array,
        k_colours: jax.Array,
        grid: jax.Array,
        doors: DoorPositions,
        locked_row: jax.Array,
    ) -> jax.Array:
        """MiniGrid's ``connect_all``: add closed doors in random order until connected."""
        n = NUM_COLS * self.num_rows
        adjacency = jnp.zeros((n, n), bool)
        # Already connected: the hallway, and the locked door (find_reach follows it).
        for j in range(1, self.num_rows):
            a, b = self._node(1, j - 1), self._node(1, j)
            adjacency = adjacency.at[a, b].set(True).at[b, a].set(True)
        locked_node = self._node(2, 0) + NUM_COLS * locked_row
        middle_node = self._node(1, 0) + NUM_COLS * locked_row
        adjacency = (
            adjacency.at[locked_node, middle_node].set(True).at[middle_node, locked_node].set(True)
        )

        order = jax.random.permutation(k_order, len(self._edges))
        colours = jax.random.randint(k_colours, (len(self._edges),), 0, O.NUM_COLOURS)
        nodes_a = jnp.array([self._node(*a) for a, _, _ in self._edges])
        nodes_b = jnp.array([self._node(*b) for _, b, _ in self._edges])
        positions = jnp.stack([doors.position(*a, k) for a, _, k in self._edges])
        start = self._node(1, self.num_rows // 2)

        def add_wall(t, carry):
            # A loop rather than unrolled code: the body is compiled once.
            adjacency, grid = carry
            e = order[t]
            a, b = nodes_a[e], nodes_b[e]
            into_locked = (a == locked_node) | (b == locked_node)
            add = ~reachable_all(adjacency, start) & ~adjacency[a, b] & ~into_locked
            adjacency = (
                adjacency.at[a, b].set(adjacency[a, b] | add).at[b, a].set(adjacency[b, a] | add)
            )
            pos = positions[e]
            code = (O.door(0, O.DOOR_CLOSED) + 3 * colours[t]).astype(jnp.uint8)
            grid = grid.at[pos[0], pos[1]].set(jnp.where(add, code, grid[pos[0], pos[1]]))
            return adjacency, grid

        _, grid = jax.lax.fori_loop(0, len(self._edges), add_wall, (adjacency, grid))
        return grid
