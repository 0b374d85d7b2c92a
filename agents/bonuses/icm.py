"""``icm``: the Intrinsic Curiosity Module.

Reference: Pathak, Agrawal, Efros, Darrell 2017, "Curiosity-driven Exploration by
Self-supervised Prediction" (ICML).

An encoder φ is trained by an inverse model (predict a from φ(s), φ(s')); a forward model
g predicts φ(s') from (φ(s), a). The bonus of a transition is b = ½‖g(φ(s), a) − φ(s')‖²
(summed over features). Training minimises (1 − β)·L_inverse + β·L_forward with β = 0.2
as in the paper. The forward loss does not reach the encoder (stop-gradient on φ in it), so
φ is shaped by the inverse model alone, which is what makes ICM ignore what the agent
cannot affect — and also why a noisy TV the agent watches stays unpredictable.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from agents.bonuses import register
from agents.bonuses.base import Bonus, Metrics, Transitions
from agents.bonuses.networks import CuriosityModel, merge_time, obs_scale
from envs.spaces import Box, Discrete


@struct.dataclass
class ICMState:
    """Encoder, inverse and forward model parameters, and the optimiser state."""

    params: Any
    opt_state: Any
    obs_scale: jax.Array
    num_actions: int = struct.field(pytree_node=False, default=0)


class ICM(Bonus):
    """``icm``: forward-model prediction error in the inverse-dynamics feature space."""

    name = "icm"
    episodic = False

    def __init__(
        self,
        feature_dim: int = 64,
        hidden: int = 128,
        network: str = "mlp",
        lr: float = 3e-4,
        beta: float = 0.2,
        num_updates: int = 1,
    ):
        self.feature_dim, self.hidden, self.network = int(feature_dim), int(hidden), network
        self.lr, self.beta, self.num_updates = float(lr), float(beta), int(num_updates)
        self.tx = optax.adam(self.lr)

    def _model(self, num_actions: int) -> CuriosityModel:
        return CuriosityModel(self.network, self.hidden, self.feature_dim, num_actions)

    def init(self, key: jax.Array, obs_space: Box, action_space: Discrete, num_envs: int):
        dummy = jnp.zeros((1, *obs_space.shape), jnp.float32)
        params = self._model(action_space.n).init(key, dummy, dummy, jnp.zeros((1,), jnp.int32))
        return ICMState(
            params=params,
            opt_state=self.tx.init(params),
            obs_scale=jnp.asarray(obs_scale(obs_space), jnp.float32),
            num_actions=int(action_space.n),
        )

    def _inputs(self, state: ICMState, batch: Transitions):
        x = merge_time(jnp.asarray(batch.obs)).astype(jnp.float32) * state.obs_scale
        x_next = merge_time(jnp.asarray(batch.next_obs)).astype(jnp.float32) * state.obs_scale
        return x, x_next, merge_time(jnp.asarray(batch.action)).astype(jnp.int32)

    def _terms(self, params, model: CuriosityModel, x, x_next, actions):
        """Inverse logits and the forward error ½‖g(φ(s), a) − φ(s')‖² per transition."""
        phi = model.apply(params, x, method=model.embed)
        next_phi = model.apply(params, x_next, method=model.embed)
        logits = model.apply(params, phi, next_phi, method=model.inverse)
        # Encoder trained by the inverse model only: the forward model sees frozen features.
        pred = model.apply(params, jax.lax.stop_gradient(phi), actions, method=model.forward)
        error = 0.5 * jnp.sum((pred - jax.lax.stop_gradient(next_phi)) ** 2, axis=-1)
        return logits, error

    def reward(self, state: ICMState, batch: Transitions) -> jax.Array:
        model = self._model(state.num_actions)
        _, error = self._terms(state.params, model, *self._inputs(state, batch))
        return error.reshape(batch.done.shape)

    def update(self, state: ICMState, batch: Transitions) -> tuple[ICMState, Metrics]:
        model = self._model(state.num_actions)
        x, x_next, actions = self._inputs(state, batch)

        def loss_fn(params):
            logits, error = self._terms(params, model, x, x_next, actions)
            inverse = optax.softmax_cross_entropy_with_integer_labels(logits, actions).mean()
            forward = error.mean()
            return (1.0 - self.beta) * inverse + self.beta * forward, (inverse, forward)

        def step(carry, _):
            params, opt_state = carry
            (_, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
            updates, opt_state = self.tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), aux

        (params, opt_state), (inverse, forward) = jax.lax.scan(
            step, (state.params, state.opt_state), None, length=self.num_updates
        )
        state = state.replace(params=params, opt_state=opt_state)
        return state, {"inverse_loss": inverse[-1], "forward_loss": forward[-1]}


register("icm", ICM)
