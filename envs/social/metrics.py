"""Social-outcome metrics of an episode, computed inside JAX (Perolat et al. 2017).

For an episode of length T with N agents and returns R_i (Perolat et al. 2017):

* efficiency   U = Σ_i R_i / T
* equality     E = 1 − Σ_i Σ_j |R_i − R_j| / (2 N Σ_i |R_i|)  (1 − Gini). When every
  return is zero the population is perfectly equal and E = 1. The denominator uses |R_i|
  so that Coins' negative returns keep E in [0, 1] (with non-negative returns it is the
  usual Gini).
* sustainability S = (1/|A|) Σ_{i∈A} t_i, t_i the mean time step (1-based) at which agent
  i received a positive reward, over the agents A that received one; S = 0 when no agent
  was rewarded (Perolat et al. leave t_i undefined then).
* peace        P = (N·T − Σ_i steps agent i spent tagged out) / T.

Every env keeps :class:`SocialCounters` in its state and returns
``social_outcomes(counters, T)`` as ``info["social"]`` at every step; at a step where the
episode ends it is the finished episode's record (auto-reset replaces the state only after
``info`` is computed).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

SCALAR_METRICS = ("efficiency", "equality", "sustainability", "peace")
PER_AGENT_METRICS = (
    "returns",
    "apples_eaten",
    "waste_cleaned",
    "coins_own",
    "coins_other",
    "zaps_given",
    "zaps_received",
    "tagged_steps",
)


@struct.dataclass
class SocialCounters:
    """Per-agent running sums over the current episode (all ``[N]``)."""

    returns: jax.Array
    apples_eaten: jax.Array
    waste_cleaned: jax.Array
    coins_own: jax.Array
    coins_other: jax.Array
    zaps_given: jax.Array
    zaps_received: jax.Array
    tagged_steps: jax.Array
    reward_time_sum: jax.Array  # Σ t over steps with a positive reward
    reward_steps: jax.Array  # number of steps with a positive reward

    @classmethod
    def zeros(cls, num_agents: int) -> SocialCounters:
        """Counters at the start of an episode."""
        i = jnp.zeros((num_agents,), jnp.int32)
        f = jnp.zeros((num_agents,), jnp.float32)
        return cls(f, i, i, i, i, i, i, i, f, i)

    def record(self, reward: jax.Array, tagged_out: jax.Array, t: jax.Array) -> SocialCounters:
        """Add one step: rewards ``[N]``, who is tagged out after it ``[N]``, its index t."""
        rewarded = reward > 0
        return self.replace(
            returns=self.returns + reward,
            tagged_steps=self.tagged_steps + tagged_out.astype(jnp.int32),
            reward_time_sum=self.reward_time_sum + jnp.where(rewarded, t, 0).astype(jnp.float32),
            reward_steps=self.reward_steps + rewarded.astype(jnp.int32),
        )


def equality(returns: jax.Array) -> jax.Array:
    """1 − Gini of ``returns [..., N]``; 1 when every return is zero."""
    n = returns.shape[-1]
    diff = jnp.abs(returns[..., :, None] - returns[..., None, :]).sum((-1, -2))
    total = jnp.abs(returns).sum(-1)
    return jnp.where(total > 0, 1.0 - diff / (2 * n * jnp.maximum(total, 1e-12)), 1.0)


def social_outcomes(counters: SocialCounters, episode_length: jax.Array) -> dict[str, jax.Array]:
    """U, E, S, P (scalars) and the per-agent counters (``[N]``) of an episode so far."""
    t = jnp.maximum(jnp.asarray(episode_length, jnp.float32), 1.0)
    n = counters.returns.shape[-1]
    rewarded = counters.reward_steps > 0
    mean_time = counters.reward_time_sum / jnp.maximum(counters.reward_steps, 1)
    sustainability = jnp.where(
        rewarded.any(-1),
        jnp.where(rewarded, mean_time, 0.0).sum(-1) / jnp.maximum(rewarded.sum(-1), 1),
        0.0,
    )
    out = {
        "efficiency": counters.returns.sum(-1) / t,
        "equality": equality(counters.returns),
        "sustainability": sustainability,
        "peace": (n * t - counters.tagged_steps.sum(-1)) / t,
    }
    for name in PER_AGENT_METRICS:
        out[name] = getattr(counters, name)
    return out
