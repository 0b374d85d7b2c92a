"""ObstructedMaze-1Dl and -2Dlh: find the blue ball behind locked doors whose keys lie in
the agent's room, in plain sight (1Dl) or hidden in grey boxes that must be toggled open
(2Dlh) (MiniGrid ``ObstructedMaze_1Dlhb`` / ``ObstructedMaze_Full``, rooms of side 6).
Success is picking up the blue ball; ``max_steps = 4·num_rooms_visited·6²``
(288 for 1Dl, 576 for 2Dlh).

Generation follows MiniGrid: door colours are a random permutation of the six colours;
``COLOR_NAMES`` is sorted in MiniGrid, so the ball is blue and boxes are grey.

* 1Dl: two rooms side by side; the door between them is locked (colour ``perm[0]``), its
  key lies in the agent's (left) room; the ball lies in the right room, never on or next
  to the cell (row 3, col 8): MiniGrid rejects cells next to the RoomGrid's default agent
  position, which is still set when the ball is placed.
* 2Dlh: a 3×3 room grid; the agent starts in the right-middle room, joined to the centre
  room by a closed door (``perm[0]``) and to the rooms above and below by locked doors
  (``perm[5]`` and ``perm[1]``), whose keys are in two boxes in the agent's room; the
  ball is in the top-right room.

The agent never starts facing a door or an object (``RoomGrid.place_agent``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.gridworld import objects as O
from envs.gridworld.layout import Layout, Task, place, sample_cell
from envs.gridworld.roomgrid import (
    DoorPositions,
    interior_mask,
    rect_mask,
    room_grid_walls,
    sample_pose,
)

ROOM_SIZE = 6
BALL_COLOUR = O.COLOUR["blue"]  # MiniGrid's sorted COLOR_NAMES[0]
BOX_COLOUR = O.COLOUR["grey"]  # sorted COLOR_NAMES[2]
VARIANTS = ("1Dl", "2Dlh")


class ObstructedMaze(Task):
    """MiniGrid ObstructedMaze-1Dl or -2Dlh."""

    description = "pick up the blue ball"

    def __init__(self, variant: str = "1Dl", max_steps: int | None = None) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        self.variant = variant
        self.num_rows, self.num_cols, rooms_visited = (1, 2, 2) if variant == "1Dl" else (3, 3, 4)
        self._walls = room_grid_walls(self.num_rows, self.num_cols, ROOM_SIZE)
        self.height, self.width = self._walls.shape
        self.max_steps = max_steps or 4 * rooms_visited * ROOM_SIZE**2

    def generate(self, key: jax.Array) -> Layout:
        k_doors, k_perm, k_rest = jax.random.split(key, 3)
        doors = DoorPositions(k_doors, self.num_rows, self.num_cols, ROOM_SIZE)
        colours = jax.random.permutation(k_perm, O.NUM_COLOURS)
        if self.variant == "1Dl":
            return self._one_door(k_rest, doors, colours)
        return self._two_doors(k_rest, doors, colours)

    def _one_door(self, key: jax.Array, doors: DoorPositions, colours: jax.Array) -> Layout:
        shape = (self.height, self.width)
        k_key, k_ball, k_agent = jax.random.split(key, 3)
        grid = jnp.asarray(self._walls)
        grid = place(grid, doors.position(0, 0, 0), O.door(0, O.DOOR_LOCKED) + 3 * colours[0])
        grid = place(
            grid,
            sample_cell(k_key, interior_mask(shape, 0, 0, ROOM_SIZE) & (grid == O.EMPTY)),
            O.key(0) + colours[0],
        )
        # MiniGrid's reject_next_to against the stale default agent position (x=8, y=3).
        rows, cols = jnp.arange(shape[0])[:, None], jnp.arange(shape[1])[None, :]
        near_default = jnp.abs(rows - 3) + jnp.abs(cols - 8) < 2
        ball_cells = interior_mask(shape, 1, 0, ROOM_SIZE) & (grid == O.EMPTY) & ~near_default
        ball_code = jnp.uint8(O.ball(BALL_COLOUR))
        grid = place(grid, sample_cell(k_ball, ball_cells), ball_code)
        agent_pos, agent_dir = sample_pose(k_agent, grid, rect_mask(shape, 0, 0, ROOM_SIZE))
        return Layout(grid=grid, agent_pos=agent_pos, agent_dir=agent_dir, target=ball_code)

    def _two_doors(self, key: jax.Array, doors: DoorPositions, colours: jax.Array) -> Layout:
        shape = (self.height, self.width)
        k_box_up, k_box_down, k_ball, k_agent = jax.random.split(key, 4)
        grid = jnp.asarray(self._walls)
        side_room = interior_mask(shape, 2, 1, ROOM_SIZE)
        grid = place(grid, doors.position(1, 1, 0), O.door(0, O.DOOR_CLOSED) + 3 * colours[0])
        # add_door(side room, door_idx=(0 + k) % 4, colour perm[(0 + k) % 6]) for k = -1, 1.
        for k_box, door_idx, colour in ((k_box_up, 3, colours[5]), (k_box_down, 1, colours[1])):
            grid = place(
                grid, doors.position(2, 1, door_idx), O.door(0, O.DOOR_LOCKED) + 3 * colour
            )
            box_code = O.box(BOX_COLOUR, 0) + colour  # box(c, k) = box(c, 0) + k
            grid = place(grid, sample_cell(k_box, side_room & (grid == O.EMPTY)), box_code)
        ball_code = jnp.uint8(O.ball(BALL_COLOUR))
        grid = place(
            grid,
            sample_cell(k_ball, interior_mask(shape, 2, 0, ROOM_SIZE) & (grid == O.EMPTY)),
            ball_code,
        )
        agent_pos, agent_dir = sample_pose(k_agent, grid, rect_mask(shape, 2, 1, ROOM_SIZE))
        return Layout(grid=grid, agent_pos=agent_pos, agent_dir=agent_dir, target=ball_code)
