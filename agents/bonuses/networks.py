"""Small Flax (linen) networks shared by the learned intrinsic rewards.

Bonus networks see observations as ``[B, *obs_shape]``: an MLP flattens everything after
the batch axis; the MiniGrid CNN expects ``[B, H, W, C]`` grids (e.g. the 7×7×3 egocentric
(object, colour, state) view). :func:`make_encoder` picks one by name so every bonus exposes
the same ``network="mlp"|"cnn"|"linear"`` config field.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from agents.networks import Dense, orthogonal
from envs.spaces import Box


class MLP(nn.Module):
    """Fully connected ReLU network; flattens every axis after the batch axis."""

    features: Sequence[int]
    activate_final: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape(x.shape[0], -1).astype(jnp.float32)
        for i, width in enumerate(self.features):
            # Orthogonal init as in the RND/ICM reference code: keeps random targets well spread.
            x = Dense(width, kernel_init=orthogonal(np.sqrt(2)))(x)
            if i < len(self.features) - 1 or self.activate_final:
                x = nn.relu(x)
        return x


class PatchConv(nn.Module):
    """A ``k×k`` 'SAME' convolution written as patch extraction + a dense layer.

    The same function as ``nn.Conv``, but XLA's CPU convolution gradients run one to two
    orders of magnitude slower inside ``lax.scan`` (where bonus predictors train) than
    matmuls do; this keeps bonus training off that path.
    """

    features: int
    kernel: int = 3

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k, h, w = self.kernel, x.shape[-3], x.shape[-2]
        pad = k // 2
        padded = jnp.pad(
            x, [(0, 0)] * (x.ndim - 3) + [(pad, k - 1 - pad), (pad, k - 1 - pad), (0, 0)]
        )
        patches = [padded[..., i : i + h, j : j + w, :] for i in range(k) for j in range(k)]
        return Dense(self.features)(jnp.concatenate(patches, axis=-1))


class MiniGridCNN(nn.Module):
    """Small CNN for ``[B, H, W, C]`` grid observations, followed by a linear head."""

    out_dim: int
    channels: Sequence[int] = (16, 32)
    hidden: int = 64

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.astype(jnp.float32)
        for width in self.channels:
            # 'SAME' padding: a 7×7 view is too small to lose border cells.
            x = nn.relu(PatchConv(width, 3)(x))
        x = x.reshape(x.shape[0], -1)
        x = nn.relu(Dense(self.hidden, kernel_init=orthogonal(np.sqrt(2)))(x))
        return Dense(self.out_dim, kernel_init=orthogonal(np.sqrt(2)))(x)


def make_encoder(kind: str, hidden: int, out_dim: int, depth: int = 2) -> nn.Module:
    """Network ``obs → R^out_dim``: ``"mlp"`` (``depth`` hidden layers of width ``hidden``),
    ``"cnn"`` (:class:`MiniGridCNN`, grids only) or ``"linear"`` (a single dense layer, used by
    tests where a predictor must fit each one-hot state separately)."""
    if kind == "mlp":
        return MLP((hidden,) * depth + (out_dim,))
    if kind == "cnn":
        return MiniGridCNN(out_dim=out_dim, hidden=hidden)
    if kind == "linear":
        return MLP((out_dim,))
    raise ValueError(f"unknown network {kind!r}; expected 'mlp', 'cnn' or 'linear'")


def obs_scale(obs_space: Box) -> float:
    """Factor bringing integer observations to roughly [0, 1] (float ones are left as is).

    Integer grids (MiniGrid channels < 16, or 0..255 pixels) would otherwise feed large raw
    codes into randomly initialised networks.
    """
    if jnp.issubdtype(obs_space.dtype, jnp.integer):
        high = float(np.max(np.asarray(obs_space.high, dtype=np.float64)))
        return 1.0 / max(high, 1.0)
    return 1.0


def merge_time(x: jax.Array) -> jax.Array:
    """``[T, N, ...]`` → ``[T*N, ...]``."""
    return x.reshape((x.shape[0] * x.shape[1], *x.shape[2:]))


def split_time(x: jax.Array, t: int, n: int) -> jax.Array:
    """``[T*N, ...]`` → ``[T, N, ...]``."""
    return x.reshape((t, n, *x.shape[1:]))


class InverseDynamics(nn.Module):
    """Encoder φ trained by predicting the action from (φ(s), φ(s')) (E3B, ICM)."""

    network: str
    hidden: int
    embed_dim: int
    num_actions: int

    def setup(self) -> None:
        self.encoder = make_encoder(self.network, self.hidden, self.embed_dim)
        self.inverse_head = MLP((self.hidden, self.num_actions))

    def embed(self, x: jax.Array) -> jax.Array:
        """φ(x) for a batch ``[B, *obs_shape]``."""
        return self.encoder(x)

    def inverse(self, phi: jax.Array, next_phi: jax.Array) -> jax.Array:
        """Action logits from two embeddings."""
        return self.inverse_head(jnp.concatenate([phi, next_phi], axis=-1))

    def __call__(self, x: jax.Array, next_x: jax.Array) -> jax.Array:
        return self.inverse(self.embed(x), self.embed(next_x))


class CuriosityModel(InverseDynamics):
    """ICM: the inverse-dynamics encoder plus a forward model g(φ(s), a) → φ(s')."""

    def setup(self) -> None:
        super().setup()
        self.forward_head = MLP((self.hidden, self.embed_dim))

    def forward(self, phi: jax.Array, action: jax.Array) -> jax.Array:
        """Predicted φ(s') from φ(s) and integer actions ``[B]``."""
        onehot = jax.nn.one_hot(action, self.num_actions, dtype=phi.dtype)
        return self.forward_head(jnp.concatenate([phi, onehot], axis=-1))

    def __call__(self, x: jax.Array, next_x: jax.Array, action: jax.Array):
        phi, next_phi = self.embed(x), self.embed(next_x)
        return self.inverse(phi, next_phi), self.forward(phi, action)
