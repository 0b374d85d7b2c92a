"""RDD's bonus is a pseudo-count: b(B)/b(A) ≈ n_A/n_B once fitted (Fang et al. 2025); RND's
is not. And in an ordinary update loop a state's RDD bonus falls as it is visited."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from bonus_testlib import ACTIONS, init_state

from agents.bonuses import make
from agents.bonuses.base import Transitions
from envs.spaces import Box

N_A, N_B, WIDTH, SEEDS = 400, 25, 128, 6
ONE_HOT = Box(0.0, 1.0, (2,), jnp.float32)


def _draws(bonus, key, mu, n_a, n_b):
    """Every training draw the predictor would have seen: n_a at A, n_b at B."""
    inputs = jnp.concatenate(
        [jnp.tile(jnp.eye(2)[:1], (n_a, 1)), jnp.tile(jnp.eye(2)[1:], (n_b, 1))]
    )
    means = jnp.concatenate([jnp.tile(mu[:1], (n_a, 1)), jnp.tile(mu[1:], (n_b, 1))])
    return inputs, bonus.training_target(key, means)


def _fitted_bonus(spec: str, seed: int) -> np.ndarray:
    """b(A), b(B) with a linear predictor on one-hot inputs fitted in closed form (least
    squares on all draws = per-state mean of the draws)."""
    bonus = make(spec, network="linear", out_dim=WIDTH)
    k_init, k_draw = jax.random.split(jax.random.PRNGKey(seed))
    state = bonus.init(k_init, ONE_HOT, ACTIONS, 1)
    _, mu = bonus.outputs(state, jnp.eye(2))
    inputs, targets = _draws(bonus, k_draw, mu, N_A, N_B)
    weights, *_ = np.linalg.lstsq(np.asarray(inputs), np.asarray(targets), rcond=None)
    pred = jnp.eye(2) @ jnp.asarray(weights, jnp.float32)
    return np.asarray(bonus.bonus_from(pred, mu))


def test_rdd_bonus_ratio_matches_count_ratio_and_rnd_does_not():
    rdd = np.mean([_fitted_bonus("rdd", s) for s in range(SEEDS)], axis=0)
    rnd = np.mean([_fitted_bonus("rnd", s) for s in range(SEEDS)], axis=0)
    target = N_A / N_B
    ratio_rdd = rdd[1] / rdd[0]
    assert abs(ratio_rdd - target) / target < 0.3, (ratio_rdd, target)
    # σ²/n: the count term itself, not just the ratio.
    np.testing.assert_allclose(rdd, [1 / N_A, 1 / N_B], rtol=0.3)
    # RND's fitted predictor reproduces the deterministic target: no count information left.
    ratio_rnd = (rnd[1] + 1e-12) / (rnd[0] + 1e-12)
    assert np.all(rnd < 1e-6 * rdd)
    assert abs(ratio_rnd - target) / target > 0.3, ratio_rnd


def _gradient_fit_bonus(seed: int) -> np.ndarray:
    """b(A), b(B) after fitting the module's own predictor loss by Adam on all draws."""
    bonus = make("rdd", network="linear", out_dim=WIDTH)
    k_init, k_draw = jax.random.split(jax.random.PRNGKey(seed))
    state = bonus.init(k_init, ONE_HOT, ACTIONS, 1)
    _, mu = bonus.outputs(state, jnp.eye(2))
    inputs, targets = _draws(bonus, k_draw, mu, N_A, N_B)
    tx = optax.adam(3e-2)
    mask = jnp.ones(inputs.shape[0])

    def step(carry, _):
        params, opt = carry
        grads = jax.grad(bonus._loss)(params, inputs, targets, mask)
        updates, opt = tx.update(grads, opt, params)
        return (optax.apply_updates(params, updates), opt), None

    params = state.predictor_params
    (params, _), _ = jax.jit(lambda c: jax.lax.scan(step, c, None, length=3000))(
        (params, tx.init(params))
    )
    pred = bonus.predictor_net.apply(params, jnp.eye(2))
    return np.asarray(bonus.bonus_from(pred, mu))


@pytest.mark.slow
def test_rdd_gradient_fit_of_module_loss_gives_the_same_ratio():
    """Fitting by gradient steps (not in closed form) gives the same pseudo-count ratio."""
    b = np.mean([_gradient_fit_bonus(seed) for seed in range(4)], axis=0)
    assert abs(b[1] / b[0] - N_A / N_B) / (N_A / N_B) < 0.3, b


def test_rdd_online_bonus_falls_with_visits():
    """Ordinary update loop: state 0 is visited 31 times per batch, state 1 once, state 2
    never; b(0) falls as its count grows and ends below the rarer states'."""
    space = Box(0.0, 1.0, (3,), jnp.float32)
    bonus = make("rdd", hidden=32, out_dim=64, lr=1e-3, update_proportion=1.0, sigma=1.0)
    state = init_state(bonus, jax.random.PRNGKey(0), space, 4)
    ids = np.zeros((8, 4), int)
    ids[3, 2] = 1
    eye = np.eye(3, dtype=np.float32)
    batch = Transitions.from_arrays(eye[ids], np.zeros((8, 4), int), eye[ids], np.zeros((8, 4)))
    probe = Transitions.from_arrays(eye[None], np.zeros((1, 3), int), eye[None], np.zeros((1, 3)))

    @jax.jit
    def train(state):
        def step(state, _):
            state, _ = bonus.update(state, batch)
            return state, bonus.reward(state, probe)[0]

        return jax.lax.scan(step, state, None, length=150)

    _, curve = train(state)
    curve = np.asarray(curve)  # [150, 3]: bonus of states 0, 1, 2 after each update
    b0 = curve[:, 0]
    windows = [b0[i : i + 10].mean() for i in (0, 40, 140)]
    assert windows[0] > windows[1] > windows[2], windows
    assert windows[2] < 0.2 * windows[0]
    assert curve[-1, 0] < curve[-1, 1] and curve[-1, 0] < curve[-1, 2], curve[-1]
