"""``jax.vmap(env.step)``: the select-based auto-reset's results, resets only where episodes end.

``Environment.step`` carries a ``custom_vmap`` rule that sends a vmapped call to
``step_batch``. The reference is ``Environment.step_select`` (auto-reset as a select, what a
plain ``vmap`` of ``step`` computed before): every output must match it bit for bit, random
keys included, for every family, under jit, nested vmap (seeds x envs), scans and grad.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs

BATCH, STEPS = 24, 8


def _assert_trees_equal(expected, got) -> None:
    leaves_e, tree_e = jax.tree.flatten(expected)
    leaves_g, tree_g = jax.tree.flatten(got)
    assert tree_e == tree_g
    for a, b in zip(leaves_e, leaves_g, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _rollout(env, params, batched_step, batch=BATCH, steps=STEPS):
    """Random-action rollout through ``batched_step``; every output of every step."""
    n = env.action_space(params).n
    agents = getattr(env, "num_agents", None) if env_kind(env) == "multi-agent" else None
    shape = (batch,) if agents is None else (batch, agents)

    def go(key):
        k_reset, k_steps = jax.random.split(key)
        _, state = jax.vmap(env.reset, (0, None))(jax.random.split(k_reset, batch), params)

        def body(state, k):
            k_act, k_env = jax.random.split(k)
            action = jax.random.randint(k_act, shape, 0, n)
            out = batched_step(jax.random.split(k_env, batch), state, action, params)
            return out[1], out

        return jax.lax.scan(body, state, jax.random.split(k_steps, steps))[1]

    return jax.jit(go)(jax.random.PRNGKey(7))


def env_kind(env) -> str:
    return envs.spec(env.name).kind if env.name in envs.registered() else "gridworld"


# Every family (gridworld, multi-objective gridworld, social, multi-objective); step_batch
# itself against the same reference is tests/envs/test_step_batch.py. Short episodes so that auto-reset happens often (several reset
# passes of step_batch's chunks on some steps).
# (name, episode cap put into the params; None keeps the env's own)
FAMILIES = [
    ("DoorKey-5x5", 3),
    ("FourRooms-TwoGoals", 3),
    ("Coins", 3),
    ("DeepSeaTreasure", 4),
    ("FruitTree-5", None),
    ("ResourceGathering", 3),
]


@pytest.mark.parametrize("name,cap", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_vmapped_step_equals_select_reference(name, cap):
    env, params = envs.make(name)
    if cap is not None:
        params = params.replace(max_steps_in_episode=cap)
    reference = _rollout(env, params, jax.vmap(env.step_select, (0, 0, 0, None)))
    got = _rollout(env, params, jax.vmap(env.step, (0, 0, 0, None)))
    terminated, truncated = np.asarray(got[3]), np.asarray(got[4])
    assert (terminated | truncated).any()  # auto-reset exercised
    _assert_trees_equal(reference, got)


def _counting_resets(env):
    """Wrap ``env.reset_env`` so every reset row computed at run time is counted."""
    calls = []
    original = env.reset_env

    def reset_env(key, params):
        # Under vmap a debug callback on batched data runs once per row: one count per reset.
        jax.debug.callback(lambda k: calls.append(np.shape(k)), key)
        return original(key, params)

    env.reset_env = reset_env
    return calls


def test_vmapped_step_resets_only_where_episodes_end():
    env, params = envs.make("DoorKey-5x5")  # 250 steps per episode: none ends on step one
    calls = _counting_resets(env)
    keys = jax.random.split(jax.random.PRNGKey(0), BATCH)
    _, state = jax.vmap(env.reset, (0, None))(keys, params)
    calls.clear()
    action = jnp.zeros(BATCH, jnp.int32)

    out = jax.jit(jax.vmap(env.step, (0, 0, 0, None)))(keys, state, action, params)
    jax.effects_barrier()
    assert not np.asarray(out[3] | out[4]).any()
    assert len(calls) == 0  # no episode ended, so no reset was computed

    jax.jit(jax.vmap(env.step_select, (0, 0, 0, None)))(keys, state, action, params)
    jax.effects_barrier()
    assert len(calls) == BATCH  # the select path computes a fresh episode for every env


def test_vmapped_step_reset_is_not_in_the_top_level_jaxpr():
    """Under vmap the reset sits inside step_batch's while loop, never on the main path."""
    env, params = envs.make("DoorKey-5x5")
    keys = jax.random.split(jax.random.PRNGKey(0), BATCH)
    _, state = jax.vmap(env.reset, (0, None))(keys, params)
    action = jnp.zeros(BATCH, jnp.int32)
    traced_batches = []
    original = env.reset_env

    def reset_env(key, params):
        traced_batches.append(jax.typeof(key).shape)
        return original(key, params)

    env.reset_env = reset_env
    jaxpr = jax.make_jaxpr(jax.vmap(env.step, (0, 0, 0, None)))(keys, state, action, params)
    primitives = {eqn.primitive.name for eqn in jaxpr.eqns}
    assert "while" in primitives  # the gather / reset / scatter loop of step_batch
    # Traced once for the unbatched call the rule replaces, once inside the loop's vmap.
    assert len(traced_batches) == 2


