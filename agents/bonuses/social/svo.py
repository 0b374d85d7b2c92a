"""``svo``: social value orientation, McKee et al. 2020, "Social diversity and social
preferences in mixed-motive reinforcement learning" (AAMAS).

Each agent's utility is::

    U_i = r_i − w · |θ_i − atan2(r̄_{−i}, r_i)|

with r̄_{−i} the mean reward of the other agents at that step and θ_i the agent's target
angle in radians (0° selfish, 45° prosocial, 90° altruistic); no factor of N. atan2 is
undefined when both rewards are 0: there the rewards carry no direction, and we set the
angle to θ_i (no penalty), so steps where nothing happens cost nothing. Defaults:
θ = 45° (prosocial) and w = 0.5 (SocialJax's ``svo_w``; McKee et al. tune it per population).

The bonus returns the social term ``U_i − r_i`` (≤ 0); see :mod:`agents.bonuses.social`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from agents.bonuses import register
from agents.bonuses.base import EmptyState, Metrics, Transitions
from agents.bonuses.social import UTILITY_SETTINGS, SocialBonus


class SVO(SocialBonus):
    """``svo``: −w·|θ − reward angle| (0 when every reward of the step is 0)."""

    name = "svo"
    utility = True  # the bonus is u_i − r_i (see agents.bonuses.social)
    agent_defaults = UTILITY_SETTINGS

    def __init__(self, w: float = 0.5, theta_deg: float = 45.0):
        if w < 0:
            raise ValueError(f"svo: w must be ≥ 0, got {w}")
        self.w, self.theta_deg = float(w), float(theta_deg)

    def init(self, key, obs_space, action_space, num_envs: int) -> EmptyState:
        self.agents  # noqa: B018 — a clear error outside IPPO
        return EmptyState(step=jnp.zeros((), jnp.int32))

    def angle(self, rewards: jax.Array) -> jax.Array:
        """Reward angle ``atan2(r̄_{−i}, r_i)`` of rewards ``[..., N]`` (θ where both are 0)."""
        n = rewards.shape[-1]
        others = (rewards.sum(-1, keepdims=True) - rewards) / (n - 1)
        theta = math.radians(self.theta_deg)
        both_zero = (rewards == 0) & (others == 0)
        safe = jnp.where(both_zero, 1.0, rewards)  # keeps atan2's gradient finite; unused
        return jnp.where(both_zero, theta, jnp.arctan2(others, safe))

    def reward(self, state: EmptyState, batch: Transitions) -> jax.Array:
        rewards = self.rewards(batch)
        deviation = jnp.abs(math.radians(self.theta_deg) - self.angle(rewards))
        return self.folded(-self.w * deviation)

    def update(self, state: EmptyState, batch: Transitions) -> tuple[EmptyState, Metrics]:
        return state.replace(step=state.step + 1), {}


register("svo", SVO)
