"""``rdd``: Random Distribution Distillation.

Reference: Fang et al. 2025, "Exploration by Random Distribution Distillation"
(arXiv 2505.11044); builds on RND (Burda et al. 2019).

The target is a distribution, f_tar(s) ~ N(μ_θ̄(s), σ²I), with μ a fixed random network and
σ a fixed scalar. Every time s is used for training a fresh draw is made, and the predictor
f_θ minimises ‖f_θ(s) − f_tar(s)‖². The bonus is b(s') = (1/d)‖f_θ(s') − μ_θ̄(s')‖².

Why (the paper's argument): the *least-squares* predictor f* is the mean of the n draws
seen at s, so ‖f* − μ‖²/(dσ²) is an unbiased estimate of 1/n (a pseudo-count term), plus a
discrepancy term while the predictor has not converged.

What this code computes is the *online* bonus: f_θ is trained by Adam (``lr``) on each
batch's fresh draws, one pass, as in RND, and b(s') is its current error against μ. Adam's
steps have a size of about lr whatever the gradient, so on fresh draws the predictor keeps
moving around μ by an amount set by lr (it tracks recent draws) instead of settling on the
mean of all n, and it starts from a random predictor: the online bonus is not the
least-squares estimate the argument is about. Measured (2026-12-02,
one-hot states visited 10, 40, 160, 640 times in random order, one update per visit with
update_proportion=1, 8 seeds, σ=1, d=64): the closed-form least-squares fit gives
0.097, 0.027, 0.0064, 0.0014 against σ²/n = 0.1, 0.025, 0.0063, 0.0016 (log-log slope
−1.02); the online bonus with a linear predictor gives slopes −0.94 (lr 1e-4), −1.33 (1e-3)
and −0.79 (1e-2), with an MLP −1.06 (1e-4), −1.05 (1e-3) and −1.25 (1e-2); at lr 1e-4 its values
(1.7 … 0.033 linear, 0.88 … 0.011 MLP) are 10–20× σ²/n, still mostly the initial
discrepancy, and at lr 1e-2 the most-visited state settles at 5× σ²/n, a floor that grows
with lr. (The issue's own measurement: −0.82 linear, −0.92 MLP, scale ∝ lr.)

For its use as a count: the bonus falls with visits at roughly the rate of 1/n, which is
what an exploration bonus needs, but it is not a calibrated count — b/σ² is not 1/n,
ratios of bonuses are not ratios of counts, and the slope and scale depend on lr and on
how far the predictor is from convergence. ``explore report`` draws the bonus against
visits of a run's cells (``bonus_by_cell.csv``) to show what a run actually had.

Everything else (observation normalisation, training on a random ``update_proportion`` of
the batch, networks) is shared with :mod:`agents.bonuses.rnd`. ``sigma`` is a config field
(default 1.0 — our choice; it sets the scale of the count term relative to the discrepancy
term).
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
