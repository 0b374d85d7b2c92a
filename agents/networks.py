"""Actor-critic networks: an MLP for flat observations, a MiniGrid-style CNN for grid
observations, optional GRU memory, and two value heads (extrinsic, intrinsic)."""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


def orthogonal(scale: float = 1.0) -> nn.initializers.Initializer:
    """Flax's orthogonal initialiser, made safe to ``jax.vmap`` on XLA's CPU runtime.

    The orthogonal matrix comes from a QR decomposition. Under ``jax.vmap`` (over seeds,
    agents or weight vectors) that QR becomes one batched LAPACK call, which XLA's CPU runtime
    runs through ``ParallelBatchMap``; on a 2-core machine that deadlocked intermittently (both
    threads in ``BlockingCounter::Wait`` under ``OrthogonalQr``; jax 0.10.2). Here the batched
    rule draws the matrices one key at a time with ``lax.map`` instead, so a vmapped init runs
    the same unbatched QR as a single init: same values, no batched decomposition. Every
    network in the suite takes its orthogonal initialiser from here.
    """
    base = nn.initializers.orthogonal(scale)

    def init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
        @jax.custom_batching.custom_vmap
        def draw(k):
            return base(k, shape, dtype)

        @draw.def_vmap
        def _one_key_at_a_time(axis_size, in_batched, k):
            (key_batched,) = in_batched
            if not key_batched:
                return draw(k), False
            return jax.lax.map(draw, k), True

        return draw(key)

    return init


class Dense(nn.Dense):
    """``nn.Dense`` computed on a 2-D view of its input, ``[prod(leading), features]``.

    Same parameters, names (``Dense_<i>``) and values as ``nn.Dense``. On XLA's CPU runtime a
    dense layer on ``[T, N, F]`` (time-major rollouts, minibatches) or ``[B, H, W, C]`` (patch
    convolutions) lowers to a ``dot_general`` over several leading axes whose gradient misses
    the fast matmul path: measured here, a 2-layer MLP's gradient on ``[1, 8192, 64]`` took
    1.5× as long as on ``[8192, 64]``, a patch layer on ``[16, 16, 6, 6, 96]`` 1.4× its
    flattened form. The reshape is free (a bitcast).
    """

    @nn.compact
    def __call__(self, inputs: jax.Array) -> jax.Array:
        flat = inputs.reshape(-1, inputs.shape[-1])
        return super().__call__(flat).reshape(*inputs.shape[:-1], self.features)


def _dense(features: int, scale: float = np.sqrt(2)) -> nn.Dense:
    # Orthogonal init with PPO's usual scales (Engstrom et al. 2020; CleanRL, PureJaxRL).
    return Dense(
        features,
        kernel_init=orthogonal(scale),
        bias_init=nn.initializers.constant(0.0),
    )


def _patches_2x2(x: jax.Array) -> jax.Array:
    """``[..., H, W, C]`` → ``[..., H-1, W-1, 4C]``: each cell with its right/lower neighbours."""
    return jnp.concatenate(
        [x[..., :-1, :-1, :], x[..., :-1, 1:, :], x[..., 1:, :-1, :], x[..., 1:, 1:, :]], axis=-1
    )


