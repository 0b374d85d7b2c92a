"""Every registered bonus honours the contract (``agents.bonuses.check``, what
``explore check bonus=SPEC`` runs): jit, vmap over seeds, NumPy batches, purity, episodic
reset, and a checkpoint round trip through ``agents.bonuses.checkpoint``. The bonuses come
from the registry, at small network sizes (``small_spec``): a new bonus is tested as soon as
it is registered."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from agents.bonuses import make, registered
from agents.bonuses.check import check_bonus, small_spec

# Settings of registered bonuses that take another code path than their defaults.
VARIANTS = [
    "count(key=simhash)",
    "e3b(hidden=16,embed_dim=8,network=cnn)",
    "product(rnd(hidden=16,out_dim=8),e3b(hidden=16,embed_dim=8))",
]


@pytest.mark.parametrize("spec", [small_spec(name) for name in registered()] + VARIANTS)
def test_contract(spec):
    """One test per bonus, so that its programs (vmapped init and reward_and_update) are
    compiled once even when pytest-xdist spreads tests over workers. The vmapped init in a
    fresh process runs once for every bonus (tests/agents/test_vmapped_init.py)."""
    done = dict(check_bonus(spec, subprocess=False))
    assert {"shapes", "purity", "checkpoint"} <= set(done)
    assert ("episodic" in done) == make(spec).episodic


def test_checkpoint_rejects_mismatched_state(tmp_path):
    from agents.bonuses.checkpoint import load_state, save_state

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
