"""Fruit Tree (Yang et al. 2019), depth 5, 6 or 7, as in MO-Gymnasium 1.3.2.

A full binary tree: the agent starts at the root and goes left (0) or right (1) ``depth``
times; the leaf it reaches holds a fruit, a 6-nutrient reward vector (protein, carbs,
fats, vitamins, minerals, water); inner nodes give zeros. Observations are
``(depth reached, index in that row)`` int32; the episode ends at the leaf (``depth``
steps, never truncated). The front (:meth:`FruitTree.pareto_front`) comes from Pareto value
iteration over the tree (:mod:`envs.multiobjective.pareto`); every leaf is Pareto-optimal,
so it is all fruits discounted by ``γ^(depth-1)``, as MO-Gymnasium lists them.

Source: ``mo_gymnasium/envs/fruit_tree/fruit_tree.py`` (``FruitTreeEnv.step``,
``pareto_front``, ``FRUITS``; the values are in :mod:`envs.multiobjective.fruit_tree_data`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.core import EnvParams
from envs.multiobjective.base import MOEnvironment, check_gamma
from envs.multiobjective.fruit_tree_data import FRUITS
from envs.multiobjective.pareto import Outcome, TabularMDP, pareto_value_iteration
from envs.spaces import Box, Discrete

MAX_NUTRIENT = 10.0
EVENT_FRUIT = 1


@struct.dataclass
class FruitTreeState:
    """The node: its depth (row) and index in the row."""

    row: jax.Array  # int32
    index: jax.Array  # int32


class FruitTree(MOEnvironment):
    """Fruit Tree of ``depth`` 5, 6 or 7 (``2^depth`` fruits, 6 objectives)."""

    objectives = ("protein", "carbs", "fats", "vitamins", "minerals", "water")
    event_captions = ("", "You pick a fruit.")

    def __init__(self, depth: int = 6, name: str | None = None) -> None:
        if depth not in FRUITS:
            raise ValueError(f"depth must be one of {sorted(FRUITS)}, got {depth!r}")
        self.depth = int(depth)
        self._name = name or f"FruitTree-{depth}"
        self.fruits = np.asarray(FRUITS[depth], np.float64)
        self._fruits = jnp.asarray(self.fruits, jnp.float32)

    @property
    def name(self) -> str:
        return self._name

    @property
    def default_params(self) -> EnvParams:
        # Episodes last exactly `depth` steps. MO-Gymnasium registers Fruit Tree without a
        # time limit, so ours lies one step beyond the leaves and never binds: at `depth`, the
        # doors (Gymnasium's TimeLimit rule) would mark every leaf step truncated too.
        return EnvParams(max_steps_in_episode=self.depth + 1)

    def observation_space(self, params: EnvParams | None = None) -> Box:
        return Box(0, 2**self.depth - 1, (2,), jnp.int32)

    def action_space(self, params: EnvParams | None = None) -> Discrete:
        return Discrete(2)

    def reward_space(self, params: EnvParams | None = None) -> Box:
        return Box(0.0, MAX_NUTRIENT, (6,), jnp.float32)

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, FruitTreeState]:
        state = FruitTreeState(row=jnp.zeros((), jnp.int32), index=jnp.zeros((), jnp.int32))
        return jnp.stack([state.row, state.index]), state

    def step_env(self, key: jax.Array, state: FruitTreeState, action: jax.Array, params: EnvParams):
        row = state.row + 1
        index = 2 * state.index + jnp.asarray(action, jnp.int32)
        leaf = row >= self.depth
        reward = jnp.where(leaf, self._fruits[jnp.clip(index, 0, 2**self.depth - 1)], 0.0)
        truncated = (row >= params.max_steps_in_episode) & ~leaf
        info = {"success": leaf, "event": jnp.where(leaf, EVENT_FRUIT, 0).astype(jnp.int32)}
        state = FruitTreeState(row=row, index=index)
        return jnp.stack([row, index]), state, reward.astype(jnp.float32), leaf, truncated, info

    def mdp(self) -> TabularMDP:
        """The tree as a tabular MDP: inner node ``(row, index)`` is state ``2^row − 1 + index``."""
        zero = np.zeros(6)
        outcomes = []
        for row in range(self.depth):
            for index in range(2**row):
                actions = []
                for action in (0, 1):
                    child = 2 * index + action
                    if row + 1 == self.depth:
                        actions.append([Outcome(1.0, self.fruits[child], None)])
                    else:
                        actions.append([Outcome(1.0, zero, 2 ** (row + 1) - 1 + child)])
                outcomes.append(actions)
        return TabularMDP(outcomes, start=0, reward_dim=6)

    def pareto_front(self, gamma: float) -> np.ndarray:
        """The true front by Pareto value iteration: every fruit times ``γ^(depth-1)``."""
        return pareto_value_iteration(self.mdp(), check_gamma(gamma), self.depth)
