"""Multi-objective PPO: one policy per weight vector, a whole front in one compiled program.

A multi-objective env returns a reward vector ``r ∈ R^m`` (``envs/multiobjective``). MO-PPO
trains, for every weight vector ``w`` of a set on the simplex, a PPO policy for the linear
scalarisation ``w·r`` (Hayes et al. 2022):

* the critic has a **vector value head** (one value per objective, ``ActorCritic(value_dim=m)``)
  trained on per-objective GAE targets; the policy's advantage is ``w·A`` where ``A`` is the
  vector of per-objective GAE advantages (equal to the GAE of ``w·r`` with baseline ``w·V``,
  as in the "MO-PPO" of Xu et al. 2020, "Prediction-Guided Multi-Objective RL", and
  morl-baselines' per-weight PPO);
* the weight set is trained at once: every leaf of PPO's runner state gets a leading weight
  axis and one update is ``jax.vmap`` of PPO's update over it, so a front is one
  ``explore train`` call (and ``explore.train`` vmaps seeds around that);
* intrinsic rewards plug in through the bonus contract, one bonus state per weight's policy
  (``ext_coef·w·A_ext + int_coef·A_int``, as PPO combines them).

Everything else is PPO's: the rollout scan, GAE, the clipped loss, minibatching, the chunked
loop, checkpoints and resume. MO-PPO only overrides PPO's two reward-shape hooks
(:meth:`PPO._episode_reward`, :meth:`PPO._extrinsic_advantages`), ``init``, ``update`` and
``run``.

At the end of each compiled chunk (one log line), each weight's policy is evaluated greedily
(argmax actions, ``eval_episodes`` episodes from fresh resets) and its discounted vector
return (discount ``gamma_ext``) is logged as ``front/w<i>/obj<k>``; the weights as
``front/w<i>/weight<k>``, and the env's true front at ``gamma_ext`` (when known) as
``front/true/p<j>/obj<k>``. ``analysis`` rebuilds each run's front from these rows (long-format
metrics, nothing else to read) and scores it (hypervolume, expected utility, ...).

``total_steps`` is per weight: a run steps the environment ``num_weights × total_steps`` times;
logged steps and ``steps_per_second`` count one weight's steps.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from agents.bonuses.base import Bonus
from agents.configs import MOPPOConfig
from agents.ppo import PPO, Rollout, RunnerState


@struct.dataclass
class MORunnerState(RunnerState):
    """PPO's runner state for one weight's policy, plus its weight vector ``[m]``."""

    weight: jax.Array


@struct.dataclass
class MOState:
    """The state of one seed: every weight's PPO state stacked on a leading weight axis."""

    inner: MORunnerState  # every leaf ``[W, ...]``
    eval_key: jax.Array  # for the greedy evaluation episodes (kept apart from training's keys)

    # PPO's per-cell diagnostics, which explore.train writes for PPO's state: none across a
    # set of weights (class attributes, not pytree fields).
    episode_cells = None
    cell_bonus = None

    @property
    def weights(self) -> jax.Array:
        """The weight vectors ``[W, m]``."""
        return self.inner.weight

    @property
    def coverage(self) -> jax.Array:
        """Visits of agent positions summed over the weights' policies (``[..., H, W]``)."""
        return self.inner.coverage.sum(axis=-3)

    @property
    def bonus_state(self) -> object:
        """The bonus states of the weights' policies (leading weight axis)."""
        return self.inner.bonus_state


def _replace(self: MOState, **updates) -> MOState:
    # explore.train hands host-side bonus updates back as ``state.replace(bonus_state=...)``.
    if "bonus_state" in updates:
        updates["inner"] = self.inner.replace(bonus_state=updates.pop("bonus_state"))
    return dataclasses.replace(self, **updates)


MOState.replace = _replace  # after struct.dataclass, which installs its own ``replace``


