"""``inequity_aversion``: Hughes et al. 2018, "Inequity aversion improves cooperation in
intertemporal social dilemmas" (NeurIPS), after Fehr & Schmidt 1999.

Each agent's utility is::

    u_i = r_i − α/(N−1) Σ_{j≠i} max(e_j − e_i, 0) − β/(N−1) Σ_{j≠i} max(e_i − e_j, 0)

with e_j^t = γλ e_j^{t−1} + r_j^t the temporally smoothed reward of agent j (zero at the
start of each episode). α = 5 (disadvantageous: envy) and β = 0.05 (advantageous: guilt)
are the paper's Clean Up / Harvest values. The paper leaves the smoothing λ to the user; we
take γ = 0.99 (the agents' discount) and λ = 0.975, so γλ ≈ 0.965 and a reward keeps
half its weight in e for ≈ 20 steps — long enough to compare agents across the sparse
apple and coin events, short against the ≥ 1000-step episodes.

Only differences enter: when the smoothed rewards are equal (e.g. nobody has been rewarded)
the penalty is exactly 0 — one JAX suite instead charges every agent −(α+β)(N−1) there.

The bonus returns the social term ``u_i − r_i`` (≤ 0); see :mod:`agents.bonuses.social` for
the settings under which the agent trains on ``u_i`` exactly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from agents.bonuses import register
from agents.bonuses.base import Metrics, Transitions
from agents.bonuses.social import UTILITY_SETTINGS, SocialBonus


@struct.dataclass
class InequityState:
    """Smoothed rewards ``e [E, N]`` carried across rollouts (reset at episode ends)."""

    smoothed: jax.Array


class InequityAversion(SocialBonus):
    """``inequity_aversion``: u_i − r_i, Hughes et al. 2018's envy and guilt terms."""

    name = "inequity_aversion"
    utility = True  # the bonus is u_i − r_i (see agents.bonuses.social)
    agent_defaults = UTILITY_SETTINGS
    episodic = True

    def __init__(
        self, alpha: float = 5.0, beta: float = 0.05, gamma: float = 0.99, lam: float = 0.975
    ):
        if alpha < 0 or beta < 0:
            raise ValueError(f"inequity_aversion: alpha and beta must be ≥ 0, got {alpha}, {beta}")
        if not (0 <= gamma <= 1 and 0 <= lam <= 1):
            raise ValueError(
                f"inequity_aversion: gamma and lam must lie in [0, 1], got {gamma}, {lam}"
            )
        self.alpha, self.beta, self.gamma, self.lam = (
            float(alpha),
            float(beta),
            float(gamma),
            float(lam),
        )

    def init(self, key, obs_space, action_space, num_envs: int) -> InequityState:
        return InequityState(smoothed=jnp.zeros((num_envs // self.agents, self.agents)))

    def penalty(self, smoothed: jax.Array) -> jax.Array:
        """``u_i − r_i`` for smoothed rewards ``[..., N]``."""
        n = smoothed.shape[-1]
        diff = smoothed[..., None, :] - smoothed[..., :, None]  # [..., i, j] = e_j − e_i
        envy = jnp.maximum(diff, 0.0).sum(-1)
        guilt = jnp.maximum(-diff, 0.0).sum(-1)
        return -(self.alpha * envy + self.beta * guilt) / (n - 1)

    def _scan(self, state: InequityState, batch: Transitions):
        rewards = self.rewards(batch)  # [T, E, N]
        done = self.per_agent(jnp.asarray(batch.done))[..., 0]  # [T, E]
        decay = self.gamma * self.lam

        def step(smoothed, x):
            r, d = x
            smoothed = decay * smoothed + r
            penalty = self.penalty(smoothed)
            return jnp.where(d[:, None], 0.0, smoothed), (penalty, smoothed)

        final, (penalty, smoothed) = jax.lax.scan(step, state.smoothed, (rewards, done))
        return self.folded(penalty), final, smoothed

    def reward(self, state: InequityState, batch: Transitions) -> jax.Array:
        return self._scan(state, batch)[0]

    def update(self, state: InequityState, batch: Transitions) -> tuple[InequityState, Metrics]:
        return self.reward_and_update(state, batch)[1:]

    def reward_and_update(self, state: InequityState, batch: Transitions):
        penalty, final, smoothed = self._scan(state, batch)
        spread = smoothed.max(-1) - smoothed.min(-1)
        return penalty, state.replace(smoothed=final), {"smoothed_spread": spread.mean()}


register("inequity_aversion", InequityAversion)
