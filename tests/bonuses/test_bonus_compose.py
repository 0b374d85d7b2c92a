"""``product(a, b)`` / ``sum(a, b)`` (Henaff, Jiang, Raileanu 2023) are exact on scripted
streams: global count × (or +) episodic count."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from bonus_testlib import (
    GRID,
    init_state,
    prototypes,
    random_stream,
    reference_counts,
    scripted,
)

from agents.bonuses import make

T, N, STATES = 6, 3, 5


@pytest.mark.parametrize("mode", ["product", "sum"])
def test_compose_counts_exact(mode):
    protos = prototypes(STATES)
    bonus = make(f"{mode}(count(table_size=64),episodic_count(table_size=16))")
    assert bonus.episodic and bonus.name == f"{mode}(count,episodic_count)"
    state = init_state(bonus, jax.random.PRNGKey(0), GRID, N)
    step = jax.jit(bonus.reward_and_update)
    batches = random_stream(np.random.default_rng(5), 3, T, N, STATES, p_done=0.25)
    glob = reference_counts(batches, episodic=False)
    epis = reference_counts(batches, episodic=True)
    for batch_ids, n_g, n_e in zip(batches, glob, epis, strict=True):
        r, state, metrics = step(state, scripted(*batch_ids, protos))
        b_g, b_e = 1 / np.sqrt(n_g), 1 / np.sqrt(n_e)
        expected = b_g * b_e if mode == "product" else b_g + b_e
        np.testing.assert_allclose(np.asarray(r), expected, rtol=1e-6)
    assert isinstance(state, tuple) and len(state) == 2
    assert "count/distinct_keys" in metrics and "episodic_count/overflow_visits" in metrics


def test_compose_accepts_bonus_objects_and_any_pair():
    rnd = make("rnd", hidden=8, out_dim=4)
    bonus = make("product", first=rnd, second="e3b(hidden=8,embed_dim=4)")
    assert bonus.first is rnd and bonus.name == "product(rnd,e3b)"
