"""``social_influence``: Jaques et al. 2019, "Social Influence as Intrinsic Motivation for
Multi-Agent Deep Reinforcement Learning" (ICML), the centralised-counterfactual variant.

Agent k is rewarded for how much its action changes the other agents' next policies::

    c_k^t = Σ_{j≠k} KL[ π_j(· | o_j^{t+1}, a_k^t) ‖ Σ_c π_k(c | o_k^t) π_j(· | o_j^{t+1}, a_k^t ← c) ]

Every policy is at hand in JAX, so instead of a learned model of the other agents (the
paper's MOA variant) we query j's own policy under each counterfactual action c of k. The
action reaches j's policy as an input: with this bonus IPPO feeds every policy the previous
joint action (``ippo.joint_action_input``), as the agents of the paper's MOA variant see the
others' previous actions, and j's observation is held at the one it actually received (as
in the paper, only the action input is varied). IPPO provides, per transition,
``Transitions.logits`` (π_k at o_k^t) and ``Transitions.counterfactual_logits`` (π_j at
o_j^{t+1} for every influencer k and action c).

The reward is the paper's influence term c_k; the agent adds ``int_coef ·`` it (the paper's
β) to its extrinsic reward through PPO's intrinsic stream.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.bonuses import register
from agents.bonuses.base import EmptyState, Metrics, Transitions
from agents.bonuses.social import SocialBonus


class SocialInfluence(SocialBonus):
    """``social_influence``: Σ_{j≠k} KL(π_j given a_k ‖ π_j marginalised over k's actions)."""

    name = "social_influence"
    needs_counterfactuals = True

    def init(self, key, obs_space, action_space, num_envs: int) -> EmptyState:
        self.agents  # noqa: B018 — a clear error outside IPPO
        return EmptyState(step=jnp.zeros((), jnp.int32))

    def influence(
        self, logits: jax.Array, action: jax.Array, counterfactual_logits: jax.Array
    ) -> jax.Array:
        """Influence of each agent ``[..., N]`` (k) from, per env:

        ``logits [..., N, A]`` (π_k at o_k^t), ``action [..., N]`` (a_k^t) and
        ``counterfactual_logits [..., N(j), N(k), A(c), A]`` (π_j at o_j^{t+1} given a_k ← c).
        """
        n = logits.shape[-2]
        log_pk = jax.nn.log_softmax(logits, -1)  # [..., k, c]
        log_q = jax.nn.log_softmax(counterfactual_logits, -1)  # [..., j, k, c, a]
        index = jnp.broadcast_to(
            action[..., None, :, None, None], (*log_q.shape[:-2], 1, log_q.shape[-1])
        )
        log_cond = jnp.take_along_axis(log_q, index, axis=-2)[..., 0, :]  # [..., j, k, a]
        log_marginal = jax.nn.logsumexp(log_pk[..., None, :, :, None] + log_q, axis=-2)
        kl = (jnp.exp(log_cond) * (log_cond - log_marginal)).sum(-1)  # [..., j, k]
        others = 1.0 - jnp.eye(n)  # j ≠ k
        return (kl * others).sum(-2)

    def reward(self, state: EmptyState, batch: Transitions) -> jax.Array:
        if batch.logits is None or batch.counterfactual_logits is None:
            raise ValueError(
                "bonus 'social_influence' needs every policy under counterfactual actions "
                "(Transitions.logits / counterfactual_logits), which agent=ippo provides"
            )
        c = self.influence(
            self.per_agent(batch.logits),
            self.per_agent(jnp.asarray(batch.action)),
            self.per_agent(batch.counterfactual_logits),
        )
        return self.folded(c)

    def update(self, state: EmptyState, batch: Transitions) -> tuple[EmptyState, Metrics]:
        return state.replace(step=state.step + 1), {}


register("social_influence", SocialInfluence)
