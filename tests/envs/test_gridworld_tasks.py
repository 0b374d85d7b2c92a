"""Every registered gridworld task (the suite's and any other registered with
``kind="gridworld"``): solvable in every sampled layout by the planner of
``envs.gridworld.solver``, MiniGrid's sizes and limits where the task has a MiniGrid twin,
and the structure each generator family promises (one jitted vmap of ``generate`` per task)."""

from __future__ import annotations

import gymnasium
import jax
import minigrid  # noqa: F401  (registers MiniGrid's ids)
import numpy as np
import pytest
from gridworld_solver import ascii_grid, solvable
from twins import MINIGRID_TWINS

import envs
from envs.gridworld import objects as O
from envs.gridworld.env import DIR_STEPS

NUM_LAYOUTS = 300
# Our name -> how to build MiniGrid's own environment for the same task.
MINIGRID = MINIGRID_TWINS
# Every env registered as a gridworld: a task added anywhere is tested without a list here.
GRIDWORLDS = envs.registered(kind="gridworld")
_CACHE: dict[str, tuple] = {}


def task_and_layouts(name: str):
    """The task and NUM_LAYOUTS layouts as NumPy arrays (generated once per session)."""
    if name not in _CACHE:
        task = envs.make(name)[0].task
        keys = jax.random.split(jax.random.PRNGKey(2024), NUM_LAYOUTS)
        layouts = jax.jit(jax.vmap(task.generate))(keys)
        _CACHE[name] = (task, jax.tree.map(np.asarray, layouts))
    return _CACHE[name]


def kinds(grid: np.ndarray) -> np.ndarray:
    """Object index (MiniGrid's OBJECT_TO_IDX) of every cell."""
    return O.TABLES["obs"][grid][..., 0]


def count(grid: np.ndarray, obj: str, state: int | None = None) -> int:
    enc = O.TABLES["obs"][grid]
    hit = enc[..., 0] == O.OBJ[obj]
    if state is not None:
        hit &= enc[..., 2] == state
    return int(hit.sum())


def front_code(grid: np.ndarray, pos: np.ndarray, direction: int) -> int:
    r, c = np.asarray(pos) + DIR_STEPS[int(direction)]
    if not (0 <= r < grid.shape[0] and 0 <= c < grid.shape[1]):
        return O.WALL
    return int(grid[r, c])


def test_the_minigrid_twins_are_registered_gridworlds():
    """Every twin named here is a registered gridworld (a renamed task keeps its twin)."""
    assert set(MINIGRID) <= set(GRIDWORLDS)


def check_solvable(name):
    task, lay = task_and_layouts(name)
    assert lay.grid.shape == (NUM_LAYOUTS, task.height, task.width)
    bad = [
        i
        for i in range(NUM_LAYOUTS)
        if not solvable(lay.grid[i], lay.agent_pos[i], int(lay.target[i]))
    ]
    assert not bad, f"{len(bad)}/{NUM_LAYOUTS} unsolvable, e.g.\n" + ascii_grid(
        lay.grid[bad[0]], lay.agent_pos[bad[0]]
    )