def test_nested_vmap_seeds_by_envs():
    env, params = envs.make("DoorKey-5x5", max_steps=3)
    seeds = 3
    keys = jax.random.split(jax.random.PRNGKey(1), seeds * BATCH).reshape(seeds, BATCH, -1)
    _, state = jax.vmap(jax.vmap(env.reset, (0, None)), (0, None))(keys, params)
    action = jax.random.randint(jax.random.PRNGKey(2), (seeds, BATCH), 0, env.num_actions)
    state = state.replace(step_count=state.step_count + 2)  # every episode ends this step

    def twice(step):
        return jax.jit(jax.vmap(jax.vmap(step, (0, 0, 0, None)), (0, 0, 0, None)))

    got = twice(env.step)(keys, state, action, params)
    assert np.asarray(got[4]).all()
    _assert_trees_equal(twice(env.step_select)(keys, state, action, params), got)


def test_vmap_over_a_scan_of_unbatched_steps():
    """The gymnax idiom: vmap a whole rollout that scans ``env.step`` on one env."""
    env, params = envs.make("DoorKey-5x5", max_steps=3)

    def rollout(step):
        def one(key):
            _, state = env.reset(key, params)

            def body(state, k):
                action = jax.random.randint(k, (), 0, env.num_actions)
                obs, state, reward, term, trunc, _ = step(k, state, action, params)
                return state, (obs, reward, term | trunc)

            return jax.lax.scan(body, state, jax.random.split(key, STEPS))[1]

        return jax.jit(jax.vmap(one))(jax.random.split(jax.random.PRNGKey(3), BATCH))

    _assert_trees_equal(rollout(env.step_select), rollout(env.step))


def test_unbatched_arguments_and_batched_params():
    env, params = envs.make("DoorKey-5x5", max_steps=3)
    keys = jax.random.split(jax.random.PRNGKey(4), BATCH)
    _, state = jax.vmap(env.reset, (0, None))(keys, params)
    state = state.replace(step_count=state.step_count + 2)
    # One key and one action shared by every env.
    axes = (None, 0, None, None)
    args = (keys[0], state, jnp.int32(2), params)
    _assert_trees_equal(
        jax.vmap(env.step_select, axes)(*args), jax.jit(jax.vmap(env.step, axes))(*args)
    )
    # Parameters that vary across the batch go through a plain vmap of the select path.
    many = jax.tree.map(lambda x: jnp.broadcast_to(jnp.asarray(x), (BATCH,)), params)
    action = jnp.zeros(BATCH, jnp.int32)
    _assert_trees_equal(
        jax.vmap(env.step_select)(keys, state, action, many),
        jax.jit(jax.vmap(env.step))(keys, state, action, many),
    )


def test_unbatched_step_unchanged_and_grad_through_a_vmapped_step():
    env, params = envs.make("DoorKey-5x5", max_steps=3)
    key = jax.random.PRNGKey(5)
    _, state = env.reset(key, params)
    state = state.replace(step_count=state.step_count + 2)
    expected = jax.jit(env.step_select)(key, state, jnp.int32(1), params)
    _assert_trees_equal(expected, env.step(key, state, jnp.int32(1), params))  # eager
    _assert_trees_equal(expected, jax.jit(env.step)(key, state, jnp.int32(1), params))

    keys = jax.random.split(key, BATCH)
    _, states = jax.vmap(env.reset, (0, None))(keys, params)

    def loss(w, step):
        obs = jax.vmap(step, (0, 0, 0, None))(keys, states, jnp.zeros(BATCH, jnp.int32), params)[0]
        return jnp.sum(w * obs.astype(jnp.float32))

    w = jnp.float32(0.5)
    assert jax.grad(loss)(w, env.step) == jax.grad(loss)(w, env.step_select)
