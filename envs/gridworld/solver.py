"""A NumPy planner for gridworld layouts, and an ASCII preview of a layout.

:func:`solvable` is a relaxation of the real dynamics that is exact for the suite's tasks:
from the agent's cell, flood-fill through cells it can walk on (closed doors open with a
toggle; a locked door opens once its key has been collected); every object next to the
reached region can be picked up, which collects keys and clears the cell (the agent can drop
it elsewhere), and every box next to it can be toggled open, revealing its key. The layout
is solvable when the goal is reached or the target object is next to the reached region.
The one-item carrying limit is ignored: in these tasks a key can always be carried to its
door and dropped in free space. ``explore check env=NAME`` runs it on sampled layouts of
every gridworld task.

:func:`preview` draws a layout (or a bare grid) one character per cell::

    >>> from envs.gridworld import preview
    >>> print(preview(task.generate(jax.random.PRNGKey(0))))
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from envs.gridworld import objects as O

WALKABLE = {O.EMPTY, O.FLOOR, O.GOAL}
STEPS = ((0, 1), (1, 0), (0, -1), (-1, 0))
#: Character of each object kind in :func:`preview` (doors: ``D`` open, ``d`` closed,
#: ``L`` locked; the agent ``A``).
CHARS = {
    "empty": ".",
    "wall": "#",
    "goal": "G",
    "lava": "~",
    "key": "k",
    "ball": "o",
    "box": "b",
    "floor": "_",
    "unseen": "?",
    "tv": "T",
}


def _kind(code: int) -> tuple[str, int, int]:
    obj, colour, state = (int(v) for v in O.TABLES["obs"][code])
    return O.OBJECTS[obj], colour, state


def solvable(grid: Any, agent_pos: Any, target: int) -> bool:
    """Whether the goal (``target == 0``) or the ``target`` object can be reached from
    ``agent_pos`` in ``grid`` (uint8 cell codes ``[H, W]``, see :mod:`envs.gridworld.objects`)."""
    grid = np.array(grid, np.int32)
    h, w = grid.shape
    keys: set[int] = set()
    while True:
        seen = np.zeros((h, w), bool)
        start = (int(agent_pos[0]), int(agent_pos[1]))
        seen[start] = True
        queue = deque([start])
        frontier: set[tuple[int, int]] = set()
        while queue:
            r, c = queue.popleft()
            if target == 0 and grid[r, c] == O.GOAL:
                return True
            for dr, dc in STEPS:
                nr, nc = r + dr, c + dc
                if not (0 <= nr < h and 0 <= nc < w) or seen[nr, nc]:
                    continue
                code = int(grid[nr, nc])
                kind, colour, state = _kind(code)
                passable = code in WALKABLE or (
                    kind == "door" and (state != O.DOOR_LOCKED or colour in keys)
                )
                if passable:
                    seen[nr, nc] = True
                    queue.append((nr, nc))
                elif kind in ("key", "ball", "box"):
                    frontier.add((nr, nc))
        changed = False
        for r, c in frontier:
            code = int(grid[r, c])
            if target != 0 and code == target:
                return True
            kind, colour, _ = _kind(code)
            if kind == "box" and int(O.TABLES["toggled"][code]) != O.EMPTY:
                grid[r, c] = int(O.TABLES["toggled"][code])  # the key it hides
            else:
                if kind == "key":
                    keys.add(colour)
                grid[r, c] = O.EMPTY
            changed = True
        if not changed:
            return False


def preview(layout: Any, agent_pos: Any = None) -> str:
    """A one-character-per-cell picture of a :class:`~envs.gridworld.layout.Layout` (with
    its agent) or of a bare grid of cell codes ``[H, W]`` (with ``agent_pos`` if given)."""
    grid = getattr(layout, "grid", layout)
    if agent_pos is None:
        agent_pos = getattr(layout, "agent_pos", None)
    where = None if agent_pos is None else tuple(int(v) for v in np.asarray(agent_pos))
    lines = []
    for r, row in enumerate(np.asarray(grid)):
        line = ""
        for c, code in enumerate(row):
            kind, _, state = _kind(int(code))
            ch = "DdL"[state] if kind == "door" else CHARS.get(kind, "?")
            if (r, c) == where:
                ch = "A"
            line += ch
        lines.append(line)
    return "\n".join(lines)


__all__ = ["CHARS", "preview", "solvable"]
