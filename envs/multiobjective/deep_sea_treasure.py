"""Deep Sea Treasure (Vamplew et al. 2011) in MO-Gymnasium's three versions.

A submarine starts at the surface and moves up/down/left/right (actions 0-3) through a
grid whose seabed holds treasures; reaching one ends the episode. Each step returns the
reward vector ``[treasure value (0 unless a treasure is reached), -1 (time)]``. Moves off
the grid or into the seabed leave the submarine in place. Observations are the submarine's
``(row, col)`` as int32 (``float_state=True``: float32 ``0.1·(row, col)``). Episodes are
truncated after 100 steps (MO-Gymnasium registers the envs with ``max_episode_steps=100``).

The dynamics, maps, spaces and fronts follow MO-Gymnasium 1.3.2
(``mo_gymnasium/envs/deep_sea_treasure/deep_sea_treasure.py``: ``DeepSeaTreasure.step``,
``_is_valid_state``, ``DEFAULT_MAP``, ``CONCAVE_MAP``, ``MIRRORED_MAP``), and the tests check
step-for-step equality with it:

* ``DeepSeaTreasure`` — MO-Gymnasium's default map, the "convex" treasure values of Yang
  et al. (2019): 0.7, 8.2, 11.5, 14.0, 15.1, 16.1, 19.6, 20.3, 22.4, 23.7;
* ``DeepSeaTreasure-Concave`` — Vamplew et al.'s (2011) original values
  1, 2, 3, 5, 8, 16, 24, 50, 74, 124 (the front is concave: linear scalarisation reaches
  only some of it);
* ``DeepSeaTreasure-Mirrored`` — Felten et al. (2022): the concave values on a wider,
  mirrored map starting at column 10, same front, harder to explore.

The treasures sit at time costs 1, 3, 5, 7, 8, 9, 13, 14, 17, 19 (shortest paths);
:meth:`DeepSeaTreasure.pareto_front` computes the front by Pareto value iteration over the
map within the time limit (:mod:`envs.multiobjective.pareto`), for any ``γ``.
"""

from __future__ import annotations

from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.core import EnvParams
from envs.multiobjective.base import MOEnvironment, check_gamma
from envs.multiobjective.pareto import Outcome, TabularMDP, pareto_value_iteration
from envs.spaces import Box, Discrete

ROCK = -10.0
# MO-Gymnasium's action order: 0 up, 1 down, 2 left, 3 right, as (row, col) steps.
MOVES = np.array([(-1, 0), (1, 0), (0, -1), (0, 1)], np.int32)
EVENT_BUMP, EVENT_TREASURE = 1, 2
MAX_STEPS = 100

CONVEX_VALUES = (0.7, 8.2, 11.5, 14.0, 15.1, 16.1, 19.6, 20.3, 22.4, 23.7)
CONCAVE_VALUES = (1.0, 2.0, 3.0, 5.0, 8.0, 16.0, 24.0, 50.0, 74.0, 124.0)
# Treasure cells (row, col) in the order of the values above, and the first seabed row of
# each column (the grid's height where the column has no seabed).
_SQUARE_TREASURES = (
    (1, 0),
    (2, 1),
    (3, 2),
    (4, 3),
    (4, 4),
    (4, 5),
    (7, 6),
    (7, 7),
    (9, 8),
    (10, 9),
)
_SQUARE_SEABED = (2, 3, 4, 5, 5, 5, 8, 8, 10, 11, 11)
_MIRRORED_TREASURES = tuple((r, c + 10) for r, c in _SQUARE_TREASURES)
_MIRRORED_SEABED = (11, 10, 8, 8, 5, 5, 5, 4, 3, 2, 2, 3, 4, 5, 5, 5, 8, 8, 10, 11)


def sea_map(
    seabed: tuple[int, ...],
    treasures: tuple[tuple[int, int], ...],
    values: tuple[float, ...],
    height: int = 11,
) -> np.ndarray:
    """A map in MO-Gymnasium's encoding: 0 sea, ``-10`` seabed, else a treasure's value."""
    rows = np.arange(height)[:, None]
    grid = np.where(rows >= np.asarray(seabed)[None, :], ROCK, 0.0)
    for (r, c), v in zip(treasures, values, strict=True):
        grid[r, c] = v
    return grid


VERSIONS = {
    "convex": (sea_map(_SQUARE_SEABED, _SQUARE_TREASURES, CONVEX_VALUES), (0, 0)),
    "concave": (sea_map(_SQUARE_SEABED, _SQUARE_TREASURES, CONCAVE_VALUES), (0, 0)),
    "mirrored": (sea_map(_MIRRORED_SEABED, _MIRRORED_TREASURES, CONCAVE_VALUES), (0, 10)),
}


@struct.dataclass
class DSTState:
    """The submarine's cell and the step counter."""

    pos: jax.Array  # int32 [2] (row, col)
    step_count: jax.Array  # int32


