"""BYOL-Hindsight: BYOL-Explore made robust to noise by a hindsight latent.

Jarrett et al. 2022, "Curiosity in Hindsight: Intrinsic Exploration in Stochastic
Environments" (ICML 2023), built on Guo et al. 2022, "BYOL-Explore: Exploration by
Bootstrapped Prediction".

Prediction error is a poor novelty signal under stochasticity: the outcome of a noisy TV
stays unpredictable however often it is seen, so curiosity never tires of it. The fix is
a structural-causal-model view, ``o_{t+1} = F(history, a_t, Z_{t+1})`` with exogenous
noise ``Z``: a *generator* computes a hindsight latent ``z = h(o_{t+1}, x_t, a_t)`` from
the outcome itself, and a world model predicts the outcome's target embedding from
``(x_t, a_t, z)``. Given ``z`` even the TV is predictable, so the error — the bonus —
decays once a transition is well learnt, stochastic or not.

A ``z`` that copied the outcome would make *everything* predictable and kill curiosity, so
``z`` must carry no information that ``(x_t, a_t)`` already has: it must be independent
of them, i.e. hold only the unpredictable part of the outcome. A *critic* scores
(x, a, z) triples and is trained with InfoNCE to pick the true ``z`` of each (x, a) among
the ``z`` of other transitions of the batch (shuffled pairs); the generator is penalised by
how much the critic beats chance, ``max(0, log M − L_InfoNCE)`` — the InfoNCE lower bound
on the mutual information ``I(z; x, a)`` over ``M`` candidates. Deterministic transitions
thus get an uninformative ``z`` and keep their full prediction error while they are new.

Design (config fields in brackets):

* The representation is BYOL-Explore's: the same online/EMA-target encoders trained by the
  same masked K-step open-loop loss (``horizon``). The hindsight parts read the latents
  through ``stop_gradient``, so the adversarial game can neither reshape nor collapse the
  representation, and the two bonuses differ only in how the outcome is predicted.
  (Measured: letting the hindsight loss train the encoder collapsed the embeddings.)
* One-step hindsight model. The paper gives every step of the open-loop rollout its own
  hindsight latent; here the hindsight world model predicts only ``next_obs[t]`` from
  ``(x_t, a_t, z_{t+1})`` and its error is the bonus. A per-step noise source (the noisy
  TV) is fully explained at one step, one ``z`` per transition keeps the critic's
  conditioning set small, and a single transition never crosses an episode boundary.
* The generator reads the outcome as its target embedding ``w_{t+1}`` (what must be
  explained), plus ``x_t``, ``a_t`` and a Gaussian noise input ``ε``. The noise matters:
  a deterministic generator must give deterministic transitions a constant ``z``, and
  "constant vs noisy ``z``" already tells the critic which (x, a) watch the TV, so the
  penalty would forbid explaining the noise at all (measured: TV/ordinary bonus ratio
  ~10 without ``ε``, ~1–3 with it). :meth:`reward` draws ``ε`` from a key derived from
  the state, so it stays a pure function of ``(state, batch)``.
* The critic sees ``stop_gradient(x_t)`` (the penalty may only change ``z``) and
  standardises both of its inputs over the candidate set, so it sees any dependence
  however small ``z``'s scale. Critic and generator share one optimiser: the critic's
  InfoNCE sees ``stop_gradient(z)``, the generator's penalty sees ``stop_gradient(critic
  params)``, so one gradient of the summed loss trains each player on its own objective.
  Cosine scores over a temperature (``critic_temperature``) bound the logits; a random
  subsample of ``critic_batch`` transitions caps the ``M × M`` score matrix.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from agents.bonuses import register
from agents.bonuses.base import Metrics, Transitions
from agents.bonuses.byol_explore import (
    BYOLExplore,
    BYOLExploreState,
    Predictor,
    normalized_l2,
)
from agents.networks import Dense


class HindsightGenerator(nn.Module):
    """``z = h(w_{t+1}, x_t, a_t, ε)``: sees the outcome, so it can name its random part.

    ``ε ~ N(0, I)`` lets it give deterministic transitions a random ``z`` with the same
    distribution as a noisy one's; a deterministic generator would have to give them a
    constant ``z``, which itself tells the critic "this (x, a) is not the TV".
    """

    num_actions: int
    hidden: int
    z_dim: int

    @nn.compact
    def __call__(
        self, outcome: jax.Array, x: jax.Array, action: jax.Array, eps: jax.Array
    ) -> jax.Array:
        a = jax.nn.one_hot(action, self.num_actions)
        h = jnp.concatenate([outcome, x, a, eps], axis=-1)
        h = nn.relu(nn.LayerNorm()(Dense(self.hidden)(h)))
        h = nn.relu(Dense(self.hidden)(h))
        return Dense(self.z_dim)(h)


class HindsightWorldModel(nn.Module):
    """Predict the target embedding of ``o_{t+1}`` from ``(x_t, a_t, z_{t+1})``."""

    num_actions: int
    hidden: int
    latent: int

    @nn.compact
    def __call__(self, x: jax.Array, action: jax.Array, z: jax.Array) -> jax.Array:
        a = nn.Embed(self.num_actions, self.hidden, name="action_embed")(action)
        h = Dense(self.hidden)(x) + a + Dense(self.hidden, name="z_in")(z)
        h = nn.relu(nn.LayerNorm()(h))
        return Predictor(self.hidden, self.latent, name="head")(h)


class HindsightCritic(nn.Module):
    """Embeds (x, a) and z separately; the score of a pair is their scaled cosine."""

    num_actions: int
    hidden: int
    embed_dim: int

    @nn.compact
    def __call__(self, x: jax.Array, action: jax.Array, z: jax.Array) -> tuple[jax.Array, ...]:
        a = jax.nn.one_hot(action, self.num_actions)
        # Standardise both sides over the candidate set: the critic must see *any*
        # dependence, however small z's scale or however close the latents of states are.
        x, z = _standardise(x), _standardise(z)
        u = nn.relu(Dense(self.hidden)(jnp.concatenate([x, a], axis=-1)))
        u = Dense(self.embed_dim)(u)
        v = nn.relu(Dense(self.hidden)(z))
        v = Dense(self.embed_dim)(v)
        u = u / (jnp.linalg.norm(u, axis=-1, keepdims=True) + 1e-6)
        v = v / (jnp.linalg.norm(v, axis=-1, keepdims=True) + 1e-6)
        return u, v


def _standardise(v: jax.Array) -> jax.Array:
    return (v - jnp.mean(v, axis=0)) / (jnp.std(v, axis=0) + 1e-6)


def info_nce(u: jax.Array, v: jax.Array, temperature: float) -> jax.Array:
    """Mean cross-entropy of picking ``v[i]`` for ``u[i]`` among all ``v`` (``[M, D]`` each)."""
    logits = (u @ v.T) / temperature
    return -jnp.mean(jnp.diagonal(jax.nn.log_softmax(logits, axis=-1)))


class BYOLHindsight(BYOLExplore):
    """``byol_hindsight``: BYOL prediction error given an adversarially independent hindsight latent.

    Args (besides :class:`BYOLExplore`'s, whose ``horizon`` here sets the open-loop
    representation loss only):
        hindsight_dim: size of ``z``.
        invariance_weight: weight ``λ`` of the generator's penalty ``max(0, log M − InfoNCE)``
            (1.0: on the synthetic noisy TV, 0.01 let z leak the TV's identity and the TV
            bonus stayed 8–12× the ordinary one; 1–3 brought it to 1–3×).
        critic_batch: transitions subsampled for the critic's ``M × M`` InfoNCE.
        critic_embed_dim: size of the critic's embeddings.
        critic_temperature: temperature of its cosine scores.
    """

    name = "byol_hindsight"

    def __init__(
        self,
        horizon: int = 4,
        latent_dim: int = 64,
        hidden: int = 128,
        learning_rate: float = 1e-3,
        target_ema: float = 0.995,
        max_grad_norm: float = 1.0,
        updates_per_batch: int = 1,
        normalize: bool = True,
        reward_ema: float = 0.99,
        obs_scale: float | None = None,
        hindsight_dim: int = 16,
        invariance_weight: float = 1.0,
        critic_batch: int = 256,
        critic_embed_dim: int = 32,
        critic_temperature: float = 0.1,
    ) -> None:
        super().__init__(
            horizon=horizon,
            latent_dim=latent_dim,
            hidden=hidden,
            learning_rate=learning_rate,
            target_ema=target_ema,
            max_grad_norm=max_grad_norm,
            updates_per_batch=updates_per_batch,
            normalize=normalize,
            reward_ema=reward_ema,
            obs_scale=obs_scale,
        )
        self.hindsight_dim = int(hindsight_dim)
        self.invariance_weight = float(invariance_weight)
        self.critic_batch = int(critic_batch)
        self.critic_embed_dim = int(critic_embed_dim)
        self.critic_temperature = float(critic_temperature)

    def _configure(self, obs_space, action_space) -> None:
        super()._configure(obs_space, action_space)
        n = self._num_actions
        self.generator = HindsightGenerator(n, self.hidden, self.hindsight_dim)
        self.hindsight_model = HindsightWorldModel(n, self.hidden, self.latent_dim)
        self.critic = HindsightCritic(n, self.hidden, self.critic_embed_dim)

    def _init_params(self, key: jax.Array, obs_dim: int) -> Any:
        key, k_gen, k_hm, k_crit = jax.random.split(key, 4)
        params = super()._init_params(key, obs_dim)
        x = jnp.zeros((1, self.latent_dim), jnp.float32)
        a = jnp.zeros((1,), jnp.int32)
        z = jnp.zeros((1, self.hindsight_dim), jnp.float32)
        params["generator"] = self.generator.init(k_gen, x, x, a, z)
        params["hindsight_model"] = self.hindsight_model.init(k_hm, x, a, z)
        params["critic"] = self.critic.init(k_crit, x, a, z)
        return params

    def _hindsight_error(
        self, params: Any, x: jax.Array, w: jax.Array, action: jax.Array, key: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """Per-transition error of the hindsight-conditioned prediction, and ``z``."""
        eps = jax.random.normal(key, (x.shape[0], self.hindsight_dim))
        z = self.generator.apply(params["generator"], w, x, action, eps)
        pred = self.hindsight_model.apply(params["hindsight_model"], x, action, z)
        return normalized_l2(pred, w), z

    def _losses(
        self, params: Any, target_params: Any, batch: Transitions, key: jax.Array
    ) -> tuple[jax.Array, tuple[jax.Array, Metrics]]:
        x, w = self._embed(params, target_params, batch)
        # The representation is learnt exactly as in BYOL-Explore; the hindsight parts read
        # it through stop_gradient so they cannot reshape (or collapse) it.
        repr_loss, _ = self._open_loop_loss(params, x, w, batch)
        T, N = batch.done.shape
        B = T * N
        x_sg = jax.lax.stop_gradient(x).reshape(B, -1)
        w = w.reshape(B, -1)
        action = jnp.asarray(batch.action, jnp.int32).reshape(B)
        k_eps, k_critic = jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
        err, z = self._hindsight_error(params, x_sg, w, action, k_eps)
        recon = jnp.mean(err)

        # Critic on a random subsample: who wins says how much z knows about (x, a).
        M = min(self.critic_batch, B)
        idx = jax.random.permutation(k_critic, B)[:M]
        xs, as_, zs = x_sg[idx], action[idx], z[idx]
        u, v = self.critic.apply(params["critic"], xs, as_, jax.lax.stop_gradient(zs))
        critic_loss = info_nce(u, v, self.critic_temperature)
        u_g, v_g = self.critic.apply(jax.lax.stop_gradient(params["critic"]), xs, as_, zs)
        # log M − InfoNCE lower-bounds I(z; x, a); the generator pays only for a real win.
        leak = jnp.log(M) - info_nce(u_g, v_g, self.critic_temperature)
        penalty = jnp.maximum(leak, 0.0)

        loss = repr_loss + recon + critic_loss + self.invariance_weight * penalty
        raw = jax.lax.stop_gradient(err).reshape(T, N)
        metrics = {
            "loss": repr_loss,
            "hindsight_loss": recon,
            "critic_loss": critic_loss,
            "mi_lower_bound": leak,
            "raw_bonus_mean": jnp.mean(raw),
            "z_rms": jnp.sqrt(jnp.mean(jnp.square(z))),
        }
        return loss, (raw, metrics)

    def prediction_error(self, state: BYOLExploreState, batch: Transitions) -> jax.Array:
        """The unnormalised bonus ``[T, N]``: the error of the prediction given ``z``."""
        x, w = self._embed(state.params, state.target_params, batch)
        T, N = batch.done.shape
        action = jnp.asarray(batch.action, jnp.int32).reshape(T * N)
        # ε from the state's key, as the update draws it: the reward is a pure function of
        # (state, batch), and reward_and_update scores exactly like reward.
        k_eps = jax.random.fold_in(self._loss_key(state)[1], 0)
        err, _ = self._hindsight_error(
            state.params, x.reshape(T * N, -1), w.reshape(T * N, -1), action, k_eps
        )
        return err.reshape(T, N)


register(BYOLHindsight.name, BYOLHindsight)

__all__ = ["BYOLHindsight"]
