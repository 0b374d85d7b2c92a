"""ICM (Pathak et al. 2017): a repeated deterministic transition becomes predictable (bonus
decays toward 0); a noisy TV (fresh noise as next observation) stays unpredictable."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from bonus_testlib import ACTIONS

from agents.bonuses import make
from agents.bonuses.base import Transitions
from envs.spaces import Box

T, N, D, UPDATES = 8, 4, 16, 150
SPACE = Box(0.0, 1.0, (D,), jnp.float32)


def test_icm_deterministic_decays_noisy_tv_stays_high():
    bonus = make("icm", hidden=32, feature_dim=16, lr=1e-3)
    rng = np.random.default_rng(0)
    a_obs, b_obs = rng.random((2, D)).astype(np.float32)
    zeros = jnp.zeros((T, N), jnp.int32)

    def batch(next_obs):
        obs = jnp.broadcast_to(a_obs, (T, N, D))
        return Transitions.from_arrays(obs, zeros, next_obs, jnp.zeros((T, N), bool))

    @jax.jit
    def run(key):
        state = bonus.init(key, SPACE, ACTIONS, N)

        def step(carry, k):
            det_state, tv_state = carry
            det = batch(jnp.broadcast_to(b_obs, (T, N, D)))
            # The noisy TV: the same state and action lead to a fresh uniform noise patch.
            tv = batch(jax.random.uniform(k, (T, N, D)))
            r_det, det_state, _ = bonus.reward_and_update(det_state, det)
            r_tv, tv_state, _ = bonus.reward_and_update(tv_state, tv)
            return (det_state, tv_state), (r_det.mean(), r_tv.mean())

        _, curves = jax.lax.scan(step, (state, state), jax.random.split(key, UPDATES))
        return curves

    det, tv = (np.asarray(c) for c in run(jax.random.PRNGKey(0)))
    late_det, late_tv = det[-10:].mean(), tv[-10:].mean()
    assert late_det < 0.05 * det[0], (det[0], late_det)  # decays toward 0
    # The TV's bonus drops only to the irreducible error of predicting noise, then plateaus.
    assert late_tv > 0.7 * tv[100:110].mean(), tv
    assert late_tv > 100 * late_det, (late_tv, late_det)
