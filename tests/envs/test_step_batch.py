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
