"""``rnd``: Random Network Distillation.

Reference: Burda, Edwards, Storkey, Klimov 2019, "Exploration by Random Network
Distillation" (ICLR).

A fixed random target f̄ and a predictor f trained by MSE on visited observations;
b(s') = ‖f(s') − f̄(s')‖² (squared norm over the ``out_dim`` outputs, as in the paper; the
training loss averages over outputs like the reference code — only the scale differs).
Observations are normalised by a running per-element mean/std and clipped to [−5, 5]
before both networks; the statistics are part of the bonus state and are updated in
:meth:`RND.update` with the batch's ``next_obs`` *before* the predictor is trained on it
(so the predictor always sees inputs normalised as the next rewards will be). As in the
paper, each gradient step uses a random ``update_proportion`` of the batch (25%). Dividing
the reward by a running std of intrinsic returns is the PPO agent's job, not done here.

The target is an MLP of depth 2 and the predictor an MLP of depth 3 (the paper's predictor
is deeper than its target); ``network="cnn"`` uses the MiniGrid CNN for both, and
``network="linear"`` a single dense layer (used by tests on one-hot states).

The pieces (:class:`ObsNorm`, :meth:`RND.novelty`, the state) are reused by ``rdd`` and
``noveld``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from agents.bonuses import register
from agents.bonuses.base import Bonus, Metrics, Transitions
from agents.bonuses.networks import make_encoder, merge_time
from envs.spaces import Box, Discrete

# Rows per block when the predictor trains on its masked-in rows only: about two blocks for
# the 25 % of a 2048-step batch.
MASKED_BLOCK = 256


@struct.dataclass
class ObsNorm:
    """Running mean/variance of observations (parallel-variance update, as in the paper)."""

    mean: jax.Array  # f32[*obs_shape]
    var: jax.Array
    count: jax.Array  # f32 scalar

    @classmethod
    def create(cls, shape: tuple[int, ...]) -> ObsNorm:
        # count starts at a small epsilon, like the reference RunningMeanStd: the first
        # update essentially replaces the initial (0, 1) statistics.
        return cls(
            mean=jnp.zeros(shape, jnp.float32),
            var=jnp.ones(shape, jnp.float32),
            count=jnp.asarray(1e-4, jnp.float32),
        )

    def update(self, x: jax.Array) -> ObsNorm:
        """Fold a batch ``[B, *obs_shape]`` into the statistics."""
        x = x.astype(jnp.float32)
        b_mean, b_var, b_count = x.mean(0), x.var(0), jnp.asarray(x.shape[0], jnp.float32)
        delta = b_mean - self.mean
        total = self.count + b_count
        mean = self.mean + delta * b_count / total
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / total
        return ObsNorm(mean=mean, var=m2 / total, count=total)

    def normalize(self, x: jax.Array, clip: float = 5.0) -> jax.Array:
        """``clip((x − mean)/std, −clip, clip)``."""
        z = (x.astype(jnp.float32) - self.mean) / jnp.sqrt(self.var + 1e-8)
        return jnp.clip(z, -clip, clip)


@struct.dataclass
class RNDState:
    """Target and predictor parameters, optimiser state, observation statistics, PRNG key."""

    target_params: Any
    predictor_params: Any
    opt_state: Any
    obs_norm: ObsNorm
    key: jax.Array


class RND(Bonus):
    """``rnd``: b(s') = ‖f(s') − f̄(s')‖² on normalised observations."""

    name = "rnd"
    episodic = False

    def __init__(
        self,
        hidden: int = 256,
        out_dim: int = 64,
        lr: float = 1e-4,
        update_proportion: float = 0.25,
        num_updates: int = 1,
        network: str = "mlp",
        obs_clip: float = 5.0,
    ):
        self.hidden, self.out_dim, self.lr = int(hidden), int(out_dim), float(lr)
        self.update_proportion, self.num_updates = float(update_proportion), int(num_updates)
        self.network, self.obs_clip = network, float(obs_clip)
        self.target_net = make_encoder(network, self.hidden, self.out_dim, depth=2)
        self.predictor_net = make_encoder(network, self.hidden, self.out_dim, depth=3)
        self.tx = optax.adam(self.lr)

    # ------------------------------------------------------------------ hooks for RDD
    def training_target(self, key: jax.Array, target_out: jax.Array) -> jax.Array:
        """What the predictor regresses on (RND: the fixed target output itself)."""
        del key
        return target_out

    def bonus_from(self, pred: jax.Array, target_out: jax.Array) -> jax.Array:
        """Bonus from predictor and target outputs ``[B, d]`` → ``[B]``."""
        return jnp.sum((pred - target_out) ** 2, axis=-1)

    # ------------------------------------------------------------------ contract
    def init(self, key: jax.Array, obs_space: Box, action_space: Discrete, num_envs: int):
        k_target, k_pred, k_state = jax.random.split(key, 3)
        dummy = jnp.zeros((1, *obs_space.shape), jnp.float32)
        target_params = self.target_net.init(k_target, dummy)
        predictor_params = self.predictor_net.init(k_pred, dummy)
        return RNDState(
            target_params=target_params,
            predictor_params=predictor_params,
            opt_state=self.tx.init(predictor_params),
            obs_norm=ObsNorm.create(tuple(obs_space.shape)),
            key=k_state,
        )

    def outputs(self, state: RNDState, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Predictor and target outputs ``[B, d]`` for normalised inputs ``[B, ...]``."""
        pred = self.predictor_net.apply(state.predictor_params, x)
        target = self.target_net.apply(state.target_params, x)
        return pred, target

    def novelty(self, state: RNDState, obs: jax.Array) -> jax.Array:
        """Bonus of arbitrary observations ``[T, N, ...]`` → ``[T, N]``."""
        t, n = obs.shape[:2]
        x = state.obs_norm.normalize(merge_time(jnp.asarray(obs)), self.obs_clip)
        return self.bonus_from(*self.outputs(state, x)).reshape(t, n)

    def reward(self, state: RNDState, batch: Transitions) -> jax.Array:
        return self.novelty(state, batch.next_obs)

    def _loss(self, predictor_params, x, targets, mask):
        pred = self.predictor_net.apply(predictor_params, x)
        per_sample = jnp.mean((pred - targets) ** 2, axis=-1)
        # Masked mean, as the reference code: a random subset of the batch trains the predictor.
        return jnp.sum(per_sample * mask) / jnp.maximum(jnp.sum(mask), 1.0)

    def _loss_and_grad_on_masked_rows(
        self, params, x: jax.Array, targets: jax.Array, mask: jax.Array
    ) -> tuple[jax.Array, Any]:
        """:meth:`_loss` and its gradient, computed on the rows the mask keeps only.

        Rows outside the mask add exactly zero to the masked mean and its gradient, so the
        kept rows (≈ ``update_proportion`` of the batch) are gathered, ``MASKED_BLOCK`` at a
        time in a ``while_loop`` while any remain, and each block's gradient is summed: the
        value and gradient of :meth:`_loss` (up to the order of the float sums) at a quarter
        of the work for the reference's 25 %.
        """
        n = x.shape[0]
        block = min(n, MASKED_BLOCK)
        count = jnp.sum(mask)
        # Kept row indices first, then zeros: room for every row plus one partial block.
        rows = jnp.nonzero(mask, size=-(-n // block) * block, fill_value=0)[0]
        weight = 1.0 / jnp.maximum(count, 1).astype(jnp.float32)

        def block_loss(p, start):
            idx = jax.lax.dynamic_slice_in_dim(rows, start, block)
            pred = self.predictor_net.apply(p, x[idx])
            per_sample = jnp.mean((pred - targets[idx]) ** 2, axis=-1)
            kept = (start + jnp.arange(block)) < count
            return jnp.sum(jnp.where(kept, per_sample, 0.0)) * weight

        def body(carry):
            start, loss, grads = carry
            value, grad = jax.value_and_grad(block_loss)(params, start)
            return start + block, loss + value, jax.tree.map(jnp.add, grads, grad)

        zeros = jax.tree.map(jnp.zeros_like, params)
        _, loss, grads = jax.lax.while_loop(
            lambda carry: carry[0] < count, body, (jnp.int32(0), jnp.float32(0.0), zeros)
        )
        return loss, grads

    def update(self, state: RNDState, batch: Transitions) -> tuple[RNDState, Metrics]:
        raw = merge_time(jnp.asarray(batch.next_obs))
        obs_norm = state.obs_norm.update(raw)
        x = obs_norm.normalize(raw, self.obs_clip)
        target_out = self.target_net.apply(state.target_params, x)

        def step(carry, key):
            params, opt_state = carry
            k_mask, k_target = jax.random.split(key)
            mask = jax.random.bernoulli(k_mask, self.update_proportion, (x.shape[0],))
            targets = jax.lax.stop_gradient(self.training_target(k_target, target_out))
            loss, grads = self._loss_and_grad_on_masked_rows(params, x, targets, mask)
            updates, opt_state = self.tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        key, sub = jax.random.split(state.key)
        (params, opt_state), losses = jax.lax.scan(
            step,
            (state.predictor_params, state.opt_state),
            jax.random.split(sub, self.num_updates),
        )
        state = state.replace(
            predictor_params=params, opt_state=opt_state, obs_norm=obs_norm, key=key
        )
        return state, {"predictor_loss": losses[-1]}


register("rnd", RND)
