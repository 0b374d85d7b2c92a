"""``count`` and ``episodic_count`` are exact on scripted streams (both keyings)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
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
from agents.bonuses.counts import obs_keys

T, N, STATES = 6, 3, 7
PROTOS = prototypes(STATES)


@functools.cache
def compiled(spec: str, **cfg):
    """One bonus and its jitted ``reward_and_update`` per config, shared by the tests."""
    bonus = make(spec, **cfg)
    return bonus, jax.jit(bonus.reward_and_update)


def _run(spec, cfg, batches, protos=PROTOS):
    bonus, step = compiled(spec, **cfg)
    state = init_state(bonus, jax.random.PRNGKey(0), GRID, N)
    rewards, metrics = [], {}
    for obs_ids, next_ids, done in batches:
        r, state, metrics = step(state, scripted(obs_ids, next_ids, done, protos))
        rewards.append(np.asarray(r))
    return rewards, metrics, state


CONFIGS = [
    ("count", {"key": "exact"}),
    ("count", {"key": "simhash"}),
    ("episodic_count", {"key": "exact"}),
    ("episodic_count", {"key": "simhash"}),
    ("episodic_count", {"key": "exact", "count_start_obs": False}),
]


@pytest.mark.parametrize(("spec", "cfg"), CONFIGS, ids=lambda c: str(c))
def test_counts_exact_on_scripted_stream(spec, cfg):
    if cfg["key"] == "simhash":
        # SimHash counts codes; the prototypes must have distinct codes for the ids to match.
        state = init_state(make(spec, key="simhash"), jax.random.PRNGKey(0), GRID, N)
        codes = np.asarray(obs_keys(state.hasher, jnp.asarray(PROTOS), lead_dims=1))
        assert len({c.tobytes() for c in codes}) == STATES
    rng = np.random.default_rng(1)
    batches = random_stream(rng, 4, T, N, STATES, p_done=0.2)
    # An episode that ends exactly at a batch boundary, and one env that never ends.
    batches[0][2][-1, 0] = True
    for _, _, done in batches:
        done[:, 2] = False
    # Small table: with 7 keys in 16 slots, linear probing is exercised.
    rewards, metrics, _ = _run(spec, {**cfg, "table_size": 16}, batches)
    expected = reference_counts(
        batches, episodic=spec == "episodic_count", count_start_obs=cfg.get("count_start_obs", True)
    )
    for r, n_visits in zip(rewards, expected, strict=True):
        np.testing.assert_allclose(r, 1.0 / np.sqrt(n_visits), rtol=1e-6)
    assert float(metrics["overflow_visits"]) == 0


def test_reward_is_pure_and_matches_update():
    """reward() alone gives the counts update() produces, and leaves the state unchanged."""
    bonus, step = compiled("count", key="exact", table_size=16)
    state = init_state(bonus, jax.random.PRNGKey(0), GRID, N)
    batches = random_stream(np.random.default_rng(2), 2, T, N, STATES, p_done=0.0)
    first = scripted(*batches[0], PROTOS)
    _, state, _ = step(state, first)
    second = scripted(*batches[1], PROTOS)
    pure = bonus.reward(state, second)
    r, _, _ = step(state, second)
    # Same counts; 1/sqrt(n) may round differently in two separately compiled programs.
    np.testing.assert_allclose(np.asarray(pure), np.asarray(r), rtol=1e-6, atol=0)


def test_episodic_count_resets_after_done():
    """Same state visited on both sides of an episode end: the count restarts."""
    obs_ids = np.tile(np.array([[0], [1], [1], [1], [1], [1]]), (1, N))
    next_ids = np.ones((T, N), int)
    done = np.zeros((T, N), bool)
    done[1] = True
    rewards, _, _ = _run(
        "episodic_count", {"key": "exact", "table_size": 16}, [(obs_ids, next_ids, done)]
    )
    # Episode 1: reach 1 twice (1, 2). Episode 2 starts in state 1 (counted): 2, 3, 4, 5.
    np.testing.assert_allclose(1 / rewards[0][:, 0] ** 2, [1, 2, 2, 3, 4, 5], rtol=1e-6)
    # A done on the last step leaves an empty table and a fresh episode for the next batch.
    done_last = np.zeros((T, N), bool)
    done_last[-1] = True
    rewards, _, state = _run(
        "episodic_count",
        {"key": "exact", "table_size": 16},
        [(obs_ids, next_ids, done_last), (obs_ids, next_ids, np.zeros((T, N), bool))],
    )
    np.testing.assert_allclose(1 / rewards[1][:, 0] ** 2, [1, 2, 3, 4, 5, 6], rtol=1e-6)
    assert not bool(state.fresh[0]) and int(state.table.counts[0].sum()) == 7


def test_overflow_is_reported_and_looks_new():
    """A full table cannot store new keys: they are counted as overflow and stay novel."""
    ids = np.arange(T * N).reshape(T, N) % STATES
    batches = [(ids, ids, np.zeros((T, N), bool))] * 2
    rewards, metrics, state = _run("count", {"table_size": 4, "max_probes": 4}, batches)
    assert int((state.table.counts > 0).sum()) == 4
    second = np.rint(1 / rewards[1] ** 2).astype(int)
    # Per key: stored keys keep counting in the second batch, dropped ones start over.
    visits = {k: int(np.sum(ids == k)) for k in range(STATES)}
    stored = [k for k in range(STATES) if second[ids == k].min() == visits[k] + 1]
    dropped = [k for k in range(STATES) if second[ids == k].max() == visits[k]]
    assert len(stored) == 4 and len(dropped) == STATES - 4
    assert float(metrics["overflow_visits"]) == 2 * sum(visits[k] for k in dropped)


def test_simhash_shares_counts_between_similar_observations():
    """Tang et al.: observations with the same sign pattern share a count; exact keys do not."""
    base = np.linspace(1.0, 2.0, 16, dtype=np.float32)
    near = base * 1.01  # sign(A(cx)) = sign(Ax) for c > 0: same SimHash code
    space = type(GRID)(-10.0, 10.0, (16,), np.float32)
    batch = scripted([[0], [1]], [[0], [1]], [[False], [False]], np.stack([base, near]))
    for keying, expected in (("simhash", [1.0, 2.0]), ("exact", [1.0, 1.0])):
        bonus = make("count", key=keying, simhash_bits=16)
        state = init_state(bonus, jax.random.PRNGKey(3), space, 1)
        n = 1 / np.asarray(jax.jit(bonus.reward)(state, batch))[:, 0] ** 2
        np.testing.assert_allclose(n, expected, rtol=1e-5)
