"""Helpers shared by the RoomGrid-based tasks (KeyCorridor, ObstructedMaze) and others.

MiniGrid's ``RoomGrid`` tiles ``num_rows × num_cols`` square rooms of side ``room_size``
(walls shared between neighbours). Every room samples one door position on its right wall
and one on its bottom wall up front, whether or not a door is later put there; a door
between two rooms always sits at that pre-drawn position. Rooms are indexed MiniGrid's
way, ``(i, j) = (column, row)``, and directions ``k`` as in ``DIR_TO_VEC``: 0 right,
1 down, 2 left, 3 up. Grid positions are ``(row, col)`` arrays as everywhere in the suite.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from envs.gridworld import objects as O
from envs.gridworld.env import DIR_STEPS
from envs.gridworld.layout import region_mask, sample_cell


def room_grid_walls(num_rows: int, num_cols: int, room_size: int) -> np.ndarray:
    """Static ``[H, W]`` grid of empty rooms with their walls (no doors)."""
    step = room_size - 1
    height, width = step * num_rows + 1, step * num_cols + 1
    grid = np.full((height, width), O.EMPTY, np.uint8)
    grid[::step, :] = O.WALL
    grid[:, ::step] = O.WALL
    return grid


def room_top(i: int, j: int, room_size: int) -> tuple[int, int]:
    """(row, col) of the top-left wall cell of room ``(i, j)`` = (column, row)."""
    return j * (room_size - 1), i * (room_size - 1)


def interior_mask(
    shape: tuple[int, int], i: int | jax.Array, j: int | jax.Array, room_size: int
) -> jax.Array:
    """Bool mask of the interior cells of room ``(i, j)`` (indices may be traced)."""
    step = room_size - 1
    top, left = j * step, i * step
    return region_mask(*shape, top + 1, left + 1, top + step, left + step)


def rect_mask(
    shape: tuple[int, int], i: int | jax.Array, j: int | jax.Array, room_size: int
) -> jax.Array:
    """Bool mask of room ``(i, j)`` walls included (MiniGrid's ``room.top, room.size``)."""
    step = room_size - 1
    top, left = j * step, i * step
    return region_mask(*shape, top, left, top + room_size, left + room_size)


class DoorPositions:
    """The pre-drawn door cell of every wall between two rooms (traced offsets)."""

    def __init__(self, key: jax.Array, num_rows: int, num_cols: int, room_size: int) -> None:
        k_right, k_down = jax.random.split(key)
        self.room_size = room_size
        # Offset along the wall, in [1, room_size - 1): never a corner, as in MiniGrid.
        self.right = jax.random.randint(k_right, (num_rows, num_cols), 1, room_size - 1)
        self.down = jax.random.randint(k_down, (num_rows, num_cols), 1, room_size - 1)

    def position(self, i: int, j: int, k: int) -> jax.Array:
        """(row, col) of the door on wall ``k`` of room ``(i, j)`` (static indices)."""
        step = self.room_size - 1
        if k == 2:
            i, k = i - 1, 0
        elif k == 3:
            j, k = j - 1, 1
        if k == 0:
            return jnp.stack([j * step + self.right[j, i], jnp.asarray((i + 1) * step)]).astype(
                jnp.int32
            )
        return jnp.stack([jnp.asarray((j + 1) * step), i * step + self.down[j, i]]).astype(
            jnp.int32
        )


def sample_pose(
    key: jax.Array, grid: jax.Array, cells: jax.Array, clear_front: bool = True
) -> tuple[jax.Array, jax.Array]:
    """A uniform (position, direction) pair among empty ``cells``.

    With ``clear_front`` the agent never starts facing anything but an empty cell or a
    wall (``RoomGrid.place_agent``'s retry loop). Sampling the pair jointly makes it
    uniform over the accepted pairs, which is exactly what that rejection loop gives.
    """
    h, w = grid.shape
    free = cells & (grid == O.EMPTY)
    masks = []
    for d in range(4):
        dr, dc = (int(v) for v in DIR_STEPS[d])
        padded = jnp.pad(grid, 1, constant_values=O.WALL)
        front = padded[1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w]
        ok = (front == O.EMPTY) | (front == O.WALL) if clear_front else jnp.ones_like(free)
        masks.append(free & ok)
    stacked = jnp.concatenate(masks, axis=0)  # [4H, W]: direction-major
    cell = sample_cell(key, stacked)
    return jnp.stack([cell[0] % h, cell[1]]).astype(jnp.int32), (cell[0] // h).astype(jnp.int32)


def reachable_all(adjacency: jax.Array, start: int | jax.Array) -> jax.Array:
    """Whether every node of an undirected graph (bool ``[n, n]``) is reachable from ``start``."""
    n = adjacency.shape[0]
    reach = jnp.zeros(n, bool).at[start].set(True)
    # n-1 relaxations reach every node at graph distance < n; n ≤ 9 here.
    reach = jax.lax.fori_loop(
        0, n - 1, lambda _, r: r | jnp.any(adjacency & r[:, None], axis=0), reach
    )
    return jnp.all(reach)
