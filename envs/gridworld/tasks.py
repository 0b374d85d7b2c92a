"""The gridworld task suite and its registry lines.

Each task is a :class:`Task` (one file under ``envs/gridworld/``); registering it is one
line here: ``_add("Name", TaskClass, **task_kwargs)``.
"""

from __future__ import annotations

from typing import Any

from envs.gridworld.doorkey import DoorKey
from envs.gridworld.empty import Empty
from envs.gridworld.env import GridWorld
from envs.gridworld.fourrooms import FourRooms
from envs.gridworld.keycorridor import KeyCorridor
from envs.gridworld.layout import Task
from envs.gridworld.multiroom import MultiRoom
from envs.gridworld.obstructedmaze import ObstructedMaze
from envs.registry import register

# name -> (task class, kwargs), in the order the registry lists them.
TASKS: dict[str, tuple[type[Task], dict[str, Any]]] = {}


def _add(name: str, task_cls: type[Task], **task_kwargs: Any) -> None:
    TASKS[name] = (task_cls, task_kwargs)

    def factory(**overrides: Any):
        env = GridWorld(task_cls(**task_kwargs), name=name, **overrides)
        return env, env.default_params

    register(name, factory, kind="gridworld")


_add("Empty-5x5", Empty, size=5)
_add("Empty-8x8", Empty, size=8)
_add("Empty-16x16", Empty, size=16)
_add("DoorKey-5x5", DoorKey, size=5)
_add("DoorKey-8x8", DoorKey, size=8)
_add("DoorKey-16x16", DoorKey, size=16)
_add("FourRooms", FourRooms)
_add("MultiRoom-N2-S4", MultiRoom, num_rooms=2, max_room_size=4)
_add("MultiRoom-N4-S5", MultiRoom, num_rooms=4, max_room_size=5)
_add("MultiRoom-N6", MultiRoom, num_rooms=6, max_room_size=10)
_add("MultiRoom-N7-S8", MultiRoom, num_rooms=7, max_room_size=8)
_add(
    "MultiRoom-N12-S10",
    MultiRoom,
    num_rooms=12,
    max_room_size=10,
    size_decay=0.8,
    parallel_chains=8,
)
_add("KeyCorridorS3R1", KeyCorridor, room_size=3, num_rows=1)
_add("KeyCorridorS3R3", KeyCorridor, room_size=3, num_rows=3)
_add("KeyCorridorS4R3", KeyCorridor, room_size=4, num_rows=3)
_add("KeyCorridorS5R3", KeyCorridor, room_size=5, num_rows=3)
_add("KeyCorridorS6R3", KeyCorridor, room_size=6, num_rows=3)
_add("ObstructedMaze-1Dl", ObstructedMaze, variant="1Dl")
_add("ObstructedMaze-2Dlh", ObstructedMaze, variant="2Dlh")
