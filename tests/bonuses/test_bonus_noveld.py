"""NovelD (Zhang et al. 2021): only the first visit of s' in an episode can be rewarded."""

from __future__ import annotations

import jax
import numpy as np
from bonus_testlib import GRID, init_state, prototypes, reference_counts, scripted

from agents.bonuses import make


def test_noveld_zero_on_repeated_visit_within_episode():
    protos = prototypes(4)
    bonus = make("noveld", hidden=16, out_dim=8, alpha=0.0)  # α = 0: first visits are > 0
    n_envs = 2
    state = init_state(bonus, jax.random.PRNGKey(0), GRID, n_envs)
    obs_ids = np.array([[0, 0], [1, 2], [2, 1], [1, 3], [3, 2], [2, 2]])
    next_ids = np.array([[1, 2], [2, 1], [1, 3], [3, 2], [2, 2], [0, 1]])
    done = np.zeros((6, n_envs), bool)
    done[2, 0] = True  # after the done, env 0 may be rewarded for state 1 again
    batch = scripted(obs_ids, next_ids, done, protos)
    r, state, metrics = jax.jit(bonus.reward_and_update)(state, batch)
    r = np.asarray(r)
    first = reference_counts([(obs_ids, next_ids, done)], episodic=True)[0] == 1
    assert np.all(r[~first] == 0.0), r
    assert np.all(r[first] > 0.0), r
    # env 0 reaches state 1 at t=0 and again at t=2 (same episode: a repeat, 0); t=3 is in
    # the next episode.
    assert r[2, 0] == 0.0 and r[3, 0] > 0.0
    assert 0.0 < float(metrics["first_visit_fraction"]) < 1.0


def test_noveld_is_novelty_difference_on_first_visits():
    """b = max(n(s') − α n(s), 0) on first visits, with n the RND novelty of the same state."""
    protos = prototypes(3)
    bonus = make("noveld", hidden=16, out_dim=8, alpha=0.5)
    state = init_state(bonus, jax.random.PRNGKey(1), GRID, 1)
    batch = scripted([[0], [1]], [[1], [2]], [[False], [False]], protos)
    novelty = jax.jit(bonus.rnd.novelty)
    r = np.asarray(jax.jit(bonus.reward)(state, batch))[:, 0]
    n_next = np.asarray(novelty(state.rnd, batch.next_obs))[:, 0]
    n_obs = np.asarray(novelty(state.rnd, batch.obs))[:, 0]
    np.testing.assert_allclose(r, np.maximum(n_next - 0.5 * n_obs, 0.0), rtol=1e-5)