def weight_set(cfg: MOPPOConfig, reward_dim: int) -> np.ndarray:
    """The weight vectors ``[W, m]`` of a config: ``cfg.weights`` if given, else the scheme.

    Both are analysis.multiobjective's (the suite's one weight scheme and one validation):
    ``weight_set`` gives a uniform grid on the simplex for m = 2 and a low-discrepancy set
    for m ≥ 3 (``weight_scheme``); ``check_weights`` raises ``ValueError`` naming
    ``mo_ppo.weights`` for a wrong length, a negative entry, or a row not summing to 1 (unless
    ``normalize_weights``).
    """
    from analysis import multiobjective as mo

    if cfg.weights is not None:
        weights = mo.check_weights(
            cfg.weights, reward_dim, field="mo_ppo.weights", normalise=cfg.normalize_weights
        )
        return np.atleast_2d(weights)
    try:
        return mo.weight_set(reward_dim, cfg.num_weights, cfg.weight_scheme)
    except ValueError as err:
        raise ValueError(f"mo_ppo.num_weights / mo_ppo.weight_scheme: {err}") from None


class MOPPO(PPO):
    """PPO over a set of weight vectors at once: ``init``, ``update``, ``run`` as PPO's."""

    vector_reward = True  # PPO.accepts: multi-objective envs (env.vector_reward) only

    @classmethod
    def accepts_bonus(cls, bonus: Bonus) -> str | None:
        """PPO's check, and no bonus with host work between chunks (not supported yet)."""
        if bonus.host_work:
            return (
                f"bonus {bonus.name!r} works on the host between chunks (e.g. LLM labels), "
                "which mo_ppo does not support yet; choose another bonus"
            )
        return super().accepts_bonus(bonus)

    def __init__(self, env, env_params, bonus: Bonus | None, cfg: MOPPOConfig) -> None:
        if cfg.gru:
            raise ValueError("mo_ppo.gru: MO-PPO has no recurrent variant yet; use gru=0")
        super().__init__(env, env_params, bonus, cfg)
        self.reward_dim = int(env.reward_dim)
        self.weights = jnp.asarray(weight_set(cfg, self.reward_dim), jnp.float32)
        self.num_weights = int(self.weights.shape[0])
        # One value per objective; the rest of PPO's network is unchanged.
        self.network = self.network.clone(value_dim=self.reward_dim)
        max_steps = getattr(env_params, "max_steps_in_episode", None)
        self.eval_steps = int(cfg.eval_steps or max_steps or 1000)
        try:
            front = np.asarray(env.pareto_front(cfg.gamma_ext), np.float64)
        except NotImplementedError:
            front = None
        self.true_front = front

    # --- initial state -------------------------------------------------------------------
    def init(self, key: jax.Array) -> MOState:
        """Fresh PPO states for every weight and an evaluation key.

        Weight ``i``'s PPO state comes from ``fold_in(key, i)``: it does not depend on how
        many weights follow, so a set's first policies are those of a smaller set's.
        """
        k_eval, key = jax.random.split(key)
        keys = jax.vmap(jax.random.fold_in, (None, 0))(key, jnp.arange(self.num_weights))

        def init_one(args):
            k, w = args
            state = PPO.init(self, k)
            return MORunnerState(weight=w, **{f.name: getattr(state, f.name) for f in _FIELDS})

        # lax.map, not vmap: initialising one weight at a time keeps the compiled init small
        # and runs exactly a single-weight init per weight.
        inner = jax.lax.map(init_one, (keys, self.weights))
        return MOState(inner=inner, eval_key=k_eval)

    # --- one update ----------------------------------------------------------------------
    def update(self, state: MOState) -> tuple[MOState, dict[str, jax.Array]]:
        """PPO's update for every weight's policy at once (``jax.vmap`` over weights)."""
        inner, metrics = jax.vmap(super().update)(state.inner)
        return state.replace(inner=inner), metrics

    def _episode_reward(self, state: MORunnerState, reward: jax.Array) -> jax.Array:
        # The logged episode return is the scalarised one, w·r.
        return reward @ state.weight

    def _extrinsic_advantages(
        self, state: MORunnerState, traj: Rollout, next_v_ext: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """``w·A`` ``[T, N]`` for the policy, per-objective targets ``[T, N, m]`` for the critic."""
        cfg = self.cfg
        gae = functools.partial(self._gae, gamma=cfg.gamma_ext, lam=cfg.gae_lambda)
        # PPO's GAE, once per objective (the objective is the last axis).
        adv, target = jax.vmap(gae, in_axes=(-1, -1, -1, None, None), out_axes=-1)(
            traj.reward, traj.v_ext, next_v_ext, traj.terminated, traj.done
        )
        return adv @ state.weight, target

    # --- many updates and the front ------------------------------------------------------
    def run(self, state: MOState, num_updates: int) -> tuple[MOState, dict[str, jax.Array]]:
        """``num_updates`` updates, then the greedy value vector of each weight's policy.

        Front metrics are constant over the chunk (one evaluation at its end), so the logged
        chunk mean is that evaluation.
        """
        state, metrics = super().run(state, num_updates)
        eval_key, key = jax.random.split(state.eval_key)
        values = jax.vmap(self.evaluate)(
            state.inner.train.params, jax.random.split(key, self.num_weights)
        )
        state = state.replace(eval_key=eval_key)

        def per_update(x: jax.Array) -> jax.Array:
            return jnp.broadcast_to(x, (num_updates,))

        for i in range(self.num_weights):
            for k in range(self.reward_dim):
                metrics[f"front/w{i:02d}/obj{k}"] = per_update(values[i, k])
                metrics[f"front/w{i:02d}/weight{k}"] = per_update(state.weights[i, k])
        if self.true_front is not None:
            for j, point in enumerate(self.true_front):
                for k, value in enumerate(point):
                    metrics[f"front/true/p{j:02d}/obj{k}"] = per_update(jnp.float32(value))
        return state, metrics

    def evaluate(self, params, key: jax.Array) -> jax.Array:
        """Mean discounted vector return ``[m]`` of the greedy policy over ``eval_episodes``.

        Each evaluation env plays one episode from a fresh reset (capped at ``eval_steps``
        steps; an unfinished episode counts with the rewards it collected).
        """
        cfg = self.cfg
        n = cfg.eval_episodes
        k_reset, key = jax.random.split(key)
        obs, env_state = jax.vmap(self.env.reset, (0, None))(
            jax.random.split(k_reset, n), self.env_params
        )
        hidden = jnp.zeros((n, 1), jnp.float32)  # no GRU in MO-PPO
        reset = jnp.ones((1, n), bool)

        def cond(carry):
            t, _, _, _, active, _, _ = carry
            return (t < self.eval_steps) & active.any()

        def body(carry):
            t, obs, env_state, ret, active, discount, key = carry
            key, k_env = jax.random.split(key)
            _, logits, _, _ = self.network.apply(params, hidden, obs[None], reset)
            action = jnp.argmax(logits[0], axis=-1)
            obs, env_state, reward, terminated, truncated, _ = jax.vmap(
                self.env.step, (0, 0, 0, None)
            )(jax.random.split(k_env, n), env_state, action, self.env_params)
            ret = ret + jnp.where(active[:, None], discount[:, None] * reward, 0.0)
            active = active & ~(terminated | truncated)
            return t + 1, obs, env_state, ret, active, discount * cfg.gamma_ext, key

        carry = (
            jnp.zeros((), jnp.int32),
            obs,
            env_state,
            jnp.zeros((n, self.reward_dim), jnp.float32),
            jnp.ones(n, bool),
            jnp.ones(n, jnp.float32),
            key,
        )
        ret = jax.lax.while_loop(cond, body, carry)[3]
        return ret.mean(axis=0)


_FIELDS = dataclasses.fields(RunnerState)
