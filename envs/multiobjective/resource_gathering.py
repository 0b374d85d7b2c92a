"""Resource Gathering (Barrett & Narayanan 2008), as in MO-Gymnasium 1.3.2.

A 5×5 grid: the agent starts at home (row 4, col 2), moves up/down/left/right (actions
0-3; off-grid moves leave it in place), picks up gold (row 0, col 2) and a gem (row 1,
col 4) by stepping on them, and two enemy cells (rows 0-1 around the gold) kill it with
probability 0.1 each time it stands on one. Back home the episode ends with reward
``[0, has_gold, has_gem]``; a kill ends it with ``[-1, 0, 0]``. Standing still at home (a
move off the grid from there) also ends the episode, as in MO-Gymnasium. Observations are
``(row, col, has_gold, has_gem)`` int32; episodes are truncated after 100 steps
(MO-Gymnasium registers ``resource-gathering-v0`` with ``max_episode_steps=100``).

Source of the dynamics: ``mo_gymnasium/envs/resource_gathering/resource_gathering.py``
(``ResourceGathering.step``). Its known front, :meth:`ResourceGathering.pareto_front`, is
computed by Pareto value iteration over the MDP (:mod:`envs.multiobjective.pareto`), not
taken from MO-Gymnasium's six hand-written candidate policies, which miss Pareto-optimal
routes. The kill draw is ``jax.random.uniform(key) < 0.1`` on ``step_env``'s key
(:meth:`ResourceGathering.attack_draw`), so tests can hand MO-Gymnasium the same draw.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.core import EnvParams
from envs.multiobjective.base import MOEnvironment, check_gamma
from envs.multiobjective.deep_sea_treasure import MOVES
from envs.multiobjective.pareto import Outcome, TabularMDP, pareto_value_iteration
from envs.spaces import Box, Discrete

EMPTY, GOLD, GEM, ENEMY, HOME = range(5)
# MO-Gymnasium's map: "R1" gold, "R2" gem, "E1"/"E2" enemies, "H" home.
CELLS = np.array(
    [
        [EMPTY, EMPTY, GOLD, ENEMY, EMPTY],
        [EMPTY, EMPTY, ENEMY, EMPTY, GEM],
        [EMPTY, EMPTY, EMPTY, EMPTY, EMPTY],
        [EMPTY, EMPTY, EMPTY, EMPTY, EMPTY],
        [EMPTY, EMPTY, HOME, EMPTY, EMPTY],
    ],
    np.int32,
)
HOME_POS = (4, 2)
KILL_PROBABILITY = 0.1
MAX_STEPS = 100
EVENT_GOLD, EVENT_GEM, EVENT_KILLED, EVENT_HOME = 1, 2, 3, 4


@struct.dataclass
class RGState:
    """Position, what the agent carries, and the step counter."""

    pos: jax.Array  # int32 [2] (row, col)
    has_gold: jax.Array  # int32 0/1
    has_gem: jax.Array  # int32 0/1
    step_count: jax.Array  # int32


class ResourceGathering(MOEnvironment):
    """Resource Gathering: objectives ``(enemy, gold, gem)``."""

    objectives = ("enemy", "gold", "gem")
    event_captions = (
        "",
        "You pick up the gold.",
        "You pick up the gem.",
        "An enemy kills you.",
        "You are back home.",
    )

    def __init__(self, name: str = "ResourceGathering", max_steps: int = MAX_STEPS) -> None:
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be an integer ≥ 1, got {max_steps!r}")
        self._name = name
        self.max_steps = max_steps
        self._cells = jnp.asarray(CELLS)
        self._moves = jnp.asarray(MOVES)

    @property
    def name(self) -> str:
        return self._name

    @property
    def default_params(self) -> EnvParams:
        return EnvParams(max_steps_in_episode=self.max_steps)

    def observation_space(self, params: EnvParams | None = None) -> Box:
        return Box(0, 5, (4,), jnp.int32)  # MO-Gymnasium's bounds

    def action_space(self, params: EnvParams | None = None) -> Discrete:
        return Discrete(4)

    def reward_space(self, params: EnvParams | None = None) -> Box:
        return Box(
            np.array([-1.0, 0.0, 0.0], np.float32),
            np.array([0.0, 1.0, 1.0], np.float32),
            (3,),
            jnp.float32,
        )

    @staticmethod
    def _observe(state: RGState) -> jax.Array:
        return jnp.concatenate([state.pos, jnp.stack([state.has_gold, state.has_gem])])

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, RGState]:
        zero = jnp.zeros((), jnp.int32)
        state = RGState(
            pos=jnp.asarray(HOME_POS, jnp.int32), has_gold=zero, has_gem=zero, step_count=zero
        )
        return self._observe(state), state

    @staticmethod
    def attack_draw(key: jax.Array) -> jax.Array:
        """The uniform draw of ``step_env(key, ...)``: an enemy kills when it is below 0.1."""
        return jax.random.uniform(key)

    def step_env(self, key: jax.Array, state: RGState, action: jax.Array, params: EnvParams):
        target = state.pos + self._moves[jnp.asarray(action, jnp.int32)]
        inside = jnp.all((target >= 0) & (target < CELLS.shape[0]))
        pos = jnp.where(inside, target, state.pos)
        cell = self._cells[pos[0], pos[1]]
        new_gold = (cell == GOLD) & (state.has_gold == 0)
        new_gem = (cell == GEM) & (state.has_gem == 0)
        has_gold = jnp.where(cell == GOLD, 1, state.has_gold)
        has_gem = jnp.where(cell == GEM, 1, state.has_gem)
        killed = (cell == ENEMY) & (self.attack_draw(key) < KILL_PROBABILITY)
        home = cell == HOME
        reward = jnp.stack([-killed.astype(jnp.float32), home * has_gold, home * has_gem]).astype(
            jnp.float32
        )
        step_count = state.step_count + 1
        terminated = killed | home
        truncated = (step_count >= params.max_steps_in_episode) & ~terminated
        event = jnp.zeros((), jnp.int32)
        event = jnp.where(new_gold, EVENT_GOLD, event)
        event = jnp.where(new_gem, EVENT_GEM, event)
        event = jnp.where(killed, EVENT_KILLED, event)
        event = jnp.where(home, EVENT_HOME, event)
        state = RGState(pos=pos, has_gold=has_gold, has_gem=has_gem, step_count=step_count)
        info = {
            "success": home & ((has_gold + has_gem) > 0),
            "event": event,
            "privileged": {"agent_pos": pos},
        }
        return self._observe(state), state, reward, terminated, truncated, info

    # --- the known front -------------------------------------------------------------------
    def mdp(self) -> TabularMDP:
        """The dynamics as a tabular MDP over ``(row, col, has_gold, has_gem)``.

        State ``((row·5 + col)·2 + has_gold)·2 + has_gem``; an enemy cell splits a move into a
        kill (probability 0.1, reward ``[-1, 0, 0]``, the episode ends) and a survival.
        """
        size = CELLS.shape[0]

        def index(r: int, c: int, gold: int, gem: int) -> int:
            return ((r * size + c) * 2 + gold) * 2 + gem

        zero = np.zeros(3)
        outcomes = []
        for r in range(size):
            for c in range(size):
                for gold in (0, 1):
                    for gem in (0, 1):
                        actions = []
                        for dr, dc in MOVES:
                            nr, nc = r + int(dr), c + int(dc)
                            if not (0 <= nr < size and 0 <= nc < size):
                                nr, nc = r, c  # off the grid: stay (at home: home again)
                            cell = CELLS[nr, nc]
                            g = 1 if cell == GOLD else gold
                            e = 1 if cell == GEM else gem
                            if cell == HOME:
                                branches = [Outcome(1.0, np.array([0.0, g, e]), None)]
                            elif cell == ENEMY:
                                p = KILL_PROBABILITY
                                branches = [
                                    Outcome(p, np.array([-1.0, 0.0, 0.0]), None),
                                    Outcome(1.0 - p, zero, index(nr, nc, g, e)),
                                ]
                            else:
                                branches = [Outcome(1.0, zero, index(nr, nc, g, e))]
                            actions.append(branches)
                        outcomes.append(actions)
        return TabularMDP(outcomes, start=index(*HOME_POS, 0, 0), reward_dim=3)

    def pareto_front(self, gamma: float) -> np.ndarray:
        """The true front of expected discounted returns within the time limit, ``[k, 3]``.

        Computed exactly by Pareto value iteration over :meth:`mdp` (the kill is the only
        random branch and it ends the episode, so every deterministic policy's expected
        return is a point of ``V(start)``). A reward received at step ``k`` (1-based) is
        discounted by ``γ^(k-1)``, the convention of ``Σ_t γ^t r_t`` (MO-Gymnasium's
        ``MORecordEpisodeStatistics``). MO-Gymnasium's own ``pareto_front`` keeps the
        non-dominated ones of six hand-written candidates (discounted by ``γ^k``); they miss
        routes such as gem, then the gold entered from its left, then home (18 steps, no
        enemy cell: ``(0, 1, 1)`` at ``γ = 1``, which dominates all of them).
        """
        return pareto_value_iteration(self.mdp(), check_gamma(gamma), self.max_steps)
