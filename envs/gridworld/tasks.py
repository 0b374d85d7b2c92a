"""The gridworld task suite and its registry lines.

Each task is a :class:`Task` (one file under ``envs/gridworld/``); registering it is one
line here: ``_add("Name", TaskClass, **task_kwargs)``.
"""

from __future__ import annotations

from typing import Any

from envs.gridworld.doorkey import DoorKey
from envs.gridworld.empty import Empty
from envs.gridworld.env import GridWorld
from envs.gridworld.layout import Task
from envs.registry import register

# name -> (task class, kwargs), in the order the registry lists them.
TASKS: dict[str, tuple[type[Task], dict[str, Any]]] = {}


def _add(name: str, task_cls: type[Task], **task_kwargs: Any) -> None:
    TASKS[name] = (task_cls, task_kwargs)

    def factory(**overrides: Any):
        env = GridWorld(task_cls(**task_kwargs), name=name, **overrides)
        return env, env.default_params

    register(name, factory)


_add("Empty-5x5", Empty, size=5)
_add("Empty-8x8", Empty, size=8)
_add("Empty-16x16", Empty, size=16)
_add("DoorKey-5x5", DoorKey, size=5)
_add("DoorKey-8x8", DoorKey, size=8)
_add("DoorKey-16x16", DoorKey, size=16)