class DeepSeaTreasure(MOEnvironment):
    """Deep Sea Treasure; ``version`` is ``"convex"``, ``"concave"`` or ``"mirrored"``."""

    objectives = ("treasure", "time")
    event_captions = ("", "You bump into the seabed.", "You find a treasure.")

    def __init__(
        self,
        version: str = "convex",
        name: str | None = None,
        float_state: bool = False,
        max_steps: int = MAX_STEPS,
    ) -> None:
        if version not in VERSIONS:
            raise ValueError(f"version must be one of {sorted(VERSIONS)}, got {version!r}")
        if not isinstance(float_state, bool | np.bool_):
            raise ValueError(f"float_state must be true or false, got {float_state!r}")
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be an integer ≥ 1, got {max_steps!r}")
        self.version = version
        self.map, start = VERSIONS[version]
        self.start = np.asarray(start, np.int32)
        self.float_state = bool(float_state)
        self.max_steps = max_steps
        self._name = name or f"DeepSeaTreasure-{version}"
        self._map = jnp.asarray(self.map, jnp.float32)
        self._moves = jnp.asarray(MOVES)

    @property
    def name(self) -> str:
        return self._name

    @property
    def default_params(self) -> EnvParams:
        return EnvParams(max_steps_in_episode=self.max_steps)

    def observation_space(self, params: EnvParams | None = None) -> Box:
        if self.float_state:
            high = 0.1 * (max(self.map.shape) - 1)
            return Box(0.0, high, (2,), jnp.float32)
        # MO-Gymnasium's bounds: [0, number of columns].
        return Box(0, self.map.shape[1], (2,), jnp.int32)

    def action_space(self, params: EnvParams | None = None) -> Discrete:
        return Discrete(4)

    def reward_space(self, params: EnvParams | None = None) -> Box:
        low = np.array([0.0, -1.0], np.float32)
        high = np.array([self.map.max(), -1.0], np.float32)
        return Box(low, high, (2,), jnp.float32)

    def _observe(self, pos: jax.Array) -> jax.Array:
        if self.float_state:
            return pos.astype(jnp.float32) * 0.1
        return pos

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, DSTState]:
        state = DSTState(pos=jnp.asarray(self.start), step_count=jnp.zeros((), jnp.int32))
        return self._observe(state.pos), state

    def step_env(self, key: jax.Array, state: DSTState, action: jax.Array, params: EnvParams):
        target = state.pos + self._moves[jnp.asarray(action, jnp.int32)]
        height, width = self.map.shape
        inside = (target[0] >= 0) & (target[0] < height) & (target[1] >= 0) & (target[1] < width)
        clipped = jnp.clip(target, 0, jnp.asarray([height - 1, width - 1]))
        moves = inside & (self._map[clipped[0], clipped[1]] != ROCK)
        pos = jnp.where(moves, target, state.pos)
        value = self._map[pos[0], pos[1]]
        found = (value != 0.0) & (value != ROCK)
        reward = jnp.stack([jnp.where(found, value, 0.0), jnp.float32(-1.0)]).astype(jnp.float32)
        step_count = state.step_count + 1
        terminated = found
        truncated = (step_count >= params.max_steps_in_episode) & ~terminated
        event = jnp.where(found, EVENT_TREASURE, jnp.where(moves, 0, EVENT_BUMP))
        state = DSTState(pos=pos, step_count=step_count)
        info = {
            "success": found,
            "event": event.astype(jnp.int32),
            "privileged": {"agent_pos": pos},
        }
        return self._observe(pos), state, reward, terminated, truncated, info

    # --- the known front -------------------------------------------------------------------
    def treasure_distances(self) -> dict[tuple[int, int], int]:
        """Shortest number of steps from the start to each treasure (treasures end episodes)."""
        height, width = self.map.shape
        start = (int(self.start[0]), int(self.start[1]))
        dist = {start: 0}
        queue = deque([start])
        found: dict[tuple[int, int], int] = {}
        while queue:
            cell = queue.popleft()
            if self.map[cell] not in (0.0, ROCK):
                found[cell] = dist[cell]
                continue  # the episode ends on a treasure
            for dr, dc in MOVES:
                nxt = (cell[0] + int(dr), cell[1] + int(dc))
                inside = 0 <= nxt[0] < height and 0 <= nxt[1] < width
                if inside and self.map[nxt] != ROCK and nxt not in dist:
                    dist[nxt] = dist[cell] + 1
                    queue.append(nxt)
        return found

    def mdp(self) -> TabularMDP:
        """The map as a tabular MDP over the cells (state ``row·width + col``)."""
        height, width = self.map.shape
        outcomes = []
        for r in range(height):
            for c in range(width):
                actions = []
                for dr, dc in MOVES:
                    nr, nc = r + int(dr), c + int(dc)
                    if not (0 <= nr < height and 0 <= nc < width) or self.map[nr, nc] == ROCK:
                        nr, nc = r, c  # off the grid or into the seabed: stay
                    value = float(self.map[nr, nc])
                    found = value not in (0.0, ROCK)
                    reward = np.array([value if found else 0.0, -1.0])
                    actions.append([Outcome(1.0, reward, None if found else nr * width + nc)])
                outcomes.append(actions)
        start = int(self.start[0]) * width + int(self.start[1])
        return TabularMDP(outcomes, start=start, reward_dim=2)

    def pareto_front(self, gamma: float) -> np.ndarray:
        """The true front within the time limit by Pareto value iteration, ``[k, 2]``.

        At ``γ`` near 1 it is the shortest path to each treasure, ``(γ^(n-1)·v, -Σ_{t<n} γ^t)``
        as in MO-Gymnasium's ``DeepSeaTreasure.pareto_front``; with strong discounting some
        convex treasures become dominated, and the true front drops them where MO-Gymnasium
        lists them anyway.
        """
        return pareto_value_iteration(self.mdp(), check_gamma(gamma), self.max_steps)
