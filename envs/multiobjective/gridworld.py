"""FourRooms-TwoGoals: a sparse multi-objective gridworld built on the suite's gridworld.

MiniGrid's FourRooms (``envs.gridworld.fourrooms``) with a blue ball added on another free
cell. Reaching the green goal or picking up the ball ends the episode; the reward vector is
``[goal, ball]``, with the gridworld's sparse reward ``1 − 0.9·t/T`` in the component of
the one reached (``t`` steps, ``T = 100``) and 0 in the other. The two objectives conflict
(an episode gets one of them), and both are sparse: linear scalarisation must find the
goal for weights near ``(1, 0)`` and the ball for weights near ``(0, 1)``, which is where
exploration bonuses meet multi-objective tasks.

Everything else is the gridworld's: MiniGrid observations (``uint8 [7, 7, 3]``), actions,
``contexts``, ``noisy_tv``, ``sticky_actions`` (see :mod:`envs.gridworld.env`). ``size``
is the outer wall's side (MiniGrid's 19 by default; ``FourRooms-TwoGoals-S11`` is an 11×11
one, sized for a CPU). The
registered task is a single layout (``contexts=1``, drawn from ``env_seed``), so its front
is known: :meth:`TwoGoalsGridWorld.pareto_front` finds the shortest action sequences to the
goal and to the ball by breadth-first search over (cell, direction) and discounts their
rewards; :meth:`TwoGoalsGridWorld.shortest_plans` returns those sequences.
"""

from __future__ import annotations

from collections import deque

import jax
import jax.numpy as jnp
import numpy as np

from envs.core import EnvParams
from envs.gridworld import objects as O
from envs.gridworld.env import DIR_STEPS, FORWARD, LEFT, PICKUP, RIGHT, GridWorld
from envs.gridworld.fourrooms import FourRooms
from envs.gridworld.layout import Layout, Task, place, sample_cell
from envs.multiobjective.base import MOEnvironment, check_gamma, non_dominated
from envs.spaces import Box

BALL = O.ball(O.COLOUR["blue"])


class FourRoomsTwoGoals(Task):
    """FourRooms plus a blue ball; picking up the ball is the second way to end an episode."""

    description = "reach the green goal or pick up the blue ball"

    def __init__(self, size: int = 19, max_steps: int = 100) -> None:
        self.rooms = FourRooms(size=size, max_steps=max_steps)
        self.height, self.width, self.max_steps = size, size, max_steps

    def generate(self, key: jax.Array) -> Layout:
        k_rooms, k_ball = jax.random.split(key)
        layout = self.rooms.generate(k_rooms)
        free = (layout.grid == O.EMPTY).at[layout.agent_pos[0], layout.agent_pos[1]].set(False)
        grid = place(layout.grid, sample_cell(k_ball, free), BALL)
        return layout.replace(grid=grid, target=jnp.asarray(BALL, jnp.uint8))


class TwoGoalsGridWorld(GridWorld, MOEnvironment):
    """A gridworld whose two ways of succeeding are two objectives ``(goal, ball)``."""

    objectives = ("goal", "ball")

    def __init__(
        self,
        name: str = "FourRooms-TwoGoals",
        contexts: int = 1,
        env_seed: int = 0,
        size: int = 19,
        noisy_tv: bool = False,
        sticky_actions: float = 0.0,
        see_through_walls: bool = False,
        max_steps: int | None = None,
    ) -> None:
        super().__init__(
            FourRoomsTwoGoals(size=size),
            name=name,
            contexts=contexts,
            noisy_tv=noisy_tv,
            sticky_actions=sticky_actions,
            see_through_walls=see_through_walls,
            env_seed=env_seed,
            max_steps=max_steps,
        )

    def reward_space(self, params: EnvParams | None = None) -> Box:
        return Box(0.0, 1.0, (2,), jnp.float32)

    def step_env(self, key: jax.Array, state, action: jax.Array, params):
        obs, state, reward, terminated, truncated, info = super().step_env(
            key, state, action, params
        )
        # The scalar reward is non-zero only on success: split it by what was reached.
        goal = info["event"] == O.EVENT_GOAL
        vector = jnp.stack([jnp.where(goal, reward, 0.0), jnp.where(goal, 0.0, reward)])
        return obs, state, vector.astype(jnp.float32), terminated, truncated, info

    # --- the known front (single layout) ---------------------------------------------------
    def shortest_plans(self, params: EnvParams | None = None) -> dict[str, list[int]]:
        """Shortest action sequences to the goal and to the ball in the single layout."""
        pool = self.layout_pool(params)
        if pool is None or pool.grid.shape[0] != 1:
            raise NotImplementedError(
                f"{self.name}: the front is known for a single layout (contexts=1), "
                f"got contexts={self.contexts}"
            )
        grid = np.asarray(pool.grid[0])
        start = (int(pool.agent_pos[0][0]), int(pool.agent_pos[0][1]), int(pool.agent_dir[0]))
        walkable = np.asarray(O.TABLES["can_overlap"])[grid]
        plans: dict[str, list[int]] = {}
        parent: dict[tuple[int, int, int], tuple[tuple[int, int, int], int] | None] = {start: None}
        queue = deque([start])

        def plan_to(node, last):
            actions = [last]
            while parent[node] is not None:
                node, action = parent[node]
                actions.append(action)
            return actions[::-1]

        while queue and len(plans) < 2:
            node = queue.popleft()
            r, c, d = node
            ahead = (r + int(DIR_STEPS[d][0]), c + int(DIR_STEPS[d][1]))
            if grid[ahead] == BALL and "ball" not in plans:
                plans["ball"] = plan_to(node, PICKUP)
            if grid[ahead] == O.GOAL and "goal" not in plans:
                plans["goal"] = plan_to(node, FORWARD)
            moves = [((r, c, (d - 1) % 4), LEFT), ((r, c, (d + 1) % 4), RIGHT)]
            if walkable[ahead] and grid[ahead] != O.GOAL:
                moves.append(((*ahead, d), FORWARD))
            for nxt, action in moves:
                if nxt not in parent:
                    parent[nxt] = (node, action)
                    queue.append(nxt)
        return plans

    def pareto_front(self, gamma: float, params: EnvParams | None = None) -> np.ndarray:
        """Discounted returns of the shortest plans: ``(γ^(n-1)(1 − 0.9 n/T), 0)`` and ``(0, …)``."""
        gamma = check_gamma(gamma)
        params = self.default_params if params is None else params
        limit = int(params.max_steps_in_episode)
        points = []
        for i, objective in enumerate(self.objectives):
            plan = self.shortest_plans(params).get(objective)
            if plan is None or len(plan) > limit:
                continue  # unreachable within the time limit
            n = len(plan)
            point = np.zeros(2)
            point[i] = gamma ** (n - 1) * (1.0 - 0.9 * n / limit)
            points.append(point)
        return non_dominated(np.asarray(points))
