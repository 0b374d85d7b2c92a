"""``noveld``: NovelD, novelty difference with an episodic first-visit restriction.

Reference: Zhang, Xu, Wang, Wu, Keutzer, Gonzalez, Tian 2021, "NovelD: A Simple yet
Effective Exploration Criterion" (NeurIPS).

b(s, s') = max(n(s') − α·n(s), 0) · 1[N_e(s') = 1], with n the RND novelty
(:class:`agents.bonuses.rnd.RND`: same networks, observation normalisation and training)
and α = 0.5. N_e is the episodic count of :class:`agents.bonuses.counts.EpisodicCount`
(after counting the current visit, and counting the episode's first observation), so the
bonus is paid only the first time s' is reached in an episode; a repeated within-episode
visit gets exactly 0. The RND part is trained on ``next_obs`` in :meth:`NovelD.update`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from agents.bonuses import register
from agents.bonuses.base import Bonus, Metrics, Transitions
from agents.bonuses.counts import EpisodicCount
from agents.bonuses.rnd import RND
from envs.spaces import Box, Discrete


@struct.dataclass
class NovelDState:
    """The RND state (global novelty) and the episodic count state."""

    rnd: Any
    episodic: Any


class NovelD(Bonus):
    """``noveld``: max(n(s') − α n(s), 0) on the first visit of s' in the episode."""

    name = "noveld"
    episodic = True

    def __init__(
        self,
        alpha: float = 0.5,
        hidden: int = 256,
        out_dim: int = 64,
        lr: float = 1e-4,
        update_proportion: float = 0.25,
        num_updates: int = 1,
        network: str = "mlp",
        key: str = "exact",
        table_size: int = 1024,
        simhash_bits: int = 32,
    ):
        self.alpha = float(alpha)
        self.rnd = RND(
            hidden=hidden,
            out_dim=out_dim,
            lr=lr,
            update_proportion=update_proportion,
            num_updates=num_updates,
            network=network,
        )
        self.counter = EpisodicCount(key=key, table_size=table_size, simhash_bits=simhash_bits)

    def init(self, key: jax.Array, obs_space: Box, action_space: Discrete, num_envs: int):
        k_rnd, k_count = jax.random.split(key)
        return NovelDState(
            rnd=self.rnd.init(k_rnd, obs_space, action_space, num_envs),
            episodic=self.counter.init(k_count, obs_space, action_space, num_envs),
        )

    def _bonus(self, state: NovelDState, batch: Transitions, n_e: jax.Array) -> jax.Array:
        gain = self.rnd.novelty(state.rnd, batch.next_obs) - self.alpha * self.rnd.novelty(
            state.rnd, batch.obs
        )
        return jnp.maximum(gain, 0.0) * (n_e == 1)

    def reward(self, state: NovelDState, batch: Transitions) -> jax.Array:
        n_e, _ = self.counter.counts_and_update(state.episodic, batch)
        return self._bonus(state, batch, n_e)

    def update(self, state: NovelDState, batch: Transitions) -> tuple[NovelDState, Metrics]:
        return self.reward_and_update(state, batch)[1:]

    def reward_and_update(self, state: NovelDState, batch: Transitions):
        n_e, episodic = self.counter.counts_and_update(state.episodic, batch)
        r_int = self._bonus(state, batch, n_e)
        rnd, metrics = self.rnd.update(state.rnd, batch)
        metrics = {**metrics, "first_visit_fraction": jnp.mean(n_e == 1).astype(jnp.float32)}
        return r_int, NovelDState(rnd=rnd, episodic=episodic), metrics


register("noveld", NovelD)