def check_basics(name):
    task, lay = task_and_layouts(name)
    assert set(np.unique(lay.grid)) <= set(np.flatnonzero(O.TABLES["valid"]))
    rows, cols = lay.agent_pos[:, 0], lay.agent_pos[:, 1]
    assert np.all(lay.grid[np.arange(NUM_LAYOUTS), rows, cols] == O.EMPTY), "agent on a free cell"
    assert np.all((lay.agent_dir >= 0) & (lay.agent_dir < 4))
    for i in range(NUM_LAYOUTS):
        if lay.target[i] == 0:
            assert count(lay.grid[i], "goal") == 1
        else:
            assert int((lay.grid[i] == lay.target[i]).sum()) == 1
    # The MiniGrid twins' layouts are random, as MiniGrid's are: most of them differ (Empty
    # is the one fixed task). Other tasks may draw as few layouts as they like.
    distinct = len(
        {g.tobytes() + p.tobytes() for g, p in zip(lay.grid, lay.agent_pos, strict=True)}
    )
    if name.startswith("Empty"):
        assert distinct == 1
    elif name in MINIGRID:  # tiny grids (DoorKey-5x5, KeyCorridorS3R1) have only a few layouts
        assert distinct > (1 if task.height * task.width <= 25 else NUM_LAYOUTS // 2)


def check_minigrid_sizes(name):
    task, _ = task_and_layouts(name)
    spec = MINIGRID[name]
    ref = gymnasium.make(spec).unwrapped if isinstance(spec, str) else spec()
    assert (task.height, task.width, task.max_steps) == (ref.height, ref.width, ref.max_steps)


def check_fourrooms(name):
    _, lay = task_and_layouts("FourRooms")
    for grid in lay.grid:
        mid = grid.shape[0] // 2
        # One gap in each half of each inner wall, none anywhere else.
        assert (grid[1:mid, mid] != O.WALL).sum() == 1 and (
            grid[mid + 1 : -1, mid] != O.WALL
        ).sum() == 1
        assert (grid[mid, 1:mid] != O.WALL).sum() == 1 and (
            grid[mid, mid + 1 : -1] != O.WALL
        ).sum() == 1
        assert grid[mid, mid] == O.WALL and np.all(grid[[0, -1], :] == O.WALL)


def check_multiroom(name):
    task, lay = task_and_layouts(name)
    n = task.num_rooms
    for grid in lay.grid:
        assert count(grid, "door", O.DOOR_CLOSED) == n - 1 == count(grid, "door")
        assert count(grid, "key") == count(grid, "ball") == count(grid, "box") == 0
        # Every door joins two rooms: walls on both sides along its wall line.
        for r, c in np.argwhere(kinds(grid) == O.OBJ["door"]):
            vertical = grid[r - 1, c] == O.WALL and grid[r + 1, c] == O.WALL
            horizontal = grid[r, c - 1] == O.WALL and grid[r, c + 1] == O.WALL
            assert vertical != horizontal


def check_keycorridor(name):
    task, lay = task_and_layouts(name)
    for grid, pos, direction, target in zip(
        lay.grid, lay.agent_pos, lay.agent_dir, lay.target, strict=True
    ):
        locked = np.flatnonzero(O.TABLES["obs"][grid][..., 2].reshape(-1) == O.DOOR_LOCKED)
        assert count(grid, "door", O.DOOR_LOCKED) == 1
        lock_colour = O.TABLES["obs"][grid.reshape(-1)[locked[0]]][1]
        keys = O.TABLES["obs"][grid[kinds(grid) == O.OBJ["key"]]]
        assert len(keys) == 1 and keys[0][1] == lock_colour
        assert count(grid, "ball") == 1 and kinds(grid)[grid == target].tolist() == [O.OBJ["ball"]]
        # The ball sits in the right column of rooms, the key in the left, the agent in the middle.
        step = task.room_size - 1
        ball_col = np.argwhere(grid == target)[0][1]
        key_col = np.argwhere(kinds(grid) == O.OBJ["key"])[0][1]
        assert ball_col > 2 * step and key_col < step and step <= pos[1] <= 2 * step
        assert (
            O.TABLES["obs"][front_code(grid, pos, direction)][2] != O.DOOR_LOCKED
            or kinds(grid)[tuple(pos + DIR_STEPS[direction])] != O.OBJ["door"]
        )


def check_obstructedmaze(name):
    _, lay = task_and_layouts(name)
    for grid, pos, direction, target in zip(
        lay.grid, lay.agent_pos, lay.agent_dir, lay.target, strict=True
    ):
        assert int(target) == O.ball(O.COLOUR["blue"]) and count(grid, "ball") == 1
        assert front_code(grid, pos, direction) in (O.EMPTY, O.WALL), "never starts facing a thing"
        enc = O.TABLES["obs"][grid]
        locked = sorted(
            enc[(enc[..., 0] == O.OBJ["door"]) & (enc[..., 2] == O.DOOR_LOCKED)][:, 1].tolist()
        )
        if name.endswith("1Dl"):
            assert len(locked) == 1 and count(grid, "box") == 0
            assert enc[enc[..., 0] == O.OBJ["key"]][:, 1].tolist() == locked
        else:
            assert (
                len(locked) == 2
                and count(grid, "key") == 0
                and count(grid, "door", O.DOOR_CLOSED) == 1
            )
            boxes = grid[kinds(grid) == O.OBJ["box"]]
            assert np.all(enc[kinds(grid) == O.OBJ["box"]][:, 1] == O.COLOUR["grey"])
            hidden = sorted(int(O.TABLES["obs"][O.TABLES["toggled"][b]][1]) for b in boxes)
            assert hidden == locked, "each box hides the key of one locked door"


FAMILY_CHECKS = {
    "FourRooms": check_fourrooms,
    "MultiRoom": check_multiroom,
    "KeyCorridor": check_keycorridor,
    "ObstructedMaze": check_obstructedmaze,
}


@pytest.mark.parametrize("name", GRIDWORLDS)
def test_task(name):
    """Solvable layouts, the layouts' basics, MiniGrid's sizes and limits where the task
    has a MiniGrid twin, and the family's structure."""
    check_solvable(name)
    check_basics(name)
    if name in MINIGRID:
        check_minigrid_sizes(name)
    for prefix, check in FAMILY_CHECKS.items():
        if name.startswith(prefix):
            check(name)
    _CACHE.pop(name)  # layouts are not needed again
