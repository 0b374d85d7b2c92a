"""Network building blocks: the dense layer computed on a 2-D view of its input."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from agents.networks import ActorCritic, Dense


def test_dense_on_a_2d_view_equals_flax_dense():
    """Same parameters, same function as nn.Dense on any number of leading axes, gradients too."""
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 5, 6, 7))
    ours, theirs = Dense(4), nn.Dense(4)
    params = ours.init(jax.random.PRNGKey(1), x)
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(
        jnp.shape, theirs.init(jax.random.PRNGKey(1), x)
    )
    np.testing.assert_allclose(ours.apply(params, x), theirs.apply(params, x), rtol=1e-5)

    def grads(module):
        return jax.grad(lambda p: jnp.tanh(module.apply(p, x)).sum())(params)

    for a, b in zip(jax.tree.leaves(grads(ours)), jax.tree.leaves(grads(theirs)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_network_parameters_keep_flax_dense_names():
    """Checkpoints written before the 2-D view still load: same tree of names and shapes."""
    net = ActorCritic(num_actions=7, encoder="cnn", hidden=32)
    params = net.init(
        jax.random.PRNGKey(0),
        jnp.zeros((4, 1)),
        jnp.zeros((1, 4, 7, 7, 3)),
        jnp.zeros((1, 4), bool),
    )["params"]
    encoder = jax.tree.map(jnp.shape, params["GridEncoder_0"])
    assert encoder["Dense_0"]["kernel"] == (48, 16)
    assert encoder["Dense_1"]["kernel"] == (64, 32)
    assert encoder["Dense_2"]["kernel"] == (800, 32)
    assert sorted(params) == ["Dense_0", "Dense_1", "Dense_2", "GridEncoder_0"]
