"""Every bonus honours the contract: jit, vmap over seeds, NumPy batches, episodic reset,
and a checkpoint round trip through ``agents.bonuses.checkpoint``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from bonus_testlib import ACTIONS, GRID

from agents.bonuses import make
from agents.bonuses.base import Transitions
from agents.bonuses.checkpoint import load_state, save_state

T, N, SEEDS = 4, 3, 2
SMALL = "hidden=16,out_dim=8"
# spec → whether the episodic-reset check applies (episodic parts, and global parts whose
# reward does not depend on the order of visits in the batch).
METHODS = {
    "count": False,
    "count(key=simhash)": False,
    "episodic_count": True,
    f"rnd({SMALL})": False,
    f"rdd({SMALL},sigma=0.5)": False,
    f"noveld({SMALL})": True,
    "e3b(hidden=16,embed_dim=8,network=cnn)": True,
    "icm(hidden=16,feature_dim=8)": False,
    f"product(rnd({SMALL}),e3b(hidden=16,embed_dim=8))": True,
    "sum(count,episodic_count)": False,
}


def numpy_batch(seed: int, done_env0_at: int | None = 1) -> Transitions:
    """A NumPy batch ``[SEEDS, T, N, 7, 7, 3]`` of uint8 grids (the seed axis leads)."""
    rng = np.random.default_rng(seed)
    protos = rng.integers(0, 11, (5, 7, 7, 3)).astype(np.uint8)
    obs = protos[rng.integers(0, 5, (SEEDS, T, N))]
    next_obs = protos[rng.integers(0, 5, (SEEDS, T, N))]
    done = np.zeros((SEEDS, T, N), bool)
    if done_env0_at is not None:
        done[:, done_env0_at, 0] = True
    return Transitions.from_arrays(obs, rng.integers(0, 4, (SEEDS, T, N)), next_obs, done)


def _keys(seed: int = 0):
    return jax.random.split(jax.random.PRNGKey(seed), SEEDS)


@pytest.mark.parametrize("spec", list(METHODS))
def test_contract(spec, tmp_path):
    """One test per method, so that its two programs (vmapped init and reward_and_update)
    are compiled once even when pytest-xdist spreads tests over workers."""
    bonus = make(spec)
    init = jax.jit(jax.vmap(lambda k: bonus.init(k, GRID, ACTIONS, N)))
    step = jax.jit(jax.vmap(bonus.reward_and_update))
    fresh = init(_keys())

    # jit + vmap over seeds, on NumPy batches.
    r, state, _ = step(fresh, numpy_batch(0))
    r2, state, metrics = step(state, numpy_batch(1))
    for out in (r, r2):
        assert out.shape == (SEEDS, T, N) and out.dtype == jnp.float32
        assert np.all(np.isfinite(np.asarray(out))) and np.all(np.asarray(out) >= 0)
    for name, value in metrics.items():
        assert value.shape == (SEEDS,), (name, value.shape)

    # Episodic reset: after a done, env 0's rewards are those of a fresh episodic state.
    if METHODS[spec]:
        assert bonus.episodic
        batch = numpy_batch(2, done_env0_at=1)
        # The same transitions, starting where env 0's second episode starts.
        rolled = jax.tree.map(lambda x: np.roll(np.asarray(x), -2, axis=1), batch)
        r, _, _ = step(fresh, batch)
        r_fresh, _, _ = step(fresh, rolled)
        np.testing.assert_allclose(
            np.asarray(r)[:, 2:, 0], np.asarray(r_fresh)[:, :2, 0], rtol=1e-5, atol=1e-7
        )

    # Checkpoint round trip: equal leaves, and the restored state continues identically.
    path = save_state(tmp_path / "bonus", state)
    assert path.suffix == ".npz"
    with np.load(path, allow_pickle=False) as data:
        assert len(data.files) == len(jax.tree.leaves(state))
    loaded = load_state(path, init(_keys(9)))
    assert jax.tree.structure(loaded) == jax.tree.structure(state)
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(state), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    batch = numpy_batch(4)
    r_a, _, _ = step(state, batch)
    r_b, _, _ = step(loaded, batch)
    np.testing.assert_array_equal(np.asarray(r_a), np.asarray(r_b))


def test_checkpoint_rejects_mismatched_state(tmp_path):
    path = save_state(tmp_path / "x", {"a": jnp.zeros(3), "b": (jnp.ones(2, jnp.int32),)})
    with pytest.raises(ValueError, match="expected"):
        load_state(path, {"a": jnp.zeros(4), "b": (jnp.ones(2, jnp.int32),)})
    with pytest.raises(KeyError):
        load_state(path, {"c": jnp.zeros(3), "b": (jnp.ones(2, jnp.int32),)})
    typed = {"key": jax.random.key(1)}
    loaded = load_state(save_state(tmp_path / "k", typed), typed)
    assert jnp.array_equal(jax.random.key_data(loaded["key"]), jax.random.key_data(typed["key"]))


def test_unknown_fields_are_rejected():
    with pytest.raises(ValueError, match="unknown field"):
        make("rdd", sigmaa=0.1)
    with pytest.raises(ValueError, match="unknown field"):
        make("product(rnd(lrr=1),e3b)")
