"""RND (Burda et al. 2019): observation normalisation is part of the bonus state, the
predictor trains on a random fraction of the batch, and a repeated observation's bonus falls."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from bonus_testlib import init_state

from agents.bonuses import make
from agents.bonuses.base import Transitions
from envs.spaces import Box

SPACE = Box(-100.0, 100.0, (6,), jnp.float32)


def test_rnd_obs_normalisation_fraction_and_learning():
    rng = np.random.default_rng(0)
    obs = (rng.normal(size=(8, 4, 6)) * 10 + 3).astype(np.float32)
    obs[0, 0, 0] = 1e4  # an outlier: clipped to 5 after normalisation
    batch = Transitions.from_arrays(obs, np.zeros((8, 4), int), obs, np.zeros((8, 4), bool))
    results = {}
    for proportion in (0.0, 1.0):
        bonus = make("rnd", hidden=16, out_dim=8, lr=1e-2, update_proportion=proportion)
        state = init_state(bonus, jax.random.PRNGKey(0), SPACE, 4)

        @jax.jit
        def train(state, bonus=bonus):
            def step(state, _):
                r = bonus.reward(state, batch)
                return bonus.update(state, batch)[0], r.mean()

            return jax.lax.scan(step, state, None, length=30)

        results[proportion] = (state, *train(state))
    state0, trained0, _ = results[0.0]
    _, trained1, curve = results[1.0]
    flat = obs.reshape(-1, 6)
    # The running statistics are the batch's (the initial count is a tiny epsilon).
    np.testing.assert_allclose(trained1.obs_norm.mean, flat.mean(0), rtol=1e-3)
    np.testing.assert_allclose(trained1.obs_norm.var, flat.var(0), rtol=1e-3)
    z = trained1.obs_norm.normalize(jnp.asarray(flat))
    assert float(z.max()) == 5.0 and float(jnp.abs(z).max()) <= 5.0
    # update_proportion = 0: no sample trains the predictor; 1: the bonus falls.
    same = jax.tree.map(jnp.array_equal, trained0.predictor_params, state0.predictor_params)
    assert all(jax.tree.leaves(same))
    curve = np.asarray(curve)
    assert curve[-1] < 0.2 * curve[1], curve


def test_predictor_trains_on_masked_rows_only_with_the_masked_mean_gradient():
    """The update computes the masked mean's value and gradient from the kept rows alone:
    equal to differentiating the masked mean over the whole batch, for any mask (blocks of
    ``MASKED_BLOCK`` rows, a partial last block, none kept, all kept)."""
    from agents.bonuses.rnd import MASKED_BLOCK

    bonus = make("rnd", hidden=16, out_dim=8)
    state = init_state(bonus, jax.random.PRNGKey(1), SPACE, 4)
    n = 2 * MASKED_BLOCK + 40  # not a multiple of the block
    k_x, k_t, k_m = jax.random.split(jax.random.PRNGKey(2), 3)
    x = jax.random.normal(k_x, (n, 6))
    targets = jax.random.normal(k_t, (n, 8))
    masks = {
        "quarter": jax.random.bernoulli(k_m, 0.25, (n,)),
        "most": jax.random.bernoulli(k_m, 0.9, (n,)),
        "none": jnp.zeros(n, bool),
        "all": jnp.ones(n, bool),
    }
    full = jax.jit(jax.value_and_grad(bonus._loss))
    kept_only = jax.jit(bonus._loss_and_grad_on_masked_rows)
    for name, mask in masks.items():
        want_loss, want_grads = full(state.predictor_params, x, targets, mask.astype(jnp.float32))
        loss, grads = kept_only(state.predictor_params, x, targets, mask)
        np.testing.assert_allclose(loss, want_loss, rtol=1e-5, atol=1e-7, err_msg=name)
        for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(want_grads), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6, err_msg=name)
    assert float(full(state.predictor_params, x, targets, masks["quarter"] * 1.0)[0]) > 0
