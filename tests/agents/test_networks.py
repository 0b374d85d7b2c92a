"""Network building blocks: the dense layer computed on a 2-D view of its input."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

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


def test_pooled_grid_encoder_is_rl_starter_shape():
    """network=cnn_pooled: 2×2 conv 16 → 2×2 max-pool → 2×2 conv 32 → 2×2 conv 64 (1×1 on a
    7×7 view) → dense; the pool keeps each 2×2 block's maximum; cnn keeps its two layers."""
    from agents.networks import _max_pool_2x2, grid_encoder

    x = jnp.arange(2 * 5 * 5 * 3, dtype=jnp.float32).reshape(2, 5, 5, 3)
    pooled = _max_pool_2x2(x)
    assert pooled.shape == (2, 2, 2, 3)  # the odd last row and column are dropped
    np.testing.assert_array_equal(pooled[:, 1, 0], jnp.max(x[:, 2:4, 0:2], axis=(1, 2)))

    obs = jax.random.randint(jax.random.PRNGKey(0), (4, 7, 7, 3), 0, 11)
    shapes = {}
    for network in ("cnn", "cnn_pooled"):
        params = grid_encoder(network, 32).init(jax.random.PRNGKey(1), obs)
        kernels = {k: v["kernel"].shape for k, v in params["params"].items() if "kernel" in v}
        shapes[network] = kernels
    assert shapes["cnn"] == {"Dense_0": (48, 16), "Dense_1": (64, 32), "Dense_2": (800, 32)}
    assert shapes["cnn_pooled"] == {
        "Dense_0": (48, 16),
        "Dense_1": (64, 32),
        "Dense_2": (128, 64),
        "Dense_3": (64, 32),
    }
    net = ActorCritic(num_actions=7, encoder="cnn_pooled")
    params = net.init(jax.random.PRNGKey(2), jnp.zeros((4, 1)), obs[None], jnp.ones((1, 4), bool))
    _, logits, v_ext, _ = net.apply(params, jnp.zeros((4, 1)), obs[None], jnp.ones((1, 4), bool))
    assert logits.shape == (1, 4, 7) and v_ext.shape == (1, 4)


class _FlaxLayersGridEncoder(nn.Module):
    """The grid encoder as written with flax's own layers (nn.Embed, Dense) before it was
    computed in two layouts: the definition GridEncoder must keep."""

    features: int
    channels: tuple[int, ...]
    pooled: bool = False
    stride: int = 1

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        from agents.networks import _dense, _max_pool_2x2, _patches_2x2

        ids = obs.astype(jnp.int32)
        x = nn.Embed(16 * ids.shape[-1], 4)(ids + jnp.arange(ids.shape[-1]) * 16)
        x = x.reshape(*x.shape[:-2], -1)
        for i, width in enumerate(self.channels):
            if i == 1 and self.pooled:
                x = _max_pool_2x2(x)
            if min(x.shape[-3:-1]) < 2:
                break
            if i == 0 and self.stride == 2:  # zero-pad to even sides, then 2×2 blocks
                h, w = x.shape[-3:-1]
                x = jnp.pad(x, [(0, 0)] * (x.ndim - 3) + [(0, h % 2), (0, w % 2), (0, 0)])
                x = _patches_2x2(x)[..., ::2, ::2, :]  # every other patch: the blocks
                x = nn.relu(_dense(width)(x))
                continue
            x = nn.relu(_dense(width)(_patches_2x2(x)))
        x = x.reshape(*x.shape[:-3], -1)
        return nn.relu(_dense(self.features)(x))


@pytest.mark.parametrize(
    ("network", "view", "channels"),
    [
        ("cnn", 7, 3),
        ("cnn_pooled", 7, 3),
        ("cnn", 5, 4),
        ("cnn_pooled", 3, 3),
        ("cnn", 1, 3),
        ("cnn_strided", 11, 5),
        ("cnn_strided", 4, 3),
        ("cnn_strided", 1, 3),
    ],
)
def test_grid_encoder_layouts_compute_the_flax_layers_function(network, view, channels):
    """Both layouts are the function of the flax-layer definition: same parameter tree and
    initial values; forward (batch-major) and gradient (batch-minor) equal up to rounding.
    Views: MiniGrid's 7×7×3, a 5×5 view with IPPO's agent-id channel, a 3×3 view the pooled
    net pools to 1×1, a 1×1 view with no convolution at all; the strided net (IPPO's default
    on grids) on a social env's 11×11 view with the id channel (odd sides: zero-padded
    blocks), an even 4×4 view and a 1×1 view."""
    from agents.networks import GRID_NETWORKS, grid_encoder

    obs = jax.random.randint(jax.random.PRNGKey(0), (2, 6, view, view, channels), 0, 11)
    ours = grid_encoder(network, 32)
    reference = _FlaxLayersGridEncoder(32, **GRID_NETWORKS[network])
    params = ours.init(jax.random.PRNGKey(1), obs)
    reference_params = reference.init(jax.random.PRNGKey(1), obs)
    assert jax.tree.structure(params) == jax.tree.structure(reference_params)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(reference_params), strict=True):
        np.testing.assert_array_equal(a, b)

    out = ours.apply(params, obs)
    assert out.shape == (2, 6, 32)
    np.testing.assert_allclose(out, reference.apply(params, obs), rtol=1e-5, atol=1e-6)

    def loss(module):
        return lambda p: (jnp.tanh(module.apply(p, obs)) * jnp.arange(32)).sum()

    value, grads = jax.value_and_grad(loss(ours))(params)
    ref_value, ref_grads = jax.value_and_grad(loss(reference))(params)
    np.testing.assert_allclose(value, ref_value, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads), strict=True):
        # Sums of thousands of terms in another order: rounding relative to the leaf's scale.
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * float(jnp.abs(b).max()))
    assert any(float(jnp.abs(g).max()) > 0 for g in jax.tree.leaves(grads))
