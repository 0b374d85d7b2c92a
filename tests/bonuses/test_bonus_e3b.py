"""E3B's Sherman–Morrison bonus equals φᵀ(λI + Σφφᵀ)⁻¹φ with a dense inverse, and resets at
episode boundaries (Henaff et al. 2022)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from bonus_testlib import GRID, init_state, prototypes, scripted

from agents.bonuses import make
from agents.bonuses.e3b import elliptical_scan

RIDGE = 0.1


def dense_bonus(phi_start, phi_next, done, fresh0=True, ridge=RIDGE):
    """Reference: per env, V = the episode's first obs and the next_obs of its earlier
    transitions; b_t = φ(s'_t)ᵀ (λI + Σ_V φφᵀ)⁻¹ φ(s'_t) with a dense float64 inverse."""
    phi_start, phi_next = np.asarray(phi_start, np.float64), np.asarray(phi_next, np.float64)
    t_len, n_envs, d = phi_next.shape
    out = np.zeros((t_len, n_envs))
    for n in range(n_envs):
        visited, fresh = [], fresh0
        for t in range(t_len):
            if fresh:
                visited.append(phi_start[t, n])
            cov = ridge * np.eye(d) + sum((np.outer(v, v) for v in visited), np.zeros((d, d)))
            out[t, n] = phi_next[t, n] @ np.linalg.inv(cov) @ phi_next[t, n]
            visited.append(phi_next[t, n])
            fresh = bool(done[t, n])
            if fresh:
                visited = []
    return out


def test_sherman_morrison_scan_equals_dense_inverse_float64():
    t_len, n_envs, d = 9, 3, 6
    done = np.zeros((t_len, n_envs), bool)
    done[3, 0] = done[5, 1] = done[6, 1] = True
    rng = np.random.default_rng(0)
    phi_s, phi_n = rng.normal(size=(2, t_len, n_envs, d))
    with jax.enable_x64(True):
        cov0 = jnp.broadcast_to(jnp.eye(d, dtype=jnp.float64) / RIDGE, (n_envs, d, d))
        bonus, _, fresh = elliptical_scan(
            cov0,
            jnp.ones(n_envs, bool),
            jnp.asarray(phi_s),
            jnp.asarray(phi_n),
            jnp.asarray(done),
            RIDGE,
        )
        bonus = np.asarray(bonus)
    expected = dense_bonus(phi_s, phi_n, done)
    np.testing.assert_allclose(bonus, expected, rtol=1e-5, atol=1e-5)
    assert bonus.dtype == np.float64 and not fresh.any()


def test_module_bonus_equals_dense_and_resets():
    """The full bonus (its own encoder, float32) against the dense reference; C carries over
    batches while an episode goes on and is reset to I/λ after a done."""
    protos = prototypes(6)
    bonus = make("e3b", hidden=32, embed_dim=8, lr=0.0)  # lr 0: φ fixed across updates
    n_envs = 2
    state = init_state(bonus, jax.random.PRNGKey(0), GRID, n_envs)
    step = jax.jit(bonus.reward_and_update)
    rng = np.random.default_rng(1)
    obs_ids = rng.integers(0, 6, (2, 5, n_envs))
    next_ids = rng.integers(0, 6, (2, 5, n_envs))
    done = np.zeros((2, 5, n_envs), bool)
    done[0, 2, 0] = True  # env 0: an episode ends inside the first batch
    done[1, 4, 1] = True  # env 1: its first episode spans both batches, ends on the last step
    embed = jax.jit(bonus.embed)
    rewards, phis = [], []
    for i in range(2):
        batch = scripted(obs_ids[i], next_ids[i], done[i], protos)
        phis.append((np.asarray(embed(state, batch.obs)), np.asarray(embed(state, batch.next_obs))))
        r, state, _ = step(state, batch)
        rewards.append(np.asarray(r))
    expected = dense_bonus(
        np.concatenate([p[0] for p in phis]),
        np.concatenate([p[1] for p in phis]),
        done.reshape(10, n_envs),
    )
    np.testing.assert_allclose(np.concatenate(rewards), expected, rtol=2e-4, atol=1e-5)
    # env 1 ended on the last step: its slot is back to I/λ and waits for a first obs.
    np.testing.assert_allclose(np.asarray(state.cov_inv[1]), np.eye(8) / RIDGE, rtol=1e-6)
    assert bool(state.fresh[1]) and not bool(state.fresh[0])
