"""An intrinsic reward: the fraction of the observation that a step changes.

Shows the bonus contract of :mod:`agents.bonuses.base`: ``init`` / ``reward`` / ``update``
in pure JAX over time-major batches ``[T, N, ...]``, and ``agents.bonuses.register``.

    explore check bonus=obs_change --import examples/change_bonus.py
    explore train env=Empty-5x5 bonus=obs_change --import examples/change_bonus.py
"""

from __future__ import annotations

import jax.numpy as jnp

from agents.bonuses import register
from agents.bonuses.base import Bonus, EmptyState


class ObsChange(Bonus):
    """``obs_change``: b = scale · (fraction of observation entries that differ)."""

    name = "obs_change"

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = float(scale)

    def init(self, key, obs_space, action_space, num_envs):
        return EmptyState(step=jnp.zeros((), jnp.int32))  # nothing to learn or count

    def reward(self, state, batch):
        changed = jnp.asarray(batch.obs) != jnp.asarray(batch.next_obs)  # [T, N, ...]
        axes = tuple(range(2, changed.ndim))
        return (self.scale * changed.mean(axis=axes)).astype(jnp.float32)  # [T, N]

    def update(self, state, batch):
        return state.replace(step=state.step + 1), {}


register("obs_change", ObsChange, paper="none (a teaching example)")
