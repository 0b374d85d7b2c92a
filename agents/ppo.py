"""PPO in JAX with pluggable intrinsic rewards, after PureJaxRL's ``ppo.py``.

``make_train(env, env_params, bonus, cfg)`` returns pure functions; one update (a rollout of
``num_steps × num_envs`` with ``lax.scan``, GAE, ``update_epochs × num_minibatches``
gradient steps) is one traced call, and ``jax.vmap`` over seed keys trains many seeds in
one compiled program. A thin Python loop (``explore.train``) runs chunks of updates to log,
checkpoint and show progress.

Beyond PureJaxRL, following RND (Burda et al. 2019):

* two value heads, extrinsic and intrinsic, each with its own discount; the intrinsic
  return is non-episodic by default (``int_episodic=False``);
* the intrinsic reward is divided by a running std of discounted intrinsic returns;
* advantages are ``ext_coef·A_ext + int_coef·A_int``.

Truncation is not termination (Pardo et al. 2018): at a time-limit truncation the target
bootstraps from the value of ``info["final_observation"]``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct
from flax.training.train_state import TrainState

from agents.bonuses.base import Bonus, NoBonus, Transitions
from agents.configs import PPOConfig
from agents.networks import ActorCritic, ScannedGRU
from envs.core import Environment, replace_where


@struct.dataclass
class RunningMoments:
    """Running mean/variance over batches (Chan et al. parallel algorithm)."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def create(cls) -> RunningMoments:
        return cls(jnp.zeros(()), jnp.ones(()), jnp.asarray(1e-4))

    def update(self, x: jax.Array) -> RunningMoments:
        batch_mean, batch_var, n = jnp.mean(x), jnp.var(x), x.size
        delta = batch_mean - self.mean
        total = self.count + n
        mean = self.mean + delta * n / total
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        return RunningMoments(mean, m2 / total, total)


@struct.dataclass
class RunnerState:
    """Everything one seed carries from update to update (a pytree; vmap adds a seed axis)."""

    train: TrainState
    env_state: Any
    obs: jax.Array
    done: jax.Array  # [N] whether obs starts a new episode
    hidden: jax.Array  # [N, gru] (zeros of width 1 without GRU)
    bonus_state: Any
    int_moments: RunningMoments
    int_filter: jax.Array  # [N] discounted intrinsic return, for normalisation
    ep_return: jax.Array  # [N]
    ep_length: jax.Array  # [N]
    coverage: jax.Array  # int32 [H, W] visits of agent positions ([1, 1] when unknown)
    key: jax.Array
    update: jax.Array  # int32 number of updates done
    # Coverage diagnostics, None (no leaves: the same program and checkpoints) when the env
    # exposes no agent positions; they feed metrics and files only, never the learning.
    episode_cells: Any  # bool [N, H*W] cells reached so far in each env's current episode
    cell_bonus: Any  # f32 [2, H*W] per cell: raw bonus summed, steps, in the last rollout


class Rollout(NamedTuple):
    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    v_ext: jax.Array
    v_int: jax.Array
    reward: jax.Array
    terminated: jax.Array
    done: jax.Array
    start: jax.Array  # obs starts an episode (resets the GRU)
    next_obs: jax.Array  # the observation reached (final observation at episode ends)
    event: jax.Array


