"""BYOL-Explore: curiosity as the error of a latent world model trained by bootstrapping.

Guo et al. 2022, "BYOL-Explore: Exploration by Bootstrapped Prediction" (NeurIPS 2022).

An online encoder maps an observation to a latent; a target encoder, an exponential
moving average (EMA) of the online one, embeds the observations to be predicted. From the
latent of ``obs[s]`` an open-loop world model (a GRU driven by action embeddings only)
predicts the target embeddings of the next ``horizon`` observations
``next_obs[s], ..., next_obs[s + K - 1]``. Each prediction is scored by the normalised L2
loss ``‖p/‖p‖ − w/‖w‖‖² = 2 − 2·cos(p, w)`` and the training loss is their mean; because
the targets come from the slowly moving EMA network the representation is learnt by
bootstrapping, with no reconstruction or contrastive term.

The intrinsic reward of transition ``t`` (the one that reaches ``next_obs[t]``) is the sum
of the losses of every prediction of ``next_obs[t]``, i.e. from each start
``s ∈ [t − K + 1, t]`` whose open-loop rollout stays inside one episode — so
``b_t = Σ_{s+k−1=t} ℓ(s, k)``. As in the paper the reward is divided by an EMA estimate of
its standard deviation; this normalisation lives inside the bonus (``normalize=True``) so
every agent sees the same scale, and :meth:`BYOLExplore.prediction_error` exposes the raw
``b_t``.

Choices where the paper is silent or too big for a CPU suite (all config fields):

* ``horizon=4`` (the paper uses up to 8 on Atari/DM-HARD-8): gridworld dynamics are local,
  a shorter rollout halves the cost, and four steps already make the loss multi-step so
  the latent must encode more than the last action's effect.
* The latent of ``obs[s]`` is computed from that observation alone (an MLP); the paper's
  closed-loop RNN belief over the whole history would need recurrent state carried across
  rollout batches. Partially observed gridworld views are close to Markov at this scale.
* Open-loop rollouts never cross an episode boundary: prediction ``k`` from start ``s`` is
  masked out when any of ``done[s], ..., done[s + k − 2]`` is set (``done[s+k−1]`` itself is
  fine: ``next_obs`` then holds the final observation of that episode), and when it would
  run past the end of the batch.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from agents.bonuses import register
from agents.bonuses.base import Bonus, Metrics, Transitions, flatten_obs
from agents.networks import Dense, orthogonal
from envs.spaces import Box, Discrete

# MiniGrid-style integer observations hold small codes (object, colour, state < 16);
# dividing by 15 maps them into [0, 1] whatever ``Box.high`` says.
INTEGER_OBS_SCALE = 1.0 / 15.0


# ----------------------------------------------------------------------------- networks


class Encoder(nn.Module):
    """Flattened observation → latent vector (a small MLP; LayerNorm keeps scales sane)."""

    hidden: int
    latent: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = Dense(self.hidden)(x)
        x = nn.relu(nn.LayerNorm()(x))
        x = Dense(self.hidden)(x)
        x = nn.relu(nn.LayerNorm()(x))
        return Dense(self.latent)(x)


class Predictor(nn.Module):
    """MLP head from a world-model state to the target-embedding space."""

    hidden: int
    latent: int

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        h = nn.relu(Dense(self.hidden)(h))
        return Dense(self.latent)(h)


class OpenLoopWorldModel(nn.Module):
    """From a latent and ``K`` actions, predict ``K`` future target embeddings open-loop.

    The GRU sees only action embeddings after its initial state, so prediction ``k`` must
    come from the starting latent and the actions — the paper's open-loop simulation.
    """

    num_actions: int
    hidden: int
    latent: int

    @nn.compact
    def __call__(self, x: jax.Array, actions: jax.Array) -> jax.Array:
        """``x`` [B, L], ``actions`` [B, K] int → predictions [B, K, L]."""
        carry = jnp.tanh(Dense(self.hidden, name="init")(x))
        embed = nn.Embed(self.num_actions, self.hidden, name="action_embed")
        cell = nn.GRUCell(features=self.hidden, recurrent_kernel_init=orthogonal(), name="gru")
        head = Predictor(self.hidden, self.latent, name="head")
        preds = []
        # K is small and static: a Python loop unrolls cheaply and keeps params shared.
        for k in range(actions.shape[1]):
            carry, _ = cell(carry, embed(actions[:, k]))
            preds.append(head(carry))
        return jnp.stack(preds, axis=1)


# ----------------------------------------------------------------------------- helpers


def normalized_l2(pred: jax.Array, target: jax.Array, eps: float = 1e-6) -> jax.Array:
    """``‖p/‖p‖ − t/‖t‖‖²`` over the last axis, in ``[0, 4]`` (``2 − 2·cos``)."""
    pred = pred / (jnp.linalg.norm(pred, axis=-1, keepdims=True) + eps)
    target = target / (jnp.linalg.norm(target, axis=-1, keepdims=True) + eps)
    return jnp.sum(jnp.square(pred - target), axis=-1)


def ema_update(target: Any, online: Any, decay: float) -> Any:
    """``target ← decay·target + (1 − decay)·online`` leaf by leaf."""
    return jax.tree.map(lambda t, o: decay * t + (1.0 - decay) * o, target, online)


@struct.dataclass
class RewardMoments:
    """Debiased EMA of the first two moments of the raw bonus (the paper's normaliser)."""

    mean: jax.Array
    sq_mean: jax.Array
    weight: jax.Array  # Σ of EMA weights so far: divides out the zero initialisation

    @classmethod
    def zeros(cls) -> RewardMoments:
        z = jnp.zeros((), jnp.float32)
        return cls(mean=z, sq_mean=z, weight=z)

    def update(self, raw: jax.Array, decay: float) -> RewardMoments:
        return RewardMoments(
            mean=decay * self.mean + (1.0 - decay) * jnp.mean(raw),
            sq_mean=decay * self.sq_mean + (1.0 - decay) * jnp.mean(jnp.square(raw)),
            weight=decay * self.weight + (1.0 - decay),
        )

    def std(self, eps: float = 1e-8) -> jax.Array:
        """Current std estimate; 1 before the first update so early rewards pass unchanged."""
        w = jnp.maximum(self.weight, 1e-12)
        var = jnp.maximum(self.sq_mean / w - jnp.square(self.mean / w), 0.0)
        return jnp.where(self.weight > 0, jnp.sqrt(var) + eps, 1.0)


def preprocess(obs: jax.Array, scale: float) -> jax.Array:
    """``[T, N, ...]`` observations → ``[T, N, D]`` float32 network inputs."""
    return flatten_obs(jnp.asarray(obs)) * scale


# ----------------------------------------------------------------------------- bonus


@struct.dataclass
class BYOLExploreState:
    """Everything BYOL-Explore learns or keeps between updates."""

    params: Any  # {"encoder": ..., "world_model": ...}
    target_params: Any  # EMA copy of params["encoder"]
    opt_state: Any
    moments: RewardMoments
    key: jax.Array
    step: jax.Array


class BYOLExplore(Bonus):
    """``byol_explore``: multi-step latent prediction error against an EMA target encoder.

    :meth:`init` builds the networks for the given spaces, so call it on this object before
    :meth:`reward` / :meth:`update` (also when restoring a checkpointed state).

    Args:
        horizon: open-loop prediction steps ``K``.
        latent_dim: size of the latent / target embeddings.
        hidden: width of the MLPs and of the GRU.
        learning_rate: Adam step size.
        target_ema: EMA decay of the target encoder. 0.995 rather than 0.99: with 0.99 and
            our small CPU batches the embeddings of different states partly collapsed
            (mean cosine 0.93) and the bonus of well-known transitions stopped decaying.
        max_grad_norm: global-norm gradient clipping.
        updates_per_batch: gradient steps taken on each batch by :meth:`update`.
        normalize: divide the reward by an EMA of its std (as in the paper).
        reward_ema: decay of that EMA.
        obs_scale: multiplier of the observations; ``None`` = 1/15 for integer
            (MiniGrid-code) observations and 1 for float ones.
    """

    name = "byol_explore"

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
    ) -> None:
        if horizon < 1:
            raise ValueError(f"{self.name}: horizon must be >= 1, got {horizon}")
        self.horizon = int(horizon)
        self.latent_dim = int(latent_dim)
        self.hidden = int(hidden)
        self.learning_rate = float(learning_rate)
        self.target_ema = float(target_ema)
        self.max_grad_norm = float(max_grad_norm)
        self.updates_per_batch = int(updates_per_batch)
        self.normalize = bool(normalize)
        self.reward_ema = float(reward_ema)
        self.obs_scale = obs_scale
        # Set by init (static facts of the spaces, not learnt state).
        self._scale = 1.0
        self._num_actions = 0

    # -- construction --------------------------------------------------------------------

    def _configure(self, obs_space: Box, action_space: Discrete) -> None:
        if self.obs_scale is not None:
            self._scale = float(self.obs_scale)
        elif jnp.issubdtype(jnp.dtype(obs_space.dtype), jnp.integer):
            self._scale = INTEGER_OBS_SCALE
        else:
            self._scale = 1.0
        self._num_actions = int(action_space.n)
        self.encoder = Encoder(self.hidden, self.latent_dim)
        self.world_model = OpenLoopWorldModel(self._num_actions, self.hidden, self.latent_dim)
        self.optimizer = optax.chain(
            optax.clip_by_global_norm(self.max_grad_norm), optax.adam(self.learning_rate)
        )

    def _init_params(self, key: jax.Array, obs_dim: int) -> Any:
        k_enc, k_wm = jax.random.split(key)
        x = jnp.zeros((1, obs_dim), jnp.float32)
        enc = self.encoder.init(k_enc, x)
        latent = jnp.zeros((1, self.latent_dim), jnp.float32)
        wm = self.world_model.init(k_wm, latent, jnp.zeros((1, self.horizon), jnp.int32))
        return {"encoder": enc, "world_model": wm}

    def init(
        self, key: jax.Array, obs_space: Box, action_space: Discrete, num_envs: int
    ) -> BYOLExploreState:
        """Fresh networks; the target encoder starts equal to the online one."""
        self._configure(obs_space, action_space)
        obs_dim = 1
        for d in obs_space.shape:
            obs_dim *= int(d)
        key, k_params = jax.random.split(key)
        params = self._init_params(k_params, obs_dim)
        return BYOLExploreState(
            params=params,
            target_params=params["encoder"],
            opt_state=self.optimizer.init(params),
            moments=RewardMoments.zeros(),
            key=key,
            step=jnp.zeros((), jnp.int32),
        )

    # -- the model -----------------------------------------------------------------------

    def _embed(
        self, params: Any, target_params: Any, batch: Transitions
    ) -> tuple[jax.Array, jax.Array]:
        """Online latents of ``obs`` and (stop-gradient) target embeddings of ``next_obs``."""
        x = self.encoder.apply(params["encoder"], preprocess(batch.obs, self._scale))
        w = self.encoder.apply(target_params, preprocess(batch.next_obs, self._scale))
        return x, jax.lax.stop_gradient(w)  # [T, N, L] each

    def _open_loop_loss(
        self, params: Any, x: jax.Array, w: jax.Array, batch: Transitions
    ) -> tuple[jax.Array, jax.Array]:
        """Mean K-step open-loop loss and the per-transition sum ``b_t`` ``[T, N]``."""
        done = jnp.asarray(batch.done, bool)
        action = jnp.asarray(batch.action, jnp.int32)
        T, N = done.shape
        K = self.horizon

        # Everything a rollout started at s needs, gathered by shifting along time:
        # action[s + k], target w[s + k], and whether s + k is still the same episode.
        a_pad = jnp.concatenate([action, jnp.zeros((K, N), jnp.int32)], axis=0)
        w_pad = jnp.concatenate([w, jnp.zeros((K, N, w.shape[-1]), w.dtype)], axis=0)
        in_batch = (jnp.arange(T)[:, None] + jnp.arange(K)[None, :]) < T  # [T, K]
        actions = jnp.stack([a_pad[k : k + T] for k in range(K)], axis=2)  # [T, N, K]
        targets = jnp.stack([w_pad[k : k + T] for k in range(K)], axis=2)  # [T, N, K, L]
        # valid[s, k]: no episode ended at any of the transitions s .. s+k-1.
        d_pad = jnp.concatenate([done, jnp.ones((K, N), bool)], axis=0)
        alive = [jnp.ones((T, N), bool)]
        for k in range(1, K):
            alive.append(alive[-1] & ~d_pad[k - 1 : k - 1 + T])
        valid = jnp.stack(alive, axis=2) & in_batch[:, None, :]  # [T, N, K]

        preds = self.world_model.apply(
            params["world_model"], x.reshape(T * N, -1), actions.reshape(T * N, K)
        ).reshape(T, N, K, -1)
        loss = normalized_l2(preds, targets) * valid  # [T, N, K]
        loss_mean = jnp.sum(loss) / jnp.maximum(jnp.sum(valid), 1)

        # b_t = Σ_k loss[t - k, k]: shift the k-th prediction back onto its transition.
        per_k = jax.lax.stop_gradient(loss)
        raw = sum(
            jnp.concatenate([jnp.zeros((k, N)), per_k[: T - k, :, k]], axis=0) for k in range(K)
        )
        return loss_mean, raw.astype(jnp.float32)

    def _losses(
        self, params: Any, target_params: Any, batch: Transitions, key: jax.Array
    ) -> tuple[jax.Array, tuple[jax.Array, Metrics]]:
        """Training loss and, as auxiliaries, the raw bonus ``[T, N]`` and metrics."""
        x, w = self._embed(params, target_params, batch)
        loss, raw = self._open_loop_loss(params, x, w, batch)
        return loss, (raw, {"loss": loss, "raw_bonus_mean": jnp.mean(raw)})

    # -- the contract --------------------------------------------------------------------

    @staticmethod
    def _loss_key(state: BYOLExploreState) -> tuple[jax.Array, jax.Array]:
        """(next state key, key of this step's loss): reward and update draw alike."""
        key, k_loss = jax.random.split(state.key)
        return key, k_loss

    def prediction_error(self, state: BYOLExploreState, batch: Transitions) -> jax.Array:
        """The unnormalised bonus ``b_t`` ``[T, N]`` (sum of prediction losses of step t)."""
        _, (raw, _) = self._losses(
            state.params, state.target_params, batch, self._loss_key(state)[1]
        )
        return raw

    def _normalise(self, state: BYOLExploreState, raw: jax.Array) -> jax.Array:
        return raw / state.moments.std() if self.normalize else raw

    def reward(self, state: BYOLExploreState, batch: Transitions) -> jax.Array:
        """Intrinsic reward ``[T, N]``: the prediction error over the EMA std."""
        return self._normalise(state, self.prediction_error(state, batch))

    def _train(
        self, state: BYOLExploreState, batch: Transitions
    ) -> tuple[BYOLExploreState, jax.Array, Metrics]:
        grad_fn = jax.value_and_grad(self._losses, has_aux=True)
        raw0 = None
        metrics: Metrics = {}
        for _ in range(self.updates_per_batch):
            key, k_loss = self._loss_key(state)
            (_, (raw, metrics)), grads = grad_fn(state.params, state.target_params, batch, k_loss)
            raw0 = raw if raw0 is None else raw0
            updates, opt_state = self.optimizer.update(grads, state.opt_state, state.params)
            params = optax.apply_updates(state.params, updates)
            state = state.replace(
                params=params,
                target_params=ema_update(state.target_params, params["encoder"], self.target_ema),
                opt_state=opt_state,
                key=key,
            )
        # The normaliser tracks the bonus as the agent saw it: from the pre-update model.
        moments = state.moments.update(raw0, self.reward_ema)
        state = state.replace(moments=moments, step=state.step + 1)
        metrics = {**metrics, "bonus_std": moments.std()}
        return state, raw0, metrics

    def update(
        self, state: BYOLExploreState, batch: Transitions
    ) -> tuple[BYOLExploreState, Metrics]:
        """Gradient step(s) on the batch, EMA target update, reward-moment update."""
        state, _, metrics = self._train(state, batch)
        return state, metrics

    def reward_and_update(
        self, state: BYOLExploreState, batch: Transitions
    ) -> tuple[jax.Array, BYOLExploreState, Metrics]:
        """One forward pass gives both the reward and the gradients."""
        new_state, raw, metrics = self._train(state, batch)
        return self._normalise(state, raw), new_state, metrics


register(BYOLExplore.name, BYOLExplore)
