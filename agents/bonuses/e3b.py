"""``e3b``: Exploration via Elliptical Episodic Bonuses.

Reference: Henaff, Raileanu, Jiang, Rocktäschel 2022, "Exploration via Elliptical Episodic
Bonuses" (NeurIPS).

φ is the encoder of an inverse-dynamics model (predict a_t from φ(s_t), φ(s_{t+1})), trained
by cross-entropy in :meth:`E3B.update`. Each env keeps C⁻¹ for its current episode, with

    C = λI + Σ_{s ∈ V} φ(s)φ(s)ᵀ,    b(s') = φ(s')ᵀ C⁻¹ φ(s'),

where, for transition t of an episode, V holds the episode's first observation and the
states reached by the earlier transitions of the episode (``next_obs[t']`` for t' < t):
every state visited so far in the episode, but not s' itself. C⁻¹ starts at I/λ (λ = 0.1,
the paper's value) and is kept by Sherman–Morrison rank-1 updates,
C⁻¹ ← C⁻¹ − (C⁻¹φ)(C⁻¹φ)ᵀ / (1 + φᵀC⁻¹φ); it is reset after a transition with ``done``.

Encoder versions: :meth:`E3B.update` first advances C⁻¹ through the batch with the
encoder used by :meth:`E3B.reward` (so both agree), then trains the encoder. Within a
long episode C therefore mixes embeddings of successive encoders, as in the paper's
implementation, which also updates the encoder between rollouts.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from agents.bonuses import register
from agents.bonuses.base import Bonus, Metrics, Transitions
from agents.bonuses.networks import InverseDynamics, merge_time, obs_scale, split_time
from envs.spaces import Box, Discrete


@struct.dataclass
class E3BState:
    """Inverse-dynamics parameters and optimiser state, and per-env episodic C⁻¹."""

    params: Any
    opt_state: Any
    cov_inv: jax.Array  # f32[N, d, d]
    fresh: jax.Array  # bool[N]: the next obs of env n starts an episode (not yet in C)
    obs_scale: jax.Array  # f32 scalar applied to raw observations
    num_actions: int = struct.field(pytree_node=False, default=0)


def sherman_morrison(cov_inv: jax.Array, phi: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Bonus φᵀC⁻¹φ and (C + φφᵀ)⁻¹ from C⁻¹ ``[d, d]`` (symmetric) and φ ``[d]``."""
    u = cov_inv @ phi
    b = phi @ u
    return b, cov_inv - jnp.outer(u, u) / (1.0 + b)


def elliptical_scan(
    cov_inv: jax.Array,
    fresh: jax.Array,
    phi_start: jax.Array,
    phi_next: jax.Array,
    done: jax.Array,
    ridge: float,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Run the episodic ellipse through a batch.

    Args: per-env C⁻¹ ``[N, d, d]`` and ``fresh`` ``[N]``; embeddings of ``obs`` and
    ``next_obs`` ``[T, N, d]``; ``done`` ``[T, N]``. Dtype-generic (float64 in tests).
    Returns: bonuses ``[T, N]``, C⁻¹ and ``fresh`` after the batch.
    """
    d = cov_inv.shape[-1]
    reset = jnp.eye(d, dtype=cov_inv.dtype) / ridge

    def step(carry, xs):
        cov_inv, fresh = carry
        p_start, p_next, done_t = xs
        # The episode's first observation joins C before the first bonus is computed.
        _, with_start = jax.vmap(sherman_morrison)(cov_inv, p_start)
        cov_inv = jnp.where(fresh[:, None, None], with_start, cov_inv)
        bonus, cov_inv = jax.vmap(sherman_morrison)(cov_inv, p_next)
        cov_inv = jnp.where(done_t[:, None, None], reset, cov_inv)
        return (cov_inv, done_t), bonus

    (cov_inv, fresh), bonus = jax.lax.scan(step, (cov_inv, fresh), (phi_start, phi_next, done))
    return bonus, cov_inv, fresh


class E3B(Bonus):
    """``e3b``: b(s') = φ(s')ᵀ C⁻¹ φ(s') with the episode's elliptical C."""

    name = "e3b"
    episodic = True

    def __init__(
        self,
        embed_dim: int = 32,
        hidden: int = 128,
        network: str = "mlp",
        lr: float = 3e-4,
        ridge: float = 0.1,
        num_updates: int = 1,
    ):
        self.embed_dim, self.hidden, self.network = int(embed_dim), int(hidden), network
        self.lr, self.ridge, self.num_updates = float(lr), float(ridge), int(num_updates)
        self.tx = optax.adam(self.lr)

    def _model(self, num_actions: int) -> InverseDynamics:
        return InverseDynamics(self.network, self.hidden, self.embed_dim, num_actions)

    def init(self, key: jax.Array, obs_space: Box, action_space: Discrete, num_envs: int):
        dummy = jnp.zeros((1, *obs_space.shape), jnp.float32)
        params = self._model(action_space.n).init(key, dummy, dummy)
        eye = jnp.eye(self.embed_dim, dtype=jnp.float32) / self.ridge
        return E3BState(
            params=params,
            opt_state=self.tx.init(params),
            cov_inv=jnp.broadcast_to(eye, (num_envs, self.embed_dim, self.embed_dim)),
            fresh=jnp.ones((num_envs,), bool),
            obs_scale=jnp.asarray(obs_scale(obs_space), jnp.float32),
            num_actions=int(action_space.n),
        )

    def embed(self, state: E3BState, obs: jax.Array) -> jax.Array:
        """φ of observations ``[T, N, ...]`` → ``[T, N, d]``."""
        t, n = obs.shape[:2]
        model = self._model(state.num_actions)
        x = merge_time(jnp.asarray(obs)).astype(jnp.float32) * state.obs_scale
        return split_time(model.apply(state.params, x, method=model.embed), t, n)

    def _scan(self, state: E3BState, batch: Transitions):
        return elliptical_scan(
            state.cov_inv,
            state.fresh,
            self.embed(state, batch.obs),
            self.embed(state, batch.next_obs),
            jnp.asarray(batch.done, bool),
            self.ridge,
        )

    def reward(self, state: E3BState, batch: Transitions) -> jax.Array:
        return self._scan(state, batch)[0]

    def reward_and_update(self, state: E3BState, batch: Transitions):
        bonus, cov_inv, fresh = self._scan(state, batch)
        state = state.replace(cov_inv=cov_inv, fresh=fresh)
        state, metrics = self._train(state, batch)
        return bonus, state, metrics

    def update(self, state: E3BState, batch: Transitions) -> tuple[E3BState, Metrics]:
        return self.reward_and_update(state, batch)[1:]

    def _train(self, state: E3BState, batch: Transitions) -> tuple[E3BState, Metrics]:
        model = self._model(state.num_actions)
        x = merge_time(jnp.asarray(batch.obs)).astype(jnp.float32) * state.obs_scale
        x_next = merge_time(jnp.asarray(batch.next_obs)).astype(jnp.float32) * state.obs_scale
        actions = merge_time(jnp.asarray(batch.action)).astype(jnp.int32)

        def loss_fn(params):
            logits = model.apply(params, x, x_next)
            return optax.softmax_cross_entropy_with_integer_labels(logits, actions).mean()

        def step(carry, _):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params)
            updates, opt_state = self.tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(
            step, (state.params, state.opt_state), None, length=self.num_updates
        )
        return state.replace(params=params, opt_state=opt_state), {"inverse_loss": losses[-1]}


register("e3b", E3B)
