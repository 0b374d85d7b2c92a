"""Environment.step_batch: resets only where episodes end, identical to the select-based step.

``jax.vmap(env.step)`` itself dispatches to ``step_batch`` (tests/envs/test_vmap_step.py), so
the reference here is ``jax.vmap(env.step_select)``: auto-reset as a select in every env.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

import envs

BATCH, STEPS = 40, 12


def _rollouts(name: str, **overrides):
    env, params = envs.make(name, **overrides)
    n = env.action_space(params).n

    def run(batched_step):
        def go(key):
            k_reset, k_steps = jax.random.split(key)
            _, state = jax.vmap(env.reset, (0, None))(jax.random.split(k_reset, BATCH), params)

            def body(state, k):
                k_act, k_env = jax.random.split(k)
                action = jax.random.randint(k_act, (BATCH,), 0, n)
                out = batched_step(jax.random.split(k_env, BATCH), state, action, params)
                return out[1], (out[0], out[2], out[3], out[4], out[5], out[1])

            return jax.lax.scan(body, state, jax.random.split(k_steps, STEPS))[1]

        return jax.jit(go)(jax.random.PRNGKey(3))

    return run(jax.vmap(env.step_select, (0, 0, 0, None))), run(env.step_batch)


# max_steps=3 ends every episode often: several reset passes (chunks of 16 of 40 envs) per step.
@pytest.mark.parametrize(
    "name,overrides",
    [("DoorKey-5x5", {"max_steps": 3}), ("MultiRoom-N2-S4", {"max_steps": 4}), ("Empty-5x5", {})],
)
def test_step_batch_equals_vmapped_select_step(name, overrides):
    expected, got = _rollouts(name, **overrides)
    terminated, truncated = np.asarray(got[2]), np.asarray(got[3])
    if overrides:
        assert (terminated | truncated).sum(axis=1).max() > 16  # more than one reset pass
    for a, b in zip(jax.tree.leaves(expected), jax.tree.leaves(got), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_compute_where_equals_the_select_and_runs_only_marked_rows():
    """``compute_where`` is ``jnp.where(mask, fn(*args), default)`` bit for bit: vmapped (a
    mask per row, an unbatched argument), nested in two vmaps, and unbatched; under vmap
    ``fn`` runs in a ``while`` loop over the marked rows, not over the whole batch."""
    import jax.numpy as jnp

    from envs.core import compute_where

    def fn(key, scale):  # random draws, as the social envs' rare events use
        return jax.random.uniform(key, (5,)) * scale, jax.random.randint(key, (), 0, 9)

    default = (jnp.zeros(5), jnp.int32(-1))

    def lazy(mask, key, scale):
        return compute_where(mask, fn, default, key, scale)

    def eager(mask, key, scale):
        value = fn(key, scale)
        return tuple(jnp.where(mask, v, d) for v, d in zip(value, default, strict=True))

    keys = jax.random.split(jax.random.PRNGKey(0), 40)
    mask = jax.random.bernoulli(jax.random.PRNGKey(1), 0.2, (40,))
    for axes in [(0, 0, None), (0, 0, 0)]:
        scale = jnp.float32(3.0) if axes[2] is None else jnp.arange(40, dtype=jnp.float32)
        got = jax.jit(jax.vmap(lazy, axes))(mask, keys, scale)
        want = jax.vmap(eager, axes)(mask, keys, scale)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
    nested = jax.vmap(jax.vmap(lazy, (0, 0, None)), (0, 0, None))
    got = jax.jit(nested)(mask.reshape(5, 8), keys.reshape(5, 8, 2), jnp.float32(2.0))
    want = jax.vmap(jax.vmap(eager, (0, 0, None)), (0, 0, None))(
        mask.reshape(5, 8), keys.reshape(5, 8, 2), jnp.float32(2.0)
    )
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
    for i in (0, int(np.argmax(np.asarray(mask)))):  # unbatched, eager and jitted
        for call in (lazy, jax.jit(lazy)):
            for g, w in zip(call(mask[i], keys[i], 3.0), eager(mask[i], keys[i], 3.0), strict=True):
                np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
    assert "while" in str(jax.make_jaxpr(jax.vmap(lazy, (0, 0, None)))(mask, keys, 3.0))