class PPO:
    """A compiled-once PPO for one (env, bonus, config): ``init``, ``update``, ``run``."""

    #: whether the agent takes vector rewards (``env.vector_reward``); PPO needs scalars
    vector_reward: bool = False
    #: whether the agent trains the N agents of a multi-agent env (``env.num_agents ≥ 2``)
    #: folded into its env axis; PPO trains one agent
    multi_agent: bool = False
    #: whether truncated steps' bootstrap values may be computed on gathered rows
    #: (:meth:`_next_values`); False for networks that read the batch layout
    bootstrap_by_gather: bool = True

    @classmethod
    def accepts(cls, env) -> str | None:
        """None when this agent can train ``env``, else why not (one line).

        Read from what the env declares (``env.num_agents``, ``env.vector_reward``), matched
        against this class's :attr:`multi_agent` and :attr:`vector_reward`: subclasses that
        train other kinds of env set those, or override this.
        """
        if not isinstance(env, Environment):
            return (
                f"{type(env).__name__} is not an envs.core.Environment, whose attributes "
                "(num_agents, vector_reward, task, ...) declare what kind of env it is"
            )
        agents = env.num_agents
        if cls.multi_agent and agents < 2:
            return f"{env.name} is a single-agent env; {cls.__name__} trains several agents"
        if not cls.multi_agent and agents != 1:
            return f"{env.name} has {agents} agents; {cls.__name__} trains one agent"
        if env.vector_reward and not cls.vector_reward:
            return f"{env.name} has vector rewards; {cls.__name__} needs a scalar reward"
        if cls.vector_reward and not env.vector_reward:
            return f"{env.name} returns scalar rewards; {cls.__name__} needs vector rewards"
        return None

    @classmethod
    def accepts_bonus(cls, bonus: Bonus) -> str | None:
        """None when this agent gives ``bonus`` what it declares it needs, else why not."""
        if bonus.social and not cls.multi_agent:
            return (
                f"bonus {bonus.name!r} is a social reward (it reads every agent's reward); "
                f"{cls.__name__} trains one agent"
            )
        return None

    def __init__(self, env, env_params, bonus: Bonus | None, cfg: PPOConfig) -> None:
        from agents.configs import refusal

        reason = self.accepts(env)
        if reason is not None:
            raise ValueError(refusal(reason, lambda agent: agent.accepts(env) is None))
        if cfg.batch_size % cfg.num_minibatches:
            raise ValueError(
                f"num_minibatches={cfg.num_minibatches} must divide num_envs*num_steps={cfg.batch_size}"
            )
        if cfg.gru and cfg.num_envs % cfg.num_minibatches:
            raise ValueError(
                "with gru > 0, num_minibatches must divide num_envs (minibatches are whole sequences)"
            )
        self.env, self.env_params, self.cfg = env, env_params, cfg
        self.bonus = bonus if bonus is not None else NoBonus()
        self.use_intrinsic = not isinstance(self.bonus, NoBonus)
        reason = self.accepts_bonus(self.bonus)
        if reason is not None:
            need = self.bonus
            raise ValueError(refusal(reason, lambda agent: agent.accepts_bonus(need) is None))
        self.obs_space = env.observation_space(env_params)
        self.action_space = env.action_space(env_params)
        encoder = cfg.network
        if encoder == "auto":
            encoder = "cnn" if len(self.obs_space.shape) == 3 else "mlp"
        self.network = ActorCritic(
            num_actions=self.action_space.n,
            encoder=encoder,
            hidden=cfg.hidden,
            activation=cfg.activation,
            gru=cfg.gru,
        )
        # Coverage needs the grid size; only gridworlds expose it.
        task = env.task  # declared by every Environment (None unless a gridworld)
        self.coverage_shape = (task.height, task.width) if task is not None else (1, 1)
        # Cells of the per-episode and per-cell-bonus diagnostics (0: the env has no positions).
        self._num_cells = 0 if self.coverage_shape == (1, 1) else task.height * task.width
        self.diagnostic_events = dict(env.diagnostic_events)  # declared by every Environment

    # --- initial state -------------------------------------------------------------------
    def init(self, key: jax.Array) -> RunnerState:
        """Fresh networks, optimiser, environments and bonus for one seed."""
        cfg = self.cfg
        k_net, k_env, k_bonus, key = jax.random.split(key, 4)
        n = cfg.num_envs
        obs, env_state = self._reset_envs(k_env, n)
        hidden = ScannedGRU.initial_carry(n, max(cfg.gru, 1))
        params = self.network.init(k_net, hidden, obs[None], jnp.ones((1, n), bool))
        total_grad_steps = cfg.num_updates * cfg.update_epochs * cfg.num_minibatches
        lr = optax.linear_schedule(cfg.lr, 0.0, total_grad_steps) if cfg.anneal_lr else cfg.lr
        tx = optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.adam(lr, eps=1e-5))
        train = TrainState.create(apply_fn=self.network.apply, params=params, tx=tx)
        bonus_state = self.bonus.init(k_bonus, self.obs_space, self.action_space, n)
        return RunnerState(
            train=train,
            env_state=env_state,
            obs=obs,
            done=jnp.ones(n, bool),
            hidden=hidden,
            bonus_state=bonus_state,
            int_moments=RunningMoments.create(),
            int_filter=jnp.zeros(n),
            ep_return=jnp.zeros(n),
            ep_length=jnp.zeros(n, jnp.int32),
            coverage=jnp.zeros(self.coverage_shape, jnp.int32),
            key=key,
            update=jnp.zeros((), jnp.int32),
            episode_cells=jnp.zeros((n, self._num_cells), bool) if self._num_cells else None,
            cell_bonus=(
                jnp.zeros((2, self._num_cells), jnp.float32)
                if self._num_cells and self.use_intrinsic
                else None
            ),
        )

    def init_seeds(self, keys: jax.Array) -> RunnerState:
        """Initial states of several seeds stacked on a leading axis, ready for ``jax.vmap``.

        One jitted ``jax.vmap(init)``: the orthogonal initialiser's batched rule
        (:func:`agents.networks.orthogonal`) keeps the vmapped init free of the batched QR that
        deadlocked XLA's CPU runtime, and gives each seed the values of a single-seed init.
        """
        if not hasattr(self, "_init_many"):
            # Leaves come out strongly typed (``TrainState.step`` starts as a weak Python 0), as
            # every later chunk returns them: a weak-typed first input would compile the chunk
            # program twice.
            self._init_many = jax.jit(
                lambda k: jax.tree.map(lambda x: x.astype(x.dtype), jax.vmap(self.init)(k))
            )
        return self._init_many(jnp.stack([jnp.asarray(k) for k in keys]))

    # --- one update ----------------------------------------------------------------------
    def update(self, state: RunnerState) -> tuple[RunnerState, dict[str, jax.Array]]:
        """Collect one rollout and train on it; returns the new state and scalar metrics."""
        cfg = self.cfg
        n = cfg.num_envs
        hidden0 = state.hidden

        def env_step(carry, _):
            st = carry
            key, k_act, k_env = jax.random.split(st.key, 3)
            hidden, logits, v_ext, v_int = self.network.apply(
                st.train.params, st.hidden, st.obs[None], st.done[None]
            )
            logits, v_ext, v_int = logits[0], v_ext[0], v_int[0]
            action = jax.random.categorical(k_act, logits)
            log_prob = jax.nn.log_softmax(logits)[jnp.arange(n), action]
            obs, env_state, reward, terminated, truncated, info = self._step_envs(
                k_env, st.env_state, action
            )
            done = terminated | truncated
            ep_return = st.ep_return + self._episode_reward(st, reward)
            ep_length = st.ep_length + 1
            step_stats = {
                "finished": done.sum(),
                "return_sum": jnp.where(done, ep_return, 0.0).sum(),
                "length_sum": jnp.where(done, ep_length, 0).sum(),
                "success_sum": (done & info["success"]).sum(),
                **self._episode_stats(info, done),
            }
            pos = (
                info["privileged"].get("agent_pos")
                if isinstance(info.get("privileged"), dict)
                else None
            )
            episode_cells = None
            if st.episode_cells is not None and pos is not None:
                # Distinct cells each env's episode has reached (the cell after every step).
                cell = pos[..., 0] * self.coverage_shape[1] + pos[..., 1]
                reached = st.episode_cells.at[jnp.arange(n), cell].set(True)
                step_stats["episode_cells_sum"] = jnp.where(done, reached.sum(-1), 0).sum()
                episode_cells = reached & ~done[:, None]
            transition = Rollout(
                obs=st.obs,
                action=action,
                log_prob=log_prob,
                v_ext=v_ext,
                v_int=v_int,
                reward=reward,
                terminated=terminated,
                done=done,
                start=st.done,
                next_obs=info["final_observation"],
                event=info["event"],
            )
            st = st.replace(
                env_state=env_state,
                obs=obs,
                done=done,
                hidden=hidden,
                key=key,
                ep_return=jnp.where(done, 0.0, ep_return),
                ep_length=jnp.where(done, 0, ep_length),
            )
            if episode_cells is not None:
                st = st.replace(episode_cells=episode_cells)
            return st, (
                transition,
                step_stats,
                pos if pos is not None else jnp.zeros((n, 2), jnp.int32),
            )

        state, (traj, step_stats, positions) = jax.lax.scan(env_step, state, None, cfg.num_steps)
        if self.coverage_shape != (1, 1):
            flat = positions[..., 0] * self.coverage_shape[1] + positions[..., 1]
            counts = jnp.zeros(self.coverage_shape[0] * self.coverage_shape[1], jnp.int32)
            counts = counts.at[flat.reshape(-1)].add(1)
            state = state.replace(coverage=state.coverage + counts.reshape(self.coverage_shape))

        # Values of what each action reached: the next observation, or the final one at an
        # episode end (bootstrapping through truncations).
        _, _, last_v_ext, last_v_int = self.network.apply(
            state.train.params, state.hidden, state.obs[None], state.done[None]
        )
        next_v_ext, next_v_int = self._next_values(
            state.train.params, hidden0, traj, last_v_ext, last_v_int
        )

        # Intrinsic reward from the bonus, then RND's normalisation by the running std of
        # discounted intrinsic returns.
        metrics: dict[str, jax.Array] = {}
        raw_int = None  # the bonus before normalisation, for the event diagnostics
        if self.use_intrinsic:
            batch = self._bonus_batch(state, traj, hidden0)
            r_int, bonus_state, bonus_metrics = self.bonus.reward_and_update(
                state.bonus_state, batch
            )
            r_int = r_int.astype(jnp.float32)
            metrics.update({f"bonus/{k}": v for k, v in bonus_metrics.items()})
            raw_int = r_int
            metrics["intrinsic_reward_mean"] = r_int.mean()
            metrics["intrinsic_reward_std"] = r_int.std()
            if cfg.normalize_int_reward:

                def filt(carry, r):
                    carry = carry * cfg.gamma_int + r
                    return carry, carry

                int_filter, discounted = jax.lax.scan(filt, state.int_filter, r_int)
                moments = state.int_moments.update(discounted)
                r_int = r_int / jnp.sqrt(moments.var + 1e-8)
                state = state.replace(int_filter=int_filter, int_moments=moments)
            # What the agent actually optimises, after normalisation: the scale that decides
            # whether novelty drowns out the task reward.
            metrics["intrinsic_reward_normalized_mean"] = r_int.mean()
            state = state.replace(bonus_state=bonus_state)
        else:
            r_int = jnp.zeros_like(traj.reward)
        metrics.update(self._event_metrics(traj.event, raw_int))
        if state.episode_cells is not None:
            metrics["coverage/cells_visited"] = (state.coverage > 0).sum()
        if state.cell_bonus is not None:
            # Raw bonus per reached cell in this rollout: with coverage.npy's visit counts it
            # gives the bonus-against-visits table of explore.train (RDD's 1/n property).
            cells = flat.reshape(-1)
            state = state.replace(
                cell_bonus=jnp.stack(
                    [
                        jnp.zeros(self._num_cells).at[cells].add(raw_int.reshape(-1)),
                        jnp.zeros(self._num_cells).at[cells].add(1.0),
                    ]
                )
            )

        adv_ext, target_ext = self._extrinsic_advantages(state, traj, next_v_ext)
        if self.use_intrinsic:
            if cfg.int_episodic:
                int_term, int_cut = traj.terminated, traj.done
                next_int = next_v_int
            else:
                # Non-episodic: the intrinsic return flows into the next episode.
                int_term = int_cut = jnp.zeros_like(traj.done)
                next_int = jnp.concatenate([traj.v_int[1:], last_v_int], axis=0)
            adv_int, target_int = self._gae(
                r_int, traj.v_int, next_int, int_term, int_cut, cfg.gamma_int, cfg.gae_lambda
            )
            advantages = cfg.ext_coef * adv_ext + cfg.int_coef * adv_int
            metrics["advantage_ext_std"] = adv_ext.std()
            metrics["advantage_int_std"] = adv_int.std()
        else:
            target_int = jnp.zeros_like(target_ext)
            advantages = adv_ext

        state, loss_metrics = self._learn(state, traj, hidden0, advantages, target_ext, target_int)
        metrics.update(loss_metrics)
        metrics.update({k: v.sum() for k, v in step_stats.items()})
        metrics["extrinsic_reward_sum"] = traj.reward.sum()
        state = state.replace(update=state.update + 1)
        return state, metrics

    def _event_metrics(self, event: jax.Array, r_int: jax.Array | None) -> dict[str, jax.Array]:
        """Per diagnostic event: fraction of steps, and raw intrinsic reward there / elsewhere.

        The ratio is NaN when the batch has no such step (or no other step, or zero reward
        elsewhere); the logger averages over the finite values.
        """
        out: dict[str, jax.Array] = {}
        for name, code in self.diagnostic_events.items():
            hit = event == code
            n_hit = hit.sum()
            out[f"events/{name}_fraction"] = hit.mean()
            if r_int is None:
                continue
            n_other = hit.size - n_hit
            on = jnp.where(hit, r_int, 0.0).sum() / jnp.maximum(n_hit, 1)
            off = jnp.where(hit, 0.0, r_int).sum() / jnp.maximum(n_other, 1)
            valid = (n_hit > 0) & (n_other > 0) & (off != 0)
            out[f"events/{name}_intrinsic_ratio"] = jnp.where(
                valid, on / jnp.where(valid, off, 1.0), jnp.nan
            )
        return out

    def _next_values(self, params, hidden0, traj: Rollout, last_v_ext, last_v_int):
        """Extrinsic and intrinsic values of the observation each step reached, ``[T, N]``.

        Where the episode goes on, that is the next step's own value from the rollout (the
        same parameters saw the same observation); after a termination it is never used
        (GAE multiplies it by zero). Only a truncated step needs the value of an observation
        the rollout did not evaluate, ``info["final_observation"]``: those are gathered and
        evaluated ``num_envs`` at a time, so a rollout with no truncation pays nothing (before,
        a second critic pass ran over the whole rollout; its share alone was not measured).

        A GRU's value depends on the history, and an agent whose network reads the batch
        layout (IPPO folds agents into the env axis) cannot take gathered rows: both
        evaluate every reached observation instead (:meth:`_evaluate`).
        """
        if self.cfg.gru or not self.bootstrap_by_gather:
            _, _, next_v_ext, next_v_int = self._evaluate(params, hidden0, traj, traj.next_obs)
            return next_v_ext, next_v_int
        steps, n = traj.done.shape
        next_v_ext = jnp.concatenate([traj.v_ext[1:], last_v_ext], axis=0)
        next_v_int = jnp.concatenate([traj.v_int[1:], last_v_int], axis=0)
        flat_ext = next_v_ext.reshape(steps * n, *next_v_ext.shape[2:])
        flat_int = next_v_int.reshape(steps * n)
        final_obs = traj.next_obs.reshape(steps * n, *traj.next_obs.shape[2:])
        truncated = (traj.done & ~traj.terminated).reshape(-1)

        def values_of(index):
            obs = final_obs[index]
            _, _, v_ext, v_int = self.network.apply(
                params, None, obs[None], jnp.zeros((1, n), bool)
            )
            return v_ext[0], v_int[0]

        # Up to n truncated steps per critic pass, the batch the network already takes.
        flat_ext, flat_int = replace_where(truncated, n, values_of, (flat_ext, flat_int))
        return flat_ext.reshape(next_v_ext.shape), flat_int.reshape(next_v_int.shape)

    def _evaluate(self, params, hidden0, traj: Rollout, obs: jax.Array):
        """Network outputs over a whole rollout (re-running the GRU from its start state)."""
        if self.cfg.gru:
            # The GRU consumes the actual observation sequence; for the value of a reached
            # observation we feed it after the same history, one step at a time.
            hidden_seq = self._hidden_sequence(params, hidden0, traj)
            _, logits, v_ext, v_int = self.network.apply(
                params,
                hidden_seq.reshape(-1, hidden_seq.shape[-1]),
                obs.reshape(1, -1, *obs.shape[2:]),
                jnp.zeros((1, obs.shape[0] * obs.shape[1]), bool),
            )
            shape = obs.shape[:2]
            return None, logits.reshape(*shape, -1), v_ext.reshape(shape), v_int.reshape(shape)
        return self.network.apply(params, hidden0, obs, traj.start)

    def _hidden_sequence(self, params, hidden0, traj: Rollout) -> jax.Array:
        """GRU state after consuming each step's observation, ``[T, N, H]``."""

        def step(h, inputs):
            obs, start = inputs
            h, _, _, _ = self.network.apply(params, h, obs[None], start[None])
            return h, h

        _, hs = jax.lax.scan(step, hidden0, (traj.obs, traj.start))
        return hs

    # --- hooks for agents over several agents' envs (IPPO folds agents into envs) ---------
    def _reset_envs(self, key: jax.Array, n: int) -> tuple[jax.Array, Any]:
        """Observations ``[n, ...]`` and states of ``n`` freshly reset environments."""
        return jax.vmap(self.env.reset, (0, None))(jax.random.split(key, n), self.env_params)

    def _step_envs(self, key: jax.Array, env_state: Any, action: jax.Array):
        """``env.step`` of every env (vmapped): obs, state, reward, terminated, truncated, info.

        Through ``env.step_batch`` (every Environment has it): the vmapped step's results,
        with the auto-reset computed only for the envs whose episode ended (envs/core.py).
        """
        n = action.shape[0]
        keys = jax.random.split(key, n)
        return self.env.step_batch(keys, env_state, action, self.env_params)

    def _episode_stats(self, info: dict[str, Any], done: jax.Array) -> dict[str, jax.Array]:
        """Extra per-step sums for the update's metrics (none for PPO)."""
        return {}

    def _bonus_batch(self, state: RunnerState, traj: Rollout, hidden0: jax.Array) -> Transitions:
        """The rollout as the bonus sees it."""
        return Transitions(traj.obs, traj.action, traj.next_obs, traj.done, traj.event)

    # --- hooks for agents with other reward shapes (multi-objective PPO) -------------------
    def _episode_reward(self, state: RunnerState, reward: jax.Array) -> jax.Array:
        """The scalar each step adds to the logged episode return (here: the reward)."""
        return reward

    def _extrinsic_advantages(
        self, state: RunnerState, traj: Rollout, next_v_ext: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """Advantages ``[T, N]`` and value targets of the extrinsic reward (GAE)."""
        cfg = self.cfg
        return self._gae(
            traj.reward,
            traj.v_ext,
            next_v_ext,
            traj.terminated,
            traj.done,
            cfg.gamma_ext,
            cfg.gae_lambda,
        )

    @staticmethod
    def _gae(rewards, values, next_values, terminated, cut, gamma: float, lam: float):
        """Generalised advantage estimation; ``terminated`` stops bootstrapping, ``cut``
        stops the λ-trace (any episode end, including truncation)."""

        def body(gae, x):
            r, v, nv, term, c = x
            delta = r + gamma * nv * (1.0 - term) - v
            gae = delta + gamma * lam * (1.0 - c) * gae
            return gae, gae

        _, adv = jax.lax.scan(
            body,
            jnp.zeros_like(values[0]),
            (rewards, values, next_values, terminated.astype(jnp.float32), cut.astype(jnp.float32)),
            reverse=True,
        )
        return adv, adv + values

    def _learn(
        self, state: RunnerState, traj: Rollout, hidden0, advantages, target_ext, target_int
    ):
        cfg = self.cfg

        def loss_fn(params, mb):
            obs, start, hidden, action, old_logp, old_v_ext, old_v_int, adv, t_ext, t_int = mb
            _, logits, v_ext, v_int = self.network.apply(params, hidden, obs, start)
            logp_all = jax.nn.log_softmax(logits)
            logp = jnp.take_along_axis(logp_all, action[..., None], axis=-1)[..., 0]
            ratio = jnp.exp(logp - old_logp)
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            pg_loss = -jnp.minimum(
                ratio * adv, jnp.clip(ratio, 1 - cfg.clip_eps, 1 + cfg.clip_eps) * adv
            ).mean()

            def value_loss(v, old_v, target):
                if not cfg.clip_value:
                    return 0.5 * ((v - target) ** 2).mean()
                clipped = old_v + jnp.clip(v - old_v, -cfg.clip_eps, cfg.clip_eps)
                return 0.5 * jnp.maximum((v - target) ** 2, (clipped - target) ** 2).mean()

            v_loss = value_loss(v_ext, old_v_ext, t_ext)
            if self.use_intrinsic:
                v_loss = v_loss + value_loss(v_int, old_v_int, t_int)
            entropy = -(jnp.exp(logp_all) * logp_all).sum(-1).mean()
            loss = pg_loss + cfg.vf_coef * v_loss - cfg.ent_coef * entropy
            approx_kl = ((ratio - 1) - (logp - old_logp)).mean()
            clipfrac = (jnp.abs(ratio - 1) > cfg.clip_eps).mean()
            return loss, (pg_loss, v_loss, entropy, approx_kl, clipfrac)

        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        # Without a bonus the intrinsic head is never trained: None (an empty pytree) keeps
        # its values and targets out of every epoch's shuffle.
        data = (
            traj.obs,
            traj.start,
            traj.action,
            traj.log_prob,
            traj.v_ext,
            traj.v_int if self.use_intrinsic else None,
            advantages,
            target_ext,
            target_int if self.use_intrinsic else None,
        )

        def epoch(carry, _):
            train, key = carry
            key, k_perm = jax.random.split(key)
            if cfg.gru:
                # Minibatches of whole env sequences, so the GRU sees its history.
                perm = jax.random.permutation(k_perm, cfg.num_envs)
                shuffled = jax.tree.map(lambda x: jnp.take(x, perm, axis=1), data)
                h0 = jnp.take(hidden0, perm, axis=0)

                def split(x):
                    return jnp.swapaxes(
                        x.reshape(x.shape[0], cfg.num_minibatches, -1, *x.shape[2:]), 0, 1
                    )

                mbs = jax.tree.map(split, shuffled)
                h_mbs = h0.reshape(cfg.num_minibatches, -1, h0.shape[-1])
                minibatches = (mbs[0], mbs[1], h_mbs, *mbs[2:])
            else:
                flat = jax.tree.map(lambda x: x.reshape(cfg.batch_size, *x.shape[2:]), data)
                perm = jax.random.permutation(k_perm, cfg.batch_size)

                def split(x):
                    return jnp.take(x, perm, axis=0).reshape(
                        cfg.num_minibatches, 1, -1, *x.shape[1:]
                    )

                mbs = jax.tree.map(split, flat)
                dummy_h = jnp.zeros((cfg.num_minibatches, cfg.batch_size // cfg.num_minibatches, 1))
                minibatches = (mbs[0], mbs[1], dummy_h, *mbs[2:])

            def minibatch_step(train, mb):
                (loss, aux), grads = grad_fn(train.params, mb)
                return train.apply_gradients(grads=grads), (loss, *aux)

            train, losses = jax.lax.scan(minibatch_step, train, minibatches)
            return (train, key), losses

        (train, key), losses = jax.lax.scan(
            epoch, (state.train, state.key), None, cfg.update_epochs
        )
        loss, pg, vl, ent, kl, cf = (x.mean() for x in losses)
        metrics = {
            "loss/total": loss,
            "loss/policy": pg,
            "loss/value": vl,
            "loss/entropy": ent,
            "approx_kl": kl,
            "clipfrac": cf,
        }
        return state.replace(train=train, key=key), metrics

    # --- many updates ----------------------------------------------------------------------
    def run(self, state: RunnerState, num_updates: int) -> tuple[RunnerState, dict[str, jax.Array]]:
        """``num_updates`` updates in one ``lax.scan``; metrics are stacked per update."""
        return jax.lax.scan(lambda s, _: self.update(s), state, None, num_updates)

    def train(self, key: jax.Array) -> tuple[RunnerState, dict[str, jax.Array]]:
        """The whole training run as one pure function (PureJaxRL's ``train``)."""
        return self.run(self.init(key), self.cfg.num_updates)


def make_train(env, env_params, bonus: Bonus | None, cfg: PPOConfig):
    """PureJaxRL-style entry point: returns a pure ``train(key)``; ``jax.vmap`` it over keys."""
    return PPO(env, env_params, bonus, cfg).train
