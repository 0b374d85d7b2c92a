"""``rdd``: Random Distribution Distillation.

Reference: Fang et al. 2025, "Exploration by Random Distribution Distillation"
(arXiv 2505.11044); builds on RND (Burda et al. 2019).

The target is a distribution, f_tar(s) ~ N(μ_θ̄(s), σ²I), with μ a fixed random network and
σ a fixed scalar. Every time s is used for training a fresh draw is made, and the predictor
f_θ minimises ‖f_θ(s) − f_tar(s)‖². The bonus is b(s') = (1/d)‖f_θ(s') − μ_θ̄(s')‖².

Why: the least-squares predictor converges to the mean of the n draws seen at s, so
‖f* − μ‖²/(dσ²) is an unbiased estimate of 1/n (a pseudo-count term), plus a discrepancy
term while the predictor has not converged. Everything else (observation normalisation,
training on a random ``update_proportion`` of the batch, networks) is shared with
:mod:`agents.bonuses.rnd`. ``sigma`` is a config field (default 1.0 — our choice; the
estimator's 1/n behaviour does not depend on it, only the scale of the count term relative
to the discrepancy term does).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.bonuses import register
from agents.bonuses.rnd import RND


class RDD(RND):
    """``rdd``: RND whose target is sampled afresh, f_tar(s) ~ N(μ(s), σ²), at every use."""

    name = "rdd"

    def __init__(
        self,
        hidden: int = 256,
        out_dim: int = 64,
        lr: float = 1e-4,
        update_proportion: float = 0.25,
        num_updates: int = 1,
        network: str = "mlp",
        obs_clip: float = 5.0,
        sigma: float = 1.0,
    ):
        super().__init__(
            hidden=hidden,
            out_dim=out_dim,
            lr=lr,
            update_proportion=update_proportion,
            num_updates=num_updates,
            network=network,
            obs_clip=obs_clip,
        )
        self.sigma = float(sigma)

    def training_target(self, key: jax.Array, target_out: jax.Array) -> jax.Array:
        """A fresh draw μ(s) + σ·ε, ε ~ N(0, I), for every sample and every gradient step."""
        return target_out + self.sigma * jax.random.normal(key, target_out.shape, target_out.dtype)

    def bonus_from(self, pred: jax.Array, target_out: jax.Array) -> jax.Array:
        """(1/d)‖f_θ(s) − μ(s)‖²."""
        return jnp.mean((pred - target_out) ** 2, axis=-1)


register("rdd", RDD)