def _blocks_2x2(x: jax.Array) -> jax.Array:
    """``[..., H, W, C]`` → ``[..., ⌈H/2⌉, ⌈W/2⌉, 4C]``: non-overlapping 2×2 blocks (a 2×2
    layer of stride 2), in :func:`_patches_2x2`'s order; odd edges padded with zeros."""
    *lead, h, w, c = x.shape
    x = jnp.pad(x, [(0, 0)] * len(lead) + [(0, h % 2), (0, w % 2), (0, 0)])
    x = x.reshape(*lead, (h + 1) // 2, 2, (w + 1) // 2, 2, c)
    return jnp.swapaxes(x, -4, -3).reshape(*lead, (h + 1) // 2, (w + 1) // 2, 4 * c)


def _max_pool_2x2(x: jax.Array) -> jax.Array:
    """``[..., H, W, C]`` → ``[..., H//2, W//2, C]``: 2×2 max-pooling, stride 2 (odd edges dropped)."""
    *lead, h, w, c = x.shape
    x = x[..., : h // 2 * 2, : w // 2 * 2, :]
    return x.reshape(*lead, h // 2, 2, w // 2, 2, c).max(axis=(-4, -2))


def _affine(x: jax.Array, kernel: jax.Array, bias: jax.Array) -> jax.Array:
    """``x @ kernel + bias`` on the last axis, computed on a 2-D view (as :class:`Dense`)."""
    flat = x.reshape(-1, x.shape[-1]) @ kernel + bias
    return flat.reshape(*x.shape[:-1], kernel.shape[1])


def _grid_features_batch_major(shape: tuple, params: tuple, ids: jax.Array) -> jax.Array:
    """GridEncoder's function on ``[B, H, W, C]`` ids, activations laid out ``[B, H, W, ch]``.

    ``shape`` is ``(pooled, stride)`` (:class:`GridEncoder`); ``params`` is
    ``(embedding, convs, (kernel, bias))``: the embedding table, the 2×2 convolutions'
    ``(kernel, bias)`` pairs and the final dense layer.
    """
    pooled, stride = shape
    table, convs, (kernel, bias) = params
    channels = ids.shape[-1]
    categories = table.shape[0] // channels
    # One embedding table shared by channels, offset so channels don't collide.
    x = jnp.take(table, ids + jnp.arange(channels) * categories, axis=0)
    x = x.reshape(*x.shape[:-2], -1)  # [B, H, W, C * embed]: a cell's channels in (c, e) order
    for i, (k, b) in enumerate(convs):
        patches = _blocks_2x2(x) if i == 0 and stride == 2 else _patches_2x2(x)
        x = nn.relu(_affine(patches, k, b))
        if i == 0 and pooled:
            x = _max_pool_2x2(x)
    x = x.reshape(x.shape[0], -1)  # flattened in (h, w, channel) order
    return nn.relu(_affine(x, kernel, bias))


def _grid_features_batch_minor(shape: tuple, params: tuple, ids: jax.Array) -> jax.Array:
    """The same function as :func:`_grid_features_batch_major` (same parameters, equal up to
    float rounding), with activations laid out ``[ch, H, W, B]``, the batch innermost.

    In this layout a 2×2 patch is four shifted slices copied in runs of ``B`` floats (instead
    of runs of a cell's few channels), and every weight gradient is a matmul whose operands
    are both contiguous along the batch. Measured on 512-view minibatches, one core: the
    encoder's forward + backward 7.3 → 5.5 ms; its forward alone is a little slower (2.0 vs
    2.1 ms, 0.07 vs 0.16 ms on 16 views), hence only the gradient uses it
    (:func:`_grid_features`).
    """
    pooled, stride = shape
    table, convs, (kernel, bias) = params
    batch, h, w, channels = ids.shape
    categories, embed = table.shape[0] // channels, table.shape[1]
    idx = (
        jnp.transpose(ids, (3, 1, 2, 0)) + (jnp.arange(channels) * categories)[:, None, None, None]
    )
    x = jnp.take(table.T, idx, axis=1)  # [embed, C, H, W, B]: a cell's channels in (e, c) order
    x = x.reshape(embed * channels, h, w, batch)
    if not convs:  # back to the batch-major (c, e) channel order the final layer's rows use
        x = x.reshape(embed, channels, h, w, batch).swapaxes(0, 1).reshape(-1, h, w, batch)
    for i, (k, b) in enumerate(convs):
        if i == 0:  # the kernel's rows for the (e, c) order of this layout's embedding
            k = k.reshape(4, channels, embed, -1).swapaxes(1, 2).reshape(k.shape)
        if i == 0 and stride == 2:  # non-overlapping blocks: one relayout, not 4 slices
            ch, hh, ww, _ = x.shape
            x = jnp.pad(x, ((0, 0), (0, hh % 2), (0, ww % 2), (0, 0)))
            x = x.reshape(ch, (hh + 1) // 2, 2, (ww + 1) // 2, 2, batch)
            patches = x.transpose(2, 4, 0, 1, 3, 5).reshape(4 * ch, (hh + 1) // 2, -1, batch)
        else:
            patches = jnp.concatenate([x[:, :-1, :-1], x[:, :-1, 1:], x[:, 1:, :-1], x[:, 1:, 1:]])
        out = k.T @ patches.reshape(patches.shape[0], -1) + b[:, None]
        x = nn.relu(out.reshape(k.shape[1], *patches.shape[1:]))
        if i == 0 and pooled:
            ch, hh, ww, _ = x.shape
            x = x[:, : hh // 2 * 2, : ww // 2 * 2]
            x = x.reshape(ch, hh // 2, 2, ww // 2, 2, batch).max(axis=(2, 4))
    ch, hh, ww, _ = x.shape
    # The final layer's rows follow the batch-major (h, w, channel) flattening; here it is
    # (channel, h, w).
    kernel = kernel.reshape(hh, ww, ch, -1).transpose(2, 0, 1, 3).reshape(kernel.shape)
    return nn.relu(kernel.T @ x.reshape(-1, batch) + bias[:, None]).T


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _grid_features(shape: tuple, params: tuple, ids: jax.Array) -> jax.Array:
    """GridEncoder's layers: batch-major when only evaluated (acting, bootstrap values),
    batch-minor when differentiated (PPO's minibatches), where that layout is faster."""
    return _grid_features_batch_major(shape, params, ids)


def _grid_features_fwd(shape: tuple, params: tuple, ids: jax.Array):
    return jax.vjp(lambda p: _grid_features_batch_minor(shape, p, ids), params)


def _grid_features_bwd(shape: tuple, pullback, cotangent: jax.Array):
    (grads,) = pullback(cotangent)
    return grads, None  # the ids are integers: no cotangent


_grid_features.defvjp(_grid_features_fwd, _grid_features_bwd)


class _DenseParams(nn.Module):
    """A :func:`_dense` layer's parameters only (same names, shapes, initial values), for
    layers computed outside of flax (:class:`GridEncoder`)."""

    features: int

    @nn.compact
    def __call__(self, in_features: int) -> tuple[jax.Array, jax.Array]:
        layer = _dense(self.features)  # its initialisers, declared once there
        # Created in nn.Dense's order (kernel, then bias) so the initial values match it.
        kernel = self.param("kernel", layer.kernel_init, (in_features, self.features))
        bias = self.param("bias", layer.bias_init, (self.features,))
        return kernel, bias


class GridEncoder(nn.Module):
    """Small CNN for ``[7, 7, 3]`` MiniGrid observations (after the rl-starter-files one).

    Each channel is embedded (object, colour and state ids are categories, not magnitudes),
    then 2×2 convolutions and a dense layer. The convolutions are written as patch
    extraction + a matmul: the same function, but XLA's CPU convolution gradients run
    about 25× slower inside ``lax.scan`` (where PPO's minibatch loop lives) than matmuls.
    The layers are computed in one of two layouts (:func:`_grid_features`); the parameters
    keep the names, shapes and initial values of ``nn.Embed`` / ``nn.Dense`` layers
    (``Embed_0``, ``Dense_<i>``), so checkpoints from before still load.

    ``pooled`` adds a 2×2 max-pool after the first convolution; ``stride=2`` makes the first
    2×2 layer read non-overlapping blocks (odd edges zero-padded). The shapes PPO and IPPO
    offer are in :data:`GRID_NETWORKS`. ``cnn`` (PPO's default): two convolutions of 16 and 32
    channels, then the dense layer on the 5×5×32 map (≈ 130 k multiply-adds per 7×7 view).
    ``cnn_pooled``: rl-starter-files' own shape — 16 channels, a 2×2 max-pool, then 32 and 64
    channels, down to 1×1×64 on a 7×7 view (≈ 48 k multiply-adds); 1.37× the PPO+RND
    throughput of ``cnn`` when measured (2026-12-03, 2-core CPU), but at the settings tuned for
    ``cnn`` it learns DoorKey-8x8 much worse (docs/performance.md), so it is not the
    default. ``cnn_strided`` (IPPO's default on grid views): ``cnn`` with a stride-2 first
    layer — on the social envs' 11×11 views 6×6×16, then 5×5×32 and the dense layer
    (≈ 150 k multiply-adds against ``cnn``'s 460 k); every cell still reaches the network,
    through exactly one block.
    """

    features: int = 128
    num_categories: int = 16
    embed: int = 4
    channels: tuple[int, ...] = (16, 32)
    pooled: bool = False
    stride: int = 1  # of the first 2×2 layer; 2: non-overlapping blocks (zero-padded edges)

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        *lead, h, w, c = obs.shape
        table = nn.Embed(self.num_categories * c, self.embed, name="Embed_0").embedding
        convs = []
        width = c * self.embed
        # The max-pool follows the first convolution (rl-starter-files' shape).
        pooled = self.pooled and len(self.channels) > 1
        if pooled and self.stride != 1:
            raise ValueError("GridEncoder: pooled needs stride=1 (a stride-2 first layer)")
        for i, out in enumerate(self.channels):
            if min(h, w) < 2:  # a view too small for another 2×2 layer
                break
            convs.append(_DenseParams(out, name=f"Dense_{i}")(4 * width))
            if i == 0 and self.stride == 2:
                h, w, width = (h + 1) // 2, (w + 1) // 2, out
            else:
                h, w, width = h - 1, w - 1, out
            if i == 0 and pooled:
                h, w = h // 2, w // 2
        final = _DenseParams(self.features, name=f"Dense_{len(convs)}")(h * w * width)
        ids = obs.astype(jnp.int32).reshape(-1, *obs.shape[-3:])
        features = _grid_features((pooled, self.stride), (table, tuple(convs), final), ids)
        return features.reshape(*lead, self.features)


# ``ppo.network`` / ``ippo.network`` names of the grid encoders → GridEncoder settings.
GRID_NETWORKS: dict[str, dict] = {
    "cnn": {"channels": (16, 32)},
    "cnn_pooled": {"channels": (16, 32, 64), "pooled": True},
    "cnn_strided": {"channels": (16, 32), "stride": 2},
}


def grid_encoder(network: str, features: int) -> GridEncoder:
    """The :class:`GridEncoder` a network name of :data:`GRID_NETWORKS` stands for."""
    return GridEncoder(features, **GRID_NETWORKS[network])


class MLPEncoder(nn.Module):
    """Two dense layers for flat observations."""

    features: int = 64
    activation: str = "tanh"

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        act = nn.tanh if self.activation == "tanh" else nn.relu
        # Inputs are time-major [T, N, ...]: flatten everything after the two leading axes.
        x = obs.reshape(*obs.shape[:2], -1).astype(jnp.float32)
        return act(_dense(self.features)(act(_dense(self.features)(x))))


class ScannedGRU(nn.Module):
    """A GRU scanned over time that resets its state where an episode starts."""

    features: int

    @functools.partial(
        nn.scan, variable_broadcast="params", in_axes=0, out_axes=0, split_rngs={"params": False}
    )
    @nn.compact
    def __call__(self, carry: jax.Array, inputs: tuple[jax.Array, jax.Array]):
        x, reset = inputs
        carry = jnp.where(reset[:, None], jnp.zeros_like(carry), carry)
        carry, y = nn.GRUCell(self.features, recurrent_kernel_init=orthogonal())(carry, x)
        return carry, y

    @staticmethod
    def initial_carry(batch: int, features: int) -> jax.Array:
        """All-zero hidden state for ``batch`` environments."""
        return jnp.zeros((batch, features), jnp.float32)


class ActorCritic(nn.Module):
    """Policy logits and two values; inputs are time-major ``[T, N, ...]`` sequences.

    Separate actor and critic trunks for flat inputs (as PureJaxRL), a shared encoder for
    grids (the CNN is the expensive part on a CPU).
    """

    num_actions: int
    encoder: str = "mlp"  # "mlp" | "cnn" | "cnn_pooled"
    hidden: int = 64
    activation: str = "tanh"
    gru: int = 0  # GRU width; 0 = no memory
    # Width of the extrinsic value head: 0 = one scalar value (``[T, N]``); m > 0 = one value
    # per objective (``[T, N, m]``, multi-objective PPO).
    value_dim: int = 0

    @nn.compact
    def __call__(self, hidden: jax.Array, obs: jax.Array, reset: jax.Array):
        if self.encoder in GRID_NETWORKS:
            features = grid_encoder(self.encoder, self.hidden)(obs)
            actor_x = critic_x = features
        else:
            actor_x = MLPEncoder(self.hidden, self.activation)(obs)
            critic_x = actor_x if self.gru else MLPEncoder(self.hidden, self.activation)(obs)
        if self.gru:
            hidden, actor_x = ScannedGRU(self.gru)(hidden, (actor_x, reset))
            critic_x = actor_x
        logits = _dense(self.num_actions, 0.01)(actor_x)
        v_ext = _dense(max(self.value_dim, 1), 1.0)(critic_x)
        v_ext = v_ext if self.value_dim else v_ext[..., 0]
        v_int = _dense(1, 1.0)(critic_x)[..., 0]
        return hidden, logits, v_ext, v_int
